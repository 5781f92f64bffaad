//! What a run tells the user besides its output: [`Diagnostic`]s tied to a file and a
//! packet, a [`WarnLimiter`] so that hostile input cannot flood standard error, and the
//! [`Console`] that prints both (and errors) on standard error around the progress bar.
//!
//! The stages report through `&mut dyn FnMut(Diagnostic)` so that a library caller can
//! collect them; only the views' runs print, through one [`Console`], so every line has
//! the same shape (`wsdissect: FILE: packet N: what`) whichever path produced it.

use crate::capture::set::FileSet;
use crate::run::progress::Progress;
use std::collections::HashMap;
use std::fmt;

/// Warnings of one kind printed per file before the rest are only counted, so that
/// hostile input cannot flood standard error.
pub const WARNINGS_PER_KIND: u64 = 50;

/// Decides which warnings of a file to print: the first [`WARNINGS_PER_KIND`] of each
/// kind (the kind the stage that warns gives it).
#[derive(Debug, Default)]
pub struct WarnLimiter {
    seen: HashMap<&'static str, (u64, Option<String>)>,
}

impl WarnLimiter {
    /// Counts `message` of `kind`; true when it is to be printed.
    pub fn admit(&mut self, kind: &'static str, message: &str) -> bool {
        let e = self.seen.entry(kind).or_insert((0, None));
        e.0 += 1;
        if e.0 > WARNINGS_PER_KIND && e.1.is_none() {
            e.1 = Some(message.to_string());
        }
        e.0 <= WARNINGS_PER_KIND
    }

    /// One line per kind that had warnings left unprinted: how many, and the first of
    /// them as an example.
    pub fn summary(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .seen
            .values()
            .filter_map(|(n, first)| {
                let first = first.as_ref()?;
                Some(format!(
                    "{} more warnings like \"{first}\" not listed",
                    n - WARNINGS_PER_KIND
                ))
            })
            .collect();
        v.sort();
        v
    }

    /// The warning `message` about packet `packet` (an id, see
    /// [`crate::capture::set`]) of the capture made of `files` as a diagnostic, when it
    /// is to be printed (see [`WarnLimiter::admit`]).
    pub fn pass(
        &mut self,
        files: &FileSet,
        packet: u64,
        kind: &'static str,
        message: String,
    ) -> Option<Diagnostic> {
        self.admit(kind, &message).then(|| {
            let (file, number) = files.locate(packet);
            Diagnostic {
                file: file.to_string(),
                packet: Some(number),
                message,
            }
        })
    }

    /// The [`WarnLimiter::summary`] lines as diagnostics about `file` as a whole.
    pub fn leftovers<'a>(&self, file: &'a str) -> impl Iterator<Item = Diagnostic> + 'a {
        self.summary().into_iter().map(move |message| Diagnostic {
            file: file.to_string(),
            packet: None,
            message,
        })
    }
}

/// A problem worth telling the user, tied to a file and (usually) a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The capture file.
    pub file: String,
    /// 1-based packet number, when the problem concerns one.
    pub packet: Option<u64>,
    /// What happened.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.packet {
            Some(p) => write!(f, "{}: packet {p}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Standard error as a run uses it: every line starts with `wsdissect: ` and is
/// printed without tearing the progress bar; diagnostics and notes are left out when
/// quiet, errors never are.
pub(crate) struct Console {
    quiet: bool,
    progress: Progress,
}

impl Console {
    /// A console drawing `progress` (a hidden bar draws nothing).
    pub(crate) fn new(quiet: bool, progress: Progress) -> Self {
        Console { quiet, progress }
    }

    /// The run's progress bar.
    pub(crate) fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Prints a diagnostic, unless quiet.
    pub(crate) fn diagnostic(&self, d: &Diagnostic) {
        if !self.quiet {
            self.line(d);
        }
    }

    /// Prints what a finished run did, unless quiet.
    pub(crate) fn note(&self, text: &dyn fmt::Display) {
        if !self.quiet {
            self.line(text);
        }
    }

    /// Prints why an input could not be used, quiet or not.
    pub(crate) fn error(&self, e: &dyn fmt::Display) {
        self.line(e);
    }

    fn line(&self, text: &dyn fmt::Display) {
        self.progress.eprintln(&format!("wsdissect: {text}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_counts_by_kind() {
        let mut l = WarnLimiter::default();
        for i in 0..WARNINGS_PER_KIND + 3 {
            let d = l.pass(
                &FileSet::single("f.pcap"),
                i,
                "bad",
                format!("flow {i}: bad"),
            );
            assert_eq!(d.is_some(), i < WARNINGS_PER_KIND, "{i}");
        }
        assert!(l.admit("other", "flow 1: bad"));
        let left: Vec<String> = l.leftovers("f.pcap").map(|d| d.to_string()).collect();
        assert_eq!(
            left,
            ["f.pcap: 3 more warnings like \"flow 50: bad\" not listed"]
        );
    }
}
