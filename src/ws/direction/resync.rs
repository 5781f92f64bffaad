//! Finding frame boundaries again: after a gap, after bytes that are not frames, or when a
//! capture starts mid-stream. Bytes are held (at most [`SYNC_CAP`]) until a chain of
//! plausible frame headers proves where frames start; the bytes before it are skipped and
//! counted, the rest replayed into the frame loop, as a guess (see the direction's
//! module) unless the chain starts at a known boundary.
//!
//! The rules the chain is held to come from what is known of the direction: its role
//! decides the MASK bit (the opposite only for a peer whose confirmed frames mostly break
//! that rule, so that frames read from garbage cannot teach it), and RSV1 is allowed
//! where permessage-deflate may be in use (or this peer's confirmed frames carry it).

use super::{Ctx, Deflate, DirState, Mode, MAX_SYNC_FAILURES};
use crate::tcp::stream::Provenance;
use crate::ws::frame::FrameHeader;
use crate::ws::problem::Problem;
use crate::ws::sync::{plausible, Held, Rsv1, Rules, Scan, Scanner};
use crate::ws::Out;
use std::collections::VecDeque;

/// Largest resynchronisation buffer; past it a big plausible frame is believed or the
/// bytes already proven garbage are dropped.
pub const SYNC_CAP: usize = 256 * 1024;

/// Bytes held while looking for frame boundaries.
#[derive(Debug)]
pub(super) struct SyncState {
    pub(super) buf: Vec<u8>,
    /// `(end offset in buf, packet)` for each piece appended.
    pub(super) spans: Vec<(usize, Provenance)>,
    pub(super) scanner: Scanner,
    /// Stream offset of `buf[0]`.
    pub(super) start: u64,
    pub(super) min_chain: usize,
    /// `buf[0]` is a known frame boundary (the end of a frame decoded from known
    /// boundaries, or the stream's first byte): frames found there are no guess.
    pub(super) known_start: bool,
    /// A fragmented message was open at `buf[0]` (a continuation may come first).
    pub(super) fragment_open: bool,
    /// A piece starts at `buf[0]` (or it is a known boundary).
    pub(super) piece_start: bool,
}

impl SyncState {
    pub(super) fn push(&mut self, bytes: &[u8], at: Provenance) {
        self.buf.extend_from_slice(bytes);
        self.spans.push((self.buf.len(), at));
    }

    pub(super) fn drain(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        if n > 0 {
            self.piece_start = self.spans.iter().any(|&(end, _)| end == n);
        }
        self.buf.drain(..n);
        self.spans.retain(|&(end, _)| end > n);
        for s in &mut self.spans {
            s.0 -= n;
        }
        self.scanner.drain(n);
        self.start += n as u64;
    }

    /// The bytes from `from` on, cut at the pieces they arrived in.
    pub(super) fn chunks_from(&self, from: usize) -> Vec<(Vec<u8>, Provenance)> {
        let mut out = Vec::new();
        let mut start = 0;
        for &(end, at) in &self.spans {
            let s = start.max(from);
            if s < end {
                if let Some(b) = self.buf.get(s..end) {
                    out.push((b.to_vec(), at));
                }
            }
            start = end;
        }
        out
    }

    pub(super) fn first_packet(&self) -> Option<Provenance> {
        self.spans.first().map(|s| s.1)
    }

    /// Where the pieces held end.
    fn ends(&self) -> Vec<usize> {
        self.spans.iter().map(|s| s.0).collect()
    }
}

impl DirState {
    /// The MASK bit this direction's frames carry: the role decides, unless this peer's
    /// confirmed frames mostly break the masking rule.
    fn mask_rule(&self, cx: &Ctx) -> bool {
        match self.mask_counts {
            [unmasked, masked] if masked > unmasked.saturating_add(1) => true,
            [unmasked, masked] if unmasked > masked.saturating_add(1) => false,
            _ => cx.is_client(),
        }
    }

    /// What RSV1 may mean on this direction's frames.
    fn rsv1_rule(&self, cx: &Ctx) -> Rsv1 {
        match cx.deflate {
            Deflate::On { .. } | Deflate::Unknown => Rsv1::Deflate,
            Deflate::Off if self.rsv1_seen => Rsv1::Unchecked,
            Deflate::Off => Rsv1::Forbidden,
        }
    }

    pub(super) fn sync_rules(&self, cx: &Ctx, s: &SyncState) -> Rules {
        Rules {
            mask: Some(self.mask_rule(cx)),
            rsv1: self.rsv1_rule(cx),
            fragment_open: s.fragment_open,
            min_chain: s.min_chain.max(3),
            min_chain_at_start: s.min_chain,
        }
    }

