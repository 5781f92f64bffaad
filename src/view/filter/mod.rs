//! Record filters shared by every view: flow, client/server address, direction, opcode,
//! a regular expression on text payloads, a time window and a record limit.
//!
//! [`Filter`] (here) holds the criteria and tests single records; each record kind has
//! its own test because not every criterion applies to it (a connection has no opcode, a
//! frame's opcode and text are judged through its message). [`Selector`]
//! (`selector.rs`) applies a filter to the record stream of a dissector, making frame
//! records follow the decision taken on the message they belong to, and counts what it
//! let through for `--limit`. [`AddrMatch`] (`addr.rs`) is the `--client`/`--server`
//! criterion. Times compare as instants ([`Timestamp`] also remembers how many digits to
//! print, which must not make equal instants differ).

mod addr;
mod selector;

pub use addr::AddrMatch;
pub use selector::Selector;

use crate::tcp::stream::Endpoint;
use crate::tcp::FlowSummary;
use crate::util::time::Timestamp;
use crate::ws::protocol::Opcode;
use crate::ws::protocol::WsDirection;
use crate::ws::record::{FlowRecord, FrameRecord, MessageRecord};
use regex::Regex;
use std::str::FromStr;

/// Orders timestamps by instant (ignoring the printed precision).
fn instant(t: &Timestamp) -> (i64, u32) {
    (t.secs, t.nanos)
}

/// Selection criteria; `None`/empty means "any".
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Connection index.
    pub flow: Option<u64>,
    /// HTTP/2 stream of a WebSocket over HTTP/2 (records of other WebSockets never
    /// match; TCP records ignore it).
    pub h2_stream: Option<u32>,
    /// Client address.
    pub client: Option<AddrMatch>,
    /// Server address.
    pub server: Option<AddrMatch>,
    /// `client_to_server` or `server_to_client`.
    pub direction: Option<WsDirection>,
    /// Opcode names (`text`, `binary`, `close`, `ping`, `pong`, `continuation`,
    /// `reserved:N`); `reserved` matches every reserved opcode.
    pub opcodes: Vec<OpcodeMatch>,
    /// Regular expression a text payload must match (non-text messages never match).
    pub grep: Option<Regex>,
    /// Earliest timestamp (inclusive).
    pub since: Option<Timestamp>,
    /// Latest timestamp (inclusive).
    pub until: Option<Timestamp>,
    /// Most records to let through.
    pub limit: Option<u64>,
}

/// One opcode criterion: an opcode, or any reserved one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpcodeMatch {
    /// This opcode.
    Is(Opcode),
    /// Any reserved opcode (`reserved`).
    Reserved,
}

impl OpcodeMatch {
    /// The criterion for a name of [`OPCODES`] (or `reserved:N`).
    pub fn parse(name: &str) -> Option<OpcodeMatch> {
        if name == "reserved" {
            Some(OpcodeMatch::Reserved)
        } else {
            Opcode::from_name(name).map(OpcodeMatch::Is)
        }
    }

    fn matches(self, op: Opcode) -> bool {
        match self {
            OpcodeMatch::Is(o) => o == op,
            OpcodeMatch::Reserved => matches!(op, Opcode::Reserved(_)),
        }
    }
}

/// Parses a name of [`OPCODES`] (see [`OpcodeMatch::parse`]).
impl FromStr for OpcodeMatch {
    type Err = crate::ws::protocol::UnknownName;
    fn from_str(s: &str) -> Result<OpcodeMatch, Self::Err> {
        OpcodeMatch::parse(s).ok_or(crate::ws::protocol::UnknownName)
    }
}

/// The opcode names `--opcode` accepts.
pub const OPCODES: &[&str] = &[
    "text",
    "binary",
    "close",
    "ping",
    "pong",
    "continuation",
    "reserved",
];

impl Filter {
    /// True when no criterion concerns message contents (direction, opcode, grep).
    pub fn is_connection_level(&self) -> bool {
        self.direction.is_none() && self.opcodes.is_empty() && self.grep.is_none()
    }

    fn endpoints(&self, flow: u64, h2: Option<u32>, client: &Endpoint, server: &Endpoint) -> bool {
        self.h2_stream.is_none_or(|s| Some(s) == h2) && self.connection(flow, client, server)
    }

    fn connection(&self, flow: u64, client: &Endpoint, server: &Endpoint) -> bool {
        self.flow.is_none_or(|f| f == flow)
            && self.client.as_ref().is_none_or(|c| c.matches(client))
            && self.server.as_ref().is_none_or(|s| s.matches(server))
    }

    fn at(&self, t: &Timestamp) -> bool {
        self.since.is_none_or(|s| instant(t) >= instant(&s))
            && self.until.is_none_or(|u| instant(t) <= instant(&u))
    }

