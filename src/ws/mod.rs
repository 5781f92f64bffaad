//! WebSocket frames and messages.
//!
//! [`Dissector`] receives the reassembled TCP streams through
//! [`StreamSink`], finds the upgrade handshake (or detects
//! WebSocket from frame headers when the capture starts mid-connection), decodes every
//! frame and message of both directions, and queues [`Record`]s and [`Warning`]s for
//! the caller to drain. It never stops on bad input: protocol violations and decoding
//! problems are written on the records they concern.
//!
//! The pieces: [`frame`] (headers, unmasking), [`deflate`] (permessage-deflate),
//! [`sync`] (finding frame boundaries), [`buf`] (capped message buffers).

pub mod buf;
pub mod deflate;
mod direction;
pub mod frame;
pub mod problem;
pub mod protocol;
pub mod record;
pub mod sync;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use crate::http::{self, accept_for_key, parse_request, parse_response, Request, Response, Status};
use crate::http::{DeflateParams, HandshakeProblem};
use crate::tcp::stream::{CloseKind, Direction, FlowInfo, Provenance, StreamSink};
use crate::util::time::Timestamp;
use direction::{Ctx, Deflate, DirState};
use frame::{parse_header, HeaderStatus};
use problem::{Problem, Problems};
use record::{DirectionStats, FlowRecord, FlowState, Record};
use sync::{exact_frames, Rules, Scan, Scanner};

/// What the dissector emits and how much it keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Decode connections whose client or server port is listed as WebSocket even
    /// without a handshake.
    pub decode_as: Vec<u16>,
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
            decode_as: Vec::new(),
            messages: true,
            frames: false,
            flows: false,
            max_message_size: 64 * 1024 * 1024,
            include_payload_in_frames: false,
        }
    }
}

/// A diagnostic for stderr: something in the input could not be decoded as it should.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// 1-based packet number the problem was found at.
    pub packet: u64,
    /// What happened, starting with `flow N direction:` when it concerns a flow.
    pub message: String,
}

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
}

impl Out {
    pub(crate) fn warn(&mut self, packet: u64, message: String) {
        self.warnings.push(Warning { packet, message });
    }
}

/// Bytes the messages in progress of all connections may hold together (raised to twice
/// the maximum message size when that is larger).
pub const MESSAGE_BUDGET: usize = 256 << 20;

/// Bytes held before a connection is known to be WebSocket.
const PRE_CAP: usize = 256 * 1024;

/// A piece of held bytes: where it ends in the buffer, its packet, and how many bytes
/// were lost in a gap just before it.
#[derive(Clone, Copy, Debug)]
struct Piece {
    end: usize,
    at: Provenance,
    gap_before: u64,
}

/// One direction's bytes while the connection's nature is being decided.
#[derive(Debug)]
struct Pre {
    buf: Vec<u8>,
    pieces: Vec<Piece>,
    /// Stream offset of `buf[0]`.
    start: u64,
    /// Bytes that did not fit under [`PRE_CAP`] (replayed as a gap).
    overflow: u64,
    overflow_at: Provenance,
    /// HTTP request / response parsing ruled out.
    not_request: bool,
    not_response: bool,
    /// Buffer length at the last HTTP parse.
    parsed: usize,
    scanner: Scanner,
    gaps: u64,
    gap_bytes: u64,
    skipped: u64,
    /// Leading bytes dropped as proven not to start frames (they count against
    /// [`PRE_CAP`] as if still held).
    dropped: usize,
    closed: bool,
}

impl Pre {
    fn new() -> Pre {
        Pre {
            buf: Vec::new(),
            pieces: Vec::new(),
            start: 0,
            overflow: 0,
            overflow_at: Provenance::default(),
            not_request: false,
            not_response: false,
            parsed: 0,
            scanner: Scanner::new(false),
            gaps: 0,
            gap_bytes: 0,
            skipped: 0,
            dropped: 0,
            closed: false,
        }
    }

