//! A fast JSON writer for message records, the bulk of every JSON output.
//!
//! [`write_message`] writes exactly the bytes `serde_json::to_writer` writes for
//! `Record::Message` (same field order, same escapes: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`,
//! `\t`, `\u00xx` for other control characters, nothing else escaped), straight into
//! the caller's writer: no intermediate `String`. Strings are scanned eight bytes at a
//! time for the few bytes that need escaping, so long payloads are copied in large runs.

use crate::ws::record::MessageRecord;
use std::io::{self, Write};

/// What each byte below 0x80 needs: 0 nothing, `u` a `\u00xx` escape, anything else the
/// character after the backslash.
static ESCAPE: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `v` that needs escaping (below 0x20, `"` or `\\`) is
/// set, and no other bit: the sums cannot carry from one byte into the next.
#[inline]
fn specials(v: u64) -> u64 {
    const M: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // Below 0x20: the low seven bits plus 0x60 stay below 0x80, and the high bit is clear.
    let ctrl = !((v & M) + LO * 0x60) & !v;
    // Equal to c: the byte XOR c is zero.
    let zero = |x: u64| !(((x & M) + M) | x);
    let quote = zero(v ^ (LO * b'"' as u64));
    let backslash = zero(v ^ (LO * b'\\' as u64));
    (ctrl | quote | backslash) & HI
}

/// What every byte becomes in a JSON string, as the bytes of a little-endian word: the
/// byte itself, or its escape sequence (`\\"`, `\\n`, `\\u001f`...).
static OUT: [u64; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let e = if i < 128 { ESCAPE[i] } else { 0 };
        t[i] = if e == b'u' {
            u64::from_le_bytes([b'\\', b'u', b'0', b'0', HEX[i >> 4], HEX[i & 15], 0, 0])
        } else if e != 0 {
            u64::from_le_bytes([b'\\', e, 0, 0, 0, 0, 0, 0])
        } else {
            i as u64
        };
        i += 1;
    }
    t
};

/// How many bytes of [`OUT`] each byte becomes.
static OUT_LEN: [u8; 256] = {
    let mut t = [1u8; 256];
    let mut i = 0;
    while i < 128 {
        t[i] = match ESCAPE[i] {
            0 => 1,
            b'u' => 6,
            _ => 2,
        };
        i += 1;
    }
    t
};

/// 16 bytes at a time with SSSE3: blocks without special bytes are copied, blocks whose
/// special bytes all have two-byte escapes are expanded with two shuffles, and the rare
/// blocks holding other control characters go through the byte tables.
#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{OUT, OUT_LEN};
    use std::arch::x86_64::*;

    /// For each mask of special bytes in 8 input bytes: where each output byte comes
    /// from (0x80: nowhere, a backslash goes there), and the backslashes.
    static EXPAND: ([[u8; 16]; 256], [[u8; 16]; 256]) = {
        let mut shuf = [[0x80u8; 16]; 256];
        let mut slash = [[0u8; 16]; 256];
        let mut m = 0;
        while m < 256 {
            let mut o = 0;
            let mut i = 0;
            while i < 8 {
                if (m >> i) & 1 == 1 {
                    slash[m][o] = b'\\';
                    o += 1;
                }
                shuf[m][o] = i as u8;
                o += 1;
                i += 1;
            }
            m += 1;
        }
        (shuf, slash)
    };

    /// The letter of the named escapes (`\\b \\t \\n \\f \\r`), by the control
    /// character's low nibble.
    const NAMED: [u8; 16] = [
        0, 0, 0, 0, 0, 0, 0, 0, b'b', b't', b'n', 0, b'f', b'r', 0, 0,
    ];

    /// Escapes the whole 16-byte blocks at the start of `s` into `buf` from `o` (which
    /// needs room for six times their length plus 16); returns the input bytes done and
    /// the new output position. Does nothing without SSSE3.
    pub(super) fn escape(s: &[u8], buf: &mut [u8], o: usize) -> (usize, usize) {
        if is_x86_feature_detected!("ssse3") && is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU features the function is compiled for were just detected.
            unsafe { escape_ssse3(s, buf, o) }
        } else {
            (0, o)
        }
    }

    #[target_feature(enable = "ssse3,popcnt")]
    fn escape_ssse3(s: &[u8], buf: &mut [u8], mut o: usize) -> (usize, usize) {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let x20 = _mm_set1_epi8(0x20);
        let x10 = _mm_set1_epi8(0x10);
        let minus1 = _mm_set1_epi8(-1);
        // SAFETY: reading 16 bytes from a 16-byte array.
        let named = unsafe { _mm_loadu_si128(NAMED.as_ptr().cast()) };
        let mut blocks = s.chunks_exact(16);
        for block in &mut blocks {
            // SAFETY: `block` holds 16 bytes.
            let v = unsafe { _mm_loadu_si128(block.as_ptr().cast()) };
            // Signed compares: bytes from 0x80 up are negative, and never special.
            let ascii = _mm_cmpgt_epi8(v, minus1);
            let ctrl = _mm_and_si128(_mm_cmplt_epi8(v, x20), ascii);
            let special = _mm_or_si128(
                ctrl,
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
            );
            let mask = _mm_movemask_epi8(special) as u32;
            let out = &mut buf[o..o + 16];
            if mask == 0 {
                // SAFETY: `out` holds 16 bytes.
                unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), v) };
                o += 16;
                continue;
            }
            let letters = _mm_shuffle_epi8(named, v);
            let low = _mm_and_si128(_mm_cmplt_epi8(v, x10), ascii);
            let is_named = _mm_and_si128(low, _mm_cmpgt_epi8(letters, _mm_setzero_si128()));
            let unnamed = _mm_andnot_si128(is_named, ctrl);
            if _mm_movemask_epi8(unnamed) != 0 {
                for &b in block {
                    buf[o..o + 8].copy_from_slice(&OUT[b as usize].to_le_bytes());
                    o += OUT_LEN[b as usize] as usize;
                }
                continue;
            }
            // What follows each backslash: the named letter for controls, else the byte.
            let repl = _mm_or_si128(_mm_and_si128(ctrl, letters), _mm_andnot_si128(ctrl, v));
            for (half, src) in [(mask & 0xff, repl), (mask >> 8, _mm_srli_si128(repl, 8))] {
                let m = half as usize;
                // SAFETY: both tables hold 16-byte rows.
                let (shuf, slash) = unsafe {
                    (
                        _mm_loadu_si128(EXPAND.0[m].as_ptr().cast()),
                        _mm_loadu_si128(EXPAND.1[m].as_ptr().cast()),
                    )
                };
                let x = _mm_or_si128(_mm_shuffle_epi8(src, shuf), slash);
                let out = &mut buf[o..o + 16];
                // SAFETY: `out` holds 16 bytes.
                unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), x) };
                o += 8 + half.count_ones() as usize;
            }
        }
        (s.len() - blocks.remainder().len(), o)
    }
}

