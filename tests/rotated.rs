//! Rotated capture sets written by tcpdump while real peers talked (testdata/corpus/27-rotated:
//! `tcpdump -C 1`, four files of about 1 MB; 28-rotated-time: `tcpdump -G 1`, one file per
//! second, the first one empty). Frames, messages, deflate contexts and a handshake straddle
//! the files (manifest.json, `set.straddling`). Read together, in any order or as their
//! directory, the files must give exactly the messages the peers sent, as the unsplit capture
//! would; every record's `file` and `packets` must name the packets that carried it; and each
//! file decoded on its own (`--each-file`) gives fewer messages, none of them wrong.

mod common;

use base64::Engine;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The rotated sets of the corpus: (directory name, truth file inside it).
const SETS: [&str; 2] = ["27-rotated", "28-rotated-time"];

fn set_dir(name: &str) -> PathBuf {
    testdata().join("corpus").join(name)
}

/// The set's capture files in name order (tcpdump's order: `X.pcap`, `X.pcap1`, ... for -C,
/// `X-<epoch>.pcap` for -G; fewer than ten files, so name order is writing order).
fn set_files(name: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(set_dir(name))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".pcap"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{name}: only {} files", files.len());
    files
}

fn truth(name: &str) -> BTreeMap<Key, Vec<Value>> {
    truth_by_direction(&set_dir(name).join(format!("{name}.truth.jsonl")))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs wsdissect (its `view`, or the messages) with `--strict` (no problem of any kind
/// allowed) and parses its output.
fn strict_jsonl(view: Option<&str>, args: &[&str]) -> Vec<Value> {
    let mut all: Vec<&str> = view.into_iter().collect();
    all.extend(["--strict", "--quiet", "--format", "jsonl"]);
    all.extend(args);
    let out = wsdissect(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "wsdissect {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// `payload` and `same` as in tests/corpus.rs: a decoded message against its truth record.

fn payload(m: &Value) -> Option<Vec<u8>> {
    if let Some(t) = m["text"].as_str() {
        Some(t.as_bytes().to_vec())
    } else {
        m["data_b64"]
            .as_str()
            .map(|b| base64::engine::general_purpose::STANDARD.decode(b).unwrap())
    }
}

fn same(ours: &Value, truth: &Value) -> Result<(), String> {
    let p = payload(ours).ok_or("no payload decoded")?;
    if ours["opcode"] != truth["opcode"] {
        return Err(format!("opcode {} vs {}", ours["opcode"], truth["opcode"]));
    }
    if p.len() as u64 != truth["length"].as_u64().unwrap() {
        return Err(format!("length {} vs {}", p.len(), truth["length"]));
    }
    if sha(&p) != truth["sha256"].as_str().unwrap() {
        return Err("payload differs".into());
    }
    if truth["opcode"] == "close" {
        if ours.get("close_code").cloned().unwrap_or(Value::Null) != truth["close_code"] {
            return Err(format!(
                "close code {} vs {}",
                ours["close_code"], truth["close_code"]
            ));
        }
        let reason = ours.get("close_reason").cloned().unwrap_or(Value::Null);
        if !truth["close_reason"].as_str().unwrap_or("").is_empty()
            && reason != truth["close_reason"]
        {
            return Err(format!(
                "close reason {reason} vs {}",
                truth["close_reason"]
            ));
        }
    }
    if let Some(f) = truth["fragments"].as_u64() {
        if ours["frames"].as_u64() != Some(f) {
            return Err(format!("frames {} vs fragments {f}", ours["frames"]));
        }
    }
    if let Some(c) = truth["compressed"].as_bool() {
        if ours["compressed"].as_bool() != Some(c) {
            return Err(format!("compressed {} vs {c}", ours["compressed"]));
        }
    }
    Ok(())
}

/// Every message the peers sent, in order per connection and direction, byte for byte,
/// without errors, and nothing else. Returns how many messages spanned files.
fn assert_exact(what: &str, records: &[Value], truth: &BTreeMap<Key, Vec<Value>>) -> usize {
    let mut ours: BTreeMap<Key, Vec<&Value>> = BTreeMap::new();
    for r in records.iter().filter(|r| r["record"] == "message") {
        ours.entry(key_of(r)).or_default().push(r);
    }
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        truth.keys().collect::<Vec<_>>(),
        "{what}: connections and directions"
    );
    let mut spanning = 0;
    for (k, t) in truth {
        let o = &ours[k];
        assert_eq!(o.len(), t.len(), "{what}: {k:?}: messages decoded vs sent");
        for (i, (om, tm)) in o.iter().zip(t).enumerate() {
            assert!(
                om["errors"].as_array().unwrap().is_empty() && om.get("undecodable").is_none(),
                "{what}: {k:?} #{i}: {om}"
            );
            if let Err(e) = same(om, tm) {
                panic!("{what}: {k:?} message #{i}: {e}\nours: {om}\ntruth: {tm}");
            }
            spanning += usize::from(om.get("first_file").is_some());
        }
    }
    spanning
}

#[test]
fn set_in_any_order_or_as_directory_decodes_exactly_what_the_peers_sent() {
    for name in SETS {
        let truth = truth(name);
        let files = set_files(name);
        let forward: Vec<&str> = files.iter().map(|p| s(p)).collect();
        let backward: Vec<&str> = forward.iter().rev().copied().collect();
        let dir = set_dir(name);
        let runs = [
            ("name order", strict_jsonl(None, &forward)),
            ("reverse order", strict_jsonl(None, &backward)),
            ("directory", strict_jsonl(None, &[s(&dir)])),
        ];
        for (how, records) in &runs {
            let spanning = assert_exact(&format!("{name} ({how})"), records, &truth);
            eprintln!(
                "{name} ({how}): {} messages exact, {spanning} spanning files",
                records.iter().filter(|r| r["record"] == "message").count()
            );
            // The -C set has messages across every boundary (manifest: set.straddling).
            if name == "27-rotated" {
                assert!(
                    spanning >= 3,
                    "{name} ({how}): {spanning} messages span files"
                );
            }
        }
        // The order the files are given in does not matter at all.
        assert!(runs[0].1 == runs[1].1, "{name}: reverse order differs");
        assert!(runs[0].1 == runs[2].1, "{name}: directory differs");
    }
}

/// One packet of a capture file: its time (ns since the epoch) and, for TCP, the ports,
/// flags, sequence number and payload length.
struct Packet {
    time: i128,
    tcp: Option<(u16, u16, u8, u32, usize)>,
}

/// The packets of a pcap file (microsecond or nanosecond, Ethernet, IPv4), read here
/// independently of wsdissect.
fn read_pcap(path: &Path) -> Vec<Packet> {
    let d = std::fs::read(path).unwrap();
    let (le, nano) = match d[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        _ => panic!("{}: not a pcap file", path.display()),
    };
    let u32_at = |p: usize| {
        let b = [d[p], d[p + 1], d[p + 2], d[p + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    assert_eq!(u32_at(20), 1, "{}: not Ethernet", path.display());
    let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    let mut out = Vec::new();
    let mut pos = 24;
    while pos + 16 <= d.len() {
        let frac = i128::from(u32_at(pos + 4)) * if nano { 1 } else { 1000 };
        let time = i128::from(u32_at(pos)) * 1_000_000_000 + frac;
        let incl = u32_at(pos + 8) as usize;
        let f = &d[pos + 16..pos + 16 + incl];
        pos += 16 + incl;
        let mut tcp = None;
        if f.len() >= 34 && f[12..14] == [8, 0] && f[23] == 6 {
            let ip = &f[14..];
            let ihl = usize::from(ip[0] & 15) * 4;
            let t = &ip[ihl..usize::from(be16(&ip[2..4]))];
            let seq = u32::from_be_bytes([t[4], t[5], t[6], t[7]]);
            let off = usize::from(t[12] >> 4) * 4;
            tcp = Some((be16(&t[0..2]), be16(&t[2..4]), t[13], seq, t.len() - off));
        }
        out.push(Packet { time, tcp });
    }
    out
}

/// A TCP direction: client port, direction name.
type Dir = (u64, String);

/// Where a packet's new bytes start in its direction's stream, its file (index) and its
/// number in that file (from 1).
type Carrier = (u64, usize, u64);

/// The set as read from its files: per file its packets; per TCP direction which packet
/// first carried each byte of the stream.
struct SetMap {
    names: Vec<String>,
    packets: Vec<Vec<Packet>>,
    carriers: HashMap<Dir, Vec<Carrier>>,
}

impl SetMap {
    fn new(files: &[PathBuf]) -> SetMap {
        let packets: Vec<Vec<Packet>> = files.iter().map(|f| read_pcap(f)).collect();
        // Roles and initial sequence numbers from the SYNs (every connection starts in the set).
        let mut isn: HashMap<(u16, u16), u32> = HashMap::new();
        let mut clients = std::collections::HashSet::new();
        for p in packets.iter().flatten() {
            if let Some((sp, dp, flags, seq, _)) = p.tcp {
                if flags & 2 != 0 {
                    isn.insert((sp, dp), seq);
                    if flags & 16 == 0 {
                        clients.insert(sp);
                    }
                }
            }
        }
        // Per direction: (stream offset, length, file, packet number) of every data segment.
        let mut segs: HashMap<Dir, Vec<(u64, u64, usize, u64)>> = HashMap::new();
        for (fi, ps) in packets.iter().enumerate() {
            for (i, p) in ps.iter().enumerate() {
                let Some((sp, dp, _, seq, len)) = p.tcp else {
                    continue;
                };
                if len == 0 {
                    continue;
                }
                let key = if clients.contains(&sp) {
                    (u64::from(sp), "client_to_server".to_string())
                } else {
                    (u64::from(dp), "server_to_client".to_string())
                };
                let rel = u64::from(seq.wrapping_sub(isn[&(sp, dp)]).wrapping_sub(1));
                segs.entry(key)
                    .or_default()
                    .push((rel, len as u64, fi, i as u64 + 1));
            }
        }
        let mut carriers = HashMap::new();
        for (key, mut v) in segs {
            v.sort_by_key(|&(rel, _, fi, n)| (rel, fi, n));
            let mut have = 0;
            let mut c = Vec::new();
            for (rel, len, fi, n) in v {
                if rel + len <= have {
                    continue; // nothing new: a retransmission
                }
                assert!(rel <= have, "{key:?}: hole at {have}");
                c.push((have, fi, n));
                have = rel + len;
            }
            carriers.insert(key, c);
        }
        let names = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        SetMap {
            names,
            packets,
            carriers,
        }
    }

    fn index(&self, path: &str) -> usize {
        let name = Path::new(path).file_name().unwrap().to_string_lossy();
        self.names.iter().position(|n| *n == name).unwrap()
    }

    /// The time of packet `n` (from 1) of the file named `path`.
    fn time(&self, path: &str, n: u64) -> i128 {
        let f = self.index(path);
        let p = self.packets[f].get(n as usize - 1);
        p.unwrap_or_else(|| panic!("{path} has no packet {n}")).time
    }

    /// (file index, packet number) of the packet that first carried byte `off` of a direction.
    fn carrier(&self, key: &Dir, off: u64) -> (usize, u64) {
        let c = &self.carriers[key];
        let i = c.partition_point(|&(start, _, _)| start <= off) - 1;
        (c[i].1, c[i].2)
    }
}

fn ns(rfc3339: &Value) -> i128 {
    rfc3339
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_nanosecond()
}

/// The file of a record's first packet: `first_file` when it spans files, else `file`.
fn first_file(r: &Value) -> &str {
    r.get("first_file")
        .and_then(Value::as_str)
        .unwrap_or_else(|| r["file"].as_str().unwrap())
}

#[test]
fn every_record_names_the_file_and_packets_that_carried_it() {
    for name in SETS {
        let files = set_files(name);
        let map = SetMap::new(&files);
        let dir = set_dir(name);
        let (mut frames, mut messages, mut spans) = (0, 0, 0);
        for r in strict_jsonl(None, &["--frames", s(&dir)]) {
            let p = [
                r["packets"][0].as_u64().unwrap(),
                r["packets"][1].as_u64().unwrap(),
            ];
            let (first, last) = (first_file(&r), r["file"].as_str().unwrap());
            assert!(
                map.index(first) <= map.index(last) && (first != last || p[0] <= p[1]),
                "{name}: packets out of order: {r}"
            );
            spans += usize::from(first != last);
            // A frame or message is stamped with the time of its last packet.
            let t = ns(&r["timestamp"]);
            assert_eq!(t, map.time(last, p[1]), "{name}: timestamp of {r}");
            assert!(map.time(first, p[0]) <= t, "{name}: first packet of {r}");
            if r["record"] == "frame" {
                // The frame's first byte is in packet p[0] of the first file, its last byte in
                // packet p[1] of `file` (each byte counted in the packet that first carried it).
                let key = (
                    port_of(r["client"].as_str().unwrap()),
                    r["direction"].as_str().unwrap().to_string(),
                );
                let off = r["stream_offset"].as_u64().unwrap();
                let end = off
                    + r["header_length"].as_u64().unwrap()
                    + r["payload_length"].as_u64().unwrap()
                    - 1;
                assert_eq!(
                    map.carrier(&key, off),
                    (map.index(first), p[0]),
                    "{name}: first packet of {r}"
                );
                assert_eq!(
                    map.carrier(&key, end),
                    (map.index(last), p[1]),
                    "{name}: last packet of {r}"
                );
                frames += 1;
            } else {
                messages += 1;
            }
        }
        // Connections: the flows view from the first to the last packet carrying the
        // connection's bytes, the tcp view from the SYN to the last packet.
        let mut conns = 0;
        for view in ["flows", "tcp"] {
            for r in strict_jsonl(Some(view), &[s(&dir)]) {
                let p = [
                    r["packets"][0].as_u64().unwrap(),
                    r["packets"][1].as_u64().unwrap(),
                ];
                let (first, last) = (first_file(&r), r["file"].as_str().unwrap());
                assert_eq!(
                    ns(&r["first_seen"]),
                    map.time(first, p[0]),
                    "{name}: {view}: {r}"
                );
                assert_eq!(
                    ns(&r["last_seen"]),
                    map.time(last, p[1]),
                    "{name}: {view}: {r}"
                );
                spans += usize::from(first != last);
                conns += 1;
            }
        }
        eprintln!(
            "{name}: {frames} frames, {messages} messages, {conns} connection records checked, \
             {spans} span files"
        );
        // 27: messages and frames across every boundary; 28: the connection records.
        let min_spans = if name == "27-rotated" { 8 } else { 2 };
        assert!(frames > messages && messages > 20 && conns >= 2 && spans >= min_spans);
    }
}

/// The test's own pcap reader agrees with tshark on every packet's time.
#[test]
fn pcap_reader_agrees_with_tshark() {
    if !have_tshark("pcap_reader_agrees_with_tshark") {
        return;
    }
    for name in SETS {
        for f in set_files(name) {
            let out = std::process::Command::new("tshark")
                .args(["-r", s(&f), "-T", "fields", "-e", "frame.time_epoch"])
                .output()
                .unwrap();
            assert!(out.status.success(), "tshark on {}", f.display());
            let theirs: Vec<i128> = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(|l| {
                    let (sec, frac) = l.trim().split_once('.').unwrap();
                    let frac = format!("{frac:0<9}");
                    sec.parse::<i128>().unwrap() * 1_000_000_000 + frac.parse::<i128>().unwrap()
                })
                .collect();
            let ours: Vec<i128> = read_pcap(&f).iter().map(|p| p.time).collect();
            assert_eq!(ours, theirs, "{}", f.display());
        }
    }
}

/// `--each-file` decodes every file of the set on its own, for each file and direction: the
/// messages found there that are not `undecodable`, with the first file's name in `file`.
fn each_file(name: &str) -> (usize, Vec<(String, Key, Value)>) {
    let files = set_files(name);
    let records = jsonl(&[
        "--each-file",
        "--quiet",
        "--format",
        "jsonl",
        s(&set_dir(name)),
    ]);
    let mut decoded = Vec::new();
    let mut undecodable = 0;
    for r in records.iter().filter(|r| r["record"] == "message") {
        let file = r["file"].as_str().unwrap().to_string();
        assert!(
            files.iter().any(|f| s(f) == file) && r.get("first_file").is_none(),
            "{name}: --each-file record names another file: {r}"
        );
        if r.get("undecodable").and_then(Value::as_bool) == Some(true) {
            assert!(!r["errors"].as_array().unwrap().is_empty(), "{r}");
            undecodable += 1;
        } else {
            decoded.push((file, key_of(r), r.clone()));
        }
    }
    (undecodable, decoded)
}

/// Per file and direction, `decoded` must be an in-order subsequence of the truth (equal
/// opcode and payload; frames may be fewer: a message whose first frames are in an earlier
/// file is `undecodable`). Returns how many are, and a line for each one that is not.
fn not_in_truth(name: &str, decoded: &[(String, Key, Value)]) -> (usize, Vec<String>) {
    let truth = truth(name);
    let mut next: HashMap<(String, Key), usize> = HashMap::new();
    let (mut matched, mut wrong) = (0, Vec::new());
    for (file, k, m) in decoded {
        let t = truth.get(k).map(Vec::as_slice).unwrap_or_default();
        let i = next.entry((file.clone(), k.clone())).or_default();
        let same_payload = |tm: &Value| {
            payload(m).is_some_and(|p| {
                m["opcode"] == tm["opcode"] && sha(&p) == tm["sha256"].as_str().unwrap()
            })
        };
        match (*i..t.len()).find(|&j| same_payload(&t[j])) {
            Some(j) => {
                *i = j + 1;
                matched += 1;
            }
            None => wrong.push(format!(
                "{file} {k:?}: {} {} bytes at packets {} (errors {}), not sent there",
                m["opcode"], m["length"], m["packets"], m["errors"]
            )),
        }
    }
    (matched, wrong)
}

#[test]
fn each_file_alone_decodes_fewer_messages() {
    for name in SETS {
        let sent: usize = truth(name).values().map(Vec::len).sum();
        let (undecodable, decoded) = each_file(name);
        let (matched, wrong) = not_in_truth(name, &decoded);
        eprintln!(
            "{name} --each-file: {matched} messages equal the peers', {undecodable} undecodable, \
             {} not sent, of {sent} sent",
            wrong.len()
        );
        assert!(undecodable > 0 && matched >= sent * 2 / 3 && matched < sent);
        // 27-rotated: see each_file_alone_decodes_no_wrong_message.
        if name == "28-rotated-time" {
            assert!(
                wrong.is_empty(),
                "{name}: wrong messages:\n{}",
                wrong.join("\n")
            );
        }
    }
}

/// Every message a file decoded alone gives that is not `undecodable` is one the peers sent.
/// Fails as of this commit, on 27-rotated: where a file starts inside a direction's stream,
/// wsdissect's search for a frame boundary accepts frame headers found inside payloads, and
/// the messages decoded from them carry no error. In 27-rotated.pcap3 alone, both directions
/// of connection a/0 (client port 46292) start exactly at a real frame header, which is
/// skipped:
/// - server→client (packet 60: text, RSV1, 1103 bytes, a 300000-byte repetitive text
///   compressed): "skipped 91 bytes before the first frame", then 15 "pings" of 68 bytes from
///   inside that compressed payload (it is periodic), later a 5-byte ping and a 99-byte pong;
/// - client→server (packet 61: binary, RSV1, 250616 bytes): "skipped 43631 bytes", then a
///   9-byte masked "binary" message at packet 91 from inside that payload.
///
/// And in 27-rotated.pcap2 alone, a 3-byte "ping" on b/0 (client port 58948) server→client
/// at packet 867.
#[test]
fn each_file_alone_decodes_no_wrong_message() {
    for name in SETS {
        let (_, decoded) = each_file(name);
        let (_, wrong) = not_in_truth(name, &decoded);
        assert!(
            wrong.is_empty(),
            "{name}: wrong messages:\n{}",
            wrong.join("\n")
        );
    }
}
