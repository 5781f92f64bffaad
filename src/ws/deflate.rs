//! permessage-deflate decompression (RFC 7692) for one direction of a connection.
//!
//! Each compressed message is raw DEFLATE data whose trailing `00 00 ff ff` was
//! removed by the sender; the [`Inflater`] puts it back at the end of the message. The
//! LZ77 window carries over from message to message (context takeover) unless the
//! sender negotiated `*_no_context_takeover`, in which case the caller asks for a reset
//! after each message. Decoding with a 32 KiB window handles every window size 8–15.
//!
//! A sender may also end a message with a final block (BFINAL, RFC 7692 §7.2.3.4)
//! and still keep its LZ77 window for the next message. zlib stops at the end of a
//! DEFLATE stream, so the inflater keeps the last 32 KiB of its output itself and,
//! after a final block, starts a new stream primed with it: a sender that starts afresh
//! never refers back into it, one that kept its window finds it there.
//!
//! When earlier history is missing (a TCP gap, a failed message, a capture that
//! started mid-connection) the inflater is reset: zlib checks every back-reference
//! against the history it actually holds, so a message that needs the missing history
//! fails with "invalid distance too far back" instead of decoding to wrong bytes.

use flate2::{Decompress, FlushDecompress, Status};
use thiserror::Error;

use super::buf::CappedBuf;

/// Size of the reusable output chunk.
const CHUNK: usize = 32 * 1024;

/// Least spare room worth inflating straight into a message (enough for zlib's fast
/// path, which wants 258 bytes of room).
const MIN_OUT: usize = 1024;

/// Compressed bytes gathered before they are inflated: a frame's segments are inflated
/// as one run instead of one zlib call each (zlib's fast loop stops some bytes short of
/// the end of every input, and each call also updates its window): 5% less wall time
/// on the generated 268 MB permessage-deflate capture of 1448-byte segments.
const GATHER: usize = 32 * 1024;

/// The LZ77 window of DEFLATE: the most history a back-reference can reach.
const WINDOW: usize = 32 * 1024;

/// The tail the sender strips from every compressed message (RFC 7692 §7.2.1).
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// A decompression failure.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum InflateError {
    /// zlib rejected the data.
    #[error("inflate failed: {0}")]
    Corrupt(String),
}

/// A decompression failure in gathered input, with the packet that carried the byte
/// where zlib stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What zlib said.
    pub error: InflateError,
    /// The packet of the input byte zlib reached.
    pub packet: u64,
}

/// A per-direction raw-DEFLATE decompressor for permessage-deflate messages.
pub struct Inflater {
    d: Decompress,
    scratch: Box<[u8]>,
    /// A final block (BFINAL) ended the DEFLATE stream inside the current message.
    ended: bool,
    /// Input bytes that came after the final block.
    trailing: u64,
    /// The current message failed; its remaining input is ignored.
    failed: bool,
    /// Input gathered by [`Inflater::gather`], not inflated yet.
    pending: Vec<u8>,
    /// `(end offset in pending, packet)` of each gathered piece.
    spans: Vec<(usize, u64)>,
    /// The last output (at least the last [`WINDOW`] bytes of it, at most twice
    /// that), to prime the next DEFLATE stream after a final block.
    history: Vec<u8>,
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("ended", &self.ended)
            .field("failed", &self.failed)
            .finish()
    }
}

impl Inflater {
    /// A fresh inflater with empty history.
    pub fn new() -> Inflater {
        Inflater {
            d: Decompress::new(false),
            scratch: vec![0u8; CHUNK].into_boxed_slice(),
            ended: false,
            trailing: 0,
            failed: false,
            pending: Vec::new(),
            spans: Vec::new(),
            history: Vec::new(),
        }
    }

    /// Forgets all history (context reset, or history lost).
    pub fn reset(&mut self) {
        self.d.reset(false);
        self.ended = false;
        self.trailing = 0;
        self.failed = false;
        self.pending.clear();
        self.spans.clear();
        self.history.clear();
    }

