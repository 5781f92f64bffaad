// The WebSocket decoder with permessage-deflate, driven through `StreamSink` as the TCP
// reassembler drives it: an upgrade handshake negotiating permessage-deflate (or none,
// for mid-connection detection, or a forced port), then arbitrary bytes in chunks per
// direction, with gaps, closes and the end.
//
// Shared by fuzz/fuzz_targets/ws.rs and tests/fuzz_regressions.rs (which replays the
// inputs in testdata/regressions/ that made it fail).
use arbitrary::Arbitrary;
use wsdissect::tcp::stream::{Carries, CloseKind, Direction, FlowInfo, Provenance, StreamSink};
use wsdissect::util::community_id::CommunityId;
use wsdissect::util::time::Timestamp;
use wsdissect::ws::{Dissector, Options};

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

const RESPONSES: [&[u8]; 3] = [
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
];

#[derive(Arbitrary, Debug)]
enum Event {
    Data { to_server: bool, bytes: Vec<u8> },
    Gap { to_server: bool, len: u16 },
    Close { to_server: bool },
}

#[derive(Arbitrary, Debug)]
pub struct Input {
    /// 0..3: handshake with `RESPONSES[n]`; 3: none (detection); 4: forced port.
    setup: u8,
    small_messages: bool,
    events: Vec<Event>,
}

fn dir(to_server: bool) -> Direction {
    if to_server {
        Direction::ClientToServer
    } else {
        Direction::ServerToClient
    }
}

/// Runs one input; panics on a broken invariant.
pub fn run(input: &Input) {
    let setup = input.setup % 5;
    let opts = Options {
        messages: true,
        frames: true,
        flows: true,
        max_message_size: if input.small_messages { 100 } else { 1 << 20 },
        include_payload_in_frames: true,
    };
    let client = "10.0.0.1:40000".parse().unwrap();
    let server = "10.0.0.2:8080".parse().unwrap();
    let info = FlowInfo {
        id: 0,
        client,
        server,
        community_id: CommunityId::tcp(client, server),
        encapsulation: Default::default(),
        roles_known: true,
        sub: None,
        carries: if setup == 4 {
            Carries::WebSocket
        } else {
            Carries::Unknown
        },
        tls: None,
        h2: None,
        packets: [0; 2],
    };
    let mut d = Dissector::new("fuzz.pcap".into(), opts);
    let mut packet = 0u64;
    let mut at = || {
        packet += 1;
        Provenance::of(packet, Timestamp::default())
    };
    d.open(&info);
    if setup < 3 {
        d.data(&info, Direction::ClientToServer, REQUEST, at());
        d.data(&info, Direction::ServerToClient, RESPONSES[setup as usize], at());
    }
    for e in input.events.iter().take(256) {
        match e {
            Event::Data { to_server, bytes } => d.data(&info, dir(*to_server), bytes, at()),
            Event::Gap { to_server, len } => {
                d.gap(&info, dir(*to_server), u64::from(*len).max(1), at())
            }
            Event::Close { to_server } => d.close(&info, dir(*to_server), CloseKind::Fin, at()),
        }
        d.drain_records().for_each(drop);
        d.drain_warnings().for_each(drop);
    }
    d.end(&info);
    d.drain_records().for_each(drop);
    d.drain_warnings().for_each(drop);
}
