//! Tests of the reassembler as a whole: segments in, the sink's bytes, gaps and closes
//! out, with the summaries and warnings it records. Segments are written out by hand
//! (`seg(from_client, seq, ack, flags, payload)`), and a property test reassembles any
//! segmentation, order and duplication of a stream.

use super::*;
use crate::capture::packet::TcpFlags;
use crate::util::time::Timestamp;
use proptest::prelude::*;

/// A sink that records each direction's bytes and events.
#[derive(Default)]
struct Collect {
    bytes: [Vec<u8>; 2],
    gaps: [Vec<(u64, u64)>; 2],
    closes: Vec<(Direction, CloseKind)>,
    opened: Vec<FlowInfo>,
    ended: Vec<u64>,
}

impl StreamSink for Collect {
    fn open(&mut self, flow: &FlowInfo) {
        self.opened.push(flow.clone());
    }
    fn data(&mut self, _: &FlowInfo, dir: Direction, bytes: &[u8], _: Provenance) {
        self.bytes[dir.index()].extend_from_slice(bytes);
    }
    fn gap(&mut self, _: &FlowInfo, dir: Direction, len: u64, _: Provenance) {
        let at = self.bytes[dir.index()].len() as u64;
        self.gaps[dir.index()].push((at, len));
    }
    fn close(&mut self, _: &FlowInfo, dir: Direction, kind: CloseKind, _: Provenance) {
        self.closes.push((dir, kind));
    }
    fn end(&mut self, flow: &FlowInfo) {
        self.ended.push(flow.id);
    }
}

const C: &str = "10.0.0.1:40000";
const S: &str = "10.0.0.2:80";

fn seg<'a>(
    from_client: bool,
    seq: u32,
    ack: Option<u32>,
    flags: &str,
    p: &'a [u8],
) -> TcpSegment<'a> {
    let (src, dst) = if from_client { (C, S) } else { (S, C) };
    TcpSegment {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        seq,
        ack: ack.unwrap_or(0),
        flags: TcpFlags {
            syn: flags.contains('S'),
            ack: ack.is_some(),
            fin: flags.contains('F'),
            rst: flags.contains('R'),
        },
        payload: p,
        encap: Default::default(),
        missing: 0,
    }
}

fn at(n: u64) -> Provenance {
    Provenance::of(n, Timestamp::default())
}

#[test]
fn handshake_data_reorder_and_fin() {
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    let isn_c = u32::MAX - 3; // wraps inside the stream
    let isn_s = 1000;
    let c1 = isn_c.wrapping_add(1);
    r.process(&seg(true, isn_c, None, "S", b""), at(1), &mut s);
    r.process(&seg(false, isn_s, Some(c1), "S", b""), at(2), &mut s);
    r.process(
        &seg(true, c1.wrapping_add(5), Some(isn_s + 1), "", b"world"),
        at(3),
        &mut s,
    );
    r.process(&seg(true, c1, Some(isn_s + 1), "", b"hello"), at(4), &mut s);
    r.process(&seg(true, c1, Some(isn_s + 1), "", b"hel"), at(5), &mut s);
    r.process(
        &seg(false, isn_s + 1, Some(c1.wrapping_add(10)), "", b"ok"),
        at(6),
        &mut s,
    );
    r.process(
        &seg(true, c1.wrapping_add(10), Some(isn_s + 3), "F", b"!"),
        at(7),
        &mut s,
    );
    r.process(
        &seg(false, isn_s + 3, Some(c1.wrapping_add(12)), "F", b""),
        at(8),
        &mut s,
    );
    assert_eq!(s.bytes[0], b"helloworld!");
    assert_eq!(s.bytes[1], b"ok");
    assert!(s.gaps.iter().all(|g| g.is_empty()));
    assert_eq!(s.opened.len(), 1);
    assert!(s.opened[0].roles_known);
    assert_eq!(s.ended, vec![0]);
    let sum: Vec<_> = r.drain_summaries().collect();
    assert_eq!(sum[0].state, TcpState::Closed);
    assert_eq!(sum[0].client_to_server.retransmissions, 1);
    assert_eq!(sum[0].client_to_server.out_of_order, 1);
}