    /// Drops the first `n` bytes, proven not to start frames while HTTP is ruled out,
    /// so that a long non-WebSocket stream does not stay held (the scanner keeps its
    /// place).
    fn drop_dead(&mut self, n: usize) {
        let n = self.cut_front(n);
        if n == 0 {
            return;
        }
        self.scanner.drain(n);
        self.skipped += n as u64;
        self.dropped += n;
    }

    /// Removes the first `n` bytes (at most all) with their pieces; returns how many.
    fn cut_front(&mut self, n: usize) -> usize {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
        self.pieces.retain(|p| p.end > n);
        for p in &mut self.pieces {
            p.end -= n;
        }
        self.start += n as u64;
        n
    }

    fn push(&mut self, bytes: &[u8], at: Provenance, gap_before: u64) {
        if self.overflow > 0 || self.buf.len() + self.dropped + bytes.len() > PRE_CAP {
            if self.overflow == 0 {
                self.overflow_at = at;
            }
            self.overflow = self
                .overflow
                .saturating_add(bytes.len() as u64)
                .saturating_add(gap_before);
            return;
        }
        self.buf.extend_from_slice(bytes);
        self.pieces.push(Piece {
            end: self.buf.len(),
            at,
            gap_before,
        });
    }

    /// Drops the first `n` bytes (a parsed HTTP head).
    fn consume(&mut self, n: usize) {
        self.cut_front(n);
        self.parsed = 0;
        self.scanner = Scanner::new(false);
    }

    /// Forgets everything held (a gap before anything was recognised).
    fn clear(&mut self, lost: u64) {
        self.skipped += self.buf.len() as u64;
        self.start = self
            .start
            .saturating_add(self.buf.len() as u64)
            .saturating_add(lost);
        self.buf.clear();
        self.pieces.clear();
        self.scanner = Scanner::new(false);
        self.not_request = true;
        self.not_response = true;
    }

    fn first_packet(&self) -> u64 {
        self.pieces.first().map_or(0, |p| p.at.packet)
    }
}

/// Where a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Nothing recognised yet.
    Detect,
    /// Upgrade request seen in this (TCP) direction; waiting for the answer.
    Await(Direction),
    /// Decoding WebSocket.
    Ws,
    /// The upgrade was refused.
    Rejected,
    /// Not WebSocket.
    Ignored,
}

/// Verdict on a direction's first bytes as HTTP.
enum Http {
    Wait,
    Request(Box<Request>, usize),
    Response(Box<Response>, usize),
    NotWebSocket,
    Unrecognised,
}

/// One TCP connection.
#[derive(Debug)]
struct Conn {
    info: FlowInfo,
    phase: Phase,
    forced: bool,
    state: Option<FlowState>,
    swapped: bool,
    client: String,
    server: String,
    first_seen: Option<Timestamp>,
    last_seen: Option<Timestamp>,
    pre: [Pre; 2],
    request: Option<Request>,
    response: Option<Response>,
    deflate: Option<DeflateParams>,
    answer_seen: bool,
    accept_valid: Option<bool>,
    errors: Vec<Problem>,
    dirs: Option<Box<[DirState; 2]>>,
    closed: [bool; 2],
}

impl Conn {
    fn new(info: &FlowInfo, opts: &Options) -> Conn {
        let forced = opts.decode_as.contains(&info.client.port())
            || opts.decode_as.contains(&info.server.port());
        Conn {
            info: info.clone(),
            phase: Phase::Detect,
            forced,
            state: None,
            swapped: false,
            client: info.client.to_string(),
            server: info.server.to_string(),
            first_seen: None,
            last_seen: None,
            pre: [Pre::new(), Pre::new()],
            request: None,
            response: None,
            deflate: None,
            answer_seen: false,
            accept_valid: None,
            errors: Vec::new(),
            dirs: None,
            closed: [false; 2],
        }
    }

    fn touch(&mut self, ts: Timestamp) {
        if self.first_seen.map_or(true, |f| ts < f) {
            self.first_seen = Some(ts);
        }
        if self.last_seen.map_or(true, |l| ts > l) {
            self.last_seen = Some(ts);
        }
    }

    /// The WebSocket direction of a TCP direction.
    fn ws_dir(&self, d: Direction) -> Direction {
        if self.swapped {
            d.reverse()
        } else {
            d
        }
    }

