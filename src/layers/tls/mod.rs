//! TLS: decrypts connections whose key log secrets are known and hands their
//! application data up as a plain byte stream.
//!
//! A connection is TLS when its client's first bytes are a ClientHello, on any port
//! (or, for a capture started mid-connection, when its first bytes are TLS application
//! data records). Its records are framed and read by a [`Session`]: the hellos give the
//! randoms, version, suite, SNI and ALPN; the key log ([`Keys`]) gives the secrets;
//! records are opened with the keys of the moment (TLS 1.3 handshake, application and
//! KeyUpdate generations; TLS 1.2 from ChangeCipherSpec on). The plaintext goes up
//! exactly like a plaintext TCP stream, each chunk tagged with the packets that carried
//! its record, so the HTTP upgrade and the WebSocket decoder above never know it was
//! encrypted. A TLS connection whose records cannot be opened hands nothing up: its
//! ciphertext is never decoded as frames. What the layer learned is on
//! [`FlowInfo::tls`] for the flow record.
//!
//! The files: [`keylog`] (NSS key logs, the store), [`hello`] (handshake messages),
//! [`crypto`] (key schedules and record protection), `session.rs` (one connection).

pub mod crypto;
pub mod hello;
pub mod keylog;
mod session;

use std::collections::HashMap;
use std::sync::Arc;

use super::{held_bytes, Held, Layer};
use crate::tcp::stream::{CloseKind, Decryption, Direction, FlowInfo, Provenance, StreamSink};
use crate::tcp::Warning;
use crate::util::time::Timestamp;
pub use keylog::Keys;
pub use session::{Note, Session, Up};

/// Bytes of a connection's first direction looked at to tell TLS from not.
const SNIFF: usize = 6;

/// What the TLS layer found in one capture, for the per-file summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsStats {
    /// TLS connections seen.
    pub connections: u64,
    /// Connections decrypted (at least one record opened).
    pub decrypted: u64,
    /// Connections without a key log line (or captured after their handshake).
    pub no_key: u64,
    /// Server names of the first connections without keys.
    pub no_key_names: Vec<String>,
    /// Connections without keys had other server names than those listed.
    pub no_key_more: bool,
    /// Connections with a version or suite this tool cannot decrypt.
    pub unsupported: u64,
    /// Connections where a record did not verify.
    pub failed: u64,
}

/// Server names kept for the summary line.
const NAMES: usize = 3;

impl TlsStats {
    /// Adds another's counts (a shard's).
    pub fn merge(&mut self, o: &TlsStats) {
        self.connections += o.connections;
        self.decrypted += o.decrypted;
        self.no_key += o.no_key;
        self.unsupported += o.unsupported;
        self.failed += o.failed;
        self.no_key_more |= o.no_key_more;
        for n in &o.no_key_names {
            self.name(n);
        }
    }

    /// Lists a server name of a connection without keys.
    fn name(&mut self, n: &str) {
        if self.no_key_names.iter().any(|x| x == n) {
            return;
        }
        if self.no_key_names.len() < NAMES {
            self.no_key_names.push(n.to_string());
        } else {
            self.no_key_more = true;
        }
    }

