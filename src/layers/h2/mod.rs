//! HTTP/2: a demultiplexer that finds WebSockets opened by extended CONNECT (RFC 8441)
//! and hands each one up as a stream of its own.
//!
//! A connection is HTTP/2 when its client's first bytes are the connection preface
//! (`PRI * HTTP/2.0…`): h2c with prior knowledge on any port, or ALPN `h2` inside a
//! decrypted TLS connection (whose plaintext starts with the same preface); or when an
//! HTTP/1.1 request with `Upgrade: h2c` is answered 101. Its frames
//! are read by a [`Conn`]; a stream whose `:method CONNECT` / `:protocol websocket`
//! request is answered with a 2xx status becomes a stream of its own above this layer,
//! [`FlowInfo::sub`] its stream id and [`FlowInfo::h2`] its request and response
//! headers (the handshake), carrying the stream's DATA payloads in both directions. The
//! WebSocket stage decodes it like any other connection. A refused CONNECT is handed up
//! too (opened and ended, no bytes) so that its flow record says so. Other streams (the
//! page, images, API calls) are counted, not decoded.
//!
//! The files: `frame.rs` (frame headers and the payloads read), `conn.rs` (one
//! connection: framing, HPACK, streams, limits).

mod conn;
pub mod frame;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{held_bytes, Held, Layer};
use crate::tcp::stream::{CloseKind, Direction, FlowInfo, H2Stream, Provenance, StreamSink};
use crate::tcp::Warning;
pub use conn::{Conn, Note, Up, MAX_HEADER_BLOCK, MAX_HEADER_LIST, MAX_STREAMS, MAX_TABLE};
use frame::PREFACE;

/// Bytes a connection may hold while the client has not said whether it speaks HTTP/2
/// (a server that speaks first); beyond them it is not HTTP/2.
const MAX_UNDECIDED: usize = 64 << 10;

/// A connection as the layer sees it.
#[derive(Debug)]
enum Flow {
    /// Not known yet: what came so far.
    Undecided(Held),
    /// Not HTTP/2: events pass through.
    Pass,
    /// HTTP/2.
    H2(Box<H2Flow>),
}

#[derive(Debug)]
struct H2Flow {
    conn: Conn,
    /// The WebSocket (and refused) streams handed up, by stream id.
    subs: BTreeMap<u32, FlowInfo>,
}

/// The HTTP/2 layer over `inner`.
#[derive(Debug)]
pub struct H2<S> {
    flows: HashMap<u64, Flow, crate::util::hash::FoldBuild>,
    inner: S,
    warnings: Vec<Warning>,
}

impl<S: StreamSink> H2<S> {
    /// The layer over `inner`.
    pub fn new(inner: S) -> H2<S> {
        H2 {
            flows: HashMap::default(),
            inner,
            warnings: Vec::new(),
        }
    }

    /// Takes the warnings given so far.
    pub fn drain_warnings(&mut self) -> std::vec::Drain<'_, Warning> {
        self.warnings.drain(..)
    }

    /// Decides an undecided flow when its client's bytes tell (or nothing more will
    /// come, `done`), and replays what it held.
    fn settle(&mut self, flow: &FlowInfo, done: bool) {
        // Bytes held until the client's say what the connection is (a request for
        // h2c: until its answer).
        let Some(Flow::Undecided(held)) = self.flows.get(&flow.id) else {
            return;
        };
        let client = held_bytes(held, Direction::ClientToServer, PREFACE.len());
        let total: usize = held.iter().map(|(_, b, _)| b.len()).sum();
        let n = client.len();
        let h2 = |conn| {
            Flow::H2(Box::new(H2Flow {
                conn,
                subs: BTreeMap::new(),
            }))
        };
        let decided = if n == PREFACE.len() && client[..] == PREFACE[..] {
            h2(Conn::new())
        } else if client[..] == PREFACE[..n] && !done && total <= MAX_UNDECIDED {
            return;
        } else {
            match upgrade(held) {
                Upgrade::Yes { client, server } => h2(Conn::upgraded(client, server)),
                Upgrade::Wait if !done && total <= MAX_UNDECIDED => return,
                _ => Flow::Pass,
            }
        };
        let Some(Flow::Undecided(held)) = self.flows.insert(flow.id, decided) else {
            return;
        };
        for (d, bytes, at) in held {
            self.feed(flow, d, &bytes, at);
        }
    }

    /// Bytes of a decided flow.
    fn feed(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], at: Provenance) {
        let H2 {
            flows,
            inner,
            warnings,
        } = self;
        match flows.get_mut(&flow.id) {
            Some(Flow::H2(h)) => {
                let H2Flow { conn, subs } = &mut **h;
                conn.data(dir, bytes, at, &mut |u| pass_up(inner, flow, subs, u));
                collect(flow, conn, warnings);
            }
            Some(Flow::Pass) | None => inner.data(flow, dir, bytes, at),
            Some(Flow::Undecided(_)) => {}
        }
    }
}

/// What the bytes held so far say of an HTTP/1.1 upgrade to h2c.
enum Upgrade {
    /// Upgraded: the request and the 101 answer are this long.
    Yes { client: usize, server: usize },
    /// A request for h2c whose answer is not complete yet, or a request not yet complete.
    Wait,
    /// Not an upgrade to h2c, or refused.
    No,
}

