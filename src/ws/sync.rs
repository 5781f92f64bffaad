//! Finding frame boundaries in a byte stream whose alignment is unknown: after a TCP
//! gap, after garbage, or when a capture starts in the middle of a connection.
//!
//! A candidate offset is believed when it starts a chain of plausible frames (each
//! header where the previous frame ends) that is long enough and lines up with the
//! pieces the bytes arrived in: one of its frames ends exactly where a piece (a TCP
//! segment, a TLS record, an HTTP/2 DATA frame) ends. Peers write a frame or a few at a
//! time, so real frames end where the writes end nearly always, while a chain read
//! inside a payload lands exactly on the end of a piece once in a hundred or so. A
//! chain starting where a piece starts needs fewer frames (`min_chain_at_start`) than
//! one starting inside a piece; a chain of [`LONG_CHAIN`] frames is believed without
//! lining up (for streams cut without regard to frames). At the end of the data, a
//! chain whose frames line up is believed shorter: two frames, or one that fills its
//! piece from start to end. At a known boundary (where the previous frame ended, its
//! header breaking rules) the question is whether a frame starts there, not where
//! frames start: that chain need not line up.
//!
//! A header is plausible when it breaks no rule of RFC 6455 a sender must keep:
//! - no reserved opcode, no RSV2 or RSV3 (no extension we know uses them), no control
//!   frame without FIN or over 125 bytes, a minimal length at most
//!   [`MAX_PLAUSIBLE_FRAME`];
//! - the MASK bit its direction's role requires ([`Rules::mask`]), or, when the roles
//!   are unknown, the one of the chain's first frame;
//! - RSV1 only on the first frame of a data message, and only where compression may be
//!   in use ([`Rsv1`]);
//! - a continuation only inside a fragmented message (first in a chain only when a
//!   fragmented message was open where the search starts), never an empty non-final
//!   one; a text or binary frame never inside one; nothing after a close frame.
//!
//! Random bytes still hold a plausible-looking header every twenty bytes or so, so a
//! chain also checks what it can of each payload, up to its first 256 bytes:
//! uncompressed text must be UTF-8, a close frame must carry a valid code and a UTF-8
//! reason, and a compressed message must start with DEFLATE blocks zlib can parse
//! without the history before them ([`crate::ws::deflate::could_start_message`]).
//!
//! What is found this way is a guess however good the evidence: the direction marks
//! the frames and messages it decodes from such a boundary (see `direction/`).

use super::deflate::could_start_message;
use super::frame::{parse_header, unmask, FrameHeader, HeaderStatus};
use super::protocol::valid_close_code;
use super::protocol::Opcode;

/// Largest payload a frame found by searching may announce (4 GiB). Eight random length
/// bytes announce less with a probability of 2^-32; real peers never come close.
pub const MAX_PLAUSIBLE_FRAME: u64 = 1 << 32;

/// Payload bytes checked per frame of a chain.
const PAYLOAD_CHECK: usize = 256;

/// Frames of a chain believed without lining up with the pieces: random bytes make
/// eight plausible headers in a row about once in 20^8 offsets.
pub const LONG_CHAIN: usize = 8;

/// What RSV1 may mean on the first frame of a data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rsv1 {
    /// Never set: no extension using it was negotiated.
    Forbidden,
    /// Compressed with permessage-deflate (negotiated, or no handshake seen): the payload
    /// must start like DEFLATE data.
    Deflate,
    /// Set on this sender's frames although nothing was negotiated: allowed, unchecked.
    Unchecked,
}

/// What a plausible header must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Required MASK bit, or `None` to only require the chain to agree with itself.
    pub mask: Option<bool>,
    /// What RSV1 may mean.
    pub rsv1: Rsv1,
    /// A fragmented message was open where the search starts: a continuation frame may
    /// start a chain.
    pub fragment_open: bool,
    /// Frames needed in a chain starting inside a piece.
    pub min_chain: usize,
    /// Frames needed in a chain starting where a piece starts (frames usually start
    /// there).
    pub min_chain_at_start: usize,
}

/// Verdict on one candidate offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chain {
    /// A long enough chain of plausible frames starts here and lines up.
    Valid,
    /// No frame starts here.
    Invalid,
    /// Plausible so far, more bytes needed; `real` when at least one whole header was
    /// plausible (a big frame), false when even the first header is incomplete.
    Pending {
        /// At least one complete plausible header.
        real: bool,
    },
}

