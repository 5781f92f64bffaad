//! The HTTP/2 layer under the real WebSocket stage, on connections written here with an
//! independent HPACK encoder: extended CONNECTs answered and refused, a page stream,
//! padding, CONTINUATION, RST_STREAM, chunks of every size, gaps, and hostile blocks.

use crate::util::community_id::CommunityId;
use loona_hpack::Encoder;

use super::frame::{flag, ty, PREFACE};
use super::*;
use crate::tcp::stream::StreamSink;
use crate::util::time::Timestamp;
use crate::ws::record::{FlowState, Record};
use crate::ws::{Dissector, Options};

fn frame(t: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend([t, flags]);
    f.extend(stream.to_be_bytes());
    f.extend(payload);
    f
}

fn block(enc: &mut Encoder, fields: &[(&str, &str)]) -> Vec<u8> {
    enc.encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
}

/// A WebSocket frame: FIN, `op`, masked with a zero key when `mask`.
fn ws(op: u8, mask: bool, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![
        0x80 | op,
        (payload.len() as u8) | if mask { 0x80 } else { 0 },
    ];
    if mask {
        f.extend([0; 4]);
    }
    f.extend(payload);
    f
}

/// What each side sends, in the order a capture would hold it.
type Wire = Vec<(Direction, Vec<u8>)>;

const C: Direction = Direction::ClientToServer;
const S: Direction = Direction::ServerToClient;

/// A connection: a WebSocket on stream 1 (CONNECT answered 200, its request block split
/// over HEADERS and CONTINUATION, a padded DATA frame), a page on stream 3, a refused
/// CONNECT on stream 5, a second WebSocket on stream 7 reset by the client.
fn connection() -> Wire {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let mut w: Wire = Vec::new();
    let mut c = PREFACE.to_vec();
    c.extend(frame(ty::SETTINGS, 0, 0, &[]));
    w.push((C, c));
    w.push((S, frame(ty::SETTINGS, 0, 0, &[0, 8, 0, 0, 0, 1])));
    let connect = |path: &'static str| {
        vec![
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "h2.test"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-extensions", "permessage-deflate"),
        ]
    };
    let req1 = block(&mut ce, &connect("/one"));
    let (a, b) = req1.split_at(7);
    let mut c = frame(ty::HEADERS, 0, 1, a);
    c.extend(frame(ty::CONTINUATION, flag::END_HEADERS, 1, b));
    let page = block(
        &mut ce,
        &[
            (":method", "GET"),
            (":path", "/"),
            (":scheme", "http"),
            (":authority", "h2.test"),
        ],
    );
    c.extend(frame(
        ty::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        3,
        &page,
    ));
    w.push((C, c));
    w.push((
        S,
        frame(
            ty::HEADERS,
            flag::END_HEADERS,
            1,
            &block(&mut se, &[(":status", "200")]),
        ),
    ));
    let mut padded = vec![3];
    padded.extend(ws(1, true, b"hello over h2"));
    padded.extend([0; 3]);
    w.push((C, frame(ty::DATA, flag::PADDED, 1, &padded)));
    let ok = block(
        &mut se,
        &[(":status", "200"), ("content-type", "text/html")],
    );
    let mut s = frame(ty::HEADERS, flag::END_HEADERS, 3, &ok);
    s.extend(frame(
        ty::DATA,
        flag::END_STREAM,
        3,
        b"<html>not a websocket</html>",
    ));
    s.extend(frame(ty::DATA, 0, 1, &ws(1, false, b"hi from the server")));
    w.push((S, s));
    let mut c = frame(
        ty::HEADERS,
        flag::END_HEADERS,
        5,
        &block(&mut ce, &connect("/refused")),
    );
    c.extend(frame(
        ty::HEADERS,
        flag::END_HEADERS,
        7,
        &block(&mut ce, &connect("/seven")),
    ));
    w.push((C, c));
    let mut s = frame(
        ty::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        5,
        &block(&mut se, &[(":status", "403")]),
    );
    s.extend(frame(
        ty::HEADERS,
        flag::END_HEADERS,
        7,
        &block(&mut se, &[(":status", "200")]),
    ));
    w.push((S, s));
    // The second WebSocket's first frame split over two DATA frames, a PING between.
    let two = ws(2, true, &[7; 40]);
    let mut c = frame(ty::DATA, 0, 7, &two[..10]);
    c.extend(frame(ty::PING, 0, 0, &[0; 8]));
    c.extend(frame(ty::DATA, 0, 7, &two[10..]));
    c.extend(frame(ty::RST_STREAM, 0, 7, &[0, 0, 0, 8]));
    let close = {
        let mut p = 1000u16.to_be_bytes().to_vec();
        p.extend(b"bye");
        p
    };
    c.extend(frame(ty::DATA, flag::END_STREAM, 1, &ws(8, true, &close)));
    w.push((C, c));
    w.push((
        S,
        frame(ty::DATA, flag::END_STREAM, 1, &ws(8, false, &close)),
    ));
    w
}

