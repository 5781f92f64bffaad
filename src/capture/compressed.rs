//! Compressed captures: gzip, zstd, xz, lz4 and bzip2, told by their magic number (never
//! by the file name, so standard input works too) and decompressed as a stream, so that
//! [`CaptureReader`](super::CaptureReader) reads the capture inside.
//!
//! [`decompressing`] peeks at the first bytes of a source without losing them and returns
//! a reader of the decompressed bytes, or the source unchanged. Every format is read the
//! way its tools write it: several gzip members, zstd frames (and skippable frames, which
//! `pzstd` starts with), xz streams (and their padding), lz4 frames (and skippable frames)
//! or bzip2 streams one after the other are one capture, so `cat a.pcap.gz b.pcap.gz` is
//! read like `cat a.pcap b.pcap`.
//!
//! Memory is bounded whatever the input claims: each decoder holds its window (gzip
//! 32 KiB, bzip2 900 KB, lz4 4 MiB blocks, zstd and xz at most [`MAX_WINDOW`]), never the
//! output, so a small file inflating to terabytes is read in flat memory. A corrupt or
//! truncated stream is an I/O error whose text names the compression
//! (`gzip: unexpected end of stream`), returned after what was decoded before it (but for
//! up to 64 KiB a failing decoder drops, see `pipe.rs`).
//!
//! The decoders were chosen by decode speed, measured on a 256 MiB capture
//! (`gen_capture --size 256MiB`, compressed by each format's tool at its default level),
//! decompressed bytes per second reading 1 MiB at a time, best of 3, release build, on
//! the 2-core VM; in brackets what each adds to a clean build (`cargo build --timings`):
//!
//! | format | crate | MB/s | the alternatives |
//! |---|---|---|---|
//! | gzip | `flate2` on zlib-rs, already used for permessage-deflate | 570 | |
//! | zstd | `zstd` (C libzstd, without the pre-1.0 formats) \[15 s of C\] | 1020 | `ruzstd` 355 \[1.3 s\] |
//! | lz4 | `lz4_flex`, its safe decoder \[0.4 s\] | 1790 | |
//! | xz | `lzma-rust2` \[1.5 s, and 2 s for the sha2 0.11 it needs\] | 59 | `liblzma` (C) 80 \[4 s\], `lzma-rs` 37 (and no `Read` adapter) |
//! | bzip2 | `bzip2` on `libbz2-rs-sys` \[1 s\] | 34 | the `bzip2` tool (C) 30 |
//!
//! zstd is C because libzstd decodes three times as fast as the Rust port, and zstd is
//! the format chosen for speed; xz is Rust because liblzma's lead is a third, at a speed
//! far below decoding's either way, and is not worth a second C library parsing hostile
//! input. Every crate's `rust-version` is at most ours (1.87).
//!
//! The decoder runs on a thread of its own (`pipe.rs`), so that on two cores it works
//! while the capture is decoded. Measured with the tool on the same capture (release
//! build, median of 10 alternating runs, while the VM's other core was free):
//!
//! | run | on the reading thread | on its own thread |
//! |---|---|---|
//! | zstd, `--format jsonl --flow 0` (one thread decodes) | 0.378 s | 0.277 s |
//! | zstd, `tcp --format jsonl` | 0.310 s | 0.282 s |
//! | zstd, `--format jsonl` (connections spread over the cores) | 0.358 s | 0.298 s |
//! | gzip, `--format jsonl --flow 0` | 0.579 s | 0.502 s |
//!
//! It costs 8-10% more CPU time (handing 256 KiB chunks over, and copying them once), so
//! with no core to spare (another process busy on the VM's other core) the same runs took
//! 7-15% longer.

mod pipe;

use pipe::Pipe;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

/// Largest window (history a decoder keeps) a zstd frame or xz block may ask for, in bytes:
/// libzstd's default limit, the window `zstd --long` writes. `xz -9` needs 64 MiB.
pub const MAX_WINDOW: usize = 128 << 20;

/// Bytes of input each decoder reads at a time.
const INPUT_CHUNK: usize = 64 << 10;