/// The bytes searched, with where the pieces they arrived in end.
#[derive(Clone, Copy, Debug)]
pub struct Held<'a> {
    /// The bytes.
    pub buf: &'a [u8],
    /// Offsets in `buf` where a piece ends, increasing.
    pub ends: &'a [usize],
    /// A piece starts at `buf[0]` (or it is a known frame boundary): not inside a piece
    /// whose front was dropped.
    pub piece_start: bool,
}

impl Held<'_> {
    /// True when a piece ends at offset `off` (so the next one starts there).
    fn piece_end(&self, off: u64) -> bool {
        usize::try_from(off).is_ok_and(|o| self.ends.binary_search(&o).is_ok())
    }
}

/// One offset to check, and what its chain needs.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    /// Offset in the held bytes.
    pub at: usize,
    /// Frames needed (with a frame ending where a piece ends).
    pub min_chain: usize,
    /// The first header may break any rule but the 64-bit length's top bit and
    /// [`MAX_PLAUSIBLE_FRAME`]: it is at a known frame boundary, a frame with violations
    /// if plausible frames follow it.
    pub lenient: bool,
    /// A piece starts at this offset.
    pub piece_start: bool,
}

/// True when `h` could be a frame of a well-behaved stream in fragmentation state
/// `frag` (`Some(true)` inside a fragmented message, `None` unknown).
pub fn plausible(h: &FrameHeader, mask: Option<bool>, rsv1: Rsv1, frag: Option<bool>) -> bool {
    if h.is_suspicious()
        || h.payload_len > MAX_PLAUSIBLE_FRAME
        || mask.is_some_and(|m| m != h.masked())
    {
        return false;
    }
    match h.opcode {
        // An empty non-final continuation (two zero bytes) is legal but never sent in
        // practice, while runs of zeros are common in garbage: not plausible.
        Opcode::Continuation => !h.rsv[0] && frag != Some(false) && (h.fin || h.payload_len > 0),
        Opcode::Text | Opcode::Binary => {
            (!h.rsv[0] || rsv1 != Rsv1::Forbidden) && frag != Some(true)
        }
        _ => !h.rsv[0],
    }
}

/// The start of `h`'s payload present in `rest` (which starts at the header), at most
/// [`PAYLOAD_CHECK`] bytes, unmasked into `b`; and whether that is the whole payload.
fn payload_start<'b>(
    h: &FrameHeader,
    rest: &[u8],
    b: &'b mut [u8; PAYLOAD_CHECK],
) -> (&'b [u8], bool) {
    let body = rest.get(h.header_len..).unwrap_or(&[]);
    let n = usize::try_from(h.payload_len)
        .unwrap_or(usize::MAX)
        .min(body.len())
        .min(PAYLOAD_CHECK);
    let Some(dst) = b.get_mut(..n) else {
        return (&[], false);
    };
    dst.copy_from_slice(body.get(..n).unwrap_or(&[]));
    if let Some(key) = h.mask {
        unmask(dst, key, 0);
    }
    (dst, n as u64 == h.payload_len)
}

/// True unless the part of `h`'s payload present in `rest` (which starts at the header)
/// proves the frame fake: a text frame that is not UTF-8 (an uncompressed one), a
/// close frame with a 1-byte payload, an invalid code or a reason that is not UTF-8.
fn payload_plausible(h: &FrameHeader, rest: &[u8]) -> bool {
    if !matches!(h.opcode, Opcode::Text | Opcode::Close) || h.rsv[0] {
        return true;
    }
    let mut b = [0u8; PAYLOAD_CHECK];
    // `whole`: the whole payload is checked, a character cut at its end is an error.
    let (data, whole) = payload_start(h, rest, &mut b);
    let utf8 = |s: &[u8], complete: bool| match simdutf8::compat::from_utf8(s) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && !complete,
    };
    match (h.opcode, data) {
        (Opcode::Text, _) => utf8(data, whole && h.fin),
        (_, []) => true,
        (_, [_]) => !whole,
        (_, [hi, lo, reason @ ..]) => {
            valid_close_code(u16::from_be_bytes([*hi, *lo])) && utf8(reason, whole)
        }
    }
}

