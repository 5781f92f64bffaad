//! WebSocket frames and messages.
//!
//! [`Dissector`] receives the reassembled TCP streams through
//! [`StreamSink`], finds the upgrade handshake (or detects
//! WebSocket from frame headers when the capture starts mid-connection), decodes every
//! frame and message of both directions, and queues [`Record`]s and [`Warning`]s for
//! the caller to drain. It never stops on bad input: protocol violations and decoding
//! problems are written on the records they concern.
//!
//! The WebSocket stage does not know what is below it: TCP directly, or layers of the
//! stream stack ([`crate::layers`]); a stream that a layer says is WebSocket
//! ([`Carries::WebSocket`](crate::tcp::stream::Carries)) is decoded from its first byte.
//!
//! The files, in the order bytes meet them:
//! - `conn/`: one connection: bytes held while undecided (`pre.rs`), the HTTP/1.1
//!   upgrade (`upgrade.rs`, with the rules of [`crate::http`]), HTTP exchanges before
//!   it (`exchange.rs`), detection without a handshake (`detect.rs`), its flow record;
//! - `direction/`: one direction's decoder: the frame loop (`mod.rs`), boundary search
//!   after gaps and garbage (`resync.rs`), what gaps and cut streams lose (`loss.rs`),
//!   finished messages and frames (`message.rs`);
//! - [`frame`] (headers, unmasking), [`protocol`] (opcodes, close codes: the rules of
//!   RFC 6455 that are not parsing), [`sync`] (plausible chains of frame headers),
//!   [`deflate`] (permessage-deflate), [`buf`] (capped message buffers and the shared
//!   memory budget);
//! - [`problem`]: every problem a record can carry, and the `--strict` tally;
//!   [`tally`]: what became of each connection, for a file without WebSocket;
//!   [`record`]: the records handed to the views.
//!
//! A new WebSocket rule is a [`problem::Problem`] variant plus its check where the bytes
//! it judges are: the header alone in [`frame`], a direction's sequence of frames in
//! `direction/`, the handshake in [`crate::http`] and `conn/upgrade.rs`.

pub mod buf;
mod conn;
pub mod deflate;
mod direction;
pub mod frame;
pub mod problem;
pub mod protocol;
pub mod record;
pub mod sync;
pub mod tally;

#[cfg(test)]
mod tests;

use crate::capture::set::FileSet;
use std::collections::HashMap;
use std::sync::Arc;

use crate::http::HandshakeProblem;
use crate::tcp::stream::{CloseKind, Decryption, Direction, FlowInfo, Provenance, StreamSink};
use conn::{Conn, Phase};
use direction::Start;
use problem::Problems;
use record::{FlowRecord, FlowState, Record};

/// What the dissector emits and how much it keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Emit message records.
    pub messages: bool,
    /// Emit frame records.
    pub frames: bool,
    /// Emit flow records.
    pub flows: bool,
    /// Largest message (after inflating) kept; longer ones are truncated and flagged.
    pub max_message_size: usize,
    /// Put each frame's unmasked payload in frame records.
    pub include_payload_in_frames: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            messages: true,
            frames: false,
            flows: false,
            max_message_size: 64 * 1024 * 1024,
            include_payload_in_frames: false,
        }
    }
}

/// A diagnostic for stderr, tied to a packet; its message starts with
/// `flow N direction:` when it concerns a flow. The same type as the TCP stage's and the
/// layers' warnings, so that one limiter and one printer serve them all.
pub use crate::tcp::Warning;

/// Records, warnings and the problem count, shared by all connections.
#[derive(Debug)]
pub(crate) struct Out {
    pub(crate) records: Vec<Record>,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) problems: u64,
    /// Memory shared by the messages (and frame payloads) in progress.
    pub(crate) budget: buf::Budget,
    /// Problems by kind, added when each connection ends.
    pub(crate) kinds: Problems,
    /// What became of the connections that ended.
    pub(crate) tally: tally::Tally,
}

impl Out {
    pub(crate) fn warn(&mut self, packet: u64, kind: &'static str, message: String) {
        self.warnings.push(Warning {
            packet,
            kind,
            message,
        });
    }
}

/// Bytes the messages in progress of all connections may hold together (raised to twice
/// the maximum message size when that is larger).
pub const MESSAGE_BUDGET: usize = 256 << 20;

/// A byte stream's identity: its TCP connection and, inside it, the stream a
/// demultiplexing layer gave it.
type StreamKey = (u64, Option<u32>);

fn key(flow: &FlowInfo) -> StreamKey {
    (flow.id, flow.sub)
}

/// Decodes WebSocket on every connection it is given, through [`StreamSink`].
///
/// Records come out in the order they complete; drain them with
/// [`Dissector::drain_records`] as often as convenient (after each packet keeps memory
/// flat).
#[derive(Debug)]
pub struct Dissector {
    files: Arc<FileSet>,
    opts: Options,
    /// Connections that carried bytes, boxed so that the table stays small when it
    /// grows (a flood of connections).
    conns: HashMap<StreamKey, Box<Conn>, crate::util::hash::FoldBuild>,
    out: Out,
}