/// A compression a capture may come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (RFC 1952), one or more members.
    Gzip,
    /// Zstandard (RFC 8878), one or more frames.
    Zstd,
    /// xz, one or more streams.
    Xz,
    /// LZ4 frame format, one or more frames.
    Lz4,
    /// bzip2, one or more streams.
    Bzip2,
}

impl Compression {
    /// Bytes of a stream's start that [`Compression::detect`] looks at.
    pub const MAGIC_LEN: usize = 6;

    /// The compression whose magic number `head` starts with, if any.
    pub fn detect(head: &[u8]) -> Option<Compression> {
        match head {
            [0x1f, 0x8b, ..] => Some(Compression::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::Zstd),
            // A skippable frame first is how `pzstd` starts its output.
            [0x50..=0x5f, 0x2a, 0x4d, 0x18, ..] => Some(Compression::Zstd),
            [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Some(Compression::Xz),
            [0x04, 0x22, 0x4d, 0x18, ..] => Some(Compression::Lz4),
            [b'B', b'Z', b'h', b'1'..=b'9', ..] => Some(Compression::Bzip2),
            _ => None,
        }
    }

    /// The name diagnostics give it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Lz4 => "lz4",
            Compression::Bzip2 => "bzip2",
        }
    }

    /// `e`, a decoder's error, with a text naming the compression.
    fn error(self, e: io::Error) -> io::Error {
        let text = match e.kind() {
            io::ErrorKind::UnexpectedEof => "unexpected end of stream".to_string(),
            // xz: a dictionary over the limit (lzma-rust2 checks before allocating).
            io::ErrorKind::OutOfMemory => {
                format!("needs a window over the {} MiB limit", MAX_WINDOW >> 20)
            }
            _ => e.to_string(),
        };
        io::Error::new(e.kind(), format!("{self}: {text}"))
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A byte source.
pub type Source = Box<dyn Read + Send>;

/// Reads the first bytes of `src` to tell whether it is compressed, and returns a reader
/// of its decompressed bytes and the compression found, or (when none is) a reader of
/// `src` unchanged, the bytes peeked at included.
pub fn decompressing(mut src: Source) -> io::Result<(Source, Option<Compression>)> {
    let mut head = [0u8; Compression::MAGIC_LEN];
    let mut len = 0;
    while len < head.len() {
        match src.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let whole: Source = Box::new(io::Cursor::new(head).take(len as u64).chain(src));
    let Some(compression) = Compression::detect(&head[..len]) else {
        return Ok((whole, None));
    };
    let input = BufReader::with_capacity(INPUT_CHUNK, whole);
    let decoder: Source = match compression {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(input)?;
            d.window_log_max(MAX_WINDOW.ilog2())?;
            Box::new(d)
        }
        Compression::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(
            input,
            true,
            (MAX_WINDOW >> 10) as u32 + XZ_DECODER_KIB,
        )),
        Compression::Lz4 => Box::new(Lz4Frames::new(input)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
    };
    let labelled = Labelled {
        inner: decoder,
        compression,
    };
    Ok((
        Box::new(Pipe::spawn(Box::new(labelled))?),
        Some(compression),
    ))
}

/// What an xz decoder needs besides its window, in KiB (liblzma's estimate: 32 KiB).
const XZ_DECODER_KIB: u32 = 64;

/// A decoder whose errors name its compression.
struct Labelled {
    inner: Source,
    compression: Compression,
}

impl Read for Labelled {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => Err(self.compression.error(e)),
            r => r,
        }
    }
}

/// LZ4 frames one after the other, skippable frames passed over. `lz4_flex` reads one
/// frame: its reader ends at the frame's end mark, reports a skippable frame as an error,
/// and ends quietly, as if the frame were complete, when its input runs dry between two
/// blocks or after a magic number. This goes on frame after frame until the input ends,
/// and says when it ends inside one.
struct Lz4Frames {
    /// The frame being read; `None` only after an error.
    frame: Option<lz4_flex::frame::FrameDecoder<Watched>>,
}

impl Lz4Frames {
    fn new(input: BufReader<Source>) -> Self {
        Lz4Frames {
            frame: Some(lz4_flex::frame::FrameDecoder::new(Watched {
                input,
                dry: false,
            })),
        }
    }
}

