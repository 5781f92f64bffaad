//! One direction of a WebSocket connection: a streaming frame parser feeding
//! unmask → inflate → message buffers, with resynchronisation after gaps and garbage.
//!
//! Memory per direction is bounded by the current frame header, the current message
//! (capped at the maximum message size, and by the memory budget all connections
//! share), a control frame in progress, the inflater's window and, while
//! resynchronising, a search buffer of at most [`resync::SYNC_CAP`] bytes.
//!
//! In sync, a header that breaks one rule of RFC 6455 (a non-minimal length, RSV2/RSV3,
//! a reserved opcode, a long or fragmented control frame) is decoded as a frame, its
//! violation recorded; a length over [`MAX_PLAUSIBLE_FRAME`] is garbage, and a header
//! breaking several rules at once goes to the search (believed if frames follow).
//! After a search locks onto frames, the next [`PROBATION_FRAMES`] frames are on
//! probation: a garbage header (any of those) among them followed by bytes that must be skipped means
//! the lock was on garbage, and the next search needs a longer chain (garbage mode,
//! forgotten once a lock survives its probation).
//!
//! A boundary found by searching is a guess, however good the chain that proved it:
//! every frame decoded from it, and every message such a frame belongs to, says so
//! ([`Problem::GuessedBoundary`]), until the guess is confirmed: once the proving
//! chain's frames are decoded, by the first frame that ends exactly where a piece of
//! the stream (a TCP segment, a TLS record) ends, as the sender's writes do. While
//! guessing, the direction does not learn its peer's habits (MASK, RSV1) from its
//! frames, and a broken header is not at a known boundary.

mod loss;
mod message;
mod resync;

use crate::capture::set::FileSet;
use crate::tcp::stream::Endpoint;
use crate::util::community_id::CommunityId;
use std::collections::VecDeque;

use super::buf::CappedBuf;
use super::deflate::Inflater;
use super::frame::{parse_header, unmask, FrameHeader, HeaderStatus, MAX_HEADER_LEN};
use super::problem::Problem;
use super::protocol::{Opcode, WsDirection};
use super::record::DirectionStats;
use super::sync::{Scanner, MAX_PLAUSIBLE_FRAME};
use super::{Options, Out};
use crate::tcp::stream::Provenance;
use message::Msg;
use resync::SyncState;

/// Frames after a resynchronisation during which a garbage header proves the lock was
/// wrong (the stream is garbage, not frames).
const PROBATION_FRAMES: u64 = 32;

/// Failed locks remembered; each one lengthens the chain the next search needs by two.
const MAX_SYNC_FAILURES: u32 = 6;

/// Frames of the chain that proves a boundary found while detecting WebSocket without
/// a handshake (at the start of a piece).
pub(super) const DETECT_CHAIN: u64 = 3;

/// Where a direction's first frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// At its first byte, known: right after the handshake.
    Known,
    /// At its first byte, found by searching (frames detected without a handshake): a
    /// guess until confirmed.
    Found,
    /// Unknown: searched for with chains of `min_chain` frames.
    Search {
        /// Frames a chain needs at the start of a piece.
        min_chain: usize,
        /// The first byte is the stream's first: a frame found there is no guess.
        from_start: bool,
        /// The first byte is where a piece starts (not inside one whose front was
        /// dropped).
        piece_start: bool,
    },
}

/// How a direction's messages are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deflate {
    /// permessage-deflate was not negotiated: RSV1 is a violation.
    Off,
    /// Negotiated; `reset` when this sender does not take over its context.
    On {
        /// The sender's `*_no_context_takeover`.
        reset: bool,
    },
    /// No handshake seen: RSV1 means compressed, context takeover assumed.
    Unknown,
}

/// What a direction needs to know about its connection.
pub struct Ctx<'a> {
    /// The capture's files (what packet ids are resolved with).
    pub files: &'a FileSet,
    /// Connection index.
    pub flow: u64,
    /// WebSocket client address.
    pub client: Endpoint,
    /// WebSocket server address.
    pub server: Endpoint,
    /// The connection's Community ID.
    pub community_id: &'a CommunityId,
    /// The HTTP/2 stream the WebSocket runs on.
    pub h2_stream: Option<u32>,
    /// Direction as the WebSocket roles see it.
    pub dir: WsDirection,
    /// Compression of this direction.
    pub deflate: Deflate,
    /// Output options.
    pub opts: &'a Options,
}

