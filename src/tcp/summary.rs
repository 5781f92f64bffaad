//! The records of the `tcp` view: what the reassembler knows of a connection when it
//! ends ([`FlowSummary`]), with one [`DirStats`] per direction.
//!
//! They are kept apart from the reassembly code because they are a contract: their field
//! names and values are the JSON the `tcp` view prints, and other stages (problem
//! counts, filters, tables) read them.

use crate::capture::set::{FileSet, Place};
use crate::capture::tunnel::Encap;
use crate::tcp::stream::Endpoint;
use crate::util::community_id::CommunityId;
use crate::util::time::Timestamp;
use serde::Serialize;
use std::fmt;

/// Counters for one direction of a connection.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct DirStats {
    /// Packets seen in this direction.
    pub packets: u64,
    /// Payload bytes captured (including retransmitted copies).
    pub payload_bytes: u64,
    /// Bytes delivered in order to the sink.
    pub delivered_bytes: u64,
    /// Holes that never filled.
    pub gaps: u64,
    /// Bytes lost in those holes.
    pub gap_bytes: u64,
    /// Segments (or parts) that repeated bytes already seen.
    pub retransmissions: u64,
    /// Repeated bytes that differed from the first copy (the one decoded).
    pub conflicting_bytes: u64,
    /// Segments whose repeated bytes differed from the first copy.
    pub conflicts: u64,
    /// Segments that arrived ahead of a hole and were held.
    pub out_of_order: u64,
    /// Times the out-of-order cap forced a gap.
    pub ooo_limit_hits: u64,
    /// Payload bytes cut off by the snap length.
    pub snaplen_cut_bytes: u64,
    /// FIN seen.
    pub fin: bool,
    /// RST seen (and believed: within the window).
    pub rst: bool,
    /// RSTs ignored because their sequence number lay outside the window (likely
    /// forged: RFC 5961).
    pub suspicious_rsts: u64,
    /// Packets that came through other tunnels (or none) than the direction's first
    /// packet (a path change, or a capture that sees both the tunnel and its inside);
    /// absent when none did.
    #[serde(skip_serializing_if = "is_zero")]
    pub encapsulation_mismatches: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What the reassembler knows of a connection when it ends.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FlowSummary {
    /// Always `"tcp"`: the record kind in JSON output.
    pub record: &'static str,
    /// Connection index (0-based, like Wireshark's `tcp.stream`).
    pub flow: u64,
    /// Client `IP:PORT`.
    pub client: Endpoint,
    /// Server `IP:PORT`.
    pub server: Endpoint,
    /// The connection's Community ID v1 (`1:` and base64).
    pub community_id: CommunityId,
    /// The tunnels the connection's first packet came through, outermost first; absent
    /// when none.
    #[serde(skip_serializing_if = "Encap::is_empty")]
    pub encapsulation: Encap,
    /// Whether roles come from a SYN (else guessed: lower port is the server).
    pub roles_known: bool,
    /// How the connection ended: `closed`, `reset`, `half_closed`, `open`, `evicted`.
    pub state: TcpState,
    /// First packet time (RFC 3339 in output).
    pub first_seen: Timestamp,
    /// Last packet time (RFC 3339 in output).
    pub last_seen: Timestamp,
    /// Ids of the first and last packets (see [`crate::capture::set`]); what `file`,
    /// `packets` and `first_file` are made from by [`FlowSummary::locate`].
    #[serde(skip)]
    pub packet_ids: [u64; 2],
    /// The capture file holding the connection's last packet.
    pub file: String,
    /// Numbers of the first and last packets, each within its own file.
    pub packets: [u64; 2],
    /// The file holding the first packet, when it is not `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_file: Option<String>,
    /// Client→server counters.
    pub client_to_server: DirStats,
    /// Server→client counters.
    pub server_to_client: DirStats,
}

impl FlowSummary {
    /// Fills `file`, `packets` and `first_file` from the packet ids, with the names of
    /// the capture's `files`.
    pub fn locate(&mut self, files: &FileSet) {
        let Place {
            file,
            packets,
            first_file,
        } = files.place(self.packet_ids);
        self.file = file;
        self.packets = packets;
        self.first_file = first_file;
    }
}

/// How a connection stood when the reassembler let go of it. Serialises as the
/// `snake_case` name (`"half_closed"`), which is also its [`as_str`](TcpState::as_str)
/// and `Display`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpState {
    /// FIN seen both ways.
    Closed,
    /// RST seen (either way).
    Reset,
    /// FIN seen one way only.
    HalfClosed,
    /// Neither FIN nor RST: still open at the end of the capture.
    Open,
    /// Evicted from a full connection table before it ended.
    Evicted,
}

impl TcpState {
    /// The state of a connection whose directions have counters `c` and `s`, when it
    /// ends. Eviction comes first (the connection may well have gone on), then RST,
    /// then FINs.
    pub(super) fn at_end(evicted: bool, c: &DirStats, s: &DirStats) -> TcpState {
        if evicted {
            TcpState::Evicted
        } else if c.rst || s.rst {
            TcpState::Reset
        } else if c.fin && s.fin {
            TcpState::Closed
        } else if c.fin || s.fin {
            TcpState::HalfClosed
        } else {
            TcpState::Open
        }
    }

    /// The wire name used in JSON output and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::Closed => "closed",
            TcpState::Reset => "reset",
            TcpState::HalfClosed => "half_closed",
            TcpState::Open => "open",
            TcpState::Evicted => "evicted",
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [TcpState; 5] = [
        TcpState::Closed,
        TcpState::Reset,
        TcpState::HalfClosed,
        TcpState::Open,
        TcpState::Evicted,
    ];

    /// The names are a contract of the `tcp` view: serde, `as_str` and `Display` agree
    /// on them.
    #[test]
    fn state_names() {
        let names = ["closed", "reset", "half_closed", "open", "evicted"];
        for (s, name) in ALL.into_iter().zip(names) {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{name}\""));
            assert_eq!(s.as_str(), name);
            assert_eq!(s.to_string(), name);
        }
    }

    #[test]
    fn eviction_then_reset_then_fins_decide_the_state() {
        let none = DirStats::default();
        let fin = DirStats {
            fin: true,
            ..DirStats::default()
        };
        let rst = DirStats {
            rst: true,
            ..fin.clone()
        };
        assert_eq!(TcpState::at_end(true, &rst, &fin), TcpState::Evicted);
        assert_eq!(TcpState::at_end(false, &fin, &rst), TcpState::Reset);
        assert_eq!(TcpState::at_end(false, &fin, &fin), TcpState::Closed);
        assert_eq!(TcpState::at_end(false, &none, &fin), TcpState::HalfClosed);
        assert_eq!(TcpState::at_end(false, &none, &none), TcpState::Open);
    }
}
