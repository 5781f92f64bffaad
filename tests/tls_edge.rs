//! TLS situations the wss:// corpus lacks, captured between OpenSSL's own `s_server` and
//! `s_client` (testdata/tls-edge/, made by testdata/tls_edge.sh; see testdata/README.md):
//! TLS 1.3 0-RTT early data the server accepted and early data it rejected (21), a
//! HelloRetryRequest (22), ALPN h2 (23, read by the HTTP/2 layer). The payloads are not WebSocket, so the decrypted
//! streams are checked through `wsdissect tcp --dump-dir`: each `.tls.bin` must be, byte
//! for byte, what the peer application wrote and the other side's application read (the
//! truth file, checked against both peers by the generator).

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn edge(name: &str) -> PathBuf {
    testdata().join("tls-edge").join(name)
}

/// The manifest entry of the capture whose file name starts with `prefix`.
fn entry(prefix: &str) -> Value {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(edge("manifest.json")).unwrap()).unwrap();
    m.as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} capture in testdata/tls-edge/manifest.json"))
        .clone()
}

fn path_of(e: &Value, field: &str) -> String {
    edge(e[field].as_str().unwrap()).display().to_string()
}

/// The truth file's connections.
fn truth(e: &Value) -> Vec<Value> {
    let t: Value =
        serde_json::from_str(&std::fs::read_to_string(edge(e["truth"].as_str().unwrap())).unwrap())
            .unwrap();
    t["connections"].as_array().unwrap().clone()
}

/// Decrypted bytes per client port: `wsdissect tcp --dump-dir D --keylog K F`, then each
/// flow's `.tls.bin` files (None where it wrote none).
type Dumps = BTreeMap<u64, [Option<Vec<u8>>; 2]>;

fn dumps(e: &Value, keylog: &str) -> Dumps {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (k, f) = (path_of(e, keylog), path_of(e, "file"));
    let recs = jsonl(&[
        "tcp",
        "--quiet",
        "--format",
        "jsonl",
        "--dump-dir",
        &d,
        "--keylog",
        &k,
        &f,
    ]);
    let mut out = Dumps::new();
    for r in recs.iter().filter(|r| r["record"] == "tcp") {
        let id = r["flow"].as_u64().unwrap();
        let read = |dir_name: &str| {
            std::fs::read(dir.path().join(format!("flow{id}.{dir_name}.tls.bin"))).ok()
        };
        out.insert(
            port_of(r["client"].as_str().unwrap()),
            [read("client_to_server"), read("server_to_client")],
        );
    }
    out
}

fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(&b[..b.len().min(160)]))
}

/// What differs between a dump and the truth, in words.
fn differ(what: &str, ours: Option<&Vec<u8>>, want: &[u8]) -> Option<String> {
    let Some(ours) = ours else {
        return Some(format!(
            "{what}: no .tls.bin written (truth: {} bytes)",
            want.len()
        ));
    };
    if ours == want {
        return None;
    }
    let mut s = format!(
        "{what}: {} bytes decrypted, the peers exchanged {} bytes",
        ours.len(),
        want.len()
    );
    if ours.ends_with(want) {
        s += &format!(
            "; ours has these bytes in front of the truth: {}",
            show(&ours[..ours.len() - want.len()])
        );
    } else if ours.starts_with(want) {
        s += &format!(
            "; ours has these bytes after the truth: {}",
            show(&ours[want.len()..])
        );
    } else {
        let at = ours.iter().zip(want).take_while(|(a, b)| a == b).count();
        s += &format!(
            "; first difference at byte {at}: ours {} truth {}",
            show(&ours[at..]),
            show(&want[at..])
        );
    }
    Some(s)
}