/// True unless the first `count` frames of the chain at the start of `buf` hold a
/// compressed message that does not start like DEFLATE data (the first frame is not
/// checked when `lenient`). Checked once a chain would be believed: setting up zlib for
/// every candidate would cost more than all the rest of the search.
fn compressed_plausible(buf: &[u8], count: usize, lenient: bool, rules: &Rules) -> bool {
    if rules.rsv1 != Rsv1::Deflate {
        return true;
    }
    let mut pos = 0usize;
    for i in 0..count {
        let Some(rest) = buf.get(pos..) else {
            return true;
        };
        let HeaderStatus::Header(h) = parse_header(rest) else {
            return true;
        };
        if h.rsv[0] && h.opcode.is_data_start() && !(lenient && i == 0) {
            let mut b = [0u8; PAYLOAD_CHECK];
            if !could_start_message(payload_start(&h, rest, &mut b).0) {
                return false;
            }
        }
        let Ok(len) = usize::try_from(h.frame_len()) else {
            return true;
        };
        pos = pos.saturating_add(len);
    }
    true
}

/// False when the first two bytes of `rest` already rule out a frame that could start a
/// chain (RSV2/RSV3, a reserved opcode, a continuation where no fragmented message is
/// open, the wrong MASK bit): what most offsets of random bytes fail, tested before
/// the chain is set up.
fn first_byte_plausible(rest: &[u8], rules: &Rules) -> bool {
    let [b0, b1, ..] = *rest else {
        return true;
    };
    b0 & 0x30 == 0
        && match Opcode::from_bits(b0) {
            Opcode::Reserved(_) => false,
            Opcode::Continuation => rules.fragment_open,
            _ => true,
        }
        && rules.mask.is_none_or(|m| m == (b1 & 0x80 != 0))
}

/// Checks the chain of frames starting at `c.at` in `held` (see the module's doc for
/// when it is believed). At the end of the data (`at_end`), a chain that lines up is
/// believed with two frames, or one starting where a piece starts. A lenient candidate
/// (at a known boundary) need not line up.
pub fn chain(held: Held<'_>, c: Candidate, rules: &Rules, at_end: bool) -> Chain {
    let buf = held.buf.get(c.at..).unwrap_or(&[]);
    let mut pos: u64 = 0;
    let mut count = 0usize;
    let mut mask = rules.mask;
    let mut frag = if rules.fragment_open {
        None
    } else {
        Some(false)
    };
    let mut interesting = false;
    let mut lined_up = false;
    let mut closed = false;
    // At a known boundary, the question is whether a frame starts there, not where
    // frames start: the chain need not line up.
    let valid = |count: usize| {
        if compressed_plausible(buf, count, c.lenient, rules) {
            Chain::Valid
        } else {
            Chain::Invalid
        }
    };
    let end_verdict = |count: usize, interesting: bool, lined_up: bool| {
        let anchored = lined_up || (c.lenient && count >= 2);
        if !at_end {
            Chain::Pending { real: count >= 1 }
        } else if interesting && anchored && (count >= 2 || (count == 1 && c.piece_start)) {
            valid(count)
        } else {
            Chain::Invalid
        }
    };
    loop {
        let rest = usize::try_from(pos).ok().and_then(|p| buf.get(p..));
        let Some(rest) = rest.filter(|r| !r.is_empty()) else {
            // The last frame ended exactly at the end of the data.
            let exact = pos == buf.len() as u64;
            return end_verdict(count, interesting, lined_up || (exact && at_end));
        };
        let h = match parse_header(rest) {
            HeaderStatus::NeedMore(_) => return end_verdict(count, interesting, lined_up),
            HeaderStatus::Header(h) => h,
        };
        let ok = if c.lenient && count == 0 {
            !h.length_msb_set && h.payload_len <= MAX_PLAUSIBLE_FRAME
        } else {
            let ok =
                !closed && plausible(&h, mask, rules.rsv1, frag) && payload_plausible(&h, rest);
            mask = Some(h.masked());
            ok
        };
        if !ok {
            return Chain::Invalid;
        }
        match h.opcode {
            Opcode::Text | Opcode::Binary | Opcode::Continuation => frag = Some(!h.fin),
            Opcode::Close => closed = true,
            _ => {}
        }
        interesting |= h.opcode != Opcode::Continuation || h.payload_len > 0;
        count += 1;
        pos = pos.saturating_add(h.frame_len());
        lined_up |= held.piece_end((c.at as u64).saturating_add(pos));
        if interesting
            && (((lined_up || c.lenient) && count >= c.min_chain)
                || count >= LONG_CHAIN.max(c.min_chain))
        {
            return valid(count);
        }
    }
}

