//! The stream stack with stand-in layers: a transformer (XOR "decryption") and a
//! demultiplexer (a one-byte stream tag) under the real WebSocket decoder, which decodes
//! what they hand up without knowing they were there.

use super::*;
use crate::http::accept_for_key;
use crate::tcp::stream::{Carries, CloseKind, Direction, FlowInfo, Provenance};
use crate::util::community_id::CommunityId;
use crate::ws::record::{FlowState, Record};
use crate::ws::{Dissector, Options};
use std::collections::BTreeSet;

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn flow(port: u16) -> FlowInfo {
    let client = "10.0.0.1:40000".parse().expect("addr");
    let server = format!("10.0.0.2:{port}").parse().expect("addr");
    FlowInfo {
        id: 3,
        client,
        server,
        community_id: CommunityId::tcp(client, server),
        encapsulation: Default::default(),
        roles_known: true,
        sub: None,
        carries: Carries::Unknown,
        tls: None,
        h2: None,
        packets: [0; 2],
    }
}

fn at(packet: u64) -> Provenance {
    Provenance::of(packet, Default::default())
}

fn request() -> Vec<u8> {
    format!(
        "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

fn answer() -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_for_key(KEY)
    )
    .into_bytes()
}

/// A final text frame, masked when the client sends it.
fn text(s: &str, masked: bool) -> Vec<u8> {
    let mask = [1, 2, 3, 4];
    let mut f = vec![0x81, s.len() as u8 | if masked { 0x80 } else { 0 }];
    if masked {
        f.extend(mask);
    }
    f.extend(
        s.bytes()
            .enumerate()
            .map(|(i, b)| if masked { b ^ mask[i % 4] } else { b }),
    );
    f
}

fn options() -> Options {
    Options {
        flows: true,
        ..Options::default()
    }
}

/// Texts and packets of the message records, and the flow records' states.
fn decoded(d: &mut Dissector) -> (Vec<(String, [u64; 2])>, Vec<FlowState>) {
    let mut texts = Vec::new();
    let mut states = Vec::new();
    for r in d.drain_records() {
        match r {
            Record::Message(m) => texts.push((m.text.unwrap_or_default(), m.packets)),
            Record::Flow(f) => states.push(f.state),
            Record::Frame(_) => {}
        }
    }
    (texts, states)
}

/// A transformer standing in for TLS: the stream is records of a length byte and that
/// many bytes XOR 0x5a; each record's plaintext goes up as one chunk once complete,
/// naming the packet of its first byte and the one that completed it.
struct Records<S> {
    inner: S,
    /// Per direction: bytes of the record in progress, and the packet of its first byte.
    held: [(Vec<u8>, u64); 2],
}

impl<S: StreamSink> StreamSink for Records<S> {
    fn open(&mut self, flow: &FlowInfo) {
        self.inner.open(flow)
    }
    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], at: Provenance) {
        let (buf, first) = &mut self.held[dir.index()];
        if buf.is_empty() {
            *first = at.packet;
        }
        buf.extend_from_slice(bytes);
        while let Some(&n) = buf.first() {
            let Some(record) = buf.get(1..1 + usize::from(n)) else {
                break;
            };
            let plain: Vec<u8> = record.iter().map(|b| b ^ 0x5a).collect();
            let from = Provenance {
                first: *first,
                ..at
            };
            buf.drain(..1 + usize::from(n));
            *first = at.packet;
            self.inner.data(flow, dir, &plain, from);
        }
    }
    fn gap(&mut self, flow: &FlowInfo, dir: Direction, len: u64, at: Provenance) {
        self.inner.gap(flow, dir, len, at)
    }
    fn close(&mut self, flow: &FlowInfo, dir: Direction, kind: CloseKind, at: Provenance) {
        self.inner.close(flow, dir, kind, at)
    }
    fn end(&mut self, flow: &FlowInfo) {
        self.inner.end(flow)
    }
}

