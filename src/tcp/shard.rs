//! `--shard K/N`: a run that decodes only the connections whose canonical 5-tuple hash
//! modulo N is K, so that N tasks (on N machines) can split one capture set between
//! them and each still see its connections from their first packet.
//!
//! The reassembler still tracks every connection: flow numbers, evictions and the
//! out-of-order limits are then exactly those of a whole run, and the union of the N
//! outputs is the whole run's output, each connection in exactly one. Only what comes
//! out is filtered: stream events of other connections go nowhere (so nothing above TCP
//! spends time on them), and their summaries and warnings are dropped (the task that
//! owns a connection reports them).
//!
//! The hash is fixed, not seeded, so that the split is the same on every machine and in
//! every version: 64-bit FNV-1a over the protocol number (6) and the two endpoints in
//! ascending order, each as its 16-byte IPv6 address (IPv4 as `::ffff:a.b.c.d`) and its
//! big-endian port. Both directions, and a client or server guessed either way, give the
//! same hash.

use super::stream::{CloseKind, Direction, FlowInfo, Provenance, StreamSink};
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

/// Shard `index` of `count`: the connections whose hash modulo `count` is `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// K, below `count`.
    pub index: u64,
    /// N, at least 1.
    pub count: u64,
}

impl Shard {
    /// Shard `index` of `count`; `None` unless `index < count`.
    pub fn new(index: u64, count: u64) -> Option<Shard> {
        (index < count).then_some(Shard { index, count })
    }

    /// Whether the connection between `a` and `b` is this shard's.
    pub fn owns(self, a: SocketAddr, b: SocketAddr) -> bool {
        tuple_hash(a, b) % self.count == self.index
    }

    /// Whether `flow` is this shard's.
    pub fn owns_flow(self, flow: &FlowInfo) -> bool {
        self.owns(flow.client, flow.server)
    }
}

/// The canonical 5-tuple hash of a TCP connection (see the module doc).
pub fn tuple_hash(a: SocketAddr, b: SocketAddr) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let (lo, hi) = if canonical(a) <= canonical(b) {
        (a, b)
    } else {
        (b, a)
    };
    let mut h = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for &x in bytes {
            h ^= u64::from(x);
            h = h.wrapping_mul(PRIME);
        }
    };
    eat(&[6]);
    for e in [lo, hi] {
        let (ip, port) = canonical(e);
        eat(&ip);
        eat(&port.to_be_bytes());
    }
    h
}

/// An endpoint as the hash reads it: IPv6 bytes (IPv4 mapped) and port.
fn canonical(e: SocketAddr) -> ([u8; 16], u16) {
    let ip = match e.ip() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    (ip.octets(), e.port())
}

/// A sink passing on the events of the shard's connections only (all of them without a
/// shard).
pub(super) struct Sharded<'a> {
    pub shard: Option<Shard>,
    pub inner: &'a mut dyn StreamSink,
}

impl Sharded<'_> {
    fn sink(&mut self, flow: &FlowInfo) -> Option<&mut dyn StreamSink> {
        match self.shard {
            Some(s) if !s.owns_flow(flow) => None,
            _ => Some(&mut *self.inner),
        }
    }
}

impl StreamSink for Sharded<'_> {
    fn open(&mut self, flow: &FlowInfo) {
        if let Some(s) = self.sink(flow) {
            s.open(flow)
        }
    }
    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], at: Provenance) {
        if let Some(s) = self.sink(flow) {
            s.data(flow, dir, bytes, at)
        }
    }
    fn gap(&mut self, flow: &FlowInfo, dir: Direction, len: u64, at: Provenance) {
        if let Some(s) = self.sink(flow) {
            s.gap(flow, dir, len, at)
        }
    }
    fn close(&mut self, flow: &FlowInfo, dir: Direction, kind: CloseKind, at: Provenance) {
        if let Some(s) = self.sink(flow) {
            s.close(flow, dir, kind, at)
        }
    }
    fn end(&mut self, flow: &FlowInfo) {
        if let Some(s) = self.sink(flow) {
            s.end(flow)
        }
    }
    fn conflict(&mut self, flow: &FlowInfo, dir: Direction, range: Range<u64>, at: Provenance) {
        if let Some(s) = self.sink(flow) {
            s.conflict(flow, dir, range, at)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn both_directions_hash_alike() {
        let (a, b) = (ep("10.0.0.1:40000"), ep("10.0.0.2:80"));
        assert_eq!(tuple_hash(a, b), tuple_hash(b, a));
        let (a, b) = (ep("[2001:db8::1]:40000"), ep("[2001:db8::2]:443"));
        assert_eq!(tuple_hash(a, b), tuple_hash(b, a));
    }

    /// The hash is a contract between machines: its value is pinned.
    #[test]
    fn hash_is_fixed() {
        let h = tuple_hash(ep("10.0.0.1:40000"), ep("10.0.0.2:80"));
        assert_eq!(h, tuple_hash(ep("10.0.0.2:80"), ep("10.0.0.1:40000")));
        // Computed independently (Python, the bytes written out by hand).
        assert_eq!(h, 970_682_000_405_798_376);
        // IPv4 is hashed as its mapped IPv6 address.
        assert_eq!(
            h,
            tuple_hash(ep("[::ffff:10.0.0.1]:40000"), ep("10.0.0.2:80"))
        );
    }

    #[test]
    fn every_connection_is_in_exactly_one_shard() {
        for port in 1000..1200u16 {
            let (a, b) = (ep(&format!("192.168.1.7:{port}")), ep("192.168.1.1:8080"));
            for n in 1..6 {
                let owners = (0..n)
                    .filter(|&k| Shard::new(k, n).unwrap().owns(a, b))
                    .count();
                assert_eq!(owners, 1);
            }
        }
        assert_eq!(Shard::new(3, 3), None);
    }
}
