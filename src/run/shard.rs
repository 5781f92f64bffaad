//! One capture decoded on several cores, with the output of a single-threaded run.
//!
//! WebSocket connections are independent of each other, so the work after TCP
//! reassembly (frame parsing, unmasking, inflating, UTF-8 checks, building records) is
//! spread over worker threads by connection, each with its own [`Dissector`]:
//!
//! - a reader thread runs the capture through the reassembler; its sink numbers every
//!   stream event in order and hands it to the worker owning that connection, in
//!   batches; after every batch all workers learn how far the numbering went;
//! - each worker feeds its events to its dissector and returns the records (and
//!   warnings) each event produced, tagged with the event's number;
//! - the calling thread merges the workers' records by event number, which is exactly
//!   the order a single dissector would have produced them in (records only come out of
//!   the sink calls, and each connection's calls stay in order in one worker), and
//!   writes them: JSON Lines the workers rendered ([`dissect_jsonl`]), or records the
//!   workers hand back whole, for a view that builds its output on the calling thread
//!   (Parquet and Arrow, whose encoders have threads of their own; `records_set`).
//!
//! Channels are bounded, so a slow writer or worker holds the reader back: memory stays
//! flat whatever the capture's size.
//!
//! One exception to "the same output": when the shared memory budget for messages in
//! progress runs out (hundreds of MiB of messages in progress at once), which message
//! is cut depends on how far each worker has got, so it may differ from a sequential run.

use crate::capture::set::{FileSet, SetReader};
use crate::layers::{Layer, Plain};
use crate::run::{self, Decoding, Diagnostic, JsonlSettings, RunError};
use crate::tcp::stream::{CloseKind, Direction, FlowInfo, Provenance, StreamSink};
use crate::tcp::Config;
use crate::view::json::JsonBuf;
use crate::ws::problem::Problems;
use crate::ws::record::Record;
use crate::ws::tally::Tally;
use crate::ws::{self, Dissector};
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::ops::Range;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;

/// Packets per batch handed to the workers.
const BATCH_PACKETS: u64 = 1024;
/// Payload bytes after which a batch is handed over early.
const BATCH_BYTES: usize = 1024 * 1024;
/// The same when the workers hand back records: a batch's records hold its payloads,
/// inflated, while they wait for a view that compresses.
const RECORD_BATCH_BYTES: usize = 256 * 1024;
/// Batches queued per worker before the reader waits.
const QUEUE: usize = 2;

/// One stream event, as the reassembler reported it.
enum Event {
    Open(FlowInfo),
    Data {
        flow: u64,
        dir: Direction,
        start: usize,
        end: usize,
        at: Provenance,
    },
    Gap {
        flow: u64,
        dir: Direction,
        len: u64,
        at: Provenance,
    },
    Close {
        flow: u64,
        dir: Direction,
        kind: CloseKind,
        at: Provenance,
    },
    /// The flow as the layers below the workers end it (with what TLS learned).
    End(Box<FlowInfo>),
    /// A retransmission differed from delivered bytes.
    Conflict {
        flow: u64,
        dir: Direction,
        range: Range<u64>,
        at: Provenance,
    },
    /// A warning of the layers the reader runs (TLS), in its place among the events.
    Warn(ws::Warning),
}

/// Events for one worker, with the payload bytes they refer to.
#[derive(Default)]
struct Batch {
    events: Vec<(u64, Event)>,
    bytes: Vec<u8>,
    /// Every event numbered up to this one has been handed out.
    upto: u64,
}

/// What a worker produced for one event: records already rendered as JSON Lines (the
/// rendering, escaping and base64 are most of the output work, so it is done in
/// parallel), as a range of its batch's text; records themselves, for a view on the
/// calling thread (Parquet, Arrow); or a warning.
enum Item {
    Json(Range<usize>),
    Record(Box<Record>),
    Warning(ws::Warning),
}

/// Where the merged records go.
enum Output<'a> {
    /// JSON Lines, rendered by the workers, with flow records or without.
    Jsonl {
        out: io::BufWriter<&'a mut dyn Write>,
        flow_records: bool,
    },
    /// Every record (flow records too), in order, to a function that may stop the run.
    Records(&'a mut dyn FnMut(Record) -> io::Result<ControlFlow<()>>),
}

/// Why the merging stopped early.
enum Stop {
    /// Writing failed.
    Failed(io::Error),
    /// The records' function said so.
    Asked,
}