impl Read for Lz4Frames {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(frame) = self.frame.as_mut() else {
                return Ok(0);
            };
            let input = frame.get_mut();
            input.dry = false;
            if input.input.fill_buf()?.is_empty() {
                return Ok(0);
            }
            match frame.read(buf) {
                Ok(0) if frame.get_ref().dry => {
                    self.frame = None;
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                Ok(0) => {
                    // The frame ended. The next gets a decoder of its own: lz4_flex keeps
                    // the buffers of the last, sized for its block size, and checks them
                    // against the next frame's.
                    let input = self.frame.take().map(|f| f.into_inner());
                    self.frame = input.map(lz4_flex::frame::FrameDecoder::new);
                }
                Ok(n) => return Ok(n),
                Err(e) => {
                    let Some(&lz4_flex::frame::Error::SkippableFrame(len)) =
                        e.get_ref().and_then(|i| i.downcast_ref())
                    else {
                        self.frame = None;
                        return Err(e);
                    };
                    let input = &mut frame.get_mut().input;
                    let skipped = io::copy(&mut input.take(len.into()), &mut io::sink())?;
                    if skipped < u64::from(len) {
                        self.frame = None;
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
            }
        }
    }
}

/// The input of the LZ4 decoder, noting when it ran dry.
struct Watched {
    input: BufReader<Source>,
    /// A read found no more bytes.
    dry: bool,
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        self.dry |= n == 0 && !buf.is_empty();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = b"hello, capture\n";

    /// `TEXT` as each tool writes it (`gzip -n`, `zstd`, `xz`, `lz4`, `bzip2`, defaults).
    const GZIP: [u8; 35] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
        0xd7, 0x51, 0x48, 0x4e, 0x2c, 0x28, 0x29, 0x2d, 0x4a, 0xe5, 0x02, 0x00, 0x43, 0x1b, 0xa9,
        0x78, 0x0f, 0x00, 0x00, 0x00,
    ];
    const ZSTD: [u8; 28] = [
        0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x0f, 0x79, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c,
        0x20, 0x63, 0x61, 0x70, 0x74, 0x75, 0x72, 0x65, 0x0a, 0x54, 0x1b, 0xfd, 0x48,
    ];
    const XZ: [u8; 72] = [
        0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46, 0x02, 0x00, 0x21,
        0x01, 0x16, 0x00, 0x00, 0x00, 0x74, 0x2f, 0xe5, 0xa3, 0x01, 0x00, 0x0e, 0x68, 0x65, 0x6c,
        0x6c, 0x6f, 0x2c, 0x20, 0x63, 0x61, 0x70, 0x74, 0x75, 0x72, 0x65, 0x0a, 0x00, 0x00, 0x61,
        0xbe, 0xa9, 0x7c, 0x1c, 0x0e, 0x70, 0xc7, 0x00, 0x01, 0x27, 0x0f, 0xdf, 0x1a, 0xfc, 0x6a,
        0x1f, 0xb6, 0xf3, 0x7d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x04, 0x59, 0x5a,
    ];
    const LZ4: [u8; 34] = [
        0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 0x0f, 0x00, 0x00, 0x80, 0x68, 0x65, 0x6c, 0x6c,
        0x6f, 0x2c, 0x20, 0x63, 0x61, 0x70, 0x74, 0x75, 0x72, 0x65, 0x0a, 0x00, 0x00, 0x00, 0x00,
        0x26, 0x75, 0xfe, 0xb2,
    ];
    const BZIP2: [u8; 54] = [
        0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0xd5, 0x70, 0x67, 0x8a, 0x00,
        0x00, 0x03, 0xd1, 0x80, 0x00, 0x10, 0x40, 0x04, 0x2a, 0x44, 0xd6, 0x00, 0x20, 0x00, 0x22,
        0x00, 0x1a, 0x02, 0x01, 0xa0, 0x08, 0x6b, 0x98, 0xcb, 0xaa, 0x04, 0x3b, 0x7b, 0xc5, 0xdc,
        0x91, 0x4e, 0x14, 0x24, 0x35, 0x5c, 0x19, 0xe2, 0x80,
    ];

