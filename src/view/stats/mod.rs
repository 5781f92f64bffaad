//! The `stats` view: per WebSocket connection and direction, message counts by opcode,
//! bytes on the wire and decoded (compression ratio), message size distribution, message
//! rate, ping→pong round-trip times, the close handshake's outcome, gaps and violations.
//!
//! [`Aggregator`] consumes message records as they come and turns each connection's
//! counters into a [`StatsRecord`] when its flow record arrives (at the connection's end),
//! so memory is bounded by the connections open at once: per direction a few counters,
//! a sparse fixed-bucket size histogram and at most [`MAX_PENDING_PINGS`] pings awaiting
//! their pong.
//!
//! Here: the record types (the JSON contract) and the [`Aggregator`]; `sizes.rs` holds
//! the size histogram, `table.rs` the table row (each direction a line of its own cells).

mod sizes;
mod table;

use crate::tcp::stream::Endpoint;
use crate::ws::problem::Problem;
use crate::ws::protocol::Opcode;
use crate::ws::record::{Base64, FlowRecord, FlowState, MessageRecord};
use serde::Serialize;
use sizes::Sizes;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Pings remembered per direction while waiting for their pong; older ones are dropped
/// (and counted as unanswered).
pub const MAX_PENDING_PINGS: usize = 64;

/// Message sizes (decoded payload lengths) of one direction.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct SizeSummary {
    /// Smallest message.
    pub min: u64,
    /// Median, as the upper bound of its histogram bucket (within 1/8), at most `max`.
    pub median: u64,
    /// 95th percentile, as `median`.
    pub p95: u64,
    /// Largest message.
    pub max: u64,
}

/// Ping→pong round-trip times measured by one direction's pings, in milliseconds.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct RttSummary {
    /// Pings answered by a pong with the same payload in the opposite direction.
    pub count: u64,
    /// Shortest round trip.
    pub min_ms: f64,
    /// Mean round trip.
    pub avg_ms: f64,
    /// Longest round trip.
    pub max_ms: f64,
}

/// One direction of a connection.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct DirectionSummary {
    /// Messages counted (those passing the filters).
    pub messages: u64,
    /// Messages by opcode.
    pub by_opcode: BTreeMap<String, u64>,
    /// Payload bytes on the wire (compressed, if compressed).
    pub wire_bytes: u64,
    /// Payload bytes decoded (inflated).
    pub payload_bytes: u64,
    /// `payload_bytes / wire_bytes`, when any bytes were on the wire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression_ratio: Option<f64>,
    /// Message size distribution, when there were messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sizes: Option<SizeSummary>,
    /// Messages per second over the connection's lifetime, when it lasted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_per_s: Option<f64>,
    /// Pings sent in this direction.
    pub pings: u64,
    /// Pongs sent in this direction.
    pub pongs: u64,
    /// Round trips of this direction's pings, when any was answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping_rtt: Option<RttSummary>,
    /// Pings no pong answered.
    pub unanswered_pings: u64,
    /// Messages whose payload could not be decoded.
    pub undecodable: u64,
    /// TCP gaps (from the connection's counters, not filtered).
    pub gaps: u64,
    /// Bytes lost in gaps.
    pub gap_bytes: u64,
    /// Bytes skipped while resynchronising.
    pub skipped_bytes: u64,
    /// Protocol violations (from the connection's counters, not filtered).
    pub violations: u64,
}

/// How the close handshake went.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct CloseOutcome {
    /// `client`, `server`, or absent when nobody sent a close frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<String>,
    /// Close code the client sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_code: Option<u16>,
    /// Close code the server sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_code: Option<u16>,
    /// Both sides sent a close frame, the reply after the initiator's.
    pub clean: bool,
    /// A short description: `client 1000, server replied 1000`, `server 1001, no reply`,
    /// `no close handshake`.
    pub outcome: String,
}

/// The statistics of one WebSocket connection (`"record":"stats"`).
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct StatsRecord {
    /// Always `stats`.
    pub record: &'static str,
    /// Capture file.
    pub file: String,
    /// Connection index in the file.
    pub flow: u64,
    /// The HTTP/2 stream of a WebSocket over HTTP/2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub h2_stream_id: Option<u32>,
    /// Client `IP:PORT`.
    pub client: Endpoint,
    /// Server `IP:PORT`.
    pub server: Endpoint,
    /// The flow record's state (`upgraded`, `midstream`, …).
    pub state: FlowState,
    /// Seconds between the connection's first and last packet.
    pub duration_s: f64,
    /// Client→server.
    pub client_to_server: DirectionSummary,
    /// Server→client.
    pub server_to_client: DirectionSummary,
    /// Close handshake.
    pub close: CloseOutcome,
    /// Connection-level problems (from the flow record).
    pub errors: Vec<Problem>,
}
#[derive(Debug, Default)]
struct DirAcc {
    by_opcode: BTreeMap<String, u64>,
    messages: u64,
    wire: u64,
    payload: u64,
    sizes: Sizes,
    pings: VecDeque<(Base64, f64)>,
    ping_count: u64,
    pong_count: u64,
    dropped_pings: u64,
    rtt_n: u64,
    rtt_sum: f64,
    rtt_min: f64,
    rtt_max: f64,
    undecodable: u64,
    /// Time and packet of the first close message.
    close: Option<(f64, u64, Option<u16>)>,
}

