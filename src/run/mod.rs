//! Drives captures through the stages and into a view: one entry point per view
//! ([`messages`], [`flows`], [`stats`], [`extract`], [`tcp`]), each taking the run's
//! [`Settings`], its [`Input`]s and where to write, and returning the [`Outcome`] the
//! exit status is made of.
//!
//! The work is split by concern, one file each:
//! - `stages.rs`: one capture through capture reader, packet decoder and TCP
//!   reassembler into a stream sink ([`run`], [`run_until`]);
//! - `dissect.rs`: one capture's WebSocket records, warnings and problems
//!   ([`dissect_jsonl`]);
//! - `files.rs`: the loop over the inputs (opening, naming, progress, unusable inputs,
//!   stopping early), once for every view, one after the other or in parallel;
//! - `ordered.rs`: several jobs on several threads, output in input order
//!   ([`run_ordered`]);
//! - [`shard`]: one capture's WebSocket decoding spread over several threads;
//! - `diag.rs`: diagnostics, warning limits and standard error ([`Diagnostic`],
//!   [`WarnLimiter`]);
//! - [`progress`]: the progress bar.
//!
//! A view's entry point holds only what is its own (which records it reads, how it
//! selects and writes them, when it has enough); a view that writes JSON Lines,
//! Parquet or Arrow of everything takes the parallel path (JSON rendered by the
//! workers; Parquet and Arrow built from the workers' records on the calling thread),
//! whose output is byte for byte the sequential one's.

mod diag;
mod dissect;
mod files;
pub mod keylog;
mod ordered;
pub mod progress;
pub mod shard;
mod stages;

pub use diag::{Diagnostic, WarnLimiter, WARNINGS_PER_KIND};
pub use dissect::{dissect_jsonl, ws_problems, JsonlSettings};
pub use files::Input;
pub use ordered::run_ordered;
pub use stages::{run, run_set, run_until, FileStats};

