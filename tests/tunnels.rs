//! Tunnels: a corpus capture whose every packet is wrapped in an encapsulation must
//! decode to the same messages, flows and TCP connections as the capture itself, and
//! its flow and tcp records must name the tunnels.
//!
//! The wrapping is done here, packet by packet (outer Ethernet, IP, UDP, GRE, MPLS,
//! PPPoE headers written by hand or with etherparse's builder, and NFLOG records), with
//! the outer addresses and MPLS labels of the way back differing from the way there, as
//! on a real tunnel. One test also runs a WebSocket exchange through a real Linux VXLAN
//! between two network namespaces (skipped where namespaces cannot be made).

mod common;

use common::*;
use etherparse::{IpNumber, PacketBuilder, SlicedPacket};
use serde_json::{json, Value};
use std::path::Path;
use wsdissect::capture::CaptureReader;

/// One packet of a capture: its time (seconds, nanoseconds) and Ethernet frame.
struct Packet {
    secs: i64,
    nanos: u32,
    frame: Vec<u8>,
}

/// The packets of an Ethernet capture, and whether its timestamps are microseconds.
fn read(path: &Path) -> (Vec<Packet>, bool) {
    let mut r = CaptureReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    let mut micro = true;
    while let Some(p) = r.next_packet().unwrap() {
        assert_eq!(p.linktype, 1, "{}: an Ethernet capture", path.display());
        micro &= p.ts.digits == 6;
        out.push(Packet {
            secs: p.ts.secs,
            nanos: p.ts.nanos,
            frame: p.data.to_vec(),
        });
    }
    (out, micro)
}

/// A pcap file of `linktype` holding `packets` (time, bytes) at the given precision.
fn pcap(linktype: u32, micro: bool, packets: &[(i64, u32, Vec<u8>)]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(if micro { 0xa1b2c3d4u32 } else { 0xa1b23c4d }.to_le_bytes());
    f.extend(2u16.to_le_bytes());
    f.extend(4u16.to_le_bytes());
    f.extend([0; 8]);
    f.extend(262144u32.to_le_bytes());
    f.extend(linktype.to_le_bytes());
    for (secs, nanos, data) in packets {
        let frac = if micro { nanos / 1000 } else { *nanos };
        for v in [*secs as u32, frac, data.len() as u32, data.len() as u32] {
            f.extend(v.to_le_bytes());
        }
        f.extend(data);
    }
    f
}

/// The two tunnel endpoints: the client side's first.
const OUTER: [[u8; 4]; 2] = [[192, 0, 2, 1], [192, 0, 2, 2]];
const OUTER6: [[u8; 16]; 2] = [
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
];

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    f.extend(ethertype.to_be_bytes());
    f.extend(payload);
    f
}

/// Outer IPv4 from the endpoint of direction `back` to the other, carrying `proto`.
fn ipv4(back: bool, proto: u8, payload: &[u8]) -> Vec<u8> {
    let (s, d) = if back { (1, 0) } else { (0, 1) };
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4])
        .ipv4(OUTER[s], OUTER[d], 64)
        .write(&mut out, IpNumber(proto), payload)
        .unwrap();
    out
}

fn ipv6(back: bool, next: u8, payload: &[u8]) -> Vec<u8> {
    let (s, d) = if back { (1, 0) } else { (0, 1) };
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4])
        .ipv6(OUTER6[s], OUTER6[d], 64)
        .write(&mut out, IpNumber(next), payload)
        .unwrap();
    out
}

fn udp(back: bool, dport: u16, payload: &[u8]) -> Vec<u8> {
    let (s, d) = if back { (1, 0) } else { (0, 1) };
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4])
        .ipv4(OUTER[s], OUTER[d], 64)
        .udp(if back { 50001 } else { 50000 }, dport)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// The encapsulations tried, each with what the flow record should say of it (the
/// way there: the client's first packet opens the connection).
#[derive(Clone, Copy, Debug)]
enum Wrap {
    Vxlan,
    Geneve,
    Gre,
    GretapKeyed,
    ErspanII,
    ErspanIII,
    IpInIp,
    IpInIp6,
    Mpls,
    Pppoe,
    VxlanInMpls,
}

const ALL: [Wrap; 11] = [
    Wrap::Vxlan,
    Wrap::Geneve,
    Wrap::Gre,
    Wrap::GretapKeyed,
    Wrap::ErspanII,
    Wrap::ErspanIII,
    Wrap::IpInIp,
    Wrap::IpInIp6,
    Wrap::Mpls,
    Wrap::Pppoe,
    Wrap::VxlanInMpls,
];