impl<S: StreamSink> Layer for Records<S> {
    type Inner = S;
    fn inner(&self) -> &S {
        &self.inner
    }
    fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

/// A demultiplexer: the first byte of each chunk names the stream the rest belongs to.
struct Tagged<S> {
    inner: S,
    open: BTreeSet<u32>,
}

impl<S: StreamSink> StreamSink for Tagged<S> {
    fn open(&mut self, _flow: &FlowInfo) {}
    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], at: Provenance) {
        let Some((&tag, rest)) = bytes.split_first() else {
            return;
        };
        let sub = FlowInfo {
            sub: Some(u32::from(tag)),
            ..flow.clone()
        };
        if self.open.insert(u32::from(tag)) {
            self.inner.open(&sub);
        }
        self.inner.data(&sub, dir, rest, at)
    }
    fn gap(&mut self, _: &FlowInfo, _: Direction, _: u64, _: Provenance) {}
    fn close(&mut self, flow: &FlowInfo, dir: Direction, kind: CloseKind, at: Provenance) {
        for &s in &self.open {
            let sub = FlowInfo {
                sub: Some(s),
                ..flow.clone()
            };
            self.inner.close(&sub, dir, kind, at);
        }
    }
    fn end(&mut self, flow: &FlowInfo) {
        for s in std::mem::take(&mut self.open) {
            self.inner.end(&FlowInfo {
                sub: Some(s),
                ..flow.clone()
            });
        }
    }
}

#[test]
fn a_transformer_hands_up_plaintext_with_its_packets() {
    let f = flow(443);
    let mut stack = Records {
        inner: Dissector::new("x".into(), options()),
        held: Default::default(),
    };
    let seal = |b: Vec<u8>| -> Vec<u8> {
        let mut r = vec![b.len() as u8];
        r.extend(b.iter().map(|x| x ^ 0x5a));
        r
    };
    stack.open(&f);
    stack.data(&f, C2S, &seal(request()), at(1));
    stack.data(&f, S2C, &seal(answer()), at(2));
    // One record across three packets: the message names the first and the last.
    let hello = seal(text("hello", true));
    stack.data(&f, C2S, &hello[..4], at(3));
    stack.data(&f, C2S, &hello[4..6], at(4));
    stack.data(&f, C2S, &hello[6..], at(5));
    // Two records in one packet.
    let two = [seal(text("a", false)), seal(text("b", false))].concat();
    stack.data(&f, S2C, &two, at(6));
    stack.end(&f);
    let (texts, states) = decoded(stack.inner_mut());
    assert_eq!(
        texts,
        vec![
            ("hello".to_string(), [3, 5]),
            ("a".to_string(), [6, 6]),
            ("b".to_string(), [6, 6])
        ]
    );
    assert_eq!(states, vec![FlowState::Upgraded]);
}

#[test]
fn a_demultiplexer_hands_up_streams_decoded_apart() {
    let f = flow(80);
    let mut stack = Tagged {
        inner: Dissector::new("x".into(), options()),
        open: BTreeSet::new(),
    };
    let tag = |t: u8, b: Vec<u8>| [vec![t], b].concat();
    stack.open(&f);
    stack.data(&f, C2S, &tag(1, request()), at(1));
    stack.data(&f, C2S, &tag(2, request()), at(2));
    stack.data(&f, S2C, &tag(2, answer()), at(3));
    stack.data(&f, S2C, &tag(1, answer()), at(4));
    // Halves of a frame on one stream around a whole frame on the other.
    let one = text("one", true);
    stack.data(&f, C2S, &tag(1, one[..3].to_vec()), at(5));
    stack.data(&f, C2S, &tag(2, text("two", true)), at(6));
    stack.data(&f, C2S, &tag(1, one[3..].to_vec()), at(7));
    stack.close(&f, C2S, CloseKind::Fin, at(8));
    stack.end(&f);
    let (texts, states) = decoded(&mut stack.inner);
    assert_eq!(
        texts,
        vec![("two".to_string(), [6, 6]), ("one".to_string(), [5, 7])]
    );
    assert_eq!(states, vec![FlowState::Upgraded; 2]);
}

#[test]
fn decode_as_marks_its_ports_and_passes_the_rest() {
    // Without the mark, a lone frame is still found, by the frame search (midstream).
    for (port, state) in [(9000, FlowState::Forced), (9001, FlowState::Midstream)] {
        let f = flow(port);
        let mut stack = DecodeAs::new(vec![9000], Dissector::new("x".into(), options()));
        stack.open(&f);
        stack.data(&f, C2S, &text("raw", true), at(1));
        stack.end(&f);
        let (texts, states) = decoded(stack.inner_mut());
        assert_eq!(texts, vec![("raw".to_string(), [1, 1])]);
        assert_eq!(states, vec![state], "port {port}");
    }
}
