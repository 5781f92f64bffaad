//! One direction of a WebSocket connection: a streaming frame parser feeding
//! unmask → inflate → message buffers, with resynchronisation after gaps and garbage.
//!
//! Memory per direction is bounded by the current frame header, the current message
//! (capped at the maximum message size, and by the memory budget all connections
//! share), a control frame in progress, the inflater's window and, while
//! resynchronising, a search buffer of at most [`SYNC_CAP`] bytes.
//!
//! After a search locks onto frames, the next [`PROBATION_FRAMES`] frames are on
//! probation: a garbage header among them followed by bytes that must be skipped means
//! the lock was on garbage, and the next search needs a longer chain (garbage mode,
//! forgotten once a lock survives its probation).

use std::collections::VecDeque;

use base64::Engine as _;

use super::buf::CappedBuf;
use super::deflate::Inflater;
use super::frame::{parse_header, unmask, FrameHeader, HeaderStatus, Opcode, MAX_HEADER_LEN};
use super::sync::{Rules, Scan, Scanner, MAX_PLAUSIBLE_FRAME};
use super::{Options, Out};
use crate::record::{Base64, DirectionStats, FrameRecord, MessageRecord, Record};
use crate::tcp::stream::{Direction, Provenance};

/// Largest resynchronisation buffer; past it a big plausible frame is believed or the
/// bytes already proven garbage are dropped.
pub const SYNC_CAP: usize = 256 * 1024;

/// Frames after a resynchronisation during which a garbage header proves the lock was
/// wrong (the stream is garbage, not frames).
const PROBATION_FRAMES: u64 = 32;

/// Failed locks remembered; each one lengthens the chain the next search needs by two.
const MAX_SYNC_FAILURES: u32 = 6;

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
    /// Capture file name.
    pub file: &'a str,
    /// Connection index.
    pub flow: u64,
    /// WebSocket client address.
    pub client: &'a str,
    /// WebSocket server address.
    pub server: &'a str,
    /// Direction as the WebSocket roles see it.
    pub dir: Direction,
    /// Compression of this direction.
    pub deflate: Deflate,
    /// Output options.
    pub opts: &'a Options,
}

impl Ctx<'_> {
    fn is_client(&self) -> bool {
        self.dir == Direction::ClientToServer
    }

    fn warn(&self, out: &mut Out, packet: u64, msg: String) {
        out.warn(packet, format!("flow {} {}: {msg}", self.flow, self.dir));
    }
}

/// Most bytes a message buffer reserves ahead on the word of a frame header (which may
/// lie); beyond it the buffer grows as bytes really arrive.
const RESERVE_AHEAD: u64 = 1 << 20;

/// A message being assembled.
#[derive(Debug)]
struct Msg {
    opcode: Opcode,
    compressed: bool,
    /// Payload goes through the inflater.
    inflate: bool,
    frames: u64,
    wire: u64,
    first_packet: u64,
    last: Provenance,
    buf: CappedBuf,
    errors: Vec<String>,
    undecodable: bool,
}

impl Msg {
    /// Marks the message undecodable after an inflate error (saying so when compression
    /// history was already missing); the direction's history is lost from here on.
    fn inflate_failed(
        &mut self,
        cx: &Ctx,
        out: &mut Out,
        packet: u64,
        err: &dyn std::fmt::Display,
        ctx_lost: &mut bool,
    ) {
        let note = if *ctx_lost {
            " (compression history before this message is missing)"
        } else {
            ""
        };
        let msg = format!("{err}{note}");
        cx.warn(out, packet, msg.clone());
        self.errors.push(msg);
        self.undecodable = true;
        *ctx_lost = true;
    }
}

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
    errors: Vec<String>,
    payload: Option<CappedBuf>,
    lost: u64,
}