    /// True when the span `first..=last` overlaps the time window.
    fn overlaps(&self, first: &Timestamp, last: &Timestamp) -> bool {
        self.since.is_none_or(|s| instant(last) >= instant(&s))
            && self.until.is_none_or(|u| instant(first) <= instant(&u))
    }

    fn opcode(&self, op: Opcode) -> bool {
        self.opcodes.is_empty() || self.opcodes.iter().any(|o| o.matches(op))
    }

    /// True when the message passes every criterion but the limit.
    pub fn message(&self, m: &MessageRecord) -> bool {
        self.endpoints(m.flow, m.h2_stream_id, &m.client, &m.server)
            && self.direction.is_none_or(|d| d == m.direction)
            && self.opcode(m.opcode)
            && self.at(&m.timestamp)
            && self
                .grep
                .as_ref()
                .is_none_or(|re| m.text.as_deref().is_some_and(|t| re.is_match(t)))
    }

    /// True when a frame passes the criteria that can be judged on the frame alone
    /// (everything but opcode and grep, which its message decides).
    pub fn frame(&self, f: &FrameRecord) -> bool {
        self.endpoints(f.flow, f.h2_stream_id, &f.client, &f.server)
            && self.direction.is_none_or(|d| d == f.direction)
            && self.at(&f.timestamp)
    }

    /// True when the WebSocket connection passes the connection-level criteria (flow,
    /// client, server, and a lifetime overlapping the time window).
    pub fn flow(&self, f: &FlowRecord) -> bool {
        self.endpoints(f.flow, f.h2_stream_id, &f.client, &f.server)
            && self.overlaps(&f.first_seen, &f.last_seen)
    }

    /// As [`Filter::flow`], for TCP connections.
    pub fn tcp(&self, s: &FlowSummary) -> bool {
        self.connection(s.flow, &s.client, &s.server) && self.overlaps(&s.first_seen, &s.last_seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::time::parse_rfc3339;

    /// A message record of file `f` between 10.0.0.1:5000 and [2001:db8::1]:443 (shared
    /// with the selector's tests).
    pub(super) fn msg(
        flow: u64,
        dir: &str,
        opcode: &str,
        text: Option<&str>,
        ts: &str,
    ) -> MessageRecord {
        MessageRecord {
            file: "f".into(),
            flow,
            client: "10.0.0.1:5000".parse().unwrap(),
            server: "[2001:db8::1]:443".parse().unwrap(),
            direction: dir.parse().unwrap(),
            opcode: opcode.parse().unwrap(),
            timestamp: ts.parse().unwrap(),
            text: text.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn message_criteria() {
        let m = msg(
            3,
            "client_to_server",
            "text",
            Some("hello"),
            "2024-01-18T13:15:36Z",
        );
        let mut f = Filter::default();
        assert!(f.message(&m));
        f.flow = Some(3);
        f.client = Some("10.0.0.1".parse().unwrap());
        f.server = Some("[2001:db8::1]:443".parse().unwrap());
        f.direction = Some("client_to_server".parse().unwrap());
        f.opcodes = vec!["binary".parse().unwrap(), "text".parse().unwrap()];
        f.grep = Some(Regex::new("^hel").unwrap());
        f.since = parse_rfc3339("2024-01-18T13:15:36Z");
        f.until = parse_rfc3339("2024-01-18T13:15:36Z");
        assert!(f.message(&m));
        for broken in [
            Filter {
                flow: Some(4),
                ..f.clone()
            },
            Filter {
                direction: Some("server_to_client".parse().unwrap()),
                ..f.clone()
            },
            Filter {
                opcodes: vec!["ping".parse().unwrap()],
                ..f.clone()
            },
            Filter {
                grep: Some(Regex::new("bye").unwrap()),
                ..f.clone()
            },
            Filter {
                since: parse_rfc3339("2024-01-18T13:15:36.000001Z"),
                ..f.clone()
            },
            Filter {
                server: Some("[2001:db8::1]:80".parse().unwrap()),
                ..f.clone()
            },
            Filter {
                h2_stream: Some(1),
                ..f.clone()
            },
        ] {
            assert!(!broken.message(&m), "{broken:?}");
        }
        let on_stream = MessageRecord {
            h2_stream_id: Some(1),
            ..m.clone()
        };
        assert!(Filter {
            h2_stream: Some(1),
            ..f.clone()
        }
        .message(&on_stream));
        let bin = msg(
            3,
            "client_to_server",
            "binary",
            None,
            "2024-01-18T13:15:36Z",
        );
        assert!(!Filter {
            grep: Some(Regex::new("").unwrap()),
            ..Default::default()
        }
        .message(&bin));
        let res = msg(
            0,
            "client_to_server",
            "reserved:3",
            None,
            "2024-01-18T13:15:36Z",
        );
        assert!(Filter {
            opcodes: vec!["reserved".parse().unwrap()],
            ..Default::default()
        }
        .message(&res));
    }
}