impl Dissector {
    /// A dissector for the capture of the one file `file` (named in records).
    pub fn new(file: String, opts: Options) -> Dissector {
        Dissector::for_set(FileSet::single(&file), opts)
    }

    /// A dissector for a capture made of the files `files` (records name the file of
    /// their packets, see [`FileSet`]).
    pub fn for_set(files: Arc<FileSet>, opts: Options) -> Dissector {
        let budget = MESSAGE_BUDGET.max(opts.max_message_size.saturating_mul(2));
        Dissector {
            files,
            opts,
            out: Out {
                records: Vec::new(),
                warnings: Vec::new(),
                problems: 0,
                budget: buf::Budget::new(budget),
                kinds: Default::default(),
                tally: Default::default(),
            },
            conns: HashMap::default(),
        }
    }

    /// Takes the records produced so far.
    pub fn drain_records(&mut self) -> std::vec::Drain<'_, Record> {
        self.out.records.drain(..)
    }

    /// Takes the warnings produced so far (all of them: whoever prints them limits
    /// them, see [`WarnLimiter`](crate::run::WarnLimiter)).
    pub fn drain_warnings(&mut self) -> std::vec::Drain<'_, Warning> {
        self.out.warnings.drain(..)
    }

    /// The memory budget shared by this dissector's messages in progress.
    pub fn message_budget(&self) -> buf::Budget {
        self.out.budget.clone()
    }

    /// Shares `budget` (another dissector's) for the messages in progress, so that
    /// dissectors splitting one capture between them stay within one budget. Call it
    /// before feeding any bytes.
    pub fn set_message_budget(&mut self, budget: buf::Budget) {
        self.out.budget = budget;
    }

    /// The files of the capture this dissector reports on.
    pub fn files(&self) -> &Arc<FileSet> {
        &self.files
    }

    /// Problems found in WebSocket connections so far: protocol violations,
    /// undecodable or truncated messages, gaps and skipped bytes, handshake errors.
    pub fn problems(&self) -> u64 {
        self.out.problems
    }

    /// Problems by kind in the connections that ended so far (all of them once the
    /// reassembler has finished): violations, undecodable and truncated messages, gaps,
    /// resynchronisations, connection errors.
    pub fn problem_counts(&self) -> Problems {
        self.out.kinds.clone()
    }

    /// What became of the connections that ended so far (all of them once the
    /// reassembler has finished).
    pub fn tally(&self) -> tally::Tally {
        self.out.tally.clone()
    }

    /// The connection's state, stamped with the event's time (made on first use when
    /// `create`), with the dissector's other parts borrowed beside it.
    fn parts(
        &mut self,
        flow: &FlowInfo,
        create: bool,
        at: Provenance,
    ) -> Option<(&FileSet, &Options, &mut Out, &mut Conn)> {
        let Dissector {
            files,
            opts,
            conns,
            out,
        } = self;
        let conn = if create {
            conns
                .entry(key(flow))
                .or_insert_with(|| Box::new(Conn::new(flow)))
        } else {
            conns.get_mut(&key(flow))?
        };
        conn.touch(at);
        Some((files, opts, out, conn))
    }
}