/// Compares the dumps (decrypted with the key log the manifest field `keylog` names) of the
/// truth connections that `pick` selects with the truth; returns how many were checked.
fn check_dumps_with(prefix: &str, keylog: &str, pick: impl Fn(&Value) -> bool) -> usize {
    let e = entry(prefix);
    let ours = dumps(&e, keylog);
    let mut problems = Vec::new();
    let mut checked = 0;
    for t in truth(&e).iter().filter(|t| pick(t)) {
        let port = t["client_port"].as_u64().unwrap();
        let name = format!("{} client port {port}", e["file"].as_str().unwrap());
        let Some(d) = ours.get(&port) else {
            problems.push(format!("{name}: no tcp record"));
            continue;
        };
        for (i, dir) in ["client_to_server", "server_to_client"].iter().enumerate() {
            let want = decode_hex(t[format!("{dir}_hex")].as_str().unwrap());
            if let Some(p) = differ(&format!("{name} {dir}"), d[i].as_ref(), &want) {
                problems.push(p);
            }
        }
        checked += 1;
    }
    assert!(
        problems.is_empty(),
        "with --keylog {}:\n{}",
        e[keylog].as_str().unwrap(),
        problems.join("\n")
    );
    checked
}

/// `check_dumps_with` the key log both peers wrote.
fn check_dumps(prefix: &str, pick: impl Fn(&Value) -> bool) -> usize {
    check_dumps_with(prefix, "keylog", pick)
}

#[test]
fn zero_rtt_accepted_early_data_is_decrypted_into_the_stream() {
    // connection 0 (full handshake, the ticket) and connection 1 (resumed, early data
    // accepted: the client's stream is the early request, then the post-handshake one)
    let e = entry("21-");
    let accepted: Vec<Value> = truth(&e)
        .into_iter()
        .filter(|t| t["early_data"] == "accepted")
        .collect();
    assert_eq!(
        accepted.len(),
        1,
        "21 has one connection with accepted 0-RTT"
    );
    let early = accepted[0]["early_data_hex"].as_str().unwrap();
    assert!(accepted[0]["client_to_server_hex"]
        .as_str()
        .unwrap()
        .starts_with(early));
    let n = check_dumps("21-", |t| t["early_data"] != "rejected");
    assert_eq!(n, 2);
}

#[test]
fn zero_rtt_rejected_early_data_is_not_in_the_stream() {
    // connection 2 replays the ticket: the server's anti-replay refuses the PSK (full
    // handshake, no pre_shared_key in the ServerHello, no early_data in
    // EncryptedExtensions) and skips the client's 0-RTT records (RFC 8446 4.2.10). The
    // client logged CLIENT_EARLY_TRAFFIC_SECRET, so the records can be opened, but the
    // server application never read them: they are not part of the client's stream.
    // (tshark's follow,tls,raw puts them in front of it: the manifest says so.)
    let n = check_dumps("21-", |t| t["early_data"] == "rejected");
    assert_eq!(n, 1);
}

#[test]
fn server_key_log_alone_decrypts_what_the_server_read() {
    // The server's own key log file (what a server operator has). On 21 it holds the
    // early secret of the accepted connection (the server logged it) but none for the
    // rejected one: there the client's 0-RTT records cannot be opened and must be skipped,
    // as the server skipped them; the rest of the client's stream is under the handshake
    // and traffic secrets the server did log (tshark decrypts it so).
    let mut n = 0;
    for prefix in ["22-", "23-", "21-"] {
        n += check_dumps_with(prefix, "server_keylog", |_| true);
    }
    assert_eq!(n, 5);
}

#[test]
fn hello_retry_request_connection_is_decrypted() {
    let e = entry("22-");
    let c = &e["connections"][0]["wire"];
    assert_eq!(c["hello_retry_request"], true);
    assert_eq!(c["client_hellos"], 2);
    assert_eq!(check_dumps("22-", |_| true), 1);
}