impl DirAcc {
    fn rtt(&mut self, secs: f64) {
        let ms = secs * 1000.0;
        if self.rtt_n == 0 {
            self.rtt_min = ms;
            self.rtt_max = ms;
        }
        self.rtt_n += 1;
        self.rtt_sum += ms;
        self.rtt_min = self.rtt_min.min(ms);
        self.rtt_max = self.rtt_max.max(ms);
    }

    fn summary(
        &self,
        counters: &crate::ws::record::DirectionStats,
        duration: f64,
    ) -> DirectionSummary {
        DirectionSummary {
            messages: self.messages,
            by_opcode: self.by_opcode.clone(),
            wire_bytes: self.wire,
            payload_bytes: self.payload,
            compression_ratio: (self.wire > 0)
                .then(|| round3(self.payload as f64 / self.wire as f64)),
            sizes: self.sizes.summary(),
            messages_per_s: (duration > 0.0).then(|| round3(self.messages as f64 / duration)),
            pings: self.ping_count,
            pongs: self.pong_count,
            ping_rtt: (self.rtt_n > 0).then(|| RttSummary {
                count: self.rtt_n,
                min_ms: round3(self.rtt_min),
                avg_ms: round3(self.rtt_sum / self.rtt_n as f64),
                max_ms: round3(self.rtt_max),
            }),
            unanswered_pings: self.dropped_pings + self.pings.len() as u64,
            undecodable: self.undecodable,
            gaps: counters.gaps,
            gap_bytes: counters.gap_bytes,
            skipped_bytes: counters.skipped_bytes,
            violations: counters.violations,
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Builds [`StatsRecord`]s from message and flow records.
#[derive(Debug, Default)]
pub struct Aggregator {
    conns: HashMap<(u32, u64, Option<u32>), [DirAcc; 2]>,
}

impl Aggregator {
    /// An empty aggregator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Connections with counters not yet turned into a record.
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// Counts one message.
    pub fn message(&mut self, m: &MessageRecord) {
        let dirs = self
            .conns
            .entry((m.capture, m.flow, m.h2_stream_id))
            .or_default();
        let i = m.direction.index();
        let t = m.timestamp.as_f64();
        let d = &mut dirs[i];
        d.sizes.add(m.length);
        d.messages += 1;
        let name = m.opcode.name();
        match d.by_opcode.get_mut(&*name) {
            Some(n) => *n += 1,
            None => {
                d.by_opcode.insert(name.into_owned(), 1);
            }
        }
        d.wire += m.wire_length;
        d.payload += m.length;
        d.undecodable += u64::from(m.undecodable);
        let key = || m.data_b64.clone().unwrap_or_default();
        match m.opcode {
            Opcode::Ping => {
                d.ping_count += 1;
                if !m.undecodable {
                    if d.pings.len() >= MAX_PENDING_PINGS {
                        d.pings.pop_front();
                        d.dropped_pings += 1;
                    }
                    d.pings.push_back((key(), t));
                }
            }
            Opcode::Pong => {
                d.pong_count += 1;
                let k = key();
                let other = &mut dirs[1 - i];
                if let Some(pos) = other.pings.iter().position(|(p, pt)| *p == k && *pt <= t) {
                    if let Some((_, pt)) = other.pings.remove(pos) {
                        other.rtt(t - pt);
                    }
                }
            }
            Opcode::Close if d.close.is_none() => {
                d.close = Some((t, m.packets[1], m.close_code));
            }
            _ => {}
        }
    }

    /// Closes a connection's counters into its record, given its flow record.
    pub fn flow(&mut self, f: &FlowRecord) -> StatsRecord {
        let dirs = self
            .conns
            .remove(&(f.capture, f.flow, f.h2_stream_id))
            .unwrap_or_default();
        let duration = (f.last_seen.as_f64() - f.first_seen.as_f64()).max(0.0);
        StatsRecord {
            record: "stats",
            file: f.file.clone(),
            flow: f.flow,
            h2_stream_id: f.h2_stream_id,
            client: f.client,
            server: f.server,
            state: f.state,
            duration_s: round3(duration),
            client_to_server: dirs[0].summary(&f.client_to_server, duration),
            server_to_client: dirs[1].summary(&f.server_to_client, duration),
            close: close_outcome(&dirs),
            errors: f.errors.clone(),
        }
    }
}

fn close_outcome(dirs: &[DirAcc; 2]) -> CloseOutcome {
    let (c, s) = (dirs[0].close, dirs[1].close);
    let code = |x: Option<(f64, u64, Option<u16>)>| x.and_then(|(_, _, c)| c);
    let show = |c: Option<u16>| {
        c.map(|c| c.to_string())
            .unwrap_or_else(|| "(no code)".into())
    };
    let (initiated_by, outcome, clean) = match (c, s) {
        (None, None) => (None, "no close handshake".to_string(), false),
        (Some((_, _, cc)), None) => (
            Some("client"),
            format!("client {}, no reply", show(cc)),
            false,
        ),
        (None, Some((_, _, sc))) => (
            Some("server"),
            format!("server {}, no reply", show(sc)),
            false,
        ),
        (Some((ct, cp, cc)), Some((st, sp, sc))) => {
            if (ct, cp) <= (st, sp) {
                (
                    Some("client"),
                    format!("client {}, server replied {}", show(cc), show(sc)),
                    true,
                )
            } else {
                (
                    Some("server"),
                    format!("server {}, client replied {}", show(sc), show(cc)),
                    true,
                )
            }
        }
    };
    CloseOutcome {
        initiated_by: initiated_by.map(String::from),
        client_code: code(c),
        server_code: code(s),
        clean,
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::Row;

    fn msg(dir: &str, opcode: &str, len: u64, ts: &str, b64: Option<&str>) -> MessageRecord {
        MessageRecord {
            file: "f".into(),
            flow: 1,
            direction: dir.parse().unwrap(),
            opcode: opcode.parse().unwrap(),
            timestamp: ts.parse().unwrap(),
            length: len,
            wire_length: len / 2,
            data_b64: b64.and_then(Base64::decode),
            packets: [1, 1],
            ..Default::default()
        }
    }

    #[test]
    fn counts_sizes_rtt_and_close() {
        let mut a = Aggregator::new();
        let c = "client_to_server";
        let s = "server_to_client";
        for i in 0..100u64 {
            a.message(&msg(c, "text", i + 1, "2024-01-01T00:00:01Z", None));
        }
        a.message(&msg(s, "ping", 4, "2024-01-01T00:00:02Z", Some("AAAA")));
        a.message(&msg(s, "ping", 4, "2024-01-01T00:00:02.5Z", Some("BBBB")));
        a.message(&msg(c, "pong", 4, "2024-01-01T00:00:02.010Z", Some("AAAA")));
        a.message(&msg(c, "pong", 4, "2024-01-01T00:00:02.020Z", Some("CCCC")));
        let mut close = msg(s, "close", 2, "2024-01-01T00:00:03Z", Some("A+g="));
        close.close_code = Some(1000);
        a.message(&close);
        let mut reply = msg(c, "close", 2, "2024-01-01T00:00:03.001Z", Some("A+g="));
        reply.close_code = Some(1000);
        a.message(&reply);
        assert_eq!(a.open_connections(), 1);
        let r = a.flow(&FlowRecord {
            file: "f".into(),
            flow: 1,
            first_seen: "2024-01-01T00:00:00Z".parse().unwrap(),
            last_seen: "2024-01-01T00:00:10Z".parse().unwrap(),
            ..Default::default()
        });
        assert_eq!(a.open_connections(), 0);
        let cs = &r.client_to_server;
        assert_eq!(cs.messages, 103);
        assert_eq!(cs.by_opcode["text"], 100);
        assert_eq!(cs.by_opcode["pong"], 2);
        let sz = cs.sizes.as_ref().unwrap();
        assert_eq!((sz.min, sz.max), (1, 100));
        assert!((48..=56).contains(&sz.median), "{sz:?}");
        assert!((92..=100).contains(&sz.p95), "{sz:?}");
        assert_eq!(cs.messages_per_s, Some(10.3));
        let sc = &r.server_to_client;
        assert_eq!(sc.pings, 2);
        let rtt = sc.ping_rtt.as_ref().unwrap();
        assert_eq!(rtt.count, 1);
        assert_eq!(rtt.min_ms, 10.0);
        assert_eq!(sc.unanswered_pings, 1);
        assert_eq!(r.close.initiated_by.as_deref(), Some("server"));
        assert!(r.close.clean);
        assert_eq!(r.close.outcome, "server 1000, client replied 1000");
        let cells = r.cells();
        assert_eq!(cells.len(), StatsRecord::header().len());
        assert_eq!(r.close_cell(), "1000 reply\n1000 first (clean)");
    }

    #[test]
    fn pending_pings_are_bounded() {
        let mut a = Aggregator::new();
        for i in 0..(MAX_PENDING_PINGS as u64 + 10) {
            let b = format!("{i}");
            a.message(&msg(
                "client_to_server",
                "ping",
                1,
                "2024-01-01T00:00:00Z",
                Some(&b),
            ));
        }
        let r = a.flow(&FlowRecord {
            file: "f".into(),
            flow: 1,
            ..Default::default()
        });
        assert_eq!(
            r.client_to_server.unanswered_pings,
            MAX_PENDING_PINGS as u64 + 10
        );
        assert_eq!(r.close.outcome, "no close handshake");
        assert_eq!(r.close_cell(), "none\nnone (not clean)");
    }
}
