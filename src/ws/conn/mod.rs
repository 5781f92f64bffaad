//! One TCP connection as the WebSocket stage sees it: undecided (bytes held in [`Pre`]),
//! waiting for the answer to an upgrade request, decoding WebSocket (two [`DirState`]s),
//! rejected or ignored. How it decides is in [`upgrade`] (the HTTP/1.1 handshake),
//! [`exchange`] (HTTP exchanges before the upgrade) and [`detect`] (frames without a
//! handshake); what it emits at the end is its flow record.

mod detect;
mod exchange;
mod pre;
mod upgrade;

use super::direction::{Ctx, Deflate, DirState, Start};
use super::problem::Problem;
use super::protocol::WsDirection;
use super::record::{DirectionStats, FlowRecord, FlowState};
use super::{Options, Out};
use crate::capture::set::{FileSet, Place};
use crate::http::{DeflateParams, Request, Response};
use crate::tcp::stream::Endpoint;
use crate::tcp::stream::{Carries, Direction, FlowInfo, Provenance};
use crate::util::time::Timestamp;
use pre::Pre;

/// Where a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Nothing recognised yet.
    Detect,
    /// Upgrade request seen in this (TCP) direction; waiting for the answer.
    Await(Direction),
    /// An HTTP exchange that is not the upgrade, its request sent in this direction:
    /// skipping its bodies.
    Exchange(Direction),
    /// An exchange ended: waiting for the next request in this direction.
    Next(Direction),
    /// Decoding WebSocket.
    Ws,
    /// The upgrade was refused.
    Rejected,
    /// Not WebSocket.
    Ignored,
}

/// One TCP connection.
#[derive(Debug)]
pub(super) struct Conn {
    pub(super) info: FlowInfo,
    pub(super) phase: Phase,
    pub(super) state: Option<FlowState>,
    pub(super) swapped: bool,
    pub(super) client: Endpoint,
    pub(super) server: Endpoint,
    pub(super) first_seen: Option<Timestamp>,
    pub(super) last_seen: Option<Timestamp>,
    /// Ids of the first and last packets that carried the stream's bytes.
    pub(super) packets: [u64; 2],
    pub(super) pre: [Pre; 2],
    pub(super) request: Option<Request>,
    pub(super) response: Option<Response>,
    pub(super) deflate: Option<DeflateParams>,
    pub(super) answer_seen: bool,
    pub(super) accept_valid: Option<bool>,
    pub(super) errors: Vec<Problem>,
    pub(super) dirs: Option<Box<[DirState; 2]>>,
    pub(super) closed: [bool; 2],
    /// The exchange being followed in [`Phase::Exchange`].
    exchange: Option<exchange::Exchange>,
    /// Statuses of the answers to the exchanges followed (at most
    /// [`exchange::MAX_EXCHANGES`]).
    pub(super) statuses: Vec<u16>,
    /// How many of `statuses` came before the upgrade request the record describes.
    pub(super) before: usize,
    /// HTTP that is not an upgrade was seen (for [`crate::ws::tally`]).
    pub(super) plain_http: bool,
}

impl Conn {
    /// A layer below said the stream is WebSocket frames from its first byte
    /// (`--decode-as`).
    pub(super) fn forced(&self) -> bool {
        self.info.carries == Carries::WebSocket
    }

    pub(super) fn new(info: &FlowInfo) -> Conn {
        Conn {
            info: info.clone(),
            phase: Phase::Detect,
            state: None,
            swapped: false,
            client: Endpoint(info.client),
            server: Endpoint(info.server),
            first_seen: None,
            last_seen: None,
            packets: [0; 2],
            pre: [Pre::new(), Pre::new()],
            request: None,
            response: None,
            deflate: None,
            answer_seen: false,
            accept_valid: None,
            errors: Vec::new(),
            dirs: None,
            closed: [false; 2],
            exchange: None,
            statuses: Vec::new(),
            before: 0,
            plain_http: false,
        }
    }

    pub(super) fn touch(&mut self, at: Provenance) {
        let ts = at.ts;
        if self.packets[0] == 0 {
            self.packets[0] = at.first;
        }
        self.packets[1] = at.packet;
        if self.first_seen.is_none_or(|f| ts < f) {
            self.first_seen = Some(ts);
        }
        if self.last_seen.is_none_or(|l| ts > l) {
            self.last_seen = Some(ts);
        }
    }