impl Output<'_> {
    /// What the workers hand back for this output.
    fn hand(&self) -> Hand {
        match self {
            Output::Jsonl { flow_records, .. } => Hand::Json {
                flow_records: *flow_records,
            },
            Output::Records(_) => Hand::Records,
        }
    }

    /// Writes `text[range]` unless the merging stopped; keeps the first failure.
    fn text(&mut self, stop: &mut Option<Stop>, text: &[u8], range: Range<usize>) {
        if let (Output::Jsonl { out, .. }, None) = (self, &stop) {
            if let Err(e) = out.write_all(text.get(range).unwrap_or(&[])) {
                *stop = Some(Stop::Failed(e));
            }
        }
    }

    /// Hands a record on unless the merging stopped.
    fn record(&mut self, stop: &mut Option<Stop>, r: Record) {
        if let (Output::Records(each), None) = (self, &stop) {
            match each(r) {
                Ok(ControlFlow::Continue(())) => {}
                Ok(ControlFlow::Break(())) => *stop = Some(Stop::Asked),
                Err(e) => *stop = Some(Stop::Failed(e)),
            }
        }
    }
}

/// What a worker produced for one batch.
struct Chunk {
    items: VecDeque<(u64, Item)>,
    /// The JSON Lines the items point into.
    text: Vec<u8>,
}

enum ToMerger {
    Items {
        worker: usize,
        chunk: Chunk,
        upto: u64,
    },
    Diag(Diagnostic),
}

/// The reader's sink: numbers events and routes them to workers by connection.
struct Router {
    seq: u64,
    batches: Vec<Batch>,
    txs: Vec<SyncSender<Batch>>,
    /// Each worker's spent batches, emptied, to be filled again (no allocation and no
    /// fresh pages per batch).
    spent: Vec<Receiver<Batch>>,
    packets: u64,
    /// Limits the reassembler hit.
    limits: Problems,
}

impl Router {
    fn shard(&mut self, flow: u64) -> &mut Batch {
        let n = self.batches.len() as u64;
        &mut self.batches[(flow % n) as usize]
    }

    fn push(&mut self, flow: u64, ev: Event) {
        self.seq += 1;
        let seq = self.seq;
        self.shard(flow).events.push((seq, ev));
    }

    /// Hands every worker its batch (empty ones too: they carry the numbering).
    fn flush(&mut self, upto: u64) -> io::Result<()> {
        for ((b, tx), spent) in self.batches.iter_mut().zip(&self.txs).zip(&self.spent) {
            // The next batch is likely as big: allocate once instead of growing.
            let next = spent.try_recv().unwrap_or_else(|_| Batch {
                events: Vec::with_capacity(b.events.len()),
                bytes: Vec::with_capacity(b.bytes.len()),
                upto: 0,
            });
            let mut batch = std::mem::replace(b, next);
            batch.upto = upto;
            tx.send(batch)
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "worker stopped"))?;
        }
        Ok(())
    }
}

impl StreamSink for Router {
    fn open(&mut self, flow: &FlowInfo) {
        self.push(flow.id, Event::Open(flow.clone()));
    }
    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], at: Provenance) {
        let b = self.shard(flow.id);
        let start = b.bytes.len();
        b.bytes.extend_from_slice(bytes);
        let end = b.bytes.len();
        self.push(
            flow.id,
            Event::Data {
                flow: flow.id,
                dir,
                start,
                end,
                at,
            },
        );
    }
    fn gap(&mut self, flow: &FlowInfo, dir: Direction, len: u64, at: Provenance) {
        self.push(
            flow.id,
            Event::Gap {
                flow: flow.id,
                dir,
                len,
                at,
            },
        );
    }
    fn close(&mut self, flow: &FlowInfo, dir: Direction, kind: CloseKind, at: Provenance) {
        self.push(
            flow.id,
            Event::Close {
                flow: flow.id,
                dir,
                kind,
                at,
            },
        );
    }
    fn end(&mut self, flow: &FlowInfo) {
        self.push(flow.id, Event::End(Box::new(flow.clone())));
    }
    fn conflict(&mut self, flow: &FlowInfo, dir: Direction, range: Range<u64>, at: Provenance) {
        self.push(
            flow.id,
            Event::Conflict {
                flow: flow.id,
                dir,
                range,
                at,
            },
        );
    }
}

/// Renders one record as a JSON line, exactly as [`crate::view::View::write_record`]
/// writes it, into `json` (which keeps it); returns where it is.
fn render(json: &mut JsonBuf, r: &Record) -> io::Result<Range<usize>> {
    let start = json.len();
    crate::view::record_json(json, &mut io::sink(), r)?;
    json.raw(b"\n");
    Ok(start..json.len())
}

