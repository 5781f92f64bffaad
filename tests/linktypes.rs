//! Every supported link type and container variant must yield the same TCP streams.
//!
//! A real Ethernet capture is rewritten, packet by packet, into each link type (raw IP,
//! IPv4, NULL/LOOP in both byte orders, Linux cooked v1/v2, 802.1Q and QinQ) and each
//! container (pcap µs/ns in both byte orders, pcapng with a second section and an
//! interface using another timestamp resolution); the streams dumped must equal the
//! original's byte for byte.

mod common;

use common::*;
use std::path::Path;

/// (timestamp ns, Ethernet frame) of every packet of a little-endian µs pcap.
fn read_ethernet_pcap(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    assert_eq!(u32::from_le_bytes(b[20..24].try_into().unwrap()), 1);
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= b.len() {
        let sec = u32::from_le_bytes(b[i..i + 4].try_into().unwrap()) as u64;
        let usec = u32::from_le_bytes(b[i + 4..i + 8].try_into().unwrap()) as u64;
        let len = u32::from_le_bytes(b[i + 8..i + 12].try_into().unwrap()) as usize;
        out.push((
            sec * 1_000_000_000 + usec * 1000,
            b[i + 16..i + 16 + len].to_vec(),
        ));
        i += 16 + len;
    }
    out
}

fn relink(linktype: u32, eth: &[u8], big_endian_null: bool) -> Vec<u8> {
    let ethertype = [eth[12], eth[13]];
    let ip = &eth[14..];
    let mut out = Vec::new();
    match linktype {
        1 => out.extend_from_slice(eth),
        101 | 228 => out.extend_from_slice(ip),
        0 | 108 => {
            let af = 2u32;
            out.extend(if big_endian_null || linktype == 108 {
                af.to_be_bytes()
            } else {
                af.to_le_bytes()
            });
            out.extend_from_slice(ip);
        }
        113 => {
            out.extend([0, 0, 0, 1, 0, 6]);
            out.extend_from_slice(&eth[6..12]);
            out.extend([0, 0]);
            out.extend(ethertype);
            out.extend_from_slice(ip);
        }
        276 => {
            out.extend(ethertype);
            out.extend([0, 0, 0, 0, 0, 1, 0, 1, 0, 6]);
            out.extend_from_slice(&eth[6..12]);
            out.extend([0, 0]);
            out.extend_from_slice(ip);
        }
        _ => unreachable!(),
    }
    out
}

fn vlan(eth: &[u8], tags: &[u16]) -> Vec<u8> {
    let mut out = eth[..12].to_vec();
    for (i, t) in tags.iter().enumerate() {
        let tpid: u16 = if i == 0 && tags.len() == 2 {
            0x88a8
        } else {
            0x8100
        };
        out.extend(tpid.to_be_bytes());
        out.extend(t.to_be_bytes());
    }
    out.extend_from_slice(&eth[12..]);
    out
}

fn pcap(packets: &[(u64, Vec<u8>)], linktype: u32, nano: bool, be: bool) -> Vec<u8> {
    let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut f = Vec::new();
    f.extend(w32(if nano { 0xa1b23c4d } else { 0xa1b2c3d4 }));
    f.extend(if be { [0, 2, 0, 4] } else { [2, 0, 4, 0] });
    f.extend(w32(0));
    f.extend(w32(0));
    f.extend(w32(262144));
    f.extend(w32(linktype));
    for (ts, data) in packets {
        let frac = if nano {
            ts % 1_000_000_000
        } else {
            ts % 1_000_000_000 / 1000
        };
        f.extend(w32((ts / 1_000_000_000) as u32));
        f.extend(w32(frac as u32));
        f.extend(w32(data.len() as u32));
        f.extend(w32(data.len() as u32));
        f.extend(data);
    }
    f
}

fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    let len = (body.len() + 12) as u32;
    let mut b = kind.to_le_bytes().to_vec();
    b.extend(len.to_le_bytes());
    b.extend(&body);
    b.extend(len.to_le_bytes());
    b
}