/// Input bytes escaped per step: the buffer then needs at most six times as much room.
const BLOCK: usize = 4096;

/// Rendered bytes held before they are handed to the writer.
const FLUSH_AT: usize = 64 * 1024;

/// A reusable rendering buffer: records are rendered into it with few bounds checks and
/// no calls per escaped byte, and handed to the writer in pieces of about 64 KiB, so its
/// size stays bounded whatever the length of the strings. A [`JsonBuf::keeping`] buffer
/// instead keeps everything it renders until [`JsonBuf::take`] (for callers that hold
/// the output anyway, so that it is not copied once more).
#[derive(Debug, Default)]
pub struct JsonBuf {
    /// Always initialised up to its length; `pos` bytes are rendered.
    buf: Vec<u8>,
    pos: usize,
    keep: bool,
}

impl JsonBuf {
    /// An empty buffer.
    pub fn new() -> JsonBuf {
        JsonBuf::default()
    }

    /// A buffer that never hands its bytes to a writer, reusing `space` (whose
    /// contents are overwritten).
    pub fn keeping(space: Vec<u8>) -> JsonBuf {
        JsonBuf {
            buf: space,
            pos: 0,
            keep: true,
        }
    }

    /// Bytes rendered and not handed over yet.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Takes the rendered bytes out, continuing in `space` (whose contents are
    /// overwritten).
    pub fn take(&mut self, space: Vec<u8>) -> Vec<u8> {
        let mut out = std::mem::replace(&mut self.buf, space);
        out.truncate(self.pos);
        self.pos = 0;
        out
    }

    fn room(&mut self, n: usize) {
        if self.buf.len() < self.pos + n {
            self.buf.resize(self.pos + n, 0);
        }
    }

    /// Appends raw bytes.
    pub fn raw(&mut self, b: &[u8]) {
        self.room(b.len());
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }

