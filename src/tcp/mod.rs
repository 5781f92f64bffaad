//! TCP reassembly: per connection and per direction, an ordered byte stream with gaps.
//!
//! [`Reassembler::process`] takes decoded segments in capture order and reports to a
//! [`StreamSink`]: bytes in sequence order whatever the capture order (out-of-order
//! segments, retransmissions, partial and full overlaps — first copy wins, differing
//! overlaps are counted — and sequence-number wraparound), gaps that can no longer fill,
//! and closes. Sequence numbers are unwrapped into 64-bit stream offsets relative to the
//! next expected byte, so a stream may run past 4 GiB.
//!
//! A hole becomes a gap when the peer acknowledged bytes beyond it (the receiver has
//! them, the capture does not), when the direction ends (FIN, RST, end of capture), or
//! when the bytes held out of order exceed the configured cap.

pub mod stream;

use crate::capture::packet::TcpSegment;
use crate::tcp::stream::{Carries, CloseKind, Direction, FlowInfo, Provenance, StreamSink};
use crate::util::hash::FoldBuild;
use crate::util::time::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

/// Bytes each segment held out of order counts for besides its data (its bookkeeping),
/// so that a flood of tiny segments is bounded like a few big ones.
pub const SEGMENT_OVERHEAD: usize = 64;

/// Limits that keep memory bounded whatever the capture holds.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Out-of-order bytes held per direction before the first hole is declared a gap
    /// (each segment counts [`SEGMENT_OVERHEAD`] bytes more than its data).
    pub max_ooo_bytes: usize,
    /// Out-of-order bytes held across all flows before the largest holder is flushed
    /// (counted as for `max_ooo_bytes`).
    pub max_ooo_total: usize,
    /// Connections tracked at once; beyond it the least recently active are evicted.
    pub max_flows: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_ooo_bytes: 4 << 20,
            max_ooo_total: 256 << 20,
            max_flows: 200_000,
        }
    }
}

/// Counters for one direction of a connection.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct DirStats {
    /// Packets seen in this direction.
    pub packets: u64,
    /// Payload bytes captured (including retransmitted copies).
    pub payload_bytes: u64,
    /// Bytes delivered in order to the sink.
    pub delivered_bytes: u64,
    /// Holes that never filled.
    pub gaps: u64,
    /// Bytes lost in those holes.
    pub gap_bytes: u64,
    /// Segments (or parts) that repeated bytes already seen.
    pub retransmissions: u64,
    /// Repeated bytes that differed from the first copy.
    pub conflicting_bytes: u64,
    /// Segments that arrived ahead of a hole and were held.
    pub out_of_order: u64,
    /// Times the out-of-order cap forced a gap.
    pub ooo_limit_hits: u64,
    /// Payload bytes cut off by the snap length.
    pub snaplen_cut_bytes: u64,
    /// FIN seen.
    pub fin: bool,
    /// RST seen.
    pub rst: bool,
}

/// What the reassembler knows of a connection when it ends.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FlowSummary {
    /// Always `"tcp"`: the record kind in JSON output.
    pub record: &'static str,
    /// Connection index (0-based, like Wireshark's `tcp.stream`).
    pub flow: u64,
    /// Client `IP:PORT`.
    pub client: String,
    /// Server `IP:PORT`.
    pub server: String,
    /// Whether roles come from a SYN (else guessed: lower port is the server).
    pub roles_known: bool,
    /// `closed` (FIN both ways), `reset`, `half_closed`, `open` (at end of capture), `evicted`.
    pub state: String,
    /// First packet time (RFC 3339).
    pub first_seen: String,
    /// Last packet time (RFC 3339).
    pub last_seen: String,
    /// Client→server counters.
    pub client_to_server: DirStats,
    /// Server→client counters.
    pub server_to_client: DirStats,
}

#[derive(Debug)]
struct Pending {
    data: Vec<u8>,
    at: Provenance,
}

#[derive(Debug, Default)]
struct Half {
    /// Sequence number of stream offset 0 (set by SYN or the first segment seen).
    base: Option<u32>,
    /// Next stream offset expected.
    next: u64,
    /// Highest offset the peer acknowledged.
    acked: u64,
    /// Segments held ahead of a hole, keyed by stream offset.
    pending: BTreeMap<u64, Pending>,
    pending_bytes: usize,
    /// Stream offset of the FIN, once seen.
    fin_at: Option<u64>,
    closed: bool,
    stats: DirStats,
}

