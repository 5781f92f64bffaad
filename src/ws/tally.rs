//! What became of the connections of a capture, counted so that a file in which no
//! WebSocket was found says why on standard error (a wrong port guess, plain HTTP, a
//! refused upgrade, TLS without keys) instead of printing nothing.

/// Connections by what the WebSocket stage made of them. Dissectors sharing a capture
/// [`merge`](Tally::merge) theirs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// TCP connections that ended (HTTP/2 streams are not counted here).
    pub tcp: u64,
    /// WebSockets decoded (one per HTTP/2 stream).
    pub websocket: u64,
    /// Connections that carried HTTP without a WebSocket upgrade.
    pub plain_http: u64,
    /// Upgrades refused.
    pub refused: u64,
    /// Upgrade requests without a readable answer.
    pub unanswered: u64,
    /// TLS connections nothing could be decrypted from.
    pub encrypted: u64,
    /// Connections whose bytes were neither HTTP nor WebSocket frames.
    pub unrecognised: u64,
}

impl Tally {
    /// Adds `o`'s counts.
    pub fn merge(&mut self, o: &Tally) {
        self.tcp += o.tcp;
        self.websocket += o.websocket;
        self.plain_http += o.plain_http;
        self.refused += o.refused;
        self.unanswered += o.unanswered;
        self.encrypted += o.encrypted;
        self.unrecognised += o.unrecognised;
    }

    /// One line for a capture with TCP connections but no WebSocket, e.g. "3 TCP
    /// connections, 0 WebSocket: 2 plain HTTP without upgrade, 1 unrecognised"; None
    /// when a WebSocket was found or there was no TCP connection.
    pub fn summary(&self) -> Option<String> {
        if self.websocket > 0 || self.tcp == 0 {
            return None;
        }
        let named = [
            (self.plain_http, "plain HTTP without upgrade"),
            (self.refused, "upgrade refused"),
            (self.unanswered, "upgrade unanswered"),
            (self.encrypted, "TLS not decrypted"),
            (self.unrecognised, "unrecognised"),
        ];
        let sum: u64 = named.iter().map(|(n, _)| n).sum();
        let rest = self.tcp.saturating_sub(sum);
        let parts: Vec<String> = named
            .into_iter()
            .chain([(
                rest,
                "with nothing to decode (no payload, or HTTP/2 without WebSocket)",
            )])
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        let s = if self.tcp == 1 { "" } else { "s" };
        Some(format!(
            "{} TCP connection{s}, 0 WebSocket: {}",
            self.tcp,
            parts.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lines() {
        let t = Tally {
            tcp: 3,
            plain_http: 2,
            unrecognised: 1,
            ..Tally::default()
        };
        assert_eq!(
            t.summary().as_deref(),
            Some("3 TCP connections, 0 WebSocket: 2 plain HTTP without upgrade, 1 unrecognised")
        );
        let t = Tally {
            tcp: 1,
            ..Tally::default()
        };
        assert_eq!(
            t.summary().as_deref(),
            Some(
                "1 TCP connection, 0 WebSocket: 1 with nothing to decode (no payload, or HTTP/2 \
without WebSocket)"
            )
        );
        let mut t = Tally {
            tcp: 2,
            websocket: 1,
            ..Tally::default()
        };
        assert_eq!(t.summary(), None);
        t.merge(&Tally {
            tcp: 1,
            refused: 1,
            ..Tally::default()
        });
        assert_eq!((t.tcp, t.refused), (3, 1));
        assert_eq!(Tally::default().summary(), None);
    }
}