#[test]
fn acked_hole_becomes_gap_and_delivery_resumes() {
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    r.process(&seg(true, 99, None, "S", b""), at(1), &mut s);
    r.process(&seg(true, 100, None, "", b"aaaa"), at(2), &mut s);
    // bytes 104..110 never captured; server acks them, then more data comes.
    r.process(&seg(true, 110, None, "", b"cccc"), at(3), &mut s);
    r.process(&seg(false, 500, Some(114), "", b""), at(4), &mut s);
    r.process(&seg(true, 114, None, "", b"dd"), at(5), &mut s);
    assert_eq!(s.bytes[0], b"aaaaccccdd");
    assert_eq!(s.gaps[0], vec![(4, 6)]);
}

#[test]
fn midstream_start_guesses_roles_and_conflicts_are_counted() {
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    r.process(&seg(false, 7000, Some(1), "", b"xyz"), at(1), &mut s);
    assert!(!s.opened[0].roles_known);
    assert_eq!(s.opened[0].server.port(), 80);
    r.process(&seg(false, 7005, Some(1), "", b"12345"), at(2), &mut s);
    r.process(&seg(false, 7006, Some(1), "", b"2X4"), at(3), &mut s);
    r.finish(&mut s);
    assert_eq!(s.bytes[1], b"xyz12345");
    assert_eq!(s.gaps[1], vec![(3, 2)]);
    let sum: Vec<_> = r.drain_summaries().collect();
    assert_eq!(sum[0].server_to_client.conflicting_bytes, 1);
    assert_eq!(sum[0].state, TcpState::Open);
}

#[test]
fn new_syn_after_fin_starts_new_connection_and_rst_closes() {
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    r.process(&seg(true, 1, None, "S", b""), at(1), &mut s);
    r.process(&seg(true, 2, None, "F", b"a"), at(2), &mut s);
    r.process(&seg(true, 900, None, "S", b""), at(3), &mut s);
    r.process(&seg(true, 901, None, "", b"b"), at(4), &mut s);
    r.process(&seg(false, 50, Some(902), "R", b""), at(5), &mut s);
    assert_eq!(s.opened.len(), 2);
    assert_eq!(s.ended, vec![0, 1]);
    assert!(s
        .closes
        .contains(&(Direction::ClientToServer, CloseKind::Rst)));
    let sum: Vec<_> = r.drain_summaries().collect();
    assert_eq!(sum[1].state, TcpState::Reset);
}

#[test]
fn gap_before_a_fin_stops_at_the_fin() {
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    r.process(&seg(true, 99, None, "S", b""), at(1), &mut s);
    r.process(&seg(true, 100, None, "", b"aaaa"), at(2), &mut s);
    // Bytes 104..110 lost; the FIN at 110 is captured and acknowledged (ack 111).
    r.process(&seg(true, 110, None, "F", b""), at(3), &mut s);
    r.process(&seg(false, 500, Some(111), "F", b""), at(4), &mut s);
    r.finish(&mut s);
    assert_eq!(s.bytes[0], b"aaaa");
    assert_eq!(s.gaps[0], vec![(4, 6)]);
}

#[test]
fn rst_after_fin_closes_the_other_direction() {
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    r.process(&seg(true, 99, None, "S", b""), at(1), &mut s);
    r.process(&seg(false, 499, Some(100), "S", b""), at(2), &mut s);
    r.process(&seg(true, 100, Some(500), "F", b""), at(3), &mut s);
    r.process(&seg(false, 500, Some(101), "", b"late"), at(4), &mut s);
    r.process(&seg(true, 101, Some(504), "R", b""), at(5), &mut s);
    assert_eq!(s.bytes[1], b"late");
    assert!(s
        .closes
        .contains(&(Direction::ServerToClient, CloseKind::Rst)));
    assert_eq!(s.ended, vec![0]);
    let sum: Vec<_> = r.drain_summaries().collect();
    assert_eq!(sum[0].state, TcpState::Reset);
}

