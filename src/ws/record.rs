//! Owned output records: what the WebSocket stage hands to the views. Field names and
//! their JSON form are a stable contract (see README): fields may be added, never
//! renamed. Values are typed ([`WsDirection`], [`Opcode`], [`Timestamp`], [`Problem`]);
//! only the serializers turn them into the documented strings.

use crate::capture::set::{FileSet, Place};
use crate::capture::tunnel::Encap;
use crate::layers::tls::crypto::suite_name;
use crate::tcp::stream::{Decryption, Endpoint, FlowInfo, TlsAlert, TlsSummary};
use base64::Engine as _;
use serde::{Serialize, Serializer};
use std::sync::Arc;

use super::problem::{Kind, Problem, Problems};
use super::protocol::{Opcode, WsDirection};
pub use crate::http::DeflateParams;
use crate::util::community_id::CommunityId;
use crate::util::time::Timestamp;

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
    /// The capture file holding the record's last packet.
    pub file: String,
    /// Which of the run's captures the record belongs to (see
    /// [`FileSet::capture`](crate::capture::set::FileSet::capture)): with the flow
    /// number, what identifies a connection. Not part of the output.
    #[serde(skip)]
    pub capture: u32,
    /// Connection index in the file (as `FlowInfo::id`).
    pub flow: u64,
    /// Client `IP:PORT` (`[v6]:port`).
    pub client: Endpoint,
    /// Server `IP:PORT`.
    pub server: Endpoint,
    /// The connection's Community ID v1 (`1:` and base64), to join the records of other
    /// tools; absent only on records not made from a capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community_id: Option<CommunityId>,
    /// The HTTP/2 stream the WebSocket runs on (RFC 8441); absent for HTTP/1.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub h2_stream_id: Option<u32>,
    /// `client_to_server` or `server_to_client` (as the WebSocket roles see it).
    pub direction: WsDirection,
    /// `text`, `binary`, `close`, `ping`, `pong` or `reserved:N`.
    pub opcode: Opcode,
    /// Time of the packet that completed the message (RFC 3339 UTC, capture precision).
    pub timestamp: Timestamp,
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
    /// First and last 1-based packet numbers holding the message's bytes, each within
    /// its own file.
    pub packets: [u64; 2],
    /// The capture file holding the record's first packet, when it is not `file` (the
    /// record spans files of a set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_file: Option<String>,
    /// True when the payload could not be decoded (gap, missing deflate context, cut
    /// capture): `text`/`data_b64` are then absent and `errors` says why.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub undecodable: bool,
    /// True when the decoded payload was longer than the maximum message size and
    /// `text`/`data_b64` hold only its first bytes (`length` is the full decoded size).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Protocol violations and decoding problems concerning this message.
    pub errors: Vec<Problem>,
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
    /// The capture file holding the record's last packet.
    pub file: String,
    /// Which of the run's captures the record belongs to (see
    /// [`FileSet::capture`](crate::capture::set::FileSet::capture)): with the flow
    /// number, what identifies a connection. Not part of the output.
    #[serde(skip)]
    pub capture: u32,
    /// Connection index in the file.
    pub flow: u64,
    /// Client `IP:PORT`.
    pub client: Endpoint,
    /// Server `IP:PORT`.
    pub server: Endpoint,
    /// The connection's Community ID v1 (`1:` and base64), to join the records of other
    /// tools; absent only on records not made from a capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community_id: Option<CommunityId>,
    /// The HTTP/2 stream the WebSocket runs on (RFC 8441); absent for HTTP/1.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub h2_stream_id: Option<u32>,
    /// `client_to_server` or `server_to_client`.
    pub direction: WsDirection,
    /// Time of the packet holding the frame's last byte.
    pub timestamp: Timestamp,
    /// FIN bit.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 bits.
    pub rsv: [bool; 3],
    /// Opcode (`continuation`, `text`, … `reserved:N`).
    pub opcode: Opcode,
    /// MASK bit.
    pub masked: bool,
    /// Masking key, shown as 8 hex digits, when masked.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "hex_key")]
    pub mask_key: Option<[u8; 4]>,
    /// Declared payload length.
    pub payload_length: u64,
    /// Header length in bytes (2..14).
    pub header_length: u64,
    /// Byte offset of the frame in its direction's stream.
    pub stream_offset: u64,
    /// First and last packet numbers of the frame, each within its own file.
    pub packets: [u64; 2],
    /// The capture file holding the record's first packet, when it is not `file` (the
    /// record spans files of a set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_file: Option<String>,
    /// The unmasked (still compressed) payload, shown as base64; absent if not captured
    /// whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_b64: Option<Base64>,
    /// Violations concerning this frame.
    pub errors: Vec<Problem>,
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
    /// Messages decoded from frame boundaries found by searching, before they were
    /// confirmed (each says so in its `errors`); absent when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub guessed_messages: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One WebSocket connection: handshake, negotiated extensions and counters.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct FlowRecord {
    /// The capture file holding the record's last packet.
    pub file: String,
    /// Which of the run's captures the record belongs to (see
    /// [`FileSet::capture`](crate::capture::set::FileSet::capture)): with the flow
    /// number, what identifies a connection. Not part of the output.
    #[serde(skip)]
    pub capture: u32,
    /// Connection index in the file.
    pub flow: u64,
    /// Client `IP:PORT`.
    pub client: Endpoint,
    /// Server `IP:PORT`.
    pub server: Endpoint,
    /// The connection's Community ID v1 (`1:` and base64), to join the records of other
    /// tools; absent only on records not made from a capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community_id: Option<CommunityId>,
    /// The tunnels the connection's first packet came through, outermost first; absent
    /// when none.
    #[serde(skip_serializing_if = "Encap::is_empty")]
    pub encapsulation: Encap,
    /// The HTTP/2 stream the WebSocket runs on (RFC 8441); absent for HTTP/1.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub h2_stream_id: Option<u32>,
    /// How the connection became (or did not become) WebSocket.
    pub state: FlowState,
    /// Time of the first packet of the connection.
    pub first_seen: Timestamp,
    /// Time of the last packet of the connection.
    pub last_seen: Timestamp,
    /// First and last packets that carried the connection's bytes (of its HTTP/2
    /// stream, for a WebSocket over HTTP/2), each numbered within its own file; the
    /// `tcp` record's `packets` start at the SYN.
    pub packets: [u64; 2],
    /// The capture file holding the record's first packet, when it is not `file` (the
    /// record spans files of a set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_file: Option<String>,
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
    pub errors: Vec<Problem>,
    /// The TLS the connection was carried in, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    /// Other HTTP/2 streams of the connection (pages, images, API calls), not decoded;
    /// present for HTTP/2 WebSockets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub h2_other_streams: Option<u32>,
    /// Statuses of the answers to the HTTP/1.1 exchanges that came before the upgrade
    /// request on the same connection (a keep-alive page, a `401` before an
    /// authenticated retry), oldest first; absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub earlier_statuses: Vec<u16>,
}

