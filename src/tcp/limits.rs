//! What the reassembler does when a table-wide limit of [`Config`](crate::tcp::Config)
//! is hit, so that memory stays bounded whatever the capture holds.
//!
//! A full connection table evicts the least recently active tenth of its flows at once:
//! finding the oldest takes a pass over the table, which a flood of new connections
//! would otherwise pay on each of them. Too many out-of-order bytes across all flows flush the direction that
//! holds the most, declaring its holes gaps. Both leave a [`Warning`] for the caller.

use crate::tcp::stream::{CloseKind, Direction, Provenance, StreamSink};
use crate::tcp::{Reassembler, Warning};
use std::cmp::Reverse;
use std::net::SocketAddr;

impl Reassembler {
    /// Evicts the least recently active tenth of the flows when the table is full.
    pub(super) fn make_room(&mut self, at: Provenance, sink: &mut dyn StreamSink) {
        if self.flows.len() < self.config.max_flows {
            return;
        }
        let mut by_age: Vec<((SocketAddr, SocketAddr), u64)> =
            self.flows.iter().map(|(k, f)| (*k, f.age)).collect();
        let n = (self.config.max_flows / 10).max(1).min(by_age.len());
        // Only the n oldest need ordering: select them first (linear), then sort them.
        if n < by_age.len() {
            by_age.select_nth_unstable_by_key(n, |(_, p)| *p);
            by_age.truncate(n);
        }
        by_age.sort_by_key(|(_, p)| *p);
        for (k, _) in by_age.into_iter().take(n) {
            if let Some(mut flow) = self.flows.remove(&k) {
                flow.evicted = !flow.ended;
                self.recent_total = self.recent_total.saturating_sub(flow.recent_bytes());
                let released = flow.end(CloseKind::Evicted, &mut self.summaries, sink);
                self.ooo_total = self.ooo_total.saturating_sub(released);
            }
        }
        self.warnings.push(Warning {
            packet: at.packet,
            kind: "connection table full",
            message: format!(
                "connection table full ({} flows): evicted the {n} least recently active",
                self.config.max_flows
            ),
        });
    }

    /// Flushes the flow holding the most out-of-order bytes when the global cap is hit;
    /// of flows holding as much, the oldest (the table's order is random).
    pub(super) fn flush_largest(&mut self, at: Provenance, sink: &mut dyn StreamSink) {
        let Some((k, dir)) = self
            .flows
            .iter()
            .filter(|(_, f)| !f.ended)
            .flat_map(|(k, f)| {
                [Direction::ClientToServer, Direction::ServerToClient].map(|d| {
                    let held = f.halves[d.index()].pending_bytes;
                    ((*k, d), (held, Reverse((f.info.id, d.index()))))
                })
            })
            .max_by_key(|(_, rank)| *rank)
            .map(|(kd, _)| kd)
        else {
            return;
        };
        let Some(flow) = self.flows.get_mut(&k) else {
            return;
        };
        let recent_before = flow.recent_bytes();
        let h = &mut flow.halves[dir.index()];
        h.recent_grows = self.recent_total < self.config.max_recent_total;
        h.stats.ooo_limit_hits += 1;
        let to = h
            .pending
            .last_key_value()
            .map(|(s, p)| s + p.data.len() as u64)
            .unwrap_or(h.next);
        let released = h.skip_to(&flow.info, dir, to, at, sink);
        self.ooo_total = self.ooo_total.saturating_sub(released);
        self.recent_total = (self.recent_total + flow.recent_bytes()).saturating_sub(recent_before);
        self.warnings.push(Warning {
            packet: at.packet,
            kind: "total out-of-order buffer limit",
            message: format!(
                "flow {} {dir}: total out-of-order buffer limit ({} bytes) hit, holes declared gaps",
                flow.info.id, self.config.max_ooo_total
            ),
        });
    }
}
