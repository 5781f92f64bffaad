//! One HTTP/2 connection, both directions: frames read as bytes come (DATA payloads of
//! WebSocket streams handed on without being held), header blocks put together from
//! HEADERS and CONTINUATION and decoded with each direction's HPACK table, SETTINGS
//! applied, and the extended CONNECTs (RFC 8441) followed to their answer. Sans-I/O:
//! bytes in, [`Up`] events out.

use std::collections::HashMap;
use std::sync::Arc;

use loona_hpack::Decoder;

use super::frame::{self, flag, setting, ty, Header, HEADER_LEN, PREFACE};
use crate::http::h2::is_websocket_connect;
use crate::tcp::stream::{CloseKind, Direction, H2Stream, Provenance};

/// Largest header block (HEADERS + CONTINUATION) put together; a longer one (a
/// CONTINUATION flood) stops the connection.
pub const MAX_HEADER_BLOCK: usize = 64 << 10;

/// Decoded header fields kept per block, counted as RFC 9113 counts a header list (name,
/// value, 32 bytes each); beyond it (an HPACK bomb) the rest are dropped and said.
pub const MAX_HEADER_LIST: usize = 64 << 10;

/// Largest HPACK dynamic table a peer may ask for, whatever its SETTINGS say.
pub const MAX_TABLE: usize = 64 << 10;

/// Streams whose requests are remembered per connection; later ones are only counted.
pub const MAX_STREAMS: usize = 1000;

/// Largest payload of a frame other than DATA that is read (SETTINGS, RST_STREAM, a
/// header block fragment); longer ones are skipped.
const MAX_CONTROL: usize = 64 << 10;

/// What a connection hands up.
#[derive(Debug, PartialEq, Eq)]
pub enum Up<'a> {
    /// An extended CONNECT was answered: a WebSocket on this stream (a 2xx status) or a
    /// refused one.
    Open(Arc<H2Stream>),
    /// DATA of a WebSocket stream, in order.
    Data(u32, Direction, &'a [u8], Provenance),
    /// DATA of a WebSocket stream lost in a TCP gap.
    Gap(u32, Direction, u64, Provenance),
    /// A direction of a WebSocket stream ended (END_STREAM, RST_STREAM, or the
    /// connection's direction ended or could no longer be read).
    Close(u32, Direction, CloseKind, Provenance),
}

/// Why a warning is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A TCP gap that does not end inside the frame it started in: frame boundaries are
    /// lost, the direction stops.
    GapAcrossFrames,
    /// A header block was lost to a gap or could not be decoded: the direction's HPACK
    /// table is unknown from here, later header blocks cannot be read.
    HeadersLost,
    /// HPACK refused a header block.
    Hpack(String),
    /// A header block over [`MAX_HEADER_BLOCK`]: the direction stops.
    BlockTooLarge,
    /// A header list over [`MAX_HEADER_LIST`]: the rest of its fields dropped.
    ListTooLarge(u32),
    /// More than [`MAX_STREAMS`] streams: later ones only counted.
    TooManyStreams,
    /// A frame where a CONTINUATION was due, or one that does not parse.
    Malformed(u8),
}

impl Note {
    /// The warning's kind, for limiting.
    pub fn kind(&self) -> &'static str {
        match self {
            Note::GapAcrossFrames => "h2 gap across frames",
            Note::HeadersLost => "h2 headers lost",
            Note::Hpack(_) => "h2 hpack",
            Note::BlockTooLarge => "h2 header block too large",
            Note::ListTooLarge(_) => "h2 header list too large",
            Note::TooManyStreams => "h2 too many streams",
            Note::Malformed(_) => "h2 malformed frame",
        }
    }

    /// The warning's text.
    pub fn message(&self) -> String {
        match self {
            Note::GapAcrossFrames => "TCP gap across HTTP/2 frames: the rest of this direction is not decoded".into(),
            Note::HeadersLost => "HTTP/2 header block lost: later header blocks of this direction cannot be decoded (HPACK)".into(),
            Note::Hpack(e) => format!("HTTP/2 header block does not decode ({e}): later header blocks of this direction cannot be decoded"),
            Note::BlockTooLarge => format!("HTTP/2 header block over {} KiB (CONTINUATION flood): the rest of this direction is not decoded", MAX_HEADER_BLOCK >> 10),
            Note::ListTooLarge(s) => format!("HTTP/2 header list of stream {s} over {} KiB: the rest of its fields dropped", MAX_HEADER_LIST >> 10),
            Note::TooManyStreams => format!("more than {MAX_STREAMS} HTTP/2 streams: later ones are counted, not followed"),
            Note::Malformed(t) => format!("malformed HTTP/2 frame of type {t}: skipped"),
        }
    }
}