impl Ctx<'_> {
    pub(super) fn is_client(&self) -> bool {
        self.dir == WsDirection::ClientToServer
    }

    pub(super) fn warn(&self, out: &mut Out, packet: u64, kind: &'static str, msg: String) {
        out.warn(
            packet,
            kind,
            format!("flow {} {}: {msg}", self.flow, self.dir),
        );
    }
}

/// Most bytes a message buffer reserves ahead on the word of a frame header (which may
/// lie); beyond it the buffer grows as bytes really arrive.
const RESERVE_AHEAD: u64 = 1 << 20;

/// Where the current frame's payload goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Data,
    Ctrl,
}

/// The frame whose payload is being read.
#[derive(Debug)]
struct Frame {
    h: FrameHeader,
    offset: u64,
    first: Provenance,
    last: Provenance,
    done: u64,
    target: Target,
    errors: Vec<Problem>,
    payload: Option<CappedBuf>,
    lost: u64,
    /// Decoded from a boundary found by searching, not confirmed yet.
    guessed: bool,
}

#[derive(Debug)]
enum Mode {
    Frames,
    Sync(Box<SyncState>),
}

/// The state of one direction.
#[derive(Debug)]
pub struct DirState {
    offset: u64,
    mode: Mode,
    hdr: [u8; MAX_HEADER_LEN],
    hdr_len: usize,
    hdr_start: Provenance,
    hdr_offset: u64,
    accept_next: bool,
    frame: Option<Frame>,
    /// The frame boundaries in use were found by searching and are not confirmed yet:
    /// frames decoded now are marked as guessed. Holds how many frames of the proving
    /// chain are still to come; once none are, a frame ending where a piece ends
    /// confirms the boundaries.
    guessing: Option<u64>,
    msg: Option<Msg>,
    ctrl: Option<Msg>,
    inflater: Option<Inflater>,
    scratch: Vec<u8>,
    close_seen: bool,
    ctx_lost: bool,
    after_gap: bool,
    /// Frames seen with and without the MASK bit (not counting guessed ones).
    mask_counts: [u64; 2],
    /// RSV1 seen on the first frame of a data message (not counting guessed ones).
    rsv1_seen: bool,
    last_at: Provenance,
    /// Frames decoded since the last resynchronisation, while still on probation.
    since_lock: Option<u64>,
    /// A garbage header ended a probation: if the search that follows must skip bytes,
    /// the last lock was on garbage.
    lock_doubt: bool,
    /// Recent resynchronisations that landed on garbage ("garbage mode" when above 0).
    sync_failures: u32,
    /// Counters for the flow record.
    pub stats: DirectionStats,
}

impl DirState {
    /// A direction whose next byte is at stream `offset`, its first frame where `start`
    /// says. `ctx_lost` when compression history before this point is unknown.
    pub fn new(offset: u64, start: Start, ctx_lost: bool) -> DirState {
        let mode = match start {
            Start::Search {
                min_chain,
                from_start,
                piece_start,
            } => Mode::Sync(Box::new(SyncState {
                buf: Vec::new(),
                spans: Vec::new(),
                scanner: Scanner::new(false),
                start: offset,
                min_chain,
                known_start: from_start,
                piece_start: from_start || piece_start,
                fragment_open: false,
            })),
            Start::Known | Start::Found => Mode::Frames,
        };
        DirState {
            offset,
            mode,
            hdr: [0; MAX_HEADER_LEN],
            hdr_len: 0,
            hdr_start: Provenance::default(),
            hdr_offset: offset,
            accept_next: false,
            frame: None,
            guessing: (start == Start::Found).then_some(DETECT_CHAIN),
            msg: None,
            ctrl: None,
            inflater: None,
            scratch: Vec::new(),
            close_seen: false,
            ctx_lost,
            after_gap: false,
            mask_counts: [0; 2],
            rsv1_seen: false,
            last_at: Provenance::default(),
            since_lock: None,
            lock_doubt: false,
            sync_failures: 0,
            stats: DirectionStats::default(),
        }
    }

    /// Next in-order bytes of this direction.
    pub fn data(&mut self, cx: &Ctx, out: &mut Out, bytes: &[u8], at: Provenance) {
        let mut queue = VecDeque::new();
        self.chunk(cx, out, bytes, at, &mut queue);
        while let Some((b, p)) = queue.pop_front() {
            self.chunk(cx, out, &b, p, &mut queue);
        }
    }

