//! Applying a [`Filter`] to a dissector's record stream, in order.
//!
//! This is a type of its own, apart from [`Filter`], because a frame cannot always be
//! judged alone: it comes before its message, which decides `--opcode` and `--grep`, and
//! `--limit` counts what was let through, which is state. Records are held only while some
//! frame waits for its message, and released in their original order as decisions come
//! in (see [`Selector`]); without such criteria nothing is held.

use super::Filter;
use crate::tcp::FlowSummary;
use crate::ws::protocol::WsDirection;
use crate::ws::record::Record;
use std::collections::{HashMap, VecDeque};

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

/// A waiting frame's message: file, connection (and HTTP/2 stream), direction, and control
/// (or data).
type FrameKey = (u32, (u64, Option<u32>), WsDirection, bool);

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
                    let key = (
                        f.capture,
                        (f.flow, f.h2_stream_id),
                        f.direction,
                        f.opcode.is_control(),
                    );
                    let seq = self.head + self.queue.len() as u64;
                    self.open.entry(key).or_default().push(seq);
                    None
                }
            }
            Record::Message(m) => {
                let pass = self.filter.message(m) && self.take();
                let key = (
                    m.capture,
                    (m.flow, m.h2_stream_id),
                    m.direction,
                    m.opcode.is_control(),
                );
                for seq in self.open.remove(&key).unwrap_or_default() {
                    self.decide(seq, pass);
                }
                Some(pass)
            }
            Record::Flow(f) => {
                let ended: Vec<FrameKey> = self
                    .open
                    .keys()
                    .filter(|k| k.0 == f.capture && k.1 == (f.flow, f.h2_stream_id))
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
    use crate::view::filter::tests::msg;
    use crate::ws::record::{FlowRecord, FrameRecord};
    use regex::Regex;

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
            client: "10.0.0.1:5000".parse().unwrap(),
            server: "10.0.0.2:80".parse().unwrap(),
            direction: "client_to_server".parse().unwrap(),
            opcode: op.parse().unwrap(),
            timestamp: "2024-01-18T13:15:36Z".parse().unwrap(),
            ..Default::default()
        })
    }

    fn message(op: &str) -> Record {
        let mut r = msg(0, "client_to_server", op, Some("x"), "2024-01-18T13:15:36Z");
        r.server = "10.0.0.2:80".parse().unwrap();
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
                client: "10.0.0.1:5000".parse().unwrap(),
                server: "10.0.0.2:80".parse().unwrap(),
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
            r.server = "10.0.0.2:80".parse().unwrap();
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