fn v4(a: [u8; 4]) -> String {
    std::net::Ipv4Addr::from(a).to_string()
}

fn v6(a: [u8; 16]) -> String {
    std::net::Ipv6Addr::from(a).to_string()
}

impl Wrap {
    /// `frame` (an Ethernet frame whose payload is IP of `ethertype`) wrapped, sent on
    /// the way back when `back`.
    fn apply(self, frame: &[u8], back: bool) -> Vec<u8> {
        let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        let ip = &frame[14..];
        let ipip = if ethertype == 0x86dd { 41 } else { 4 };
        match self {
            Wrap::Vxlan => udp(back, 4789, &[&[0x08, 0, 0, 0, 0, 0, 42, 0], frame].concat()),
            Wrap::Geneve => {
                let opts = [0x01, 0x08, 0x01, 0x01, 0xde, 0xad, 0xbe, 0xef];
                let h = [0x02, 0, 0x65, 0x58, 0, 0x01, 0x00, 0];
                udp(back, 6081, &[&h[..], &opts, frame].concat())
            }
            Wrap::Gre => {
                let h = [[0u8, 0], ethertype.to_be_bytes()].concat();
                ipv4(back, 47, &[&h[..], ip].concat())
            }
            Wrap::GretapKeyed => {
                let h = [0x20, 0, 0x65, 0x58, 0, 0, 0x01, 0x00];
                ipv6(back, 47, &[&h[..], frame].concat())
            }
            Wrap::ErspanII => {
                let h = [
                    0x10, 0, 0x88, 0xbe, 0, 0, 0, 1, 0x10, 0, 0x00, 0x07, 0, 0, 0, 0,
                ];
                ipv4(back, 47, &[&h[..], frame].concat())
            }
            Wrap::ErspanIII => {
                let gre = [0x10, 0, 0x22, 0xeb, 0, 0, 0, 1];
                let h = [0x20, 0, 0x00, 0x09, 0, 0, 0, 0, 0, 0, 0, 0x01];
                ipv4(back, 47, &[&gre[..], &h, &[0; 8], frame].concat())
            }
            Wrap::IpInIp => ipv4(back, ipip, ip),
            Wrap::IpInIp6 => ipv6(back, ipip, ip),
            Wrap::Mpls => {
                // Labels are local to each hop: the way back has its own.
                let (outer, inner): (u32, u32) = if back { (300, 400) } else { (100, 200) };
                let top = (outer << 12 | 64).to_be_bytes();
                let bottom = (inner << 12 | 0x100 | 64).to_be_bytes();
                eth(0x8847, &[&top[..], &bottom, ip].concat())
            }
            Wrap::Pppoe => {
                let proto: u16 = if ethertype == 0x86dd { 0x0057 } else { 0x0021 };
                let len = (ip.len() + 2) as u16;
                let h = [0x11, 0, 0x00, 0x05];
                eth(
                    0x8864,
                    &[&h[..], &len.to_be_bytes(), &proto.to_be_bytes(), ip].concat(),
                )
            }
            Wrap::VxlanInMpls => {
                let vx = Wrap::Vxlan.apply(frame, back);
                let label = (16u32 << 12 | 0x100 | 64).to_be_bytes();
                eth(0x8847, &[&label[..], &vx[14..]].concat())
            }
        }
    }

    /// The `encapsulation` the flow and tcp records show.
    fn expected(self) -> Value {
        let o4 = |t: Value| {
            let mut t = t;
            t["outer_src"] = json!(v4(OUTER[0]));
            t["outer_dst"] = json!(v4(OUTER[1]));
            t
        };
        let o6 = |t: Value| {
            let mut t = t;
            t["outer_src"] = json!(v6(OUTER6[0]));
            t["outer_dst"] = json!(v6(OUTER6[1]));
            t
        };
        match self {
            Wrap::Vxlan => json!([o4(json!({"type": "vxlan", "vni": 42}))]),
            Wrap::Geneve => json!([o4(json!({"type": "geneve", "vni": 256}))]),
            Wrap::Gre => json!([o4(json!({"type": "gre"}))]),
            Wrap::GretapKeyed => json!([o6(json!({"type": "gre", "key": 256}))]),
            Wrap::ErspanII => {
                json!([o4(
                    json!({"type": "erspan", "erspan_type": 2, "session_id": 7})
                )])
            }
            Wrap::ErspanIII => {
                json!([o4(
                    json!({"type": "erspan", "erspan_type": 3, "session_id": 9})
                )])
            }
            Wrap::IpInIp => json!([o4(json!({"type": "ip_in_ip"}))]),
            Wrap::IpInIp6 => json!([o6(json!({"type": "ip_in_ip"}))]),
            Wrap::Mpls => json!([{"type": "mpls", "label": 100}, {"type": "mpls", "label": 200}]),
            Wrap::Pppoe => json!([{"type": "pppoe", "session_id": 5}]),
            Wrap::VxlanInMpls => json!([
                {"type": "mpls", "label": 16},
                o4(json!({"type": "vxlan", "vni": 42}))
            ]),
        }
    }
}