#[test]
fn a_segment_inside_an_acknowledged_hole_is_kept() {
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    r.process(&seg(true, 99, None, "S", b""), at(1), &mut s);
    r.process(&seg(true, 100, None, "", b"aa"), at(2), &mut s);
    r.process(&seg(false, 500, Some(110), "", b""), at(3), &mut s);
    // 102..106 never captured; 106..110 captured after the ACK that covers it.
    r.process(&seg(true, 106, None, "", b"cccc"), at(4), &mut s);
    assert_eq!(s.bytes[0], b"aacccc");
    assert_eq!(s.gaps[0], vec![(2, 4)]);
}

#[test]
fn ooo_cap_forces_gap() {
    // Two held segments of 6 bytes count 12 bytes and their bookkeeping.
    let mut r = Reassembler::new(Config {
        max_ooo_bytes: 10 + 2 * SEGMENT_OVERHEAD,
        ..Config::default()
    });
    let mut s = Collect::default();
    r.process(&seg(true, 0, None, "S", b""), at(1), &mut s);
    r.process(&seg(true, 11, None, "", b"aaaaaa"), at(2), &mut s);
    r.process(&seg(true, 17, None, "", b"bbbbbb"), at(3), &mut s);
    assert_eq!(s.bytes[0], b"aaaaaabbbbbb");
    assert_eq!(s.gaps[0], vec![(0, 10)]);
    let w: Vec<Warning> = r.drain_warnings().collect();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].packet, 3);
    assert!(w[0].message.contains("out-of-order buffer limit"));
    // The late bytes are now old: counted, not delivered.
    r.process(&seg(true, 1, None, "", b"zzzzzzzzzz"), at(4), &mut s);
    assert_eq!(s.bytes[0], b"aaaaaabbbbbb");
}

#[test]
fn flow_table_is_bounded() {
    let mut r = Reassembler::new(Config {
        max_flows: 100,
        ..Config::default()
    });
    let mut s = Collect::default();
    for i in 0..1000u32 {
        let mut g = seg(true, i, None, "S", b"");
        g.src = SocketAddr::new(g.src.ip(), (1024 + i) as u16);
        r.process(&g, at(i as u64 + 1), &mut s);
        assert!(r.flows.len() <= 100);
    }
    assert!(r.drain_warnings().count() > 0);
    assert_eq!(s.ended.len() + r.flows.len(), 1000);
}

/// Bytes held beyond a FIN stayed counted after the flow ended, and the total cap
/// then flushed them onto the ended flow (found by the `tcp` fuzz target).
#[test]
fn bytes_after_fin_are_dropped_with_the_half() {
    let mut r = Reassembler::new(Config {
        max_ooo_total: 500,
        ..Config::default()
    });
    let mut s = Collect::default();
    r.process(&seg(true, 0, None, "S", b""), at(1), &mut s);
    r.process(&seg(true, 11, None, "", &[b'z'; 300]), at(2), &mut s);
    r.process(&seg(true, 1, None, "F", b"abc"), at(3), &mut s);
    r.process(&seg(false, 0, Some(5), "SF", b""), at(4), &mut s);
    assert_eq!(s.ended, vec![0]);
    // The bytes beyond the FIN were dropped, and the total counts nothing left.
    assert_eq!(r.ooo_total, 0);
    // Another connection holds bytes: the ended one must not be flushed for it.
    let mut g = seg(true, 100, None, "S", b"");
    g.src.set_port(40001);
    r.process(&g, at(5), &mut s);
    let mut g = seg(true, 200, None, "", &[b'x'; 100]);
    g.src.set_port(40001);
    r.process(&g, at(6), &mut s);
    assert_eq!(r.ooo_total, 100 + SEGMENT_OVERHEAD);
    assert_eq!(s.bytes[0], b"abc");
    assert!(s.gaps[0].is_empty());
}