    fn chunk(
        &mut self,
        cx: &Ctx,
        out: &mut Out,
        mut bytes: &[u8],
        at: Provenance,
        queue: &mut VecDeque<(Vec<u8>, Provenance)>,
    ) {
        if !bytes.is_empty() {
            self.last_at = at;
        }
        loop {
            match &mut self.mode {
                Mode::Frames => {
                    if bytes.is_empty() {
                        return;
                    }
                    let n = self.frames(cx, out, bytes, at);
                    bytes = bytes.get(n..).unwrap_or(&[]);
                }
                Mode::Sync(s) => {
                    if !bytes.is_empty() {
                        s.push(bytes, at);
                    }
                    if let Some(replay) = self.try_sync(cx, out, false) {
                        for c in replay.into_iter().rev() {
                            queue.push_front(c);
                        }
                    }
                    return;
                }
            }
        }
    }

    /// Frame-mode parsing; returns how many bytes were used (fewer than given only when
    /// switching to resynchronisation).
    fn frames(&mut self, cx: &Ctx, out: &mut Out, bytes: &[u8], at: Provenance) -> usize {
        let mut pos = 0;
        while pos < bytes.len() {
            let rest = bytes.get(pos..).unwrap_or(&[]);
            let Some(frame) = self.frame.as_mut() else {
                if self.hdr_len == 0 {
                    self.hdr_start = at;
                    self.hdr_offset = self.offset;
                }
                let had = self.hdr_len;
                let take = (MAX_HEADER_LEN - had).min(rest.len());
                if let (Some(dst), Some(src)) =
                    (self.hdr.get_mut(had..had + take), rest.get(..take))
                {
                    dst.copy_from_slice(src);
                }
                match parse_header(self.hdr.get(..had + take).unwrap_or(&[])) {
                    HeaderStatus::NeedMore(_) => {
                        self.hdr_len += take;
                        self.offset += take as u64;
                        pos += take;
                    }
                    HeaderStatus::Header(h) => {
                        let huge = h.payload_len > MAX_PLAUSIBLE_FRAME;
                        let garbage = huge
                            || (h.is_suspicious()
                                && (self.since_lock.is_some() || self.breaks_several(cx, &h)))
                            || self.refutes_guess(cx, &h);
                        if garbage && !self.accept_next {
                            self.lock_doubt = self.since_lock.take().is_some();
                            if h.length_msb_set || huge {
                                cx.warn(
                                    out,
                                    at.packet,
                                    "implausible frame length",
                                    format!(
                                        "frame header at stream offset {} claims {} bytes ({}): treated as garbage",
                                        self.hdr_offset,
                                        h.payload_len,
                                        if h.length_msb_set {
                                            "top bit set"
                                        } else {
                                            "over the 4 GiB a frame is believed to hold"
                                        }
                                    ),
                                );
                            }
                            self.offset = self.hdr_offset;
                            self.hdr_len = had;
                            // The header is at a known boundary unless the boundaries
                            // are a guess.
                            self.enter_sync(self.guessing.is_none(), self.msg.is_some());
                            return pos;
                        }
                        self.accept_next = false;
                        let used = h.header_len.saturating_sub(had);
                        self.hdr_len = 0;
                        self.offset += used as u64;
                        pos += used;
                        self.start_frame(cx, out, h, at);
                    }
                }
                continue;
            };
            let remaining = frame.h.payload_len.saturating_sub(frame.done);
            let n = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(rest.len());
            let piece = rest.get(..n).unwrap_or(&[]);
            self.payload(cx, out, piece, at);
            pos += n;
            self.offset += n as u64;
        }
        if self.guessing == Some(0) && self.frame.is_none() && self.hdr_len == 0 {
            // The piece ended exactly where a frame ended: the boundaries line up with
            // the sender's writes.
            self.guessing = None;
        }
        pos
    }

    /// True when `h` breaks more than one rule at once (counting a MASK bit unlike this
    /// direction's frames so far): random bytes mostly do, a peer that bends one rule
    /// does not. In sync, a header breaking a single rule is decoded as a frame with
    /// its violation; one breaking several goes to the search, which believes it only
    /// when plausible frames follow.
    fn breaks_several(&self, cx: &Ctx, h: &FrameHeader) -> bool {
        let usual_masked = match self.mask_counts {
            [0, 0] => cx.is_client(),
            [unmasked, masked] => masked > unmasked,
        };
        h.violations().len() + usize::from(h.masked() != usual_masked) > 1
    }