/// Looks for `Upgrade: h2c` in the client's request and a 101 in the server's answer
/// (RFC 7540 §3.2), in the bytes held.
fn upgrade(held: &Held) -> Upgrade {
    let side = |d| held_bytes(held, d, usize::MAX);
    let c = side(Direction::ClientToServer);
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let client = match req.parse(&c) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Upgrade::Wait,
        Err(_) => return Upgrade::No,
    };
    let value = |h: &[httparse::Header], name: &str| -> Vec<String> {
        h.iter()
            .filter(|x| x.name.eq_ignore_ascii_case(name))
            .flat_map(|x| {
                String::from_utf8_lossy(x.value)
                    .split(',')
                    .map(|t| t.trim().to_ascii_lowercase())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    if !value(req.headers, "upgrade").iter().any(|t| t == "h2c") {
        return Upgrade::No;
    }
    let body: usize = value(req.headers, "content-length")
        .first()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let s = side(Direction::ServerToClient);
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(&s) {
        Ok(httparse::Status::Complete(n)) if resp.code == Some(101) => Upgrade::Yes {
            client: client + body,
            server: n,
        },
        Ok(httparse::Status::Partial) => Upgrade::Wait,
        _ => Upgrade::No,
    }
}

/// Hands one event of a connection to the layer above, as an event of its stream.
fn pass_up<S: StreamSink>(
    inner: &mut S,
    flow: &FlowInfo,
    subs: &mut BTreeMap<u32, FlowInfo>,
    u: Up,
) {
    match u {
        Up::Open(h2) => {
            let id = h2.stream_id;
            let info = FlowInfo {
                sub: Some(id),
                h2: Some(h2),
                ..flow.clone()
            };
            inner.open(&info);
            subs.insert(id, info);
        }
        Up::Data(id, dir, bytes, at) => {
            if let Some(info) = subs.get(&id) {
                inner.data(info, dir, bytes, at)
            }
        }
        Up::Gap(id, dir, len, at) => {
            if let Some(info) = subs.get(&id) {
                inner.gap(info, dir, len, at)
            }
        }
        Up::Close(id, dir, kind, at) => {
            if let Some(info) = subs.get(&id) {
                inner.close(info, dir, kind, at)
            }
        }
    }
}

/// The connection's warnings, as the run prints them.
fn collect(flow: &FlowInfo, conn: &mut Conn, warnings: &mut Vec<Warning>) {
    for w in conn.drain_warnings() {
        warnings.push(Warning {
            packet: w.packet,
            kind: w.note.kind(),
            message: format!("flow {} {} (HTTP/2): {}", flow.id, w.dir, w.note.message()),
        });
    }
}

impl<S: StreamSink> Layer for H2<S> {
    type Inner = S;

    fn inner(&self) -> &S {
        &self.inner
    }

    fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: StreamSink> StreamSink for H2<S> {
    fn open(&mut self, flow: &FlowInfo) {
        self.flows.insert(flow.id, Flow::Undecided(Vec::new()));
        self.inner.open(flow)
    }

    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], at: Provenance) {
        // One table lookup per event: this runs for every segment of every connection.
        let H2 {
            flows,
            inner,
            warnings,
        } = self;
        match flows.get_mut(&flow.id) {
            Some(Flow::Undecided(held)) => {
                held.push((dir, bytes.to_vec(), at));
                self.settle(flow, false);
            }
            Some(Flow::H2(h)) => {
                let H2Flow { conn, subs } = &mut **h;
                conn.data(dir, bytes, at, &mut |u| pass_up(inner, flow, subs, u));
                collect(flow, conn, warnings);
            }
            Some(Flow::Pass) | None => inner.data(flow, dir, bytes, at),
        }
    }

    fn gap(&mut self, flow: &FlowInfo, dir: Direction, len: u64, at: Provenance) {
        self.settle(flow, true);
        let H2 {
            flows,
            inner,
            warnings,
        } = self;
        match flows.get_mut(&flow.id) {
            Some(Flow::H2(h)) => {
                let H2Flow { conn, subs } = &mut **h;
                conn.gap(dir, len, at, &mut |u| pass_up(inner, flow, subs, u));
                collect(flow, conn, warnings);
            }
            _ => inner.gap(flow, dir, len, at),
        }
    }

    fn close(&mut self, flow: &FlowInfo, dir: Direction, kind: CloseKind, at: Provenance) {
        self.settle(flow, true);
        let H2 { flows, inner, .. } = self;
        match flows.get_mut(&flow.id) {
            Some(Flow::H2(h)) => {
                let H2Flow { conn, subs } = &mut **h;
                conn.end_direction(dir, kind, at, &mut |u| pass_up(inner, flow, subs, u));
            }
            _ => inner.close(flow, dir, kind, at),
        }
    }

    fn end(&mut self, flow: &FlowInfo) {
        self.settle(flow, true);
        if let Some(Flow::H2(mut h)) = self.flows.remove(&flow.id) {
            let H2Flow { conn, subs } = &mut *h;
            collect(flow, conn, &mut self.warnings);
            for (_, info) in std::mem::take(subs) {
                // The stream as it ends: what the layers below learned since it opened
                // (TLS), and how many other streams its connection carried.
                let h2 = info.h2.as_deref().map(|s| {
                    Arc::new(H2Stream {
                        other_streams: conn.other_streams,
                        ..s.clone()
                    })
                });
                self.inner.end(&FlowInfo {
                    h2,
                    tls: flow.tls.clone(),
                    packets: [info.packets[0], flow.packets[1]],
                    ..info
                });
            }
        }
        self.inner.end(flow)
    }

    /// Passed on for connections this layer does not transform: the offsets are those of
    /// the bytes the layer above sees only then.
    fn conflict(
        &mut self,
        flow: &FlowInfo,
        dir: Direction,
        range: std::ops::Range<u64>,
        at: Provenance,
    ) {
        if matches!(self.flows.get(&flow.id), Some(Flow::Pass) | None) {
            self.inner.conflict(flow, dir, range, at)
        }
    }
}