/// A warning: what, in which direction, at which packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The direction.
    pub dir: Direction,
    /// The packet.
    pub packet: u64,
    /// What.
    pub note: Note,
}

/// What a stream is to the layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ws {
    /// Not a WebSocket (counted as another stream).
    No,
    /// An extended CONNECT waiting for its answer.
    Pending,
    /// A WebSocket: its DATA goes up.
    Open,
    /// An extended CONNECT refused.
    Refused,
}

#[derive(Debug)]
struct Stream {
    request: Vec<(String, String)>,
    ws: Ws,
    ended: [bool; 2],
}

/// How the payload of the frame being read is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    /// DATA of a WebSocket stream: handed up as it comes.
    Forward,
    /// Kept until the frame is whole.
    Buffer,
    /// Ignored.
    Skip,
}

#[derive(Debug)]
struct Current {
    h: Header,
    done: usize,
    how: How,
    /// DATA: the padding length, once its byte was read.
    pad: Option<usize>,
}

/// A header block being put together.
#[derive(Debug)]
struct Block {
    stream: u32,
    promised: Option<u32>,
    end_stream: bool,
    bytes: Vec<u8>,
}

/// One direction's framing.
#[derive(Debug, Default)]
struct Framer {
    head: [u8; HEADER_LEN],
    head_len: usize,
    cur: Option<Current>,
    payload: Vec<u8>,
    block: Option<Block>,
    /// Bytes of the client preface still to skip.
    preface: usize,
    stopped: bool,
}

/// An HTTP/2 connection being read.
pub struct Conn {
    framers: [Framer; 2],
    /// The HPACK table of the header blocks each direction sends.
    hpack: [Decoder<'static>; 2],
    hpack_lost: [bool; 2],
    streams: HashMap<u32, Stream, crate::util::hash::FoldBuild>,
    /// Streams that are not WebSockets (or were not followed).
    pub other_streams: u32,
    /// The server allowed extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL).
    pub connect_protocol: bool,
    too_many: bool,
    warnings: Vec<Warning>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("streams", &self.streams.len())
            .field("other_streams", &self.other_streams)
            .finish()
    }
}

impl Default for Conn {
    fn default() -> Self {
        Conn::new()
    }
}

impl Conn {
    /// A connection upgraded from HTTP/1.1 (`Upgrade: h2c`, RFC 7540 §3.2): the client's
    /// first `client` bytes are its request, then the preface; the server's first
    /// `server` bytes are its 101 answer. The upgraded request is stream 1, another
    /// stream.
    pub fn upgraded(client: usize, server: usize) -> Conn {
        let mut c = Conn::new();
        c.framers[0].preface += client;
        c.framers[1].preface = server;
        c.other_streams = 1;
        c
    }

    /// A connection whose client direction starts with the preface.
    pub fn new() -> Conn {
        let decoder = || {
            let mut d = Decoder::new();
            d.set_max_allowed_table_size(4096);
            d
        };
        Conn {
            framers: [
                Framer {
                    preface: PREFACE.len(),
                    ..Framer::default()
                },
                Framer::default(),
            ],
            hpack: [decoder(), decoder()],
            hpack_lost: [false; 2],
            streams: HashMap::default(),
            other_streams: 0,
            connect_protocol: false,
            too_many: false,
            warnings: Vec::new(),
        }
    }

