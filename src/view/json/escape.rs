//! JSON string escaping as `serde_json` does it: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`,
//! `\t`, `\u00xx` for the other control characters, nothing else escaped.
//!
//! Written straight into a byte buffer with room to spare, so that each byte costs a
//! table load and an eight-byte store rather than a call and a bounds check. Whole
//! 16-byte blocks go through [`super::simd`] where the processor has SSSE3; the rest,
//! and everything elsewhere, eight bytes at a time here: words without special bytes
//! are copied, the others written byte by byte through the tables.

use super::simd;

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

/// Room [`escape`] needs in its buffer past the output position for `n` input bytes:
/// every byte becomes at most six, and stores are up to 16 bytes wide.
pub(super) const fn room(n: usize) -> usize {
    n * 6 + 16
}

/// Writes `b` escaped at `buf[o..]` (eight bytes are stored, so `buf` needs eight from
/// `o`); returns the position after it.
#[inline]
pub(super) fn put(buf: &mut [u8], o: usize, b: u8) -> usize {
    buf[o..o + 8].copy_from_slice(&OUT[b as usize].to_le_bytes());
    o + OUT_LEN[b as usize] as usize
}

/// Writes `s` escaped (without quotes) into `buf` from `o`, which has
/// [`room`]`(s.len())` bytes from there; returns the position after it.
pub(super) fn escape(s: &[u8], buf: &mut [u8], o: usize) -> usize {
    let (done, o) = simd::escape(s, buf, o);
    portable(s.get(done..).unwrap_or_default(), buf, o)
}

/// [`escape`] without SIMD, eight bytes at a time.
fn portable(s: &[u8], buf: &mut [u8], mut o: usize) -> usize {
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
            o = put(buf, o, b);
        }
    }
    for &b in words.remainder() {
        o = put(buf, o, b);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: fn(&[u8], &mut [u8], usize) -> usize, s: &[u8]) -> Vec<u8> {
        let mut buf = vec![0; room(s.len())];
        let n = f(s, &mut buf, 0);
        buf.truncate(n);
        buf
    }

    /// serde_json's escape of `s`, without the quotes.
    fn serde(s: &str) -> Vec<u8> {
        let q = serde_json::to_vec(s).unwrap();
        q[1..q.len() - 1].to_vec()
    }

    #[test]
    fn every_char_below_256_escapes_like_serde_json() {
        let s: String = (0u32..256).filter_map(char::from_u32).collect();
        for cut in 0..s.len() {
            if let Some(t) = s.get(cut..) {
                let want = serde(t);
                assert_eq!(run(escape, t.as_bytes()), want, "from {cut}");
                assert_eq!(run(portable, t.as_bytes()), want, "portable, from {cut}");
            }
        }
    }

    #[test]
    fn simd_blocks_match_the_portable_path() {
        // Every byte below 0x80 at every position of a 16-byte block, among plain
        // bytes, two-byte escapes and `\u` escapes, and every ASCII pair at the
        // boundary between the two halves of a block.
        for b in 0u8..0x80 {
            for pos in 0..16 {
                for fill in [b'a', b'"', b'\n', 0x01] {
                    let mut s = [fill; 32];
                    s[pos] = b;
                    s[pos + 16] = b;
                    assert_eq!(run(escape, &s), run(portable, &s), "{b:#x} at {pos}");
                }
            }
        }
        for a in 0u8..0x80 {
            for b in 0u8..0x80 {
                let mut s = [b'x'; 16];
                s[7] = a;
                s[8] = b;
                assert_eq!(run(escape, &s), run(portable, &s), "{a:#x} {b:#x}");
            }
        }
    }

    #[test]
    fn specials_flags_exactly_the_escaped_bytes() {
        for b in 0u8..=255 {
            let v = u64::from_le_bytes([b'a', b'a', b'a', b, b'a', b'a', b'a', b'a']);
            let want = b < 0x20 || b == b'"' || b == b'\\';
            assert_eq!(specials(v) != 0, want, "{b:#x}");
            if want {
                assert_eq!(specials(v), 0x80 << 24);
            }
        }
    }
}