use crate::capture::CaptureError;
use crate::layers::tls::{Keys, Tls};
use crate::layers::{self, Layer};
use crate::tcp::Config;
use crate::view::columnar::Kind;
use crate::view::extract::{Extractor, MANIFEST};
use crate::view::filter::{Filter, Selector};
use crate::view::stats::Aggregator;
use crate::view::{DumpSink, Format, ParquetCompression, TableStyle, View};
use crate::ws;
use crate::ws::problem::Problems;
use crate::ws::record::{FlowState, Record};
use diag::Console;
use progress::Progress;
use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// Why a file could not be used at all, or a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Not a capture, or unreadable from the start.
    #[error("{file}: {source}")]
    Unusable {
        /// The file.
        file: String,
        /// The reader's error.
        source: CaptureError,
    },
    /// Writing output failed (e.g. a closed pipe).
    #[error("output: {0}")]
    Output(#[from] io::Error),
    /// An output directory, or the first file in it, could not be created.
    #[error("creating {}", path.display())]
    Create {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// How the stages above TCP decode: the layers of the stream stack, then the WebSocket
/// stage.
#[derive(Clone, Debug, Default)]
pub struct Decoding {
    /// The stream stack's layers.
    pub layers: layers::Options,
    /// The WebSocket stage.
    pub ws: ws::Options,
}

/// How a run reads its inputs and what it shows: what every view shares.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Reassembly limits.
    pub tcp: Config,
    /// Which records to show; the flows and tcp views judge connections only.
    pub filter: Filter,
    /// Output format.
    pub format: Format,
    /// How Parquet is compressed.
    pub parquet: ParquetCompression,
    /// Threads to decode on, at least 1.
    pub threads: usize,
    /// Table layout and colours.
    pub style: TableStyle,
    /// Read every input to its end even once `filter.limit` records are out, so that
    /// the problems counted are those of the whole input (`--strict`).
    pub strict: bool,
    /// No diagnostics and no progress bar on standard error (errors are still printed).
    pub quiet: bool,
    /// Standard error is a terminal: a progress bar is drawn there for large inputs.
    pub stderr_is_terminal: bool,
    /// How the inputs make captures.
    pub grouping: Grouping,
}

/// How a run's inputs make captures.
#[derive(Clone, Copy, Debug, Default)]
pub struct Grouping {
    /// Every file is a capture of its own (else all files are one capture).
    pub each_file: bool,
    /// Directories are read with their subdirectories.
    pub recursive: bool,
}

impl Settings {
    /// Stop reading when the view has all it may show, unless the whole input is to be
    /// judged.
    fn stop_if(&self, enough: bool) -> ControlFlow<()> {
        if enough && !self.strict {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// A view of `kind` records writing to `out` (buffered) in the chosen format and
    /// layout, for the captures `caps` (tables name the file when there are several).
    fn view<W: Write>(
        &self,
        out: W,
        caps: &[files::Capture],
        kind: Kind,
    ) -> io::Result<View<BufWriter<W>>> {
        let files: usize = caps.iter().map(|c| c.files.names().len()).sum();
        View::new(self.format, BufWriter::new(out), None)
            .with_style(TableStyle {
                files: files > 1,
                ..self.style
            })
            .holding(kind, self.parquet, self.threads)
    }

    /// Standard error for a run over `inputs`, with a progress bar when wanted.
    fn console(&self, inputs: &[Input]) -> Console {
        // The size of the inputs (a walk of directory arguments, which making the
        // captures walks again) matters only where a bar may be drawn.
        let total = if self.stderr_is_terminal && !self.quiet {
            files::total_size(inputs, self.grouping.recursive)
        } else {
            0
        };
        let bar = progress::wanted(total, self.stderr_is_terminal, self.quiet);
        Console::new(self.quiet, Progress::new(total, bar))
    }
}

/// What a run found: what the exit status is made of.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Problems by kind, over every input read to its end.
    pub problems: Problems,
    /// Some input could not be opened or was not a capture.
    pub unusable: bool,
}

/// Messages (and, with `ws.frames`, their frames) as `settings.format`, written to
/// `out`: `wsdissect FILE…`. Of `ws` only how to decode counts (ports, sizes, frames);
/// which records the dissector emits is the view's business.
pub fn messages(
    settings: &Settings,
    decoding: &Decoding,
    inputs: &[Input],
    mut out: impl Write,
) -> Result<Outcome, RunError> {
    // Flow records end the wait of frames whose message never came; they are not printed.
    let opts = emitting(decoding, true, decoding.ws.frames);
    let console = settings.console(inputs);
    let (caps, unusable) =
        files::captures(inputs, settings.grouping, &decoding.layers.keys, &console);
    if parallel(settings, &opts, &console) {
        return parallel_jsonl(settings, &opts, false, caps, unusable, &console, &mut out);
    }
    // A columnar output holds one record type: with frames, the frames.
    let kind = if decoding.ws.frames {
        Kind::Frame
    } else {
        Kind::Message
    };
    let mut view = settings.view(out, &caps, kind)?;
    let mut sel = Selector::new(settings.filter.clone()).hide_flows();
    let mut print = |r: Record| match r {
        Record::Flow(_) => Ok(()),
        r => view.write_record(&r),
    };
    let outcome = each_record(settings, &opts, caps, unusable, &console, |r| {
        sel.push(r, &mut print)?;
        Ok(settings.stop_if(sel.full()))
    })?;
    sel.finish(&mut print)?;
    view.finish()?;
    Ok(outcome)
}

/// One record per WebSocket connection, written to `out`: `wsdissect flows FILE…`.
pub fn flows(
    settings: &Settings,
    decoding: &Decoding,
    inputs: &[Input],
    mut out: impl Write,
) -> Result<Outcome, RunError> {
    let opts = emitting(decoding, false, false);
    let console = settings.console(inputs);
    let (caps, unusable) =
        files::captures(inputs, settings.grouping, &decoding.layers.keys, &console);
    if parallel(settings, &opts, &console) {
        return parallel_jsonl(settings, &opts, true, caps, unusable, &console, &mut out);
    }
    let mut view = settings.view(out, &caps, Kind::Flow)?;
    let mut sel = Selector::new(settings.filter.clone());
    let outcome = each_record(settings, &opts, caps, unusable, &console, |r| {
        sel.push(r, |r| view.write_record(&r))?;
        Ok(settings.stop_if(sel.full()))
    })?;
    view.finish()?;
    Ok(outcome)
}

/// Statistics per WebSocket connection, written to `out` as each connection ends:
/// `wsdissect stats FILE…`. The message criteria of the filter choose the messages
/// counted; the connection criteria and the limit, the connections shown.
pub fn stats(
    settings: &Settings,
    decoding: &Decoding,
    inputs: &[Input],
    out: impl Write,
) -> Result<Outcome, RunError> {
    let opts = emitting(decoding, true, false);
    let console = settings.console(inputs);
    let (caps, unusable) =
        files::captures(inputs, settings.grouping, &decoding.layers.keys, &console);
    let f = &settings.filter;
    let mut view = settings.view(out, &caps, Kind::Stats)?;
    let mut agg = Aggregator::new();
    let mut rows = 0u64;
    let outcome = each_record(settings, &opts, caps, unusable, &console, |r| match r {
        Record::Message(m) => {
            if f.message(&m) {
                agg.message(&m);
            }
            Ok(ControlFlow::Continue(()))
        }
        // A TLS connection nothing was decrypted from has no WebSocket statistics (the
        // file's closing line counts it).
        Record::Flow(fr) if fr.state == FlowState::Encrypted => Ok(ControlFlow::Continue(())),
        Record::Flow(fr) => {
            let s = agg.flow(&fr);
            if f.flow(&fr) && f.limit.is_none_or(|l| rows < l) {
                rows += 1;
                view.write(&s)?;
            }
            Ok(settings.stop_if(f.limit.is_some_and(|l| rows >= l)))
        }
        Record::Frame(_) => Ok(ControlFlow::Continue(())),
    })?;
    view.finish()?;
    Ok(outcome)
}

/// Every selected message's payload as a file in `dir` (created if needed), with a
/// manifest of the records: `wsdissect extract --out DIR FILE…`. Says on standard
/// error what it wrote, unless quiet.
pub fn extract(
    settings: &Settings,
    decoding: &Decoding,
    inputs: &[Input],
    dir: &Path,
    force: bool,
) -> Result<Outcome, RunError> {
    let f = &settings.filter;
    if !force && std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(RunError::Create {
            path: dir.to_path_buf(),
            source: std::io::Error::other(
                "the directory is not empty (--force writes into it anyway)",
            ),
        });
    }
    let opts = emitting(decoding, true, false);
    let console = settings.console(inputs);
    let (caps, unusable) =
        files::captures(inputs, settings.grouping, &decoding.layers.keys, &console);
    let mut ex = Extractor::new(dir, caps.len() > 1).map_err(|source| RunError::Create {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut taken = 0u64;
    let outcome = each_record(settings, &opts, caps, unusable, &console, |r| match r {
        Record::Message(m) => {
            let take = f.message(&m) && f.limit.is_none_or(|l| taken < l);
            taken += u64::from(take);
            ex.message(m, take)?;
            Ok(settings.stop_if(f.limit.is_some_and(|l| taken >= l)))
        }
        Record::Flow(fr) => {
            ex.end_flow(fr.capture, fr.flow, fr.h2_stream_id);
            Ok(ControlFlow::Continue(()))
        }
        Record::Frame(_) => Ok(ControlFlow::Continue(())),
    })?;
    let s = ex.finish()?;
    console.note(&format_args!(
        "wrote {} payload files ({} bytes) to {}; {} messages without payload; manifest {}",
        s.files,
        s.bytes,
        dir.display(),
        s.without_payload,
        dir.join(MANIFEST).display()
    ));
    Ok(outcome)
}

/// One record per TCP connection, written to `out`: `wsdissect tcp FILE…`; with
/// `dump_dir` (created if needed), each direction's reassembled bytes as a file there
/// (in a directory per input when there are several), and the plaintext of the TLS
/// connections `keys` decrypt.
pub fn tcp(
    settings: &Settings,
    keys: &Keys,
    inputs: &[Input],
    dump_dir: Option<&Path>,
    out: impl Write,
) -> Result<Outcome, RunError> {
    if let Some(d) = dump_dir {
        std::fs::create_dir_all(d).map_err(|source| RunError::Create {
            path: d.to_path_buf(),
            source,
        })?;
    }
    let console = settings.console(inputs);
    let (caps, unusable) = files::captures(inputs, settings.grouping, keys, &console);
    let mut view = settings.view(out, &caps, Kind::Tcp)?;
    let mut sel = Selector::new(settings.filter.clone());
    let several = caps.len() > 1;
    let outcome = files::sequential(caps, unusable, &console, |cap| {
        let files = cap.files.clone();
        let mut dump = match dump_dir {
            Some(d) if several => {
                let sub = d.join(files.label().replace(['/', '\\'], "_"));
                std::fs::create_dir_all(&sub)?;
                Some(sub)
            }
            Some(d) => Some(d.to_path_buf()),
            None => None,
        }
        .map(|d| {
            (
                DumpSink::new(d.clone()),
                Tls::new(keys.clone(), DumpSink::decrypted(d)),
            )
        });
        let mut problems = Problems::default();
        let read = run_set(
            &files,
            cap.reader(console.progress().counter()),
            settings.tcp,
            keys,
            &mut dump,
            &mut |d: Diagnostic| console.diagnostic(&d),
            |_, tcp| {
                console.progress().packet(tcp.flows_seen());
                for mut s in tcp.drain_summaries() {
                    s.locate(&files);
                    problems.add_tcp(&s, true);
                    if sel.tcp(&s) {
                        view.write(&s)?;
                    }
                }
                Ok(settings.stop_if(sel.full()))
            },
        )?;
        let ControlFlow::Continue(stats) = read else {
            return Ok(ControlFlow::Break(()));
        };
        if let Some((raw, tls)) = &mut dump {
            raw.finish()?;
            tls.inner_mut().finish()?;
        }
        stats.count_into(&mut problems);
        Ok(ControlFlow::Continue(problems))
    })?;
    view.finish()?;
    Ok(outcome)
}

/// `decoding` with the records a view reads switched on: flow records always (they end
/// a connection's wait), messages and frames as asked.
fn emitting(decoding: &Decoding, messages: bool, frames: bool) -> Decoding {
    let ws = &decoding.ws;
    Decoding {
        layers: decoding.layers.clone(),
        ws: ws::Options {
            messages,
            frames,
            flows: true,
            include_payload_in_frames: frames && ws.include_payload_in_frames,
            ..ws.clone()
        },
    }
}

/// Every record of every input, in order, handed to `each` until it stops: the
/// sequential path of the WebSocket views.
fn each_record(
    settings: &Settings,
    opts: &Decoding,
    caps: Vec<files::Capture>,
    unusable: bool,
    console: &Console,
    mut each: impl FnMut(Record) -> io::Result<ControlFlow<()>>,
) -> Result<Outcome, RunError> {
    // Parquet and Arrow are built on this thread and encoded (Parquet compressed) on
    // threads of their own; the decoding is spread over the cores as for JSON Lines
    // (README, Performance: on two cores this pays for Arrow, for uncompressed Parquet
    // and for deflate traffic, and is even for plain traffic in zstd Parquet).
    let threads = settings.threads.max(1);
    let sharded =
        threads > 1 && settings.format.columnar().is_some() && spreadable(settings, opts, console);
    files::sequential(caps, unusable, console, |cap| {
        let files = cap.files.clone();
        let reader = cap.reader(console.progress().counter());
        let mut diag = |d: Diagnostic| console.diagnostic(&d);
        if sharded {
            let (config, decoding) = (settings.tcp, opts.clone());
            return shard::records_set(
                &files, reader, config, decoding, threads, &mut each, &mut diag,
            );
        }
        dissect::dissect(
            &files,
            reader,
            settings.tcp,
            opts.clone(),
            &mut diag,
            Some(console.progress()),
            &mut each,
        )
    })
}

/// Whether a WebSocket view takes the parallel path: JSON Lines with no filter, no
/// frames and no progress bar.
fn parallel(settings: &Settings, opts: &Decoding, console: &Console) -> bool {
    settings.format == Format::Jsonl && spreadable(settings, opts, console)
}

/// Whether a run may spread its decoding over the cores: no filter, no frames and no
/// progress bar.
fn spreadable(settings: &Settings, opts: &Decoding, console: &Console) -> bool {
    let f = &settings.filter;
    let unfiltered = f.flow.is_none()
        && f.h2_stream.is_none()
        && f.client.is_none()
        && f.server.is_none()
        && f.direction.is_none()
        && f.opcodes.is_empty()
        && f.grep.is_none()
        && f.since.is_none()
        && f.until.is_none()
        && f.limit.is_none();
    !opts.ws.frames && unfiltered && !console.progress().shown()
}

/// JSON Lines of every input: several files decoded in parallel, one file's connections
/// spread over the cores, printed exactly as the sequential path prints them.
fn parallel_jsonl(
    settings: &Settings,
    opts: &Decoding,
    flow_records: bool,
    caps: Vec<files::Capture>,
    unusable: bool,
    console: &Console,
    out: &mut dyn Write,
) -> Result<Outcome, RunError> {
    let threads = settings.threads.max(1);
    let single = caps.len() == 1;
    files::ordered(caps, unusable, threads, out, console, |cap, w| {
        let files = cap.files.clone();
        let reader = cap.reader(console.progress().counter());
        let mut diag = |d: Diagnostic| console.diagnostic(&d);
        let jsonl = JsonlSettings {
            config: settings.tcp,
            decoding: opts.clone(),
            flow_records,
        };
        if single && threads > 1 {
            shard::jsonl_set(&files, reader, jsonl, threads, w, &mut diag)
        } else {
            dissect::jsonl_set(&files, reader, jsonl, w, &mut diag)
        }
    })
}
