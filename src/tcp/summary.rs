//! The records of the `tcp` view: what the reassembler knows of a connection when it
//! ends ([`FlowSummary`]), with one [`DirStats`] per direction.
//!
//! They are kept apart from the reassembly code because they are a contract: their field
//! names and values are the JSON the `tcp` view prints, and other stages (problem
//! counts, filters, tables) read them.

use serde::Serialize;

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
    /// Repeated bytes that differed from the first copy.
    pub conflicting_bytes: u64,
    /// Segments that arrived ahead of a hole and were held.
    pub out_of_order: u64,
    /// Times the out-of-order cap forced a gap.
    pub ooo_limit_hits: u64,
    /// Payload bytes cut off by the snap length.
    pub snaplen_cut_bytes: u64,
    /// FIN seen.
    pub fin: bool,
    /// RST seen.
    pub rst: bool,
}

/// What the reassembler knows of a connection when it ends.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FlowSummary {
    /// Always `"tcp"`: the record kind in JSON output.
    pub record: &'static str,
    /// Connection index (0-based, like Wireshark's `tcp.stream`).
    pub flow: u64,
    /// Client `IP:PORT`.
    pub client: String,
    /// Server `IP:PORT`.
    pub server: String,
    /// Whether roles come from a SYN (else guessed: lower port is the server).
    pub roles_known: bool,
    /// `closed` (FIN both ways), `reset`, `half_closed`, `open` (at end of capture), `evicted`.
    pub state: String,
    /// First packet time (RFC 3339).
    pub first_seen: String,
    /// Last packet time (RFC 3339).
    pub last_seen: String,
    /// Client→server counters.
    pub client_to_server: DirStats,
    /// Server→client counters.
    pub server_to_client: DirStats,
}
