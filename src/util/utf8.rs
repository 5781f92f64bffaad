//! Text payloads into `String`s, validated once.
//!
//! `String::from_utf8` validates with the standard library's checker; simdutf8 checks
//! the same bytes several times faster, but then the `String` must be made without a
//! second check, which takes `unsafe`. This module is where that one conversion lives
//! (the crate denies `unsafe` everywhere else but in `view/json/simd.rs`).
//!
//! Why it stays: with `String::from_utf8` instead, `wsdissect --format jsonl` on the
//! plain capture of `bench/compare.sh` (`gen_capture --size 256MiB`: 268 MB, 24,153 text
//! messages) took 236 ms instead of 209 ms on one core (`hyperfine -N -w 2 -r 20
//! 'taskset -c 0 wsdissect --format jsonl plain.pcap'`, 2-core AMD EPYC VM, idle):
//! 13% slower, `core::str::from_utf8` being 15% of all samples in `perf record`.
#![allow(unsafe_code)]

pub use simdutf8::compat::Utf8Error;

/// `bytes` as a `String` when they are UTF-8; otherwise the bytes back, with where and
/// how the first invalid sequence starts.
pub fn into_string(bytes: Vec<u8>) -> Result<String, (Vec<u8>, Utf8Error)> {
    match simdutf8::compat::from_utf8(&bytes) {
        // SAFETY: simdutf8 has just checked that `bytes` are UTF-8, and they are not
        // changed between the check and the conversion.
        Ok(_) => Ok(unsafe { String::from_utf8_unchecked(bytes) }),
        Err(e) => Err((bytes, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_text_and_where_invalid_starts() {
        assert_eq!(into_string("héllo 🎉".into()).unwrap(), "héllo 🎉");
        let (bytes, e) = into_string(vec![b'a', b'b', 0xff, b'c']).unwrap_err();
        assert_eq!(bytes, [b'a', b'b', 0xff, b'c']);
        assert_eq!((e.valid_up_to(), e.error_len()), (2, Some(1)));
        // Cut inside a character: no error length (more bytes could complete it).
        let (_, e) = into_string("é".as_bytes()[..1].to_vec()).unwrap_err();
        assert_eq!((e.valid_up_to(), e.error_len()), (0, None));
    }
}