    /// The WebSocket direction of a TCP direction.
    pub(super) fn ws_dir(&self, d: Direction) -> WsDirection {
        match (d, self.swapped) {
            (Direction::ClientToServer, false) | (Direction::ServerToClient, true) => {
                WsDirection::ClientToServer
            }
            (Direction::ServerToClient, false) | (Direction::ClientToServer, true) => {
                WsDirection::ServerToClient
            }
        }
    }

    pub(super) fn deflate_mode(&self, d: Direction) -> Deflate {
        if !self.answer_seen {
            return Deflate::Unknown;
        }
        match self.deflate {
            None => Deflate::Off,
            Some(p) => Deflate::On {
                reset: if self.ws_dir(d) == WsDirection::ClientToServer {
                    p.client_no_context_takeover
                } else {
                    p.server_no_context_takeover
                },
            },
        }
    }

    /// Runs `f` on the state of TCP direction `d` with its context.
    pub(super) fn run(
        &mut self,
        files: &FileSet,
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
            files,
            flow: info.id,
            client: *client,
            server: *server,
            community_id: &info.community_id,
            h2_stream: info.h2.as_ref().map(|h| h.stream_id),
            dir,
            deflate,
            opts,
        };
        if let Some(ds) = dirs.get_mut(d.index()) {
            f(ds, &cx, out);
        }
    }

    pub(super) fn pre(&mut self, d: Direction) -> &mut Pre {
        &mut self.pre[d.index()]
    }

    /// Advances the handshake / detection state machine as far as the held bytes allow.
    pub(super) fn progress(&mut self, files: &FileSet, opts: &Options, out: &mut Out) {
        loop {
            match self.phase {
                Phase::Detect => {
                    if !self.detect(files, opts, out) {
                        return;
                    }
                }
                Phase::Await(req) => {
                    if !self.await_answer(files, opts, out, req) {
                        return;
                    }
                }
                Phase::Exchange(req) => {
                    if !self.follow(req) {
                        return;
                    }
                }
                Phase::Next(req) => {
                    if !self.next_request(req) {
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    /// Starts decoding WebSocket: `client` is the TCP direction the WebSocket client
    /// sends in; `starts[d]` says where direction `d`'s first frame is (after `skip[d]`
    /// bytes that are not frames).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_ws(
        &mut self,
        files: &FileSet,
        opts: &Options,
        out: &mut Out,
        state: FlowState,
        client: Direction,
        starts: [Start; 2],
        skip: [usize; 2],
    ) {
        self.state = Some(state);
        self.phase = Phase::Ws;
        self.swapped = client == Direction::ServerToClient;
        if self.swapped {
            self.client = Endpoint(self.info.server);
            self.server = Endpoint(self.info.client);
        }
        let ctx_lost = !self.answer_seen;
        let pres = std::mem::replace(&mut self.pre, [Pre::new(), Pre::new()]);
        self.dirs = Some(Box::new([0usize, 1].map(|i| {
            let p = &pres[i];
            let start = p.start + skip[i] as u64;
            DirState::new(start, starts[i], ctx_lost)
        })));
        for d in [Direction::ClientToServer, Direction::ServerToClient] {
            let i = d.index();
            let p = &pres[i];
            let k = skip[i];
            let flow = self.info.id;
            let wsd = self.ws_dir(d);
            self.run(files, opts, out, d, |ds, cx, out| {
                ds.stats.gaps += p.gaps;
                ds.stats.gap_bytes += p.gap_bytes;
                let skipped = p.skipped + k as u64;
                ds.stats.skipped_bytes += skipped;
                if skipped > 0 {
                    out.warn(
                        p.first_packet(),
                        "bytes skipped before the first frame",
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

    pub(super) fn flow_record(&mut self, files: &FileSet) -> FlowRecord {
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
        let Place {
            file,
            packets,
            first_file,
        } = files.place(self.packets);
        FlowRecord {
            file,
            capture: files.capture(),
            packets,
            first_file,
            flow: self.info.id,
            client: self.client,
            server: self.server,
            community_id: Some(self.info.community_id),
            encapsulation: self.info.encapsulation.clone(),
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
            tls: None,
            h2_stream_id: self.info.h2.as_ref().map(|h| h.stream_id),
            h2_other_streams: None,
            earlier_statuses: self
                .statuses
                .get(..self.before)
                .unwrap_or_default()
                .to_vec(),
        }
    }
}
