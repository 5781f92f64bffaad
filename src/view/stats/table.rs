//! The `stats` view as a table: one row per connection, each cell two lines (client to
//! server, then server to client) so both directions of a connection read side by side.
//!
//! The JSON record ([`StatsRecord`]) carries every number; the table keeps what fits a
//! terminal: sizes as min/median/p95/max, fractions (rates, ratios, round trips) with
//! fewer decimals as they grow, problems only when there are some.

use super::{DirectionSummary, StatsRecord};
use crate::view::Row;

/// A fraction for a narrow cell: two decimals below 10, one below 100, none above.
fn fmt_f(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

impl DirectionSummary {
    fn opcodes(&self) -> String {
        let parts: Vec<String> = self
            .by_opcode
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!("{} ({})", self.messages, parts.join(", "))
    }

    fn bytes(&self) -> String {
        match self.compression_ratio {
            Some(r) if self.wire_bytes != self.payload_bytes => {
                format!("{}/{} (×{})", self.wire_bytes, self.payload_bytes, fmt_f(r))
            }
            _ => format!("{}/{}", self.wire_bytes, self.payload_bytes),
        }
    }

    fn sizes_cell(&self) -> String {
        self.sizes
            .as_ref()
            .map(|s| format!("{}/{}/{}/{}", s.min, s.median, s.p95, s.max))
            .unwrap_or_default()
    }

    fn rtt_cell(&self) -> String {
        let mut s = self
            .ping_rtt
            .as_ref()
            .map(|r| {
                format!(
                    "{}× {}/{}/{}",
                    r.count,
                    fmt_f(r.min_ms),
                    fmt_f(r.avg_ms),
                    fmt_f(r.max_ms)
                )
            })
            .unwrap_or_default();
        if self.unanswered_pings > 0 {
            if !s.is_empty() {
                s.push_str(", ");
            }
            s.push_str(&format!("{} unanswered", self.unanswered_pings));
        }
        s
    }

    fn problems_cell(&self) -> String {
        let mut p = Vec::new();
        for (n, what) in [
            (self.gaps, "gaps"),
            (self.violations, "violations"),
            (self.undecodable, "undecodable"),
        ] {
            if n > 0 {
                p.push(format!("{n} {what}"));
            }
        }
        if self.skipped_bytes > 0 {
            p.push(format!("{} bytes skipped", self.skipped_bytes));
        }
        p.join(", ")
    }
}

impl StatsRecord {
    /// Per direction: its close code and whether it closed first or replied; the second
    /// line also says whether the handshake was clean.
    pub(super) fn close_cell(&self) -> String {
        let c = &self.close;
        let side = |who: &str, code: Option<u16>| -> String {
            let sent = match (&c.initiated_by, c.clean) {
                (Some(i), _) if i == who => Some("first"),
                (Some(_), true) => Some("reply"),
                _ => None,
            };
            match sent {
                Some(role) => {
                    let code = code
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "(no code)".into());
                    format!("{code} {role}")
                }
                None => "none".to_string(),
            }
        };
        format!(
            "{}\n{} ({})",
            side("client", c.client_code),
            side("server", c.server_code),
            if c.clean { "clean" } else { "not clean" }
        )
    }
}

impl Row for StatsRecord {
    fn place(&self) -> Option<(&str, Option<&str>)> {
        Some((&self.file, None))
    }
    fn columnar(&self) -> Option<crate::view::columnar::Item<'_>> {
        Some(crate::view::columnar::Item::Stats(self))
    }
    fn header() -> &'static [&'static str] {
        &[
            "flow",
            "dir",
            "messages (by opcode)",
            "bytes wire/decoded",
            "size min/med/p95/max",
            "msg/s",
            "ping rtt ms min/avg/max",
            "close",
            "problems",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let (c, s) = (&self.client_to_server, &self.server_to_client);
        let two = |f: &dyn Fn(&DirectionSummary) -> String| format!("{}\n{}", f(c), f(s));
        let mut problems = two(&|d| d.problems_cell());
        if !self.errors.is_empty() {
            problems.push('\n');
            problems.push_str(&crate::view::preview(
                &crate::view::join(&self.errors, "; "),
                80,
            ));
        }
        vec![
            crate::view::table::flow_cell(self.flow, self.h2_stream_id),
            "→ c2s\n← s2c".to_string(),
            two(&|d| d.opcodes()),
            two(&|d| d.bytes()),
            two(&|d| d.sizes_cell()),
            two(&|d| d.messages_per_s.map(fmt_f).unwrap_or_default()),
            two(&|d| d.rtt_cell()),
            self.close_cell(),
            problems.trim_end().to_string(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_two_or_three_digits() {
        assert_eq!(fmt_f(123.456), "123");
        assert_eq!(fmt_f(12.345), "12.3");
        assert_eq!(fmt_f(1.0), "1.00");
        assert_eq!(fmt_f(0.0), "0.00");
    }

    #[test]
    fn bytes_show_a_ratio_only_when_decoding_changed_the_size() {
        let mut d = DirectionSummary {
            wire_bytes: 10,
            payload_bytes: 25,
            compression_ratio: Some(2.5),
            ..Default::default()
        };
        assert_eq!(d.bytes(), "10/25 (×2.50)");
        d.payload_bytes = 10;
        d.compression_ratio = Some(1.0);
        assert_eq!(d.bytes(), "10/10");
    }

    #[test]
    fn problems_list_only_what_happened() {
        let d = DirectionSummary {
            gaps: 2,
            skipped_bytes: 5,
            ..Default::default()
        };
        assert_eq!(d.problems_cell(), "2 gaps, 5 bytes skipped");
        assert_eq!(DirectionSummary::default().problems_cell(), "");
    }
}
