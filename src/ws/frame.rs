//! WebSocket frame headers (RFC 6455 §5.2) and unmasking.
//!
//! [`parse_header`] reads a header from the start of a byte slice and answers either
//! [`HeaderStatus::NeedMore`] or the parsed [`FrameHeader`]; it never fails, because
//! every bit pattern is a header: what is wrong with it is reported by
//! [`FrameHeader::violations`].

use super::problem::Problem;
use super::protocol::{Opcode, MAX_CONTROL_PAYLOAD};

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN bit: last frame of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3.
    pub rsv: [bool; 3],
    /// Opcode.
    pub opcode: Opcode,
    /// Masking key, when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Declared payload length (never trusted for allocation).
    pub payload_len: u64,
    /// Header length in bytes, 2..=14.
    pub header_len: usize,
    /// The length used a longer encoding than needed (RFC 6455 §5.2 requires the minimal one).
    pub non_minimal_length: bool,
    /// The 64-bit length had its most significant bit set (forbidden).
    pub length_msb_set: bool,
}

/// Result of [`parse_header`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderStatus {
    /// The slice is shorter than the header; the header needs this many bytes in total.
    NeedMore(usize),
    /// A complete header.
    Header(FrameHeader),
}

/// Largest possible header: 2 + 8 (length) + 4 (mask).
pub const MAX_HEADER_LEN: usize = 14;

/// Parses the frame header at the start of `buf`.
pub fn parse_header(buf: &[u8]) -> HeaderStatus {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
        return HeaderStatus::NeedMore(2);
    };
    let masked = b1 & 0x80 != 0;
    let len7 = b1 & 0x7f;
    let ext = match len7 {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let header_len = 2 + ext + if masked { 4 } else { 0 };
    if buf.len() < header_len {
        return HeaderStatus::NeedMore(header_len);
    }
    let mut len_bytes = [0u8; 8];
    let ext_slice = buf.get(2..2 + ext).unwrap_or(&[]);
    if let Some(dst) = len_bytes.get_mut(8 - ext..) {
        dst.copy_from_slice(ext_slice);
    }
    let (payload_len, non_minimal_length) = match len7 {
        126 => {
            let l = u64::from_be_bytes(len_bytes);
            (l, l < 126)
        }
        127 => {
            let l = u64::from_be_bytes(len_bytes);
            (l, l <= 0xffff)
        }
        l => (u64::from(l), false),
    };
    let mask = if masked {
        let mut k = [0u8; 4];
        k.copy_from_slice(buf.get(2 + ext..6 + ext).unwrap_or(&[0; 4]));
        Some(k)
    } else {
        None
    };
    HeaderStatus::Header(FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv: [b0 & 0x40 != 0, b0 & 0x20 != 0, b0 & 0x10 != 0],
        opcode: Opcode::from_bits(b0),
        mask,
        payload_len,
        header_len,
        non_minimal_length,
        length_msb_set: len7 == 127 && payload_len >> 63 != 0,
    })
}

impl FrameHeader {
    /// The MASK bit.
    pub fn masked(&self) -> bool {
        self.mask.is_some()
    }

    /// Header plus payload length, saturating.
    pub fn frame_len(&self) -> u64 {
        self.payload_len.saturating_add(self.header_len as u64)
    }

    /// Violations visible in the header alone (independent of direction and
    /// negotiation): reserved opcode, RSV2/RSV3, oversized or fragmented control frame,
    /// non-minimal length, 64-bit length with the top bit set.
    pub fn violations(&self) -> Vec<Problem> {
        let mut v = Vec::new();
        if let Opcode::Reserved(n) = self.opcode {
            v.push(Problem::ReservedOpcode(n));
        }
        if self.rsv[1] {
            v.push(Problem::Rsv2);
        }
        if self.rsv[2] {
            v.push(Problem::Rsv3);
        }
        if self.opcode.is_control() {
            if self.payload_len > MAX_CONTROL_PAYLOAD {
                v.push(Problem::ControlTooLong(self.payload_len));
            }
            if !self.fin {
                v.push(Problem::FragmentedControl);
            }
        }
        if self.non_minimal_length {
            v.push(Problem::NonMinimalLength {
                bytes: self.header_len - if self.masked() { 4 } else { 0 } - 2,
                length: self.payload_len,
            });
        }
        if self.length_msb_set {
            v.push(Problem::LengthMsbSet);
        }
        v
    }

    /// True when the header breaks a rule (reserved opcode, RSV2/3, bad control frame,
    /// non-minimal or top-bit length): where frame boundaries are being searched for,
    /// such a header is more likely garbage than a frame, and is only believed when a
    /// plausible frame follows it (on a stream in sync it is a frame with violations).
    pub fn is_suspicious(&self) -> bool {
        matches!(self.opcode, Opcode::Reserved(_))
            || self.rsv[1]
            || self.rsv[2]
            || (self.opcode.is_control() && (self.payload_len > MAX_CONTROL_PAYLOAD || !self.fin))
            || self.non_minimal_length
            || self.length_msb_set
    }
}

