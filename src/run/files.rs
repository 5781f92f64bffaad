//! The loop over a run's inputs, written once for every view. The inputs (files,
//! directories of them, standard input) are looked at first and made into captures:
//! all of them one capture (a rotated set is read as the capture it was cut from, see
//! [`crate::capture::set`]), or each file its own with `--each-file`. Each capture is
//! handed to the view's job, and its result settled the same way whatever the view and
//! whatever the path:
//!
//! - an input that cannot be opened, or is not a capture, is reported on standard error
//!   (`wsdissect: FILE: why`), marks the run as having an unusable input, and the run
//!   goes on without it (a file found in a directory that is not a capture is only
//!   counted: directories hold other files);
//! - the problems a capture held are added to the run's;
//! - a job that stops (`--limit` reached) ends the run: later captures are not read;
//! - an output error ends the run and is returned.
//!
//! [`sequential`] runs the captures one after the other, counting their bytes into the
//! progress bar; [`ordered`] runs them on several threads with the output of a
//! sequential run (see [`run_ordered`]), and settles the results once all are done.

use crate::capture::set::{FileSet, Member, SetReader, Source, MAX_FILES};
use crate::capture::CaptureReader;
use crate::layers::tls::Keys;
use crate::run::diag::Console;
use crate::run::ordered::run_ordered;
use crate::run::{Grouping, Outcome, RunError};
use crate::ws::problem::Problems;
use std::fs::File;
use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Bytes read at a time when looking at the start of an input (a file's first packet
/// is usually in its first few kilobytes; a larger one grows the buffer).
const SNIFF_CHUNK: usize = 64 << 10;

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
        self.open_counted(|src| src)
    }

    /// Opens the input, its bytes as stored going through `count` (the progress bar
    /// counts them against the file's size) before they are decompressed.
    fn open_counted(
        &self,
        count: impl FnOnce(Source<'static>) -> Source<'static>,
    ) -> io::Result<Box<dyn Read + Send>> {
        let src: Box<dyn Read + Send> = match self {
            Input::Stdin => Box::new(io::stdin()),
            Input::File(path) => Box::new(File::open(path)?),
        };
        Ok(crate::capture::compressed::decompressing(count(src))?.0)
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

/// What a view's job made of one capture: its problems, or a stop (`Break`) that
/// leaves the rest of this capture and the captures after it unread.
pub(crate) type FileResult = Result<ControlFlow<(), Problems>, RunError>;

/// One capture to decode: its files, in the order their packets are merged, and what
/// was learned of each when the inputs were looked at.
pub(crate) struct Capture {
    /// The files' names, and which capture of the run this is.
    pub(crate) files: Arc<FileSet>,
    members: Vec<Member<'static>>,
    inputs: Vec<Input>,
}

impl Capture {
    /// A reader of the capture's packets, counting the bytes it reads into `counter`
    /// (see [`Progress::counter`](crate::run::progress::Progress::counter)).
    pub(crate) fn reader(
        self,
        counter: impl Fn(Source<'static>) -> Source<'static> + Send + 'static,
    ) -> SetReader<'static> {
        let inputs = self.inputs;
        SetReader::new(
            self.members,
            Box::new(move |i| {
                let input = inputs.get(i).ok_or(io::ErrorKind::NotFound)?;
                input.open_counted(&counter)
            }),
        )
    }
}

/// The captures the inputs make, and whether some input could not be used (each such
/// input is reported on the console).
pub(crate) fn captures(
    inputs: &[Input],
    grouping: Grouping,
    keys: &Keys,
    console: &Console,
) -> (Vec<Capture>, bool) {
    let mut unusable = false;
    let mut found: Vec<(Input, Member<'static>)> = Vec::new();
    let mut not_captures = 0u64;
    let mut stdin_seen = false;
    for input in inputs {
        if *input == Input::Stdin && std::mem::replace(&mut stdin_seen, true) {
            // A second reader would take bytes from under the first.
            console.error(&"<stdin>: standard input given more than once; read once");
            unusable = true;
            continue;
        }
        let listed = match input {
            Input::File(path) if path.is_dir() => match list_dir(path, grouping.recursive) {
                Ok(files) => files.into_iter().map(|p| (Input::File(p), true)).collect(),
                Err(e) => {
                    console.error(&format_args!("{}: {e}", input.name()));
                    unusable = true;
                    continue;
                }
            },
            other => vec![(other.clone(), false)],
        };
        for (input, in_dir) in listed {
            match sniff(&input, keys, console) {
                Ok(member) => found.push((input, member)),
                Err(_) if in_dir => not_captures += 1,
                Err(e) => {
                    console.error(&format_args!("{}: {e}", input.name()));
                    unusable = true;
                }
            }
        }
    }
    if not_captures > 0 {
        console.note(&format_args!(
            "skipped {not_captures} files in directories that are not captures"
        ));
    }
    let mut caps = Vec::new();
    if grouping.each_file {
        for (i, (input, member)) in found.into_iter().enumerate() {
            caps.push(Capture {
                files: FileSet::new(i as u32, vec![input.name()]),
                members: vec![member],
                inputs: vec![input],
            });
        }
    } else if !found.is_empty() {
        if found.len() > MAX_FILES {
            console.error(&format_args!(
                "{} files make one capture; at most {MAX_FILES} can (use --each-file)",
                found.len()
            ));
            found.truncate(MAX_FILES);
            unusable = true;
        }
        // Earliest first packet first; files with none first of all (their problems
        // are told before anything else); ties in the order given.
        found.sort_by_key(|(_, m)| m.first);
        let names = found.iter().map(|(i, _)| i.name()).collect();
        let (inputs, members) = found.into_iter().unzip();
        caps.push(Capture {
            files: FileSet::new(0, names),
            members,
            inputs,
        });
    }
    (caps, unusable)
}

/// Bytes in the inputs as far as known beforehand (see [`Input::size`]), directories
/// counted by the files in them: the size of the progress bar.
pub(crate) fn total_size(inputs: &[Input], recursive: bool) -> u64 {
    inputs
        .iter()
        .map(|i| match i {
            Input::File(p) if p.is_dir() => list_dir(p, recursive)
                .unwrap_or_default()
                .into_iter()
                .map(|f| Input::File(f).size())
                .sum(),
            other => other.size(),
        })
        .sum()
}

/// The files of directory `dir` in name order (hidden ones left out), with those of
/// its subdirectories when `recursive`.
fn list_dir(dir: &Path, recursive: bool) -> io::Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for p in entries {
        if p.is_dir() {
            if recursive {
                // An unreadable subdirectory is skipped, like a file that is no capture.
                out.extend(list_dir(&p, true).unwrap_or_default());
            }
        } else if p.is_file() {
            out.push(p);
        }
    }
    Ok(out)
}

/// Opens `input` and reads its header and the time of its first packet. Standard input
/// keeps its reader (it cannot be opened again); a file is opened again when read.
///
/// The TLS secrets of pcapng Decryption Secrets Blocks before the first packet go to
/// `keys` now: such a block may serve connections of any file of the capture (a key log
/// embedded in one file of a set, or given as a file of its own).
fn sniff(input: &Input, keys: &Keys, console: &Console) -> Result<Member<'static>, String> {
    let src = match input {
        Input::Stdin => input.open_counted(console.progress().counter()),
        Input::File(_) => input.open(),
    }
    .map_err(|e| e.to_string())?;
    let mut reader = CaptureReader::with_buffer(src, SNIFF_CHUNK).map_err(|e| e.to_string())?;
    let first = reader.peek().ok().flatten();
    for text in reader.pending_secrets() {
        keys.add_text(text);
    }
    Ok(Member {
        first,
        reader: matches!(input, Input::Stdin).then_some(reader),
    })
}

/// Runs `job` on each capture in turn until a job stops; removes the progress bar at
/// the end. `unusable`: some input was already found unusable.
pub(crate) fn sequential(
    caps: Vec<Capture>,
    unusable: bool,
    console: &Console,
    mut job: impl FnMut(Capture) -> FileResult,
) -> Result<Outcome, RunError> {
    let mut outcome = Outcome {
        unusable,
        ..Outcome::default()
    };
    for cap in caps {
        let result = match job(cap) {
            Ok(ControlFlow::Break(())) => break,
            Ok(ControlFlow::Continue(problems)) => Ok(problems),
            Err(e) => Err(e),
        };
        settle(result, &mut outcome, console)?;
    }
    console.progress().finish();
    Ok(outcome)
}

/// Runs `job` on every capture on up to `threads` threads, its output written to `out`
/// in capture order; the results are settled in that order once every job is done.
pub(crate) fn ordered(
    caps: Vec<Capture>,
    unusable: bool,
    threads: usize,
    out: &mut dyn Write,
    console: &Console,
    job: impl Fn(Capture, &mut dyn Write) -> Result<Problems, RunError> + Sync,
) -> Result<Outcome, RunError> {
    let slots: Vec<Mutex<Option<Capture>>> =
        caps.into_iter().map(|c| Mutex::new(Some(c))).collect();
    let results = run_ordered(&slots, threads, out, |slot, w| {
        let cap = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        cap.map(|c| job(c, w))
    })?;
    let mut outcome = Outcome {
        unusable,
        ..Outcome::default()
    };
    for r in results.into_iter().flatten() {
        settle(r, &mut outcome, console)?;
    }
    Ok(outcome)
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
