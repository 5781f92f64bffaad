//! Finding frame boundaries in a byte stream whose alignment is unknown: after a TCP
//! gap, after garbage, or when a capture starts in the middle of a connection.
//!
//! A candidate offset is believed when it starts a chain of plausible frame headers
//! (each one where the previous frame ends), long enough for the situation: three to
//! detect WebSocket on an unknown connection, two to resynchronise a known one. At the
//! end of a stream, frames that end exactly at (or run past) the end also count.
//!
//! Random bytes hold a plausible-looking header every twenty bytes or so, so a chain
//! also checks what it can of the payloads (text must be UTF-8, a close frame must carry
//! a valid code) and never believes a frame announcing more than
//! [`MAX_PLAUSIBLE_FRAME`] bytes: such a header would swallow the rest of the stream.

use super::frame::{parse_header, FrameHeader, HeaderStatus};
use super::protocol::valid_close_code;
use super::protocol::Opcode;

/// Largest payload a frame found by searching may announce (4 GiB). Eight random length
/// bytes announce less with a probability of 2^-32; real peers never come close.
pub const MAX_PLAUSIBLE_FRAME: u64 = 1 << 32;

/// Payload bytes checked per frame of a chain.
const PAYLOAD_CHECK: usize = 256;

/// What a plausible header must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Required MASK bit, or `None` to only require the chain to agree with itself.
    pub mask: Option<bool>,
    /// Whether RSV1 may be set on the first frame of a data message.
    pub rsv1_ok: bool,
    /// Headers needed in a chain before it is believed.
    pub min_chain: usize,
    /// Headers needed for a chain at offset 0 of the search (a packet boundary right
    /// after a gap or at the start of the capture, where frames usually start).
    pub min_chain_at_start: usize,
}

/// Verdict on one candidate offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chain {
    /// A long enough chain of plausible headers starts here.
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

/// True when `h` could be a frame of a well-behaved stream in fragmentation state
/// `frag` (`Some(true)` inside a fragmented message, `None` unknown).
pub fn plausible(h: &FrameHeader, mask: Option<bool>, rsv1_ok: bool, frag: Option<bool>) -> bool {
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
        Opcode::Text | Opcode::Binary => (!h.rsv[0] || rsv1_ok) && frag != Some(true),
        _ => !h.rsv[0],
    }
}

/// True unless the part of `h`'s payload present in `rest` (which starts at the header)
/// proves the frame fake: a text frame that is not UTF-8 (an uncompressed one), a
/// close frame with a 1-byte payload or an invalid code.
fn payload_plausible(h: &FrameHeader, rest: &[u8]) -> bool {
    let body = rest.get(h.header_len..).unwrap_or(&[]);
    let whole = (body.len() as u64) >= h.payload_len;
    let n = usize::try_from(h.payload_len)
        .unwrap_or(usize::MAX)
        .min(body.len())
        .min(PAYLOAD_CHECK);
    let mut b = [0u8; PAYLOAD_CHECK];
    let Some(dst) = b.get_mut(..n) else {
        return true;
    };
    dst.copy_from_slice(body.get(..n).unwrap_or(&[]));
    if let Some(key) = h.mask {
        super::frame::unmask(dst, key, 0);
    }
    match h.opcode {
        Opcode::Text if !h.rsv[0] => match simdutf8::compat::from_utf8(dst) {
            Ok(_) => true,
            // A character cut by the end of what is checked is fine, unless the whole
            // final frame was checked.
            Err(e) => e.error_len().is_none() && !(whole && h.fin && n as u64 == h.payload_len),
        },
        Opcode::Close => match h.payload_len {
            0 => true,
            1 => false,
            _ => match dst {
                [hi, lo, ..] => valid_close_code(u16::from_be_bytes([*hi, *lo])),
                _ => true,
            },
        },
        _ => true,
    }
}

/// Checks the chain of frames starting at `buf[0]`. With `lenient_first`, the first
/// header may break any rule but the 64-bit length's top bit and
/// [`MAX_PLAUSIBLE_FRAME`] (it is a frame with violations if plausible frames follow it).
/// At the end of the data, a chain is believed when its last frame ends exactly at
/// the end, or when at least two headers were plausible.
pub fn chain(
    buf: &[u8],
    rules: &Rules,
    min_chain: usize,
    lenient_first: bool,
    at_end: bool,
) -> Chain {
    let mut pos: u64 = 0;
    let mut count = 0usize;
    let mut mask = rules.mask;
    let mut frag: Option<bool> = None;
    let mut interesting = false;
    let end_verdict = |count: usize, interesting: bool, exact: bool| {
        if at_end {
            if interesting && (count >= 2 || (count == 1 && exact)) {
                Chain::Valid
            } else {
                Chain::Invalid
            }
        } else {
            Chain::Pending { real: count >= 1 }
        }
    };
    loop {
        let rest = usize::try_from(pos).ok().and_then(|p| buf.get(p..));
        let Some(rest) = rest.filter(|r| !r.is_empty()) else {
            let exact = pos == buf.len() as u64;
            return end_verdict(count, interesting, exact);
        };
        let h = match parse_header(rest) {
            HeaderStatus::NeedMore(_) => return end_verdict(count, interesting, false),
            HeaderStatus::Header(h) => h,
        };
        let ok = if lenient_first && count == 0 {
            !h.length_msb_set && h.payload_len <= MAX_PLAUSIBLE_FRAME
        } else {
            let ok = plausible(&h, mask, rules.rsv1_ok, frag) && payload_plausible(&h, rest);
            mask = Some(h.masked());
            ok
        };
        if !ok {
            return Chain::Invalid;
        }
        match h.opcode {
            Opcode::Text | Opcode::Binary => frag = Some(!h.fin),
            Opcode::Continuation => frag = Some(!h.fin),
            _ => {}
        }
        interesting |= h.opcode != Opcode::Continuation || h.payload_len > 0;
        count += 1;
        if count >= min_chain && interesting {
            return Chain::Valid;
        }
        pos = pos.saturating_add(h.frame_len());
    }
}