/// True when `held` is exactly a sequence of at least one plausible frame (the last
/// one ending at the end of the bytes) that is not all empty continuations.
pub fn exact_frames(held: Held<'_>, rules: &Rules) -> bool {
    let c = Candidate {
        at: 0,
        min_chain: usize::MAX,
        lenient: false,
        piece_start: true,
    };
    chain(held, c, rules, true) == Chain::Valid && {
        // `chain` at the end also believes two frames whose last one runs past the end.
        let buf = held.buf;
        let mut pos = 0usize;
        while let Some(rest) = buf.get(pos..).filter(|r| !r.is_empty()) {
            match parse_header(rest) {
                HeaderStatus::Header(h) => {
                    pos = match usize::try_from(h.frame_len()) {
                        Ok(l) => pos.saturating_add(l),
                        Err(_) => return false,
                    }
                }
                HeaderStatus::NeedMore(_) => return false,
            }
        }
        pos == buf.len()
    }
}

/// Result of [`Scanner::scan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan {
    /// Frames start at this offset.
    Found(usize),
    /// Nothing believed yet.
    Wait {
        /// Leading bytes proven not to start a chain (safe to drop as skipped).
        dead: usize,
        /// Earliest offset whose first header is plausible and announces a frame too
        /// big to check what follows it (over 64 KiB, a 64-bit length) that runs past
        /// the data: believed when the buffer grows too large. Smaller frames are
        /// always checked against the header after them.
        earliest_real: Option<usize>,
        /// A believable chain held back because an earlier candidate starting a piece
        /// still waits for data (see [`Scanner::scan`]): believed when the buffer grows
        /// too large.
        held_back: Option<usize>,
    },
}

/// Incremental search for the first offset that starts a believable chain, over a
/// buffer that grows between calls. Offsets proven invalid are not examined again.
#[derive(Clone, Debug, Default)]
pub struct Scanner {
    pending: Vec<usize>,
    scanned: usize,
    lenient0: bool,
}

impl Scanner {
    /// A scanner; with `lenient0` the header at offset 0 may break rules (see
    /// [`Candidate::lenient`]) until bytes are drained.
    pub fn new(lenient0: bool) -> Scanner {
        Scanner {
            pending: Vec::new(),
            scanned: 0,
            lenient0,
        }
    }

    fn check(
        &self,
        held: Held<'_>,
        p: usize,
        piece_start: bool,
        rules: &Rules,
        at_end: bool,
    ) -> (Chain, bool) {
        let mut c = Candidate {
            at: p,
            min_chain: if piece_start {
                rules.min_chain_at_start
            } else {
                rules.min_chain
            },
            lenient: self.lenient0 && p == 0,
            piece_start,
        };
        if !c.lenient && !first_byte_plausible(held.buf.get(p..).unwrap_or(&[]), rules) {
            return (Chain::Invalid, false);
        }
        let verdict = chain(held, c, rules, at_end);
        let real = match verdict {
            Chain::Pending { real: true } if c.lenient => {
                c.lenient = false;
                chain(held, c, rules, at_end) == Chain::Pending { real: true }
            }
            Chain::Pending { real } => real,
            _ => false,
        };
        (verdict, real)
    }