/// How a connection became (or did not become) WebSocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum FlowState {
    /// A 101 answer upgraded it.
    #[default]
    Upgraded,
    /// The answer was not 101.
    Rejected,
    /// An upgrade request without a captured answer.
    Unanswered,
    /// No handshake seen: detected from frames.
    Midstream,
    /// `--decode-as`.
    Forced,
    /// A TLS connection nothing could be decrypted from (no key, an unsupported suite,
    /// a capture started after the handshake): whether it carried WebSocket is unknown.
    Encrypted,
}

impl FlowState {
    /// The name in output.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::Upgraded => "upgraded",
            FlowState::Rejected => "rejected",
            FlowState::Unanswered => "unanswered",
            FlowState::Midstream => "midstream",
            FlowState::Forced => "forced",
            FlowState::Encrypted => "encrypted",
        }
    }
}

/// JSON shows the output name.
impl Serialize for FlowState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for FlowState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialises a masking key as 8 hex digits.
fn hex_key<S: Serializer>(k: &Option<[u8; 4]>, s: S) -> Result<S::Ok, S::Error> {
    match k {
        Some(k) => s.collect_str(&format_args!(
            "{:02x}{:02x}{:02x}{:02x}",
            k[0], k[1], k[2], k[3]
        )),
        None => s.serialize_none(),
    }
}

impl DirectionStats {
    /// Adds this direction's problems to a tally by kind (its violations were named
    /// where they were found).
    pub fn count_problems(&self, p: &mut Problems) {
        p.add(Kind::Violation, self.violations);
        p.add(Kind::Undecodable, self.undecodable);
        p.add(Kind::Truncated, self.truncated);
        p.add(Kind::Gap, self.gaps);
        p.add(Kind::Resync, u64::from(self.skipped_bytes > 0));
    }
}