/// The inner (address, port) a frame is sent from, and whether it is a SYN (without ACK).
fn sender(frame: &[u8]) -> Option<((std::net::IpAddr, u16), bool)> {
    let p = SlicedPacket::from_ethernet(frame).ok()?;
    let ip = match p.net? {
        etherparse::NetSlice::Ipv4(v) => std::net::IpAddr::from(v.header().source_addr()),
        etherparse::NetSlice::Ipv6(v) => std::net::IpAddr::from(v.header().source_addr()),
    };
    match p.transport? {
        etherparse::TransportSlice::Tcp(t) => Some(((ip, t.source_port()), t.syn() && !t.ack())),
        _ => None,
    }
}

/// Every packet of `packets` wrapped by `f`, told whether it goes the way back: the way
/// there is the clients' (the senders of SYNs).
fn wrapped(packets: &[Packet], f: impl Fn(&[u8], bool) -> Vec<u8>) -> Vec<(i64, u32, Vec<u8>)> {
    let mut clients = std::collections::HashSet::new();
    packets
        .iter()
        .map(|p| {
            let (from, syn) = sender(&p.frame).expect("a TCP packet");
            if syn {
                clients.insert(from);
            }
            (p.secs, p.nanos, f(&p.frame, !clients.contains(&from)))
        })
        .collect()
}

/// The records of `view` (empty for messages) on `path`, without the file name.
fn records(view: &str, path: &Path) -> Vec<Value> {
    let p = path.to_str().unwrap();
    let mut args = vec!["--format", "jsonl", "--quiet", p];
    if !view.is_empty() {
        args.insert(0, view);
    }
    let mut rs = jsonl(&args);
    for r in &mut rs {
        r.as_object_mut().unwrap().remove("file");
    }
    rs
}

/// `wrapped` decodes to the records of `original`, but for the flow and tcp records'
/// `encapsulation`, which must be `encap`.
fn same_as_original(original: &Path, wrapped: &Path, encap: &Value, what: &str) {
    let (m0, m1) = (records("", original), records("", wrapped));
    assert!(!m0.is_empty());
    assert_eq!(m0, m1, "{what}: messages");
    for view in ["flows", "tcp"] {
        let (r0, mut r1) = (records(view, original), records(view, wrapped));
        assert!(!r0.is_empty());
        for r in &mut r1 {
            let e = r.as_object_mut().unwrap().remove("encapsulation");
            assert_eq!(e.as_ref(), Some(encap), "{what}: {view} record {r}");
        }
        assert_eq!(r0, r1, "{what}: {view} records");
    }
}

fn each_encapsulation(name: &str) {
    let original = testdata().join("corpus").join(name);
    let (packets, micro) = read(&original);
    let dir = tempfile::tempdir().unwrap();
    for w in ALL {
        let path = dir.path().join(format!("{w:?}.pcap"));
        let out = wrapped(&packets, |f, back| w.apply(f, back));
        std::fs::write(&path, pcap(1, micro, &out)).unwrap();
        same_as_original(&original, &path, &w.expected(), &format!("{name} {w:?}"));
    }
}

#[test]
fn every_encapsulation_decodes_like_the_plain_capture_ipv4() {
    each_encapsulation("01-python-websockets-deflate.pcap");
}

#[test]
fn every_encapsulation_decodes_like_the_plain_capture_ipv6() {
    each_encapsulation("07-ipv6.pcapng");
}