/// Bytes held while looking for frame boundaries.
#[derive(Debug)]
struct SyncState {
    buf: Vec<u8>,
    /// `(end offset in buf, packet)` for each piece appended.
    spans: Vec<(usize, Provenance)>,
    scanner: Scanner,
    /// Stream offset of `buf[0]`.
    start: u64,
    min_chain: usize,
}

impl SyncState {
    fn push(&mut self, bytes: &[u8], at: Provenance) {
        self.buf.extend_from_slice(bytes);
        self.spans.push((self.buf.len(), at));
    }

    fn drain(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
        self.spans.retain(|&(end, _)| end > n);
        for s in &mut self.spans {
            s.0 -= n;
        }
        self.scanner.drain(n);
        self.start += n as u64;
    }

    /// The bytes from `from` on, cut at the pieces they arrived in.
    fn chunks_from(&self, from: usize) -> Vec<(Vec<u8>, Provenance)> {
        let mut out = Vec::new();
        let mut start = 0;
        for &(end, at) in &self.spans {
            let s = start.max(from);
            if s < end {
                if let Some(b) = self.buf.get(s..end) {
                    out.push((b.to_vec(), at));
                }
            }
            start = end;
        }
        out
    }

    fn first_packet(&self) -> Option<Provenance> {
        self.spans.first().map(|s| s.1)
    }
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
    msg: Option<Msg>,
    ctrl: Option<Msg>,
    inflater: Option<Inflater>,
    scratch: Vec<u8>,
    close_seen: bool,
    ctx_lost: bool,
    after_gap: bool,
    /// Frames seen with and without the MASK bit.
    mask_counts: [u64; 2],
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
    /// A direction whose next byte is at stream `offset`. With `sync`, frame
    /// boundaries are unknown and are searched for first (chain of `min_chain`).
    /// `ctx_lost` when compression history before this point is unknown.
    pub fn new(offset: u64, sync: Option<usize>, ctx_lost: bool) -> DirState {
        let mode = match sync {
            Some(min_chain) => Mode::Sync(Box::new(SyncState {
                buf: Vec::new(),
                spans: Vec::new(),
                scanner: Scanner::new(false),
                start: offset,
                min_chain,
            })),
            None => Mode::Frames,
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

    fn sync_rules(&self, cx: &Ctx, min_chain: usize) -> Rules {
        Rules {
            // The role decides, unless this peer mostly breaks the masking rule.
            mask: Some(match self.mask_counts {
                [unmasked, masked] if masked > unmasked.saturating_add(1) => true,
                [unmasked, masked] if unmasked > masked.saturating_add(1) => false,
                _ => cx.is_client(),
            }),
            rsv1_ok: cx.deflate != Deflate::Off || self.rsv1_seen,
            min_chain: min_chain.max(3),
            min_chain_at_start: min_chain,
        }
    }

    /// Runs the boundary search; returns the bytes to decode as frames when found.
    fn try_sync(
        &mut self,
        cx: &Ctx,
        out: &mut Out,
        at_end: bool,
    ) -> Option<Vec<(Vec<u8>, Provenance)>> {
        let Mode::Sync(s) = &self.mode else {
            return None;
        };
        let rules = self.sync_rules(cx, s.min_chain);
        let Mode::Sync(s) = &mut self.mode else {
            return None;
        };
        let found = match s.scanner.scan(&s.buf, &rules, at_end) {
            Scan::Found(k) => Some(k),
            Scan::Wait {
                dead,
                earliest_real,
            } => {
                if at_end {
                    None
                } else if s.buf.len() > SYNC_CAP {
                    match earliest_real {
                        Some(p) => Some(p),
                        None => {
                            let pkt = s.first_packet().unwrap_or_default().packet;
                            let off = s.start;
                            s.drain(dead);
                            self.skipped(cx, out, dead as u64, off, pkt);
                            return None;
                        }
                    }
                } else {
                    return None;
                }
            }
        };
        let Mode::Sync(s) = std::mem::replace(&mut self.mode, Mode::Frames) else {
            return None;
        };
        let pkt = s.first_packet().unwrap_or(self.last_at).packet;
        match found {
            Some(k) => {
                let replay = s.chunks_from(k);
                self.offset = s.start + k as u64;
                self.accept_next = k == 0;
                self.skipped(cx, out, k as u64, s.start, pkt);
                self.lock_doubt = false;
                self.since_lock = Some(0);
                Some(replay)
            }
            None => {
                self.offset = s.start + s.buf.len() as u64;
                self.skipped(cx, out, s.buf.len() as u64, s.start, pkt);
                self.lock_doubt = false;
                None
            }
        }
    }

    fn skipped(&mut self, cx: &Ctx, out: &mut Out, n: u64, offset: u64, packet: u64) {
        if n == 0 {
            return;
        }
        self.stats.skipped_bytes += n;
        if std::mem::take(&mut self.lock_doubt) {
            self.sync_failures = (self.sync_failures + 1).min(MAX_SYNC_FAILURES);
        }
        out.problems += 1;
        cx.warn(
            out,
            packet,
            format!("skipped {n} bytes at stream offset {offset} that are not WebSocket frames"),
        );
        let reason = format!("{n} bytes skipped while resynchronising on frame headers");
        self.lose(cx, out, &reason);
    }

    fn enter_sync(&mut self, lenient0: bool) {
        if matches!(self.mode, Mode::Sync(_)) {
            return;
        }
        let mut s = SyncState {
            buf: Vec::new(),
            spans: Vec::new(),
            scanner: Scanner::new(lenient0),
            start: self.hdr_offset,
            // In garbage mode, longer chains: each failed lock adds two headers.
            min_chain: 2 + 2 * self.sync_failures as usize,
        };
        if self.hdr_len > 0 {
            let partial = self.hdr.get(..self.hdr_len).unwrap_or(&[]).to_vec();
            s.push(&partial, self.hdr_start);
            self.hdr_len = 0;
        } else {
            s.start = self.offset;
        }
        self.mode = Mode::Sync(Box::new(s));
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
                        if (h.is_suspicious() || huge) && !self.accept_next {
                            self.lock_doubt = self.since_lock.take().is_some();
                            if h.length_msb_set || huge {
                                cx.warn(
                                    out,
                                    at.packet,
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
                            self.enter_sync(true);
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
        pos
    }

    fn start_frame(&mut self, cx: &Ctx, out: &mut Out, h: FrameHeader, at: Provenance) {
        let mut errors = h.violations();
        if h.masked() != cx.is_client() {
            errors.push(if cx.is_client() {
                "unmasked client frame".to_string()
            } else {
                "masked server frame".to_string()
            });
        }
        if h.rsv[0] {
            if !h.opcode.is_data_start() {
                errors.push(format!(
                    "RSV1 set on a {} frame (only the first frame of a data message may carry it)",
                    h.opcode
                ));
            } else if cx.deflate == Deflate::Off {
                errors.push("RSV1 set but permessage-deflate was not negotiated".to_string());
            }
        }
        if self.close_seen {
            errors.push("frame after a close frame".to_string());
        }
        if let Some(c) = self.mask_counts.get_mut(usize::from(h.masked())) {
            *c += 1;
        }
        self.rsv1_seen |= h.rsv[0] && h.opcode.is_data_start();
        let cap = cx.opts.max_message_size;
        let budget = out.budget.clone();
        let first_packet = self.hdr_start.packet;
        let new_msg = |opcode, compressed, inflate| Msg {
            opcode,
            compressed,
            inflate,
            frames: 0,
            wire: 0,
            first_packet,
            last: at,
            buf: CappedBuf::with_budget(cap, budget.clone()),
            errors: Vec::new(),
            undecodable: false,
        };
        let target = match h.opcode {
            Opcode::Text | Opcode::Binary => {
                if let Some(mut m) = self.msg.take() {
                    errors.push("new data message inside a fragmented message".to_string());
                    m.errors
                        .push("message never finished: a new data message started".to_string());
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
                        m.errors
                            .push("continuation frame whose message start was lost".to_string());
                    } else {
                        errors.push("continuation frame without a message start".to_string());
                    }
                    if cx.deflate != Deflate::Off {
                        m.undecodable = true;
                        m.errors.push(
                            "cannot tell whether the message is compressed: its first frame is missing"
                                .to_string(),
                        );
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
        self.stats.violations += errors.len() as u64;
        out.problems += errors.len() as u64;
        let payload = (cx.opts.frames && cx.opts.include_payload_in_frames)
            .then(|| CappedBuf::with_budget(cap, out.budget.clone()));
        if let Some(m) = self.target_msg(target) {
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
                    Ok(Some(note)) => m.errors.push(note),
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

    fn emit_frame(&mut self, cx: &Ctx, out: &mut Out, f: Frame, extra: Option<String>) {
        if !cx.opts.frames {
            return;
        }
        let mut errors = f.errors;
        if f.lost > 0 {
            errors.push(format!("{} payload bytes lost in a tcp gap", f.lost));
        }
        errors.extend(extra);
        let whole = f.lost == 0 && f.done == f.h.payload_len;
        let payload_b64 = f
            .payload
            .filter(|p| whole && !p.truncated())
            .map(|p| base64::engine::general_purpose::STANDARD.encode(p.data()));
        out.records.push(Record::Frame(FrameRecord {
            file: cx.file.to_string(),
            flow: cx.flow,
            client: cx.client.to_string(),
            server: cx.server.to_string(),
            direction: cx.dir.as_str().to_string(),
            timestamp: f.last.ts.to_rfc3339(),
            fin: f.h.fin,
            rsv: f.h.rsv,
            opcode: f.h.opcode.name(),
            masked: f.h.masked(),
            mask_key: f
                .h
                .mask
                .map(|k| k.iter().map(|b| format!("{b:02x}")).collect()),
            payload_length: f.h.payload_len,
            header_length: f.h.header_len as u64,
            stream_offset: f.offset,
            packets: [f.first.packet, f.last.packet],
            payload_b64,
            errors,
        }));
    }

    fn emit_message(&mut self, cx: &Ctx, out: &mut Out, mut m: Msg) {
        self.stats.messages += 1;
        self.stats.payload_bytes = self.stats.payload_bytes.saturating_add(m.buf.total());
        if m.undecodable {
            self.stats.undecodable += 1;
            out.problems += 1;
        }
        let truncated = m.buf.truncated();
        if truncated && !m.undecodable {
            self.stats.truncated += 1;
            out.problems += 1;
            let msg = if m.buf.budget_hit() {
                format!(
                    "message of {} bytes truncated to {} bytes: the messages in progress hold the {}-byte memory budget",
                    m.buf.total(),
                    m.buf.data().len(),
                    out.budget.limit()
                )
            } else {
                format!(
                    "message of {} bytes truncated to the {}-byte maximum message size",
                    m.buf.total(),
                    m.buf.cap()
                )
            };
            cx.warn(out, m.last.packet, msg.clone());
            m.errors.push(msg);
        }
        let length = m.buf.total();
        let data = m.buf.take();
        let mut rec = MessageRecord {
            file: cx.file.to_string(),
            flow: cx.flow,
            client: cx.client.to_string(),
            server: cx.server.to_string(),
            direction: cx.dir.as_str().to_string(),
            opcode: m.opcode.name(),
            timestamp: m.last.ts.to_rfc3339(),
            frames: m.frames,
            compressed: m.compressed,
            length,
            wire_length: m.wire,
            packets: [m.first_packet, m.last.packet],
            undecodable: m.undecodable,
            truncated: truncated && !m.undecodable,
            ..MessageRecord::default()
        };
        if !m.undecodable {
            let before = m.errors.len();
            fill_payload(&mut rec, &mut m.errors, m.opcode, data, truncated);
            let violations = (m.errors.len() - before) as u64;
            self.stats.violations += violations;
            out.problems += violations;
        }
        if !cx.opts.messages {
            return;
        }
        rec.errors = m.errors;
        out.records.push(Record::Message(rec));
    }

    /// The in-progress frame and messages can no longer be decoded (bytes lost): emit
    /// them as undecodable with `reason`, forget compression history.
    fn lose(&mut self, cx: &Ctx, out: &mut Out, reason: &str) {
        self.flush_inflater(cx, out);
        if let Some(f) = self.frame.take() {
            self.stats.frames += 1;
            self.stats.wire_bytes = self.stats.wire_bytes.saturating_add(f.done);
            let target = f.target;
            let errors = f.errors.clone();
            self.emit_frame(cx, out, f, Some(reason.to_string()));
            if let Some(m) = self.target_msg(target) {
                m.errors.extend(errors);
            }
        }
        self.hdr_len = 0;
        for m in [self.ctrl.take(), self.msg.take()].into_iter().flatten() {
            let mut m = m;
            if !m.undecodable {
                m.errors.push(reason.to_string());
            }
            m.undecodable = true;
            self.emit_message(cx, out, m);
        }
        self.lose_context(cx);
        self.after_gap = true;
    }

    fn lose_context(&mut self, cx: &Ctx) {
        if cx.deflate != Deflate::Off {
            if let Some(inf) = self.inflater.as_mut() {
                inf.reset();
            }
            self.ctx_lost = true;
        }
    }

    /// `len` bytes of this direction were never captured.
    pub fn gap(&mut self, cx: &Ctx, out: &mut Out, len: u64, at: Provenance) {
        self.flush_inflater(cx, out);
        self.stats.gaps += 1;
        self.stats.gap_bytes = self.stats.gap_bytes.saturating_add(len);
        out.problems += 1;
        cx.warn(
            out,
            at.packet,
            format!("tcp gap of {len} bytes at stream offset {}", self.offset),
        );
        self.last_at = at;
        // Bytes held for resynchronisation cannot be checked against what follows the
        // gap: decide on them as if the stream ended here.
        self.resolve_sync_at_end(cx, out);
        let reason = format!("tcp gap of {len} bytes");
        if self.hdr_len == 0 {
            let DirState {
                frame, msg, ctrl, ..
            } = self;
            if let Some(f) = frame.as_mut() {
                let remaining = f.h.payload_len.saturating_sub(f.done);
                if len <= remaining {
                    // The gap ends inside this frame: the next frame boundary is still known.
                    f.done += len;
                    f.lost += len;
                    f.last = at;
                    let m = match f.target {
                        Target::Data => msg.as_mut(),
                        Target::Ctrl => ctrl.as_mut(),
                    };
                    let mut compressed = false;
                    if let Some(m) = m {
                        compressed = m.inflate;
                        m.last = at;
                        if !m.undecodable {
                            m.errors.push(reason);
                            m.undecodable = true;
                        }
                    }
                    if compressed {
                        self.lose_context(cx);
                    }
                    self.offset = self.offset.saturating_add(len);
                    if self
                        .frame
                        .as_ref()
                        .is_some_and(|f| f.done == f.h.payload_len)
                    {
                        self.end_frame(cx, out);
                    }
                    return;
                }
            }
        }
        self.lose(cx, out, &reason);
        self.offset = self.offset.saturating_add(len);
        self.enter_sync(false);
    }

    /// Ends resynchronisation as if no more bytes will come, decoding what it finds.
    fn resolve_sync_at_end(&mut self, cx: &Ctx, out: &mut Out) {
        // Each round either leaves sync mode or decodes at least one frame of a buffer
        // that only shrinks, so this terminates.
        while matches!(self.mode, Mode::Sync(_)) {
            let mut queue = VecDeque::new();
            if let Some(replay) = self.try_sync(cx, out, true) {
                queue.extend(replay);
            }
            while let Some((b, p)) = queue.pop_front() {
                self.chunk(cx, out, &b, p, &mut queue);
            }
        }
    }

    /// Emits whatever is still in progress at the end of the stream.
    fn flush_incomplete(&mut self, cx: &Ctx, out: &mut Out, why: &str) {
        self.flush_inflater(cx, out);
        let reason = if let Some(f) = self.frame.as_ref() {
            format!(
                "{why} inside frame: have {} of {} bytes",
                f.done, f.h.payload_len
            )
        } else if self.hdr_len > 0 {
            let need = match parse_header(self.hdr.get(..self.hdr_len).unwrap_or(&[])) {
                HeaderStatus::NeedMore(n) => n,
                HeaderStatus::Header(h) => h.header_len,
            };
            format!(
                "{why} inside a frame header: have {} of {need} bytes",
                self.hdr_len
            )
        } else if let Some(m) = self.msg.as_ref() {
            format!(
                "{why} inside a fragmented message ({} frames, no final fragment)",
                m.frames
            )
        } else {
            return;
        };
        if self.frame.is_none() && self.msg.is_none() {
            // A cut header alone: no message to attach the problem to.
            out.problems += 1;
        }
        cx.warn(out, self.last_at.packet, reason.clone());
        self.lose(cx, out, &reason);
    }

    /// The direction ended: finish resynchronisation and emit what is in progress.
    pub fn close(&mut self, cx: &Ctx, out: &mut Out) {
        self.resolve_sync_at_end(cx, out);
        self.flush_incomplete(cx, out, "stream ended");
    }
}

/// Sets `text`/`data_b64`/`close_*` from a decoded payload (moved into the record, not
/// copied).
fn fill_payload(
    rec: &mut MessageRecord,
    errors: &mut Vec<String>,
    opcode: Opcode,
    data: Vec<u8>,
    truncated: bool,
) {
    match opcode {
        Opcode::Text => match simdutf8::compat::from_utf8(&data) {
            // Outside `view/json/simd.rs` only until the typed records validate with
            // `String::from_utf8` (no `unsafe`).
            #[allow(unsafe_code)]
            Ok(_) => {
                // SAFETY: simdutf8 has just validated `data` as UTF-8.
                rec.text = Some(unsafe { String::from_utf8_unchecked(data) });
            }
            Err(e) if truncated && e.error_len().is_none() => {
                // The message was cut inside a character: keep the characters before it.
                let mut data = data;
                data.truncate(e.valid_up_to());
                rec.text = Some(
                    String::from_utf8(data)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                );
            }
            Err(e) => {
                errors.push(format!(
                    "invalid UTF-8 in text message at byte {}",
                    e.valid_up_to()
                ));
                rec.data_b64 = Some(Base64(data));
            }
        },
        Opcode::Close => {
            match data.as_slice() {
                [] => {}
                [_] => {
                    errors.push("close frame with a 1-byte payload (a code needs 2)".to_string())
                }
                [hi, lo, reason @ ..] => {
                    let code = u16::from_be_bytes([*hi, *lo]);
                    rec.close_code = Some(code);
                    if !valid_close_code(code) {
                        errors.push(format!("invalid close code {code}"));
                    }
                    match simdutf8::basic::from_utf8(reason) {
                        Ok(s) => rec.close_reason = Some(s.to_string()),
                        Err(_) => {
                            errors.push("invalid UTF-8 in close reason".to_string());
                            rec.close_reason = Some(String::from_utf8_lossy(reason).into_owned());
                        }
                    }
                }
            }
            rec.data_b64 = Some(Base64(data));
        }
        _ => rec.data_b64 = Some(Base64(data)),
    }
}

/// Close codes a peer may send (RFC 6455 §7.4 and the IANA registry).
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}
