//! One direction of a connection: where its stream stands, the segments held ahead of a
//! hole, and how a hole becomes a gap.
//!
//! A [`Half`] turns sequence numbers into 64-bit stream offsets around the next expected
//! byte, delivers in-order bytes straight from the packet, and keeps only what arrived
//! ahead of a hole, keyed by offset, with the first copy of every byte winning. Held
//! pieces never overlap, so a new segment is cut against at most its neighbours. Each
//! held piece counts [`SEGMENT_OVERHEAD`] bytes more than its data, and every method
//! returns the held bytes it released (and added), so that the reassembler can keep the
//! total across flows without scanning them.
//!
//! The last [`RECENT_WINDOW`] bytes delivered are kept too, so that a retransmission of
//! bytes already delivered is compared with them: the first copy is what was decoded,
//! a differing one is counted ([`Conflict`]).

use crate::capture::tunnel::Encap;
use crate::tcp::stream::{CloseKind, Direction, FlowInfo, Provenance, StreamSink};
use crate::tcp::summary::DirStats;
use crate::tcp::{Config, SEGMENT_OVERHEAD};
use std::collections::{BTreeMap, VecDeque};

/// Packets of a connection after which a hole its peer acknowledged is declared a gap
/// even without evidence from its own direction (see [`Half::settle_acked`]).
pub(super) const ACK_GRACE_PACKETS: u64 = 32;

/// Bytes last delivered that each direction keeps to compare retransmissions with.
pub(super) const RECENT_WINDOW: usize = 64 << 10;

/// A retransmission whose bytes differed from the copy kept, and how many bytes did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Conflict {
    /// With bytes already delivered.
    Delivered(u64),
    /// With bytes held out of order.
    Held(u64),
}

/// How far beyond the furthest byte known of a direction a RST's sequence number may
/// lie and still be believed. The advertised windows are not tracked, so this fixed
/// bound stands for the receive window of RFC 5961's check.
pub(super) const RST_WINDOW: u64 = 64 << 10;

/// Bytes held ahead of a hole, with the packet that carried them.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) data: Vec<u8>,
    pub(super) at: Provenance,
}

/// One direction of a connection.
#[derive(Debug, Default)]
pub(super) struct Half {
    /// Sequence number of stream offset 0 (set by SYN or the first segment seen).
    pub(super) base: Option<u32>,
    /// Next stream offset expected.
    pub(super) next: u64,
    /// Highest offset the peer acknowledged.
    pub(super) acked: u64,
    /// The connection's packet count when an acknowledged hole was first seen open.
    pub(super) acked_hole_since: Option<u64>,
    /// Segments held ahead of a hole, keyed by stream offset.
    pub(super) pending: BTreeMap<u64, Pending>,
    /// Bytes held in `pending`, each segment counting [`SEGMENT_OVERHEAD`] more.
    pub(super) pending_bytes: usize,
    /// Stream offset of the FIN, once seen.
    pub(super) fin_at: Option<u64>,
    /// The direction ended (FIN delivered, RST, end of capture, eviction).
    pub(super) closed: bool,
    /// The last bytes delivered (at most [`RECENT_WINDOW`]), ending at `next`: a
    /// retransmission over them is compared with them. Emptied at a gap.
    pub(super) recent: VecDeque<u8>,
    /// Whether `recent` may grow: the reassembler's budget across flows is not spent
    /// (else it slides at the size it has).
    pub(super) recent_grows: bool,
    /// The conflict of the last segment inserted, for the reassembler to warn about.
    pub(super) conflict: Option<Conflict>,
    /// The tunnels the direction's first packet came through: later packets are
    /// compared with it.
    pub(super) encap: Encap,
    pub(super) stats: DirStats,
}

impl Half {
    /// Stream offset of `seq`, unwrapped around the next expected offset.
    pub(super) fn offset(&self, base: u32, seq: u32) -> i128 {
        let next_seq = base.wrapping_add(self.next as u32);
        self.next as i128 + seq.wrapping_sub(next_seq) as i32 as i128
    }

