//! The rendering buffer of the JSON writer: raw bytes, numbers, escaped strings and
//! base64 go into one reusable `Vec`, handed to the writer in pieces of about 64 KiB.
//!
//! Rendering into a buffer with room reserved up front lets the escaper store whole
//! words without a bounds check per byte; flushing at 64 KiB keeps its size bounded
//! whatever the length of the strings. The record-shaped code that calls these methods
//! lives in `json/mod.rs`.

use super::escape;
use std::io::{self, Write};

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
            self.room(escape::room(block.len()));
            self.pos = escape::escape(block, &mut self.buf, self.pos);
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

    /// Hands the rendered bytes to `w` (a keeping buffer keeps them).
    pub fn flush<W: Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        if self.keep {
            return Ok(());
        }
        let r = w.write_all(&self.buf[..self.pos]);
        self.pos = 0;
        r
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

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
    fn a_keeping_buffer_keeps_everything_until_taken() {
        let mut b = JsonBuf::keeping(Vec::new());
        let mut sink = Vec::new();
        let s = "x\n".repeat(100_000);
        b.str(&mut sink, &s).unwrap();
        b.flush(&mut sink).unwrap();
        assert!(sink.is_empty());
        assert_eq!(b.take(Vec::new()), serde_json::to_vec(&s).unwrap());
        assert!(b.is_empty());
    }

    #[test]
    fn base64_like_serde_json() {
        for n in [0, 1, 2, 3, 4, 3 * 4096 - 1, 3 * 4096, 3 * 4096 + 1, 100_000] {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
            let mut b = JsonBuf::new();
            let mut a = Vec::new();
            b.base64(&mut a, &bytes).unwrap();
            b.flush(&mut a).unwrap();
            let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let want = serde_json::to_vec(&text).unwrap();
            assert_eq!(a, want, "{n} bytes");
        }
    }
}