    /// Takes the warnings given so far.
    pub fn drain_warnings(&mut self) -> std::vec::Drain<'_, Warning> {
        self.warnings.drain(..)
    }

    /// The WebSocket streams whose direction `dir` has not ended.
    pub fn open_streams(&self, dir: Direction) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| s.ws == Ws::Open && !s.ended[dir.index()])
            .map(|(id, _)| *id)
            .collect();
        v.sort_unstable();
        v
    }

    fn warn(&mut self, dir: Direction, at: Provenance, note: Note) {
        self.warnings.push(Warning {
            dir,
            packet: at.packet,
            note,
        });
    }

    /// Stops reading direction `dir`; its WebSocket streams end there.
    fn stop(&mut self, dir: Direction, at: Provenance, note: Note, up: &mut dyn FnMut(Up)) {
        self.framers[dir.index()].stopped = true;
        self.framers[dir.index()].payload = Vec::new();
        self.framers[dir.index()].block = None;
        self.warn(dir, at, note);
        self.end_direction(dir, CloseKind::EndOfCapture, at, up);
    }

    /// Ends direction `dir` of every WebSocket stream still open in it.
    pub fn end_direction(
        &mut self,
        dir: Direction,
        kind: CloseKind,
        at: Provenance,
        up: &mut dyn FnMut(Up),
    ) {
        for id in self.open_streams(dir) {
            if let Some(s) = self.streams.get_mut(&id) {
                s.ended[dir.index()] = true;
            }
            up(Up::Close(id, dir, kind, at));
        }
    }

    /// Bytes of direction `dir`, in order, carried by packet `at`.
    pub fn data(
        &mut self,
        dir: Direction,
        mut bytes: &[u8],
        at: Provenance,
        up: &mut dyn FnMut(Up),
    ) {
        let i = dir.index();
        while !bytes.is_empty() {
            let f = &mut self.framers[i];
            if f.stopped {
                return;
            }
            if f.preface > 0 {
                let n = f.preface.min(bytes.len());
                f.preface -= n;
                bytes = &bytes[n..];
                continue;
            }
            let Some(cur) = f.cur.as_mut() else {
                let n = (HEADER_LEN - f.head_len).min(bytes.len());
                f.head[f.head_len..f.head_len + n].copy_from_slice(&bytes[..n]);
                f.head_len += n;
                bytes = &bytes[n..];
                if f.head_len == HEADER_LEN {
                    f.head_len = 0;
                    let h = Header::parse(&f.head);
                    self.start(dir, h, at, up);
                    if self.framers[i].cur.as_ref().is_some_and(|c| c.h.len == 0) {
                        self.finish(dir, at, up);
                    }
                }
                continue;
            };
            let n = (cur.h.len - cur.done).min(bytes.len());
            let (chunk, rest) = bytes.split_at(n);
            bytes = rest;
            match cur.how {
                How::Skip => {}
                How::Buffer => f.payload.extend_from_slice(chunk),
                How::Forward => {
                    let (from, to) = (cur.done, cur.done + n);
                    let mut start = 0;
                    if cur.h.has(flag::PADDED) && from == 0 {
                        let pad = usize::from(chunk[0]);
                        cur.pad = Some(pad);
                        start = 1;
                    }
                    let data_start = usize::from(cur.h.has(flag::PADDED));
                    let data_end = cur.h.len.saturating_sub(cur.pad.unwrap_or(0));
                    let lo = from.max(data_start);
                    let hi = to.min(data_end);
                    if hi > lo {
                        let s = (lo - from).max(start);
                        let e = hi - from;
                        if let Some(b) = chunk.get(s..e) {
                            up(Up::Data(cur.h.stream, dir, b, at));
                        }
                    }
                }
            }
            cur.done += n;
            if cur.done == cur.h.len {
                self.finish(dir, at, up);
            }
        }
    }

    /// `len` bytes of direction `dir` were never captured.
    pub fn gap(&mut self, dir: Direction, len: u64, at: Provenance, up: &mut dyn FnMut(Up)) {
        let i = dir.index();
        let f = &self.framers[i];
        if f.stopped {
            return;
        }
        let inside = f.head_len == 0
            && f.preface == 0
            && f.cur
                .as_ref()
                .is_some_and(|c| len <= (c.h.len - c.done) as u64);
        if !inside {
            self.stop(dir, at, Note::GapAcrossFrames, up);
            return;
        }
        let len = len as usize;
        let mut headers_lost = false;
        if let Some(cur) = self.framers[i].cur.as_mut() {
            match cur.how {
                How::Forward => {
                    let data_start = usize::from(cur.h.has(flag::PADDED));
                    let data_end = cur.h.len.saturating_sub(cur.pad.unwrap_or(0));
                    let lo = cur.done.max(data_start);
                    let hi = (cur.done + len).min(data_end);
                    if hi > lo {
                        up(Up::Gap(cur.h.stream, dir, (hi - lo) as u64, at));
                    }
                }
                How::Buffer => {
                    cur.how = How::Skip;
                    headers_lost =
                        matches!(cur.h.ty, ty::HEADERS | ty::CONTINUATION | ty::PUSH_PROMISE);
                }
                How::Skip => {}
            }
            cur.done += len;
        }
        if headers_lost {
            self.framers[i].payload.clear();
            self.framers[i].block = None;
            self.lose_headers(dir, at);
        }
        if self.framers[i]
            .cur
            .as_ref()
            .is_some_and(|c| c.done == c.h.len)
        {
            self.finish(dir, at, up);
        }
    }

    fn lose_headers(&mut self, dir: Direction, at: Provenance) {
        if !self.hpack_lost[dir.index()] {
            self.hpack_lost[dir.index()] = true;
            self.warn(dir, at, Note::HeadersLost);
        }
    }

    /// A frame header was read: decides what to do with its payload.
    fn start(&mut self, dir: Direction, h: Header, at: Provenance, up: &mut dyn FnMut(Up)) {
        let i = dir.index();
        if self.framers[i].block.is_some() && h.ty != ty::CONTINUATION {
            // RFC 9113 §6.10: nothing may come between a header block's frames.
            self.framers[i].block = None;
            self.warn(dir, at, Note::Malformed(h.ty));
            self.lose_headers(dir, at);
        }
        let how = match h.ty {
            ty::DATA => match self.streams.get(&h.stream) {
                Some(s) if s.ws == Ws::Open && !s.ended[i] => How::Forward,
                _ => How::Skip,
            },
            ty::HEADERS | ty::CONTINUATION | ty::PUSH_PROMISE => {
                let have = self.framers[i].block.as_ref().map_or(0, |b| b.bytes.len());
                if h.len > MAX_CONTROL || have + h.len > MAX_HEADER_BLOCK {
                    self.stop(dir, at, Note::BlockTooLarge, up);
                    return;
                }
                How::Buffer
            }
            ty::SETTINGS | ty::RST_STREAM if h.len <= MAX_CONTROL => How::Buffer,
            _ => How::Skip,
        };
        let f = &mut self.framers[i];
        f.payload.clear();
        f.cur = Some(Current {
            h,
            done: 0,
            how,
            pad: None,
        });
    }

    /// The frame being read is whole.
    fn finish(&mut self, dir: Direction, at: Provenance, up: &mut dyn FnMut(Up)) {
        let i = dir.index();
        let Some(cur) = self.framers[i].cur.take() else {
            return;
        };
        let h = cur.h;
        let payload = std::mem::take(&mut self.framers[i].payload);
        match (h.ty, cur.how) {
            (ty::DATA, _) if h.has(flag::END_STREAM) => self.end_stream(h.stream, dir, at, up),
            (ty::HEADERS | ty::PUSH_PROMISE, How::Buffer) => {
                let Some((range, promised)) = frame::block(&h, &payload) else {
                    self.warn(dir, at, Note::Malformed(h.ty));
                    self.lose_headers(dir, at);
                    return;
                };
                self.framers[i].block = Some(Block {
                    stream: h.stream,
                    promised,
                    end_stream: h.ty == ty::HEADERS && h.has(flag::END_STREAM),
                    bytes: payload[range].to_vec(),
                });
                if h.has(flag::END_HEADERS) {
                    self.header_block(dir, at, up);
                }
            }
            (ty::CONTINUATION, How::Buffer) => {
                let f = &mut self.framers[i];
                match f.block.as_mut() {
                    Some(b) if b.stream == h.stream => b.bytes.extend_from_slice(&payload),
                    _ => {
                        f.block = None;
                        self.warn(dir, at, Note::Malformed(h.ty));
                        self.lose_headers(dir, at);
                        return;
                    }
                }
                if h.has(flag::END_HEADERS) {
                    self.header_block(dir, at, up);
                }
            }
            (ty::SETTINGS, How::Buffer) if h.flags & flag::ACK == 0 => {
                let Some(s) = frame::settings(&payload) else {
                    self.warn(dir, at, Note::Malformed(h.ty));
                    return;
                };
                for (id, v) in s {
                    match id {
                        // The peer's encoder may use a table this large.
                        setting::HEADER_TABLE_SIZE => self.hpack[dir.reverse().index()]
                            .set_max_allowed_table_size((v as usize).min(MAX_TABLE)),
                        setting::ENABLE_CONNECT_PROTOCOL if dir == Direction::ServerToClient => {
                            self.connect_protocol = v == 1
                        }
                        _ => {}
                    }
                }
            }
            (ty::RST_STREAM, How::Buffer) => {
                if self
                    .streams
                    .get(&h.stream)
                    .is_some_and(|s| s.ws == Ws::Open)
                {
                    for d in [Direction::ClientToServer, Direction::ServerToClient] {
                        let open = self
                            .streams
                            .get_mut(&h.stream)
                            .is_some_and(|s| !std::mem::replace(&mut s.ended[d.index()], true));
                        if open {
                            up(Up::Close(h.stream, d, CloseKind::Rst, at));
                        }
                    }
                } else {
                    self.streams.remove(&h.stream);
                }
            }
            _ => {}
        }
    }

    /// A direction of a stream sent END_STREAM.
    fn end_stream(&mut self, id: u32, dir: Direction, at: Provenance, up: &mut dyn FnMut(Up)) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        let was = std::mem::replace(&mut s.ended[dir.index()], true);
        match s.ws {
            Ws::Open if !was => up(Up::Close(id, dir, CloseKind::Fin, at)),
            Ws::No if s.ended[0] && s.ended[1] => {
                self.streams.remove(&id);
            }
            _ => {}
        }
    }

    /// A whole header block of direction `dir`: decoded, and what it says applied.
    fn header_block(&mut self, dir: Direction, at: Provenance, up: &mut dyn FnMut(Up)) {
        let i = dir.index();
        let Some(block) = self.framers[i].block.take() else {
            return;
        };
        let fields = if self.hpack_lost[i] {
            None
        } else {
            let mut fields = Vec::new();
            let mut size = 0usize;
            let mut over = false;
            let r = self.hpack[i].decode_with_cb(&block.bytes, |n, v| {
                size += n.len() + v.len() + 32;
                if size <= MAX_HEADER_LIST {
                    fields.push((
                        String::from_utf8_lossy(&n).into_owned(),
                        String::from_utf8_lossy(&v).into_owned(),
                    ));
                } else {
                    over = true;
                }
            });
            match r {
                Ok(()) => {
                    if over {
                        self.warn(dir, at, Note::ListTooLarge(block.stream));
                    }
                    Some(fields)
                }
                Err(e) => {
                    self.hpack_lost[i] = true;
                    self.warn(dir, at, Note::Hpack(format!("{e:?}")));
                    None
                }
            }
        };
        if block.promised.is_some() {
            // A pushed response: another stream, never a WebSocket.
            self.other_streams += 1;
            return;
        }
        let id = block.stream;
        match dir {
            Direction::ClientToServer => {
                if self.streams.contains_key(&id) {
                    // Trailers.
                    if block.end_stream {
                        self.end_stream(id, dir, at, up);
                    }
                    return;
                }
                let fields = fields.unwrap_or_default();
                let ws = is_websocket_connect(&fields);
                if !ws {
                    self.other_streams += 1;
                }
                if self.streams.len() >= MAX_STREAMS {
                    if !self.too_many {
                        self.too_many = true;
                        self.warn(dir, at, Note::TooManyStreams);
                    }
                    if ws {
                        self.other_streams += 1;
                    }
                    return;
                }
                self.streams.insert(
                    id,
                    Stream {
                        request: if ws { fields } else { Vec::new() },
                        ws: if ws { Ws::Pending } else { Ws::No },
                        ended: [block.end_stream, false],
                    },
                );
            }
            Direction::ServerToClient => {
                let Some(s) = self.streams.get_mut(&id) else {
                    return;
                };
                if s.ws == Ws::Pending {
                    let Some(fields) = fields else {
                        // The answer cannot be read: the stream is not followed.
                        s.ws = Ws::No;
                        self.other_streams += 1;
                        return;
                    };
                    let status: u16 = H2Stream::field(&fields, ":status")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    if (100..200).contains(&status) {
                        return;
                    }
                    s.ws = if (200..300).contains(&status) {
                        Ws::Open
                    } else {
                        Ws::Refused
                    };
                    up(Up::Open(Arc::new(H2Stream {
                        stream_id: id,
                        request: std::mem::take(&mut s.request),
                        response: fields,
                        other_streams: 0,
                    })));
                }
                if block.end_stream {
                    self.end_stream(id, dir, at, up);
                }
            }
        }
    }
}