    /// Looks for the earliest believable offset in `held` (the same bytes as before,
    /// possibly grown or drained through [`Scanner::drain`]).
    ///
    /// A believable chain is held back while an earlier candidate that starts a piece
    /// (a packet, a TLS record) and whose first frame is plausible still waits for the
    /// data that decides it: a frame starting where a segment starts is far likelier
    /// real than a chain found inside a payload (a file of a rotated set that starts
    /// with a real compressed frame, in whose payload a run of "pings" lined up).
    pub fn scan(&mut self, held: Held<'_>, rules: &Rules, at_end: bool) -> Scan {
        let mut still = Vec::new();
        let mut earliest_real = None;
        let mut held_back = None;
        let mut waiting_start = false;
        let candidates = std::mem::take(&mut self.pending)
            .into_iter()
            .chain(self.scanned..held.buf.len());
        // Candidates come in increasing order: walk the piece ends beside them.
        let mut ends = held.ends.iter().copied().peekable();
        for p in candidates {
            while ends.next_if(|&e| e < p).is_some() {}
            let piece_start = if p == 0 {
                held.piece_start
            } else {
                ends.peek() == Some(&p)
            };
            match self.check(held, p, piece_start, rules, at_end) {
                (Chain::Valid, _) if !waiting_start => return Scan::Found(p),
                (Chain::Valid, _) => {
                    held_back.get_or_insert(p);
                    still.push(p);
                }
                (Chain::Invalid, _) => {}
                (Chain::Pending { .. }, real) => {
                    let big = || match parse_header(held.buf.get(p..).unwrap_or(&[])) {
                        HeaderStatus::Header(h) => h.payload_len > u64::from(u16::MAX),
                        HeaderStatus::NeedMore(_) => false,
                    };
                    if real && earliest_real.is_none() && big() {
                        earliest_real = Some(p);
                    }
                    waiting_start |= real && piece_start;
                    still.push(p);
                }
            }
        }
        self.scanned = held.buf.len();
        self.pending = still;
        Scan::Wait {
            dead: self.pending.first().copied().unwrap_or(held.buf.len()),
            earliest_real,
            held_back,
        }
    }

