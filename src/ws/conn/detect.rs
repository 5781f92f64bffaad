//! Deciding what a connection is from its first bytes: an HTTP head (see [`super::upgrade`]),
//! WebSocket frames without a handshake (a capture that starts mid-connection, found by a
//! chain of plausible frame headers), `--decode-as`, or neither.

use super::upgrade::Http;
use super::{Conn, Phase, Pre};
use crate::capture::set::FileSet;
use crate::http::HandshakeProblem;
use crate::tcp::stream::Direction;
use crate::ws::direction::Start;
use crate::ws::frame::{parse_header, HeaderStatus};
use crate::ws::record::FlowState;
use crate::ws::sync::{exact_frames, Held, Rsv1, Rules, Scan};
use crate::ws::{Options, Out};

impl Conn {
    /// One detection step; true when the phase changed.
    pub(super) fn detect(&mut self, files: &FileSet, opts: &Options, out: &mut Out) -> bool {
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
                    let packet = self.pre(d).first_packet();
                    self.pre(d).consume(n);
                    self.errors
                        .push(HandshakeProblem::RequestNotCaptured.into());
                    self.on_accept(*resp, out, packet);
                    self.start_ws(
                        files,
                        opts,
                        out,
                        FlowState::Upgraded,
                        d.reverse(),
                        [Start::Known, Start::Known],
                        [0, 0],
                    );
                    return true;
                }
                Http::OtherRequest(req, n) if !self.forced() => {
                    self.start_exchange(d, &req, n);
                    return true;
                }
                Http::OtherRequest(..) | Http::NotWebSocket => {
                    if self.forced() {
                        self.pre(d).not_request = true;
                        self.pre(d).not_response = true;
                        continue;
                    }
                    self.plain_http = true;
                    self.phase = Phase::Ignored;
                    self.pre = [Pre::new(), Pre::new()];
                    return true;
                }
                Http::Unrecognised => {
                    if self.detect_frames(files, opts, out, d) {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Looks for WebSocket frames in direction `d`'s held bytes; true when decided.
    pub(super) fn detect_frames(
        &mut self,
        files: &FileSet,
        opts: &Options,
        out: &mut Out,
        d: Direction,
    ) -> bool {
        if self.forced() {
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
            // With the connection's start captured, the first byte is a frame's.
            let search = |p: &Pre| Start::Search {
                min_chain: 2,
                from_start: self.info.roles_known && p.start == 0,
                piece_start: p.piece_start,
            };
            let starts = [search(&self.pre[0]), search(&self.pre[1])];
            self.start_ws(files, opts, out, FlowState::Forced, client, starts, [0, 0]);
            return true;
        }
        // Without a handshake, the roles are those of TCP when its handshake was seen
        // (the client masks); otherwise the first chain believed decides them.
        let rules = Rules {
            mask: self
                .info
                .roles_known
                .then_some(d == Direction::ClientToServer),
            rsv1: Rsv1::Deflate,
            fragment_open: false,
            min_chain: 6,
            min_chain_at_start: super::super::direction::DETECT_CHAIN as usize,
        };
        let p = &mut self.pre[d.index()];
        let ends: Vec<usize> = p.pieces.iter().map(|piece| piece.end).collect();
        let held = Held {
            buf: &p.buf,
            ends: &ends,
            piece_start: p.piece_start,
        };
        let found = match p.scanner.scan(held, &rules, false) {
            Scan::Found(k) => Some(k),
            Scan::Wait {
                earliest_real,
                dead,
                held_back,
            } => {
                if p.closed && p.dropped == 0 && exact_frames(held, &rules) {
                    Some(0)
                } else if p.overflow > 0 {
                    earliest_real.or(held_back)
                } else if p.closed && held_back.is_some() {
                    // Nothing more will decide the earlier candidate.
                    held_back
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
        let search = |p: &Pre| Start::Search {
            min_chain: 3,
            from_start: false,
            piece_start: p.piece_start,
        };
        let mut starts = [search(&self.pre[0]), search(&self.pre[1])];
        starts[d.index()] = Start::Found;
        let mut skip = [0, 0];
        skip[d.index()] = k;
        self.start_ws(files, opts, out, FlowState::Midstream, client, starts, skip);
        true
    }
}