/// 200k one-byte segments behind a hole: linear time (each used to scan every held
/// piece), and held segments bounded by their bookkeeping, not only their bytes.
#[test]
fn tiny_out_of_order_segments() {
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    r.process(&seg(true, 0, None, "S", b""), at(1), &mut s);
    let t = std::time::Instant::now();
    let mut most = 0;
    for i in 0..200_000u32 {
        r.process(&seg(true, 2 + i, None, "", b"x"), at(2 + i as u64), &mut s);
        let h = &r.flows.values().next().unwrap().halves[0];
        most = most.max(h.pending.len());
    }
    assert!(t.elapsed() < std::time::Duration::from_secs(20));
    assert!(most <= (4 << 20) / (1 + SEGMENT_OVERHEAD) + 1, "{most}");
    r.finish(&mut s);
    assert_eq!(s.bytes[0].len(), 200_000);
    assert_eq!(s.gaps[0], vec![(0, 1)]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn reassembles_any_segmentation(
        data in proptest::collection::vec(any::<u8>(), 1..3000),
        isn in any::<u32>(),
        cuts in proptest::collection::vec(1usize..400, 1..40),
        order in proptest::collection::vec(any::<u32>(), 0..60),
        dups in proptest::collection::vec((any::<u16>(), 1usize..300), 0..10),
        drop in proptest::option::of(any::<u16>()),
    ) {
        // Cut the stream into segments.
        let mut segs: Vec<(usize, usize)> = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        while pos < data.len() {
            let n = cuts[i % cuts.len()].min(data.len() - pos);
            segs.push((pos, pos + n));
            pos += n;
            i += 1;
        }
        let dropped = drop.map(|d| d as usize % segs.len());
        let mut sends: Vec<(usize, usize)> = segs
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != dropped)
            .map(|(_, s)| *s)
            .collect();
        // Duplicates and overlapping copies (same bytes), never of the dropped segment.
        for (start, len) in dups {
            let s = start as usize % data.len();
            let e = (s + len).min(data.len());
            if let Some(d) = dropped {
                let (ds, de) = segs[d];
                if s < de && e > ds { continue; }
            }
            sends.push((s, e));
        }
        // Shuffle deterministically.
        for (i, o) in order.iter().enumerate() {
            let n = sends.len();
            if n == 0 { break; }
            sends.swap(i % n, *o as usize % n);
        }
        let mut r = Reassembler::new(Config::default());
        let mut sink = Collect::default();
        r.process(&seg(true, isn, None, "S", b""), at(1), &mut sink);
        for (n, (s, e)) in sends.iter().enumerate() {
            let g = seg(true, isn.wrapping_add(1).wrapping_add(*s as u32), None, "", &data[*s..*e]);
            r.process(&g, at(n as u64 + 2), &mut sink);
        }
        // Everything ends with a FIN after the last byte.
        let fin = seg(true, isn.wrapping_add(1).wrapping_add(data.len() as u32), None, "F", b"");
        r.process(&fin, at(1000), &mut sink);
        r.finish(&mut sink);
        match dropped {
            None => {
                prop_assert_eq!(&sink.bytes[0], &data);
                prop_assert!(sink.gaps[0].is_empty());
            }
            Some(d) => {
                let (ds, de) = segs[d];
                let mut expect = data[..ds].to_vec();
                expect.extend_from_slice(&data[de..]);
                prop_assert_eq!(&sink.bytes[0], &expect);
                prop_assert_eq!(&sink.gaps[0], &vec![(ds as u64, (de - ds) as u64)]);
            }
        }
    }
}

/// When the total out-of-order cap is hit and several directions hold as much, the
/// oldest flow's is flushed, whatever order the (randomly seeded) flow table has: the
/// output must not depend on the run.
#[test]
fn total_cap_flushes_the_oldest_of_equal_holders() {
    for _ in 0..20 {
        let held = 50 + SEGMENT_OVERHEAD;
        let mut r = Reassembler::new(Config {
            max_ooo_total: 8 * held - 1,
            ..Config::default()
        });
        let mut s = Collect::default();
        for i in 0..8u16 {
            let mut g = seg(true, 0, None, "S", b"");
            g.src.set_port(41000 + i);
            r.process(&g, at(u64::from(i) * 2 + 1), &mut s);
            let mut g = seg(true, 100, None, "", &[b'x'; 50]);
            g.src.set_port(41000 + i);
            r.process(&g, at(u64::from(i) * 2 + 2), &mut s);
        }
        let w: Vec<Warning> = r.drain_warnings().collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].message.starts_with("flow 0 "), "{}", w[0].message);
        assert_eq!(r.ooo_total, 7 * held);
    }
}

