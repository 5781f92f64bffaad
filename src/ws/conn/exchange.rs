//! HTTP/1.1 exchanges on a connection that are not (or not yet) the upgrade: a
//! keep-alive request answered 200, an upgrade answered `401` whose retry comes on the
//! same connection (NTLM, Negotiate and Digest authenticate the connection). Their
//! bodies are skipped by their framing ([`crate::http::body`]) and the next request is
//! looked at, up to [`MAX_EXCHANGES`] answers; a body that ends only at close, broken
//! framing, a gap or anything not HTTP ends the following.

use super::{Conn, Phase, Pre};
use crate::http::body::{BodyReader, BodyStatus};
use crate::http::{self, parse_request, parse_response, Request, Status};
use crate::tcp::stream::Direction;
use crate::ws::record::FlowState;

/// Answers followed on one connection before it is given up.
pub(super) const MAX_EXCHANGES: usize = 100;

/// Where the answer to a followed request stands.
#[derive(Clone, Copy, Debug)]
pub(super) enum Answer {
    /// Its head has not come yet.
    Head,
    /// Its body is being skipped.
    Body(BodyReader),
    /// Complete.
    Done,
}

/// One request and its answer being followed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Exchange {
    pub(super) request_body: BodyReader,
    pub(super) answer: Answer,
    /// The request was a HEAD (its answer has no body).
    pub(super) head: bool,
}

impl Conn {
    /// A request in direction `d` that is not an upgrade, whose head took `n` held
    /// bytes: follow its exchange.
    pub(super) fn start_exchange(&mut self, d: Direction, req: &Request, n: usize) {
        self.pre(d).consume(n);
        self.plain_http = true;
        match BodyReader::new(req.framing()) {
            Some(request_body) => {
                self.exchange = Some(Exchange {
                    request_body,
                    answer: Answer::Head,
                    head: req.method.eq_ignore_ascii_case("HEAD"),
                });
                self.phase = Phase::Exchange(d);
            }
            None => self.stop_following(),
        }
    }

    /// Gives up following HTTP: the connection stays rejected if an upgrade was
    /// refused on it, else it is not WebSocket.
    pub(in crate::ws) fn stop_following(&mut self) {
        self.exchange = None;
        self.phase = if self.state == Some(FlowState::Rejected) {
            Phase::Rejected
        } else {
            Phase::Ignored
        };
        self.pre = [Pre::new(), Pre::new()];
    }

    /// One step of the exchange whose request went in direction `req`; true when the
    /// phase changed.
    pub(super) fn follow(&mut self, req: Direction) -> bool {
        let Some(mut ex) = self.exchange else {
            self.stop_following();
            return true;
        };
        let [a, b] = &mut self.pre;
        let (rq, rs) = if req == Direction::ClientToServer {
            (a, b)
        } else {
            (b, a)
        };
        if rq.overflow > 0 || rs.overflow > 0 {
            self.stop_following();
            return true;
        }
        if !ex.request_body.done() {
            match ex.request_body.feed(&rq.buf) {
                BodyStatus::More { consumed } | BodyStatus::Done { consumed } => {
                    rq.consume(consumed)
                }
                BodyStatus::Bad => {
                    self.stop_following();
                    return true;
                }
            }
        }
        loop {
            match &mut ex.answer {
                Answer::Head => {
                    if rs.buf.is_empty()
                        || (rs.parsed > 2048 && !http::may_be_complete(&rs.buf, rs.parsed))
                    {
                        rs.parsed = rs.buf.len();
                        if rs.closed {
                            self.stop_following();
                            return true;
                        }
                        break;
                    }
                    rs.parsed = rs.buf.len();
                    match parse_response(&rs.buf) {
                        Ok(Status::Partial) if !rs.closed => break,
                        Ok(Status::Complete { head, consumed })
                            if (100..200).contains(&head.status) && head.status != 101 =>
                        {
                            rs.consume(consumed)
                        }
                        Ok(Status::Complete { head, consumed }) if head.status != 101 => {
                            rs.consume(consumed);
                            self.statuses.push(head.status);
                            match BodyReader::new(head.framing(ex.head)) {
                                Some(r) => ex.answer = Answer::Body(r),
                                None => {
                                    self.stop_following();
                                    return true;
                                }
                            }
                        }
                        _ => {
                            self.stop_following();
                            return true;
                        }
                    }
                }
                Answer::Body(r) => match r.feed(&rs.buf) {
                    BodyStatus::More { consumed } => {
                        rs.consume(consumed);
                        break;
                    }
                    BodyStatus::Done { consumed } => {
                        rs.consume(consumed);
                        ex.answer = Answer::Done;
                    }
                    BodyStatus::Bad => {
                        self.stop_following();
                        return true;
                    }
                },
                Answer::Done => break,
            }
        }
        if !(ex.request_body.done() && matches!(ex.answer, Answer::Done)) {
            self.exchange = Some(ex);
            return false;
        }
        self.exchange = None;
        if self.statuses.len() >= MAX_EXCHANGES {
            self.stop_following();
        } else {
            self.phase = Phase::Next(req);
        }
        true
    }

    /// After an exchange: reads the next request in direction `req`, an upgrade
    /// (awaited as the first one would be) or another exchange; true when the phase
    /// changed.
    pub(super) fn next_request(&mut self, req: Direction) -> bool {
        let p = self.pre(req);
        if p.overflow > 0 {
            self.stop_following();
            return true;
        }
        if p.buf.is_empty() || (p.parsed > 2048 && !http::may_be_complete(&p.buf, p.parsed)) {
            p.parsed = p.buf.len();
            if p.closed {
                self.stop_following();
                return true;
            }
            return false;
        }
        p.parsed = p.buf.len();
        match parse_request(&p.buf) {
            Ok(Status::Partial) if !p.closed => false,
            Ok(Status::Complete { head, consumed }) if head.is_websocket_upgrade() => {
                p.consume(consumed);
                self.request = Some(head);
                self.response = None;
                self.deflate = None;
                self.answer_seen = false;
                self.accept_valid = None;
                self.before = self.statuses.len();
                self.phase = Phase::Await(req);
                true
            }
            Ok(Status::Complete { head, consumed }) => {
                self.start_exchange(req, &head, consumed);
                true
            }
            _ => {
                self.stop_following();
                true
            }
        }
    }
}
