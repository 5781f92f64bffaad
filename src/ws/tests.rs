//! `Dissector` driven through `StreamSink` with synthetic streams.

use super::deflate::tests::Deflater;
use super::*;
use crate::tcp::stream::Carries;
use crate::util::time::Timestamp;
use crate::ws::problem::Problem;
use crate::ws::protocol::Opcode;
use crate::ws::record::{FlowRecord, FrameRecord, MessageRecord};
use base64::Engine as _;

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;
const KEY: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

fn flow_info(roles_known: bool) -> FlowInfo {
    FlowInfo {
        id: 7,
        client: "10.0.0.1:50000".parse().expect("addr"),
        server: "10.0.0.2:8080".parse().expect("addr"),
        roles_known,
        sub: None,
        carries: Default::default(),
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

#[test]
fn handshake_and_messages_split_everywhere() {
    let c = client_stream();
    let s = server_stream();
    let req_len = request(None).len();
    for cut in 0..=c.len() {
        let (a, b) = c.split_at(cut);
        let mut evs = vec![Ev::Data(C2S, a.to_vec())];
        if cut >= req_len {
            evs.push(Ev::Data(S2C, s.clone()));
            evs.push(Ev::Data(C2S, b.to_vec()));
        } else {
            evs.push(Ev::Data(C2S, b.to_vec()));
            evs.push(Ev::Data(S2C, s.clone()));
        }
        let r = run(&evs);
        assert_eq!(sorted(summary(&r)), expected_basic(), "client cut at {cut}");
        assert!(
            r.messages.iter().all(|m| m.errors.is_empty()),
            "cut {cut}: {:?}",
            r.messages
        );
        assert_eq!(r.problems, 0, "cut {cut}: {:?}", r.warnings);
    }
    for cut in 0..=s.len() {
        let (a, b) = s.split_at(cut);
        let r = run(&[
            Ev::Data(C2S, c.clone()),
            Ev::Data(S2C, a.to_vec()),
            Ev::Data(S2C, b.to_vec()),
        ]);
        assert_eq!(sorted(summary(&r)), expected_basic(), "server cut at {cut}");
    }
}

#[test]
fn byte_by_byte_and_fields() {
    let mut evs: Vec<Ev> = client_stream()
        .iter()
        .map(|b| Ev::Data(C2S, vec![*b]))
        .collect();
    evs.extend(server_stream().iter().map(|b| Ev::Data(S2C, vec![*b])));
    let r = run(&evs);
    assert_eq!(sorted(summary(&r)), expected_basic());
    let frag = &r.messages[2];
    assert_eq!(frag.frames, 3);
    assert_eq!(frag.length, 6);
    assert_eq!(frag.wire_length, 6);
    let req_len = request(None).len() as u64;
    // first byte of the first fragment's header .. last byte of the final fragment
    let first = req_len + 11 + 1;
    assert_eq!(frag.packets[0], first);
    assert_eq!(frag.packets[1], first + 8 + 11 + 8 + 6 + 2 - 1);
    let ts = Timestamp {
        secs: 1_700_000_000 + frag.packets[1] as i64 - 1,
        nanos: 0,
        digits: 6,
    };
    assert_eq!(frag.timestamp, ts);
    let close = &r.messages[4];
    assert_eq!(close.close_code, Some(1000));
    assert_eq!(close.close_reason.as_deref(), Some("bye"));
    let flow = &r.flows[0];
    assert_eq!(flow.state.as_str(), "upgraded");
    assert_eq!(flow.accept_valid, Some(true));
    assert_eq!(flow.protocol.as_deref(), Some("chat"));
    assert_eq!(flow.offered_protocols, vec!["chat", "superchat"]);
    assert_eq!(flow.path.as_deref(), Some("/chat"));
    assert_eq!(flow.client_to_server.messages, 5);
    assert_eq!(flow.client_to_server.frames, 7);
    assert_eq!(flow.server_to_client.messages, 4);
    assert!(flow.errors.is_empty(), "{:?}", flow.errors);
    assert_eq!(r.frames.len(), 11);
    let f0 = &r.frames[0];
    assert_eq!(f0.mask_key, Some([0x11, 0x22, 0x33, 0x44]));
    assert_eq!(f0.stream_offset, req_len);
    assert_eq!(
        f0.payload_b64.as_ref().map(|p| p.to_string()),
        Some(b64(b"hello"))
    );
}

#[test]
fn one_chunk_and_101_followed_by_frames() {
    let r = run(&[
        Ev::Data(C2S, client_stream()),
        Ev::Data(S2C, server_stream()),
    ]);
    assert_eq!(sorted(summary(&r)), expected_basic());
    assert!(r.messages.iter().all(|m| m.packets[0] == m.packets[1]));
}

#[test]
fn roles_swapped_by_handshake() {
    let r = run_with(
        all_opts(),
        false,
        &[
            Ev::Data(S2C, client_stream()),
            Ev::Data(C2S, server_stream()),
        ],
    );
    assert_eq!(sorted(summary(&r)), expected_basic());
    assert_eq!(r.messages[0].client, "10.0.0.2:8080");
    assert!(r.flows[0].roles_swapped);
}

#[test]
fn rejected_upgrade() {
    let r = run(&[
        Ev::Data(C2S, request(None)),
        Ev::Data(
            S2C,
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno".to_vec(),
        ),
        Ev::Data(C2S, cf(true, 1, b"x")),
    ]);
    assert!(r.messages.is_empty());
    assert_eq!(r.flows.len(), 1);
    assert_eq!(r.flows[0].state.as_str(), "rejected");
    assert_eq!(r.flows[0].status, Some(403));
    assert_eq!(r.problems, 0);
}

#[test]
fn answer_cut_by_a_gap_is_not_replayed_as_frames() {
    let answer = response(None);
    let r = run(&[
        Ev::Data(C2S, request(None)),
        Ev::Data(S2C, answer[..20].to_vec()),
        Ev::Gap(S2C, (answer.len() - 20) as u64),
        Ev::Data(S2C, sf(true, 1, b"after the hole")),
        Ev::Data(C2S, cf(true, 1, b"hello")),
    ]);
    let mut texts: Vec<&str> = r
        .messages
        .iter()
        .filter_map(|m| m.text.as_deref())
        .collect();
    texts.sort();
    assert_eq!(texts, ["after the hole", "hello"]);
    assert!(
        r.messages.iter().all(|m| m.errors.is_empty()),
        "{:?}",
        r.messages
    );
    assert!(r.flows[0]
        .errors
        .iter()
        .any(|e| e.to_string().contains("lost in a tcp gap")));
    // The partial answer is skipped as such, and the hole sits after it, not at offset 0.
    let w: Vec<&str> = r.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(
        w.iter()
            .any(|m| m.ends_with("tcp gap of 139 bytes at stream offset 20")),
        "{w:?}"
    );
    assert!(
        w.iter().all(|m| !m.contains("not WebSocket frames")),
        "{w:?}"
    );
}

#[test]
fn plain_http_and_other_tcp_produce_nothing() {
    let r = run(&[
        Ev::Data(C2S, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
        Ev::Data(S2C, b"HTTP/1.1 200 OK\r\n\r\n".to_vec()),
    ]);
    assert!(r.flows.is_empty() && r.messages.is_empty());
    let noise: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let r = run(&[Ev::Data(C2S, noise.clone()), Ev::Data(S2C, noise)]);
    assert!(r.flows.is_empty() && r.messages.is_empty());
}

#[test]
fn bad_accept_key() {
    let resp = String::from_utf8(response(None))
        .expect("utf8")
        .replace("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "AAAA");
    let r = run(&[
        Ev::Data(C2S, request(None)),
        Ev::Data(S2C, resp.into_bytes()),
    ]);
    assert_eq!(r.flows[0].accept_valid, Some(false));
    assert!(r.flows[0].errors[0].to_string().contains("does not match"));
    assert_eq!(r.problems, 1);
}

fn deflate_streams(
    ext: &str,
    client_nct: bool,
    server_nct: bool,
) -> (Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
    let msgs: Vec<Vec<u8>> = vec![
        b"{\"hello\":\"world\",\"n\":1}".repeat(20),
        b"{\"hello\":\"world\",\"n\":1}".repeat(20),
        "caf\u{e9} ".repeat(300).into_bytes(),
        b"{\"hello\":\"world\",\"n\":2}".repeat(25),
    ];
    let mut cd = Deflater::new(15, client_nct);
    let mut sd = Deflater::new(15, server_nct);
    let mut c = request(Some("permessage-deflate; client_max_window_bits"));
    let mut s = response(Some(ext));
    for (i, m) in msgs.iter().enumerate() {
        let z = cd.message(m);
        if i == 2 {
            // fragmented: RSV1 only on the first frame
            let (a, rest) = z.split_at(z.len() / 3);
            let (b, d) = rest.split_at(rest.len() / 2);
            c.extend(frame(false, true, 1, Some(KEY), a));
            c.extend(cf(true, 9, b"mid"));
            c.extend(frame(false, false, 0, Some(KEY), b));
            c.extend(frame(true, false, 0, Some(KEY), d));
        } else {
            c.extend(frame(true, true, 1, Some(KEY), &z));
        }
        s.extend(frame(true, true, 1, None, &sd.message(m)));
    }
    (c, s, msgs)
}

fn texts(r: &Run, dir: &str) -> Vec<String> {
    r.messages
        .iter()
        .filter(|m| m.direction.as_str() == dir && m.opcode == Opcode::Text)
        .map(|m| m.text.clone().unwrap_or_else(|| format!("{m:?}")))
        .collect()
}

fn as_strings(msgs: &[Vec<u8>]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8(m.clone()).expect("utf8"))
        .collect()
}

#[test]
fn deflate_context_takeover_and_not() {
    for (ext, cn, sn) in [
        ("permessage-deflate", false, false),
        (
            "permessage-deflate; server_no_context_takeover",
            false,
            true,
        ),
        (
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
            true,
            true,
        ),
        (
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=10",
            true,
            false,
        ),
    ] {
        let (c, s, msgs) = deflate_streams(ext, cn, sn);
        for chunk in [1usize, 7, 100_000] {
            let mut evs = Vec::new();
            let req_len = request(Some("permessage-deflate; client_max_window_bits")).len();
            evs.push(Ev::Data(C2S, c[..req_len].to_vec()));
            let resp_len = response(Some(ext)).len();
            evs.push(Ev::Data(S2C, s[..resp_len].to_vec()));
            evs.extend(
                c[req_len..]
                    .chunks(chunk)
                    .map(|b| Ev::Data(C2S, b.to_vec())),
            );
            evs.extend(
                s[resp_len..]
                    .chunks(chunk)
                    .map(|b| Ev::Data(S2C, b.to_vec())),
            );
            let r = run(&evs);
            assert_eq!(
                texts(&r, "client_to_server"),
                as_strings(&msgs),
                "{ext} chunk {chunk}"
            );
            assert_eq!(
                texts(&r, "server_to_client"),
                as_strings(&msgs),
                "{ext} chunk {chunk}"
            );
            assert!(
                r.messages.iter().all(|m| m.errors.is_empty()),
                "{:?}",
                r.messages
            );
            assert!(r
                .messages
                .iter()
                .filter(|m| m.opcode == Opcode::Text)
                .all(|m| m.compressed));
            let p = r.flows[0].permessage_deflate.expect("pmd");
            assert_eq!(
                (p.client_no_context_takeover, p.server_no_context_takeover),
                (cn, sn)
            );
            let frag = r
                .messages
                .iter()
                .filter(|m| m.direction == Direction::ClientToServer)
                .nth(3)
                .expect("frag");
            assert_eq!(frag.frames, 3);
        }
    }
}

#[test]
fn deflate_every_window_size() {
    for bits in 8..=15u8 {
        let ext = format!("permessage-deflate; server_max_window_bits={bits}");
        let mut sd = Deflater::new(bits, false);
        let mut s = response(Some(&ext));
        let msgs: Vec<Vec<u8>> = (0..5)
            .map(|i| format!("message {i} ").repeat(200 + i).into_bytes())
            .collect();
        for m in &msgs {
            s.extend(frame(true, true, 2, None, &sd.message(m)));
        }
        let r = run(&[
            Ev::Data(C2S, request(Some("permessage-deflate"))),
            Ev::Data(S2C, s),
        ]);
        let got: Vec<String> = r
            .messages
            .iter()
            .map(|m| m.data_b64.as_ref().map(|b| b.encode()).unwrap_or_default())
            .collect();
        let want: Vec<String> = msgs.iter().map(|m| b64(m)).collect();
        assert_eq!(got, want, "bits {bits}");
        assert_eq!(
            r.flows[0]
                .permessage_deflate
                .and_then(|p| p.server_max_window_bits),
            Some(bits)
        );
    }
}

#[test]
fn rsv1_without_deflate_is_a_violation() {
    let mut s = response(None);
    s.extend(frame(true, true, 1, None, b"plain"));
    let r = run(&[Ev::Data(C2S, request(None)), Ev::Data(S2C, s)]);
    assert_eq!(r.messages[0].text.as_deref(), Some("plain"));
    assert!(r.messages[0].errors[0]
        .to_string()
        .contains("not negotiated"));
    assert_eq!(r.problems, 1);
}

#[test]
fn violations_each_reported() {
    let mut s = response(None);
    let mut c = request(None);
    let mut expect: Vec<(&str, &str)> = Vec::new();
    c.extend(frame(true, false, 1, None, b"unmasked"));
    expect.push(("client_to_server", "unmasked client frame"));
    s.extend(frame(true, false, 1, Some(KEY), b"masked"));
    expect.push(("server_to_client", "masked server frame"));
    s.extend(sf(true, 9, &[b'p'; 126]));
    expect.push(("server_to_client", "control frame payload of 126"));
    s.extend(sf(true, 2, b"ok"));
    expect.push(("server_to_client", ""));
    s.extend(sf(false, 9, b"frag"));
    expect.push(("server_to_client", "fragmented control frame"));
    s.extend(sf(true, 2, b"ok"));
    expect.push(("server_to_client", ""));
    s.extend(frame(true, false, 0x20 | 1, None, b"rsv2"));
    expect.push(("server_to_client", "RSV2"));
    s.extend(sf(true, 2, b"ok"));
    expect.push(("server_to_client", ""));
    s.extend(sf(true, 3, b"reserved"));
    expect.push(("server_to_client", "reserved opcode 0x3"));
    s.extend(sf(true, 2, b"ok"));
    expect.push(("server_to_client", ""));
    s.extend(sf(true, 0, b"orphan"));
    expect.push((
        "server_to_client",
        "continuation frame without a message start",
    ));
    s.extend(sf(false, 1, b"one"));
    s.extend(sf(true, 1, b"two"));
    expect.push(("server_to_client", "message never finished"));
    expect.push((
        "server_to_client",
        "new data message inside a fragmented message",
    ));
    s.extend(sf(true, 1, &[b'a', 0xff, b'b']));
    expect.push(("server_to_client", "invalid UTF-8"));
    let mut nm = vec![0x82, 126, 0, 3];
    nm.extend_from_slice(b"abc");
    s.extend(nm);
    expect.push(("server_to_client", "non-minimal length"));
    s.extend(sf(true, 2, b"ok"));
    expect.push(("server_to_client", ""));
    s.extend(sf(true, 8, &[0x03, 0xed]));
    expect.push(("server_to_client", "invalid close code 1005"));
    s.extend(sf(true, 1, b"late"));
    expect.push(("server_to_client", "frame after a close frame"));
    c.extend(cf(true, 8, &[3]));
    expect.push(("client_to_server", "1-byte payload"));
    let r = run(&[Ev::Data(C2S, c), Ev::Data(S2C, s)]);
    assert_eq!(
        r.messages.len(),
        expect.len(),
        "{:#?} {:#?}",
        summary(&r),
        r.warnings
    );
    let mut msgs: Vec<&MessageRecord> = r.messages.iter().collect();
    msgs.sort_by_key(|m| m.direction);
    let mut expect_sorted = expect.clone();
    expect_sorted.sort_by_key(|e| e.0);
    for (m, (dir, err)) in msgs.iter().zip(&expect_sorted) {
        assert_eq!(m.direction.as_str(), *dir);
        if err.is_empty() {
            assert!(m.errors.is_empty(), "{m:?}");
            continue;
        }
        assert!(
            m.errors.iter().any(|e| e.to_string().contains(err)),
            "expected {err:?} in {:?}",
            m
        );
    }
    let rsv = msgs.iter().find(|m| m.text.as_deref() == Some("rsv2"));
    assert!(
        rsv.is_some(),
        "RSV2 frame decoded as a frame with a violation"
    );
    assert_eq!(r.flows[0].server_to_client.skipped_bytes, 0);
    assert_eq!(r.flows[0].server_to_client.violations, 11);
    assert_eq!(r.flows[0].client_to_server.violations, 2);
}

#[test]
fn utf8_split_across_fragments_is_valid() {
    let mut s = response(None);
    let euro = "\u{20ac}".as_bytes();
    s.extend(sf(false, 1, &euro[..1]));
    s.extend(sf(false, 0, &euro[1..2]));
    s.extend(sf(true, 0, &euro[2..]));
    let r = run(&[Ev::Data(C2S, request(None)), Ev::Data(S2C, s)]);
    assert_eq!(r.messages[0].text.as_deref(), Some("\u{20ac}"));
    assert!(r.messages[0].errors.is_empty());
}

#[test]
fn gap_inside_frame_keeps_boundaries() {
    let mut s = response(None);
    let resp_len = s.len();
    s.extend(sf(true, 2, &[1u8; 100]));
    s.extend(sf(true, 1, b"after"));
    // lose 40 bytes in the middle of the binary frame's payload
    let cut = resp_len + 2 + 30;
    let r = run(&[
        Ev::Data(C2S, request(None)),
        Ev::Data(S2C, s[..cut].to_vec()),
        Ev::Gap(S2C, 40),
        Ev::Data(S2C, s[cut + 40..].to_vec()),
    ]);
    assert_eq!(
        summary(&r),
        vec![
            s3("server_to_client", "binary", "UNDECODABLE"),
            s3("server_to_client", "text", "after")
        ]
    );
    assert_eq!(r.messages[0].errors, vec![Problem::Gap(40)]);
    assert_eq!(r.flows[0].server_to_client.gaps, 1);
    assert_eq!(r.flows[0].server_to_client.skipped_bytes, 0);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.message.contains("tcp gap of 40")));
}

#[test]
fn gap_across_frames_resyncs() {
    let mut s = response(None);
    let resp_len = s.len();
    s.extend(sf(true, 1, b"first message"));
    s.extend(sf(false, 1, b"fragment one"));
    s.extend(sf(
        true,
        0,
        b"fragment two, long enough to lose the header after it",
    ));
    let resume = s.len() + 5;
    s.extend(sf(true, 1, b"lost"));
    s.extend(sf(true, 1, b"found"));
    s.extend(sf(true, 9, b""));
    s.extend(sf(true, 1, b"again"));
    let cut = resp_len + 2 + 13 + 2 + 5;
    let r = run(&[
        Ev::Data(C2S, request(None)),
        Ev::Data(S2C, s[..cut].to_vec()),
        Ev::Gap(S2C, 10),
        Ev::Data(S2C, s[cut + 10..resume].to_vec()),
        Ev::Data(S2C, s[resume..].to_vec()),
    ]);
    assert_eq!(
        summary(&r),
        vec![
            s3("server_to_client", "text", "first message"),
            s3("server_to_client", "text", "UNDECODABLE"),
            s3("server_to_client", "text", "lost"),
            s3("server_to_client", "text", "found"),
            s3("server_to_client", "ping", ""),
            s3("server_to_client", "text", "again"),
        ],
        "{:#?}",
        r.messages
            .iter()
            .map(|m| (&m.text, &m.errors))
            .collect::<Vec<_>>()
    );
    let st = &r.flows[0].server_to_client;
    assert_eq!(st.gaps, 1);
    let lost = resume - 5 - (cut + 10);
    assert_eq!(st.skipped_bytes, lost as u64);
    assert!(r.problems >= 3);
}

#[test]
fn gap_in_deflate_context_takeover() {
    let mut sd = Deflater::new(15, false);
    let mut s = response(Some("permessage-deflate"));
    let base = b"the same words again and again, the same words again and again".repeat(4);
    let m1 = sd.message(&base);
    let m2 = sd.message(&base);
    let fresh: Vec<u8> = (0..200u32).map(|i| (i * 37 % 256) as u8).collect();
    let m3 = sd.message(&fresh);
    let m4 = sd.message(&base);
    s.extend(frame(true, true, 2, None, &m1));
    let before = s.len();
    s.extend(frame(true, true, 2, None, &m2));
    let f3 = s.len();
    s.extend(frame(true, true, 2, None, &m3));
    s.extend(frame(true, true, 2, None, &m4));
    // the second message's payload is cut in the middle by a 1-byte gap
    let r = run(&[
        Ev::Data(C2S, request(Some("permessage-deflate"))),
        Ev::Data(S2C, s[..before + 3].to_vec()),
        Ev::Gap(S2C, 1),
        Ev::Data(S2C, s[before + 4..f3].to_vec()),
        Ev::Data(S2C, s[f3..].to_vec()),
    ]);
    let got = summary(&r);
    assert_eq!(got[0].2, b64(&base));
    assert_eq!(got[1].2, "UNDECODABLE");
    // the third message only refers to its own bytes: decodes although history is lost
    assert_eq!(got[2].2, b64(&fresh));
    // the fourth refers to the first two: reported, not guessed
    assert_eq!(got[3].2, "UNDECODABLE");
    assert!(
        r.messages[3].errors[0].to_string().contains("too far back"),
        "{:?}",
        r.messages[3]
    );
    assert!(r.messages[3].errors[0].to_string().contains("history"));
}

#[test]
fn midstream_detection_swaps_roles() {
    // capture starts mid-frame; the TCP layer guessed roles wrong
    let mut srv = sf(true, 2, &[9u8; 40]);
    srv = srv.split_off(10);
    for i in 0..4 {
        srv.extend(sf(true, 1, format!("server {i}").as_bytes()));
    }
    let mut cli = Vec::new();
    for i in 0..3 {
        cli.extend(cf(true, 1, format!("client {i}").as_bytes()));
    }
    let r = run_with(all_opts(), false, &[Ev::Data(C2S, srv), Ev::Data(S2C, cli)]);
    assert_eq!(
        sorted(summary(&r)),
        vec![
            s3("client_to_server", "text", "client 0"),
            s3("client_to_server", "text", "client 1"),
            s3("client_to_server", "text", "client 2"),
            s3("server_to_client", "text", "server 0"),
            s3("server_to_client", "text", "server 1"),
            s3("server_to_client", "text", "server 2"),
            s3("server_to_client", "text", "server 3"),
        ]
    );
    assert_eq!(r.flows[0].state.as_str(), "midstream");
    assert!(r.flows[0].roles_swapped);
    assert_eq!(r.messages[0].client, "10.0.0.2:8080");
    assert_eq!(r.flows[0].server_to_client.skipped_bytes, 32);
}

#[test]
fn midstream_short_direction_detected_at_end() {
    let r = run_with(
        all_opts(),
        true,
        &[Ev::Data(C2S, cf(true, 1, b"only one")), Ev::Close(C2S)],
    );
    assert_eq!(
        summary(&r),
        vec![s3("client_to_server", "text", "only one")]
    );
}

#[test]
fn midstream_deflate_without_history() {
    let mut sd = Deflater::new(15, false);
    let base = b"repeated repeated repeated text text text".repeat(5);
    let _unseen = sd.message(&base);
    let mut s = Vec::new();
    for _ in 0..3 {
        s.extend(frame(true, true, 1, None, &sd.message(&base)));
    }
    let r = run(&[Ev::Data(S2C, s)]);
    assert_eq!(r.messages.len(), 3);
    assert!(r.messages[0].undecodable, "{:?}", r.messages[0]);
    assert!(r.messages[0].errors[0].to_string().contains("too far back"));
    // later messages refer to the first one, which is decodable history? No: the
    // first failed, so its text never entered the window; they fail too, honestly.
    assert!(r.messages.iter().all(|m| m.undecodable
        || m.text.as_deref() == Some(std::str::from_utf8(&base).unwrap_or_default())));
}

#[test]
fn forced_decode_as() {
    let mut s = Vec::new();
    s.extend(sf(true, 1, b"forced"));
    let r = run_on(
        FlowInfo {
            carries: Carries::WebSocket,
            ..flow_info(true)
        },
        all_opts(),
        &[Ev::Data(S2C, s)],
    );
    assert_eq!(summary(&r), vec![s3("server_to_client", "text", "forced")]);
    assert_eq!(r.flows[0].state.as_str(), "forced");
}

#[test]
fn huge_declared_length_allocates_nothing() {
    let mut s = response(None);
    s.extend(sf(true, 1, b"before"));
    s.extend([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    s.extend(sf(true, 1, b"after"));
    s.extend(sf(true, 1, b"more"));
    let r = run(&[Ev::Data(C2S, request(None)), Ev::Data(S2C, s)]);
    assert_eq!(
        summary(&r),
        vec![
            s3("server_to_client", "text", "before"),
            s3("server_to_client", "text", "after"),
            s3("server_to_client", "text", "more"),
        ]
    );
    assert_eq!(r.flows[0].server_to_client.skipped_bytes, 10);
    assert!(r.warnings.iter().any(|w| w.message.contains("top bit")));
    // a legal length over 4 GiB is garbage too (it would swallow the stream)
    let mut s = response(None);
    s.extend([0x82, 127, 0x40, 0, 0, 0, 0, 0, 0, 0]);
    s.extend(sf(true, 1, b"after"));
    s.extend(sf(true, 1, b"more"));
    let r = run(&[Ev::Data(C2S, request(None)), Ev::Data(S2C, s)]);
    assert_eq!(
        summary(&r),
        vec![
            s3("server_to_client", "text", "after"),
            s3("server_to_client", "text", "more"),
        ]
    );
    assert!(r
        .warnings
        .iter()
        .any(|w| w.message.contains("over the 4 GiB")));
    // a legal big length is consumed as it comes and reported at the end
    let mut s = response(None);
    s.extend([0x82, 127, 0, 0, 0, 0, 0xf0, 0, 0, 0]);
    s.extend([0u8; 1000]);
    let r = run(&[
        Ev::Data(C2S, request(None)),
        Ev::Data(S2C, s),
        Ev::Close(S2C),
    ]);
    assert_eq!(r.messages.len(), 1);
    assert!(r.messages[0].undecodable);
    assert!(
        r.messages[0].errors[0]
            .to_string()
            .contains("stream ended inside frame: have 1000 of 4026531840 bytes"),
        "{:?}",
        r.messages[0].errors
    );
}

#[test]
fn cap_truncates_and_next_message_decodes() {
    let mut sd = Deflater::new(15, false);
    let big = vec![b'z'; 200_000];
    let mut s = response(Some("permessage-deflate"));
    s.extend(frame(true, true, 1, None, &sd.message(&big)));
    s.extend(frame(true, true, 1, None, &sd.message(b"zzzz small")));
    let opts = Options {
        max_message_size: 1000,
        ..all_opts()
    };
    let r = run_with(
        opts,
        true,
        &[
            Ev::Data(C2S, request(Some("permessage-deflate"))),
            Ev::Data(S2C, s),
        ],
    );
    assert!(r.messages[0].truncated);
    assert_eq!(r.messages[0].length, 200_000);
    assert_eq!(r.messages[0].text.as_deref().map(str::len), Some(1000));
    assert_eq!(r.messages[1].text.as_deref(), Some("zzzz small"));
    assert_eq!(r.flows[0].server_to_client.truncated, 1);
}

#[test]
fn stream_ends_inside_frame_and_message() {
    let mut s = response(None);
    s.extend(sf(false, 1, b"part"));
    s.extend(sf(true, 0, b"0123456789"));
    s.truncate(s.len() - 4);
    let r = run(&[
        Ev::Data(C2S, request(None)),
        Ev::Data(S2C, s),
        Ev::Close(S2C),
    ]);
    assert_eq!(r.messages.len(), 1);
    assert!(r.messages[0].undecodable);
    assert_eq!(r.messages[0].frames, 2);
    assert!(r.messages[0].errors[0]
        .to_string()
        .contains("stream ended inside frame: have 6 of 10 bytes"));
    assert!(r
        .warnings
        .iter()
        .any(|w| w.message.contains("stream ended")));
}

#[test]
fn garbage_then_resync() {
    let mut s = response(None);
    s.extend(sf(true, 1, b"one"));
    s.extend([0xff, 0xfe, 0x13, 0x37, 0x77, 0x66]);
    s.extend(sf(true, 1, b"two"));
    s.extend(sf(true, 1, b"three"));
    s.extend(sf(true, 1, b"four"));
    let r = run(&[Ev::Data(C2S, request(None)), Ev::Data(S2C, s)]);
    assert_eq!(
        summary(&r),
        vec![
            s3("server_to_client", "text", "one"),
            s3("server_to_client", "text", "two"),
            s3("server_to_client", "text", "three"),
            s3("server_to_client", "text", "four"),
        ]
    );
    assert_eq!(r.flows[0].server_to_client.skipped_bytes, 6);
}

#[test]
fn early_client_frames_before_101() {
    let mut c = request(None);
    c.extend(cf(true, 1, b"eager"));
    let r = run(&[
        Ev::Data(C2S, c),
        Ev::Data(C2S, cf(true, 1, b"eager2")),
        Ev::Data(S2C, response(None)),
    ]);
    assert_eq!(
        summary(&r),
        vec![
            s3("client_to_server", "text", "eager"),
            s3("client_to_server", "text", "eager2")
        ]
    );
}

#[test]
fn no_panic_on_arbitrary_input() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    let strat = proptest::collection::vec(
        (
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..300),
            0u64..50,
        ),
        0..12,
    );
    runner
        .run(&strat, |chunks| {
            let mut evs = vec![
                Ev::Data(C2S, request(Some("permessage-deflate"))),
                Ev::Data(S2C, response(Some("permessage-deflate"))),
            ];
            for (dir, bytes, gap) in chunks {
                let d = if dir { C2S } else { S2C };
                if gap == 7 {
                    evs.push(Ev::Gap(d, gap));
                }
                evs.push(Ev::Data(d, bytes));
            }
            let _ = run(&evs);
            let _ = run_with(all_opts(), false, &evs[2..]);
            Ok(())
        })
        .expect("no panic");
}

/// xorshift64 bytes: reproducible noise.
fn noise(n: usize, mut x: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// 2 MiB of noise after a gap: resynchronisation must not believe it (it made thousands
/// of fake messages, and a fake 2^62-byte frame swallowed the honest ones after it).
#[test]
fn random_bytes_after_gap_make_few_fake_messages() {
    for (ext, seed) in [(None, 1u64), (Some("permessage-deflate"), 2), (None, 3)] {
        let mut s = response(ext);
        s.extend(sf(true, 1, b"before"));
        let mut after = Vec::new();
        for i in 0..20 {
            after.extend(sf(true, 1, format!("after {i}").as_bytes()));
        }
        let mut evs = vec![Ev::Data(C2S, request(ext)), Ev::Data(S2C, s)];
        evs.push(Ev::Gap(S2C, 1000));
        for c in noise(2 << 20, seed).chunks(1448) {
            evs.push(Ev::Data(S2C, c.to_vec()));
        }
        evs.push(Ev::Data(S2C, after));
        let opts = Options {
            flows: true,
            ..Options::default()
        };
        let r = run_with(opts, true, &evs);
        let texts: Vec<&str> = r
            .messages
            .iter()
            .filter_map(|m| m.text.as_deref())
            .collect();
        let honest: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| t.starts_with("after") || *t == "before")
            .collect();
        let fake = r.messages.len() - honest.len();
        assert_eq!(texts.first(), Some(&"before"));
        // The last fake frame may run into the first honest ones (no gap marks the end
        // of the noise); the rest must decode.
        let expect: Vec<String> = (8..20).map(|i| format!("after {i}")).collect();
        assert!(
            expect.iter().all(|e| honest.contains(&e.as_str())),
            "{ext:?}: {honest:?}"
        );
        assert!(
            fake <= 20,
            "{ext:?}: {fake} fake messages from 2 MiB of noise"
        );
        assert!(r.flows[0].server_to_client.skipped_bytes > 1 << 20);
    }
}
