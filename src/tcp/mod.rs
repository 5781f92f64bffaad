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
//! them, the capture does not) and a later segment of its direction or a few packets
//! confirm it (an ACK may be captured before the data it acknowledges), when the
//! direction ends (FIN, RST, end of capture), or when the bytes held out of order exceed
//! the configured cap.
//!
//! An ended connection stays as a tombstone, so that its late segments are counted on
//! it; a new connection on the same addresses starts with a SYN, or, when its SYN was
//! not captured, with a SYN-ACK or data far from the old sequence numbers.
//!
//! A RST ends both directions only when its sequence number lies within the window of
//! the direction it is sent on (RFC 5961); one far outside is likely forged, and is
//! counted and warned about instead.
//!
//! The work is split by scope: `half.rs` holds one direction (sequence numbers, the
//! segments held ahead of a hole, gaps), `flow.rs` one connection (what a segment does
//! to both of its directions, the summary at its end), `limits.rs` what happens when the
//! table or the total of held bytes is full, and `summary.rs` the records of the `tcp`
//! view ([`FlowSummary`], [`DirStats`]). This file holds the settings and the table of
//! connections, keyed by address pair, which [`Reassembler::process`] looks up per
//! segment.

mod flow;
mod half;
mod limits;
pub mod shard;
pub mod stream;
mod summary;

pub use summary::{DirStats, FlowSummary, TcpState};

use crate::capture::packet::TcpSegment;
use crate::tcp::flow::Flow;
use crate::tcp::half::{Conflict, Half};
use crate::tcp::stream::{Carries, CloseKind, Direction, FlowInfo, Provenance, StreamSink};
use crate::util::community_id::CommunityId;
use crate::util::hash::FoldBuild;
use std::collections::HashMap;
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
    /// Bytes of the windows of recently delivered bytes (up to 64 KiB per direction,
    /// kept to compare retransmissions with) across all flows; past it, windows stop
    /// growing (a direction without one leaves its retransmissions unchecked).
    pub max_recent_total: usize,
    /// Only this shard's connections come out (`--shard K/N`; see [`shard`]).
    pub shard: Option<shard::Shard>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_ooo_bytes: 4 << 20,
            max_ooo_total: 256 << 20,
            max_flows: 200_000,
            max_recent_total: 64 << 20,
            shard: None,
        }
    }
}

/// A warning the caller prints, tied to a packet (the stages above TCP give the same
/// type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// 1-based packet number.
    pub packet: u64,
    /// What kind of warning this is, the same for every warning of the kind: how a
    /// printer limits them.
    pub kind: &'static str,
    /// What happened.
    pub message: String,
}

