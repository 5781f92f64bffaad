//! The byte-stream interface every stage above TCP speaks.
//!
//! The reassembler (`crate::tcp`) turns packets into two ordered byte streams per
//! connection and reports them to a [`StreamSink`] as events: in-order data chunks
//! (each tagged with the packet it came from), gaps that never filled, and closes.
//! Chunks borrow from the packet or from the reassembler's buffer, so a sink copies
//! only what it must keep.
//!
//! The layers of [`crate::layers`] are sinks that pass streams on to another sink: a
//! transformer (TLS) hands up the same stream with other bytes, a demultiplexer (HTTP/2)
//! several streams told apart by [`FlowInfo::sub`]. The WebSocket stage is the last
//! sink and does not know how many layers were below it.

use crate::capture::tunnel::Encap;
use crate::util::community_id::CommunityId;
use crate::util::time::Timestamp;
use serde::Serialize;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// Which way bytes travel on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the connection's initiator (the SYN sender, or the best guess) to its peer.
    ClientToServer,
    /// From the server back to the client.
    ServerToClient,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }

    /// Index 0 for client→server, 1 for server→client (for per-direction arrays).
    pub fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }

    /// The wire name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ClientToServer => "client_to_server",
            Direction::ServerToClient => "server_to_client",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a chunk of bytes came from: the 1-based numbers in the file (as Wireshark counts)
/// of the packets that carried it, and the time of the last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Provenance {
    /// The packet that completed the chunk: for TCP the one packet that carried it.
    pub packet: u64,
    /// The packet that carried the chunk's first byte: for TCP the same packet; a
    /// transformer's chunk (a TLS record's plaintext) may start in an earlier one.
    pub first: u64,
    /// The capture time of `packet`.
    pub ts: Timestamp,
}

impl Provenance {
    /// Bytes carried by one packet, `packet`, captured at `ts`.
    pub fn of(packet: u64, ts: Timestamp) -> Provenance {
        Provenance {
            packet,
            first: packet,
            ts,
        }
    }
}

/// One end of a connection, `IP:PORT` (`[v6]:port`) in output. A newtype so that records
/// can be built field by field (its default is `0.0.0.0:0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint(pub SocketAddr);

