//! Drives one capture through the stages: capture reader → packet decoder → TCP
//! reassembler → a [`StreamSink`], reporting problems as [`Diagnostic`]s.

pub mod progress;
pub mod shard;

use crate::capture::packet::{self, PacketError};
use crate::capture::{CaptureError, CaptureReader};
use crate::tcp::stream::{Provenance, StreamSink};
use crate::tcp::{Config, Reassembler};
use crate::ws::problem::{Kind, Problems};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Read};

/// Packet-level diagnostics of one kind printed per file before the rest are only counted.
const DIAG_PER_KIND: u64 = 20;

/// Warnings of one kind (the same text but for its numbers) printed per file before
/// the rest are only counted, so that hostile input cannot flood standard error.
pub const WARNINGS_PER_KIND: u64 = 50;

/// Decides which warnings of a file to print: the first [`WARNINGS_PER_KIND`] of each
/// kind, where a kind is the warning's text with its digits removed.
#[derive(Debug, Default)]
pub struct WarnLimiter {
    seen: HashMap<String, (u64, Option<String>)>,
}

impl WarnLimiter {
    /// Counts `message`; true when it is to be printed.
    pub fn admit(&mut self, message: &str) -> bool {
        let kind: String = message.chars().filter(|c| !c.is_ascii_digit()).collect();
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

/// What one file held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Packets read.
    pub packets: u64,
    /// TCP segments decoded.
    pub tcp_segments: u64,
    /// Problems in the file itself: truncation, corrupt records, malformed packets,
    /// unsupported link types.
    pub problems: u64,
    /// Bytes of the file read.
    pub bytes: u64,
}

/// Why a file could not be used at all.
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
}

/// Reads a whole capture from `src`, feeding `sink` through a reassembler built from
/// `config`. `after_packet` runs after every packet (to drain and print records), and at
/// the end once more after the reassembler has flushed every flow.
pub fn run<R: Read, S: StreamSink>(
    file: &str,
    src: R,
    config: Config,
    sink: &mut S,
    diag: &mut dyn FnMut(Diagnostic),
    mut after_packet: impl FnMut(&mut S, &mut Reassembler) -> io::Result<()>,
) -> Result<FileStats, RunError> {
    let mut reader = CaptureReader::new(src).map_err(|source| RunError::Unusable {
        file: file.to_string(),
        source,
    })?;
    let mut tcp = Reassembler::new(config);
    let mut stats = FileStats::default();
    let mut unsupported: HashSet<(u32, u32)> = HashSet::new();
    let mut malformed = 0u64;
    let mut snapcut = 0u64;
    let mut tcp_warnings = WarnLimiter::default();
    let mut report = |packet: Option<u64>, message: String| {
        diag(Diagnostic {
            file: file.to_string(),
            packet,
            message,
        })
    };
    loop {
        let pkt = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                stats.problems += 1;
                let packet = match &e {
                    CaptureError::Truncated { packet, .. }
                    | CaptureError::Corrupt { packet, .. } => Some(*packet),
                    _ => None,
                };
                report(packet, e.to_string());
                continue;
            }
        };
        stats.packets += 1;
        let at = Provenance {
            packet: pkt.number,
            ts: pkt.ts,
        };
        match packet::decode(pkt.linktype, pkt.data) {
            Ok(seg) => {
                stats.tcp_segments += 1;
                if seg.missing > 0 {
                    snapcut += 1;
                    if snapcut <= DIAG_PER_KIND {
                        report(
                            Some(pkt.number),
                            format!(
                                "{} payload bytes cut by the snap length (captured {} of {})",
                                seg.missing,
                                pkt.data.len(),
                                pkt.orig_len
                            ),
                        );
                    }
                }
                tcp.process(&seg, at, sink);
            }
            Err(PacketError::NotTcp) => {}
            Err(PacketError::UnsupportedLinktype(lt)) => {
                if unsupported.insert((pkt.interface, lt)) {
                    stats.problems += 1;
                    report(
                        Some(pkt.number),
                        format!(
                            "interface {}: unsupported link type {lt}; its packets are skipped",
                            pkt.interface
                        ),
                    );
                }
            }
            Err(e @ (PacketError::Malformed(_) | PacketError::IpFragment)) => {
                stats.problems += 1;
                malformed += 1;
                if malformed <= DIAG_PER_KIND {
                    report(Some(pkt.number), e.to_string());
                }
            }
        }
        for w in tcp.drain_warnings() {
            if tcp_warnings.admit(&w.message) {
                report(Some(w.packet), w.message);
            }
        }
        after_packet(sink, &mut tcp)?;
    }
    // End the flows left a thousand at a time, draining records in between.
    while tcp.finish_some(sink, 1000) {
        after_packet(sink, &mut tcp)?;
    }
    for w in tcp.drain_warnings() {
        if tcp_warnings.admit(&w.message) {
            report(Some(w.packet), w.message);
        }
    }
    for line in tcp_warnings.summary() {
        report(None, line);
    }
    if malformed > DIAG_PER_KIND {
        report(
            None,
            format!(
                "{} more malformed packets not listed",
                malformed - DIAG_PER_KIND
            ),
        );
    }
    if snapcut > DIAG_PER_KIND {
        report(
            None,
            format!(
                "{} more packets cut by the snap length not listed",
                snapcut - DIAG_PER_KIND
            ),
        );
    }
    after_packet(sink, &mut tcp)?;
    stats.bytes = reader.bytes_read();
    Ok(stats)
}