    /// Whether a RST with sequence number `seq` sent in this direction is within its
    /// receive window (RFC 5961 §3): from the first byte the peer has not acknowledged
    /// (or the next one expected, if less) to [`RST_WINDOW`] beyond the furthest byte
    /// known. A RST far outside it is likely forged and ends nothing.
    pub(super) fn rst_in_window(&self, seq: u32) -> bool {
        let Some(base) = self.base else {
            return true;
        };
        let off = self.offset(base, seq);
        let held = self
            .pending
            .last_key_value()
            .map_or(0, |(s, p)| s + p.data.len() as u64);
        let known = self.next.max(self.acked).max(held);
        let low = self.next.min(self.acked);
        off >= low as i128 && off <= (known + RST_WINDOW) as i128
    }

    /// Keeps `data`, just delivered, as the last bytes of `recent`.
    fn remember(&mut self, data: &[u8]) {
        let cap = if self.recent_grows {
            RECENT_WINDOW
        } else {
            self.recent.len()
        };
        if data.len() >= cap {
            self.recent.clear();
            self.recent.extend(&data[data.len() - cap..]);
            return;
        }
        let over = (self.recent.len() + data.len()).saturating_sub(cap);
        self.recent.drain(..over);
        let need = self.recent.len() + data.len();
        if need > self.recent.capacity() {
            // Grow by doubling, but never past the window.
            let want = (self.recent.capacity() * 2).max(need).min(cap);
            self.recent.reserve_exact(want - self.recent.len());
        }
        self.recent.extend(data);
    }

    /// Forgets the bytes kept for comparison, and their memory.
    pub(super) fn forget_recent(&mut self) {
        self.recent = VecDeque::new();
    }

    /// Bytes differing between `data` at offset `off` and the delivered bytes kept
    /// (those it overlaps of the last [`RECENT_WINDOW`]).
    fn differs_from_delivered(&self, off: i128, data: &[u8]) -> u64 {
        let next = self.next as i128;
        let kept = next - self.recent.len() as i128;
        let start = off.max(kept);
        let end = (off + data.len() as i128).min(next);
        if start >= end {
            return 0;
        }
        let mine = &data[(start - off) as usize..(end - off) as usize];
        let theirs = self
            .recent
            .range((start - kept) as usize..(end - kept) as usize);
        mine.iter().zip(theirs).filter(|(a, b)| a != b).count() as u64
    }

