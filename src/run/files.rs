//! The loop over a run's inputs, written once for every view: each [`Input`] is opened
//! (a file, or standard input) and named, handed to the view's job for one file, and
//! its result settled the same way whatever the view and whatever the path:
//!
//! - an input that cannot be opened, or is not a capture, is reported on standard error
//!   (`wsdissect: FILE: why`), marks the run as having an unusable input, and the run
//!   goes on with the next one;
//! - the problems a file held are added to the run's;
//! - a job that stops (`--limit` reached) ends the run: later inputs are not read;
//! - an output error ends the run and is returned.
//!
//! [`sequential`] runs the inputs one after the other, counting their bytes into the
//! progress bar; [`ordered`] runs them on several threads with the output of a
//! sequential run (see [`run_ordered`]), and settles the results once all are done.

use crate::run::diag::Console;
use crate::run::ordered::run_ordered;
use crate::run::progress::CountingReader;
use crate::run::{Outcome, RunError};
use crate::ws::problem::Problems;
use std::fs::File;
use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;

/// A capture to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-` on the command line).
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Input {
    /// The name diagnostics and records give the input: its path, or `<stdin>`.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".into(),
            Input::File(path) => path.display().to_string(),
        }
    }

    /// Opens the input for reading, decompressed if it is compressed.
    pub fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        let src: Box<dyn Read + Send> = match self {
            Input::Stdin => Box::new(io::stdin()),
            Input::File(path) => Box::new(File::open(path)?),
        };
        Ok(crate::capture::compressed::decompressing(src)?.0)
    }

    /// Bytes in the input as far as known beforehand (standard input, or a file that
    /// cannot be looked at, counts as nothing): the size of the progress bar.
    pub fn size(&self) -> u64 {
        match self {
            Input::Stdin => 0,
            Input::File(path) => std::fs::metadata(path).map_or(0, |m| m.len()),
        }
    }
}

/// What a view's job made of one file: its problems, or a stop (`Break`) that leaves
/// the rest of this file and the files after it unread.
pub(crate) type FileResult = Result<ControlFlow<(), Problems>, RunError>;

/// Opens every file input and reads its header before any is decoded, reporting those
/// that cannot be used (a missing file fails the run even when `--limit` stops it after
/// the first file). Returns which inputs are usable.
fn sniff(inputs: &[Input], console: &Console) -> Vec<bool> {
    inputs
        .iter()
        .map(|input| {
            let Input::File(_) = input else {
                return true;
            };
            let r = input.open().map_err(|e| e.to_string()).and_then(|f| {
                crate::capture::CaptureReader::new(f)
                    .map(drop)
                    .map_err(|e| e.to_string())
            });
            match r {
                Ok(()) => true,
                Err(e) => {
                    console.error(&format_args!("{}: {e}", input.name()));
                    false
                }
            }
        })
        .collect()
}

/// Runs `job` on each input in turn, with the input's name and a reader counting its
/// bytes into the console's progress bar, until a job stops; removes the bar at the end.
/// Every input is opened and sniffed first.
pub(crate) fn sequential(
    inputs: &[Input],
    console: &Console,
    mut job: impl FnMut(&str, CountingReader<Box<dyn Read + Send>>) -> FileResult,
) -> Result<Outcome, RunError> {
    let mut outcome = Outcome::default();
    let usable = sniff(inputs, console);
    outcome.unusable = usable.contains(&false);
    for (input, _) in inputs.iter().zip(usable).filter(|(_, ok)| *ok) {
        let file = input.name();
        let Some(src) = open(input, &file, console) else {
            outcome.unusable = true;
            continue;
        };
        let result = match job(&file, console.progress().reader(src)) {
            Ok(ControlFlow::Break(())) => break,
            Ok(ControlFlow::Continue(problems)) => Ok(problems),
            Err(e) => Err(e),
        };
        settle(result, &mut outcome, console)?;
    }
    console.progress().finish();
    Ok(outcome)
}

/// Runs `job` on every input on up to `threads` threads, its output written to `out`
/// in input order; the results are settled in input order once every job is done. Every
/// input is opened and sniffed first.
pub(crate) fn ordered(
    inputs: &[Input],
    threads: usize,
    out: &mut dyn Write,
    console: &Console,
    job: impl Fn(&str, Box<dyn Read + Send>, &mut dyn Write) -> Result<Problems, RunError> + Sync,
) -> Result<Outcome, RunError> {
    let usable = sniff(inputs, console);
    let inputs: Vec<Input> = inputs
        .iter()
        .zip(&usable)
        .filter(|(_, ok)| **ok)
        .map(|(i, _)| i.clone())
        .collect();
    let results = run_ordered(&inputs, threads, out, |input, w| {
        let file = input.name();
        open(input, &file, console).map(|src| job(&file, src, w))
    })?;
    let mut outcome = Outcome {
        unusable: usable.contains(&false),
        ..Outcome::default()
    };
    for r in results {
        match r {
            Some(r) => settle(r, &mut outcome, console)?,
            None => outcome.unusable = true,
        }
    }
    Ok(outcome)
}

/// Opens `input`, or reports why it cannot be.
fn open(input: &Input, file: &str, console: &Console) -> Option<Box<dyn Read + Send>> {
    match input.open() {
        Ok(src) => Some(src),
        Err(e) => {
            console.error(&format_args!("{file}: {e}"));
            None
        }
    }
}

/// Adds one file's result to the run's outcome, or returns the error that ends the run.
fn settle(
    result: Result<Problems, RunError>,
    outcome: &mut Outcome,
    console: &Console,
) -> Result<(), RunError> {
    match result {
        Ok(problems) => outcome.problems.merge(&problems),
        Err(e @ RunError::Unusable { .. }) => {
            console.error(&e);
            outcome.unusable = true;
        }
        Err(e) => return Err(e),
    }
    Ok(())
}