    fn deflate_mode(&self, d: Direction) -> Deflate {
        if !self.answer_seen {
            return Deflate::Unknown;
        }
        match self.deflate {
            None => Deflate::Off,
            Some(p) => Deflate::On {
                reset: if self.ws_dir(d) == Direction::ClientToServer {
                    p.client_no_context_takeover
                } else {
                    p.server_no_context_takeover
                },
            },
        }
    }

    /// Runs `f` on the state of TCP direction `d` with its context.
    fn run(
        &mut self,
        file: &str,
        opts: &Options,
        out: &mut Out,
        d: Direction,
        f: impl FnOnce(&mut DirState, &Ctx, &mut Out),
    ) {
        let deflate = self.deflate_mode(d);
        let dir = self.ws_dir(d);
        let Conn {
            dirs,
            client,
            server,
            info,
            ..
        } = self;
        let Some(dirs) = dirs.as_mut() else {
            return;
        };
        let cx = Ctx {
            file,
            flow: info.id,
            client,
            server,
            dir,
            deflate,
            opts,
        };
        if let Some(ds) = dirs.get_mut(d.index()) {
            f(ds, &cx, out);
        }
    }

    fn pre(&mut self, d: Direction) -> &mut Pre {
        &mut self.pre[d.index()]
    }

    /// Tries to read an HTTP head at the start of direction `d`.
    fn http(&mut self, d: Direction) -> Http {
        let p = self.pre(d);
        if p.not_request && p.not_response {
            return Http::Unrecognised;
        }
        if p.buf.is_empty() {
            return Http::Wait;
        }
        if p.parsed > 2048 && !http::may_be_complete(&p.buf, p.parsed) && !p.closed {
            p.parsed = p.buf.len();
            return Http::Wait;
        }
        p.parsed = p.buf.len();
        let mut waiting = false;
        if !p.not_request {
            match parse_request(&p.buf) {
                Ok(Status::Partial) => waiting = true,
                Ok(Status::Complete { head, consumed }) => {
                    return if head.is_websocket_upgrade() {
                        Http::Request(Box::new(head), consumed)
                    } else {
                        Http::NotWebSocket
                    };
                }
                Err(_) => p.not_request = true,
            }
        }
        if !p.not_response {
            match parse_response(&p.buf) {
                Ok(Status::Partial) => waiting = true,
                Ok(Status::Complete { head, consumed }) => {
                    return if head.is_websocket_accept() {
                        Http::Response(Box::new(head), consumed)
                    } else {
                        Http::NotWebSocket
                    };
                }
                Err(_) => p.not_response = true,
            }
        }
        if waiting && p.closed {
            p.not_request = true;
            p.not_response = true;
            return Http::Unrecognised;
        }
        if waiting {
            Http::Wait
        } else {
            Http::Unrecognised
        }
    }