    fn start_frame(&mut self, cx: &Ctx, out: &mut Out, h: FrameHeader, at: Provenance) {
        let mut errors = h.violations();
        if h.masked() != cx.is_client() {
            errors.push(if cx.is_client() {
                Problem::UnmaskedClientFrame
            } else {
                Problem::MaskedServerFrame
            });
        }
        if h.rsv[0] {
            if !h.opcode.is_data_start() {
                errors.push(Problem::Rsv1NotFirst(h.opcode));
            } else if cx.deflate == Deflate::Off {
                errors.push(Problem::Rsv1WithoutDeflate);
            }
        }
        if self.close_seen {
            errors.push(Problem::FrameAfterClose);
        }
        let guessed = self.guessing.is_some();
        if !guessed {
            if let Some(c) = self.mask_counts.get_mut(usize::from(h.masked())) {
                *c += 1;
            }
            self.rsv1_seen |= h.rsv[0] && h.opcode.is_data_start();
        }
        let cap = cx.opts.max_message_size;
        let budget = out.budget.clone();
        let first_packet = self.hdr_start.first;
        let start = self.hdr_offset;
        let new_msg = |opcode, compressed, inflate| Msg {
            opcode,
            compressed,
            inflate,
            start,
            frames: 0,
            wire: 0,
            first_packet,
            last: at,
            buf: CappedBuf::with_budget(cap, budget.clone()),
            errors: Vec::new(),
            undecodable: false,
            guessed: false,
        };
        let target = match h.opcode {
            Opcode::Text | Opcode::Binary => {
                if let Some(mut m) = self.msg.take() {
                    errors.push(Problem::NewMessageInsideFragmented);
                    m.errors.push(Problem::MessageUnfinished);
                    m.undecodable = true;
                    self.emit_message(cx, out, m);
                }
                let inflate = h.rsv[0] && cx.deflate != Deflate::Off;
                self.after_gap = false;
                self.msg = Some(new_msg(h.opcode, h.rsv[0], inflate));
                Target::Data
            }
            Opcode::Continuation => {
                if self.msg.is_none() {
                    let mut m = new_msg(Opcode::Continuation, false, false);
                    if self.after_gap {
                        m.errors.push(Problem::StartLost);
                    } else {
                        errors.push(Problem::ContinuationWithoutStart);
                    }
                    if cx.deflate != Deflate::Off {
                        m.undecodable = true;
                        m.errors.push(Problem::CompressionUnknown);
                    }
                    self.msg = Some(m);
                }
                Target::Data
            }
            _ => {
                self.ctrl = Some(new_msg(h.opcode, h.rsv[0], false));
                Target::Ctrl
            }
        };
        if h.opcode == Opcode::Close {
            self.close_seen = true;
        }
        self.count_violations(out, &errors);
        let payload = (cx.opts.frames && cx.opts.include_payload_in_frames)
            .then(|| CappedBuf::with_budget(cap, out.budget.clone()));
        if let Some(m) = self.target_msg(target) {
            m.guessed |= guessed;
            m.frames += 1;
            m.wire = m.wire.saturating_add(h.payload_len);
            m.last = at;
            // Room for the frame's decoded bytes up front, instead of growing (and
            // copying) the buffer as they come; compressed data typically inflates to
            // about three times its size.
            let expect = if m.inflate {
                h.payload_len.saturating_mul(3).saturating_add(256)
            } else {
                h.payload_len
            };
            m.buf.reserve(expect.min(RESERVE_AHEAD) as usize);
        }
        self.frame = Some(Frame {
            h,
            offset: self.hdr_offset,
            first: self.hdr_start,
            last: at,
            done: 0,
            target,
            errors,
            payload,
            lost: 0,
            guessed,
        });
        if h.payload_len == 0 {
            self.end_frame(cx, out);
        }
    }

    fn target_msg(&mut self, t: Target) -> Option<&mut Msg> {
        match t {
            Target::Data => self.msg.as_mut(),
            Target::Ctrl => self.ctrl.as_mut(),
        }
    }