/// Output a job holds in memory before it spills the rest to a temporary file.
const SPILL_AT: usize = 4 << 20;

/// A job's output while earlier jobs still write theirs: memory first, then a temporary
/// file (removed when dropped), so memory stays bounded however large the output.
struct Spill {
    mem: Vec<u8>,
    file: Option<(std::path::PathBuf, io::BufWriter<std::fs::File>)>,
}

impl Spill {
    fn new() -> Spill {
        Spill {
            mem: Vec::new(),
            file: None,
        }
    }

    /// Writes everything held to `out`.
    fn copy_to(mut self, out: &mut dyn io::Write) -> io::Result<()> {
        out.write_all(&self.mem)?;
        if let Some((path, w)) = self.file.take() {
            let f = w.into_inner().map_err(|e| e.into_error())?;
            drop(f);
            let r = std::fs::File::open(&path).and_then(|mut f| io::copy(&mut f, out));
            let _ = std::fs::remove_file(&path);
            r?;
        }
        Ok(())
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        if let Some((path, _)) = self.file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl io::Write for Spill {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.file.is_none() && self.mem.len() + buf.len() <= SPILL_AT {
            self.mem.extend_from_slice(buf);
            return Ok(buf.len());
        }
        if self.file.is_none() {
            static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("wsdissect-{}-{n}.spill", std::process::id()));
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?;
            self.file = Some((path, io::BufWriter::with_capacity(1 << 20, f)));
        }
        match &mut self.file {
            Some((_, w)) => w.write(buf),
            None => Ok(0),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some((_, w)) => w.flush(),
            None => Ok(()),
        }
    }
}