fn flow() -> FlowInfo {
    let (client, server) = (
        "10.0.0.1:5000".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
    );
    FlowInfo {
        id: 4,
        client,
        server,
        community_id: CommunityId::tcp(client, server),
        encapsulation: Default::default(),
        roles_known: true,
        sub: None,
        carries: Default::default(),
        tls: None,
        h2: None,
        packets: [0; 2],
    }
}

/// Runs the wire through the HTTP/2 layer and the WebSocket stage, each side's bytes in
/// chunks of `chunk`; returns the records and the layer's warnings.
fn run(w: &Wire, chunk: usize) -> (Vec<Record>, Vec<Warning>) {
    let opts = Options {
        flows: true,
        ..Options::default()
    };
    let mut l = H2::new(Dissector::new("h2.pcap".into(), opts));
    let f = flow();
    l.open(&f);
    let mut n = 0;
    for (dir, bytes) in w {
        for c in bytes.chunks(chunk) {
            n += 1;
            l.data(&f, *dir, c, Provenance::of(n, Timestamp::default()));
        }
    }
    let at = Provenance::of(n + 1, Timestamp::default());
    l.close(&f, C, CloseKind::Fin, at);
    l.close(&f, S, CloseKind::Fin, at);
    l.end(&f);
    let warnings = l.drain_warnings().collect();
    (l.inner_mut().drain_records().collect(), warnings)
}