    /// While the boundaries are a guess, true when `h` is a header the search would not
    /// have believed here: the guess was wrong.
    pub(super) fn refutes_guess(&self, cx: &Ctx, h: &FrameHeader) -> bool {
        if self.guessing.is_none() {
            return false;
        }
        // Whether a fragmented message is open is unknown right after bytes were lost.
        let frag = if self.msg.is_some() {
            Some(true)
        } else if self.after_gap {
            None
        } else {
            Some(false)
        };
        !plausible(h, Some(self.mask_rule(cx)), self.rsv1_rule(cx), frag)
    }

    /// Runs the boundary search; returns the bytes to decode as frames when found.
    pub(super) fn try_sync(
        &mut self,
        cx: &Ctx,
        out: &mut Out,
        at_end: bool,
    ) -> Option<Vec<(Vec<u8>, Provenance)>> {
        let Mode::Sync(s) = &self.mode else {
            return None;
        };
        let rules = self.sync_rules(cx, s);
        let Mode::Sync(s) = &mut self.mode else {
            return None;
        };
        let ends = s.ends();
        let held = Held {
            buf: &s.buf,
            ends: &ends,
            piece_start: s.piece_start,
        };
        let found = match s.scanner.scan(held, &rules, at_end) {
            Scan::Found(k) => Some(k),
            Scan::Wait {
                dead,
                earliest_real,
                held_back,
            } => {
                if at_end {
                    None
                } else if s.buf.len() > SYNC_CAP {
                    match earliest_real.or(held_back) {
                        Some(p) => Some(p),
                        None => {
                            let pkt = s.first_packet().unwrap_or_default().packet;
                            let off = s.start;
                            s.drain(dead);
                            self.skipped(cx, out, dead as u64, off, pkt);
                            return None;
                        }
                    }
                } else {
                    return None;
                }
            }
        };
        let Mode::Sync(s) = std::mem::replace(&mut self.mode, Mode::Frames) else {
            return None;
        };
        let pkt = s.first_packet().unwrap_or(self.last_at).packet;
        match found {
            Some(k) => {
                let replay = s.chunks_from(k);
                self.offset = s.start + k as u64;
                self.accept_next = k == 0;
                if k > 0 || !s.known_start {
                    self.guessing = Some(rules.min_chain as u64);
                }
                self.skipped(cx, out, k as u64, s.start, pkt);
                self.lock_doubt = false;
                self.since_lock = Some(0);
                Some(replay)
            }
            None => {
                self.offset = s.start + s.buf.len() as u64;
                self.skipped(cx, out, s.buf.len() as u64, s.start, pkt);
                self.lock_doubt = false;
                None
            }
        }
    }

    pub(super) fn skipped(&mut self, cx: &Ctx, out: &mut Out, n: u64, offset: u64, packet: u64) {
        if n == 0 {
            return;
        }
        self.stats.skipped_bytes += n;
        if std::mem::take(&mut self.lock_doubt) {
            self.sync_failures = (self.sync_failures + 1).min(MAX_SYNC_FAILURES);
        }
        out.problems += 1;
        cx.warn(
            out,
            packet,
            "bytes skipped",
            format!("skipped {n} bytes at stream offset {offset} that are not WebSocket frames"),
        );
        self.lose(cx, out, Problem::Skipped(n));
    }

    /// Starts searching for frames from the current offset: with `known_start` when it
    /// is a known boundary (a header there may break rules, and is no guess), with
    /// `fragment_open` when a fragmented message was open there.
    pub(super) fn enter_sync(&mut self, known_start: bool, fragment_open: bool) {
        if matches!(self.mode, Mode::Sync(_)) {
            return;
        }
        let mut s = SyncState {
            buf: Vec::new(),
            spans: Vec::new(),
            scanner: Scanner::new(known_start),
            start: self.hdr_offset,
            // In garbage mode, longer chains: each failed lock adds two headers.
            min_chain: 2 + 2 * self.sync_failures as usize,
            known_start,
            fragment_open,
            // After a gap the first byte starts a piece; a known boundary is as good.
            piece_start: true,
        };
        if self.hdr_len > 0 {
            let partial = self.hdr.get(..self.hdr_len).unwrap_or(&[]).to_vec();
            s.push(&partial, self.hdr_start);
            self.hdr_len = 0;
        } else {
            s.start = self.offset;
        }
        self.mode = Mode::Sync(Box::new(s));
    }

    /// Ends resynchronisation as if no more bytes will come, decoding what it finds.
    pub(super) fn resolve_sync_at_end(&mut self, cx: &Ctx, out: &mut Out) {
        // Each round either leaves sync mode or decodes at least one frame of a buffer
        // that only shrinks, so this terminates.
        while matches!(self.mode, Mode::Sync(_)) {
            let mut queue = VecDeque::new();
            if let Some(replay) = self.try_sync(cx, out, true) {
                queue.extend(replay);
            }
            while let Some((b, p)) = queue.pop_front() {
                self.chunk(cx, out, &b, p, &mut queue);
            }
        }
    }
}