    /// Adds captured bytes at stream offset `off`; delivers what became contiguous.
    /// Returns (bytes released from, bytes added to) the out-of-order buffer.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn insert(
        &mut self,
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
        let next = self.next as i128;
        let end = off + data.len() as i128;
        self.conflict = None;
        if off < next {
            // First copy wins: a retransmission differing from it is only counted.
            let n = self.differs_from_delivered(off, data);
            if n > 0 {
                self.stats.conflicting_bytes += n;
                self.stats.conflicts += 1;
                self.conflict = Some(Conflict::Delivered(n));
                let from = off.max(0) as u64;
                let to = end.min(next).max(0) as u64;
                sink.conflict(info, dir, from..to, at);
            }
        }
        if end <= next {
            self.stats.retransmissions += 1;
            return (0, 0);
        }
        let (off, data) = if off < next {
            self.stats.retransmissions += 1;
            (next, &data[(next - off) as usize..])
        } else {
            (off, data)
        };
        let off = off as u64;
        if off == self.next && self.pending.is_empty() {
            // The common case: in order, nothing held. Deliver straight from the packet.
            self.next += data.len() as u64;
            self.stats.delivered_bytes += data.len() as u64;
            self.remember(data);
            sink.data(info, dir, data, at);
            return (0, 0);
        }
        // Cut the segment into the pieces not already held (first copy wins).
        let mut pieces: Vec<(u64, &[u8])> = Vec::new();
        let mut cur = off;
        let seg_end = off + data.len() as u64;
        let mut overlap = false;
        let mut held_conflict = 0;
        // Held pieces never overlap: only the last one starting before `off` can reach
        // into the segment, then those starting inside it. (Scanning every piece before
        // the segment made a flood of small out-of-order segments quadratic.)
        let mut starts: Vec<u64> = self
            .pending
            .range(..off)
            .next_back()
            .filter(|(s, p)| **s + p.data.len() as u64 > off)
            .map(|(s, _)| *s)
            .into_iter()
            .collect();
        starts.extend(self.pending.range(off..seg_end).map(|(s, _)| *s));
        for s in starts {
            let p = &self.pending[&s];
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
                held_conflict += mine.iter().zip(theirs).filter(|(a, b)| a != b).count() as u64;
            }
            cur = cur.max(p_end);
        }
        if held_conflict > 0 {
            self.stats.conflicting_bytes += held_conflict;
            if self.conflict.is_none() {
                self.stats.conflicts += 1;
                self.conflict = Some(Conflict::Held(held_conflict));
            }
        }
        if cur < seg_end {
            pieces.push((cur, &data[(cur - off) as usize..]));
        }
        if overlap {
            self.stats.retransmissions += 1;
        }
        if off > self.next {
            self.stats.out_of_order += 1;
        }
        for (o, d) in pieces {
            if d.is_empty() {
                continue;
            }
            self.pending_bytes += d.len() + SEGMENT_OVERHEAD;
            added += d.len() + SEGMENT_OVERHEAD;
            self.pending.insert(
                o,
                Pending {
                    data: d.to_vec(),
                    at,
                },
            );
        }
        released += self.deliver(info, dir, sink);
        if self.pending_bytes > config.max_ooo_bytes {
            self.stats.ooo_limit_hits += 1;
            if let Some((&first, _)) = self.pending.iter().next() {
                released += self.skip_to(info, dir, first, at, sink);
            }
        }
        (released, added)
    }

    /// Delivers held segments that are now contiguous. Returns bytes released.
    pub(super) fn deliver(
        &mut self,
        info: &FlowInfo,
        dir: Direction,
        sink: &mut dyn StreamSink,
    ) -> usize {
        let mut released = 0;
        while let Some(entry) = self.pending.first_entry() {
            let s = *entry.key();
            if s > self.next {
                break;
            }
            let p = entry.remove();
            self.pending_bytes -= p.data.len() + SEGMENT_OVERHEAD;
            released += p.data.len() + SEGMENT_OVERHEAD;
            let end = s + p.data.len() as u64;
            if end > self.next {
                let part = &p.data[(self.next - s) as usize..];
                self.next = end;
                self.stats.delivered_bytes += part.len() as u64;
                self.remember(part);
                sink.data(info, dir, part, p.at);
            }
        }
        released
    }

    /// Declares the hole the peer acknowledged a gap once it is sure to be one: when
    /// `evidence` (a segment of this direction beyond the next expected byte: one
    /// direction keeps its order at the capture point) or when [`ACK_GRACE_PACKETS`]
    /// packets of the connection passed since it was first seen (`now` is the count).
    /// An ACK captured before the data it acknowledges (a SPAN port mixing two
    /// directions) so leaves no gap. Returns bytes released.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn settle_acked(
        &mut self,
        info: &FlowInfo,
        dir: Direction,
        evidence: bool,
        now: u64,
        at: Provenance,
        sink: &mut dyn StreamSink,
    ) -> usize {
        let acked = self.fin_at.map_or(self.acked, |fin| self.acked.min(fin));
        if self.closed || acked <= self.next {
            self.acked_hole_since = None;
            return 0;
        }
        let since = *self.acked_hole_since.get_or_insert(now);
        if !evidence && now.saturating_sub(since) < ACK_GRACE_PACKETS {
            return 0;
        }
        self.acked_hole_since = None;
        self.skip_to(info, dir, acked, at, sink)
    }

    /// Declares everything before `to` that was not captured a gap and delivers on.
    /// Returns bytes released.
    pub(super) fn skip_to(
        &mut self,
        info: &FlowInfo,
        dir: Direction,
        to: u64,
        at: Provenance,
        sink: &mut dyn StreamSink,
    ) -> usize {
        let mut released = 0;
        while self.next < to {
            let hole_end = match self.pending.first_key_value() {
                Some((&s, _)) if s <= self.next => {
                    released += self.deliver(info, dir, sink);
                    continue;
                }
                Some((&s, _)) => s.min(to),
                None => to,
            };
            let len = hole_end - self.next;
            let gap_at = self.pending.get(&hole_end).map(|p| p.at).unwrap_or(at);
            self.stats.gaps += 1;
            self.stats.gap_bytes += len;
            sink.gap(info, dir, len, gap_at);
            self.next = hole_end;
            // What was kept no longer ends at `next`.
            self.recent.clear();
            released += self.deliver(info, dir, sink);
        }
        released
    }

    /// Ends this direction: every hole left becomes a gap, everything held is delivered.
    /// Returns bytes released.
    pub(super) fn close(
        &mut self,
        info: &FlowInfo,
        dir: Direction,
        kind: CloseKind,
        at: Provenance,
        sink: &mut dyn StreamSink,
    ) -> usize {
        if self.closed {
            return 0;
        }
        let mut target = self.acked.max(self.next);
        if let Some((&s, p)) = self.pending.last_key_value() {
            target = target.max(s + p.data.len() as u64);
        }
        if let Some(fin) = self.fin_at {
            // The stream ends at its FIN, whatever was acknowledged or held beyond it.
            target = fin.max(self.next);
        }
        let mut released = self.skip_to(info, dir, target, at, sink);
        // Anything still held lies beyond the FIN: not part of the stream.
        released += std::mem::take(&mut self.pending_bytes);
        self.pending.clear();
        self.forget_recent();
        self.closed = true;
        let kind = match (kind, self.fin_at) {
            (CloseKind::EndOfCapture, Some(_)) => CloseKind::Fin,
            (k, _) => k,
        };
        if self.base.is_some() || kind != CloseKind::EndOfCapture {
            sink.close(info, dir, kind, at);
        }
        released
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the bytes delivered and the gap lengths.
    #[derive(Default)]
    struct Sink {
        bytes: Vec<u8>,
        gaps: Vec<u64>,
    }

    impl StreamSink for Sink {
        fn open(&mut self, _: &FlowInfo) {}
        fn data(&mut self, _: &FlowInfo, _: Direction, bytes: &[u8], _: Provenance) {
            self.bytes.extend_from_slice(bytes);
        }
        fn gap(&mut self, _: &FlowInfo, _: Direction, len: u64, _: Provenance) {
            self.gaps.push(len);
        }
        fn close(&mut self, _: &FlowInfo, _: Direction, _: CloseKind, _: Provenance) {}
        fn end(&mut self, _: &FlowInfo) {}
    }

    fn info() -> FlowInfo {
        use crate::util::community_id::CommunityId;
        let client = "10.0.0.1:40000".parse().unwrap();
        let server = "10.0.0.2:80".parse().unwrap();
        FlowInfo {
            id: 0,
            client,
            server,
            community_id: CommunityId::tcp(client, server),
            encapsulation: Default::default(),
            roles_known: true,
            sub: None,
            carries: Default::default(),
            tls: None,
            h2: None,
            packets: [0; 2],
        }
    }

    #[test]
    fn offset_unwraps_across_the_sequence_wrap() {
        let h = Half {
            next: 10,
            ..Half::default()
        };
        let base = u32::MAX - 3; // offset 10 is sequence number 6
        assert_eq!(h.offset(base, 6), 10);
        assert_eq!(h.offset(base, 16), 20);
        assert_eq!(h.offset(base, u32::MAX), 3);
        assert_eq!(h.offset(base, base), 0);
    }

    #[test]
    fn held_bytes_keep_the_first_copy_and_count_what_they_hold() {
        let (info, dir, at, cfg) = (
            info(),
            Direction::ClientToServer,
            Provenance::default(),
            Config::default(),
        );
        let mut h = Half::default();
        let mut s = Sink::default();
        // 4..8 arrives first and is held.
        let held = 4 + SEGMENT_OVERHEAD;
        assert_eq!(
            h.insert(&info, dir, 4, b"efgh", at, &cfg, &mut s),
            (0, held)
        );
        // 2..6 differs from the held copy in 4..6: only 2..4 is new.
        let new = 2 + SEGMENT_OVERHEAD;
        assert_eq!(h.insert(&info, dir, 2, b"cdXY", at, &cfg, &mut s), (0, new));
        assert!(s.bytes.is_empty());
        // 0..2 fills the hole: everything held goes out, the first copy of 4..6 with it.
        let all = held + 2 * new;
        assert_eq!(h.insert(&info, dir, 0, b"ab", at, &cfg, &mut s), (all, new));
        assert_eq!(s.bytes, b"abcdefgh");
        assert_eq!(h.pending_bytes, 0);
        assert_eq!(h.stats.conflicting_bytes, 2);
        assert_eq!(h.stats.retransmissions, 1);
        assert_eq!(h.stats.out_of_order, 2);
        assert_eq!(h.stats.delivered_bytes, 8);
    }

    #[test]
    fn delivered_bytes_are_compared_within_the_window_only() {
        let (info, dir, at, cfg) = (
            info(),
            Direction::ClientToServer,
            Provenance::default(),
            Config::default(),
        );
        let mut h = Half {
            recent_grows: true,
            ..Half::default()
        };
        let mut s = Sink::default();
        let data = vec![b'a'; RECENT_WINDOW + 100];
        for chunk in data.chunks(1000) {
            let off = h.next as i128;
            h.insert(&info, dir, off, chunk, at, &cfg, &mut s);
        }
        assert_eq!(h.recent.len(), RECENT_WINDOW);
        assert_eq!(h.recent.capacity(), RECENT_WINDOW);
        // Beyond the window: no longer compared.
        h.insert(&info, dir, 0, b"zz", at, &cfg, &mut s);
        assert_eq!(h.stats.conflicting_bytes, 0);
        // Straddling its start: only the part inside is compared.
        let start = (h.next - RECENT_WINDOW as u64) as i128;
        h.insert(&info, dir, start - 2, b"zzzz", at, &cfg, &mut s);
        assert_eq!((h.stats.conflicting_bytes, h.stats.conflicts), (2, 1));
        assert_eq!(h.conflict, Some(Conflict::Delivered(2)));
        // A gap empties it.
        let next = h.next;
        h.skip_to(&info, dir, next + 5, at, &mut s);
        assert!(h.recent.is_empty());
        assert_eq!(s.bytes.len(), data.len());
    }

    #[test]
    fn skip_to_declares_the_hole_and_delivers_what_follows() {
        let (info, dir, at, cfg) = (
            info(),
            Direction::ClientToServer,
            Provenance::default(),
            Config::default(),
        );
        let mut h = Half::default();
        let mut s = Sink::default();
        h.insert(&info, dir, 0, b"ab", at, &cfg, &mut s);
        h.insert(&info, dir, 6, b"gh", at, &cfg, &mut s);
        assert_eq!(h.skip_to(&info, dir, 8, at, &mut s), 2 + SEGMENT_OVERHEAD);
        assert_eq!(s.bytes, b"abgh");
        assert_eq!(s.gaps, vec![4]);
        assert_eq!((h.next, h.stats.gaps, h.stats.gap_bytes), (8, 1, 4));
    }
}