impl Default for Endpoint {
    fn default() -> Endpoint {
        Endpoint(SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Endpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// Parses `IP:PORT` (`[v6]:port`).
impl std::str::FromStr for Endpoint {
    type Err = std::net::AddrParseError;
    fn from_str(s: &str) -> Result<Endpoint, Self::Err> {
        s.parse().map(Endpoint)
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(a: SocketAddr) -> Endpoint {
        Endpoint(a)
    }
}

/// One TCP connection as the reassembler knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowInfo {
    /// Connection index in the file, 0-based in order of first packet (like Wireshark's `tcp.stream`).
    pub id: u64,
    /// The initiator's address (`IP:PORT`, IPv6 as `[addr]:port`).
    pub client: SocketAddr,
    /// The responder's address.
    pub server: SocketAddr,
    /// The connection's Community ID v1, from its own addresses (inside any tunnel).
    pub community_id: CommunityId,
    /// The tunnels the connection's first packet came through, outermost first (empty
    /// when none); the tcp view counts later packets that came otherwise.
    pub encapsulation: Encap,
    /// True when roles come from a SYN; false when guessed (capture started mid-connection).
    pub roles_known: bool,
    /// The stream inside the connection that a demultiplexing layer (HTTP/2) gave these
    /// bytes; `None` for the connection's own byte stream.
    pub sub: Option<u32>,
    /// What the layers below know the bytes to be.
    pub carries: Carries,
    /// What a TLS layer learned of the connection, when it carried TLS (shared: layers
    /// hand the same description to every event of the flow).
    pub tls: Option<Arc<TlsSummary>>,
    /// The HTTP/2 stream these bytes are the DATA of, when an HTTP/2 layer opened it as
    /// a WebSocket (RFC 8441): its request and response headers.
    pub h2: Option<Arc<H2Stream>>,
    /// Ids of the connection's first packet and of its last one so far (see
    /// [`crate::capture::set`]: the file and the packet number in it): at `open` both
    /// are the first, at `end` the second is the connection's last packet.
    pub packets: [u64; 2],
}

/// An HTTP/2 stream that an extended CONNECT (RFC 8441) asked to carry a WebSocket:
/// what the HTTP/2 layer decoded of it, for the WebSocket stage to read the handshake
/// from (HTTP/2 has no key and no 101: the `:status` says it all).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct H2Stream {
    /// The stream id (odd: client-initiated).
    pub stream_id: u32,
    /// The request's header fields, pseudo-headers (`:method`, `:protocol`, `:path`,
    /// `:authority`) first, names in lower case, as decoded.
    pub request: Vec<(String, String)>,
    /// The response's header fields (`:status` first); empty when none was seen.
    pub response: Vec<(String, String)>,
    /// Other streams of the same connection (pages, images, API calls), not decoded:
    /// counted when the connection ends.
    pub other_streams: u32,
}

impl H2Stream {
    /// The first value of header `name` in `fields`.
    pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The response's `:status`, when it had one.
    pub fn status(&self) -> Option<u16> {
        Self::field(&self.response, ":status")?.parse().ok()
    }
}

/// What the TLS layer learned of a connection: what its flow record shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSummary {
    /// The negotiated version's wire value (`0x0304` for TLS 1.3), once the ServerHello
    /// was seen.
    pub version: Option<u16>,
    /// The negotiated cipher suite's IANA id.
    pub suite: Option<u16>,
    /// The server name the client asked for (SNI).
    pub sni: Option<String>,
    /// The application protocol negotiated (ALPN).
    pub alpn: Option<String>,
    /// The handshake resumed an earlier session (TLS 1.2 session ID or ticket, TLS 1.3
    /// PSK).
    pub resumed: bool,
    /// How far decryption got.
    pub decryption: Decryption,
    /// TLS 1.3 KeyUpdates decrypted, both directions together.
    pub key_updates: u32,
    /// Alerts seen (the first few), in order.
    pub alerts: Vec<TlsAlert>,
    /// Capture times of the first and last bytes the layer read, set when the flow
    /// ends (a record of a connection nothing was decrypted from needs them).
    pub seen: Option<(Timestamp, Timestamp)>,
    /// Encrypted records that opened, set when the flow ends.
    pub records: u64,
}

/// How far the TLS layer got with a connection's records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Decryption {
    /// No encrypted record yet (or none at all).
    #[default]
    Pending,
    /// Every encrypted record so far opened with the key log's secrets.
    Decrypted,
    /// No key log line for this connection.
    NoKey,
    /// The capture starts after the handshake: without the ClientHello's random no key
    /// can be found.
    NoHandshake,
    /// A version or cipher suite this tool cannot decrypt.
    Unsupported,
    /// A record did not verify (wrong key or corrupt record) at this packet; the
    /// direction stopped there.
    Failed(u64),
}

/// A TLS alert (RFC 8446 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsAlert {
    /// Who sent it.
    pub dir: Direction,
    /// 1 warning, 2 fatal.
    pub level: u8,
    /// The alert description (0 `close_notify`, 40 `handshake_failure`, ...).
    pub description: u8,
    /// The packet that carried it.
    pub packet: u64,
}

/// What the layers below a sink know a byte stream to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Carries {
    /// Nothing yet: the WebSocket stage looks for an HTTP upgrade or for frames.
    #[default]
    Unknown,
    /// WebSocket frames from the first byte, without a handshake in the stream
    /// (`--decode-as`).
    WebSocket,
}

