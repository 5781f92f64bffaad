//! `Dissector` driven through `StreamSink` with synthetic streams: the helpers that build
//! handshakes and frames and run events through a dissector here, one file per subject
//! beside them.

mod deflate;
mod exchanges;
mod gaps;
mod garbage;
mod guesses;
mod handshake;
mod limits;
mod midstream;
mod violations;

use super::deflate::tests::Deflater;
use super::*;
use crate::tcp::stream::Carries;
use crate::util::community_id::CommunityId;
use crate::util::time::Timestamp;
use crate::ws::problem::Problem;
use crate::ws::protocol::{Opcode, WsDirection};
use crate::ws::record::{FlowRecord, FrameRecord, MessageRecord};
use base64::Engine as _;

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;
const KEY: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

fn flow_info(roles_known: bool) -> FlowInfo {
    let client = "10.0.0.1:50000".parse().expect("addr");
    let server = "10.0.0.2:8080".parse().expect("addr");
    FlowInfo {
        id: 7,
        client,
        server,
        community_id: CommunityId::tcp(client, server),
        encapsulation: Default::default(),
        roles_known,
        sub: None,
        carries: Default::default(),
        tls: None,
        h2: None,
        packets: [0; 2],
    }
}

/// A frame with minimal length encoding.
fn frame(fin: bool, rsv1: bool, op: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | (u8::from(rsv1) << 6) | op];
    let m = if mask.is_some() { 0x80 } else { 0 };
    let n = payload.len();
    if n < 126 {
        f.push(m | n as u8);
    } else if n <= 0xffff {
        f.push(m | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(m | 127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    match mask {
        Some(k) => {
            f.extend_from_slice(&k);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

fn cf(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, false, op, Some(KEY), payload)
}

fn sf(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, false, op, None, payload)
}

fn request(ext: Option<&str>) -> Vec<u8> {
    let mut r = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n"
        .to_string();
    if let Some(e) = ext {
        r.push_str(&format!("Sec-WebSocket-Extensions: {e}\r\n"));
    }
    r.push_str("\r\n");
    r.into_bytes()
}

fn response(ext: Option<&str>) -> Vec<u8> {
    let mut r = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n"
        .to_string();
    if let Some(e) = ext {
        r.push_str(&format!("Sec-WebSocket-Extensions: {e}\r\n"));
    }
    r.push_str("\r\n");
    r.into_bytes()
}

#[derive(Clone, Debug)]
enum Ev {
    Data(Direction, Vec<u8>),
    Gap(Direction, u64),
    Close(Direction),
}

struct Run {
    messages: Vec<MessageRecord>,
    frames: Vec<FrameRecord>,
    flows: Vec<FlowRecord>,
    warnings: Vec<Warning>,
    problems: u64,
}

fn run_with(opts: Options, roles_known: bool, events: &[Ev]) -> Run {
    run_on(flow_info(roles_known), opts, events)
}

/// Runs `events` on a connection described by `flow`.
fn run_on(flow: FlowInfo, opts: Options, events: &[Ev]) -> Run {
    let mut d = Dissector::new("test.pcap".into(), opts);
    d.open(&flow);
    let mut records = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let at = Provenance {
            packet: i as u64 + 1,
            first: i as u64 + 1,
            ts: Timestamp {
                secs: 1_700_000_000 + i as i64,
                nanos: 0,
                digits: 6,
            },
        };
        match ev {
            Ev::Data(dir, b) => d.data(&flow, *dir, b, at),
            Ev::Gap(dir, n) => d.gap(&flow, *dir, *n, at),
            Ev::Close(dir) => d.close(&flow, *dir, CloseKind::Fin, at),
        }
        records.extend(d.drain_records());
    }
    d.end(&flow);
    records.extend(d.drain_records());
    let mut r = Run {
        messages: Vec::new(),
        frames: Vec::new(),
        flows: Vec::new(),
        warnings: d.drain_warnings().collect(),
        problems: d.problems(),
    };
    for rec in records {
        match rec {
            Record::Message(m) => r.messages.push(m),
            Record::Frame(f) => r.frames.push(f),
            Record::Flow(f) => r.flows.push(f),
        }
    }
    r
}

fn all_opts() -> Options {
    Options {
        frames: true,
        flows: true,
        include_payload_in_frames: true,
        ..Options::default()
    }
}

fn run(events: &[Ev]) -> Run {
    run_with(all_opts(), true, events)
}

/// (direction, opcode, text or base64 payload) of each message.
fn summary(r: &Run) -> Vec<(String, String, String)> {
    r.messages
        .iter()
        .map(|m| {
            let p = if m.undecodable {
                "UNDECODABLE".to_string()
            } else {
                m.text
                    .clone()
                    .or(m.data_b64.as_ref().map(|b| b.encode()))
                    .unwrap_or_default()
            };
            (m.direction.to_string(), m.opcode.to_string(), p)
        })
        .collect()
}

fn b64(d: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(d)
}

fn s3(d: &str, o: &str, p: &str) -> (String, String, String) {
    (d.to_string(), o.to_string(), p.to_string())
}

fn client_stream() -> Vec<u8> {
    let mut c = request(None);
    c.extend(cf(true, 1, b"hello"));
    c.extend(cf(
        false,
        1,
        "h\u{e9}".as_bytes().get(..2).unwrap_or_default(),
    ));
    c.extend(cf(true, 9, b"ping!"));
    c.extend(cf(false, 0, &[0xa9, b'l']));
    c.extend(cf(true, 0, b"lo"));
    c.extend(cf(true, 2, &[0, 1, 2, 255]));
    c.extend(cf(true, 8, &[0x03, 0xe8, b'b', b'y', b'e']));
    c
}

fn server_stream() -> Vec<u8> {
    let mut s = response(None);
    s.extend(sf(true, 1, b"welcome"));
    s.extend(sf(true, 10, b"ping!"));
    s.extend(sf(true, 2, &vec![7u8; 300]));
    s.extend(sf(true, 8, &[0x03, 0xe8]));
    s
}

fn expected_basic() -> Vec<(String, String, String)> {
    vec![
        s3("client_to_server", "text", "hello"),
        s3("client_to_server", "ping", &b64(b"ping!")),
        s3("client_to_server", "text", "h\u{e9}llo"),
        s3("client_to_server", "binary", &b64(&[0, 1, 2, 255])),
        s3(
            "client_to_server",
            "close",
            &b64(&[0x03, 0xe8, b'b', b'y', b'e']),
        ),
        s3("server_to_client", "text", "welcome"),
        s3("server_to_client", "pong", &b64(b"ping!")),
        s3("server_to_client", "binary", &b64(&[7u8; 300])),
        s3("server_to_client", "close", &b64(&[0x03, 0xe8])),
    ]
}

fn sorted(mut v: Vec<(String, String, String)>) -> Vec<(String, String, String)> {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}
