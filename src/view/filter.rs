//! Record filters shared by every view: flow, client/server address, direction, opcode,
//! a regular expression on text payloads, a time window and a record limit.
//!
//! [`Filter`] holds the criteria and tests single records; [`Selector`] applies a filter
//! to the record stream of a dissector, making frame records follow the decision taken on
//! the message they belong to, and counts what it let through for `--limit`.

use crate::tcp::stream::Direction;
use crate::tcp::FlowSummary;
use crate::util::time::Timestamp;
use crate::ws::protocol::Opcode;
use crate::ws::record::{FlowRecord, FrameRecord, MessageRecord, Record};
use regex::Regex;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// An address to match: an IP, optionally with a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrMatch {
    /// The IP address.
    pub ip: IpAddr,
    /// The port, when given.
    pub port: Option<u16>,
}

impl FromStr for AddrMatch {
    type Err = String;

    /// Parses `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]` or `[::1]:80`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(AddrMatch {
                ip: sa.ip(),
                port: Some(sa.port()),
            });
        }
        let bare = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(s);
        bare.parse::<IpAddr>()
            .map(|ip| AddrMatch { ip, port: None })
            .map_err(|_| format!("{s:?} is not an address (ADDR, ADDR:PORT, [V6ADDR]:PORT)"))
    }
}

impl fmt::Display for AddrMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}", SocketAddr::new(self.ip, p)),
            None => write!(f, "{}", self.ip),
        }
    }
}

impl AddrMatch {
    /// True when `addr` (as records print it, `IP:PORT` or `[V6]:PORT`) matches.
    pub fn matches(&self, addr: &str) -> bool {
        match addr.parse::<SocketAddr>() {
            Ok(sa) => sa.ip() == self.ip && self.port.map_or(true, |p| p == sa.port()),
            Err(_) => false,
        }
    }
}

/// Orders timestamps by instant (ignoring the printed precision).
fn instant(t: &Timestamp) -> (i64, u32) {
    (t.secs, t.nanos)
}

/// Selection criteria; `None`/empty means "any".
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Connection index.
    pub flow: Option<u64>,
    /// Client address.
    pub client: Option<AddrMatch>,
    /// Server address.
    pub server: Option<AddrMatch>,
    /// `client_to_server` or `server_to_client`.
    pub direction: Option<Direction>,
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
    type Err = crate::tcp::stream::UnknownName;
    fn from_str(s: &str) -> Result<OpcodeMatch, Self::Err> {
        OpcodeMatch::parse(s).ok_or(crate::tcp::stream::UnknownName)
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

    fn endpoints(&self, flow: u64, client: &str, server: &str) -> bool {
        self.flow.map_or(true, |f| f == flow)
            && self.client.as_ref().map_or(true, |c| c.matches(client))
            && self.server.as_ref().map_or(true, |s| s.matches(server))
    }

    fn at(&self, t: &Timestamp) -> bool {
        self.since.map_or(true, |s| instant(t) >= instant(&s))
            && self.until.map_or(true, |u| instant(t) <= instant(&u))
    }

    /// True when the span `first..=last` overlaps the time window.
    fn overlaps(&self, first: &Timestamp, last: &Timestamp) -> bool {
        self.since.map_or(true, |s| instant(last) >= instant(&s))
            && self.until.map_or(true, |u| instant(first) <= instant(&u))
    }

    fn opcode(&self, op: Opcode) -> bool {
        self.opcodes.is_empty() || self.opcodes.iter().any(|o| o.matches(op))
    }

    /// True when the message passes every criterion but the limit.
    pub fn message(&self, m: &MessageRecord) -> bool {
        self.endpoints(m.flow, &m.client, &m.server)
            && self.direction.map_or(true, |d| d == m.direction)
            && self.opcode(m.opcode)
            && self.at(&m.timestamp)
            && self
                .grep
                .as_ref()
                .map_or(true, |re| m.text.as_deref().is_some_and(|t| re.is_match(t)))
    }

    /// True when a frame passes the criteria that can be judged on the frame alone
    /// (everything but opcode and grep, which its message decides).
    pub fn frame(&self, f: &FrameRecord) -> bool {
        self.endpoints(f.flow, &f.client, &f.server)
            && self.direction.map_or(true, |d| d == f.direction)
            && self.at(&f.timestamp)
    }

    /// True when the WebSocket connection passes the connection-level criteria (flow,
    /// client, server, and a lifetime overlapping the time window).
    pub fn flow(&self, f: &FlowRecord) -> bool {
        self.endpoints(f.flow, &f.client, &f.server) && self.overlaps(&f.first_seen, &f.last_seen)
    }

    /// As [`Filter::flow`], for TCP connections.
    pub fn tcp(&self, s: &FlowSummary) -> bool {
        self.endpoints(s.flow, &s.client, &s.server) && self.overlaps(&s.first_seen, &s.last_seen)
    }
}