impl FlowRecord {
    /// The record of a TLS connection nothing could be decrypted from.
    pub fn encrypted(files: &FileSet, flow: &FlowInfo, tls: Arc<TlsSummary>) -> FlowRecord {
        let (first_seen, last_seen) = tls.seen.unwrap_or_default();
        let Place {
            file,
            packets,
            first_file,
        } = files.place(flow.packets);
        FlowRecord {
            file,
            capture: files.capture(),
            packets,
            first_file,
            flow: flow.id,
            client: Endpoint(flow.client),
            server: Endpoint(flow.server),
            community_id: Some(flow.community_id),
            encapsulation: flow.encapsulation.clone(),
            state: FlowState::Encrypted,
            first_seen,
            last_seen,
            tls: Some(TlsInfo(tls)),
            ..FlowRecord::default()
        }
    }
}

/// What the TLS layer learned of a connection, as flow records show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsInfo(pub Arc<TlsSummary>);

impl TlsInfo {
    /// `TLSv1.3`, `TLSv1.2`... (as OpenSSL and Python name them), or `0x....` for other
    /// values.
    pub fn version(&self) -> Option<String> {
        self.0.version.map(|v| match v {
            0x0300 => "SSLv3".to_string(),
            0x0301 => "TLSv1".to_string(),
            0x0302 => "TLSv1.1".to_string(),
            0x0303 => "TLSv1.2".to_string(),
            0x0304 => "TLSv1.3".to_string(),
            v => format!("0x{v:04x}"),
        })
    }

    /// The cipher suite's IANA name, or `0x....` for an unknown one.
    pub fn cipher_suite(&self) -> Option<String> {
        self.0
            .suite
            .map(|s| suite_name(s).map_or_else(|| format!("0x{s:04x}"), str::to_string))
    }

    /// True when records were decrypted (even if decryption stopped later).
    pub fn decrypted(&self) -> bool {
        self.0.records > 0
    }

    /// Why the connection was not (or not wholly) decrypted: `no_key`,
    /// `no_handshake`, `unsupported`, `failed`; `None` when nothing went wrong.
    pub fn problem(&self) -> Option<&'static str> {
        match self.0.decryption {
            Decryption::Pending | Decryption::Decrypted => None,
            Decryption::NoKey => Some("no_key"),
            Decryption::NoHandshake => Some("no_handshake"),
            Decryption::Unsupported => Some("unsupported"),
            Decryption::Failed(_) => Some("failed"),
        }
    }
}

impl Serialize for TlsInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let t = &*self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("version", &self.version())?;
        m.serialize_entry("cipher_suite", &self.cipher_suite())?;
        m.serialize_entry("sni", &t.sni)?;
        m.serialize_entry("alpn", &t.alpn)?;
        m.serialize_entry("resumed", &t.resumed)?;
        m.serialize_entry("decrypted", &self.decrypted())?;
        if let Some(p) = self.problem() {
            m.serialize_entry("problem", p)?;
        }
        if let Decryption::Failed(packet) = t.decryption {
            m.serialize_entry("failed_at_packet", &packet)?;
        }
        if t.key_updates > 0 {
            m.serialize_entry("key_updates", &t.key_updates)?;
        }
        if !t.alerts.is_empty() {
            let alerts: Vec<Alert> = t.alerts.iter().map(|a| Alert(*a)).collect();
            m.serialize_entry("alerts", &alerts)?;
        }
        m.end()
    }
}

/// A TLS alert as flow records show it.
struct Alert(TlsAlert);

impl Serialize for Alert {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let a = self.0;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("direction", a.dir.as_str())?;
        m.serialize_entry(
            "level",
            match a.level {
                1 => "warning",
                2 => "fatal",
                _ => "unknown",
            },
        )?;
        match alert_name(a.description) {
            Some(n) => m.serialize_entry("description", n)?,
            None => m.serialize_entry("description", &a.description)?,
        }
        m.serialize_entry("packet", &a.packet)?;
        m.end()
    }
}

/// The names of TLS alert descriptions (RFC 8446 §6).
pub fn alert_name(d: u8) -> Option<&'static str> {
    Some(match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return None,
    })
}