/// XORs `data` with the masking key, where `data` starts `offset` bytes into the
/// frame's payload (payloads arrive in pieces). Works a machine word at a time.
pub fn unmask(data: &mut [u8], key: [u8; 4], offset: u64) {
    let shift = (offset % 4) as usize;
    let mut rk = [0u8; 4];
    for (i, b) in rk.iter_mut().enumerate() {
        *b = key[(i + shift) % 4];
    }
    let word = u64::from_ne_bytes([rk[0], rk[1], rk[2], rk[3], rk[0], rk[1], rk[2], rk[3]]);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(a) ^ word).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= rk[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(buf: &[u8]) -> FrameHeader {
        match parse_header(buf) {
            HeaderStatus::Header(h) => h,
            HeaderStatus::NeedMore(n) => panic!("need {n}"),
        }
    }

    #[test]
    fn need_more() {
        assert_eq!(parse_header(&[]), HeaderStatus::NeedMore(2));
        assert_eq!(parse_header(&[0x81]), HeaderStatus::NeedMore(2));
        assert_eq!(parse_header(&[0x81, 0x85]), HeaderStatus::NeedMore(6));
        assert_eq!(parse_header(&[0x82, 126, 0]), HeaderStatus::NeedMore(4));
        assert_eq!(
            parse_header(&[0x82, 127 | 0x80]),
            HeaderStatus::NeedMore(14)
        );
        assert_eq!(
            parse_header(&[0x82, 127, 0, 0, 0, 0, 0, 0, 1]),
            HeaderStatus::NeedMore(10)
        );
    }

    #[test]
    fn seven_bit() {
        let h = header(&[0x81, 0x05, b'H']);
        assert!(h.fin);
        assert_eq!(h.rsv, [false; 3]);
        assert_eq!(h.opcode, Opcode::Text);
        assert_eq!(h.mask, None);
        assert_eq!(h.payload_len, 5);
        assert_eq!(h.header_len, 2);
        assert!(h.violations().is_empty());
        let h = header(&[0x01, 0xfd, 1, 2, 3, 4]);
        assert!(!h.fin);
        assert_eq!(h.payload_len, 125);
        assert_eq!(h.mask, Some([1, 2, 3, 4]));
        assert_eq!(h.header_len, 6);
    }

    #[test]
    fn sixteen_and_sixty_four_bit() {
        let h = header(&[0x82, 126, 0x01, 0x00]);
        assert_eq!(
            (h.payload_len, h.header_len, h.non_minimal_length),
            (256, 4, false)
        );
        let h = header(&[0x82, 126 | 0x80, 0xff, 0xff, 9, 9, 9, 9]);
        assert_eq!((h.payload_len, h.header_len), (65535, 8));
        assert_eq!(h.mask, Some([9; 4]));
        let h = header(&[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(
            (h.payload_len, h.header_len, h.non_minimal_length),
            (65536, 10, false)
        );
        let h = header(&[0x82, 127 | 0x80, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4]);
        assert_eq!((h.payload_len, h.header_len), (65536, 14));
        assert_eq!(h.mask, Some([1, 2, 3, 4]));
    }

    #[test]
    fn non_minimal_lengths() {
        let h = header(&[0x82, 126, 0, 125]);
        assert!(h.non_minimal_length);
        assert!(h.is_suspicious());
        assert!(h.violations()[0].to_string().contains("non-minimal"));
        let h = header(&[0x82, 126, 0, 126]);
        assert!(!h.non_minimal_length);
        let h = header(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
        assert!(h.non_minimal_length);
        let h = header(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 5]);
        assert!(h.non_minimal_length);
    }

    #[test]
    fn msb_length() {
        let h = header(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert!(h.length_msb_set);
        assert_eq!(h.payload_len, 1 << 63);
        assert_eq!(h.frame_len(), (1 << 63) + 10);
        let h = header(&[0x82, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(h.frame_len(), u64::MAX);
        assert!(h
            .violations()
            .iter()
            .any(|v| v.to_string().contains("most significant")));
        let h = header(&[0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(!h.length_msb_set);
        assert!(h.violations().is_empty());
    }

    #[test]
    fn rsv_and_opcodes() {
        let h = header(&[0xC1, 0]);
        assert_eq!(h.rsv, [true, false, false]);
        assert!(h.violations().is_empty());
        let h = header(&[0xA1, 0]);
        assert_eq!(h.rsv, [false, true, false]);
        assert!(h.violations()[0].to_string().contains("RSV2"));
        let h = header(&[0x91, 0]);
        assert!(h.violations()[0].to_string().contains("RSV3"));
        for b in 0u8..16 {
            let op = Opcode::from_bits(b);
            assert_eq!(op.bits(), b);
            let reserved = matches!(b, 3..=7 | 0xB..=0xF);
            assert_eq!(matches!(op, Opcode::Reserved(_)), reserved);
            assert_eq!(op.is_control(), b >= 8);
            let h = header(&[0x80 | b, 0]);
            assert_eq!(h.is_suspicious(), reserved, "opcode {b}");
        }
        assert_eq!(Opcode::Reserved(0xB).name(), "reserved:11");
        assert_eq!(Opcode::Pong.to_string(), "pong");
    }

    #[test]
    fn control_frame_rules() {
        let h = header(&[0x89, 126, 0, 126]);
        assert!(h.violations()[0]
            .to_string()
            .contains("control frame payload of 126"));
        let h = header(&[0x09, 0]);
        assert!(h.violations()[0].to_string().contains("fragmented control"));
        let h = header(&[0x88, 125]);
        assert!(h.violations().is_empty());
    }

    #[test]
    fn unmask_rfc_example() {
        let mut data = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        unmask(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&data, b"Hello");
    }

    #[test]
    fn unmask_any_split() {
        let key = [0xde, 0xad, 0xbe, 0xef];
        let plain: Vec<u8> = (0..100u8).collect();
        let mut masked = plain.clone();
        for (i, b) in masked.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
        for a in 0..plain.len() {
            for b in a..plain.len() {
                let mut m = masked.clone();
                let (x, rest) = m.split_at_mut(a);
                let (y, z) = rest.split_at_mut(b - a);
                unmask(x, key, 0);
                unmask(y, key, a as u64);
                unmask(z, key, b as u64);
                assert_eq!(m, plain);
            }
        }
    }
}