/// What a worker hands back of the records.
#[derive(Clone, Copy)]
enum Hand {
    /// JSON Lines, with flow records or without.
    Json { flow_records: bool },
    /// Every record.
    Records,
}

/// Feeds one worker's events to its dissector; returns its problems by kind and in
/// total.
fn work(
    worker: usize,
    mut d: Plain<Dissector>,
    hand: Hand,
    rx: Receiver<Batch>,
    tx: SyncSender<ToMerger>,
    recycled: Receiver<Vec<u8>>,
    spent: Sender<Batch>,
) -> io::Result<(Problems, u64, Tally)> {
    let mut flows: HashMap<u64, FlowInfo> = HashMap::new();
    let mut json = JsonBuf::keeping(Vec::new());
    for mut batch in rx {
        let mut items = VecDeque::new();
        for (seq, ev) in batch.events.drain(..) {
            match ev {
                Event::Open(info) => {
                    d.open(&info);
                    flows.insert(info.id, info);
                }
                Event::Data {
                    flow,
                    dir,
                    start,
                    end,
                    at,
                } => {
                    if let (Some(info), Some(bytes)) =
                        (flows.get(&flow), batch.bytes.get(start..end))
                    {
                        d.data(info, dir, bytes, at);
                    }
                }
                Event::Gap { flow, dir, len, at } => {
                    if let Some(info) = flows.get(&flow) {
                        d.gap(info, dir, len, at);
                    }
                }
                Event::Close {
                    flow,
                    dir,
                    kind,
                    at,
                } => {
                    if let Some(info) = flows.get(&flow) {
                        d.close(info, dir, kind, at);
                    }
                }
                Event::End(info) => {
                    if flows.remove(&info.id).is_some() {
                        d.end(&info);
                    }
                }
                Event::Warn(w) => items.push_back((seq, Item::Warning(w))),
                Event::Conflict {
                    flow,
                    dir,
                    range,
                    at,
                } => {
                    if let Some(info) = flows.get(&flow) {
                        d.conflict(info, dir, range, at);
                    }
                }
            }
            items.extend(d.drain_warnings().map(|w| (seq, Item::Warning(w))));
            let top = d.top_mut();
            items.extend(top.drain_warnings().map(|w| (seq, Item::Warning(w))));
            for r in top.drain_records() {
                match hand {
                    Hand::Records => items.push_back((seq, Item::Record(Box::new(r)))),
                    Hand::Json { flow_records } => {
                        if flow_records || !matches!(r, Record::Flow(_)) {
                            items.push_back((seq, Item::Json(render(&mut json, &r)?)));
                        }
                    }
                }
            }
        }
        // Text buffers come back from the writer once written, already grown.
        let text = json.take(recycled.try_recv().unwrap_or_default());
        let msg = ToMerger::Items {
            worker,
            chunk: Chunk { items, text },
            upto: batch.upto,
        };
        batch.bytes.clear();
        let _ = spent.send(batch);
        if tx.send(msg).is_err() {
            break;
        }
    }
    let top = d.top();
    Ok((top.problem_counts(), top.problems(), top.tally()))
}

