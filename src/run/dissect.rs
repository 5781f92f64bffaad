//! One capture's WebSocket traffic, decoded: a [`Dissector`] behind the stages, its
//! warnings limited per kind, and the problems of the file counted by kind as the
//! command line counts them (capture errors, TCP limits hit, WebSocket problems).
//!
//! Every view of WebSocket records (messages, flows, stats, extract) reads a file
//! through [`dissect`]; [`dissect_jsonl`] is the same with the records written as JSON
//! Lines, the job each core runs on the parallel path.

use crate::capture::set::{FileSet, SetReader};
use crate::layers::tls::TlsStats;
use crate::layers::Layer;
use crate::run::diag::{Diagnostic, WarnLimiter};
use crate::run::progress::Progress;
use crate::run::stages::run_set;
use crate::run::{Decoding, RunError};
use crate::tcp::Config;
use crate::view::{Format, View};
use crate::ws::problem::{Kind, Problems};
use crate::ws::record::Record;
use crate::ws::tally::Tally;
use crate::ws::Dissector;
use std::cell::RefCell;
use std::convert::Infallible;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::sync::Arc;

/// Decodes the WebSocket traffic of one capture and hands every record to `each`, in
/// order, until `each` returns `Break`. Diagnostics (the file's and the dissector's
/// warnings, the first [`WARNINGS_PER_KIND`](crate::run::WARNINGS_PER_KIND) of each
/// kind) go to `diag`; `progress`, if any, counts the packets. Returns the problems
/// found, or the `Break` with which `each` stopped the reading (nothing is counted then).
pub(crate) fn dissect<B>(
    files: &Arc<FileSet>,
    reader: SetReader<'_>,
    config: Config,
    opts: Decoding,
    diag: &mut dyn FnMut(Diagnostic),
    progress: Option<&Progress>,
    mut each: impl FnMut(Record) -> io::Result<ControlFlow<B>>,
) -> Result<ControlFlow<B, Problems>, RunError> {
    let keys = opts.layers.keys.clone();
    let file = files.label();
    let mut d = opts
        .layers
        .stack(Dissector::for_set(files.clone(), opts.ws));
    let mut problems = Problems::default();
    let mut limiter = WarnLimiter::default();
    // The stages and the per-packet drain both report; they never do at the same time.
    let diag = RefCell::new(diag);
    let read = run_set(
        files,
        reader,
        config,
        &keys,
        &mut d,
        &mut |x| (diag.borrow_mut())(x),
        |d, tcp| {
            if let Some(p) = progress {
                p.packet(tcp.flows_seen());
            }
            for s in tcp.drain_summaries() {
                problems.add_tcp(&s, false);
            }
            let h2: Vec<_> = d.inner_mut().drain_warnings().collect();
            for w in d.drain_warnings().chain(h2) {
                if let Some(x) = limiter.pass(files, w.packet, w.kind, w.message) {
                    (diag.borrow_mut())(x);
                }
            }
            let d = d.top_mut();
            for w in d.drain_warnings() {
                if let Some(x) = limiter.pass(files, w.packet, w.kind, w.message) {
                    (diag.borrow_mut())(x);
                }
            }
            for r in d.drain_records() {
                if let ControlFlow::Break(b) = each(r)? {
                    return Ok(ControlFlow::Break(b));
                }
            }
            Ok(ControlFlow::Continue(()))
        },
    )?;
    let stats = match read {
        ControlFlow::Continue(stats) => stats,
        ControlFlow::Break(b) => return Ok(ControlFlow::Break(b)),
    };
    limiter.leftovers(file).for_each(|x| (diag.borrow_mut())(x));
    tls_summary(file, d.stats(), &mut problems, &mut |x| {
        (diag.borrow_mut())(x)
    });
    stats.count_into(&mut problems);
    let d = d.top();
    no_websocket_summary(file, &d.tally(), &mut |x| (diag.borrow_mut())(x));
    problems.merge(&ws_problems(d.problem_counts(), d.problems()));
    Ok(ControlFlow::Continue(problems))
}

/// What [`dissect_jsonl`] (and [`crate::run::shard::dissect_jsonl`]) decode and print.
#[derive(Clone, Debug)]
pub struct JsonlSettings {
    /// Reassembly limits.
    pub config: Config,
    /// The layers and what the dissector emits.
    pub decoding: Decoding,
    /// Print flow records too (else only message and frame records).
    pub flow_records: bool,
}

/// Decodes the WebSocket traffic of one capture and writes its records to `out` as JSON
/// Lines: what `wsdissect --format jsonl FILE` prints (message and frame records; flow
/// records only with `settings.flow_records`). The dissector's warnings go to `diag` with the
/// file's. Returns the problems found, by kind, as the command line counts them.
pub fn dissect_jsonl<R: Read + Send>(
    file: &str,
    src: R,
    settings: JsonlSettings,
    out: &mut dyn io::Write,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<Problems, RunError> {
    let (files, reader) = crate::run::stages::single(file, src)?;
    jsonl_set(&files, reader, settings, out, diag)
}

/// As [`dissect_jsonl`], over a capture made of the files `files` (read by `reader`).
pub(crate) fn jsonl_set(
    files: &Arc<FileSet>,
    reader: SetReader<'_>,
    settings: JsonlSettings,
    out: &mut dyn io::Write,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<Problems, RunError> {
    let JsonlSettings {
        config,
        decoding,
        flow_records,
    } = settings;
    let mut view = View::new(
        Format::Jsonl,
        io::BufWriter::with_capacity(1 << 16, out),
        None,
    );
    let read = dissect(files, reader, config, decoding, diag, None, |r| {
        if flow_records || !matches!(r, Record::Flow(_)) {
            view.write_record(&r)?;
        }
        Ok(ControlFlow::<Infallible>::Continue(()))
    })?;
    view.finish()?;
    match read {
        ControlFlow::Continue(problems) => Ok(problems),
        ControlFlow::Break(never) => match never {},
    }
}

/// A dissector's problems by kind; those it counted without a kind as `other`.
pub fn ws_problems(counts: Problems, total: u64) -> Problems {
    let mut p = counts;
    if p.is_empty() {
        p.add(Kind::Other, total);
    }
    p
}

/// Says, for a file with TCP connections but no WebSocket, what its connections were
/// (see [`Tally::summary`]), so that a wrong guess is visible.
pub(crate) fn no_websocket_summary(file: &str, tally: &Tally, diag: &mut dyn FnMut(Diagnostic)) {
    if let Some(message) = tally.summary() {
        diag(Diagnostic {
            file: file.to_string(),
            packet: None,
            message,
        });
    }
}

/// Tells what the TLS layer could not look into, in a few lines about the whole file,
/// and counts it for `--strict`.
pub(crate) fn tls_summary(
    file: &str,
    tls: &TlsStats,
    problems: &mut Problems,
    diag: &mut dyn FnMut(Diagnostic),
) {
    problems.add(Kind::TlsNoKey, tls.no_key);
    problems.add(Kind::Decryption, tls.unsupported + tls.failed);
    for message in tls.summary() {
        diag(Diagnostic {
            file: file.to_string(),
            packet: None,
            message,
        });
    }
}