#[test]
fn websockets_on_streams_decode_whatever_the_chunks() {
    let w = connection();
    for chunk in [1, 2, 5, 9, 64, 100_000] {
        let (records, warnings) = run(&w, chunk);
        assert!(warnings.is_empty(), "{chunk}: {warnings:?}");
        let msgs: Vec<(u32, &str, String)> = records
            .iter()
            .filter_map(|r| match r {
                Record::Message(m) => Some((
                    m.h2_stream_id.unwrap(),
                    m.direction.as_str(),
                    m.text
                        .clone()
                        .or(m.close_reason.clone())
                        .unwrap_or_else(|| format!("{} bytes", m.length)),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(
            msgs,
            [
                (1, "client_to_server", "hello over h2".to_string()),
                (1, "server_to_client", "hi from the server".to_string()),
                (7, "client_to_server", "40 bytes".to_string()),
                (1, "client_to_server", "bye".to_string()),
                (1, "server_to_client", "bye".to_string()),
            ],
            "{chunk}"
        );
        let flows: Vec<_> = records
            .iter()
            .filter_map(|r| match r {
                Record::Flow(f) => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(flows.len(), 3, "{chunk}");
        for f in &flows {
            assert_eq!(f.flow, 4);
            assert_eq!(f.h2_other_streams, Some(1));
            match f.h2_stream_id {
                Some(1) => {
                    assert_eq!(f.state, FlowState::Upgraded);
                    assert_eq!(f.method.as_deref(), Some("CONNECT"));
                    assert_eq!(f.path.as_deref(), Some("/one"));
                    assert_eq!(f.host.as_deref(), Some("h2.test"));
                    assert!(f.permessage_deflate.is_none());
                    assert_eq!(f.status, Some(200));
                }
                Some(5) => {
                    assert_eq!(f.state, FlowState::Rejected);
                    assert_eq!(f.status, Some(403));
                }
                Some(7) => assert_eq!(f.state, FlowState::Upgraded),
                other => panic!("{other:?}"),
            }
        }
    }
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[test]
fn hpack_decodes_rfc7541_appendix_c() {
    // C.3 (without Huffman) and C.4 (with Huffman): three requests each, the dynamic
    // table carried from one to the next.
    let first = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ];
    let second = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ];
    let third = [
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ];
    let c3 = [
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ];
    let c4 = [
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ];
    for blocks in [c3, c4] {
        let mut d = loona_hpack::Decoder::new();
        for (b, want) in blocks.iter().zip([&first[..], &second[..], &third[..]]) {
            let mut got = Vec::new();
            d.decode_with_cb(&hex(b), |n, v| {
                got.push((
                    String::from_utf8(n.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                ))
            })
            .unwrap();
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, want);
        }
    }
}

/// The wire up to stream 1's answer: preface, SETTINGS, a CONNECT and its 200.
fn opened() -> (Wire, Encoder<'static>, Encoder<'static>) {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let mut c = PREFACE.to_vec();
    c.extend(frame(ty::SETTINGS, 0, 0, &[]));
    let req = block(
        &mut ce,
        &[
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":path", "/"),
            (":authority", "h2.test"),
        ],
    );
    c.extend(frame(ty::HEADERS, flag::END_HEADERS, 1, &req));
    let resp = frame(
        ty::HEADERS,
        flag::END_HEADERS,
        1,
        &block(&mut se, &[(":status", "200")]),
    );
    (vec![(C, c), (S, resp)], ce, se)
}

#[test]
fn a_gap_inside_data_is_a_gap_of_the_websocket_and_one_across_frames_stops() {
    let (w, _, _) = opened();
    let opts = Options {
        flows: true,
        ..Options::default()
    };
    let mut l = H2::new(Dissector::new("h2.pcap".into(), opts));
    let f = flow();
    l.open(&f);
    let at = Provenance::of(1, Timestamp::default());
    for (d, b) in &w {
        l.data(&f, *d, b, at);
    }
    // A 300-byte binary message in one DATA frame; 100 bytes of it never captured.
    let mut m = vec![0x82, 0xfe, 0x01, 0x2c, 0, 0, 0, 0];
    m.extend([9u8; 300]);
    let data = frame(ty::DATA, 0, 1, &m);
    l.data(&f, C, &data[..50], at);
    l.gap(&f, C, 100, at);
    l.data(&f, C, &data[150..], at);
    l.data(&f, C, &frame(ty::DATA, 0, 1, &ws(1, true, b"after")), at);
    // Now a gap that runs past the frame it starts in.
    l.data(
        &f,
        C,
        &frame(ty::DATA, 0, 1, &ws(1, true, b"cut"))[..12],
        at,
    );
    l.gap(&f, C, 500, at);
    l.data(&f, C, &frame(ty::DATA, 0, 1, &ws(1, true, b"lost")), at);
    l.end(&f);
    let warnings: Vec<Warning> = l.drain_warnings().collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].message.contains("TCP gap across HTTP/2 frames"));
    let msgs: Vec<_> = l
        .inner_mut()
        .drain_records()
        .filter_map(|r| match r {
            Record::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    // The message the first gap cut is flagged (300 bytes on the wire, the 33 before
    // the hole decoded), the next one decodes: the gap's length was exact. The frame
    // the second gap cut ends with the direction (its header was incomplete: said on
    // the flow record, no message).
    assert_eq!(msgs.len(), 2, "{msgs:#?}");
    assert!(
        msgs[0].undecodable && msgs[0].wire_length == 300,
        "{:?}",
        msgs[0]
    );
    assert_eq!(msgs[1].text.as_deref(), Some("after"));
}

#[test]
fn hostile_header_blocks_are_bounded_and_said() {
    // A CONTINUATION flood: a header block that never ends.
    let (mut w, _, _) = opened();
    let mut c = frame(ty::HEADERS, 0, 3, &[0x82]);
    for _ in 0..100 {
        c.extend(frame(ty::CONTINUATION, 0, 3, &[0x82; 1000]));
    }
    w.push((C, c));
    let (_, warnings) = run(&w, 4096);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].message.contains("CONTINUATION flood"),
        "{warnings:?}"
    );

    // An HPACK bomb: one large entry in the table, referenced over and over.
    let (mut w, _, _) = opened();
    let mut se = Encoder::new();
    let _ = block(&mut se, &[(":status", "200")]);
    let big = "x".repeat(3000);
    let mut b = block(&mut Encoder::new(), &[]);
    // Literal with incremental indexing, new name "bomb", 3000-byte value...
    b.push(0x40);
    b.push(4);
    b.extend(b"bomb");
    b.extend([0x7f, 0xb9, 0x16]);
    b.extend(big.as_bytes());
    // ...then indexed references to it (index 62) 1000 times.
    b.extend(std::iter::repeat_n(0xbe, 1000));
    w.push((C, frame(ty::HEADERS, flag::END_HEADERS, 3, &b)));
    let (records, warnings) = run(&w, 4096);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .message
            .contains("header list of stream 3 over 64 KiB"),
        "{warnings:?}"
    );
    assert!(records.iter().any(|r| matches!(r, Record::Flow(_))));
}

#[test]
fn an_http1_upgrade_to_h2c_carries_websockets_too() {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let mut c = b"GET / HTTP/1.1\r\nHost: h2.test\r\nConnection: Upgrade, HTTP2-Settings\r\n\
Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
        .to_vec();
    let mut w: Wire = vec![(C, c.clone())];
    let mut s =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".to_vec();
    s.extend(frame(ty::SETTINGS, 0, 0, &[0, 8, 0, 0, 0, 1]));
    s.extend(frame(
        ty::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        1,
        &block(&mut se, &[(":status", "200")]),
    ));
    w.push((S, s));
    c = PREFACE.to_vec();
    c.extend(frame(ty::SETTINGS, 0, 0, &[]));
    let req = block(
        &mut ce,
        &[
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":path", "/up"),
            (":authority", "h2.test"),
        ],
    );
    c.extend(frame(ty::HEADERS, flag::END_HEADERS, 3, &req));
    w.push((C, c));
    w.push((
        S,
        frame(
            ty::HEADERS,
            flag::END_HEADERS,
            3,
            &block(&mut se, &[(":status", "200")]),
        ),
    ));
    w.push((C, frame(ty::DATA, 0, 3, &ws(1, true, b"upgraded"))));
    for chunk in [1, 7, 1000] {
        let (records, warnings) = run(&w, chunk);
        assert!(warnings.is_empty(), "{warnings:?}");
        let texts: Vec<_> = records
            .iter()
            .filter_map(|r| match r {
                Record::Message(m) => Some((m.h2_stream_id, m.text.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(texts, [(Some(3), Some("upgraded".to_string()))], "{chunk}");
        let flow = records.iter().find_map(|r| match r {
            Record::Flow(f) => Some(f),
            _ => None,
        });
        assert_eq!(flow.unwrap().h2_other_streams, Some(1));
    }
    // Refused (no 101): the bytes go up as they came, as HTTP/1.1.
    let refused: Wire = vec![
        (C, w[0].1.clone()),
        (S, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()),
    ];
    let (records, warnings) = run(&refused, 5);
    assert!(records.is_empty() && warnings.is_empty());
}