/// Like [`run::dissect_jsonl`], with the WebSocket decoding spread over `workers`
/// threads (plus a reader thread and the calling thread, which writes). The output and
/// the problems are the same; warnings come in the same order per connection.
pub fn dissect_jsonl<R: Read + Send>(
    file: &str,
    src: R,
    settings: JsonlSettings,
    workers: usize,
    out: &mut dyn Write,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<Problems, RunError> {
    let (files, reader) = run::stages::single(file, src)?;
    jsonl_set(&files, reader, settings, workers, out, diag)
}

/// As [`dissect_jsonl`], over a capture made of the files `files` (read by `reader`).
pub(crate) fn jsonl_set(
    files: &Arc<FileSet>,
    reader: SetReader<'_>,
    settings: JsonlSettings,
    workers: usize,
    out: &mut dyn Write,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<Problems, RunError> {
    let JsonlSettings {
        config,
        decoding,
        flow_records,
    } = settings;
    let out = Output::Jsonl {
        out: io::BufWriter::with_capacity(1 << 16, out),
        flow_records,
    };
    match decode_set(files, reader, config, decoding, workers, out, diag)? {
        ControlFlow::Continue(problems) => Ok(problems),
        // Only a records' function asks to stop.
        ControlFlow::Break(()) => Err(RunError::Output(io::Error::other("stopped"))),
    }
}

/// Every record of the capture made of `files` (flow records too), decoded as `config`
/// and `decoding` say on `workers` threads and handed to `each` on the calling thread in
/// the order a single dissector gives them, until it stops: the parallel path of the
/// views that build their output here (Parquet and Arrow, whose encoders have threads
/// of their own). Returns the problems found, as
/// [`crate::run::dissect::dissect`] does, or `Break` when `each` stopped the run.
pub(crate) fn records_set(
    files: &Arc<FileSet>,
    reader: SetReader<'_>,
    config: Config,
    decoding: Decoding,
    workers: usize,
    each: &mut dyn FnMut(Record) -> io::Result<ControlFlow<()>>,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<ControlFlow<(), Problems>, RunError> {
    let out = Output::Records(each);
    decode_set(files, reader, config, decoding, workers, out, diag)
}

/// The reader, the workers and the merger of [`jsonl_set`] and [`records_set`].
fn decode_set(
    files: &Arc<FileSet>,
    reader: SetReader<'_>,
    config: Config,
    decoding: Decoding,
    workers: usize,
    mut out: Output<'_>,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<ControlFlow<(), Problems>, RunError> {
    let file = files.label();
    let Decoding { layers, ws: opts } = decoding;
    let workers = workers.max(1);
    // Records hold their payloads (inflated), and their view is slower than a writer of
    // JSON Lines (it compresses): fewer of them wait, so that memory stays flat.
    let hand = out.hand();
    let (waiting, batch_bytes) = match hand {
        Hand::Json { .. } => (QUEUE * workers + 4, BATCH_BYTES),
        Hand::Records => (workers, RECORD_BATCH_BYTES),
    };
    let (mtx, mrx) = mpsc::sync_channel::<ToMerger>(waiting);
    std::thread::scope(|s| {
        let mut txs = Vec::new();
        let mut handles = Vec::new();
        let mut recyclers = Vec::new();
        let mut spents = Vec::new();
        // One memory budget for the messages in progress of all workers.
        let first = Dissector::for_set(files.clone(), opts.clone());
        let budget = first.message_budget();
        let mut first = Some(first);
        for w in 0..workers {
            let (tx, rx) = mpsc::sync_channel::<Batch>(QUEUE);
            txs.push(tx);
            let d = first.take().unwrap_or_else(|| {
                let mut d = Dissector::for_set(files.clone(), opts.clone());
                d.set_message_budget(budget.clone());
                d
            });
            let d = layers.above_tls(d);
            let mtx = mtx.clone();
            let (rtx, rrx) = mpsc::channel::<Vec<u8>>();
            recyclers.push(rtx);
            let (stx, srx) = mpsc::channel::<Batch>();
            spents.push(srx);
            handles.push(s.spawn(move || work(w, d, hand, rx, mtx, rrx, stx)));
        }
        let dtx = mtx.clone();
        drop(mtx);
        let keys = layers.keys.clone();
        let reader = s.spawn(move || {
            // TLS runs here, in packet order, so that a resumed session finds the one it
            // resumes whichever worker decodes each; the workers get plaintext.
            let mut router = layers.tls(Router {
                seq: 0,
                batches: (0..workers).map(|_| Batch::default()).collect(),
                txs,
                spent: spents,
                packets: 0,
                limits: Problems::default(),
            });
            let mut report = |d: Diagnostic| {
                let _ = dtx.send(ToMerger::Diag(d));
            };
            let r = run::run_set(
                files,
                reader,
                config,
                &keys,
                &mut router,
                &mut report,
                |tls, tcp| {
                    let warnings: Vec<_> = tls.drain_warnings().collect();
                    let r = tls.inner_mut();
                    for w in warnings {
                        r.push(0, Event::Warn(w));
                    }
                    for s in tcp.drain_summaries() {
                        r.limits.add_tcp(&s, false);
                    }
                    r.packets += 1;
                    let bytes: usize = r.batches.iter().map(|b| b.bytes.len()).sum();
                    if r.packets % BATCH_PACKETS == 0 || bytes >= batch_bytes {
                        r.flush(r.seq)?;
                    }
                    Ok(ControlFlow::<Infallible>::Continue(()))
                },
            )
            .map(|read| match read {
                ControlFlow::Continue(stats) => stats,
                ControlFlow::Break(never) => match never {},
            });
            let tls = router.stats().clone();
            let router = router.inner_mut();
            let fin = router.flush(u64::MAX);
            let limits = std::mem::take(&mut router.limits);
            r.and_then(|st| fin.map(|()| (st, limits, tls)).map_err(RunError::Output))
        });

        let mut queues: Vec<VecDeque<Chunk>> = (0..workers).map(|_| VecDeque::new()).collect();
        let mut upto = vec![0u64; workers];
        let mut stop: Option<Stop> = None;
        // Limited here, in the order a single dissector would give them.
        let mut limiter = run::WarnLimiter::default();
        for msg in mrx.iter() {
            match msg {
                ToMerger::Diag(d) => diag(d),
                ToMerger::Items {
                    worker,
                    chunk,
                    upto: u,
                } => {
                    if chunk.items.is_empty() {
                        let _ = recyclers[worker].send(chunk.text);
                    } else {
                        queues[worker].push_back(chunk);
                    }
                    upto[worker] = u;
                    let ready = upto.iter().copied().min().unwrap_or(0);
                    // Each event number belongs to one worker: take the queue with the
                    // smallest head, and from it every item numbered below the other
                    // queues' heads (and up to `ready`); consecutive lines of one chunk
                    // are written with one call.
                    loop {
                        let heads = || {
                            queues.iter().enumerate().filter_map(|(i, q)| {
                                q.front()
                                    .and_then(|c| c.items.front())
                                    .map(|(seq, _)| (*seq, i))
                            })
                        };
                        let Some((seq, i)) = heads().min().filter(|(seq, _)| *seq <= ready) else {
                            break;
                        };
                        let second = heads()
                            .filter(|(_, j)| *j != i)
                            .map(|(s, _)| s)
                            .min()
                            .unwrap_or(u64::MAX);
                        let limit = second
                            .min(ready.saturating_add(1))
                            .max(seq.saturating_add(1));
                        let Some(chunk) = queues[i].front_mut() else {
                            break;
                        };
                        let mut run: Option<Range<usize>> = None;
                        while chunk.items.front().is_some_and(|(s, _)| *s < limit) {
                            let Some((_, item)) = chunk.items.pop_front() else {
                                break;
                            };
                            match item {
                                Item::Warning(w) => {
                                    if let Some(r) = run.take() {
                                        out.text(&mut stop, &chunk.text, r);
                                    }
                                    if let Some(d) =
                                        limiter.pass(files, w.packet, w.kind, w.message)
                                    {
                                        diag(d);
                                    }
                                }
                                Item::Json(range) => match &mut run {
                                    Some(r) if r.end == range.start => r.end = range.end,
                                    _ => {
                                        if let Some(r) = run.replace(range) {
                                            out.text(&mut stop, &chunk.text, r);
                                        }
                                    }
                                },
                                Item::Record(r) => out.record(&mut stop, *r),
                            }
                        }
                        if let Some(r) = run {
                            out.text(&mut stop, &chunk.text, r);
                        }
                        if chunk.items.is_empty() {
                            if let Some(done) = queues[i].pop_front() {
                                let _ = recyclers[i].send(done.text);
                            }
                        }
                    }
                    if stop.is_some() {
                        break;
                    }
                }
            }
        }
        // Stop the reader and workers if writing failed: their channels close.
        drop(mrx);
        let stats = reader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        let (mut counts, mut total, mut tally) = (Problems::default(), 0, Tally::default());
        for h in handles {
            match h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)) {
                Ok((c, t, y)) => {
                    counts.merge(&c);
                    total += t;
                    tally.merge(&y);
                }
                Err(e) => {
                    if !matches!(stop, Some(Stop::Failed(_))) {
                        stop = Some(Stop::Failed(e));
                    }
                }
            }
        }
        match stop {
            Some(Stop::Failed(e)) => return Err(RunError::Output(e)),
            // The reader and the workers stopped when their channels closed.
            Some(Stop::Asked) => return Ok(ControlFlow::Break(())),
            None => {}
        }
        let (stats, mut problems, tls) = stats?;
        if let Output::Jsonl { out, .. } = &mut out {
            out.flush()?;
        }
        limiter.leftovers(file).for_each(&mut *diag);
        run::dissect::tls_summary(file, &tls, &mut problems, &mut *diag);
        stats.count_into(&mut problems);
        run::dissect::no_websocket_summary(file, &tally, &mut *diag);
        problems.merge(&run::ws_problems(counts, total));
        Ok(ControlFlow::Continue(problems))
    })
}
