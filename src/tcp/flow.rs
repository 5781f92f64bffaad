//! One connection: its two directions, and what a segment does to them.
//!
//! A segment concerns both directions at once: its ACK tells how far its sender received
//! the peer's bytes (which turns acknowledged holes of the peer into gaps, once a later
//! segment of the peer shows them missing or a few packets passed: an ACK may be
//! captured before the data it acknowledges), its RST ends
//! both (unless its sequence number lies outside the window of its direction: then the
//! whole segment is ignored and counted), and its payload and FIN go to its sender's
//! direction; a segment that came through other tunnels than its direction's first is
//! counted. [`Flow::segment`] applies
//! those in that order; [`Flow::end`] closes what is left and records the connection's
//! [`FlowSummary`].

use crate::capture::packet::TcpSegment;
use crate::tcp::half::{Half, RST_WINDOW};
use crate::tcp::stream::Endpoint;
use crate::tcp::stream::{CloseKind, Direction, FlowInfo, Provenance, StreamSink};
use crate::tcp::summary::{FlowSummary, TcpState};
use crate::tcp::Config;
use crate::util::time::Timestamp;

/// A tracked connection. Once ended it stays in the table as a small tombstone.
pub(super) struct Flow {
    pub(super) info: FlowInfo,
    /// Indexed by [`Direction::index`].
    pub(super) halves: [Half; 2],
    /// Time of the first packet.
    pub(super) first: Timestamp,
    /// Time of the last packet.
    pub(super) last: Timestamp,
    /// Id of the last packet (see [`crate::capture::set`]).
    pub(super) last_packet: u64,
    /// Segments the reassembler had been given by the last packet: its age, for
    /// eviction (packet ids of several files do not tell which came later).
    pub(super) age: u64,
    /// Both directions are closed and the summary is recorded.
    pub(super) ended: bool,
    /// Ended to make room in the table rather than by the connection itself.
    pub(super) evicted: bool,
}

/// How far before the next expected byte data of an ended connection may lie and still
/// be a late retransmission of it rather than a new connection's (see
/// [`Flow::starts_anew`]).
const LATE_DATA_BEHIND: u64 = 1 << 20;

impl Flow {
    /// Whether `seg`, on the addresses of this ended connection but without a SYN of its
    /// own, starts a new connection whose SYN was not captured: a SYN-ACK other than the
    /// one of this connection, or data far from this connection's sequence numbers
    /// (more than 1 MiB behind or [`RST_WINDOW`] beyond the next byte expected).
    pub(super) fn starts_anew(&self, seg: &TcpSegment<'_>) -> bool {
        let dir = if seg.src == self.info.client {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        let h = &self.halves[dir.index()];
        if seg.flags.syn && seg.flags.ack {
            return h.base != Some(seg.seq.wrapping_add(1));
        }
        if seg.payload.is_empty() || seg.flags.syn {
            return false;
        }
        let Some(base) = h.base else {
            return true;
        };
        let off = h.offset(base, seg.seq);
        let next = h.next as i128;
        off < next - LATE_DATA_BEHIND as i128 || off > next + RST_WINDOW as i128
    }

    /// Memory held by both directions' windows of recently delivered bytes.
    pub(super) fn recent_bytes(&self) -> usize {
        self.halves.iter().map(|h| h.recent.capacity()).sum()
    }

    /// Handles one segment sent in direction `dir`. Returns (bytes released from, bytes
    /// added to) the out-of-order buffers.
    pub(super) fn segment(
        &mut self,
        dir: Direction,
        seg: &TcpSegment<'_>,
        at: Provenance,
        config: &Config,
        sink: &mut dyn StreamSink,
    ) -> (usize, usize) {
        let mut released = 0;
        let mut added = 0;
        let info = &self.info;
        let (mine, peer) = {
            let [a, b] = &mut self.halves;
            match dir {
                Direction::ClientToServer => (a, b),
                Direction::ServerToClient => (b, a),
            }
        };
        mine.stats.packets += 1;
        if mine.stats.packets == 1 {
            mine.encap = seg.encap.clone();
        } else if mine.encap != seg.encap {
            mine.stats.encapsulation_mismatches += 1;
        }
        mine.stats.payload_bytes += seg.payload.len() as u64;
        mine.stats.snaplen_cut_bytes += seg.missing as u64;
        if seg.flags.rst && !mine.rst_in_window(seg.seq) {
            // Likely forged (RFC 5961): nothing of it is believed, not even its ACK.
            mine.stats.suspicious_rsts += 1;
            return (0, 0);
        }
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
        let now = mine.stats.packets + peer.stats.packets;
        released += peer.settle_acked(info, dir.reverse(), false, now, at, sink);
        if mine.closed {
            // A RST after this side's FIN still ends the other direction.
            if seg.flags.rst {
                mine.stats.rst = true;
                released += peer.close(info, dir.reverse(), CloseKind::Rst, at, sink);
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
        let next_before = mine.next as i128;
        let len = seg.payload.len() as i128;
        let end_with_missing = off + len + seg.missing as i128;
        if seg.flags.fin && mine.fin_at.is_none() && end_with_missing >= mine.next as i128 {
            mine.fin_at = Some(end_with_missing as u64);
            mine.stats.fin = true;
        }
        if len > 0 {
            let (rel, add) = mine.insert(info, dir, off, seg.payload, at, config, sink);
            released += rel;
            added += add;
        }
        // Declare holes the peer already acknowledged, once sure: those bytes will not
        // come again.
        let evidence = off > next_before;
        released += mine.settle_acked(info, dir, evidence, now, at, sink);
        if seg.flags.rst {
            mine.stats.rst = true;
            released += mine.close(info, dir, CloseKind::Rst, at, sink);
            released += peer.close(info, dir.reverse(), CloseKind::Rst, at, sink);
            return (released, added);
        }
        if let Some(fin) = mine.fin_at {
            if mine.next >= fin {
                mine.closed = true;
                // Bytes held beyond the FIN are not part of the stream: drop them, or
                // they would stay counted (and be flushed onto an ended flow later).
                released += std::mem::take(&mut mine.pending_bytes);
                mine.pending.clear();
                mine.forget_recent();
                sink.close(info, dir, CloseKind::Fin, at);
            }
        }
        (released, added)
    }

    /// Flushes and ends the flow (once), recording its summary. Returns bytes released.
    pub(super) fn end(
        &mut self,
        kind: CloseKind,
        summaries: &mut Vec<FlowSummary>,
        sink: &mut dyn StreamSink,
    ) -> usize {
        if self.ended {
            return 0;
        }
        let at = Provenance::of(self.last_packet, self.last);
        let mut released = 0;
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            released += self.halves[dir.index()].close(&self.info, dir, kind, at, sink);
        }
        self.ended = true;
        self.info.packets[1] = self.last_packet;
        sink.end(&self.info);
        let [c, s] = &self.halves;
        summaries.push(FlowSummary {
            record: "tcp",
            flow: self.info.id,
            client: Endpoint(self.info.client),
            server: Endpoint(self.info.server),
            community_id: self.info.community_id,
            encapsulation: self.info.encapsulation.clone(),
            roles_known: self.info.roles_known,
            state: TcpState::at_end(self.evicted, &c.stats, &s.stats),
            first_seen: self.first,
            last_seen: self.last,
            packet_ids: self.info.packets,
            file: String::new(),
            packets: [0; 2],
            first_file: None,
            client_to_server: c.stats.clone(),
            server_to_client: s.stats.clone(),
        });
        released
    }
}
