//! HTTP/2 frame headers (RFC 9113 §4.1) and the payloads the layer reads: SETTINGS,
//! RST_STREAM, the header-block frames' padding and priority fields. Sans-I/O: bytes in,
//! parsed values or `None` for a malformed payload.

/// Frame types (RFC 9113 §6).
pub mod ty {
    /// DATA.
    pub const DATA: u8 = 0;
    /// HEADERS.
    pub const HEADERS: u8 = 1;
    /// PRIORITY.
    pub const PRIORITY: u8 = 2;
    /// RST_STREAM.
    pub const RST_STREAM: u8 = 3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 4;
    /// PUSH_PROMISE.
    pub const PUSH_PROMISE: u8 = 5;
    /// PING.
    pub const PING: u8 = 6;
    /// GOAWAY.
    pub const GOAWAY: u8 = 7;
    /// WINDOW_UPDATE.
    pub const WINDOW_UPDATE: u8 = 8;
    /// CONTINUATION.
    pub const CONTINUATION: u8 = 9;
}

/// Frame flags.
pub mod flag {
    /// END_STREAM (DATA, HEADERS).
    pub const END_STREAM: u8 = 0x1;
    /// ACK (SETTINGS, PING).
    pub const ACK: u8 = 0x1;
    /// END_HEADERS (HEADERS, PUSH_PROMISE, CONTINUATION).
    pub const END_HEADERS: u8 = 0x4;
    /// PADDED (DATA, HEADERS, PUSH_PROMISE).
    pub const PADDED: u8 = 0x8;
    /// PRIORITY (HEADERS).
    pub const PRIORITY: u8 = 0x20;
}

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Length of a frame header.
pub const HEADER_LEN: usize = 9;

/// A frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Payload length.
    pub len: usize,
    /// Frame type.
    pub ty: u8,
    /// Flags.
    pub flags: u8,
    /// Stream identifier (the reserved bit cleared).
    pub stream: u32,
}

impl Header {
    /// Parses the 9 bytes of a frame header.
    pub fn parse(b: &[u8; HEADER_LEN]) -> Header {
        Header {
            len: usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]),
            ty: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    /// Whether a flag is set.
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// SETTINGS parameters the layer uses (RFC 9113 §6.5.2, RFC 8441 §3).
pub mod setting {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL.
    pub const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;
}

/// The (identifier, value) pairs of a SETTINGS payload; `None` when its length is not a
/// multiple of six.
pub fn settings(p: &[u8]) -> Option<impl Iterator<Item = (u16, u32)> + '_> {
    p.len().is_multiple_of(6).then(|| {
        p.chunks_exact(6).map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
            )
        })
    })
}

/// The header block fragment of a HEADERS or PUSH_PROMISE payload, without padding,
/// priority fields and the promised stream id; for PUSH_PROMISE also the promised
/// stream. `None` when the fields do not fit.
pub fn block(h: &Header, p: &[u8]) -> Option<(std::ops::Range<usize>, Option<u32>)> {
    let mut start = 0;
    let mut end = p.len();
    if h.ty != ty::CONTINUATION && h.has(flag::PADDED) {
        let pad = usize::from(*p.first()?);
        start = 1;
        end = end.checked_sub(pad)?;
    }
    let mut promised = None;
    if h.ty == ty::HEADERS && h.has(flag::PRIORITY) {
        start += 5;
    }
    if h.ty == ty::PUSH_PROMISE {
        let id = p.get(start..start + 4)?;
        promised = Some(u32::from_be_bytes([id[0], id[1], id[2], id[3]]) & 0x7fff_ffff);
        start += 4;
    }
    (start <= end).then_some((start..end, promised))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_payload_fields() {
        let h = Header::parse(&[0, 1, 2, 1, 0x2d, 0x80, 0, 0, 3]);
        assert_eq!((h.len, h.ty, h.stream), (258, ty::HEADERS, 3));
        assert!(h.has(flag::END_HEADERS) && h.has(flag::PADDED) && h.has(flag::PRIORITY));
        // pad length 2, priority (5), block "ab", padding "xx"
        let p = b"\x02\x00\x00\x00\x01\x10abxx";
        assert_eq!(block(&h, p), Some((6..8, None)));
        assert_eq!(block(&h, b"\x09abc"), None);
        let pp = Header {
            ty: ty::PUSH_PROMISE,
            flags: 0,
            len: 6,
            stream: 1,
        };
        assert_eq!(block(&pp, b"\x80\x00\x00\x02hb"), Some((4..6, Some(2))));
        let s: Vec<_> = settings(&[0, 1, 0, 0, 0x10, 0, 0, 8, 0, 0, 0, 1])
            .unwrap()
            .collect();
        assert_eq!(s, [(1, 4096), (8, 1)]);
        assert!(settings(&[0; 5]).is_none());
    }
}
