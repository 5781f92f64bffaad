//! JSON string escaping 16 bytes at a time with SSSE3: the crate's one use of `unsafe`.
//!
//! Blocks without special bytes are copied, blocks whose special bytes all have two-byte
//! escapes (`\"`, `\\`, `\b`, `\t`, `\n`, `\f`, `\r`) are expanded with two shuffles,
//! and the rare blocks holding other control characters go through the byte tables of
//! [`super::escape`]. On other processors, or an x86-64 without SSSE3, [`escape`] does
//! nothing and the portable word-at-a-time escaper in [`super::escape`] does the work:
//! both write the same bytes (its tests compare them on every byte value).
//!
//! Why `unsafe` here: the SSE intrinsics that move bytes between memory and registers
//! take raw pointers, and a function compiled for SSSE3 may only be called once the
//! processor is known to have it. Each use sits in a small function whose argument
//! types carry what it needs (`&[u8; 16]`: sixteen readable bytes), with a `// SAFETY:`
//! line; the shuffles and compares themselves are safe to call inside
//! `#[target_feature]` code.
#![allow(unsafe_code)]

/// Escapes the whole 16-byte blocks at the start of `s` into `buf` from `o`, which needs
/// room for six times their length plus 16; returns the input bytes done and the new
/// output position. Without SSSE3 it does nothing: `(0, o)`.
pub(super) fn escape(s: &[u8], buf: &mut [u8], o: usize) -> (usize, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("ssse3") && is_x86_feature_detected!("popcnt") {
            // SAFETY: `escape_ssse3` is compiled for SSSE3 and POPCNT, and the processor
            // was just found to have both.
            return unsafe { x86::escape_ssse3(s, buf, o) };
        }
    }
    (0, o)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::escape::put;
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

    /// The 16 bytes of `bytes` in a register.
    #[inline(always)]
    fn load(bytes: &[u8; 16]) -> __m128i {
        // SAFETY: `bytes` is 16 readable bytes and the unaligned load reads exactly those
        // (SSE2, which every x86-64 has).
        unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
    }

    /// Writes `v` to the 16 bytes of `buf` from `o` (panics if `buf` is shorter).
    #[inline(always)]
    fn store(buf: &mut [u8], o: usize, v: __m128i) {
        let out: &mut [u8; 16] = (&mut buf[o..o + 16])
            .try_into()
            .expect("a 16-byte range is 16 bytes");
        // SAFETY: `out` is 16 writable bytes and the unaligned store writes exactly those
        // (SSE2, which every x86-64 has).
        unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), v) }
    }

    /// [`super::escape`] with SSSE3 and POPCNT, which the caller must have checked for.
    #[target_feature(enable = "ssse3,popcnt")]
    pub(super) fn escape_ssse3(s: &[u8], buf: &mut [u8], mut o: usize) -> (usize, usize) {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let x20 = _mm_set1_epi8(0x20);
        let x10 = _mm_set1_epi8(0x10);
        let minus1 = _mm_set1_epi8(-1);
        let named = load(&NAMED);
        let mut blocks = s.chunks_exact(16);
        for block in &mut blocks {
            let block: &[u8; 16] = block.try_into().expect("chunks_exact(16) yields 16 bytes");
            let v = load(block);
            // Signed compares: bytes from 0x80 up are negative, and never special.
            let ascii = _mm_cmpgt_epi8(v, minus1);
            let ctrl = _mm_and_si128(_mm_cmplt_epi8(v, x20), ascii);
            let special = _mm_or_si128(
                ctrl,
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
            );
            let mask = _mm_movemask_epi8(special) as u32;
            if mask == 0 {
                store(buf, o, v);
                o += 16;
                continue;
            }
            let letters = _mm_shuffle_epi8(named, v);
            let low = _mm_and_si128(_mm_cmplt_epi8(v, x10), ascii);
            let is_named = _mm_and_si128(low, _mm_cmpgt_epi8(letters, _mm_setzero_si128()));
            let unnamed = _mm_andnot_si128(is_named, ctrl);
            if _mm_movemask_epi8(unnamed) != 0 {
                for &b in block {
                    o = put(buf, o, b);
                }
                continue;
            }
            // What follows each backslash: the named letter for controls, else the byte.
            let repl = _mm_or_si128(_mm_and_si128(ctrl, letters), _mm_andnot_si128(ctrl, v));
            for (half, src) in [(mask & 0xff, repl), (mask >> 8, _mm_srli_si128(repl, 8))] {
                let m = half as usize;
                let x = _mm_or_si128(
                    _mm_shuffle_epi8(src, load(&EXPAND.0[m])),
                    load(&EXPAND.1[m]),
                );
                store(buf, o, x);
                o += 8 + half.count_ones() as usize;
            }
        }
        (s.len() - blocks.remainder().len(), o)
    }
}