/// Linux NFLOG (link type 239): the IP packets in NFLOG records, with a prefix
/// attribute before the packet, TLVs in little-endian (an x86 capture). Not a tunnel:
/// the records say no encapsulation.
#[test]
fn nflog_decodes_like_the_plain_capture() {
    let original = testdata()
        .join("corpus")
        .join("01-python-websockets-deflate.pcap");
    let (packets, micro) = read(&original);
    let out = wrapped(&packets, |frame, _| {
        let ip = &frame[14..];
        let mut r = vec![2, 0, 0, 7];
        r.extend(8u16.to_le_bytes());
        r.extend(10u16.to_le_bytes());
        r.extend(b"ws\0\0");
        r.extend((4 + ip.len() as u16).to_le_bytes());
        r.extend(9u16.to_le_bytes());
        r.extend(ip);
        r
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nflog.pcap");
    std::fs::write(&path, pcap(239, micro, &out)).unwrap();
    assert_eq!(records("", &original), records("", &path));
    for view in ["flows", "tcp"] {
        let rs = records(view, &path);
        assert!(rs.iter().all(|r| r.get("encapsulation").is_none()));
        assert_eq!(records(view, &original), rs);
    }
}

/// A capture on a tunnel endpoint taken on every interface sees each packet twice: in
/// the tunnel and out of it. The bytes are the same (retransmissions), the connection
/// one; the tcp record counts the packets that came otherwise than each direction's
/// first.
#[test]
fn a_packet_seen_inside_and_outside_its_tunnel() {
    let original = testdata()
        .join("corpus")
        .join("01-python-websockets-deflate.pcap");
    let (packets, micro) = read(&original);
    let mut out = Vec::new();
    for (p, (secs, nanos, vx)) in packets
        .iter()
        .zip(wrapped(&packets, |f, back| Wrap::Vxlan.apply(f, back)))
    {
        out.push((secs, nanos, vx));
        out.push((p.secs, p.nanos, p.frame.clone()));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twice.pcap");
    std::fs::write(&path, pcap(1, micro, &out)).unwrap();
    let msgs = |rs: Vec<Value>| -> Vec<Value> {
        rs.into_iter()
            .map(|mut r| {
                let o = r.as_object_mut().unwrap();
                o.remove("packets");
                o.remove("timestamp");
                r
            })
            .collect()
    };
    assert_eq!(msgs(records("", &original)), msgs(records("", &path)));
    let tcp = records("tcp", &path);
    assert_eq!(tcp.len(), 1);
    assert_eq!(tcp[0]["encapsulation"], Wrap::Vxlan.expected());
    for dir in ["client_to_server", "server_to_client"] {
        let packets = tcp[0][dir]["packets"].as_u64().unwrap();
        assert_eq!(
            tcp[0][dir]["encapsulation_mismatches"].as_u64(),
            Some(packets / 2),
            "{dir}"
        );
    }
}

/// The Community ID of each connection is the one Wireshark computes (`communityid`
/// dissector, seed 0), on IPv4 and IPv6, and the same on every record of the connection.
#[test]
fn community_id_matches_tshark() {
    if !have_tshark("community_id_matches_tshark") {
        return;
    }
    for name in ["01-python-websockets-deflate.pcap", "07-ipv6.pcapng"] {
        let path = testdata().join("corpus").join(name);
        let out = std::process::Command::new("tshark")
            .args([
                "-r",
                path.to_str().unwrap(),
                "--enable-protocol",
                "communityid",
            ])
            .args(["-T", "fields", "-e", "tcp.stream", "-e", "communityid"])
            .output()
            .unwrap();
        let theirs: std::collections::BTreeMap<u64, String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| {
                let (s, id) = l.split_once('\t')?;
                Some((s.parse().ok()?, id.to_string()))
            })
            .collect();
        assert!(!theirs.is_empty(), "{name}: tshark printed no Community ID");
        for view in ["", "flows", "tcp"] {
            for r in records(view, &path) {
                let flow = r["flow"].as_u64().unwrap();
                assert_eq!(
                    r["community_id"].as_str(),
                    theirs.get(&flow).map(String::as_str),
                    "{name} {view}: {r}"
                );
            }
        }
    }
}

/// The WebSocket peers of the real-tunnel test: `server HOST PORT` answers one upgrade,
/// echoes one text message and answers the close; `client HOST PORT IFACE OUT` captures
/// IFACE (AF_PACKET, both ways) while it talks to the server, and writes a pcap.
const PEERS: &str = r#"
import base64, hashlib, os, socket, struct, sys, time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

def frame(opcode, payload, mask):
    key = os.urandom(4) if mask else b""
    head = bytes([0x80 | opcode, (0x80 if mask else 0) | len(payload)]) + key
    if mask:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload

def read_frame(s):
    h = s.recv(2, socket.MSG_WAITALL)
    key = s.recv(4, socket.MSG_WAITALL) if h[1] & 0x80 else None
    n = h[1] & 0x7F
    p = s.recv(n, socket.MSG_WAITALL) if n else b""
    if key:
        p = bytes(b ^ key[i % 4] for i, b in enumerate(p))
    return p

def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(1)
        if not c:
            raise SystemExit("connection closed in the handshake")
        buf += c
    return buf.decode()

def server(host, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, int(port)))
    ls.listen(1)
    ls.settimeout(10)
    c, _ = ls.accept()
    key = [l.split(":", 1)[1].strip() for l in read_head(c).split("\r\n")
           if l.lower().startswith("sec-websocket-key:")][0]
    accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
    c.sendall(frame(1, b"echo: " + read_frame(c), False))
    c.sendall(frame(8, read_frame(c), False))
    c.close()

def client(host, port, iface, out):
    cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    cap.bind((iface, 0))
    cap.settimeout(0.3)
    deadline = time.time() + 10
    while True:
        try:
            s = socket.create_connection((host, int(port)), timeout=2)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)
    s.sendall(b"GET /tunnel HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    read_head(s)
    s.sendall(frame(1, b"hello through the tunnel", True))
    read_frame(s)
    s.sendall(frame(8, struct.pack("!H", 1000) + b"bye", True))
    read_frame(s)
    s.close()
    packets = []
    while True:
        try:
            packets.append((time.time(), cap.recv(65535)))
        except socket.timeout:
            break
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, d in packets:
            f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(d), len(d)))
            f.write(d)

