// The TCP reassembler driven by a structured list of segments over a few connections,
// with small limits so that the out-of-order caps and flow eviction are exercised.
// Checks that deliveries and gaps are never empty and only reach open flows, and that
// the end of capture ends every flow.
//
// Shared by fuzz/fuzz_targets/tcp.rs and tests/fuzz_regressions.rs (which replays the
// inputs in testdata/regressions/ that made it fail).
use arbitrary::Arbitrary;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use wsdissect::capture::packet::{TcpFlags, TcpSegment};
use wsdissect::tcp::stream::{CloseKind, Direction, FlowInfo, Provenance, StreamSink};
use wsdissect::util::time::Timestamp;
use wsdissect::tcp::{Config, Reassembler};

#[derive(Arbitrary, Debug)]
struct Seg {
    conn: u8,
    from_client: bool,
    seq: u32,
    ack: u32,
    syn: bool,
    ack_flag: bool,
    fin: bool,
    rst: bool,
    /// Small offsets relative to the previous segment are far likelier to interact.
    relative: bool,
    payload: Vec<u8>,
    missing: u8,
}

#[derive(Arbitrary, Debug)]
pub struct Input {
    max_ooo_bytes: u16,
    max_ooo_total: u16,
    max_flows: u8,
    segs: Vec<Seg>,
}

#[derive(Default)]
struct Check {
    open: HashMap<u64, [u64; 2]>,
    ended: Vec<u64>,
}

impl StreamSink for Check {
    fn open(&mut self, flow: &FlowInfo) {
        assert!(self.open.insert(flow.id, [0, 0]).is_none(), "flow opened twice");
    }
    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], _: Provenance) {
        assert!(!bytes.is_empty(), "empty delivery");
        let c = self.open.get_mut(&flow.id).expect("data on a flow not open");
        c[dir.index()] += bytes.len() as u64;
    }
    fn gap(&mut self, flow: &FlowInfo, dir: Direction, len: u64, _: Provenance) {
        assert!(len > 0, "empty gap");
        let c = self.open.get_mut(&flow.id).expect("gap on a flow not open");
        c[dir.index()] += len;
    }
    fn close(&mut self, flow: &FlowInfo, _: Direction, _: CloseKind, _: Provenance) {
        assert!(self.open.contains_key(&flow.id), "close on a flow not open");
    }
    fn end(&mut self, flow: &FlowInfo) {
        assert!(self.open.remove(&flow.id).is_some(), "end of a flow not open");
        self.ended.push(flow.id);
    }
}

/// Runs one input; panics on a broken invariant.
pub fn run(input: &Input) {
    let mut r = Reassembler::new(Config {
        max_ooo_bytes: input.max_ooo_bytes as usize,
        max_ooo_total: input.max_ooo_total as usize,
        max_flows: (input.max_flows as usize % 8).max(1),
        // Small budgets too, so that windows that may not grow are exercised.
        max_recent_total: input.max_ooo_bytes as usize,
        shard: None,
    });
    let mut sink = Check::default();
    let mut last_seq: HashMap<(u8, bool), u32> = HashMap::new();
    for (n, s) in input.segs.iter().take(512).enumerate() {
        let conn = s.conn % 6;
        let client = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000 + conn as u16);
        let server = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80);
        let (src, dst) = if s.from_client { (client, server) } else { (server, client) };
        let seq = if s.relative {
            let prev = last_seq.get(&(conn, s.from_client)).copied().unwrap_or(0);
            prev.wrapping_add(s.seq % 64).wrapping_sub(16)
        } else {
            s.seq
        };
        last_seq.insert((conn, s.from_client), seq.wrapping_add(s.payload.len() as u32));
        let seg = TcpSegment {
            src,
            dst,
            seq,
            ack: s.ack,
            flags: TcpFlags {
                syn: s.syn,
                ack: s.ack_flag,
                fin: s.fin,
                rst: s.rst,
            },
            payload: &s.payload,
            missing: s.missing as u32,
            encap: Default::default(),
        };
        let at = Provenance::of(n as u64 + 1, Timestamp::default());
        r.process(&seg, at, &mut sink);
        r.drain_warnings().for_each(drop);
        r.drain_summaries().for_each(drop);
    }
    r.finish(&mut sink);
    assert!(sink.open.is_empty(), "flows left open after finish");
}