/// Applies a [`Filter`] to a record stream, keeping its order.
///
/// Frame records come before the message they belong to, and a data message's frames may
/// be interleaved with control messages. When the filter judges message contents (opcode,
/// grep) or counts (limit), the selector queues records from the first undecided frame on
/// and lets each frame through only if its message passes; a frame whose message never
/// comes (the connection ended first) is judged alone when its connection's flow record
/// arrives or at [`Selector::finish`]. `--limit` counts messages and flow records.
#[derive(Debug, Default)]
pub struct Selector {
    filter: Filter,
    passed: u64,
    /// Records held, with their decision once known.
    queue: VecDeque<(Record, Option<bool>)>,
    /// Sequence number of `queue[0]`.
    head: u64,
    /// Undecided frames (sequence numbers) per connection, direction and data/control.
    open: HashMap<FrameKey, Vec<u64>>,
    /// Flow records only release waiting frames and are not output: `--limit` ignores them.
    flows_hidden: bool,
}

type FrameKey = (String, u64, Direction, bool);

impl Selector {
    /// A selector applying `filter`.
    pub fn new(filter: Filter) -> Self {
        Selector {
            filter,
            ..Default::default()
        }
    }

    /// For views that drop flow records after selection (the messages view uses them
    /// only to release frames): they no longer count against `--limit`.
    pub fn hide_flows(mut self) -> Self {
        self.flows_hidden = true;
        self
    }

    /// The filter applied.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// True once `--limit` records went through.
    pub fn full(&self) -> bool {
        self.filter.limit.is_some_and(|l| self.passed >= l)
    }

    fn take(&mut self) -> bool {
        if self.full() {
            return false;
        }
        self.passed += 1;
        true
    }

    /// True when frames can be judged on their own, as they come.
    fn streaming(&self) -> bool {
        self.filter.opcodes.is_empty() && self.filter.grep.is_none() && self.filter.limit.is_none()
    }

    /// Feeds one record; `emit` receives those selected, in their original order.
    pub fn push<E>(
        &mut self,
        r: Record,
        mut emit: impl FnMut(Record) -> Result<(), E>,
    ) -> Result<(), E> {
        let decision = match &r {
            Record::Frame(f) => {
                if self.streaming() {
                    Some(self.filter.frame(f))
                } else if !self.filter.frame(f) || self.full() {
                    Some(false)
                } else {
                    let key = (f.file.clone(), f.flow, f.direction, f.opcode.is_control());
                    let seq = self.head + self.queue.len() as u64;
                    self.open.entry(key).or_default().push(seq);
                    None
                }
            }
            Record::Message(m) => {
                let pass = self.filter.message(m) && self.take();
                let key = (m.file.clone(), m.flow, m.direction, m.opcode.is_control());
                for seq in self.open.remove(&key).unwrap_or_default() {
                    self.decide(seq, pass);
                }
                Some(pass)
            }
            Record::Flow(f) => {
                let ended: Vec<FrameKey> = self
                    .open
                    .keys()
                    .filter(|k| k.0 == f.file && k.1 == f.flow)
                    .cloned()
                    .collect();
                let alone = self.filter.is_connection_level() && !self.full();
                for k in ended {
                    for seq in self.open.remove(&k).unwrap_or_default() {
                        self.decide(seq, alone);
                    }
                }
                Some(self.filter.flow(f) && (self.flows_hidden || self.take()))
            }
        };
        if decision == Some(false) && self.queue.is_empty() {
            return Ok(());
        }
        self.queue.push_back((r, decision));
        self.release(&mut emit)
    }