/// pcapng: packets alternate between two interfaces (Ethernet at µs, SLL2 at ns), and the
/// second half of the packets is in a second section.
fn pcapng(packets: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let shb = {
        let mut body = 0x1a2b3c4du32.to_le_bytes().to_vec();
        body.extend([1, 0, 0, 0]);
        body.extend((-1i64).to_le_bytes());
        ng_block(0x0a0d0d0a, &body)
    };
    let idb = |lt: u16, tsresol: u8| {
        let mut body = lt.to_le_bytes().to_vec();
        body.extend([0, 0, 0, 0, 4, 0]);
        body.extend([9, 0, 1, 0, tsresol, 0, 0, 0, 0, 0, 0, 0]);
        ng_block(1, &body)
    };
    let mut f = Vec::new();
    let half = packets.len() / 2;
    for (i, (ts, eth)) in packets.iter().enumerate() {
        if i == 0 || i == half {
            f.extend(&shb);
            f.extend(idb(1, 6));
            f.extend(idb(276, 9));
        }
        let (ifid, units, data) = if i % 2 == 0 {
            (0u32, ts / 1000, eth.clone())
        } else {
            (1u32, *ts, relink(276, eth, false))
        };
        let mut body = ifid.to_le_bytes().to_vec();
        body.extend(((units >> 32) as u32).to_le_bytes());
        body.extend((units as u32).to_le_bytes());
        body.extend((data.len() as u32).to_le_bytes());
        body.extend((data.len() as u32).to_le_bytes());
        body.extend(&data);
        f.extend(ng_block(6, &body));
    }
    f
}

fn dump(file: &Path) -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let out = wsdissect(&[
        "tcp",
        "--quiet",
        "--format",
        "jsonl",
        "--dump-dir",
        dir.path().to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_link_type_and_container_gives_the_same_streams() {
    let src = testdata().join("public/zeek/testing/btest/Traces/websocket/broker-websocket.pcap");
    let packets = read_ethernet_pcap(&src);
    let expected = dump(&src);
    assert!(expected.iter().map(|(_, b)| b.len()).sum::<usize>() > 1000);
    let tmp = tempfile::tempdir().unwrap();
    let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
    for (lt, be_null) in [
        (101, false),
        (228, false),
        (0, false),
        (0, true),
        (108, false),
        (113, false),
        (276, false),
    ] {
        let p: Vec<_> = packets
            .iter()
            .map(|(t, e)| (*t, relink(lt, e, be_null)))
            .collect();
        variants.push((format!("lt{lt}-{be_null}.pcap"), pcap(&p, lt, false, false)));
    }
    for tags in [&[5u16][..], &[5, 6][..]] {
        let p: Vec<_> = packets.iter().map(|(t, e)| (*t, vlan(e, tags))).collect();
        variants.push((
            format!("vlan{}.pcap", tags.len()),
            pcap(&p, 1, false, false),
        ));
    }
    for (nano, be) in [(true, false), (false, true), (true, true)] {
        variants.push((format!("eth-{nano}-{be}.pcap"), pcap(&packets, 1, nano, be)));
    }
    variants.push(("multi.pcapng".into(), pcapng(&packets)));
    for (name, bytes) in variants {
        let path = tmp.path().join(&name);
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(dump(&path), expected, "{name}");
    }
}

#[test]
fn standard_input_is_read() {
    let src = testdata().join("public/zeek/testing/btest/Traces/websocket/broker-websocket.pcap");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wsdissect"))
        .args(["tcp", "--format", "jsonl", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let data = std::fs::read(&src).unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&data).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains("\"state\":\"closed\""));
}

#[test]
fn unsupported_link_type_is_reported_once_per_interface() {
    let src = testdata().join("public/zeek/testing/btest/Traces/websocket/broker-websocket.pcap");
    let packets = read_ethernet_pcap(&src);
    // Every packet on an interface of link type 147 (user-defined): one warning, not 21.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("user147.pcap");
    std::fs::write(&path, pcap(&packets, 147, false, false)).unwrap();
    let out = wsdissect(&["tcp", "--format", "jsonl", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("unsupported link type 147").count(), 1, "{err}");
    assert!(err.contains("user147.pcap: packet 1:"), "{err}");
    assert!(out.stdout.is_empty());
}