impl StreamSink for Dissector {
    fn open(&mut self, flow: &FlowInfo) {
        // State is made on the first bytes, gap or close: a connection that carries
        // nothing (a SYN flood) costs nothing here and yields no record. An HTTP/2
        // WebSocket stream is opened by its handshake, which is already complete.
        self.conns.remove(&key(flow));
        if let Some(h2) = &flow.h2 {
            let mut conn = Box::new(Conn::new(flow));
            let Dissector {
                files, opts, out, ..
            } = self;
            conn.h2_handshake(files, opts, out, h2);
            self.conns.insert(key(flow), conn);
        }
    }

    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], at: Provenance) {
        let Some((files, opts, out, conn)) = self.parts(flow, true, at) else {
            return;
        };
        match conn.phase {
            Phase::Ignored | Phase::Rejected => {}
            Phase::Ws => conn.run(files, opts, out, dir, |ds, cx, out| {
                ds.data(cx, out, bytes, at);
            }),
            Phase::Detect | Phase::Await(_) | Phase::Exchange(_) | Phase::Next(_) => {
                conn.pre(dir).push(bytes, at, 0);
                conn.progress(files, opts, out);
            }
        }
    }

    fn gap(&mut self, flow: &FlowInfo, dir: Direction, len: u64, at: Provenance) {
        let Some((files, opts, out, conn)) = self.parts(flow, true, at) else {
            return;
        };
        match conn.phase {
            Phase::Ignored | Phase::Rejected => {}
            Phase::Ws => conn.run(files, opts, out, dir, |ds, cx, out| {
                ds.gap(cx, out, len, at);
            }),
            Phase::Detect => {
                let p = conn.pre(dir);
                p.gaps += 1;
                p.gap_bytes = p.gap_bytes.saturating_add(len);
                p.clear(len);
                conn.progress(files, opts, out);
            }
            // Where the bodies and heads after the hole start is unknown.
            Phase::Exchange(_) | Phase::Next(_) => conn.stop_following(),
            Phase::Await(req) if req == dir => conn.pre(dir).push(&[], at, len),
            Phase::Await(req) => {
                // The answer may be in the hole: assume the upgrade went through.
                conn.errors.push(HandshakeProblem::AnswerLost.into());
                // What came of the answer before the hole is HTTP, not frames.
                let mut skip = [0, 0];
                skip[dir.index()] = conn.pre(dir).buf.len();
                conn.start_ws(
                    files,
                    opts,
                    out,
                    FlowState::Upgraded,
                    req,
                    [Start::Known, Start::Known],
                    skip,
                );
                conn.run(files, opts, out, dir, |ds, cx, out| {
                    ds.gap(cx, out, len, at);
                });
            }
        }
    }

    fn close(&mut self, flow: &FlowInfo, dir: Direction, _kind: CloseKind, at: Provenance) {
        // A connection that carried nothing yet has nothing to close.
        let Some((files, opts, out, conn)) = self.parts(flow, false, at) else {
            return;
        };
        match conn.phase {
            Phase::Ignored | Phase::Rejected => {}
            Phase::Ws => {
                if !conn.closed[dir.index()] {
                    conn.closed[dir.index()] = true;
                    conn.run(files, opts, out, dir, |ds, cx, out| ds.close(cx, out));
                }
            }
            Phase::Detect | Phase::Await(_) | Phase::Exchange(_) | Phase::Next(_) => {
                conn.pre(dir).closed = true;
                conn.progress(files, opts, out);
            }
        }
    }

    fn conflict(
        &mut self,
        flow: &FlowInfo,
        dir: Direction,
        range: std::ops::Range<u64>,
        at: Provenance,
    ) {
        let Some((files, opts, out, conn)) = self.parts(flow, false, at) else {
            return;
        };
        if conn.phase == Phase::Ws {
            conn.run(files, opts, out, dir, |ds, _, _| ds.conflict(range));
        }
    }

    fn end(&mut self, flow: &FlowInfo) {
        let Dissector {
            files,
            opts,
            conns,
            out,
        } = self;
        if flow.h2.is_none() {
            out.tally.tcp += 1;
        }
        let Some(mut conn) = conns.remove(&key(flow)) else {
            // A TLS connection that handed up nothing because it could not be decrypted
            // (no key, nothing that verified): say so on a record of its own. One that
            // was decrypted and carried no application data is no WebSocket.
            let undecrypted = flow
                .tls
                .as_ref()
                .filter(|t| !(t.records > 0 && t.decryption == Decryption::Decrypted));
            out.tally.encrypted += u64::from(undecrypted.is_some());
            if let Some(tls) = undecrypted.filter(|_| opts.flows) {
                out.records.push(Record::Flow(FlowRecord::encrypted(
                    files,
                    flow,
                    tls.clone(),
                )));
            }
            return;
        };
        if conn.phase == Phase::Detect {
            conn.pre[0].closed = true;
            conn.pre[1].closed = true;
            conn.progress(files, opts, out);
        }
        if matches!(conn.phase, Phase::Exchange(_) | Phase::Next(_)) {
            conn.stop_following();
        }
        let t = &mut out.tally;
        *match conn.phase {
            Phase::Ws => &mut t.websocket,
            Phase::Rejected => &mut t.refused,
            Phase::Await(_) => &mut t.unanswered,
            _ if conn.plain_http => &mut t.plain_http,
            _ => &mut t.unrecognised,
        } += 1;
        match conn.phase {
            Phase::Ignored | Phase::Detect | Phase::Exchange(_) | Phase::Next(_) => return,
            Phase::Await(_) => {
                conn.state = Some(FlowState::Unanswered);
                conn.errors.push(HandshakeProblem::Unanswered.into());
            }
            Phase::Rejected => {}
            Phase::Ws => {
                for d in [Direction::ClientToServer, Direction::ServerToClient] {
                    if !conn.closed[d.index()] {
                        conn.closed[d.index()] = true;
                        conn.run(files, opts, out, d, |ds, cx, out| ds.close(cx, out));
                    }
                }
            }
        }
        out.problems += conn.errors.len() as u64;
        for e in &conn.errors {
            out.kinds.add_problem(e);
        }
        if let Some(dirs) = &conn.dirs {
            for ds in dirs.iter() {
                ds.stats.count_problems(&mut out.kinds);
            }
        }
        if opts.flows {
            let mut rec = conn.flow_record(files);
            rec.tls = flow.tls.clone().map(record::TlsInfo);
            rec.h2_other_streams = flow.h2.as_ref().map(|h| h.other_streams);
            out.records.push(Record::Flow(rec));
        }
    }
}