    /// Starts a new DEFLATE stream after a final block, with the last [`WINDOW`] bytes
    /// of output as its history (the sender may have kept its window).
    fn restart_primed(&mut self) {
        self.d.reset(false);
        self.ended = false;
        self.trailing = 0;
        let start = self.history.len().saturating_sub(WINDOW);
        let primed = self
            .history
            .get(start..)
            .is_some_and(|dict| !dict.is_empty() && self.d.set_dictionary(dict).is_ok());
        if !primed {
            self.d.reset(false);
            self.history.clear();
        }
    }

    /// True when the current message already failed (further input is ignored until
    /// [`Inflater::finish`]).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Inflates the next piece of the current message's compressed payload into `out`
    /// (which keeps what fits under its cap and counts the rest). After an error the
    /// inflater has forgotten its history and ignores the rest of the message.
    pub fn feed(&mut self, input: &[u8], out: &mut CappedBuf) -> Result<(), InflateError> {
        if self.failed {
            return Ok(());
        }
        self.flush_pending(out)?;
        self.run(input, out).map_err(|(e, _)| e)
    }

    /// Like [`Inflater::feed`] for a piece that `packet` carried, but the piece may be
    /// held and inflated with the pieces after it, until [`Inflater::flush`] (or
    /// [`Inflater::finish`]): call that before `out` is looked at.
    pub fn gather(
        &mut self,
        input: &[u8],
        packet: u64,
        out: &mut CappedBuf,
    ) -> Result<(), Failure> {
        if self.failed {
            return Ok(());
        }
        self.pending.extend_from_slice(input);
        self.spans.push((self.pending.len(), packet));
        if self.pending.len() >= GATHER {
            self.flush(out)
        } else {
            Ok(())
        }
    }

