//! wss:// captures of real peers (Python websockets, Node ws, Chromium) that wrote their
//! key logs: what `wsdissect` says of each TLS connection must be what the peers
//! negotiated, every decrypted stream must be byte for byte what `tshark -z
//! follow,tls,raw` decrypts (on the lossy capture: begin with it), every frame must name
//! the packet tshark shows it in, and a capture without keys must decode nothing and say so.
//! The messages themselves are compared with the peers' truth in tests/corpus.rs.
//! Hostile TLS (garbage after a ClientHello, an oversized record, junk key logs) ends
//! in a clear warning or error, never a panic.

mod common;

use common::write::*;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn corpus(name: &str) -> PathBuf {
    testdata().join("corpus").join(name)
}

/// Manifest entries of the TLS captures.
fn tls_captures() -> Vec<Value> {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus("manifest.json")).unwrap()).unwrap();
    m.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["tls"] == true)
        .cloned()
        .collect()
}

/// `--keylog FILE` for a capture, unless its keys are in the capture.
fn keylog_args(e: &Value) -> Vec<String> {
    match e["keylog"].as_str() {
        Some(k) => vec!["--keylog".into(), corpus(k).display().to_string()],
        None => vec![],
    }
}

fn run_jsonl(args: &[String]) -> Vec<Value> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    jsonl(&a)
}

/// OpenSSL's names of the TLS 1.2 suites the peers negotiated, as IANA names them.
fn iana(openssl: &str) -> &str {
    match openssl {
        "ECDHE-RSA-AES128-GCM-SHA256" => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384" => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-RSA-CHACHA20-POLY1305" => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-RSA-AES128-SHA256" => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384" => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "AES128-GCM-SHA256" => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "AES256-SHA" => "TLS_RSA_WITH_AES_256_CBC_SHA",
        other => other,
    }
}