#[test]
fn rst_outside_the_window_is_counted_and_ignored() {
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    r.process(&seg(true, 99, None, "S", b""), at(1), &mut s);
    r.process(&seg(false, 499, Some(100), "S", b""), at(2), &mut s);
    r.process(&seg(true, 100, Some(500), "", b"ab"), at(3), &mut s);
    // Forged: a million bytes ahead of the client's stream, and before its start.
    r.process(&seg(true, 1_000_100, Some(500), "R", b""), at(4), &mut s);
    r.process(&seg(true, 50, Some(500), "R", b""), at(5), &mut s);
    r.process(&seg(false, 500, Some(102), "", b"cd"), at(6), &mut s);
    r.process(&seg(true, 102, Some(502), "", b"ef"), at(7), &mut s);
    assert!(s.closes.is_empty());
    let w: Vec<_> = r.drain_warnings().collect();
    assert_eq!(w.len(), 2);
    assert_eq!(w[0].packet, 4);
    assert!(w[0].message.contains("RST outside the window ignored"));
    // A RST a little ahead of the next byte (within the window) is believed.
    r.process(&seg(true, 2000, Some(502), "R", b""), at(8), &mut s);
    assert_eq!(s.bytes, [b"abef".to_vec(), b"cd".to_vec()]);
    assert!(s
        .closes
        .contains(&(Direction::ServerToClient, CloseKind::Rst)));
    let sum: Vec<_> = r.drain_summaries().collect();
    assert_eq!(sum[0].state, TcpState::Reset);
    assert_eq!(sum[0].client_to_server.suspicious_rsts, 2);
    assert_eq!(sum[0].server_to_client.suspicious_rsts, 0);
}

#[test]
fn retransmission_differing_from_delivered_bytes_is_counted_and_the_first_copy_kept() {
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    r.process(&seg(true, 99, None, "S", b""), at(1), &mut s);
    r.process(
        &seg(true, 100, None, "", b"transfer 100 to alice"),
        at(2),
        &mut s,
    );
    r.process(
        &seg(true, 100, None, "", b"transfer 999 to mallo"),
        at(3),
        &mut s,
    );
    // An identical retransmission, then one half old, half new: only the old half is
    // compared, and it agrees.
    r.process(
        &seg(true, 100, None, "", b"transfer 100 to alice"),
        at(4),
        &mut s,
    );
    r.process(&seg(true, 116, None, "", b"alice!"), at(5), &mut s);
    let w: Vec<_> = r.drain_warnings().collect();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].packet, 3);
    assert_eq!(
        w[0].message,
        "flow 0 client_to_server: retransmission differs from the bytes already delivered: \
         first copy kept (8 bytes differ)"
    );
    r.finish(&mut s);
    assert_eq!(s.bytes[0], b"transfer 100 to alice!");
    let sum: Vec<_> = r.drain_summaries().collect();
    let c = &sum[0].client_to_server;
    assert_eq!(
        (c.conflicting_bytes, c.conflicts, c.retransmissions),
        (8, 1, 3)
    );
}

#[test]
fn conflicts_with_held_bytes_are_warned_about_too() {
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    r.process(&seg(true, 99, None, "S", b""), at(1), &mut s);
    r.process(&seg(true, 104, None, "", b"efgh"), at(2), &mut s);
    r.process(&seg(true, 104, None, "", b"eXgh"), at(3), &mut s);
    let w: Vec<_> = r.drain_warnings().collect();
    assert_eq!(w.len(), 1);
    assert!(w[0]
        .message
        .contains("the bytes held out of order: first copy kept (1 bytes differ)"));
}