/// Why a direction of a stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseKind {
    /// A FIN was delivered in sequence.
    Fin,
    /// A RST was seen.
    Rst,
    /// The capture ended with the connection still open.
    EndOfCapture,
    /// The flow was evicted to bound memory.
    Evicted,
}

/// Receives the reassembled streams. Calls for one flow come in this order:
/// `open`, then any mix of `data`/`gap`/`close` per direction, then `end` exactly once.
pub trait StreamSink {
    /// A new connection was seen.
    fn open(&mut self, flow: &FlowInfo);
    /// In-order bytes of one direction; `at` is the packet that carried them.
    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], at: Provenance);
    /// `len` bytes of one direction were never captured; the next `data` follows them.
    /// `at` is the packet whose data comes after the hole.
    fn gap(&mut self, flow: &FlowInfo, dir: Direction, len: u64, at: Provenance);
    /// One direction ended (FIN in sequence, RST, end of capture).
    fn close(&mut self, flow: &FlowInfo, dir: Direction, kind: CloseKind, at: Provenance);
    /// No more events will come for this flow.
    fn end(&mut self, flow: &FlowInfo);
    /// A retransmission differed from the bytes `range` (stream offsets) of direction
    /// `dir` already delivered; the first copy stands. A sink that decoded those bytes
    /// can say so on what it made of them. Ignored by default.
    fn conflict(
        &mut self,
        _flow: &FlowInfo,
        _dir: Direction,
        _range: std::ops::Range<u64>,
        _at: Provenance,
    ) {
    }
}

/// An optional sink: `None` ignores every event.
impl<S: StreamSink> StreamSink for Option<S> {
    fn open(&mut self, flow: &FlowInfo) {
        if let Some(s) = self {
            s.open(flow)
        }
    }
    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], at: Provenance) {
        if let Some(s) = self {
            s.data(flow, dir, bytes, at)
        }
    }
    fn gap(&mut self, flow: &FlowInfo, dir: Direction, len: u64, at: Provenance) {
        if let Some(s) = self {
            s.gap(flow, dir, len, at)
        }
    }
    fn close(&mut self, flow: &FlowInfo, dir: Direction, kind: CloseKind, at: Provenance) {
        if let Some(s) = self {
            s.close(flow, dir, kind, at)
        }
    }
    fn end(&mut self, flow: &FlowInfo) {
        if let Some(s) = self {
            s.end(flow)
        }
    }
    fn conflict(
        &mut self,
        flow: &FlowInfo,
        dir: Direction,
        range: std::ops::Range<u64>,
        at: Provenance,
    ) {
        if let Some(s) = self {
            s.conflict(flow, dir, range, at)
        }
    }
}

/// Two sinks fed the same events, the first first: one TCP stream read two ways (the
/// raw dump and the decrypted one of `tcp --dump-dir`).
impl<A: StreamSink, B: StreamSink> StreamSink for (A, B) {
    fn open(&mut self, flow: &FlowInfo) {
        self.0.open(flow);
        self.1.open(flow)
    }
    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], at: Provenance) {
        self.0.data(flow, dir, bytes, at);
        self.1.data(flow, dir, bytes, at)
    }
    fn gap(&mut self, flow: &FlowInfo, dir: Direction, len: u64, at: Provenance) {
        self.0.gap(flow, dir, len, at);
        self.1.gap(flow, dir, len, at)
    }
    fn close(&mut self, flow: &FlowInfo, dir: Direction, kind: CloseKind, at: Provenance) {
        self.0.close(flow, dir, kind, at);
        self.1.close(flow, dir, kind, at)
    }
    fn end(&mut self, flow: &FlowInfo) {
        self.0.end(flow);
        self.1.end(flow)
    }
    fn conflict(
        &mut self,
        flow: &FlowInfo,
        dir: Direction,
        range: std::ops::Range<u64>,
        at: Provenance,
    ) {
        self.0.conflict(flow, dir, range.clone(), at);
        self.1.conflict(flow, dir, range, at)
    }
}