impl Half {
    /// Stream offset of `seq`, unwrapped around the next expected offset.
    fn offset(&self, base: u32, seq: u32) -> i128 {
        let next_seq = base.wrapping_add(self.next as u32);
        self.next as i128 + seq.wrapping_sub(next_seq) as i32 as i128
    }
}

struct Flow {
    info: FlowInfo,
    halves: [Half; 2],
    first: Timestamp,
    last: Timestamp,
    last_packet: u64,
    ended: bool,
    evicted: bool,
}

/// A warning the caller prints, tied to a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// 1-based packet number.
    pub packet: u64,
    /// What happened.
    pub message: String,
}

/// Turns TCP segments into per-direction ordered streams. See the module docs.
pub struct Reassembler {
    config: Config,
    /// Boxed: the table of a flood of connections stays small while it grows.
    flows: HashMap<(SocketAddr, SocketAddr), Box<Flow>, FoldBuild>,
    next_id: u64,
    ooo_total: usize,
    summaries: Vec<FlowSummary>,
    warnings: Vec<Warning>,
    /// Flows left to end at the end of the capture, last first (see
    /// [`Reassembler::finish_some`]).
    closing: Option<Vec<(u64, (SocketAddr, SocketAddr))>>,
}

fn key(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl Reassembler {
    /// A reassembler with the given limits.
    pub fn new(config: Config) -> Self {
        Reassembler {
            config,
            flows: HashMap::default(),
            next_id: 0,
            ooo_total: 0,
            summaries: Vec::new(),
            warnings: Vec::new(),
            closing: None,
        }
    }

    /// Summaries of the flows that ended since the last call, in the order they ended.
    pub fn drain_summaries(&mut self) -> std::vec::Drain<'_, FlowSummary> {
        self.summaries.drain(..)
    }

    /// Warnings (limits hit, flows evicted) since the last call.
    pub fn drain_warnings(&mut self) -> std::vec::Drain<'_, Warning> {
        self.warnings.drain(..)
    }

    /// Connections seen so far (open or ended), for progress reports.
    pub fn flows_seen(&self) -> u64 {
        self.next_id
    }

    /// Feeds one segment captured at `at`.
    pub fn process(&mut self, seg: &TcpSegment<'_>, at: Provenance, sink: &mut dyn StreamSink) {
        let k = key(seg.src, seg.dst);
        let new_syn = seg.flags.syn && !seg.flags.ack;
        // Known: the flow is tracked and this segment is not a SYN starting a new one.
        let known = match self.flows.get(&k) {
            None => false,
            Some(_) if !new_syn => true,
            Some(flow) => {
                let client_half = &flow.halves[0];
                let same_isn = flow.info.client == seg.src
                    && client_half.base == Some(seg.seq.wrapping_add(1));
                let done = flow.ended || flow.halves.iter().any(|h| h.closed || h.fin_at.is_some());
                let restart =
                    !same_isn && (done || flow.info.client != seg.src || client_half.next > 0);
                if restart {
                    if let Some(mut flow) = self.flows.remove(&k) {
                        let released = Self::end_flow(
                            &mut flow,
                            CloseKind::EndOfCapture,
                            &mut self.summaries,
                            sink,
                        );
                        self.ooo_total = self.ooo_total.saturating_sub(released);
                    }
                }
                !restart
            }
        };
        if !known {
            self.make_room(at, sink);
            let (client, server, roles_known) = if seg.flags.syn {
                if seg.flags.ack {
                    (seg.dst, seg.src, true)
                } else {
                    (seg.src, seg.dst, true)
                }
            } else if seg.src.port() < seg.dst.port() {
                (seg.dst, seg.src, false)
            } else {
                (seg.src, seg.dst, false)
            };
            let info = FlowInfo {
                id: self.next_id,
                client,
                server,
                roles_known,
                sub: None,
                carries: Carries::Unknown,
            };
            self.next_id += 1;
            sink.open(&info);
            self.flows.insert(
                k,
                Box::new(Flow {
                    info,
                    halves: [Half::default(), Half::default()],
                    first: at.ts,
                    last: at.ts,
                    last_packet: at.packet,
                    ended: false,
                    evicted: false,
                }),
            );
        }
        let Some(flow) = self.flows.get_mut(&k) else {
            return;
        };
        flow.last = at.ts;
        flow.last_packet = at.packet;
        if flow.ended {
            return;
        }
        let dir = if seg.src == flow.info.client {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        let hits_before = flow.halves[dir.index()].stats.ooo_limit_hits;
        let released = Self::segment(flow, dir, seg, at, &self.config, sink);
        if flow.halves[dir.index()].stats.ooo_limit_hits > hits_before {
            self.warnings.push(Warning {
                packet: at.packet,
                message: format!(
                    "flow {} {dir}: out-of-order buffer limit ({} bytes) hit, hole declared a gap",
                    flow.info.id, self.config.max_ooo_bytes
                ),
            });
        }
        // Add before subtracting: a segment's own bytes may be released at once.
        self.ooo_total = (self.ooo_total + released.1).saturating_sub(released.0);
        if flow.halves.iter().all(|h| h.closed) {
            // Ended flows stay in the table as small tombstones, so that late ACKs and
            // retransmissions are counted on the same connection (as Wireshark does).
            let released = Self::end_flow(flow, CloseKind::Fin, &mut self.summaries, sink);
            self.ooo_total = self.ooo_total.saturating_sub(released);
        } else if self.ooo_total > self.config.max_ooo_total {
            self.flush_largest(at, sink);
        }
    }

    /// Handles one segment of one direction. Returns (bytes released from, bytes added to)
    /// the out-of-order buffers.
    fn segment(
        flow: &mut Flow,
        dir: Direction,
        seg: &TcpSegment<'_>,
        at: Provenance,
        config: &Config,
        sink: &mut dyn StreamSink,
    ) -> (usize, usize) {
        let mut released = 0;
        let mut added = 0;
        let info = &flow.info;
        let (mine, peer) = {
            let [a, b] = &mut flow.halves;
            match dir {
                Direction::ClientToServer => (a, b),
                Direction::ServerToClient => (b, a),
            }
        };
        mine.stats.packets += 1;
        mine.stats.payload_bytes += seg.payload.len() as u64;
        mine.stats.snaplen_cut_bytes += seg.missing as u64;
        // This segment's ACK tells how far this side received the peer's bytes (the
        // FIN's sequence number is not a byte: an ACK of it stops at the FIN).
        if seg.flags.ack {
            if let Some(pbase) = peer.base {
                let mut off = peer.offset(pbase, seg.ack);
                if let Some(fin) = peer.fin_at {
                    off = off.min(fin as i128);
                }
                if off > peer.acked as i128 && off <= peer.next as i128 + (1i128 << 31) {
                    peer.acked = off as u64;
                }
            }
        }
        if mine.closed {
            // A RST after this side's FIN still ends the other direction.
            if seg.flags.rst {
                mine.stats.rst = true;
                released += Self::close_half(peer, info, dir.reverse(), CloseKind::Rst, at, sink);
            }
            return (released, 0);
        }
        let mut seq = seg.seq;
        if seg.flags.syn {
            if mine.base.is_none() || (mine.next == 0 && mine.pending.is_empty()) {
                mine.base = Some(seq.wrapping_add(1));
            }
            seq = seq.wrapping_add(1);
        }
        let base = *mine.base.get_or_insert(seq);
        let off = mine.offset(base, seq);
        let len = seg.payload.len() as i128;
        let end_with_missing = off + len + seg.missing as i128;
        if seg.flags.fin && mine.fin_at.is_none() && end_with_missing >= mine.next as i128 {
            mine.fin_at = Some(end_with_missing as u64);
            mine.stats.fin = true;
        }
        if len > 0 {
            let (rel, add) = Self::insert(mine, info, dir, off, seg.payload, at, config, sink);
            released += rel;
            added += add;
        }
        // Declare holes the peer already acknowledged: those bytes will not come again.
        let acked = mine.fin_at.map_or(mine.acked, |fin| mine.acked.min(fin));
        if acked > mine.next {
            released += Self::skip_to(mine, info, dir, acked, at, sink);
        }
        if seg.flags.rst {
            mine.stats.rst = true;
            released += Self::close_half(mine, info, dir, CloseKind::Rst, at, sink);
            released += Self::close_half(peer, info, dir.reverse(), CloseKind::Rst, at, sink);
            return (released, added);
        }
        if let Some(fin) = mine.fin_at {
            if mine.next >= fin {
                mine.closed = true;
                // Bytes held beyond the FIN are not part of the stream: drop them, or
                // they would stay counted (and be flushed onto an ended flow later).
                released += std::mem::take(&mut mine.pending_bytes);
                mine.pending.clear();
                sink.close(info, dir, CloseKind::Fin, at);
            }
        }
        (released, added)
    }

    /// Adds captured bytes at stream offset `off`; delivers what became contiguous.
    #[allow(clippy::too_many_arguments)]
    fn insert(
        h: &mut Half,
        info: &FlowInfo,
        dir: Direction,
        off: i128,
        data: &[u8],
        at: Provenance,
        config: &Config,
        sink: &mut dyn StreamSink,
    ) -> (usize, usize) {
        let mut released = 0;
        let mut added = 0;
        let next = h.next as i128;
        let end = off + data.len() as i128;
        if end <= next {
            h.stats.retransmissions += 1;
            return (0, 0);
        }
        let (off, data) = if off < next {
            h.stats.retransmissions += 1;
            (next, &data[(next - off) as usize..])
        } else {
            (off, data)
        };
        let off = off as u64;
        if off == h.next && h.pending.is_empty() {
            // The common case: in order, nothing held. Deliver straight from the packet.
            h.next += data.len() as u64;
            h.stats.delivered_bytes += data.len() as u64;
            sink.data(info, dir, data, at);
            return (0, 0);
        }
        // Cut the segment into the pieces not already held (first copy wins).
        let mut pieces: Vec<(u64, &[u8])> = Vec::new();
        let mut cur = off;
        let seg_end = off + data.len() as u64;
        let mut overlap = false;
        // Held pieces never overlap: only the last one starting before `off` can reach
        // into the segment, then those starting inside it. (Scanning every piece before
        // the segment made a flood of small out-of-order segments quadratic.)
        let mut starts: Vec<u64> = h
            .pending
            .range(..off)
            .next_back()
            .filter(|(s, p)| **s + p.data.len() as u64 > off)
            .map(|(s, _)| *s)
            .into_iter()
            .collect();
        starts.extend(h.pending.range(off..seg_end).map(|(s, _)| *s));
        for s in starts {
            let p = &h.pending[&s];
            let p_end = s + p.data.len() as u64;
            if s > cur {
                pieces.push((cur, &data[(cur - off) as usize..(s - off) as usize]));
            }
            let ov_start = s.max(off);
            let ov_end = p_end.min(seg_end);
            if ov_start < ov_end {
                overlap = true;
                let mine = &data[(ov_start - off) as usize..(ov_end - off) as usize];
                let theirs = &p.data[(ov_start - s) as usize..(ov_end - s) as usize];
                h.stats.conflicting_bytes +=
                    mine.iter().zip(theirs).filter(|(a, b)| a != b).count() as u64;
            }
            cur = cur.max(p_end);
        }
        if cur < seg_end {
            pieces.push((cur, &data[(cur - off) as usize..]));
        }
        if overlap {
            h.stats.retransmissions += 1;
        }
        if off > h.next {
            h.stats.out_of_order += 1;
        }
        for (o, d) in pieces {
            if d.is_empty() {
                continue;
            }
            h.pending_bytes += d.len() + SEGMENT_OVERHEAD;
            added += d.len() + SEGMENT_OVERHEAD;
            h.pending.insert(
                o,
                Pending {
                    data: d.to_vec(),
                    at,
                },
            );
        }
        released += Self::deliver(h, info, dir, sink);
        if h.pending_bytes > config.max_ooo_bytes {
            h.stats.ooo_limit_hits += 1;
            if let Some((&first, _)) = h.pending.iter().next() {
                released += Self::skip_to(h, info, dir, first, at, sink);
            }
        }
        (released, added)
    }

    /// Delivers held segments that are now contiguous. Returns bytes released.
    fn deliver(h: &mut Half, info: &FlowInfo, dir: Direction, sink: &mut dyn StreamSink) -> usize {
        let mut released = 0;
        while let Some(entry) = h.pending.first_entry() {
            let s = *entry.key();
            if s > h.next {
                break;
            }
            let p = entry.remove();
            h.pending_bytes -= p.data.len() + SEGMENT_OVERHEAD;
            released += p.data.len() + SEGMENT_OVERHEAD;
            let end = s + p.data.len() as u64;
            if end > h.next {
                let part = &p.data[(h.next - s) as usize..];
                h.next = end;
                h.stats.delivered_bytes += part.len() as u64;
                sink.data(info, dir, part, p.at);
            }
        }
        released
    }

    /// Declares everything before `to` that was not captured a gap and delivers on.
    fn skip_to(
        h: &mut Half,
        info: &FlowInfo,
        dir: Direction,
        to: u64,
        at: Provenance,
        sink: &mut dyn StreamSink,
    ) -> usize {
        let mut released = 0;
        while h.next < to {
            let hole_end = match h.pending.first_key_value() {
                Some((&s, _)) if s <= h.next => {
                    released += Self::deliver(h, info, dir, sink);
                    continue;
                }
                Some((&s, _)) => s.min(to),
                None => to,
            };
            let len = hole_end - h.next;
            let gap_at = h.pending.get(&hole_end).map(|p| p.at).unwrap_or(at);
            h.stats.gaps += 1;
            h.stats.gap_bytes += len;
            sink.gap(info, dir, len, gap_at);
            h.next = hole_end;
            released += Self::deliver(h, info, dir, sink);
        }
        released
    }

    /// Ends one direction: every hole left becomes a gap, everything held is delivered.
    fn close_half(
        h: &mut Half,
        info: &FlowInfo,
        dir: Direction,
        kind: CloseKind,
        at: Provenance,
        sink: &mut dyn StreamSink,
    ) -> usize {
        if h.closed {
            return 0;
        }
        let mut target = h.acked.max(h.next);
        if let Some((&s, p)) = h.pending.last_key_value() {
            target = target.max(s + p.data.len() as u64);
        }
        if let Some(fin) = h.fin_at {
            // The stream ends at its FIN, whatever was acknowledged or held beyond it.
            target = fin.max(h.next);
        }
        let mut released = Self::skip_to(h, info, dir, target, at, sink);
        // Anything still held lies beyond the FIN: not part of the stream.
        released += std::mem::take(&mut h.pending_bytes);
        h.pending.clear();
        h.closed = true;
        let kind = match (kind, h.fin_at) {
            (CloseKind::EndOfCapture, Some(_)) => CloseKind::Fin,
            (k, _) => k,
        };
        if h.base.is_some() || kind != CloseKind::EndOfCapture {
            sink.close(info, dir, kind, at);
        }
        released
    }

    /// Flushes and ends a flow (once), recording its summary. Returns bytes released.
    fn end_flow(
        flow: &mut Flow,
        kind: CloseKind,
        summaries: &mut Vec<FlowSummary>,
        sink: &mut dyn StreamSink,
    ) -> usize {
        if flow.ended {
            return 0;
        }
        let at = Provenance {
            packet: flow.last_packet,
            ts: flow.last,
        };
        let mut released = 0;
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            released += Self::close_half(
                &mut flow.halves[dir.index()],
                &flow.info,
                dir,
                kind,
                at,
                sink,
            );
        }
        flow.ended = true;
        sink.end(&flow.info);
        let [c, s] = &flow.halves;
        let state = if flow.evicted {
            "evicted"
        } else if c.stats.rst || s.stats.rst {
            "reset"
        } else if c.stats.fin && s.stats.fin {
            "closed"
        } else if c.stats.fin || s.stats.fin {
            "half_closed"
        } else {
            "open"
        };
        summaries.push(FlowSummary {
            record: "tcp",
            flow: flow.info.id,
            client: flow.info.client.to_string(),
            server: flow.info.server.to_string(),
            roles_known: flow.info.roles_known,
            state: state.into(),
            first_seen: flow.first.to_rfc3339(),
            last_seen: flow.last.to_rfc3339(),
            client_to_server: c.stats.clone(),
            server_to_client: s.stats.clone(),
        });
        released
    }

    /// Evicts the least recently active tenth of the flows when the table is full.
    fn make_room(&mut self, at: Provenance, sink: &mut dyn StreamSink) {
        if self.flows.len() < self.config.max_flows {
            return;
        }
        let mut by_age: Vec<((SocketAddr, SocketAddr), u64)> = self
            .flows
            .iter()
            .map(|(k, f)| (*k, f.last_packet))
            .collect();
        let n = (self.config.max_flows / 10).max(1).min(by_age.len());
        // Only the n oldest need ordering: select them first (linear), then sort them.
        if n < by_age.len() {
            by_age.select_nth_unstable_by_key(n, |(_, p)| *p);
            by_age.truncate(n);
        }
        by_age.sort_by_key(|(_, p)| *p);
        for (k, _) in by_age.into_iter().take(n) {
            if let Some(mut flow) = self.flows.remove(&k) {
                flow.evicted = !flow.ended;
                let released =
                    Self::end_flow(&mut flow, CloseKind::Evicted, &mut self.summaries, sink);
                self.ooo_total = self.ooo_total.saturating_sub(released);
            }
        }
        self.warnings.push(Warning {
            packet: at.packet,
            message: format!(
                "connection table full ({} flows): evicted the {n} least recently active",
                self.config.max_flows
            ),
        });
    }

    /// Flushes the flow holding the most out-of-order bytes when the global cap is hit.
    fn flush_largest(&mut self, at: Provenance, sink: &mut dyn StreamSink) {
        let Some((k, dir)) = self
            .flows
            .iter()
            .filter(|(_, f)| !f.ended)
            .flat_map(|(k, f)| {
                [Direction::ClientToServer, Direction::ServerToClient]
                    .map(|d| ((*k, d), f.halves[d.index()].pending_bytes))
            })
            .max_by_key(|(_, n)| *n)
            .map(|(kd, _)| kd)
        else {
            return;
        };
        let Some(flow) = self.flows.get_mut(&k) else {
            return;
        };
        let h = &mut flow.halves[dir.index()];
        h.stats.ooo_limit_hits += 1;
        let to = h
            .pending
            .last_key_value()
            .map(|(s, p)| s + p.data.len() as u64)
            .unwrap_or(h.next);
        let released = Self::skip_to(h, &flow.info, dir, to, at, sink);
        self.ooo_total = self.ooo_total.saturating_sub(released);
        self.warnings.push(Warning {
            packet: at.packet,
            message: format!(
                "flow {} {dir}: total out-of-order buffer limit ({} bytes) hit, holes declared gaps",
                flow.info.id, self.config.max_ooo_total
            ),
        });
    }

    /// End of capture: every flow still open is flushed and ended, in flow order.
    pub fn finish(&mut self, sink: &mut dyn StreamSink) {
        while self.finish_some(sink, usize::MAX) {}
    }

    /// End of capture, a step at a time: ends at most `max` of the flows still tracked,
    /// in flow order, and returns true while some are left. Draining summaries between
    /// steps keeps memory flat when the table holds many flows.
    pub fn finish_some(&mut self, sink: &mut dyn StreamSink, max: usize) -> bool {
        let flows = &self.flows;
        let list = self.closing.get_or_insert_with(|| {
            let mut v: Vec<(u64, (SocketAddr, SocketAddr))> =
                flows.iter().map(|(k, f)| (f.info.id, *k)).collect();
            v.sort_unstable_by(|a, b| b.cmp(a));
            v
        });
        for _ in 0..max {
            let Some((_, k)) = list.pop() else {
                self.closing = None;
                self.flows = HashMap::default();
                self.ooo_total = 0;
                return false;
            };
            if let Some(mut f) = self.flows.remove(&k) {
                Self::end_flow(&mut f, CloseKind::EndOfCapture, &mut self.summaries, sink);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::packet::TcpFlags;
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
            missing: 0,
        }
    }

    fn at(n: u64) -> Provenance {
        Provenance {
            packet: n,
            ts: Timestamp::default(),
        }
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
        assert_eq!(sum[0].state, "closed");
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
        assert_eq!(sum[0].state, "open");
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
        assert_eq!(sum[1].state, "reset");
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
        assert_eq!(sum[0].state, "reset");
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
}