#[test]
fn alpn_h2_connection_is_decrypted_and_read_as_http2() {
    // Decrypted, then handed to the HTTP/2 layer: its frames and header blocks read
    // without a complaint, and no WebSocket in it (which the one line about a file
    // without WebSocket says, and nothing else).
    assert_eq!(check_dumps("23-", |_| true), 1);
    let e = entry("23-");
    let out = wsdissect(&[
        "--strict",
        "--keylog",
        &path_of(&e, "keylog"),
        &path_of(&e, "file"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        format!(
            "wsdissect: {}: 1 TCP connection, 0 WebSocket: 1 with nothing to decode (no \
payload, or HTTP/2 without WebSocket)",
            path_of(&e, "file")
        ),
        "stderr: {err}"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
}

/// IANA name of the TLS 1.3 suites (tshark's ServerHello `ciphersuite`).
fn suite_name(hex: &str) -> &str {
    match hex {
        "0x1301" => "TLS_AES_128_GCM_SHA256",
        "0x1302" => "TLS_AES_256_GCM_SHA384",
        "0x1303" => "TLS_CHACHA20_POLY1305_SHA256",
        other => other,
    }
}

#[test]
fn flows_without_keys_show_the_handshakes() {
    // Without the key log nothing is decrypted, so flows lists every connection with
    // state `encrypted` and what the cleartext hellos say: after a HelloRetryRequest
    // the real ServerHello's suite, and `resumed` only where the server took the PSK
    // (not on the replayed ticket of 21).
    for prefix in ["21-", "22-", "23-"] {
        let e = entry(prefix);
        let f = path_of(&e, "file");
        let flows = jsonl(&["flows", "--quiet", "--format", "jsonl", &f]);
        let by_port: BTreeMap<u64, &Value> = flows
            .iter()
            .map(|r| (port_of(r["client"].as_str().unwrap()), r))
            .collect();
        for c in e["connections"].as_array().unwrap() {
            let port = c["client_port"].as_u64().unwrap();
            let w = &c["wire"];
            let r = by_port
                .get(&port)
                .unwrap_or_else(|| panic!("{f}: no flow for client port {port}: {flows:?}"));
            let tls = &r["tls"];
            let ctx = format!("{f} client port {port}: {r}");
            assert_eq!(r["state"], "encrypted", "{ctx}");
            assert_eq!(tls["version"], "TLSv1.3", "{ctx}");
            assert_eq!(
                tls["cipher_suite"],
                suite_name(w["suite"].as_str().unwrap()),
                "{ctx}"
            );
            assert_eq!(tls["sni"], w["sni"], "{ctx}");
            assert_eq!(tls["resumed"], w["psk_accepted"], "{ctx}");
            assert_eq!(tls["decrypted"], false, "{ctx}");
            assert_eq!(tls["problem"], "no_key", "{ctx}");
        }
    }
}

#[test]
fn strict_run_with_keys_finds_nothing_wrong() {
    for prefix in ["21-", "22-", "23-"] {
        let e = entry(prefix);
        let out = wsdissect(&[
            "--strict",
            "--keylog",
            &path_of(&e, "keylog"),
            &path_of(&e, "file"),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: --strict with the key log: {err}",
            e["file"]
        );
        assert!(
            !err.contains("TLS decryption") && !err.contains("without keys"),
            "{}: {err}",
            e["file"]
        );
    }
}

#[test]
fn accepted_early_data_without_its_secret_is_a_gap_that_is_said() {
    // Without the CLIENT_EARLY_TRAFFIC_SECRET lines, connection 1's 0-RTT request cannot
    // be read: it is reported, and the request after the handshake still decrypts.
    let e = entry("21");
    let keys = std::fs::read_to_string(path_of(&e, "keylog")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("no-early.keys");
    std::fs::write(
        &k,
        keys.lines()
            .filter(|l| !l.starts_with("CLIENT_EARLY_TRAFFIC_SECRET"))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let f = path_of(&e, "file");
    let out = wsdissect(&["--keylog", k.to_str().unwrap(), &f]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("flow 1 client_to_server: 0-RTT data the server accepted cannot be decrypted"),
        "{err}"
    );
    let d = tempfile::tempdir().unwrap();
    let recs = jsonl(&[
        "tcp",
        "--quiet",
        "--format",
        "jsonl",
        "--dump-dir",
        d.path().to_str().unwrap(),
        "--keylog",
        k.to_str().unwrap(),
        &f,
    ]);
    assert_eq!(recs.len(), 3);
    let c2s = std::fs::read(d.path().join("flow1.client_to_server.tls.bin")).unwrap();
    assert!(c2s.starts_with(b"GET /after-handshake"), "{}", show(&c2s));
}