/// Turns TCP segments into per-direction ordered streams. See the module docs.
pub struct Reassembler {
    config: Config,
    /// Boxed: the table of a flood of connections stays small while it grows.
    flows: HashMap<(SocketAddr, SocketAddr), Box<Flow>, FoldBuild>,
    next_id: u64,
    /// Segments processed (what a flow's age is counted in).
    packets: u64,
    ooo_total: usize,
    /// Memory held by the windows of recently delivered bytes of all flows.
    recent_total: usize,
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
            packets: 0,
            ooo_total: 0,
            recent_total: 0,
            summaries: Vec::new(),
            warnings: Vec::new(),
            closing: None,
        }
    }

    /// Summaries of the flows that ended since the last call, in the order they ended.
    pub fn drain_summaries(&mut self) -> std::vec::Drain<'_, FlowSummary> {
        if let Some(s) = self.config.shard {
            self.summaries.retain(|f| s.owns(f.client.0, f.server.0));
        }
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
        let sink = &mut shard::Sharded {
            shard: self.config.shard,
            inner: sink,
        };
        self.packets += 1;
        let k = key(seg.src, seg.dst);
        let new_syn = seg.flags.syn && !seg.flags.ack;
        // Known: the flow is tracked and this segment is not a SYN starting a new one.
        let known = match self.flows.get(&k) {
            None => false,
            Some(flow) if flow.ended && flow.starts_anew(seg) => {
                // The tombstone holds nothing: dropping it ends nothing twice.
                self.flows.remove(&k);
                false
            }
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
                        self.recent_total = self.recent_total.saturating_sub(flow.recent_bytes());
                        let released = flow.end(CloseKind::EndOfCapture, &mut self.summaries, sink);
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
                community_id: CommunityId::tcp(client, server),
                encapsulation: seg.encap.clone(),
                roles_known,
                sub: None,
                carries: Carries::Unknown,
                tls: None,
                h2: None,
                packets: [at.packet; 2],
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
                    age: self.packets,
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
        flow.age = self.packets;
        if flow.ended {
            return;
        }
        let dir = if seg.src == flow.info.client {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        let recent_before = flow.recent_bytes();
        let grows = self.recent_total < self.config.max_recent_total;
        for h in &mut flow.halves {
            h.recent_grows = grows;
        }
        let conflicts_before = flow.halves[dir.index()].stats.conflicts;
        let hits_before = flow.halves[dir.index()].stats.ooo_limit_hits;
        let rsts_before = flow.halves[dir.index()].stats.suspicious_rsts;
        let mismatches_before = flow.halves[dir.index()].stats.encapsulation_mismatches;
        let released = flow.segment(dir, seg, at, &self.config, sink);
        // Another shard's connection is another task's to warn about (hashed only when
        // there is a warning: this runs for every segment).
        let shard = self.config.shard;
        let info = &flow.info;
        let mut warn = |w: Warning| {
            if shard.is_none_or(|s| s.owns_flow(info)) {
                self.warnings.push(w);
            }
        };
        if mismatches_before == 0 && flow.halves[dir.index()].stats.encapsulation_mismatches > 0 {
            warn(Warning {
                packet: at.packet,
                kind: "encapsulation changed",
                message: format!(
                    "flow {} {dir}: packet came through other tunnels than the direction's first (counted as encapsulation_mismatches)",
                    flow.info.id
                ),
            });
        }
        if flow.halves[dir.index()].stats.suspicious_rsts > rsts_before {
            warn(Warning {
                packet: at.packet,
                kind: "RST outside the window",
                message: format!(
                    "flow {} {dir}: RST outside the window ignored (sequence number {})",
                    flow.info.id, seg.seq
                ),
            });
        }
        if flow.halves[dir.index()].stats.ooo_limit_hits > hits_before {
            warn(Warning {
                packet: at.packet,
                kind: "out-of-order buffer limit",
                message: format!(
                    "flow {} {dir}: out-of-order buffer limit ({} bytes) hit, hole declared a gap",
                    flow.info.id, self.config.max_ooo_bytes
                ),
            });
        }
        let h = &flow.halves[dir.index()];
        if let (true, Some(c)) = (h.stats.conflicts > conflicts_before, h.conflict) {
            let (what, n) = match c {
                Conflict::Delivered(n) => ("already delivered", n),
                Conflict::Held(n) => ("held out of order", n),
            };
            warn(Warning {
                packet: at.packet,
                kind: "conflicting retransmission",
                message: format!(
                    "flow {} {dir}: retransmission differs from the bytes {what}: first copy kept ({n} bytes differ)",
                    flow.info.id
                ),
            });
        }
        // Add before subtracting: a segment's own bytes may be released at once.
        self.ooo_total = (self.ooo_total + released.1).saturating_sub(released.0);
        if flow.halves.iter().all(|h| h.closed) {
            // Ended flows stay in the table as small tombstones, so that late ACKs and
            // retransmissions are counted on the same connection (as Wireshark does).
            let released = flow.end(CloseKind::Fin, &mut self.summaries, sink);
            self.ooo_total = self.ooo_total.saturating_sub(released);
        }
        self.recent_total = (self.recent_total + flow.recent_bytes()).saturating_sub(recent_before);
        if !flow.ended && self.ooo_total > self.config.max_ooo_total {
            self.flush_largest(at, sink);
        }
    }

    /// End of capture: every flow still open is flushed and ended, in flow order.
    pub fn finish(&mut self, sink: &mut dyn StreamSink) {
        while self.finish_some(sink, usize::MAX) {}
    }

    /// End of capture, a step at a time: ends at most `max` of the flows still tracked,
    /// in flow order, and returns true while some are left. Draining summaries between
    /// steps keeps memory flat when the table holds many flows.
    pub fn finish_some(&mut self, sink: &mut dyn StreamSink, max: usize) -> bool {
        let sink = &mut shard::Sharded {
            shard: self.config.shard,
            inner: sink,
        };
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
                self.recent_total = 0;
                return false;
            };
            if let Some(mut f) = self.flows.remove(&k) {
                f.end(CloseKind::EndOfCapture, &mut self.summaries, sink);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests;