    fn tools() -> [(Compression, &'static [u8]); 5] {
        [
            (Compression::Gzip, &GZIP),
            (Compression::Zstd, &ZSTD),
            (Compression::Xz, &XZ),
            (Compression::Lz4, &LZ4),
            (Compression::Bzip2, &BZIP2),
        ]
    }

    /// A source handing out at most `step` bytes per read, as a pipe may.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn source(data: &[u8], step: usize) -> Source {
        Box::new(Trickle {
            data: data.to_vec(),
            at: 0,
            step,
        })
    }

    /// What `decompressing` makes of `data`: the compression, the bytes read before the
    /// end or an error, and the error.
    fn decode(data: &[u8], step: usize) -> (Option<Compression>, Vec<u8>, Option<io::Error>) {
        let (mut r, c) = decompressing(source(data, step)).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (c, out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (c, out, Some(e)),
            }
        }
    }

    fn compress(c: Compression, data: &[u8]) -> Vec<u8> {
        match c {
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => zstd::encode_all(data, 1).unwrap(),
            Compression::Xz => {
                let opts = lzma_rust2::XzOptions::with_preset(1);
                let mut e = lzma_rust2::XzWriter::new(Vec::new(), opts).unwrap();
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Lz4 => {
                let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    /// Bytes that compress somewhat, as a capture does.
    fn sample(len: usize) -> Vec<u8> {
        let mut x: u32 = 0x2545_f491;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if i % 3 == 0 {
                    x as u8
                } else {
                    (i / 64) as u8
                }
            })
            .collect()
    }

    #[test]
    fn reads_what_each_tool_writes() {
        for (c, bytes) in tools() {
            for step in [1, 3, 1 << 20] {
                let (found, out, err) = decode(bytes, step);
                assert_eq!(found, Some(c));
                assert!(err.is_none(), "{c}: {err:?}");
                assert_eq!(out, TEXT, "{c}");
            }
        }
    }

    #[test]
    fn other_bytes_pass_through_unchanged() {
        let pcap = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0];
        for data in [&pcap[..], &pcap[..3], b"", b"\x1f", b"BZh0 not bzip2"] {
            for step in [1, 5, 64] {
                let (found, out, err) = decode(data, step);
                assert_eq!(found, None);
                assert!(err.is_none());
                assert_eq!(out, data);
            }
        }
    }

    /// `cat a.gz b.gz`, `zstd` frames, `xz` streams, lz4 frames, bzip2 streams: one input.
    #[test]
    fn concatenated_members_are_one_stream() {
        let a = sample(300_000);
        let b = sample(70_001);
        for c in tools().map(|(c, _)| c) {
            let mut both = compress(c, &a);
            both.extend(compress(c, &b));
            let (found, out, err) = decode(&both, 1 << 16);
            assert_eq!(found, Some(c));
            assert!(err.is_none(), "{c}: {err:?}");
            assert!(
                out.len() == a.len() + b.len() && out == [&a[..], &b[..]].concat(),
                "{c}"
            );
        }
    }

    /// xz stream padding (zero bytes, a multiple of 4) may follow each stream.
    #[test]
    fn xz_stream_padding_is_passed_over() {
        let data = [&XZ[..], &[0; 4], &XZ, &[0; 8]].concat();
        let (found, out, err) = decode(&data, 5);
        assert_eq!(found, Some(Compression::Xz));
        assert!(err.is_none(), "{err:?}");
        assert_eq!(out, [TEXT, TEXT].concat());
    }

    /// A skippable frame (the same in zstd and lz4: magic 0x184d2a5X, a length, data) is
    /// passed over wherever it is.
    #[test]
    fn skippable_frames_are_skipped() {
        let skippable = [0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, b'x', b'y', b'z'];
        for (c, bytes) in [(Compression::Zstd, &ZSTD[..]), (Compression::Lz4, &LZ4[..])] {
            let mut data = bytes.to_vec();
            data.extend(skippable);
            data.extend(bytes);
            let (found, out, err) = decode(&data, 1 << 16);
            assert_eq!(found, Some(c));
            assert!(err.is_none(), "{c}: {err:?}");
            assert_eq!(out, [TEXT, TEXT].concat());
        }
        let mut pzstd = skippable.to_vec();
        pzstd.extend(ZSTD);
        let (found, out, err) = decode(&pzstd, 1 << 16);
        assert_eq!(found, Some(Compression::Zstd));
        assert!(err.is_none(), "{err:?}");
        assert_eq!(out, TEXT);
    }

    /// A stream cut anywhere ends in an error naming the compression, after a prefix of
    /// what was compressed; never a panic, never a silent short read.
    #[test]
    fn truncated_streams_are_errors_naming_the_compression() {
        let data = sample(200_000);
        for c in tools().map(|(c, _)| c) {
            let whole = compress(c, &data);
            let cuts: Vec<usize> = (1..64).chain((64..whole.len()).step_by(997)).collect();
            for cut in cuts {
                let (found, out, err) = decode(&whole[..cut], 1 << 16);
                assert_eq!(found, Compression::detect(&whole[..cut]));
                if found.is_none() {
                    continue;
                }
                let err = err.unwrap_or_else(|| panic!("{c} cut at {cut}: no error"));
                assert!(
                    err.to_string().starts_with(&format!("{c}: ")),
                    "{c} cut at {cut}: {err}"
                );
                assert!(data.starts_with(&out), "{c} cut at {cut}");
            }
        }
    }

    #[test]
    fn truncation_is_said_plainly() {
        for (c, bytes) in tools() {
            let (_, _, err) = decode(&bytes[..bytes.len() - 2], 1 << 16);
            let err = err.unwrap();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{c}: {err}");
            assert_eq!(err.to_string(), format!("{c}: unexpected end of stream"));
        }
    }

    /// Flipped bytes give an error (or, where the format has no checksum over them,
    /// other bytes), never a panic or a hang.
    #[test]
    fn corrupt_streams_are_errors_not_panics() {
        let data = sample(100_000);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for c in tools().map(|(c, _)| c) {
            let whole = compress(c, &data);
            for _ in 0..200 {
                let mut bad = whole.clone();
                for _ in 0..3 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let at = 6 + (x as usize % (bad.len() - 6));
                    bad[at] ^= (x >> 40) as u8 | 1;
                }
                let (_, out, err) = decode(&bad, 1 << 16);
                if let Some(e) = err {
                    assert!(e.to_string().starts_with(&format!("{c}: ")), "{e}");
                }
                assert!(out.len() <= 4 * data.len());
            }
        }
    }

    /// A zstd frame or xz block asking for a window over [`MAX_WINDOW`] is refused
    /// before anything is allocated for it.
    #[test]
    fn windows_over_the_limit_are_refused() {
        // The frame header descriptor without "single segment", and a window descriptor
        // of 2^(10 + 19): 512 MiB.
        let mut zstd = ZSTD.to_vec();
        zstd.splice(4..6, [0x04, 19 << 3]);
        let (_, out, err) = decode(&zstd, 1 << 16);
        assert!(out.is_empty());
        let err = err.unwrap().to_string();
        assert_eq!(err, "zstd: Frame requires too much memory for decoding");
        // With a 1 MiB window the same frame decodes.
        zstd[5] = 10 << 3;
        assert_eq!(decode(&zstd, 1 << 16).1, TEXT);

        // The LZMA2 dictionary size code 40 (4 GiB - 1) in the block header, whose CRC32
        // follows it.
        let mut xz = XZ.to_vec();
        xz[16] = 40;
        let mut crc = flate2::Crc::new();
        crc.update(&xz[12..20]);
        xz[20..24].copy_from_slice(&crc.sum().to_le_bytes());
        let (_, out, err) = decode(&xz, 1 << 16);
        assert!(out.is_empty());
        let err = err.unwrap().to_string();
        assert_eq!(err, "xz: needs a window over the 128 MiB limit");
        xz[16] = 20;
        let mut crc = flate2::Crc::new();
        crc.update(&xz[12..20]);
        xz[20..24].copy_from_slice(&crc.sum().to_le_bytes());
        assert_eq!(decode(&xz, 1 << 16).1, TEXT);
    }
}