    /// The caller removed the first `n` bytes of the buffer.
    pub fn drain(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.pending.retain(|&p| p >= n);
        for p in &mut self.pending {
            *p -= n;
        }
        self.scanned = self.scanned.saturating_sub(n);
        self.lenient0 = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESYNC: Rules = Rules {
        mask: Some(false),
        rsv1: Rsv1::Forbidden,
        fragment_open: false,
        min_chain: 3,
        min_chain_at_start: 2,
    };
    const DETECT: Rules = Rules {
        mask: None,
        rsv1: Rsv1::Deflate,
        fragment_open: false,
        min_chain: 6,
        min_chain_at_start: 3,
    };

    /// `buf` as one piece, checked from its start (a piece start).
    fn c(buf: &[u8], rules: &Rules, lenient: bool, at_end: bool) -> Chain {
        let ends = [buf.len()];
        let held = Held {
            buf,
            ends: &ends,
            piece_start: true,
        };
        let cand = Candidate {
            at: 0,
            min_chain: rules.min_chain_at_start,
            lenient,
            piece_start: true,
        };
        chain(held, cand, rules, at_end)
    }

    fn scan(s: &mut Scanner, buf: &[u8], ends: &[usize], rules: &Rules, at_end: bool) -> Scan {
        let held = Held {
            buf,
            ends,
            piece_start: true,
        };
        s.scan(held, rules, at_end)
    }

    #[test]
    fn chains() {
        let frames = [0x81, 1, b'a', 0x82, 2, 1, 2, 0x89, 0];
        assert_eq!(c(&frames, &RESYNC, false, false), Chain::Valid);
        assert_eq!(c(&frames, &DETECT, false, false), Chain::Valid);
        assert_eq!(
            c(&frames[..3], &DETECT, false, false),
            Chain::Pending { real: true }
        );
        assert_eq!(c(&frames[..3], &DETECT, false, true), Chain::Valid);
        assert_eq!(
            c(&frames[..1], &DETECT, false, false),
            Chain::Pending { real: false }
        );
        assert_eq!(c(&frames[..1], &DETECT, false, true), Chain::Invalid);
        // masked frame where unmasked is required
        assert_eq!(
            c(&[0x81, 0x81, 1, 2, 3, 4, 0], &RESYNC, false, false),
            Chain::Invalid
        );
        // a chain must agree on masking
        assert_eq!(
            c(
                &[0x81, 0, 0x81, 0x80, 1, 2, 3, 4, 0x81, 0],
                &DETECT,
                false,
                false
            ),
            Chain::Invalid
        );
        // zeros are not frames
        assert_eq!(c(&[0; 64], &DETECT, false, true), Chain::Invalid);
        // continuation after a final frame is implausible; inside a fragmented one fine
        assert_eq!(
            c(&[0x81, 0, 0x80, 0], &RESYNC, false, false),
            Chain::Invalid
        );
        assert_eq!(c(&[0x01, 0, 0x80, 0], &RESYNC, false, false), Chain::Valid);
        // reserved opcode only when lenient
        let res = [0x83, 0, 0x81, 0];
        assert_eq!(c(&res, &RESYNC, false, false), Chain::Invalid);
        assert_eq!(c(&res, &RESYNC, true, false), Chain::Valid);
        // RSV1 only when allowed
        assert_eq!(
            c(&[0xC1, 0, 0x81, 0], &RESYNC, false, false),
            Chain::Invalid
        );
        assert_eq!(c(&[0xC1, 0, 0x81, 0], &DETECT, false, true), Chain::Valid);
        // top-bit length never
        let msb = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(c(&msb, &RESYNC, true, true), Chain::Invalid);
    }

    #[test]
    fn rules_a_sender_must_keep() {
        // RSV2, RSV3: no extension defines them
        assert_eq!(c(&[0xA1, 0, 0x81, 0], &DETECT, false, true), Chain::Invalid);
        assert_eq!(c(&[0x91, 0, 0x81, 0], &DETECT, false, true), Chain::Invalid);
        // control frames: FIN, at most 125 bytes
        assert_eq!(c(&[0x09, 0, 0x81, 0], &RESYNC, false, true), Chain::Invalid);
        let mut long_ping = vec![0x89, 126, 0, 126];
        long_ping.extend([0; 126]);
        long_ping.extend([0x81, 0]);
        assert_eq!(c(&long_ping, &RESYNC, false, true), Chain::Invalid);
        // a continuation starts a chain only inside a known fragmented message
        let cont = [0x80, 1, b'a', 0x81, 0];
        assert_eq!(c(&cont, &RESYNC, false, false), Chain::Invalid);
        let open = Rules {
            fragment_open: true,
            ..RESYNC
        };
        assert_eq!(c(&cont, &open, false, false), Chain::Valid);
        // nothing after a close frame
        assert_eq!(
            c(&[0x88, 2, 0x03, 0xe8, 0x81, 0], &RESYNC, false, false),
            Chain::Invalid
        );
        // a close reason must be UTF-8, its code valid
        assert_eq!(
            c(&[0x88, 3, 0x03, 0xe8, 0xff, 0x81, 0], &RESYNC, false, false),
            Chain::Invalid
        );
        assert_eq!(
            c(&[0x88, 2, 0x03, 0xec, 0x81, 0], &RESYNC, false, false),
            Chain::Invalid
        );
        assert_eq!(
            c(&[0x81, 0, 0x88, 3, 0x03, 0xe8, b'x'], &RESYNC, false, true),
            Chain::Valid
        );
        // a compressed message must start like DEFLATE (reserved block type here)
        let deflate = Rules {
            rsv1: Rsv1::Deflate,
            ..RESYNC
        };
        let fake = [0xC1, 2, 0x07, 0x00, 0x81, 0];
        assert_eq!(c(&fake, &deflate, false, false), Chain::Invalid);
        let unchecked = Rules {
            rsv1: Rsv1::Unchecked,
            ..RESYNC
        };
        assert_eq!(c(&fake, &unchecked, false, false), Chain::Valid);
        // an empty compressed message is `00` (the tail removed)
        assert_eq!(
            c(&[0xC1, 1, 0x00, 0x81, 0], &deflate, false, false),
            Chain::Valid
        );
    }

    #[test]
    fn chains_must_line_up_with_pieces() {
        let frames = [0x81, 1, b'a', 0x82, 2, 1, 2, 0x89, 0, 0x81, 1];
        let at = |p: usize, ends: &[usize], min: usize| {
            let held = Held {
                buf: &frames,
                ends,
                piece_start: true,
            };
            let cand = Candidate {
                at: p,
                min_chain: min,
                lenient: false,
                piece_start: false,
            };
            chain(held, cand, &RESYNC, false)
        };
        // three plausible frames inside one piece: no frame ends where a piece ends
        assert_eq!(at(0, &[frames.len()], 3), Chain::Pending { real: true });
        // the second frame ends where a packet ends
        assert_eq!(at(0, &[7, frames.len()], 3), Chain::Valid);
        // lined up, but too short
        assert_eq!(at(0, &[3, frames.len()], 5), Chain::Pending { real: true });
        // very long chains need no piece end
        let many: Vec<u8> = [0x81, 1, b'a'].repeat(LONG_CHAIN + 1);
        let held = Held {
            buf: &many,
            ends: &[many.len() + 1],
            piece_start: false,
        };
        let cand = Candidate {
            at: 0,
            min_chain: 3,
            lenient: false,
            piece_start: false,
        };
        assert_eq!(chain(held, cand, &RESYNC, false), Chain::Valid);
    }

    /// The 229th byte of a client segment of testdata/corpus/03-node-ws-deflate.pcapng,
    /// inside the payload of a 35452-byte compressed text frame (the capture split with
    /// `editcap -c 74`, the second part decoded alone): a masked 105-byte pong, a
    /// masked compressed 92-byte text and a masked non-final 13-byte binary frame, then
    /// garbage. The search believed them and printed a pong no peer sent.
    const FAKE_CHAIN_03: [u8; 240] = [
        0x8a, 0xe9, 0xfc, 0xaf, 0xef, 0xe3, 0xe0, 0x52, 0x90, 0x7c, 0x1f, 0x99, 0xb0, 0xe8, 0x31,
        0xf4, 0x99, 0x28, 0xb6, 0xec, 0xc0, 0xd9, 0x02, 0xec, 0xbb, 0xe0, 0x5c, 0xb1, 0xfd, 0xe5,
        0x58, 0x25, 0x88, 0x4c, 0x8a, 0xc9, 0xfe, 0xd8, 0x50, 0x73, 0xff, 0x85, 0xbf, 0x0f, 0xbb,
        0x77, 0xc6, 0x05, 0x4f, 0x39, 0x43, 0x48, 0x05, 0x79, 0x04, 0xbc, 0x71, 0x2a, 0x5c, 0xe8,
        0xee, 0x29, 0x89, 0x98, 0x33, 0x23, 0xb8, 0x9b, 0xd0, 0x83, 0xb0, 0x46, 0x2d, 0x93, 0x7c,
        0xc8, 0xe6, 0x7f, 0xaa, 0x89, 0xf2, 0x53, 0xd6, 0x3a, 0xa6, 0x1e, 0x35, 0x54, 0x00, 0x95,
        0x3e, 0x81, 0x35, 0xd6, 0xb0, 0xc8, 0x99, 0xf4, 0xe8, 0x10, 0xe6, 0xcd, 0x44, 0x22, 0x80,
        0x44, 0x14, 0x20, 0xb3, 0x7c, 0x7b, 0xc1, 0xdc, 0xc4, 0x8e, 0xc8, 0x63, 0x71, 0x1d, 0x8a,
        0xc3, 0x65, 0x39, 0xcd, 0x02, 0xcc, 0x02, 0x5c, 0x6b, 0x98, 0x13, 0x98, 0x23, 0x67, 0x1e,
        0x22, 0x98, 0x9a, 0x7d, 0x2f, 0xba, 0x01, 0x17, 0x14, 0x5e, 0xf9, 0x71, 0x3f, 0x1c, 0xe1,
        0x4d, 0xa5, 0x54, 0x27, 0x2e, 0x77, 0x92, 0x4e, 0x5b, 0x30, 0x26, 0x26, 0xa0, 0xee, 0xa8,
        0x19, 0x46, 0xa0, 0x3b, 0xb3, 0xe1, 0x13, 0xab, 0xfe, 0x99, 0xb1, 0x87, 0x98, 0x67, 0x33,
        0x13, 0xc0, 0x87, 0x78, 0x6a, 0x16, 0x05, 0xbb, 0xdf, 0xa9, 0x87, 0xe8, 0xde, 0xe9, 0x1d,
        0xa3, 0x18, 0x0c, 0x1b, 0xa0, 0x16, 0x9b, 0x50, 0xe3, 0xc2, 0x0e, 0x34, 0x8b, 0xfd, 0x02,
        0x8d, 0x68, 0x7c, 0xed, 0x44, 0xcd, 0xe2, 0x7c, 0x87, 0x85, 0xa7, 0x20, 0x2b, 0x4a, 0xfd,
        0x40, 0xe9, 0x26, 0x23, 0x31, 0xc3, 0x6f, 0x91, 0xa4, 0x3c, 0xde, 0xe2, 0x1c, 0x89, 0x58,
    ];

    #[test]
    fn fake_chain_inside_a_compressed_payload() {
        let client = Rules {
            mask: Some(true),
            rsv1: Rsv1::Deflate,
            fragment_open: false,
            min_chain: 3,
            min_chain_at_start: 3,
        };
        // the segment goes on past these bytes: no piece ends among them
        let held = Held {
            buf: &FAKE_CHAIN_03,
            ends: &[FAKE_CHAIN_03.len() + 1208],
            piece_start: false,
        };
        let cand = Candidate {
            at: 0,
            min_chain: 3,
            lenient: false,
            piece_start: false,
        };
        // the compressed text is not DEFLATE ("invalid code lengths set")
        let mut text = FAKE_CHAIN_03[117..209].to_vec();
        unmask(&mut text, [0xdc, 0xc4, 0x8e, 0xc8], 0);
        assert!(!could_start_message(&text));
        assert_eq!(chain(held, cand, &client, false), Chain::Invalid);
        // without that check, garbage after the third frame still shows the chain fake
        let unchecked = Rules {
            rsv1: Rsv1::Unchecked,
            ..client
        };
        assert_eq!(chain(held, cand, &unchecked, true), Chain::Invalid);
        // and no offset of these bytes starts a chain
        let mut s = Scanner::new(false);
        assert!(matches!(s.scan(held, &client, true), Scan::Wait { .. }));
    }

    #[test]
    fn scanner_finds_after_garbage() {
        let mut buf = vec![0xff, 0x13, 0x77, 0x5f];
        let mut s = Scanner::new(false);
        let r = scan(&mut s, &buf, &[4], &RESYNC, false);
        assert!(matches!(r, Scan::Wait { .. }), "{r:?}");
        buf.extend_from_slice(&[0x81, 2, b'h', b'i', 0x88, 0]);
        assert_eq!(scan(&mut s, &buf, &[4, 10], &RESYNC, false), Scan::Found(4));
    }

    #[test]
    fn scanner_drain_and_big_frame() {
        let mut buf = vec![0xff; 100];
        buf.extend_from_slice(&[0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x00, 0x01]);
        buf.extend_from_slice(&[7u8; 50]);
        let mut s = Scanner::new(false);
        let Scan::Wait {
            dead,
            earliest_real,
            ..
        } = scan(&mut s, &buf, &[100, 160], &RESYNC, false)
        else {
            panic!()
        };
        assert_eq!(earliest_real, Some(100));
        assert_eq!(dead, 100);
        buf.drain(..dead);
        s.drain(dead);
        buf.extend_from_slice(&[8u8; 65537 - 50]);
        let end = buf.len();
        buf.extend_from_slice(&[0x81, 0]);
        assert_eq!(
            scan(&mut s, &buf, &[end, buf.len()], &RESYNC, false),
            Scan::Found(0)
        );
    }

    #[test]
    fn a_chain_inside_a_payload_waits_for_the_frame_at_the_piece_start() {
        // A binary frame at the start of the data whose payload is five empty pings,
        // ending where the piece ends: the pings line up, but the frame at the piece
        // start, undecided until the next header comes, decides first.
        let mut buf = vec![0x82, 10];
        buf.extend([0x89, 0].repeat(5));
        let mut s = Scanner::new(false);
        let r = scan(&mut s, &buf, &[12], &RESYNC, false);
        assert!(
            matches!(
                r,
                Scan::Wait {
                    held_back: Some(2),
                    dead: 0,
                    ..
                }
            ),
            "{r:?}"
        );
        buf.extend([0x81, 0]);
        assert_eq!(
            scan(&mut s, &buf, &[12, buf.len()], &RESYNC, false),
            Scan::Found(0)
        );
    }

    #[test]
    fn scanner_at_end() {
        let buf = [0xff, 0xff, 0x81, 2, b'a', b'b'];
        let mut s = Scanner::new(false);
        assert!(matches!(
            scan(&mut s, &buf, &[2, 6], &RESYNC, false),
            Scan::Wait { .. }
        ));
        assert_eq!(scan(&mut s, &buf, &[2, 6], &RESYNC, true), Scan::Found(2));
        // the same frame inside a piece: one frame is not enough
        let mut s = Scanner::new(false);
        assert!(matches!(
            scan(&mut s, &buf, &[6], &RESYNC, true),
            Scan::Wait { .. }
        ));
        let mut s = Scanner::new(false);
        assert_eq!(
            scan(&mut s, &[0xff, 0xff], &[2], &RESYNC, true),
            Scan::Wait {
                dead: 2,
                earliest_real: None,
                held_back: None,
            }
        );
    }
}