    fn decide(&mut self, seq: u64, pass: bool) {
        if let Some(e) = self.queue.get_mut((seq - self.head) as usize) {
            e.1 = Some(pass);
        }
    }

    fn release<E>(&mut self, emit: &mut impl FnMut(Record) -> Result<(), E>) -> Result<(), E> {
        while let Some((_, Some(_))) = self.queue.front() {
            if let Some((r, pass)) = self.queue.pop_front() {
                self.head += 1;
                if pass == Some(true) {
                    emit(r)?;
                }
            }
        }
        Ok(())
    }

    /// Judges the frames still waiting for a message (alone) and emits what is left.
    pub fn finish<E>(&mut self, mut emit: impl FnMut(Record) -> Result<(), E>) -> Result<(), E> {
        let alone = self.filter.is_connection_level() && !self.full();
        let open: Vec<u64> = self.open.drain().flat_map(|(_, v)| v).collect();
        for seq in open {
            self.decide(seq, alone);
        }
        self.release(&mut emit)
    }

    /// True when a TCP connection summary is selected (counting it for the limit).
    pub fn tcp(&mut self, s: &FlowSummary) -> bool {
        self.filter.tcp(s) && self.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::time::parse_rfc3339;

    fn msg(flow: u64, dir: &str, opcode: &str, text: Option<&str>, ts: &str) -> MessageRecord {
        MessageRecord {
            file: "f".into(),
            flow,
            client: "10.0.0.1:5000".into(),
            server: "[2001:db8::1]:443".into(),
            direction: dir.parse().unwrap(),
            opcode: opcode.parse().unwrap(),
            timestamp: ts.parse().unwrap(),
            text: text.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn addresses_parse_in_every_form() {
        let a: AddrMatch = "10.0.0.1:5000".parse().unwrap();
        assert_eq!(a.port, Some(5000));
        let b: AddrMatch = "[2001:db8::1]:443".parse().unwrap();
        assert_eq!(b.port, Some(443));
        let c: AddrMatch = "2001:db8::1".parse().unwrap();
        assert_eq!(c.port, None);
        let d: AddrMatch = "[2001:db8::1]".parse().unwrap();
        assert_eq!(d, c);
        assert!("nonsense".parse::<AddrMatch>().is_err());
        assert!(a.matches("10.0.0.1:5000"));
        assert!(!a.matches("10.0.0.1:5001"));
        assert!(c.matches("[2001:db8::1]:443"));
        assert!(b.matches("[2001:db8::1]:443"));
        assert!(!b.matches("[2001:db8::1]:80"));
    }

    #[test]
    fn rfc3339_round_trips() {
        let t = Timestamp {
            secs: 1_705_583_736,
            nanos: 767_261_000,
            digits: 6,
        };
        assert_eq!(parse_rfc3339(&t.to_rfc3339()), Some(t));
        let z = parse_rfc3339("2024-01-18T14:15:36.767261+01:00").unwrap();
        assert_eq!((z.secs, z.nanos), (t.secs, t.nanos));
        assert_eq!(parse_rfc3339("1970-01-01").unwrap().secs, 0);
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z").unwrap().secs, -1);
        assert!(parse_rfc3339("2024-13-01T00:00:00Z").is_none());
        assert!(parse_rfc3339("yesterday").is_none());
        assert!(parse_rfc3339("2024-01-01T00:00:00").is_none());
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
        ] {
            assert!(!broken.message(&m), "{broken:?}");
        }
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

    fn kinds(out: &[Record]) -> Vec<String> {
        out.iter()
            .map(|r| match r {
                Record::Frame(f) => format!("frame {}", f.opcode),
                Record::Message(m) => format!("message {}", m.opcode),
                Record::Flow(_) => "flow".into(),
            })
            .collect()
    }

    fn frame(op: &str) -> Record {
        Record::Frame(FrameRecord {
            file: "f".into(),
            flow: 0,
            client: "10.0.0.1:5000".into(),
            server: "10.0.0.2:80".into(),
            direction: "client_to_server".parse().unwrap(),
            opcode: op.parse().unwrap(),
            timestamp: "2024-01-18T13:15:36Z".parse().unwrap(),
            ..Default::default()
        })
    }

    fn message(op: &str) -> Record {
        let mut r = msg(0, "client_to_server", op, Some("x"), "2024-01-18T13:15:36Z");
        r.server = "10.0.0.2:80".into();
        Record::Message(r)
    }

    #[test]
    fn interleaved_frames_keep_their_order() {
        let input = || {
            [
                frame("text"),
                frame("ping"),
                message("ping"),
                frame("continuation"),
                message("text"),
                frame("binary"),
            ]
        };
        let all = [
            "frame text",
            "frame ping",
            "message ping",
            "frame continuation",
            "message text",
            "frame binary",
        ];
        for filter in [
            Filter::default(),
            Filter {
                opcodes: vec!["text".parse().unwrap(), "ping".parse().unwrap()],
                ..Default::default()
            },
        ] {
            let queued = !filter.opcodes.is_empty();
            let mut s = Selector::new(filter);
            let mut out = Vec::new();
            let mut emit = |r: Record| -> Result<(), ()> {
                out.push(r);
                Ok(())
            };
            for r in input() {
                s.push(r, &mut emit).unwrap();
            }
            s.finish(&mut emit).unwrap();
            let want = if queued { &all[..5] } else { &all[..] };
            assert_eq!(kinds(&out), want, "queued: {queued}");
        }
        // A frame whose message never came is judged alone when its connection ends.
        let mut s = Selector::new(Filter {
            limit: Some(5),
            ..Default::default()
        });
        let mut out = Vec::new();
        let mut emit = |r: Record| -> Result<(), ()> {
            out.push(r);
            Ok(())
        };
        s.push(frame("text"), &mut emit).unwrap();
        s.push(message("ping"), &mut emit).unwrap();
        s.push(
            Record::Flow(FlowRecord {
                file: "f".into(),
                flow: 0,
                ..Default::default()
            }),
            &mut emit,
        )
        .unwrap();
        assert_eq!(kinds(&out), ["frame text", "message ping", "flow"]);
    }

    #[test]
    fn frames_follow_their_message_and_limit_counts_messages() {
        let frame = |op: &str| {
            Record::Frame(FrameRecord {
                file: "f".into(),
                flow: 0,
                client: "10.0.0.1:5000".into(),
                server: "10.0.0.2:80".into(),
                direction: "client_to_server".parse().unwrap(),
                opcode: op.parse().unwrap(),
                timestamp: "2024-01-18T13:15:36Z".parse().unwrap(),
                ..Default::default()
            })
        };
        let m = |text: &str| {
            let mut r = msg(
                0,
                "client_to_server",
                "text",
                Some(text),
                "2024-01-18T13:15:36Z",
            );
            r.server = "10.0.0.2:80".into();
            Record::Message(r)
        };
        let mut s = Selector::new(Filter {
            grep: Some(Regex::new("yes").unwrap()),
            limit: Some(1),
            ..Default::default()
        });
        let mut out = Vec::new();
        let mut emit = |r: Record| -> Result<(), ()> {
            out.push(r);
            Ok(())
        };
        for r in [
            frame("text"),
            frame("continuation"),
            m("no"),
            frame("text"),
            frame("ping"),
            frame("continuation"),
            Record::Message(msg(
                0,
                "client_to_server",
                "ping",
                None,
                "2024-01-18T13:15:36Z",
            )),
            m("yes"),
            frame("text"),
            m("yes again"),
        ] {
            s.push(r, &mut emit).unwrap();
        }
        s.finish(&mut emit).unwrap();
        assert_eq!(
            kinds(&out),
            ["frame text", "frame continuation", "message text"],
            "the ping frame stays with the ping message, the last message is over the limit"
        );
        assert!(s.full());
    }
}
