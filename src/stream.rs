//! The interface between TCP reassembly and the protocol layers above it.
//!
//! The reassembler (`crate::tcp`) turns packets into two ordered byte streams per
//! connection and reports them to a [`StreamSink`] as events: in-order data chunks
//! (each tagged with the packet it came from), gaps that never filled, and closes.
//! Chunks borrow from the packet or from the reassembler's buffer, so a sink copies
//! only what it must keep.

use serde::Serialize;
use std::fmt;
use std::net::SocketAddr;

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

/// A capture timestamp: seconds and nanoseconds since the Unix epoch, with the
/// number of fractional digits the capture actually recorded (6 for µs pcap, 9 for ns).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z (may be negative).
    pub secs: i64,
    /// Nanoseconds within the second, 0..1_000_000_000.
    pub nanos: u32,
    /// Fractional digits to print: the capture's precision (0..=9).
    pub digits: u8,
}

impl Timestamp {
    /// Seconds as a float, for rates and round-trip times.
    pub fn as_f64(&self) -> f64 {
        self.secs as f64 + self.nanos as f64 / 1e9
    }

    /// RFC 3339 in UTC at the capture's precision, e.g. `2026-11-24T10:00:00.123456Z`.
    pub fn to_rfc3339(&self) -> String {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (sod / 3600, (sod % 3600) / 60, sod % 60);
        let mut s = format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}");
        let digits = self.digits.min(9) as u32;
        if digits > 0 {
            let frac = self.nanos / 10u32.pow(9 - digits);
            s.push_str(&format!(".{:0width$}", frac, width = digits as usize));
        }
        s.push('Z');
        s
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); H. Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Where a byte came from: its 1-based packet number in the file (as Wireshark counts) and time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Provenance {
    /// 1-based packet (record) number in the capture file.
    pub packet: u64,
    /// The packet's capture time.
    pub ts: Timestamp,
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
    /// True when roles come from a SYN; false when guessed (capture started mid-connection).
    pub roles_known: bool,
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
}
