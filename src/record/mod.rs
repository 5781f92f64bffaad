//! Owned output records: what the views print. The message record's field names are a
//! stable contract (see README): fields may be added, never renamed.

pub mod problems;

use base64::Engine as _;
use serde::Serialize;

/// One output record, tagged by `"record"` in JSON.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "record", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // records are built one at a time and drained at once
pub enum Record {
    /// A complete (or as complete as the capture allows) WebSocket message.
    Message(MessageRecord),
    /// One WebSocket frame (with `--frames`).
    Frame(FrameRecord),
    /// One WebSocket connection (the `flows` view).
    Flow(FlowRecord),
}

/// A WebSocket message: data messages reassembled from their fragments and inflated,
/// and each control frame (close, ping, pong) as a message of its own.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct MessageRecord {
    /// Capture file this came from.
    pub file: String,
    /// Connection index in the file (as `FlowInfo::id`).
    pub flow: u64,
    /// Client `IP:PORT` (`[v6]:port`).
    pub client: String,
    /// Server `IP:PORT`.
    pub server: String,
    /// `client_to_server` or `server_to_client`.
    pub direction: String,
    /// `text`, `binary`, `close`, `ping`, `pong` or `reserved:N`.
    pub opcode: String,
    /// RFC 3339 UTC time of the packet that completed the message, at capture precision.
    pub timestamp: String,
    /// Number of frames the message was made of.
    pub frames: u64,
    /// RSV1 set on the first frame (permessage-deflate).
    pub compressed: bool,
    /// Payload length after unmasking and inflating (bytes actually decoded).
    pub length: u64,
    /// Sum of the frames' payload lengths on the wire.
    pub wire_length: u64,
    /// Text payload, present for text messages that are valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Every other decoded payload (binary, control, invalid-UTF-8 text), shown as
    /// base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_b64: Option<Base64>,
    /// Close status code, for close messages that carry one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_code: Option<u16>,
    /// Close reason, for close messages that carry one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<String>,
    /// First and last 1-based packet numbers holding the message's bytes.
    pub packets: [u64; 2],
    /// True when the payload could not be decoded (gap, missing deflate context, cut
    /// capture): `text`/`data_b64` are then absent and `errors` says why.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub undecodable: bool,
    /// True when the decoded payload was longer than the maximum message size and
    /// `text`/`data_b64` hold only its first bytes (`length` is the full decoded size).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Protocol violations and decoding problems concerning this message.
    pub errors: Vec<String>,
}

/// Bytes that JSON shows as a standard base64 string. They are kept raw so that they are
/// encoded once, straight into the output, and so that users of the record (extract,
/// stats) get the bytes without decoding.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Base64(pub Vec<u8>);

impl Base64 {
    /// The raw bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The base64 text.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.0)
    }

    /// Bytes from base64 text (`None` when it is not valid base64).
    pub fn decode(text: &str) -> Option<Base64> {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()
            .map(Base64)
    }
}

impl std::fmt::Display for Base64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        base64::display::Base64Display::new(&self.0, &base64::engine::general_purpose::STANDARD)
            .fmt(f)
    }
}

impl std::fmt::Debug for Base64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Base64({self})")
    }
}

impl Serialize for Base64 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One WebSocket frame as it appeared on the wire.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct FrameRecord {
    /// Capture file this came from.
    pub file: String,
    /// Connection index in the file.
    pub flow: u64,
    /// Client `IP:PORT`.
    pub client: String,
    /// Server `IP:PORT`.
    pub server: String,
    /// `client_to_server` or `server_to_client`.
    pub direction: String,
    /// RFC 3339 time of the packet holding the frame's last byte.
    pub timestamp: String,
    /// FIN bit.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 bits.
    pub rsv: [bool; 3],
    /// Opcode name (`continuation`, `text`, … `reserved:N`).
    pub opcode: String,
    /// MASK bit.
    pub masked: bool,
    /// Masking key as 8 hex digits, when masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask_key: Option<String>,
    /// Declared payload length.
    pub payload_length: u64,
    /// Header length in bytes (2..14).
    pub header_length: u64,
    /// Byte offset of the frame in its direction's stream.
    pub stream_offset: u64,
    /// First and last packet numbers of the frame.
    pub packets: [u64; 2],
    /// Base64 of the unmasked (still compressed) payload; absent if not captured whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_b64: Option<String>,
    /// Violations concerning this frame.
    pub errors: Vec<String>,
}

/// Per-direction counters of a WebSocket connection.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct DirectionStats {
    /// Messages (data and control) decoded.
    pub messages: u64,
    /// Frames parsed.
    pub frames: u64,
    /// Frame payload bytes on the wire.
    pub wire_bytes: u64,
    /// Payload bytes after inflate.
    pub payload_bytes: u64,
    /// TCP gaps in this direction.
    pub gaps: u64,
    /// Bytes lost in those gaps.
    pub gap_bytes: u64,
    /// Bytes skipped while resynchronising on frame headers.
    pub skipped_bytes: u64,
    /// Protocol violations seen.
    pub violations: u64,
    /// Messages that could not be decoded.
    pub undecodable: u64,
    /// Messages truncated to the maximum message size.
    pub truncated: u64,
}

/// One WebSocket connection: handshake, negotiated extensions and counters.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct FlowRecord {
    /// Capture file this came from.
    pub file: String,
    /// Connection index in the file.
    pub flow: u64,
    /// Client `IP:PORT`.
    pub client: String,
    /// Server `IP:PORT`.
    pub server: String,
    /// `upgraded`, `rejected` (non-101 answer), `unanswered` (upgrade request without a
    /// captured answer), `midstream` (no handshake seen, detected from frames) or
    /// `forced` (`--decode-as`).
    pub state: String,
    /// Time of the first packet of the connection.
    pub first_seen: String,
    /// Time of the last packet of the connection.
    pub last_seen: String,
    /// Request method, when a handshake was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Request target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Host header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Origin header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// User-Agent header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Sec-WebSocket-Version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Sec-WebSocket-Key the client sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Sec-WebSocket-Accept the server answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept: Option<String>,
    /// HTTP reason phrase of the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// True when `client`/`server` are the reverse of the TCP layer's guess (the
    /// upgrade request or the masked frames came from the side it called the server).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub roles_swapped: bool,
    /// HTTP status of the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Subprotocols the client offered.
    pub offered_protocols: Vec<String>,
    /// Subprotocol the server accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Sec-WebSocket-Extensions the client offered (raw header values).
    pub offered_extensions: Vec<String>,
    /// Sec-WebSocket-Extensions the server accepted (raw header values).
    pub extensions: Vec<String>,
    /// Negotiated permessage-deflate parameters, when accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permessage_deflate: Option<DeflateParams>,
    /// Whether Sec-WebSocket-Accept matched the key (absent when not checkable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_valid: Option<bool>,
    /// Client→server counters.
    pub client_to_server: DirectionStats,
    /// Server→client counters.
    pub server_to_client: DirectionStats,
    /// Handshake and connection-level problems.
    pub errors: Vec<String>,
}

/// permessage-deflate parameters as accepted by the server (RFC 7692 §7.1).
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Default)]
pub struct DeflateParams {
    /// The server resets its compression context after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after each message.
    pub client_no_context_takeover: bool,
    /// LZ77 window bits of the server's compressor (8..=15), if limited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_max_window_bits: Option<u8>,
    /// LZ77 window bits of the client's compressor (8..=15), if limited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_max_window_bits: Option<u8>,
}
