//! The HTTP/1.1 upgrade as a connection meets it: reading the request and the answer
//! from the held bytes (with [`crate::http`]'s sans-I/O parsers), checking the answer
//! against the request (RFC 6455 §4.2.2, RFC 7692 §7), and switching to WebSocket or
//! rejecting.

use super::exchange::{Answer, Exchange, MAX_EXCHANGES};
use super::{Conn, Phase, Pre};
use crate::capture::set::FileSet;
use crate::http::body::BodyReader;
use crate::http::{
    self, accept_for_key, parse_request, parse_response, HandshakeProblem, Request, Response,
    Status,
};
use crate::tcp::stream::Direction;
use crate::ws::direction::Start;
use crate::ws::problem::Problem;
use crate::ws::record::FlowState;
use crate::ws::{Options, Out};

/// Verdict on a direction's first bytes as HTTP.
pub(super) enum Http {
    Wait,
    Request(Box<Request>, usize),
    Response(Box<Response>, usize),
    /// A complete request that is not an upgrade, and its length.
    OtherRequest(Box<Request>, usize),
    /// A complete response that does not accept an upgrade.
    NotWebSocket,
    Unrecognised,
}

impl Conn {
    /// Tries to read an HTTP head at the start of direction `d`.
    pub(super) fn http(&mut self, d: Direction) -> Http {
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
                        Http::OtherRequest(Box::new(head), consumed)
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

    /// Waits for the answer to the upgrade request sent in TCP direction `req`.
    pub(super) fn await_answer(
        &mut self,
        files: &FileSet,
        opts: &Options,
        out: &mut Out,
        req: Direction,
    ) -> bool {
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
                    self.on_accept(head, out, packet);
                    self.start_ws(
                        files,
                        opts,
                        out,
                        FlowState::Upgraded,
                        req,
                        [Start::Known, Start::Known],
                        [0, 0],
                    );
                } else {
                    if head.status == 101 {
                        self.errors
                            .push(HandshakeProblem::NotWebSocketUpgrade.into());
                    }
                    self.answer_seen = true;
                    self.refused(req, head);
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

    /// The upgrade request sent in direction `req` was answered `resp`, not 101: the
    /// connection is rejected, unless a retry may follow on it (the answer's body has a
    /// known end and fewer than [`MAX_EXCHANGES`] answers were followed), whose
    /// exchange is then followed (see [`super::exchange`]).
    fn refused(&mut self, req: Direction, resp: Response) {
        let head = self
            .request
            .as_ref()
            .is_some_and(|r| r.method.eq_ignore_ascii_case("HEAD"));
        let bodies = (
            self.request.as_ref().map(|r| BodyReader::new(r.framing())),
            BodyReader::new(resp.framing(head)),
        );
        let status = resp.status;
        self.response = Some(resp);
        match bodies {
            (Some(Some(request_body)), Some(answer))
                if status != 101 && self.statuses.len() < MAX_EXCHANGES =>
            {
                self.state = Some(FlowState::Rejected);
                self.statuses.push(status);
                self.exchange = Some(Exchange {
                    request_body,
                    answer: Answer::Body(answer),
                    head,
                });
                self.phase = Phase::Exchange(req);
            }
            _ => self.reject(),
        }
    }

    /// Rejects the connection for good.
    pub(super) fn reject(&mut self) {
        self.state = Some(FlowState::Rejected);
        self.phase = Phase::Rejected;
        self.pre = [Pre::new(), Pre::new()];
    }

    /// Records a 101 answer, which starts in `packet`: extensions, subprotocol, accept
    /// key. An accept key that does not prove the server read the request's is also
    /// warned about (worth saying even without `--strict`: the peer is not a conforming
    /// server, or the capture mixes two connections).
    pub(super) fn on_accept(&mut self, resp: Response, out: &mut Out, packet: u64) {
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
                let wrong = match &resp.accept {
                    Some(a) if *a == expected => None,
                    Some(a) => Some(HandshakeProblem::AcceptMismatch {
                        got: a.clone(),
                        expected,
                    }),
                    None => Some(HandshakeProblem::NoAccept),
                };
                self.accept_valid = Some(wrong.is_none());
                if let Some(p) = wrong.map(Problem::from) {
                    out.warn(packet, p.label(), format!("flow {}: {p}", self.info.id));
                    self.errors.push(p);
                }
            }
        }
        if resp.protocols.len() > 1 {
            self.errors.push(HandshakeProblem::SeveralProtocols.into());
        }
        self.response = Some(resp);
    }

    /// An HTTP/2 stream a layer below opened with an extended CONNECT (RFC 8441): the
    /// handshake is its request and response headers, a 2xx status opens the WebSocket
    /// (the client sends on the connection's client side), any other refuses it.
    pub(in crate::ws) fn h2_handshake(
        &mut self,
        files: &FileSet,
        opts: &Options,
        out: &mut Out,
        h2: &crate::tcp::stream::H2Stream,
    ) {
        let req = http::h2::request(&h2.request);
        let resp = http::h2::response(&h2.response);
        self.request = Some(req);
        if !(200..300).contains(&resp.status) {
            self.answer_seen = true;
            self.response = Some(resp);
            self.reject();
            return;
        }
        self.answer_seen = true;
        let (params, errs) = http::permessage_deflate(&resp.extensions);
        self.deflate = params;
        self.errors.extend(errs.into_iter().map(Problem::from));
        if let Some(req) = &self.request {
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
        }
        if resp.protocols.len() > 1 {
            self.errors.push(HandshakeProblem::SeveralProtocols.into());
        }
        self.response = Some(resp);
        self.start_ws(
            files,
            opts,
            out,
            FlowState::Upgraded,
            Direction::ClientToServer,
            [Start::Known, Start::Known],
            [0, 0],
        );
    }
}