    /// Advances the handshake / detection state machine as far as the held bytes allow.
    fn progress(&mut self, file: &str, opts: &Options, out: &mut Out) {
        loop {
            match self.phase {
                Phase::Detect => {
                    if !self.detect(file, opts, out) {
                        return;
                    }
                }
                Phase::Await(req) => {
                    if !self.await_answer(file, opts, out, req) {
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    /// One detection step; true when the phase changed.
    fn detect(&mut self, file: &str, opts: &Options, out: &mut Out) -> bool {
        for d in [Direction::ClientToServer, Direction::ServerToClient] {
            match self.http(d) {
                Http::Wait => {}
                Http::Request(req, n) => {
                    self.pre(d).consume(n);
                    self.request = Some(*req);
                    self.phase = Phase::Await(d);
                    return true;
                }
                Http::Response(resp, n) => {
                    let other = &self.pre[d.reverse().index()];
                    if !other.buf.is_empty() && !other.not_request && !other.closed {
                        // The request may still be arriving on the other side.
                        self.pre(d).parsed = 0;
                        continue;
                    }
                    self.pre(d).consume(n);
                    self.errors
                        .push(HandshakeProblem::RequestNotCaptured.into());
                    self.on_accept(*resp);
                    self.start_ws(
                        file,
                        opts,
                        out,
                        FlowState::Upgraded,
                        d.reverse(),
                        [None, None],
                        [0, 0],
                    );
                    return true;
                }
                Http::NotWebSocket => {
                    if self.forced {
                        self.pre(d).not_request = true;
                        self.pre(d).not_response = true;
                        continue;
                    }
                    self.phase = Phase::Ignored;
                    self.pre = [Pre::new(), Pre::new()];
                    return true;
                }
                Http::Unrecognised => {
                    if self.detect_frames(file, opts, out, d) {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Looks for WebSocket frames in direction `d`'s held bytes; true when decided.
    fn detect_frames(&mut self, file: &str, opts: &Options, out: &mut Out, d: Direction) -> bool {
        if self.forced {
            let client = if self.info.roles_known {
                Direction::ClientToServer
            } else {
                match parse_header(&self.pre(d).buf) {
                    HeaderStatus::Header(h) if h.masked() == (d == Direction::ServerToClient) => {
                        Direction::ServerToClient
                    }
                    _ => Direction::ClientToServer,
                }
            };
            self.start_ws(
                file,
                opts,
                out,
                FlowState::Forced,
                client,
                [Some(2), Some(2)],
                [0, 0],
            );
            return true;
        }
        let rules = Rules {
            mask: None,
            rsv1_ok: true,
            min_chain: 6,
            min_chain_at_start: 3,
        };
        let p = &mut self.pre[d.index()];
        let found = match p.scanner.scan(&p.buf, &rules, false) {
            Scan::Found(k) => Some(k),
            Scan::Wait {
                earliest_real,
                dead,
            } => {
                if p.closed && p.dropped == 0 && exact_frames(&p.buf, &rules) {
                    Some(0)
                } else if p.overflow > 0 {
                    earliest_real
                } else {
                    if p.not_request && p.not_response && !p.closed {
                        p.drop_dead(dead);
                    }
                    None
                }
            }
        };
        let Some(k) = found else {
            if p.overflow > 0 {
                self.phase = Phase::Ignored;
                self.pre = [Pre::new(), Pre::new()];
                return true;
            }
            return false;
        };
        let masked = match parse_header(p.buf.get(k..).unwrap_or(&[])) {
            HeaderStatus::Header(h) => h.masked(),
            HeaderStatus::NeedMore(_) => false,
        };
        let client = if self.info.roles_known || masked == (d == Direction::ClientToServer) {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        let mut sync = [Some(3), Some(3)];
        sync[d.index()] = None;
        let mut skip = [0, 0];
        skip[d.index()] = k;
        self.start_ws(file, opts, out, FlowState::Midstream, client, sync, skip);
        true
    }

    /// Waits for the answer to the upgrade request sent in TCP direction `req`.
    fn await_answer(&mut self, file: &str, opts: &Options, out: &mut Out, req: Direction) -> bool {
        let d = req.reverse();
        let p = self.pre(d);
        if p.buf.is_empty() {
            return false;
        }
        if p.parsed > 2048 && !http::may_be_complete(&p.buf, p.parsed) {
            p.parsed = p.buf.len();
            return false;
        }
        p.parsed = p.buf.len();
        match parse_response(&p.buf) {
            Ok(Status::Partial) => false,
            Ok(Status::Complete { head, consumed }) => {
                let packet = p.first_packet();
                p.consume(consumed);
                if (100..200).contains(&head.status) && head.status != 101 {
                    // Informational answer (100 Continue): the real one follows.
                    return true;
                }
                if head.is_websocket_accept() {
                    self.on_accept(head);
                    self.warn_accept(out, packet);
                    self.start_ws(
                        file,
                        opts,
                        out,
                        FlowState::Upgraded,
                        req,
                        [None, None],
                        [0, 0],
                    );
                } else {
                    if head.status == 101 {
                        self.errors
                            .push(HandshakeProblem::NotWebSocketUpgrade.into());
                    }
                    self.answer_seen = true;
                    self.response = Some(head);
                    self.reject();
                }
                true
            }
            Err(e) => {
                self.errors.push(HandshakeProblem::BadAnswer(e).into());
                self.reject();
                true
            }
        }
    }

    fn reject(&mut self) {
        self.state = Some(FlowState::Rejected);
        self.phase = Phase::Rejected;
        self.pre = [Pre::new(), Pre::new()];
    }

    /// Warns about a `Sec-WebSocket-Accept` that does not prove the server read the key
    /// (worth saying even without `--strict`: the peer is not a conforming server, or the
    /// capture mixes two connections).
    fn warn_accept(&self, out: &mut Out, packet: u64) {
        let accept = self.errors.iter().find(|e| {
            matches!(
                e,
                Problem::Handshake(
                    HandshakeProblem::AcceptMismatch { .. } | HandshakeProblem::NoAccept
                )
            )
        });
        if let Some(e) = accept {
            out.warn(packet, format!("flow {}: {e}", self.info.id));
        }
    }

    /// Records a 101 answer: extensions, subprotocol, accept key.
    fn on_accept(&mut self, resp: Response) {
        self.answer_seen = true;
        let (params, errs) = http::permessage_deflate(&resp.extensions);
        self.deflate = params;
        self.errors.extend(errs.into_iter().map(Problem::from));
        if let Some(req) = &self.request {
            self.errors
                .extend(req.problems().into_iter().map(Problem::from));
            if params.is_some()
                && !req.extensions.iter().any(|e| {
                    http::parse_extension(e)
                        .name
                        .eq_ignore_ascii_case("permessage-deflate")
                })
            {
                self.errors.push(HandshakeProblem::DeflateNotOffered.into());
            }
            if let Some(p) = resp.protocols.first() {
                if !req.protocols.contains(p) {
                    self.errors
                        .push(HandshakeProblem::ProtocolNotOffered(p.clone()).into());
                }
            }
            if let Some(key) = &req.key {
                let expected = accept_for_key(key);
                match &resp.accept {
                    Some(a) if *a == expected => self.accept_valid = Some(true),
                    Some(a) => {
                        self.accept_valid = Some(false);
                        self.errors.push(
                            HandshakeProblem::AcceptMismatch {
                                got: a.clone(),
                                expected,
                            }
                            .into(),
                        );
                    }
                    None => {
                        self.accept_valid = Some(false);
                        self.errors.push(HandshakeProblem::NoAccept.into());
                    }
                }
            }
        }
        if resp.protocols.len() > 1 {
            self.errors.push(HandshakeProblem::SeveralProtocols.into());
        }
        self.response = Some(resp);
    }

    /// Starts decoding WebSocket: `client` is the TCP direction the WebSocket client
    /// sends in; `sync[d]` is the chain length to search for in direction `d` (None:
    /// frames start right away), `skip[d]` bytes of direction `d` are not frames.
    #[allow(clippy::too_many_arguments)]
    fn start_ws(
        &mut self,
        file: &str,
        opts: &Options,
        out: &mut Out,
        state: FlowState,
        client: Direction,
        sync: [Option<usize>; 2],
        skip: [usize; 2],
    ) {
        self.state = Some(state);
        self.phase = Phase::Ws;
        self.swapped = client == Direction::ServerToClient;
        if self.swapped {
            self.client = self.info.server.to_string();
            self.server = self.info.client.to_string();
        }
        let ctx_lost = !self.answer_seen;
        let pres = std::mem::replace(&mut self.pre, [Pre::new(), Pre::new()]);
        self.dirs = Some(Box::new([0usize, 1].map(|i| {
            let p = &pres[i];
            let start = p.start + skip[i] as u64;
            DirState::new(start, sync[i], ctx_lost)
        })));
        for d in [Direction::ClientToServer, Direction::ServerToClient] {
            let i = d.index();
            let p = &pres[i];
            let k = skip[i];
            let flow = self.info.id;
            let wsd = self.ws_dir(d);
            self.run(file, opts, out, d, |ds, cx, out| {
                ds.stats.gaps += p.gaps;
                ds.stats.gap_bytes += p.gap_bytes;
                let skipped = p.skipped + k as u64;
                ds.stats.skipped_bytes += skipped;
                if skipped > 0 {
                    out.warn(
                        p.first_packet(),
                        format!(
                            "flow {flow} {wsd}: skipped {skipped} bytes before the first frame"
                        ),
                    );
                }
                let mut start = 0;
                for piece in &p.pieces {
                    if piece.gap_before > 0 {
                        ds.gap(cx, out, piece.gap_before, piece.at);
                    }
                    let from = start.max(k);
                    if from < piece.end {
                        if let Some(b) = p.buf.get(from..piece.end) {
                            ds.data(cx, out, b, piece.at);
                        }
                    }
                    start = piece.end;
                }
                if p.overflow > 0 {
                    ds.gap(cx, out, p.overflow, p.overflow_at);
                }
                if p.closed {
                    ds.close(cx, out);
                }
            });
            self.closed[i] = p.closed;
        }
    }

    fn flow_record(&mut self, file: &str) -> FlowRecord {
        let mut stats: [DirectionStats; 2] = Default::default();
        if let Some(dirs) = &self.dirs {
            for d in [Direction::ClientToServer, Direction::ServerToClient] {
                if let Some(s) = dirs.get(d.index()) {
                    stats[self.ws_dir(d).index()] = s.stats.clone();
                }
            }
        }
        let [c2s, s2c] = stats;
        let req = self.request.take().unwrap_or_default();
        let resp = self.response.take();
        FlowRecord {
            file: file.to_string(),
            flow: self.info.id,
            client: self.client.clone(),
            server: self.server.clone(),
            state: self.state.unwrap_or_default(),
            first_seen: self.first_seen.unwrap_or_default(),
            last_seen: self.last_seen.unwrap_or_default(),
            method: (!req.method.is_empty()).then_some(req.method),
            path: (!req.path.is_empty()).then_some(req.path),
            host: req.host,
            origin: req.origin,
            user_agent: req.user_agent,
            version: req.version,
            key: req.key,
            accept: resp.as_ref().and_then(|r| r.accept.clone()),
            reason: resp.as_ref().map(|r| r.reason.clone()),
            roles_swapped: self.swapped,
            status: resp.as_ref().map(|r| r.status),
            offered_protocols: req.protocols,
            protocol: resp.as_ref().and_then(|r| r.protocols.first().cloned()),
            offered_extensions: req.extensions,
            extensions: resp.map(|r| r.extensions).unwrap_or_default(),
            permessage_deflate: self.deflate,
            accept_valid: self.accept_valid,
            client_to_server: c2s,
            server_to_client: s2c,
            errors: std::mem::take(&mut self.errors),
        }
    }
}

/// Decodes WebSocket on every connection it is given, through [`StreamSink`].
///
/// Records come out in the order they complete; drain them with
/// [`Dissector::drain_records`] as often as convenient (after each packet keeps memory
/// flat).
#[derive(Debug)]
pub struct Dissector {
    file: String,
    opts: Options,
    /// Connections that carried bytes, boxed so that the table stays small when it
    /// grows (a flood of connections).
    conns: HashMap<u64, Box<Conn>, crate::util::hash::FoldBuild>,
    out: Out,
}

impl Dissector {
    /// A dissector for capture file `file` (named in records).
    pub fn new(file: String, opts: Options) -> Dissector {
        let budget = MESSAGE_BUDGET.max(opts.max_message_size.saturating_mul(2));
        Dissector {
            file,
            opts,
            out: Out {
                records: Vec::new(),
                warnings: Vec::new(),
                problems: 0,
                budget: buf::Budget::new(budget),
                kinds: Default::default(),
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

    /// The capture file this dissector reports on.
    pub fn file(&self) -> &str {
        &self.file
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

    /// The connection's state, stamped with the event's time (made on first use when
    /// `create`), with the dissector's other parts borrowed beside it.
    fn parts(
        &mut self,
        flow: &FlowInfo,
        create: bool,
        at: Provenance,
    ) -> Option<(&str, &Options, &mut Out, &mut Conn)> {
        let Dissector {
            file,
            opts,
            conns,
            out,
        } = self;
        let conn = if create {
            conns
                .entry(flow.id)
                .or_insert_with(|| Box::new(Conn::new(flow, opts)))
        } else {
            conns.get_mut(&flow.id)?
        };
        conn.touch(at.ts);
        Some((file, opts, out, conn))
    }
}

impl StreamSink for Dissector {
    fn open(&mut self, flow: &FlowInfo) {
        // State is made on the first bytes, gap or close: a connection that carries
        // nothing (a SYN flood) costs nothing here and yields no record.
        self.conns.remove(&flow.id);
    }

    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], at: Provenance) {
        let Some((file, opts, out, conn)) = self.parts(flow, true, at) else {
            return;
        };
        match conn.phase {
            Phase::Ignored | Phase::Rejected => {}
            Phase::Ws => conn.run(file, opts, out, dir, |ds, cx, out| {
                ds.data(cx, out, bytes, at);
            }),
            Phase::Detect | Phase::Await(_) => {
                conn.pre(dir).push(bytes, at, 0);
                conn.progress(file, opts, out);
            }
        }
    }

    fn gap(&mut self, flow: &FlowInfo, dir: Direction, len: u64, at: Provenance) {
        let Some((file, opts, out, conn)) = self.parts(flow, true, at) else {
            return;
        };
        match conn.phase {
            Phase::Ignored | Phase::Rejected => {}
            Phase::Ws => conn.run(file, opts, out, dir, |ds, cx, out| {
                ds.gap(cx, out, len, at);
            }),
            Phase::Detect => {
                let p = conn.pre(dir);
                p.gaps += 1;
                p.gap_bytes = p.gap_bytes.saturating_add(len);
                p.clear(len);
                conn.progress(file, opts, out);
            }
            Phase::Await(req) if req == dir => conn.pre(dir).push(&[], at, len),
            Phase::Await(req) => {
                // The answer may be in the hole: assume the upgrade went through.
                conn.errors.push(HandshakeProblem::AnswerLost.into());
                // What came of the answer before the hole is HTTP, not frames.
                let mut skip = [0, 0];
                skip[dir.index()] = conn.pre(dir).buf.len();
                conn.start_ws(
                    file,
                    opts,
                    out,
                    FlowState::Upgraded,
                    req,
                    [None, None],
                    skip,
                );
                conn.run(file, opts, out, dir, |ds, cx, out| {
                    ds.gap(cx, out, len, at);
                });
            }
        }
    }

    fn close(&mut self, flow: &FlowInfo, dir: Direction, _kind: CloseKind, at: Provenance) {
        // A connection that carried nothing yet has nothing to close.
        let Some((file, opts, out, conn)) = self.parts(flow, false, at) else {
            return;
        };
        match conn.phase {
            Phase::Ignored | Phase::Rejected => {}
            Phase::Ws => {
                if !conn.closed[dir.index()] {
                    conn.closed[dir.index()] = true;
                    conn.run(file, opts, out, dir, |ds, cx, out| ds.close(cx, out));
                }
            }
            Phase::Detect | Phase::Await(_) => {
                conn.pre(dir).closed = true;
                conn.progress(file, opts, out);
            }
        }
    }

    fn end(&mut self, flow: &FlowInfo) {
        let Dissector {
            file,
            opts,
            conns,
            out,
        } = self;
        let Some(mut conn) = conns.remove(&flow.id) else {
            return;
        };
        if conn.phase == Phase::Detect {
            conn.pre[0].closed = true;
            conn.pre[1].closed = true;
            conn.progress(file, opts, out);
        }
        match conn.phase {
            Phase::Ignored | Phase::Detect => return,
            Phase::Await(_) => conn.state = Some(FlowState::Unanswered),
            Phase::Rejected => {}
            Phase::Ws => {
                for d in [Direction::ClientToServer, Direction::ServerToClient] {
                    if !conn.closed[d.index()] {
                        conn.closed[d.index()] = true;
                        conn.run(file, opts, out, d, |ds, cx, out| ds.close(cx, out));
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
            let rec = conn.flow_record(file);
            out.records.push(Record::Flow(rec));
        }
    }
}