    fn payload(&mut self, cx: &Ctx, out: &mut Out, piece: &[u8], at: Provenance) {
        let DirState {
            frame,
            scratch,
            msg,
            ctrl,
            inflater,
            ctx_lost,
            ..
        } = self;
        let Some(f) = frame.as_mut() else {
            return;
        };
        let data: &[u8] = match f.h.mask {
            Some(key) => {
                scratch.clear();
                scratch.extend_from_slice(piece);
                unmask(scratch, key, f.done);
                scratch
            }
            None => piece,
        };
        f.done += piece.len() as u64;
        f.last = at;
        if let Some(p) = f.payload.as_mut() {
            p.push(data);
        }
        let m = match f.target {
            Target::Data => msg.as_mut(),
            Target::Ctrl => ctrl.as_mut(),
        };
        if let Some(m) = m {
            m.last = at;
            if !m.undecodable {
                if m.inflate {
                    let inf = inflater.get_or_insert_with(Inflater::new);
                    let mut r = inf.gather(data, at.packet, &mut m.buf);
                    if r.is_ok() && f.done == f.h.payload_len {
                        r = inf.flush(&mut m.buf);
                    }
                    if let Err(e) = r {
                        m.inflate_failed(cx, out, e.packet, &e.error, ctx_lost);
                    }
                } else {
                    m.buf.push(data);
                }
            }
        }
        if f.done == f.h.payload_len {
            self.end_frame(cx, out);
        }
    }

    /// Inflates the compressed bytes the inflater still holds for the data message in
    /// progress: before anything interrupts its frame (a gap, a lost stream, the end).
    fn flush_inflater(&mut self, cx: &Ctx, out: &mut Out) {
        let DirState {
            msg,
            inflater,
            ctx_lost,
            ..
        } = self;
        if let (Some(m), Some(inf)) = (msg.as_mut(), inflater.as_mut()) {
            if m.inflate && !m.undecodable {
                if let Err(e) = inf.flush(&mut m.buf) {
                    m.inflate_failed(cx, out, e.packet, &e.error, ctx_lost);
                }
            }
        }
    }

    fn end_frame(&mut self, cx: &Ctx, out: &mut Out) {
        let Some(f) = self.frame.take() else {
            return;
        };
        self.stats.frames += 1;
        self.stats.wire_bytes = self.stats.wire_bytes.saturating_add(f.done);
        if let Some(n) = self.guessing.as_mut() {
            *n = n.saturating_sub(1);
        }
        if let Some(n) = self.since_lock.as_mut() {
            *n += 1;
            if *n >= PROBATION_FRAMES {
                // The lock held: whatever garbage came before is forgotten.
                self.since_lock = None;
                self.sync_failures = 0;
            }
        }
        let fin = f.h.fin;
        let target = f.target;
        let errors = f.errors.clone();
        self.emit_frame(cx, out, f, None);
        let msg = match target {
            Target::Ctrl => self.ctrl.take(),
            Target::Data => {
                if let Some(m) = self.msg.as_mut() {
                    m.errors.extend(errors.iter().cloned());
                }
                if fin {
                    self.msg.take()
                } else {
                    None
                }
            }
        };
        if let Some(mut m) = msg {
            if target == Target::Ctrl {
                m.errors.extend(errors);
            }
            if m.inflate && !m.undecodable {
                let reset = matches!(cx.deflate, Deflate::On { reset: true });
                let inf = self.inflater.get_or_insert_with(Inflater::new);
                match inf.finish(&mut m.buf, reset) {
                    Ok(Some(trailing)) => m.errors.push(Problem::DeflateTrailing(trailing)),
                    Ok(None) => {}
                    Err(e) => {
                        let packet = m.last.packet;
                        m.inflate_failed(cx, out, packet, &e, &mut self.ctx_lost);
                    }
                }
            } else if m.inflate {
                if let Some(inf) = self.inflater.as_mut() {
                    inf.reset();
                }
            }
            self.emit_message(cx, out, m);
        }
    }

    /// The direction ended: finish resynchronisation and emit what is in progress.
    /// A retransmission differed from the delivered bytes `range` (stream offsets): said
    /// on the message they belong to when it is still being assembled (one already
    /// emitted cannot be changed: the TCP stage's warning names the packet).
    pub fn conflict(&mut self, range: std::ops::Range<u64>) {
        let n = range.end.saturating_sub(range.start);
        for m in [self.msg.as_mut(), self.ctrl.as_mut()]
            .into_iter()
            .flatten()
        {
            if m.start <= range.start {
                m.errors.push(Problem::ConflictingRetransmission(n));
                return;
            }
        }
    }

    pub fn close(&mut self, cx: &Ctx, out: &mut Out) {
        self.resolve_sync_at_end(cx, out);
        self.flush_incomplete(cx, out);
    }
}
