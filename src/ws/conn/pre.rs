//! The bytes of one direction held while a connection's nature is undecided (HTTP
//! upgrade, frames mid-stream, or neither), with the packets they came in, so that they can
//! be replayed into the frame decoder once it is decided. Bounded by [`PRE_CAP`].

use crate::tcp::stream::Provenance;
use crate::ws::sync::Scanner;

/// Bytes held before a connection is known to be WebSocket.
const PRE_CAP: usize = 256 * 1024;

/// A piece of held bytes: where it ends in the buffer, its packet, and how many bytes
/// were lost in a gap just before it.
#[derive(Clone, Copy, Debug)]
pub(in crate::ws) struct Piece {
    pub(in crate::ws) end: usize,
    pub(in crate::ws) at: Provenance,
    pub(in crate::ws) gap_before: u64,
}

/// One direction's bytes while the connection's nature is being decided.
#[derive(Debug)]
pub(in crate::ws) struct Pre {
    pub(in crate::ws) buf: Vec<u8>,
    pub(in crate::ws) pieces: Vec<Piece>,
    /// Stream offset of `buf[0]`.
    pub(in crate::ws) start: u64,
    /// Bytes that did not fit under [`PRE_CAP`] (replayed as a gap).
    pub(in crate::ws) overflow: u64,
    pub(in crate::ws) overflow_at: Provenance,
    /// HTTP request / response parsing ruled out.
    pub(in crate::ws) not_request: bool,
    pub(in crate::ws) not_response: bool,
    /// Buffer length at the last HTTP parse.
    pub(in crate::ws) parsed: usize,
    pub(in crate::ws) scanner: Scanner,
    pub(in crate::ws) gaps: u64,
    pub(in crate::ws) gap_bytes: u64,
    pub(in crate::ws) skipped: u64,
    /// Leading bytes dropped as proven not to start frames (they count against
    /// [`PRE_CAP`] as if still held).
    pub(in crate::ws) dropped: usize,
    /// `buf[0]` is where a piece starts (or a known boundary): not inside a piece whose
    /// front was dropped.
    pub(in crate::ws) piece_start: bool,
    pub(in crate::ws) closed: bool,
}

impl Pre {
    pub(in crate::ws) fn new() -> Pre {
        Pre {
            buf: Vec::new(),
            pieces: Vec::new(),
            start: 0,
            overflow: 0,
            overflow_at: Provenance::default(),
            not_request: false,
            not_response: false,
            parsed: 0,
            scanner: Scanner::new(false),
            gaps: 0,
            gap_bytes: 0,
            skipped: 0,
            dropped: 0,
            piece_start: true,
            closed: false,
        }
    }

    /// Drops the first `n` bytes, proven not to start frames while HTTP is ruled out,
    /// so that a long non-WebSocket stream does not stay held (the scanner keeps its
    /// place).
    pub(in crate::ws) fn drop_dead(&mut self, n: usize) {
        let at_end = self.pieces.iter().any(|p| p.end == n);
        let n = self.cut_front(n);
        if n == 0 {
            return;
        }
        self.scanner.drain(n);
        self.skipped += n as u64;
        self.dropped += n;
        self.piece_start = at_end;
    }

    /// Removes the first `n` bytes (at most all) with their pieces; returns how many.
    pub(in crate::ws) fn cut_front(&mut self, n: usize) -> usize {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
        self.pieces.retain(|p| p.end > n);
        for p in &mut self.pieces {
            p.end -= n;
        }
        self.start += n as u64;
        n
    }

    pub(in crate::ws) fn push(&mut self, bytes: &[u8], at: Provenance, gap_before: u64) {
        if self.overflow > 0 || self.buf.len() + self.dropped + bytes.len() > PRE_CAP {
            if self.overflow == 0 {
                self.overflow_at = at;
            }
            self.overflow = self
                .overflow
                .saturating_add(bytes.len() as u64)
                .saturating_add(gap_before);
            return;
        }
        self.buf.extend_from_slice(bytes);
        self.pieces.push(Piece {
            end: self.buf.len(),
            at,
            gap_before,
        });
    }

    /// Drops the first `n` bytes (a parsed HTTP head).
    pub(in crate::ws) fn consume(&mut self, n: usize) {
        self.cut_front(n);
        self.parsed = 0;
        self.scanner = Scanner::new(false);
        self.piece_start = true;
    }

    /// Forgets everything held (a gap before anything was recognised).
    pub(in crate::ws) fn clear(&mut self, lost: u64) {
        self.skipped += self.buf.len() as u64;
        self.start = self
            .start
            .saturating_add(self.buf.len() as u64)
            .saturating_add(lost);
        self.buf.clear();
        self.pieces.clear();
        self.scanner = Scanner::new(false);
        self.piece_start = true;
        self.not_request = true;
        self.not_response = true;
    }

    pub(in crate::ws) fn first_packet(&self) -> u64 {
        self.pieces.first().map_or(0, |p| p.at.packet)
    }
}