#[test]
fn flows_show_what_the_peers_negotiated() {
    let mut checked = 0;
    for e in tls_captures() {
        let file = e["file"].as_str().unwrap();
        let mut args = vec![
            "flows".to_string(),
            "--quiet".into(),
            "--format".into(),
            "jsonl".into(),
        ];
        args.extend(keylog_args(&e));
        args.push(corpus(file).display().to_string());
        let flows = run_jsonl(&args);
        // One record per WebSocket: on HTTP/2 several share a connection (and its TLS);
        // the first upgraded one stands for it.
        let mut by_port: BTreeMap<u64, &Value> = BTreeMap::new();
        for f in flows.iter().filter(|f| f["state"] == "upgraded") {
            by_port
                .entry(port_of(f["client"].as_str().unwrap()))
                .or_insert(f);
        }
        for c in e["tls_connections"].as_array().unwrap() {
            if c["websocket_conns"]
                .as_array()
                .is_some_and(|w| w.is_empty())
            {
                // A connection without a WebSocket (a browser's spare one) has no record.
                continue;
            }
            let port = c["client_port"].as_u64().unwrap();
            let f = by_port
                .get(&port)
                .unwrap_or_else(|| panic!("{file}: no flow for client port {port}"));
            let t = &f["tls"];
            let what = format!("{file} {}: {t}", c["conn"]);
            assert_eq!(f["state"], "upgraded", "{what}");
            assert_eq!(t["version"], c["version"], "{what}");
            assert_eq!(
                t["cipher_suite"],
                iana(c["cipher"].as_str().unwrap()),
                "{what}"
            );
            // The peers' report leaves out the SNI of resumed Node sessions; the
            // ClientHello on the wire (read by tshark) has it.
            assert_eq!(t["sni"], c["wire"]["sni"], "{what}");
            assert_eq!(t["alpn"], c["alpn"], "{what}");
            assert_eq!(t["resumed"], c["resumed"], "{what}");
            assert_eq!(t["decrypted"], true, "{what}");
            assert!(t.get("problem").is_none(), "{what}");
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} TLS connections checked");
}

#[test]
fn key_updates_are_followed_in_both_directions() {
    let e = tls_captures()
        .into_iter()
        .find(|e| e["file"] == "17-keyupdate.pcap")
        .unwrap();
    let mut args = vec![
        "flows".to_string(),
        "--quiet".into(),
        "--format".into(),
        "jsonl".into(),
    ];
    args.extend(keylog_args(&e));
    args.push(corpus("17-keyupdate.pcap").display().to_string());
    let flows = run_jsonl(&args);
    // Per direction, one entry per KeyUpdate message on the wire (its request_update).
    let on_wire: usize = e["tls_connections"][0]["key_updates_on_wire"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_array().unwrap().len())
        .sum();
    assert_eq!(on_wire, 10);
    assert_eq!(
        flows[0]["tls"]["key_updates"].as_u64(),
        Some(on_wire as u64)
    );
}

#[test]
fn decrypted_streams_equal_tshark_follow_tls() {
    if !have_tshark("decrypted_streams_equal_tshark_follow_tls") {
        return;
    }
    let mut checked = 0;
    for e in tls_captures() {
        if e["partial"] == true {
            continue;
        }
        let file = corpus(e["file"].as_str().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec![
            "tcp".to_string(),
            "--quiet".into(),
            "--format".into(),
            "jsonl".into(),
            "--dump-dir".into(),
            dir.path().display().to_string(),
        ];
        args.extend(keylog_args(&e));
        args.push(file.display().to_string());
        let flows = run_jsonl(&args);
        let ids: Vec<u64> = flows
            .iter()
            .map(|f| f["flow"].as_u64().unwrap())
            .filter(|id| {
                dir.path()
                    .join(format!("flow{id}.client_to_server.tls.bin"))
                    .exists()
            })
            .collect();
        let keylog = e["keylog"]
            .as_str()
            .map(|k| format!("tls.keylog_file:{}", corpus(k).display()));
        let extra: Vec<&str> = match &keylog {
            Some(k) => vec!["-o", k],
            None => vec![],
        };
        let follow = tshark_follow(&file, "tls", &extra, &ids);
        for id in ids {
            let read =
                |d: &str| std::fs::read(dir.path().join(format!("flow{id}.{d}.tls.bin"))).unwrap();
            let ours = [read("client_to_server"), read("server_to_client")];
            let (_, _, a, b) = follow
                .get(&id)
                .unwrap_or_else(|| panic!("{}: tshark has no stream {id}", file.display()));
            // tshark names the nodes of a TLS stream loosely: compare the two directions
            // as a pair. On the lossy capture tshark stops decrypting a direction where
            // retransmissions came out of order (the peers' truth shows the rest is
            // right, tests/corpus.rs): there its bytes must be where ours start.
            let lossy = e["lossy"] == true;
            let fits = |o: &[u8], t: &[u8]| o == t || (lossy && o.starts_with(t));
            let same = (fits(&ours[0], a) && fits(&ours[1], b))
                || (fits(&ours[0], b) && fits(&ours[1], a));
            assert!(
                same,
                "{} flow {id}: decrypted streams differ from tshark ({}+{} vs {}+{} bytes)",
                file.display(),
                ours[0].len(),
                ours[1].len(),
                a.len(),
                b.len()
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 20,
        "only {checked} decrypted connections compared"
    );
}

#[test]
fn without_keys_nothing_is_decoded_and_it_is_said() {
    let f = corpus("13-python-tls13.pcap");
    let f = f.to_str().unwrap();
    let out = wsdissect(&["--format", "jsonl", f]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty(), "messages decoded from ciphertext");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 TLS connections without keys (SNI ws.test): not decoded"),
        "{err}"
    );
    // --decode-as on the TLS port must not turn ciphertext into messages either.
    let out = wsdissect(&["--format", "jsonl", "--decode-as", "8443", f]);
    assert!(out.stdout.is_empty(), "--decode-as decoded ciphertext");
    let strict = wsdissect(&["--strict", "--quiet", f]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&strict.stderr)
        .contains("--strict: 2 TLS connections without keys"));
    let flows = jsonl(&["flows", "--quiet", "--format", "jsonl", f]);
    assert_eq!(flows.len(), 2);
    for fl in &flows {
        assert_eq!(fl["state"], "encrypted");
        assert_eq!(fl["tls"]["decrypted"], false);
        assert_eq!(fl["tls"]["problem"], "no_key");
        assert_eq!(fl["tls"]["version"], "TLSv1.3");
        assert_eq!(fl["tls"]["sni"], "ws.test");
        assert!(fl["first_seen"].as_str().unwrap() < fl["last_seen"].as_str().unwrap());
    }
}

/// A pcapng holding only a Decryption Secrets Block with `keys` (and one packet that is
/// not TCP, so that the file is a capture like any other).
fn secrets_pcapng(keys: &[u8]) -> Vec<u8> {
    let block = |kind: u32, body: &[u8]| {
        let pad = (4 - body.len() % 4) % 4;
        let len = (12 + body.len() + pad) as u32;
        let mut b = kind.to_le_bytes().to_vec();
        b.extend(len.to_le_bytes());
        b.extend(body);
        b.extend(std::iter::repeat_n(0, pad));
        b.extend(len.to_le_bytes());
        b
    };
    let mut shb = 0x1a2b3c4du32.to_le_bytes().to_vec();
    shb.extend([1, 0, 0, 0]);
    shb.extend(u64::MAX.to_le_bytes());
    let mut dsb = 0x544c534bu32.to_le_bytes().to_vec();
    dsb.extend((keys.len() as u32).to_le_bytes());
    dsb.extend(keys);
    dsb.extend(std::iter::repeat_n(0, (4 - keys.len() % 4) % 4));
    let mut idb = vec![1, 0, 0, 0];
    idb.extend(65535u32.to_le_bytes());
    let arp = [0u8; 14];
    let mut epb = 0u32.to_le_bytes().to_vec();
    epb.extend([0; 8]);
    epb.extend((arp.len() as u32).to_le_bytes());
    epb.extend((arp.len() as u32).to_le_bytes());
    epb.extend(arp);
    let mut out = block(0x0a0d0d0a, &shb);
    out.extend(block(0x0a, &dsb));
    out.extend(block(1, &idb));
    out.extend(block(6, &epb));
    out
}

#[test]
fn secrets_in_one_file_serve_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let keys = std::fs::read(corpus("13-python-tls13.keys")).unwrap();
    let dsb = dir.path().join("keys.pcapng");
    std::fs::write(&dsb, secrets_pcapng(&keys)).unwrap();
    let f = corpus("13-python-tls13.pcap");
    // Given after the capture it serves: the keys are read before any file is decoded.
    let records = jsonl(&[
        "--quiet",
        "--format",
        "jsonl",
        f.to_str().unwrap(),
        dsb.to_str().unwrap(),
    ]);
    let truth = std::fs::read_to_string(corpus("13-python-tls13.truth.jsonl")).unwrap();
    let sent = truth
        .lines()
        .filter(|l| l.contains("\"view\": \"sent\""))
        .count();
    assert_eq!(records.len(), sent);
}

#[test]
fn junk_key_logs_are_refused_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.keys");
    std::fs::write(&junk, "not a key log\n".repeat(1000)).unwrap();
    let out = wsdissect(&[
        "--keylog",
        junk.to_str().unwrap(),
        corpus("13-python-tls13.pcap").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("junk.keys: not an NSS key log file (line 1"),
        "{err}"
    );
    let missing = wsdissect(&["--keylog", "/nonexistent/k", "-"]);
    assert_eq!(missing.status.code(), Some(2));
}

/// A ClientHello's first bytes and a body that parses: type, version, random, no session,
/// one suite, no compression, no extensions.
fn client_hello() -> Vec<u8> {
    let mut hello = vec![3, 3];
    hello.extend([0x42; 32]);
    hello.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
    let mut hs = vec![1, 0, 0, hello.len() as u8];
    hs.extend(hello);
    let mut rec = vec![22, 3, 1, 0, hs.len() as u8];
    rec.extend(hs);
    rec
}

fn write_capture(path: &Path, f: impl FnOnce(&mut Pcap<std::fs::File>)) {
    let mut p = Pcap::new(std::fs::File::create(path).unwrap(), 65535);
    f(&mut p);
}

#[test]
fn hostile_records_end_the_direction_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.pcap");
    write_capture(&path, |p| {
        // Garbage right after a ClientHello, on port 80.
        let mut c = Conn::new(1, 80);
        c.syn(p);
        let mut bytes = client_hello();
        bytes.extend(b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05hello");
        c.send(p, true, &bytes);
        c.send(
            p,
            false,
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello",
        );
        // A record claiming more than any TLS version allows.
        let mut c = Conn::new(2, 443);
        c.syn(p);
        let mut bytes = client_hello();
        bytes.extend([23, 3, 3, 0xff, 0xff]);
        bytes.extend(vec![0x17; 3000]);
        c.send(p, true, &bytes);
        c.send(p, false, &[22, 3, 3, 0x48, 0x01]);
    });
    let out = wsdissect(&["--format", "jsonl", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.is_empty(),
        "bytes inside TLS decoded as WebSocket"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("packet 4: flow 0 client_to_server: bytes that are not a TLS record"),
        "{err}"
    );
    assert!(
        err.contains("flow 1 client_to_server: bytes that are not a TLS record"),
        "{err}"
    );
    let flows = jsonl(&[
        "flows",
        "--quiet",
        "--format",
        "jsonl",
        path.to_str().unwrap(),
    ]);
    assert_eq!(flows.len(), 2, "{flows:?}");
    assert!(flows.iter().all(|f| f["state"] == "encrypted"));
}

/// The packets of a little-endian microsecond pcap (as the corpus's), without those
/// `drop` names (1-based).
fn without_packets(pcap: &[u8], drop: impl Fn(u64) -> bool) -> Vec<u8> {
    let mut out = pcap[..24].to_vec();
    let (mut i, mut n) = (24, 0u64);
    while i + 16 <= pcap.len() {
        let len = u32::from_le_bytes(pcap[i + 8..i + 12].try_into().unwrap()) as usize;
        n += 1;
        if !drop(n) {
            out.extend(&pcap[i..i + 16 + len]);
        }
        i += 16 + len;
    }
    out
}

#[test]
fn a_wrong_key_stops_the_direction_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let keys = std::fs::read_to_string(corpus("13-python-tls13.keys")).unwrap();
    // Every SERVER_TRAFFIC_SECRET_0 changed in its last hex digit.
    let wrong: String = keys
        .lines()
        .map(|l| {
            if l.starts_with("SERVER_TRAFFIC_SECRET_0 ") {
                let (head, last) = l.split_at(l.len() - 1);
                format!("{head}{}\n", if last == "0" { "1" } else { "0" })
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let k = dir.path().join("wrong.keys");
    std::fs::write(&k, wrong).unwrap();
    let f = corpus("13-python-tls13.pcap");
    let (k, f) = (k.to_str().unwrap(), f.to_str().unwrap());
    let out = wsdissect(&["--strict", "--format", "jsonl", "--keylog", k, f]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "flow 0 server_to_client: TLS decryption failed (wrong key or corrupt record)"
        ),
        "{err}"
    );
    assert!(err.contains("TLS decryption problem"), "{err}");
    // The server's first record carried the 101 answer: without it nothing is decoded,
    // and nothing unverified is printed.
    assert!(out.stdout.is_empty());
    let flows = jsonl(&["flows", "--quiet", "--format", "jsonl", "--keylog", k, f]);
    for fl in &flows {
        assert_eq!(fl["tls"]["problem"], "failed", "{fl}");
        assert!(fl["tls"]["failed_at_packet"].as_u64().is_some(), "{fl}");
        assert_eq!(fl["tls"]["decrypted"], true, "{fl}");
    }
}

#[test]
fn resumed_tls12_sessions_reuse_the_master_secret_of_the_first() {
    let e = tls_captures()
        .into_iter()
        .find(|e| e["file"] == "15-node-ws-tls.pcap")
        .unwrap();
    // Key log lines of the resumed TLS 1.2 connections (by ticket and by session ID) are
    // removed: their master secret must come from the connection they resume.
    let resumed: Vec<(String, u64)> = e["tls_connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["resumed"] == true && c["version"] == "TLSv1.2")
        .map(|c| {
            (
                c["wire"]["client_random"].as_str().unwrap().to_string(),
                c["client_port"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(resumed.len(), 2);
    let keys = std::fs::read_to_string(corpus("15-node-ws-tls.keys")).unwrap();
    let kept: String = keys
        .lines()
        .filter(|l| !resumed.iter().any(|(r, _)| l.contains(r.as_str())))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(kept.len() < keys.len());
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("first-only.keys");
    std::fs::write(&k, kept).unwrap();
    let f = corpus("15-node-ws-tls.pcap");
    let flows = jsonl(&[
        "flows",
        "--quiet",
        "--format",
        "jsonl",
        "--keylog",
        k.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    for (_, port) in &resumed {
        let fl = flows
            .iter()
            .find(|fl| port_of(fl["client"].as_str().unwrap()) == *port)
            .unwrap();
        assert_eq!(fl["tls"]["resumed"], true, "{fl}");
        assert_eq!(fl["tls"]["decrypted"], true, "{fl}");
        assert_eq!(fl["state"], "upgraded", "{fl}");
    }
}

#[test]
fn a_capture_started_after_the_handshake_is_said_to_be_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = std::fs::read(corpus("13-python-tls13.pcap")).unwrap();
    // Packets 1-12 are connection 0's handshake and first records.
    let late = dir.path().join("late.pcap");
    std::fs::write(&late, without_packets(&pcap, |n| n <= 12)).unwrap();
    let k = corpus("13-python-tls13.keys");
    let args = |view: &'static str| {
        vec![
            view.to_string(),
            "--quiet".into(),
            "--format".into(),
            "jsonl".into(),
            "--keylog".into(),
            k.display().to_string(),
            late.display().to_string(),
        ]
    };
    let flows = run_jsonl(&args("flows"));
    let first = flows.iter().find(|f| f["flow"] == 0).unwrap();
    assert_eq!(first["state"], "encrypted", "{first}");
    assert_eq!(first["tls"]["problem"], "no_handshake", "{first}");
    let second = flows.iter().find(|f| f["flow"] == 1).unwrap();
    assert_eq!(second["state"], "upgraded", "{second}");
    let mut msgs = args("flows");
    msgs.remove(0);
    let msgs = run_jsonl(&msgs);
    assert!(!msgs.is_empty() && msgs.iter().all(|m| m["flow"] == 1));
}

#[test]
fn traffic_secrets_alone_are_enough() {
    // Some tools log only the application traffic secrets: the encrypted handshake is
    // skipped, every message still decodes.
    let keys = std::fs::read_to_string(corpus("13-python-tls13.keys")).unwrap();
    let only: String = keys
        .lines()
        .filter(|l| {
            l.starts_with("CLIENT_TRAFFIC_SECRET_0 ") || l.starts_with("SERVER_TRAFFIC_SECRET_0 ")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("traffic.keys");
    std::fs::write(&k, only).unwrap();
    let f = corpus("13-python-tls13.pcap");
    let (k, f) = (k.to_str().unwrap(), f.to_str().unwrap());
    let ours = jsonl(&["--quiet", "--format", "jsonl", "--keylog", k, f]);
    let all = jsonl(&[
        "--quiet",
        "--format",
        "jsonl",
        "--keylog",
        corpus("13-python-tls13.keys").to_str().unwrap(),
        f,
    ]);
    assert_eq!(ours, all);
    assert!(ours.len() > 50);
}

#[test]
fn records_are_framed_whatever_the_chunks_and_the_order_of_directions() {
    use wsdissect::layers::tls::{Keys, Session, Up};
    use wsdissect::tcp::stream::{Direction, Provenance};
    let f = corpus("13-python-tls13.pcap");
    let k = corpus("13-python-tls13.keys");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    wsdissect(&[
        "tcp",
        "--quiet",
        "--dump-dir",
        d,
        "--keylog",
        k.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    let cipher = [
        read("flow0.client_to_server.bin"),
        read("flow0.server_to_client.bin"),
    ];
    let plain = [
        read("flow0.client_to_server.tls.bin"),
        read("flow0.server_to_client.tls.bin"),
    ];
    let keys = Keys::new();
    keys.add_text(&std::fs::read(&k).unwrap());
    let mut rng = 0x9e3779b97f4a7c15u64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    for round in 0..20 {
        let mut s = Session::new(keys.clone());
        let mut got = [Vec::new(), Vec::new()];
        let mut sink = |u: Up| {
            if let Up::Data(d, b, _) = u {
                got[d.index()].extend_from_slice(b);
            }
        };
        let dirs = [Direction::ClientToServer, Direction::ServerToClient];
        let mut pos = [0usize, 0];
        // Round 0 sends the client's whole stream first: its encrypted records must wait
        // for the server's hello.
        while pos[0] < cipher[0].len() || pos[1] < cipher[1].len() {
            let i = if round == 0 {
                usize::from(pos[0] >= cipher[0].len())
            } else if pos[0] >= cipher[0].len() {
                1
            } else if pos[1] >= cipher[1].len() {
                0
            } else {
                next(2) as usize
            };
            let n = 1 + next(if round % 2 == 0 { 7 } else { 4000 }) as usize;
            let end = (pos[i] + n).min(cipher[i].len());
            s.data(
                dirs[i],
                &cipher[i][pos[i]..end],
                Provenance::default(),
                &mut sink,
            );
            pos[i] = end;
        }
        let warnings: Vec<_> = s.drain_warnings().collect();
        assert!(
            got[0] == plain[0] && got[1] == plain[1],
            "round {round}: {}+{} bytes of {}+{}; {warnings:?}",
            got[0].len(),
            got[1].len(),
            plain[0].len(),
            plain[1].len()
        );
    }
}

#[test]
fn frames_name_the_packets_tshark_names() {
    // The packet that completed each frame's record is where tshark shows the frame.
    if !have_tshark("frames_name_the_packets_tshark_names") {
        return;
    }
    let mut checked = 0;
    for e in tls_captures() {
        // tshark does not decode WebSockets inside HTTP/2 (tests/h2.rs checks those).
        if e["lossy"] == true || e["h2"] == true {
            continue;
        }
        let file = corpus(e["file"].as_str().unwrap());
        let mut args = vec![
            "--quiet".to_string(),
            "--format".into(),
            "jsonl".into(),
            "--frames".into(),
        ];
        args.extend(keylog_args(&e));
        args.push(file.display().to_string());
        let mut ours: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for r in run_jsonl(&args).iter().filter(|r| r["record"] == "frame") {
            ours.entry(r["flow"].as_u64().unwrap())
                .or_default()
                .push(r["packets"][1].as_u64().unwrap());
        }
        let mut cmd = std::process::Command::new("tshark");
        cmd.arg("-r").arg(&file);
        if let Some(k) = e["keylog"].as_str() {
            cmd.arg("-o")
                .arg(format!("tls.keylog_file:{}", corpus(k).display()));
        }
        let out = cmd
            .args([
                "-Y",
                "websocket",
                "-T",
                "fields",
                "-e",
                "tcp.stream",
                "-e",
                "frame.number",
                "-e",
                "websocket.opcode",
            ])
            .output()
            .unwrap();
        let mut theirs: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let (stream, frame) = (f[0].parse().unwrap(), f[1].parse().unwrap());
            // One line per packet, one opcode per WebSocket frame in it.
            for _ in f[2].split(',') {
                theirs.entry(stream).or_default().push(frame);
            }
        }
        assert_eq!(ours, theirs, "{}", file.display());
        checked += ours.values().map(Vec::len).sum::<usize>();
    }
    assert!(checked >= 400, "only {checked} frames compared");
}