#[test]
fn windows_of_delivered_bytes_share_a_budget() {
    let mut r = Reassembler::new(Config {
        max_recent_total: 1,
        ..Config::default()
    });
    let mut s = Collect::default();
    // The first flow's window grows (nothing is held yet); the second's cannot.
    r.process(&seg(true, 99, None, "S", b""), at(1), &mut s);
    r.process(&seg(true, 100, None, "", b"abcd"), at(2), &mut s);
    let other = TcpSegment {
        src: "10.0.0.3:40000".parse().unwrap(),
        ..seg(true, 99, None, "S", b"")
    };
    r.process(&other, at(3), &mut s);
    r.process(
        &TcpSegment {
            seq: 100,
            payload: b"abcd",
            flags: TcpFlags::default(),
            ..other.clone()
        },
        at(4),
        &mut s,
    );
    r.process(
        &TcpSegment {
            seq: 100,
            payload: b"XXXX",
            flags: TcpFlags::default(),
            ..other.clone()
        },
        at(5),
        &mut s,
    );
    r.process(&seg(true, 100, None, "", b"XXXX"), at(6), &mut s);
    assert!(r.recent_total >= 4 && r.recent_total <= half::RECENT_WINDOW);
    r.finish(&mut s);
    assert_eq!(r.recent_total, 0);
    let sum: Vec<_> = r.drain_summaries().collect();
    assert_eq!(sum[0].client_to_server.conflicting_bytes, 4);
    assert_eq!(sum[1].client_to_server.conflicting_bytes, 0);
}

#[test]
fn an_ack_captured_before_its_data_leaves_no_gap() {
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    r.process(&seg(true, 99, None, "S", b""), at(1), &mut s);
    r.process(&seg(false, 499, Some(100), "S", b""), at(2), &mut s);
    // The server's ACK of both segments is captured before either.
    r.process(&seg(false, 500, Some(108), "", b""), at(3), &mut s);
    r.process(&seg(true, 100, Some(500), "", b"abcd"), at(4), &mut s);
    r.process(&seg(true, 104, Some(500), "", b"efgh"), at(5), &mut s);
    r.finish(&mut s);
    assert_eq!(s.bytes[0], b"abcdefgh");
    assert!(s.gaps[0].is_empty());
    let sum: Vec<_> = r.drain_summaries().collect();
    assert_eq!(sum[0].client_to_server.retransmissions, 0);
}

#[test]
fn an_acknowledged_hole_becomes_a_gap_after_a_bounded_number_of_packets() {
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    r.process(&seg(true, 99, None, "S", b""), at(1), &mut s);
    r.process(&seg(true, 100, None, "", b"ab"), at(2), &mut s);
    // 102..110 never captured; the server acknowledges it, then only talks.
    r.process(&seg(false, 500, Some(110), "", b""), at(3), &mut s);
    let mut n = 4;
    while s.gaps[0].is_empty() && n < 100 {
        r.process(&seg(false, 500, Some(110), "", b""), at(n), &mut s);
        n += 1;
    }
    assert_eq!(s.gaps[0], vec![(2, 8)]);
    assert_eq!(n - 3, half::ACK_GRACE_PACKETS + 1);
}