/// True when `buf` is exactly a sequence of at least one plausible frame (the last one
/// ending at the end of `buf`) that is not all empty continuations.
pub fn exact_frames(buf: &[u8], rules: &Rules) -> bool {
    chain(buf, rules, usize::MAX, false, true) == Chain::Valid && {
        // `chain` at end also believes two headers whose last frame runs past the end.
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
    },
}

/// Incremental search for the first offset that starts a believable chain, over a
/// buffer that grows between calls. Offsets proven invalid are not examined again.
#[derive(Clone, Debug, Default)]
pub struct Scanner {
    pending: Vec<usize>,
    scanned: usize,
    lenient0: bool,
    origin: bool,
}

impl Scanner {
    /// A scanner; with `lenient0` the header at offset 0 may break rules (see [`chain`]).
    pub fn new(lenient0: bool) -> Scanner {
        Scanner {
            pending: Vec::new(),
            scanned: 0,
            lenient0,
            origin: true,
        }
    }

    fn check(&self, buf: &[u8], p: usize, rules: &Rules, at_end: bool) -> (Chain, bool) {
        let rest = buf.get(p..).unwrap_or(&[]);
        let lenient = self.lenient0 && p == 0;
        let min = if p == 0 && self.origin {
            rules.min_chain_at_start
        } else {
            rules.min_chain
        };
        let c = chain(rest, rules, min, lenient, at_end);
        let real = match c {
            Chain::Pending { real: true } if lenient => {
                chain(rest, rules, min, false, at_end) == Chain::Pending { real: true }
            }
            Chain::Pending { real } => real,
            _ => false,
        };
        (c, real)
    }

    /// Looks for the earliest believable offset in `buf` (the same buffer as before,
    /// possibly grown or drained through [`Scanner::drain`]).
    pub fn scan(&mut self, buf: &[u8], rules: &Rules, at_end: bool) -> Scan {
        let mut still = Vec::new();
        let mut earliest_real = None;
        let candidates = std::mem::take(&mut self.pending)
            .into_iter()
            .chain(self.scanned..buf.len());
        for p in candidates {
            match self.check(buf, p, rules, at_end) {
                (Chain::Valid, _) => return Scan::Found(p),
                (Chain::Invalid, _) => {}
                (Chain::Pending { .. }, real) => {
                    let big = || match parse_header(buf.get(p..).unwrap_or(&[])) {
                        HeaderStatus::Header(h) => h.payload_len > u64::from(u16::MAX),
                        HeaderStatus::NeedMore(_) => false,
                    };
                    if real && earliest_real.is_none() && big() {
                        earliest_real = Some(p);
                    }
                    still.push(p);
                }
            }
        }
        self.scanned = buf.len();
        self.pending = still;
        Scan::Wait {
            dead: self.pending.first().copied().unwrap_or(buf.len()),
            earliest_real,
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
        self.origin = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESYNC: Rules = Rules {
        mask: Some(false),
        rsv1_ok: false,
        min_chain: 2,
        min_chain_at_start: 2,
    };
    const DETECT: Rules = Rules {
        mask: None,
        rsv1_ok: true,
        min_chain: 3,
        min_chain_at_start: 3,
    };

    fn c(buf: &[u8], rules: &Rules, lenient: bool, at_end: bool) -> Chain {
        chain(buf, rules, rules.min_chain, lenient, at_end)
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
    fn scanner_finds_after_garbage() {
        let mut buf = vec![0xff, 0x13, 0x77, 0x5f];
        let mut s = Scanner::new(false);
        let r = s.scan(&buf, &RESYNC, false);
        assert!(matches!(r, Scan::Wait { .. }), "{r:?}");
        buf.extend_from_slice(&[0x81, 2, b'h', b'i', 0x88, 0]);
        assert_eq!(s.scan(&buf, &RESYNC, false), Scan::Found(4));
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
        } = s.scan(&buf, &RESYNC, false)
        else {
            panic!()
        };
        assert_eq!(earliest_real, Some(100));
        assert_eq!(dead, 100);
        buf.drain(..dead);
        s.drain(dead);
        buf.extend_from_slice(&[8u8; 65537 - 50]);
        buf.extend_from_slice(&[0x81, 0]);
        assert_eq!(s.scan(&buf, &RESYNC, false), Scan::Found(0));
    }

    #[test]
    fn scanner_at_end() {
        let buf = [0xff, 0xff, 0x81, 2, b'a', b'b'];
        let mut s = Scanner::new(false);
        assert!(matches!(s.scan(&buf, &RESYNC, false), Scan::Wait { .. }));
        assert_eq!(s.scan(&buf, &RESYNC, true), Scan::Found(2));
        let mut s = Scanner::new(false);
        assert_eq!(
            s.scan(&[0xff, 0xff], &RESYNC, true),
            Scan::Wait {
                dead: 2,
                earliest_real: None
            }
        );
    }
}