{"server": server, "client": client}[sys.argv[1]](*sys.argv[2:])
"#;

/// Two network namespaces joined by a veth pair (192.0.2.1 and .2), deleted on drop.
struct Namespaces([String; 2]);

impl Namespaces {
    /// The pair, or why it cannot be made here (not root, no namespaces, no `ip`).
    fn new() -> Result<Namespaces, String> {
        let id = std::process::id();
        let ns = Namespaces([format!("wsd{id}a"), format!("wsd{id}b")]);
        for n in &ns.0 {
            ip(&["netns", "add", n])?;
        }
        let [a, b] = &ns.0;
        ip(&[
            "link", "add", "vA", "netns", a, "type", "veth", "peer", "name", "vB", "netns", b,
        ])?;
        for (n, dev, addr) in [(a, "vA", "192.0.2.1/24"), (b, "vB", "192.0.2.2/24")] {
            ip(&["-n", n, "addr", "add", addr, "dev", dev])?;
            ip(&["-n", n, "link", "set", dev, "up"])?;
        }
        Ok(ns)
    }

    /// A tunnel device `dev` of `kind` (`ip link add` arguments after `type`, where
    /// LOCAL and REMOTE stand for the underlay addresses) in both, with inner addresses
    /// `net`.1 and `net`.2.
    fn tunnel(&self, dev: &str, kind: &[&str], net: &str) -> Result<(), String> {
        let ends = [("192.0.2.1", "192.0.2.2"), ("192.0.2.2", "192.0.2.1")];
        for (i, (n, (local, remote))) in self.0.iter().zip(ends).enumerate() {
            let mut args = vec!["-n", n, "link", "add", dev, "type"];
            args.extend(kind.iter().map(|a| match *a {
                "LOCAL" => local,
                "REMOTE" => remote,
                a => a,
            }));
            ip(&args)?;
            let addr = format!("{net}.{}/24", i + 1);
            ip(&["-n", n, "addr", "add", &addr, "dev", dev])?;
            ip(&["-n", n, "link", "set", dev, "up"])?;
        }
        Ok(())
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = ip(&["netns", "del", n]);
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A WebSocket exchange through a real Linux VXLAN between two network namespaces,
/// captured on the underlay: the messages the peers sent, and the tunnel on the flow
/// record. Needs root (as CI runs) and the vxlan module; skipped with a message where
/// namespaces or the tunnel device cannot be made.
#[test]
fn real_vxlan_between_network_namespaces() {
    let made = Namespaces::new().and_then(|ns| {
        let vxlan = [
            "vxlan", "id", "42", "local", "LOCAL", "remote", "REMOTE", "dstport", "4789",
        ];
        ns.tunnel("vx0", &vxlan, "10.9.0").map(|()| ns)
    });
    let ns = match made {
        Ok(ns) => ns,
        Err(why) => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "real_vxlan_between_network_namespaces: skipped: {why}"
            );
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("peers.py");
    std::fs::write(&script, PEERS).unwrap();
    let exec = |n: &str| {
        let mut c = std::process::Command::new("ip");
        c.args(["netns", "exec", n, "python3"]).arg(&script);
        c
    };
    let mut server = exec(&ns.0[1])
        .args(["server", "10.9.0.2", "8080"])
        .spawn()
        .unwrap();
    let pcap = dir.path().join("vxlan.pcap");
    let client = exec(&ns.0[0])
        .args(["client", "10.9.0.2", "8080", "vA"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(server.wait().unwrap().success(), "server failed");
    assert!(
        client.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&client.stderr)
    );
    let texts: Vec<Value> = records("", &pcap)
        .iter()
        .map(|m| m.get("text").unwrap_or(&m["close_reason"]).clone())
        .collect();
    let said = [
        "hello through the tunnel",
        "echo: hello through the tunnel",
        "bye",
        "bye",
    ];
    assert_eq!(texts, said.map(|t| json!(t)));
    let want = json!([{
        "type": "vxlan",
        "vni": 42,
        "outer_src": "192.0.2.1",
        "outer_dst": "192.0.2.2"
    }]);
    let flows = records("flows", &pcap);
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["encapsulation"], want);
    assert_eq!(flows[0]["accept_valid"], json!(true));
    assert!(flows[0]["client"]
        .as_str()
        .unwrap()
        .starts_with("10.9.0.1:"));
    // Connection attempts refused before the server listened are connections too.
    let tcp = records("tcp", &pcap);
    assert!(tcp.iter().all(|t| t["encapsulation"] == want));
    let ws = tcp.iter().find(|t| t["flow"] == flows[0]["flow"]).unwrap();
    assert_eq!(ws["community_id"], flows[0]["community_id"]);
}

/// The Parquet flow and tcp records carry the encapsulation as the JSON does: a list of
/// structs, the fields a tunnel kind lacks null.
#[cfg(feature = "columnar")]
#[test]
fn parquet_carries_the_encapsulation() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::UInt32Type;
    use arrow_array::Array;
    let original = testdata().join("corpus/01-python-websockets-deflate.pcap");
    let (packets, micro) = read(&original);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vxlan.pcap");
    let out = wrapped(&packets, |f, back| Wrap::Vxlan.apply(f, back));
    std::fs::write(&path, pcap(1, micro, &out)).unwrap();
    let expected = Wrap::Vxlan.expected();
    for view in ["flows", "tcp"] {
        let file = dir.path().join(format!("{view}.parquet"));
        let o = wsdissect(&[
            view,
            "-q",
            "--format",
            "parquet",
            "--output",
            file.to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        let f = std::fs::File::open(&file).unwrap();
        let batches: Vec<_> =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                .unwrap()
                .build()
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let b = &batches[0];
        let list = b.column_by_name("encapsulation").unwrap().as_list::<i32>();
        let tunnels = list.value(0);
        let s = tunnels.as_struct();
        assert_eq!(s.len(), 1, "{view}: one tunnel");
        let kind = arrow_cast_text(s.column_by_name("type").unwrap().as_ref());
        assert_eq!(kind, expected[0]["type"].as_str().unwrap(), "{view}");
        let vni = s
            .column_by_name("vni")
            .unwrap()
            .as_primitive::<UInt32Type>();
        assert_eq!(
            u64::from(vni.value(0)),
            expected[0]["vni"].as_u64().unwrap()
        );
        assert!(
            s.column_by_name("label").unwrap().is_null(0),
            "{view}: no MPLS label"
        );
        let src = s.column_by_name("outer_src").unwrap().as_string::<i32>();
        assert_eq!(src.value(0), expected[0]["outer_src"].as_str().unwrap());
    }
}

/// The text of row 0 of a dictionary-encoded or plain string column.
#[cfg(feature = "columnar")]
fn arrow_cast_text(a: &dyn arrow_array::Array) -> String {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int32Type;
    match a.as_dictionary_opt::<Int32Type>() {
        Some(d) => {
            let k = d.keys().value(0) as usize;
            d.values().as_string::<i32>().value(k).to_string()
        }
        None => a.as_string::<i32>().value(0).to_string(),
    }
}