#[test]
fn a_reused_address_pair_whose_syn_was_not_captured_starts_a_new_connection() {
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    r.process(&seg(true, 99, None, "S", b""), at(1), &mut s);
    r.process(&seg(false, 499, Some(100), "S", b""), at(2), &mut s);
    r.process(&seg(true, 100, Some(500), "F", b"old"), at(3), &mut s);
    r.process(&seg(false, 500, Some(104), "F", b""), at(4), &mut s);
    assert_eq!(s.ended, vec![0]);
    // A late retransmission and the same SYN-ACK again belong to the old connection.
    r.process(&seg(true, 100, Some(501), "", b"old"), at(5), &mut s);
    r.process(&seg(false, 499, Some(100), "S", b""), at(6), &mut s);
    assert_eq!(s.opened.len(), 1);
    // A SYN-ACK of other sequence numbers: the SYN was not captured.
    r.process(&seg(false, 9000, Some(7001), "S", b""), at(7), &mut s);
    r.process(&seg(true, 7001, Some(9001), "", b"new"), at(8), &mut s);
    assert_eq!(s.opened.len(), 2);
    assert!(s.opened[1].roles_known);
    assert_eq!(s.opened[1].client, C.parse().unwrap());
    r.process(&seg(true, 7004, Some(9001), "F", b""), at(9), &mut s);
    r.process(&seg(false, 9001, Some(7005), "F", b""), at(10), &mut s);
    // Data far from the old sequence numbers, without any handshake.
    r.process(
        &seg(true, 3_000_000, Some(40), "", b"third"),
        at(11),
        &mut s,
    );
    r.finish(&mut s);
    assert_eq!(s.opened.len(), 3);
    assert_eq!(s.ended, vec![0, 1, 2]);
    assert_eq!(s.bytes[0], b"oldnewthird");
    let sum: Vec<_> = r.drain_summaries().collect();
    assert_eq!(sum[0].state, TcpState::Closed);
    assert_eq!(sum[1].state, TcpState::Closed);
    assert_eq!(sum[2].state, TcpState::Open);
}

/// The connection keeps its first packet's tunnels; each direction compares its packets
/// with its own first (the way back may come through other outer addresses), counting
/// and warning once about those that differ. The Community ID is the inner addresses'.
#[test]
fn encapsulation_of_the_first_packet_and_mismatches() {
    use crate::capture::tunnel::{Encap, Tunnel, TunnelKind};
    let vxlan = |vni, outer: (&str, &str)| {
        Encap::new(&[Tunnel {
            kind: TunnelKind::Vxlan { vni },
            outer: Some((outer.0.parse().unwrap(), outer.1.parse().unwrap())),
        }])
    };
    let there = vxlan(7, ("192.0.2.1", "192.0.2.2"));
    let back = vxlan(7, ("192.0.2.2", "192.0.2.1"));
    let mut r = Reassembler::new(Config::default());
    let mut s = Collect::default();
    let via = |e: &Encap, sg: TcpSegment<'static>| TcpSegment {
        encap: e.clone(),
        ..sg
    };
    r.process(&via(&there, seg(true, 99, None, "S", b"")), at(1), &mut s);
    r.process(
        &via(&back, seg(false, 499, Some(100), "S", b"")),
        at(2),
        &mut s,
    );
    r.process(
        &via(&there, seg(true, 100, Some(500), "", b"ab")),
        at(3),
        &mut s,
    );
    r.process(&seg(true, 102, Some(500), "", b"cd"), at(4), &mut s);
    let other = vxlan(8, ("192.0.2.1", "192.0.2.2"));
    r.process(
        &via(&other, seg(true, 104, Some(500), "", b"ef")),
        at(5),
        &mut s,
    );
    r.process(
        &via(&back, seg(false, 500, Some(106), "", b"ok")),
        at(6),
        &mut s,
    );
    assert_eq!(s.bytes[0], b"abcdef");
    assert_eq!(s.opened[0].encapsulation, there);
    let id = CommunityId::tcp(C.parse().unwrap(), S.parse().unwrap());
    assert_eq!(s.opened[0].community_id, id);
    let warned: Vec<_> = r
        .drain_warnings()
        .filter(|w| w.kind == "encapsulation changed")
        .map(|w| w.packet)
        .collect();
    assert_eq!(warned, vec![4]);
    r.finish(&mut s);
    let sum: Vec<_> = r.drain_summaries().collect();
    assert_eq!(sum[0].community_id, id);
    assert_eq!(sum[0].encapsulation, there);
    assert_eq!(sum[0].client_to_server.encapsulation_mismatches, 2);
    assert_eq!(sum[0].server_to_client.encapsulation_mismatches, 0);
    let json = serde_json::to_value(&sum[0]).unwrap();
    assert_eq!(json["encapsulation"][0]["vni"], 7);
    assert_eq!(json["client_to_server"]["encapsulation_mismatches"], 2);
    assert!(json["server_to_client"]
        .get("encapsulation_mismatches")
        .is_none());
}