/// Runs `job` on every input, on up to `threads` threads (the calling thread is one of
/// them), and writes the jobs' outputs to `out` one after the other in input order,
/// exactly as running them one by one would. The job of the earliest unfinished input
/// writes straight to `out`; the others write into a buffer held in memory up to 4 MiB
/// and spilled to a temporary file beyond, and no job starts more than `threads` inputs
/// ahead of the one being written. Returns the jobs' results in input order, or the
/// first error writing `out`.
pub fn run_ordered<T, R>(
    inputs: &[T],
    threads: usize,
    out: &mut dyn io::Write,
    job: impl Fn(&T, &mut dyn io::Write) -> R + Sync,
) -> io::Result<Vec<R>>
where
    T: Sync,
    R: Send,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Condvar, Mutex};

    let n = inputs.len();
    let threads = threads.clamp(1, n.max(1));
    let next = AtomicUsize::new(0);
    // Index of the input being written to `out`, and whether writing failed.
    let head = Mutex::new((0usize, false));
    let moved = Condvar::new();
    let mut results: Vec<Option<R>> = (0..n).map(|_| None).collect();
    let (tx, rx) = mpsc::channel::<(usize, R, Spill)>();

    std::thread::scope(|s| -> io::Result<()> {
        for _ in 1..threads {
            let tx = tx.clone();
            let (next, head, moved, job) = (&next, &head, &moved, &job);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(input) = inputs.get(i) else { return };
                {
                    let mut h = head.lock().unwrap_or_else(|e| e.into_inner());
                    while !h.1 && i >= h.0 + threads {
                        h = moved.wait(h).unwrap_or_else(|e| e.into_inner());
                    }
                    if h.1 {
                        return;
                    }
                }
                let mut spill = Spill::new();
                let r = job(input, &mut spill);
                if tx.send((i, r, spill)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let mut done: Vec<Option<Spill>> = (0..n).map(|_| None).collect();
        let mut outcome = Ok(());
        for i in 0..n {
            if next
                .compare_exchange(i, i + 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                results[i] = Some(job(&inputs[i], out));
            } else {
                while done[i].is_none() {
                    match rx.recv() {
                        Ok((j, r, spill)) => {
                            results[j] = Some(r);
                            done[j] = Some(spill);
                        }
                        Err(_) => break,
                    }
                }
                if let Some(spill) = done[i].take() {
                    if let Err(e) = spill.copy_to(out) {
                        outcome = Err(e);
                    }
                }
            }
            let mut h = head.lock().unwrap_or_else(|e| e.into_inner());
            h.0 = i + 1;
            h.1 = outcome.is_err();
            moved.notify_all();
            drop(h);
            if outcome.is_err() {
                break;
            }
        }
        outcome
    })?;
    Ok(results.into_iter().flatten().collect())
}

/// What [`dissect_jsonl`] (and [`crate::run::shard::dissect_jsonl`]) decode and print.
#[derive(Clone, Debug)]
pub struct JsonlSettings {
    /// Reassembly limits.
    pub config: Config,
    /// What the dissector emits.
    pub opts: crate::ws::Options,
    /// Print flow records too (else only message and frame records).
    pub flow_records: bool,
}

/// Decodes the WebSocket traffic of one capture and writes its records to `out` as JSON
/// Lines: what `wsdissect --format jsonl FILE` prints (message and frame records; flow
/// records only with `settings.flow_records`). The dissector's warnings go to `diag` with the
/// file's. Returns the problems found, by kind, as the command line counts them.
pub fn dissect_jsonl<R: Read>(
    file: &str,
    src: R,
    settings: JsonlSettings,
    out: &mut dyn io::Write,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<Problems, RunError> {
    use crate::view::{Format, View};
    use crate::ws::record::Record;
    let JsonlSettings {
        config,
        opts,
        flow_records,
    } = settings;
    let mut view = View::new(
        Format::Jsonl,
        io::BufWriter::with_capacity(1 << 16, out),
        None,
    );
    let mut d = crate::ws::Dissector::new(file.to_string(), opts);
    let mut problems = Problems::default();
    let mut limiter = WarnLimiter::default();
    // `run` and the per-packet drain both report; they never do at the same time.
    let diag = std::cell::RefCell::new(diag);
    let stats = run(
        file,
        src,
        config,
        &mut d,
        &mut |x| (diag.borrow_mut())(x),
        |d, tcp| {
            for s in tcp.drain_summaries() {
                problems.add_tcp(&s, false);
            }
            for w in d.drain_warnings() {
                if limiter.admit(&w.message) {
                    (diag.borrow_mut())(Diagnostic {
                        file: file.to_string(),
                        packet: Some(w.packet),
                        message: w.message,
                    });
                }
            }
            for r in d.drain_records() {
                if flow_records || !matches!(r, Record::Flow(_)) {
                    view.write_record(&r)?;
                }
            }
            Ok(())
        },
    )?;
    view.finish()?;
    for line in limiter.summary() {
        (diag.borrow_mut())(Diagnostic {
            file: file.to_string(),
            packet: None,
            message: line,
        });
    }
    problems.add(Kind::Capture, stats.problems);
    problems.merge(&ws_problems(d.problem_counts(), d.problems()));
    Ok(problems)
}

/// A dissector's problems by kind; those it counted without a kind as `other`.
pub fn ws_problems(counts: Problems, total: u64) -> Problems {
    let mut p = counts;
    if p.is_empty() {
        p.add(Kind::Other, total);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_output_with_spills_and_uneven_jobs() {
        let inputs: Vec<usize> = (0..12).collect();
        let job = |&i: &usize, w: &mut dyn io::Write| {
            // Early inputs are slow, so later ones finish first and wait (some spilled).
            std::thread::sleep(std::time::Duration::from_millis(((12 - i) * 5) as u64));
            let chunk = vec![i as u8; 1 << 16];
            for _ in 0..(i * 13) {
                w.write_all(&chunk).unwrap();
            }
            i * 2
        };
        let mut expected = Vec::new();
        for i in &inputs {
            job(i, &mut expected);
        }
        for threads in [1, 2, 5] {
            let mut out = Vec::new();
            let r = run_ordered(&inputs, threads, &mut out, job).unwrap();
            assert_eq!(r, inputs.iter().map(|i| i * 2).collect::<Vec<_>>());
            assert!(out == expected, "threads {threads}");
        }
    }

    #[test]
    fn output_error_stops_early() {
        struct Fail;
        impl io::Write for Fail {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let inputs: Vec<usize> = (0..50).collect();
        // Jobs writing straight to the output see the error themselves; copies of
        // buffered outputs fail the run.
        let r = run_ordered(&inputs, 3, &mut Fail, |_, w| w.write_all(b"x\n"));
        match r {
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
            Ok(results) => assert!(results.iter().all(|r| r.is_err())),
        }
    }
}