    /// The lines a run prints about a file: connections it could not look into.
    pub fn summary(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.no_key > 0 {
            let names = if self.no_key_names.is_empty() {
                String::new()
            } else {
                let more = if self.no_key_more { ", …" } else { "" };
                format!(" (SNI {}{more})", self.no_key_names.join(", "))
            };
            v.push(format!(
                "{} TLS connection{} without keys{names}: not decoded (give the key log with --keylog)",
                self.no_key,
                plural(self.no_key)
            ));
        }
        if self.unsupported > 0 {
            v.push(format!(
                "{} TLS connection{} with a version or cipher suite that cannot be decrypted",
                self.unsupported,
                plural(self.unsupported)
            ));
        }
        v
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A connection as the layer sees it.
#[derive(Debug)]
enum Flow {
    /// Too few bytes yet to tell: what came so far, held.
    Undecided(Held),
    /// Not TLS: events pass through.
    Pass,
    /// TLS.
    Tls(Box<TlsFlow>),
}

#[derive(Debug)]
struct TlsFlow {
    /// The flow as handed up: with [`FlowInfo::tls`].
    info: FlowInfo,
    session: Session,
    /// Times of the first and last event.
    seen: Option<(Timestamp, Timestamp)>,
}

impl TlsFlow {
    fn saw(&mut self, at: Provenance) {
        let first = self.seen.map_or(at.ts, |s| s.0);
        self.seen = Some((first, at.ts));
    }
}

/// The TLS layer over `inner`.
#[derive(Debug)]
pub struct Tls<S> {
    keys: Keys,
    flows: HashMap<u64, Flow, crate::util::hash::FoldBuild>,
    inner: S,
    warnings: Vec<Warning>,
    stats: TlsStats,
}

impl<S: StreamSink> Tls<S> {
    /// A layer that decrypts with `keys`, over `inner`.
    pub fn new(keys: Keys, inner: S) -> Tls<S> {
        Tls {
            keys,
            flows: HashMap::default(),
            inner,
            warnings: Vec::new(),
            stats: TlsStats::default(),
        }
    }

    /// Takes the warnings given so far.
    pub fn drain_warnings(&mut self) -> std::vec::Drain<'_, Warning> {
        self.warnings.drain(..)
    }

    /// What the layer found in the connections that ended so far.
    pub fn stats(&self) -> &TlsStats {
        &self.stats
    }

    /// Decides what a flow is from its first bytes `first` (of direction `dir`);
    /// `done` when no more bytes will come to decide on.
    fn decide(&self, flow: &FlowInfo, dir: Direction, first: &[u8], done: bool) -> Option<Flow> {
        if let Some(b) = first.first_chunk::<SNIFF>() {
            if dir == Direction::ClientToServer && session::is_client_hello(b) {
                return Some(self.tls(flow, Session::new(self.keys.clone())));
            }
        }
        if let Some(b) = first.first_chunk::<5>() {
            if !flow.roles_known && session::is_midstream_record(b) {
                return Some(self.tls(flow, Session::without_handshake(self.keys.clone())));
            }
        }
        (done || first.len() >= SNIFF).then_some(Flow::Pass)
    }

    fn tls(&self, flow: &FlowInfo, session: Session) -> Flow {
        Flow::Tls(Box::new(TlsFlow {
            info: flow.clone(),
            session,
            seen: None,
        }))
    }

    /// Settles an undecided flow (more bytes came, or something else did) and replays
    /// what it held.
    fn settle(&mut self, flow: &FlowInfo, done: bool) {
        let Some(Flow::Undecided(held)) = self.flows.get(&flow.id) else {
            return;
        };
        let Some(&(dir, _, _)) = held.first() else {
            if done {
                self.flows.insert(flow.id, Flow::Pass);
            }
            return;
        };
        let first = held_bytes(held, dir, SNIFF);
        let Some(decided) = self.decide(flow, dir, &first, done) else {
            return;
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
        let Tls {
            flows,
            inner,
            warnings,
            ..
        } = self;
        match flows.get_mut(&flow.id) {
            Some(Flow::Tls(t)) => {
                t.saw(at);
                let TlsFlow { info, session, .. } = &mut **t;
                session.data(dir, bytes, at, &mut |u| pass_up(inner, info, u));
                after(info, session, warnings);
            }
            Some(Flow::Pass) | None => inner.data(flow, dir, bytes, at),
            Some(Flow::Undecided(_)) => {}
        }
    }
}

/// Hands one session event to the layer above.
fn pass_up<S: StreamSink>(inner: &mut S, info: &FlowInfo, u: Up) {
    match u {
        Up::Data(dir, bytes, at) => inner.data(info, dir, bytes, at),
        Up::Gap(dir, len, at) => inner.gap(info, dir, len, at),
        Up::Closed(dir, at) => inner.close(info, dir, CloseKind::Fin, at),
    }
}

/// Publishes what a session learned on the flow, and its warnings.
fn after(info: &mut FlowInfo, session: &mut Session, warnings: &mut Vec<Warning>) {
    if let Some(s) = session.take_summary() {
        info.tls = Some(Arc::new(s.clone()));
    }
    for w in session.drain_warnings() {
        warnings.push(Warning {
            packet: w.packet,
            kind: w.note.kind(),
            message: format!("flow {} {}: {}", info.id, w.dir, w.note.message()),
        });
    }
}

impl<S: StreamSink> Layer for Tls<S> {
    type Inner = S;

    fn inner(&self) -> &S {
        &self.inner
    }

    fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: StreamSink> StreamSink for Tls<S> {
    fn open(&mut self, flow: &FlowInfo) {
        self.flows.insert(flow.id, Flow::Undecided(Vec::new()));
        self.inner.open(flow)
    }

    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], at: Provenance) {
        // One table lookup per event: this runs for every segment of every connection.
        match self.flows.get_mut(&flow.id) {
            Some(Flow::Undecided(held)) => {
                held.push((dir, bytes.to_vec(), at));
                self.settle(flow, false);
            }
            Some(Flow::Pass) | None => self.inner.data(flow, dir, bytes, at),
            Some(Flow::Tls(_)) => self.feed(flow, dir, bytes, at),
        }
    }

    fn gap(&mut self, flow: &FlowInfo, dir: Direction, len: u64, at: Provenance) {
        self.settle(flow, true);
        let Tls {
            flows,
            inner,
            warnings,
            ..
        } = self;
        match flows.get_mut(&flow.id) {
            Some(Flow::Tls(t)) => {
                t.saw(at);
                let TlsFlow { info, session, .. } = &mut **t;
                session.gap(dir, len, at);
                after(info, session, warnings);
            }
            _ => inner.gap(flow, dir, len, at),
        }
    }

    fn close(&mut self, flow: &FlowInfo, dir: Direction, kind: CloseKind, at: Provenance) {
        self.settle(flow, true);
        match self.flows.get_mut(&flow.id) {
            Some(Flow::Tls(t)) => {
                t.saw(at);
                self.inner.close(&t.info, dir, kind, at)
            }
            _ => self.inner.close(flow, dir, kind, at),
        }
    }

    fn end(&mut self, flow: &FlowInfo) {
        self.settle(flow, true);
        match self.flows.remove(&flow.id) {
            Some(Flow::Tls(mut t)) => {
                let TlsFlow {
                    info,
                    session,
                    seen,
                } = &mut *t;
                after(info, session, &mut self.warnings);
                count(&mut self.stats, session.summary());
                let mut summary = session.summary().clone();
                summary.seen = *seen;
                summary.records = session.records();
                info.tls = Some(Arc::new(summary));
                info.packets = flow.packets;
                self.inner.end(info)
            }
            _ => self.inner.end(flow),
        }
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

/// Counts one finished TLS connection.
fn count(stats: &mut TlsStats, s: &crate::tcp::stream::TlsSummary) {
    stats.connections += 1;
    match s.decryption {
        Decryption::Decrypted => stats.decrypted += 1,
        Decryption::Pending => {}
        Decryption::NoKey | Decryption::NoHandshake => {
            stats.no_key += 1;
            if let Some(n) = &s.sni {
                stats.name(n);
            }
        }
        Decryption::Unsupported => stats.unsupported += 1,
        Decryption::Failed(_) => {
            stats.decrypted += u64::from(s.records > 0);
            stats.failed += 1;
        }
    }
}
