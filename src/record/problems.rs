//! Problems counted by kind, for `--strict` and its summary on standard error.

use crate::record::DirectionStats;
use crate::tcp::{FlowSummary, TcpState};
use std::fmt;

/// How many problems of each kind a run met. Any non-zero count fails `--strict`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Problems {
    /// WebSocket protocol violations (on frames and messages).
    pub violations: u64,
    /// Messages whose payload could not be decoded.
    pub undecodable: u64,
    /// Messages cut at the maximum message size (a limit).
    pub truncated: u64,
    /// TCP gaps (bytes never captured).
    pub gaps: u64,
    /// Connection directions where bytes were skipped to find a frame boundary.
    pub resyncs: u64,
    /// Handshake and connection-level problems.
    pub connection_errors: u64,
    /// Problems in the capture file itself: truncation, corrupt or malformed packets,
    /// unsupported link types.
    pub capture_errors: u64,
    /// Times the out-of-order buffer limit forced a hole to become a gap.
    pub ooo_limit_hits: u64,
    /// Connections evicted because the connection table was full.
    pub evicted: u64,
    /// Problems the decoder counted without a kind above.
    pub other: u64,
}

impl Problems {
    /// Adds one WebSocket direction's counters.
    pub fn add_direction(&mut self, s: &DirectionStats) {
        self.violations += s.violations;
        self.undecodable += s.undecodable;
        self.truncated += s.truncated;
        self.gaps += s.gaps;
        self.resyncs += u64::from(s.skipped_bytes > 0);
    }

    /// Adds the limits a TCP connection hit (its gaps too when `gaps` is set: the `tcp`
    /// view counts them there, the WebSocket views on the WebSocket directions).
    pub fn add_tcp(&mut self, s: &FlowSummary, gaps: bool) {
        for d in [&s.client_to_server, &s.server_to_client] {
            self.ooo_limit_hits += d.ooo_limit_hits;
            if gaps {
                self.gaps += d.gaps;
            }
        }
        self.evicted += u64::from(s.state == TcpState::Evicted);
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, o: &Problems) {
        self.violations += o.violations;
        self.undecodable += o.undecodable;
        self.truncated += o.truncated;
        self.gaps += o.gaps;
        self.resyncs += o.resyncs;
        self.connection_errors += o.connection_errors;
        self.capture_errors += o.capture_errors;
        self.ooo_limit_hits += o.ooo_limit_hits;
        self.evicted += o.evicted;
        self.other += o.other;
    }

    /// Sum of all counts.
    pub fn total(&self) -> u64 {
        self.kinds().iter().map(|(n, _, _)| n).sum()
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    fn kinds(&self) -> [(u64, &'static str, &'static str); 10] {
        [
            (self.violations, "violation", "violations"),
            (self.gaps, "gap", "gaps"),
            (
                self.undecodable,
                "undecodable message",
                "undecodable messages",
            ),
            (self.truncated, "truncated message", "truncated messages"),
            (self.resyncs, "resynchronisation", "resynchronisations"),
            (
                self.connection_errors,
                "connection error",
                "connection errors",
            ),
            (self.capture_errors, "capture error", "capture errors"),
            (
                self.ooo_limit_hits,
                "out-of-order limit hit",
                "out-of-order limit hits",
            ),
            (self.evicted, "evicted connection", "evicted connections"),
            (self.other, "other problem", "other problems"),
        ]
    }
}

impl fmt::Display for Problems {
    /// `3 violations, 1 gap, 2 undecodable messages` (kinds with a zero count left out;
    /// `no problems` when all are zero).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .kinds()
            .iter()
            .filter(|(n, _, _)| *n > 0)
            .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
            .collect();
        if parts.is_empty() {
            f.write_str("no problems")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_by_kind() {
        let mut p = Problems::default();
        assert!(p.is_empty());
        assert_eq!(p.to_string(), "no problems");
        p.add_direction(&DirectionStats {
            violations: 3,
            gaps: 1,
            undecodable: 2,
            ..Default::default()
        });
        assert_eq!(p.to_string(), "3 violations, 1 gap, 2 undecodable messages");
        let mut q = Problems {
            evicted: 1,
            ..Default::default()
        };
        q.merge(&p);
        assert_eq!(q.total(), 7);
        assert!(q.to_string().ends_with("1 evicted connection"));
    }
}