    /// Inflates what [`Inflater::gather`] holds into `out`.
    pub fn flush(&mut self, out: &mut CappedBuf) -> Result<(), Failure> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let r = self.run(&pending, out).map_err(|(error, used)| {
            // The piece holding the last byte zlib took (the first, if none).
            let at = used.saturating_sub(1);
            let i = self.spans.partition_point(|(end, _)| *end <= at);
            let packet = self
                .spans
                .get(i)
                .or(self.spans.last())
                .map_or(0, |(_, p)| *p);
            Failure { error, packet }
        });
        self.pending = pending;
        self.pending.clear();
        self.spans.clear();
        r
    }

    /// [`Inflater::flush`] for callers that have no packet to name.
    fn flush_pending(&mut self, out: &mut CappedBuf) -> Result<(), InflateError> {
        self.flush(out).map_err(|f| f.error)
    }

    /// Ends the current message: inflates what is gathered and the `00 00 ff ff` tail
    /// (a failure in gathered input names no packet here: callers that want one
    /// [`Inflater::flush`] first), then forgets the
    /// history when `reset_context` (the sender's `no_context_takeover`) or when the
    /// sender ended its DEFLATE stream. Returns a note when something odd but harmless
    /// happened: the number of bytes after a final block, ignored.
    pub fn finish(
        &mut self,
        out: &mut CappedBuf,
        reset_context: bool,
    ) -> Result<Option<u64>, InflateError> {
        if self.failed {
            self.reset();
            return Ok(None);
        }
        let r = self
            .flush_pending(out)
            .and_then(|()| self.run(&TAIL, out).map_err(|(e, _)| e));
        let note = (self.trailing > 4).then(|| self.trailing - 4);
        if r.is_err() || reset_context {
            self.reset();
        } else if self.ended {
            self.restart_primed();
        }
        r.map(|()| note)
    }

    /// Inflates `input` into `out`; on failure also says how many input bytes zlib
    /// took.
    fn run(&mut self, input: &[u8], out: &mut CappedBuf) -> Result<(), (InflateError, usize)> {
        let whole = input.len();
        let mut input = input;
        loop {
            if self.ended {
                self.trailing = self.trailing.saturating_add(input.len() as u64);
                return Ok(());
            }
            let in0 = self.d.total_in();
            let out0 = self.d.total_out();
            // Inflate straight into the message when its cap allows (one copy fewer,
            // and back-references within the message stay in one buffer).
            let (status, room, direct) = match out.spare(MIN_OUT) {
                Some(v) => {
                    let room = v.capacity() - v.len();
                    let st = self.d.decompress_vec(input, v, FlushDecompress::None);
                    (st, room, true)
                }
                None => {
                    let st = self
                        .d
                        .decompress(input, &mut self.scratch, FlushDecompress::None);
                    (st, self.scratch.len(), false)
                }
            };
            let used = (self.d.total_in() - in0) as usize;
            let produced = (self.d.total_out() - out0) as usize;
            if direct {
                out.appended(produced);
                let data = out.data();
                let fresh = data.get(data.len().saturating_sub(produced)..);
                remember(&mut self.history, fresh.unwrap_or(&[]));
            } else {
                let chunk = self.scratch.get(..produced).unwrap_or(&[]);
                out.push(chunk);
                remember(&mut self.history, chunk);
            }
            input = input.get(used..).unwrap_or(&[]);
            match status {
                Err(e) => {
                    let msg = match e.message() {
                        // zlib-rs loses the message of errors found in its fast path
                        // (distance too far back, invalid distance or length code).
                        Some("repeated call with bad state") => {
                            "invalid deflate data (distance too far back, or invalid code)"
                        }
                        Some(m) => m,
                        None => "invalid deflate data",
                    }
                    .to_string();
                    self.d.reset(false);
                    self.failed = true;
                    return Err((InflateError::Corrupt(msg), whole - input.len()));
                }
                Ok(Status::StreamEnd) => self.ended = true,
                Ok(_) => {
                    let output_full = produced == room;
                    if !output_full && (input.is_empty() || used == 0) {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Output inflated at a time by [`could_start_message`] (thrown away: zlib keeps its
/// own window).
const PROBE_OUT: usize = 4096;

/// False when `data`, the first bytes of a compressed message, cannot be DEFLATE
/// whatever history came before it: zlib rejects its block structure (a reserved block
/// type, a stored block whose length check fails, Huffman tables that cannot be built,
/// a code outside them). A back-reference into missing history is no proof ("too far
/// back", which zlib-rs also reports without a message), nor is data that stops early.
/// For the boundary search, which checks candidate frames with it.
pub fn could_start_message(data: &[u8]) -> bool {
    let mut d = Decompress::new(false);
    let mut out = [0u8; PROBE_OUT];
    let mut input = data;
    loop {
        let in0 = d.total_in();
        let out0 = d.total_out();
        let status = d.decompress(input, &mut out, FlushDecompress::None);
        let used = (d.total_in() - in0) as usize;
        let produced = (d.total_out() - out0) as usize;
        input = input.get(used..).unwrap_or(&[]);
        match status {
            Err(e) => {
                return matches!(
                    e.message(),
                    None | Some("invalid distance too far back" | "repeated call with bad state")
                )
            }
            Ok(Status::StreamEnd) => return true,
            Ok(_) if produced < PROBE_OUT && (input.is_empty() || used == 0) => return true,
            Ok(_) => {}
        }
    }
}

/// Keeps the last [`WINDOW`] bytes of output in `history` (at most twice that, so
/// each byte is copied about twice).
fn remember(history: &mut Vec<u8>, produced: &[u8]) {
    let tail = produced
        .get(produced.len().saturating_sub(WINDOW)..)
        .unwrap_or(&[]);
    if history.len() + tail.len() > 2 * WINDOW {
        let keep = WINDOW.saturating_sub(tail.len());
        let cut = history.len().saturating_sub(keep);
        history.drain(..cut);
    }
    history.extend_from_slice(tail);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    /// A permessage-deflate compressor as websocket libraries build it.
    pub(crate) struct Deflater {
        c: Compress,
        no_context_takeover: bool,
    }

    impl Deflater {
        /// `bits` 8..=15; 8 is raised to 9 as zlib requires for raw deflate.
        pub(crate) fn new(bits: u8, no_context_takeover: bool) -> Deflater {
            Deflater {
                c: Compress::new_with_window_bits(Compression::default(), false, bits.max(9)),
                no_context_takeover,
            }
        }

        /// One message's compressed payload, tail stripped.
        pub(crate) fn message(&mut self, data: &[u8]) -> Vec<u8> {
            let mut out = Vec::with_capacity(data.len() / 2 + 64);
            let mut pos = 0;
            loop {
                let in0 = self.c.total_in();
                let rest = data.get(pos..).unwrap_or(&[]);
                self.c
                    .compress_vec(rest, &mut out, FlushCompress::Sync)
                    .expect("compress");
                pos += (self.c.total_in() - in0) as usize;
                if out.len() < out.capacity() && pos == data.len() {
                    break;
                }
                out.reserve(4096);
            }
            if out.is_empty() {
                // zlib emits nothing for a flush right after a flush; RFC 7692 §7.2.3.6
                // has senders use an empty stored block's first byte.
                out.push(0);
            } else {
                assert!(out.ends_with(&TAIL), "{data:?} -> {out:?}");
                out.truncate(out.len() - 4);
            }
            if self.no_context_takeover {
                self.c.reset();
            }
            out
        }
    }

    fn inflate_all(inf: &mut Inflater, msg: &[u8], reset: bool) -> Result<Vec<u8>, InflateError> {
        let mut out = CappedBuf::new(usize::MAX);
        let fed = inf.feed(msg, &mut out);
        let finished = inf.finish(&mut out, reset);
        fed?;
        finished?;
        Ok(out.take())
    }

    fn corpus() -> Vec<Vec<u8>> {
        let base = b"The quick brown fox jumps over the lazy dog. ".repeat(40);
        vec![
            base.clone(),
            base.clone(),
            b"{\"type\":\"ping\",\"seq\":1}".to_vec(),
            base.iter().rev().copied().collect(),
            Vec::new(),
            (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect(),
            base,
        ]
    }

    #[test]
    fn context_takeover_every_window() {
        for bits in 8..=15u8 {
            let mut def = Deflater::new(bits, false);
            let mut inf = Inflater::new();
            let msgs = corpus();
            let mut sizes = Vec::new();
            for m in &msgs {
                let c = def.message(m);
                sizes.push(c.len());
                assert_eq!(
                    &inflate_all(&mut inf, &c, false).expect("inflate"),
                    m,
                    "bits {bits}"
                );
            }
            // the repeated message is tiny thanks to the shared context
            if bits >= 12 {
                assert!(sizes[1] < 30, "bits {bits}: {sizes:?}");
            }
        }
    }

    #[test]
    fn message_starts_are_told_from_non_deflate() {
        let mut def = Deflater::new(15, false);
        for m in &corpus() {
            let c = def.message(m);
            // with or without the history they refer to, cut anywhere
            assert!(could_start_message(&c));
            assert!(could_start_message(
                c.get(..c.len() / 2).unwrap_or_default()
            ));
        }
        assert!(could_start_message(&[]));
        // BFINAL with the reserved block type 11
        assert!(!could_start_message(&[0x07, 0x12, 0x34]));
        // a stored block whose NLEN is not the complement of LEN
        assert!(!could_start_message(&[
            0x00, 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5
        ]));
        // a dynamic block asking for more than 286 literal/length codes (HLIT 31)
        assert!(!could_start_message(&[0xfc, 0xff, 0xff, 0xff]));
    }

    #[test]
    fn no_context_takeover_every_window() {
        for bits in 8..=15u8 {
            let mut def = Deflater::new(bits, true);
            let mut inf = Inflater::new();
            for m in &corpus() {
                let c = def.message(m);
                // each message decodes on its own, even with a fresh inflater
                assert_eq!(
                    &inflate_all(&mut Inflater::new(), &c, true).expect("fresh"),
                    m
                );
                assert_eq!(&inflate_all(&mut inf, &c, true).expect("inflate"), m);
            }
        }
    }

    #[test]
    fn fragmented_and_byte_by_byte() {
        let mut def = Deflater::new(15, false);
        let mut inf = Inflater::new();
        for m in &corpus() {
            let c = def.message(m);
            let mut out = CappedBuf::new(usize::MAX);
            for b in c.chunks(1) {
                inf.feed(b, &mut out).expect("feed");
            }
            inf.finish(&mut out, false).expect("finish");
            assert_eq!(out.data(), &m[..]);
        }
    }

    #[test]
    fn gathered_pieces_inflate_as_fed_ones() {
        let mut def = Deflater::new(15, false);
        let mut inf = Inflater::new();
        for m in &corpus() {
            let c = def.message(m);
            let mut out = CappedBuf::new(usize::MAX);
            for (i, b) in c.chunks(1000).enumerate() {
                inf.gather(b, i as u64, &mut out).expect("gather");
            }
            inf.flush(&mut out).expect("flush");
            inf.finish(&mut out, false).expect("finish");
            assert_eq!(out.data(), &m[..]);
        }
    }

    #[test]
    fn gathered_failure_names_the_packet_of_the_bad_byte() {
        let mut good = Deflater::new(15, false).message(&corpus()[0]);
        // Back on a block boundary: the next byte starts a block, and 0xff is a block
        // of the reserved type.
        good.extend_from_slice(&TAIL);
        let mut inf = Inflater::new();
        let mut out = CappedBuf::new(usize::MAX);
        inf.gather(&good, 10, &mut out).expect("held");
        inf.gather(&[0xff; 16], 11, &mut out).expect("held");
        inf.gather(&[0; 16], 12, &mut out).expect("held");
        let f = inf.flush(&mut out).expect_err("reserved block type");
        assert_eq!(f.packet, 11, "{f:?}");
        assert!(inf.failed());
        assert_eq!(out.data(), &corpus()[0][..]);
    }

    #[test]
    fn missing_history_is_detected() {
        let mut def = Deflater::new(15, false);
        let msgs = corpus();
        let _first = def.message(&msgs[0]);
        let second = def.message(&msgs[1]);
        let mut inf = Inflater::new();
        let err = inflate_all(&mut inf, &second, false).expect_err("needs history");
        assert!(err.to_string().contains("too far back"), "{err}");
        // the inflater recovers: a message that needs no missing history decodes
        let mut def2 = Deflater::new(15, false);
        let c = def2.message(b"independent");
        assert_eq!(
            inflate_all(&mut inf, &c, false).expect("ok"),
            b"independent"
        );
    }

    #[test]
    fn cap_truncates_and_keeps_context() {
        let mut def = Deflater::new(15, false);
        let big = vec![b'a'; 1_000_000];
        let c1 = def.message(&big);
        let c2 = def.message(b"after the big one aaaaaaaaaaaaaaaaaaaaaaaaaaa");
        let mut inf = Inflater::new();
        let mut out = CappedBuf::new(1000);
        inf.feed(&c1, &mut out).expect("feed");
        inf.finish(&mut out, false).expect("finish");
        assert!(out.truncated());
        assert_eq!(out.total(), 1_000_000);
        assert_eq!(out.data().len(), 1000);
        assert_eq!(
            inflate_all(&mut inf, &c2, false).expect("next"),
            b"after the big one aaaaaaaaaaaaaaaaaaaaaaaaaaa"
        );
    }

    #[test]
    fn garbage_fails_then_recovers() {
        let mut inf = Inflater::new();
        let mut out = CappedBuf::new(100);
        assert!(inf.feed(&[0xff; 16], &mut out).is_err());
        assert!(inf.failed());
        assert!(inf.feed(&[1, 2, 3], &mut out).is_ok());
        assert_eq!(inf.finish(&mut out, false), Ok(None));
        let c = Deflater::new(15, false).message(b"hello");
        assert_eq!(inflate_all(&mut inf, &c, false).expect("ok"), b"hello");
    }

    #[test]
    fn final_block_then_fresh_stream() {
        // a sender that ends each message with a final block (BFINAL) and trailing bytes
        let mut c = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(100);
        c.compress_vec(b"hello", &mut out, FlushCompress::Finish)
            .expect("c");
        out.extend_from_slice(&[1, 2, 3, 4, 5]);
        let mut inf = Inflater::new();
        let mut buf = CappedBuf::new(100);
        inf.feed(&out, &mut buf).expect("feed");
        let note = inf.finish(&mut buf, false).expect("finish");
        assert_eq!(note, Some(5), "5 bytes after the final block");
        assert_eq!(buf.data(), b"hello");
        let c2 = Deflater::new(15, false).message(b"again");
        assert_eq!(inflate_all(&mut inf, &c2, false).expect("ok"), b"again");
    }

    /// One message as a sender that ends every message with a final block (BFINAL)
    /// but keeps its window: a fresh raw-deflate stream primed with the last 32 KiB
    /// of what it sent before, finished.
    fn final_block_message(sent: &[u8], data: &[u8]) -> Vec<u8> {
        let mut c = Compress::new_with_window_bits(Compression::default(), false, 15);
        let dict = &sent[sent.len().saturating_sub(WINDOW)..];
        if !dict.is_empty() {
            c.set_dictionary(dict).expect("dictionary");
        }
        let mut out = Vec::with_capacity(data.len() + 1024);
        loop {
            let in0 = c.total_in() as usize;
            let st = c
                .compress_vec(&data[in0..], &mut out, FlushCompress::Finish)
                .expect("compress");
            if st == Status::StreamEnd {
                break;
            }
            out.reserve(4096);
        }
        out
    }

    #[test]
    fn final_block_with_context_takeover() {
        let mut msgs = corpus();
        msgs.push(b"The quick brown fox, once more".to_vec());
        let mut sent = Vec::new();
        let mut inf = Inflater::new();
        for (i, m) in msgs.iter().enumerate() {
            let c = final_block_message(&sent, m);
            if i == 1 {
                // the repeat is a back-reference into the message before
                assert!(c.len() < 30, "{}", c.len());
            }
            assert_eq!(
                &inflate_all(&mut inf, &c, false).expect("inflate"),
                m,
                "{i}"
            );
            sent.extend_from_slice(m);
        }
        // byte by byte, and through a capped output that keeps almost nothing
        let mut sent = Vec::new();
        let mut inf = Inflater::new();
        for m in &msgs {
            let c = final_block_message(&sent, m);
            let mut out = CappedBuf::new(10);
            for b in c.chunks(1) {
                inf.feed(b, &mut out).expect("feed");
            }
            assert_eq!(inf.finish(&mut out, false), Ok(None));
            assert_eq!(out.total(), m.len() as u64);
            assert_eq!(out.data(), &m[..m.len().min(10)]);
            sent.extend_from_slice(m);
        }
    }

    #[test]
    fn final_block_then_no_context_takeover_resets() {
        let mut inf = Inflater::new();
        let first = final_block_message(&[], b"hello hello");
        assert_eq!(
            inflate_all(&mut inf, &first, true).expect("1"),
            b"hello hello"
        );
        // a message that needs the forgotten history fails rather than decode
        let second = final_block_message(b"hello hello", b"hello hello");
        assert!(inflate_all(&mut inf, &second, true).is_err());
    }
}