    /// Appends an unsigned integer in decimal.
    pub fn u64(&mut self, mut n: u64) {
        let mut d = [0u8; 20];
        let mut i = d.len();
        loop {
            i -= 1;
            d[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.raw(&d[i..]);
    }

    /// Appends `s` as a JSON string, quotes included, writing to `w` whenever more than
    /// about 64 KiB are held.
    pub fn str<W: Write + ?Sized>(&mut self, w: &mut W, s: &str) -> io::Result<()> {
        self.raw(b"\"");
        for block in s.as_bytes().chunks(BLOCK) {
            self.escape_block(block);
            if self.pos >= FLUSH_AT {
                self.flush(w)?;
            }
        }
        self.raw(b"\"");
        Ok(())
    }

    /// Appends `bytes` as a JSON string of their standard base64, quotes included,
    /// encoded straight into the buffer (base64 needs no escaping) with SIMD.
    pub fn base64<W: Write + ?Sized>(&mut self, w: &mut W, bytes: &[u8]) -> io::Result<()> {
        // A multiple of 3, so that only the last block is padded.
        const IN: usize = 3 * 4096;
        self.raw(b"\"");
        for block in bytes.chunks(IN) {
            let n = block.len().div_ceil(3) * 4;
            self.room(n);
            let out = base64_simd::Out::from_slice(&mut self.buf[self.pos..self.pos + n]);
            self.pos += base64_simd::STANDARD.encode(block, out).len();
            if self.pos >= FLUSH_AT {
                self.flush(w)?;
            }
        }
        self.raw(b"\"");
        Ok(())
    }

    fn escape_block(&mut self, s: &[u8]) {
        // Every input byte becomes at most six bytes, and stores are up to 16 bytes wide.
        self.room(s.len() * 6 + 16);
        let buf = &mut self.buf[..];
        let mut o = self.pos;
        #[cfg(target_arch = "x86_64")]
        let s = {
            let (done, out) = simd::escape(s, buf, o);
            o = out;
            s.get(done..).unwrap_or(&[])
        };
        let mut words = s.chunks_exact(8);
        for word in &mut words {
            let mut a = [0u8; 8];
            a.copy_from_slice(word);
            buf[o..o + 8].copy_from_slice(&a);
            if specials(u64::from_le_bytes(a)) == 0 {
                o += 8;
                continue;
            }
            // JSON text has escapes every few bytes: rather than branch on each, write
            // every byte of the word through the tables.
            for b in a {
                buf[o..o + 8].copy_from_slice(&OUT[b as usize].to_le_bytes());
                o += OUT_LEN[b as usize] as usize;
            }
        }
        for &b in words.remainder() {
            buf[o..o + 8].copy_from_slice(&OUT[b as usize].to_le_bytes());
            o += OUT_LEN[b as usize] as usize;
        }
        self.pos = o;
    }

    /// Hands the rendered bytes to `w` (a keeping buffer keeps them).
    pub fn flush<W: Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        if self.keep {
            return Ok(());
        }
        let r = w.write_all(&self.buf[..self.pos]);
        self.pos = 0;
        r
    }

    /// Renders `m` as the JSON object `serde_json` makes of `Record::Message(m)`
    /// (without a newline) and writes it to `w`, this buffer's pending bytes first.
    pub fn message<W: Write + ?Sized>(&mut self, w: &mut W, m: &MessageRecord) -> io::Result<()> {
        self.raw(b"{\"record\":\"message\",\"file\":");
        self.str(w, &m.file)?;
        self.raw(b",\"flow\":");
        self.u64(m.flow);
        self.raw(b",\"client\":");
        self.str(w, &m.client)?;
        self.raw(b",\"server\":");
        self.str(w, &m.server)?;
        self.raw(b",\"direction\":\"");
        self.raw(m.direction.as_str().as_bytes());
        self.raw(b"\",\"opcode\":");
        self.str(w, &m.opcode.name())?;
        self.raw(b",\"timestamp\":");
        self.str(w, &m.timestamp.to_rfc3339())?;
        self.raw(b",\"frames\":");
        self.u64(m.frames);
        self.raw(if m.compressed {
            b",\"compressed\":true"
        } else {
            b",\"compressed\":false"
        });
        self.raw(b",\"length\":");
        self.u64(m.length);
        self.raw(b",\"wire_length\":");
        self.u64(m.wire_length);
        if let Some(t) = &m.text {
            self.raw(b",\"text\":");
            self.str(w, t)?;
        }
        if let Some(d) = &m.data_b64 {
            self.raw(b",\"data_b64\":");
            self.base64(w, d.bytes())?;
        }
        if let Some(c) = m.close_code {
            self.raw(b",\"close_code\":");
            self.u64(c.into());
        }
        if let Some(r) = &m.close_reason {
            self.raw(b",\"close_reason\":");
            self.str(w, r)?;
        }
        self.raw(b",\"packets\":[");
        self.u64(m.packets[0]);
        self.raw(b",");
        self.u64(m.packets[1]);
        self.raw(b"]");
        if m.undecodable {
            self.raw(b",\"undecodable\":true");
        }
        if m.truncated {
            self.raw(b",\"truncated\":true");
        }
        self.raw(b",\"errors\":[");
        for (i, e) in m.errors.iter().enumerate() {
            if i > 0 {
                self.raw(b",");
            }
            self.str(w, &e.to_string())?;
        }
        self.raw(b"]}");
        self.flush(w)
    }
}

/// Appends raw bytes (for `serde_json` to render into the same buffer).
impl Write for JsonBuf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.raw(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes `s` as a JSON string, quotes included.
pub fn write_str<W: Write + ?Sized>(w: &mut W, s: &str) -> io::Result<()> {
    let mut b = JsonBuf::new();
    b.str(w, s)?;
    b.flush(w)
}

/// Writes `m` as the JSON object `serde_json` makes of `Record::Message(m)`, without a
/// trailing newline. [`JsonBuf::message`] does the same reusing its buffer.
pub fn write_message<W: Write + ?Sized>(w: &mut W, m: &MessageRecord) -> io::Result<()> {
    JsonBuf::new().message(w, m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HandshakeProblem;
    use crate::ws::problem::Problem;
    use crate::ws::record::Record;
    use proptest::prelude::*;

    fn ours(m: &MessageRecord) -> String {
        let mut v = Vec::new();
        write_message(&mut v, m).unwrap();
        String::from_utf8(v).unwrap()
    }

    fn serde(m: &MessageRecord) -> String {
        serde_json::to_string(&Record::Message(m.clone())).unwrap()
    }

    #[test]
    fn every_char_below_256_escapes_like_serde_json() {
        let s: String = (0u32..256).filter_map(char::from_u32).collect();
        for cut in 0..s.len() {
            if let Some(t) = s.get(cut..) {
                let mut a = Vec::new();
                write_str(&mut a, t).unwrap();
                assert_eq!(a, serde_json::to_vec(t).unwrap());
            }
        }
    }

    #[test]
    fn numbers() {
        for n in [0, 1, 9, 10, 99, 100, 12345, u64::MAX] {
            let mut b = JsonBuf::new();
            b.u64(n);
            let mut a = Vec::new();
            b.flush(&mut a).unwrap();
            assert_eq!(a, n.to_string().into_bytes());
        }
    }

    #[test]
    fn long_strings_are_flushed_in_pieces() {
        let s = "\u{1}\"ab".repeat(100_000);
        let mut a = Vec::new();
        write_str(&mut a, &s).unwrap();
        assert_eq!(a, serde_json::to_vec(&s).unwrap());
    }

    #[test]
    fn all_optional_fields() {
        let mut m = MessageRecord {
            file: "a\"b\\c.pcap".into(),
            flow: 3,
            client: "[::1]:5".into(),
            server: "1.2.3.4:80".into(),
            direction: "client_to_server".parse().unwrap(),
            opcode: "close".parse().unwrap(),
            timestamp: "2026-01-01T00:00:00.000001Z".parse().unwrap(),
            frames: 2,
            compressed: true,
            length: 7,
            wire_length: 9,
            text: Some("héllo\n\u{1}\u{7f}\"".into()),
            data_b64: Some(crate::ws::record::Base64(vec![0, 1, 2, 0xff, 0xfe])),
            close_code: Some(1000),
            close_reason: Some("bye\t".into()),
            packets: [4, 5],
            undecodable: true,
            truncated: true,
            errors: vec![
                Problem::Rsv2,
                Problem::Handshake(HandshakeProblem::MethodNotGet("y\u{1f}".into())),
            ],
        };
        assert_eq!(ours(&m), serde(&m));
        m = MessageRecord::default();
        assert_eq!(ours(&m), serde(&m));
    }

    proptest! {
        #[test]
        fn dense_escapes_like_serde_json(s in "[\"\\\\\\x00-\\x1fa-zé\\x7f]{0,300}") {
            let m = MessageRecord { text: Some(s), ..MessageRecord::default() };
            prop_assert_eq!(ours(&m), serde(&m));
        }

        #[test]
        fn two_byte_escapes_like_serde_json(s in "[\"\\\\\\n\\t\\r\\x08\\x0ca-z0-9 é東]{0,300}") {
            let m = MessageRecord { text: Some(s), ..MessageRecord::default() };
            prop_assert_eq!(ours(&m), serde(&m));
        }

        #[test]
        fn same_as_serde_json(text in any::<String>(), ascii in "[ -~\\n\\t]{0,80}", n in any::<u64>(),
                              flags in any::<(bool, bool, bool)>(), errors in proptest::collection::vec(any::<String>(), 0..3),
                              bin in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..30_000))) {
            let m = MessageRecord {
                file: ascii.clone(),
                flow: n,
                text: Some(text),
                close_reason: flags.0.then(|| ascii.clone()),
                close_code: flags.1.then_some(n as u16),
                compressed: flags.2,
                undecodable: flags.0,
                errors: errors
                    .into_iter()
                    .map(|e| Problem::Handshake(HandshakeProblem::MethodNotGet(e)))
                    .collect(),
                data_b64: bin.map(crate::ws::record::Base64),
                ..MessageRecord::default()
            };
            prop_assert_eq!(ours(&m), serde(&m));
        }
    }
}
