//! Whole captures with HTTP before the upgrade on the same connection (a keep-alive
//! page, a 401 before an authenticated retry), an answer that ends only at close, the
//! summary of a file without WebSocket, and `--strict` on an unanswered upgrade.

mod common;

use common::write::*;
use common::*;
use std::path::Path;

const UPGRADE: &str = "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
const ACCEPT: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

fn text(mask: bool, s: &str) -> Vec<u8> {
    let mut f = vec![0x81, s.len() as u8 | if mask { 0x80 } else { 0 }];
    if mask {
        let key = [1, 2, 3, 4];
        f.extend_from_slice(&key);
        f.extend(s.bytes().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(s.as_bytes());
    }
    f
}

/// A capture of one connection: `before` exchanges, then (when `upgrade`) the
/// upgrade with `auth` headers and two messages each way.
fn capture(path: &Path, before: &[(&[u8], &[u8])], upgrade: Option<&str>) {
    let mut buf = Vec::new();
    {
        let mut p = Pcap::new(&mut buf, 65535);
        let mut c = Conn::new(1, 8080);
        c.syn(&mut p);
        for (q, a) in before {
            c.send(&mut p, true, q);
            c.send(&mut p, false, a);
        }
        if let Some(auth) = upgrade {
            c.send(&mut p, true, format!("{UPGRADE}{auth}\r\n").as_bytes());
            c.send(&mut p, false, ACCEPT);
            for i in 0..2 {
                c.send(&mut p, true, &text(true, &format!("up {i}")));
                c.send(&mut p, false, &text(false, &format!("down {i}")));
            }
        }
        c.close(&mut p);
    }
    std::fs::write(path, buf).unwrap();
}

fn texts(path: &Path) -> Vec<String> {
    jsonl(&["--format", "jsonl", path.to_str().unwrap()])
        .iter()
        .filter_map(|r| r["text"].as_str().map(str::to_string))
        .collect()
}

fn flow(path: &Path) -> serde_json::Value {
    let f = jsonl(&["flows", "-q", "--format", "jsonl", path.to_str().unwrap()]);
    assert_eq!(f.len(), 1, "{f:?}");
    f[0].clone()
}

const PAGE_REQ: &[u8] = b"GET /page HTTP/1.1\r\nHost: h\r\n\r\n";
const ALL: [&str; 4] = ["up 0", "down 0", "up 1", "down 1"];

#[test]
fn keep_alive_page_by_length_then_upgrade() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("length.pcap");
    let page: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n";
    let mut answer = page.to_vec();
    answer.extend(std::iter::repeat_n(b'x', 5000));
    capture(&p, &[(PAGE_REQ, &answer)], Some(""));
    assert_eq!(texts(&p), ALL);
    let f = flow(&p);
    assert_eq!(f["state"], "upgraded");
    assert_eq!(f["earlier_statuses"], serde_json::json!([200]));
}

#[test]
fn keep_alive_chunked_page_then_upgrade() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("chunked.pcap");
    let mut answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        answer.extend_from_slice(b"7d0\r\n");
        answer.extend(std::iter::repeat_n(b'y', 2000));
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(b"0\r\n\r\n");
    capture(&p, &[(PAGE_REQ, &answer)], Some(""));
    assert_eq!(texts(&p), ALL);
    assert_eq!(flow(&p)["earlier_statuses"], serde_json::json!([200]));
}

#[test]
fn negotiate_401_then_retry_on_the_same_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("negotiate.pcap");
    let first = format!("{UPGRADE}\r\n");
    let denied: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\n\
Content-Length: 0\r\n\r\n";
    capture(
        &p,
        &[(first.as_bytes(), denied)],
        Some("Authorization: Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnY=\r\n"),
    );
    assert_eq!(texts(&p), ALL);
    let f = flow(&p);
    assert_eq!(f["state"], "upgraded");
    assert_eq!(f["status"], 101);
    assert_eq!(f["earlier_statuses"], serde_json::json!([401]));
    let out = wsdissect(&["--strict", p.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn answer_until_close_is_not_websocket_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("until-close.pcap");
    let page: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>hi</p>";
    capture(&p, &[(PAGE_REQ, page)], Some(""));
    let out = wsdissect(&["--format", "jsonl", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        format!(
            "wsdissect: {}: 1 TCP connection, 0 WebSocket: 1 plain HTTP without upgrade",
            p.display()
        )
    );
    let quiet = wsdissect(&["-q", "--format", "jsonl", p.to_str().unwrap()]);
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
}

#[test]
fn summary_names_each_kind_of_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("mixed.pcap");
    let mut buf = Vec::new();
    {
        let mut pc = Pcap::new(&mut buf, 65535);
        let mut http = Conn::new(1, 80);
        http.syn(&mut pc);
        http.send(&mut pc, true, PAGE_REQ);
        http.send(&mut pc, false, b"HTTP/1.1 204 No Content\r\n\r\n");
        http.close(&mut pc);
        let mut refused = Conn::new(2, 80);
        refused.syn(&mut pc);
        refused.send(&mut pc, true, format!("{UPGRADE}\r\n").as_bytes());
        refused.send(&mut pc, false, b"HTTP/1.1 403 Forbidden\r\n\r\n");
        refused.close(&mut pc);
        let mut unanswered = Conn::new(3, 80);
        unanswered.syn(&mut pc);
        unanswered.send(&mut pc, true, format!("{UPGRADE}\r\n").as_bytes());
        unanswered.close(&mut pc);
        let mut other = Conn::new(4, 5432);
        other.syn(&mut pc);
        other.send(&mut pc, true, &[0u8, 0, 0, 8, 4, 210, 22, 47]);
        other.close(&mut pc);
        let mut empty = Conn::new(5, 80);
        empty.syn(&mut pc);
        empty.close(&mut pc);
    }
    std::fs::write(&p, buf).unwrap();
    let out = wsdissect(&["--format", "jsonl", p.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "5 TCP connections, 0 WebSocket: 1 plain HTTP without upgrade, 1 upgrade refused, \
1 upgrade unanswered, 1 unrecognised, 1 with nothing to decode (no payload, or HTTP/2 without \
WebSocket)"
        ),
        "{err}"
    );
    let bytes = std::fs::read(&p).unwrap();
    let settings = wsdissect::run::JsonlSettings {
        config: Default::default(),
        decoding: Default::default(),
        flow_records: false,
    };
    let mut diags = Vec::new();
    let mut out = Vec::new();
    wsdissect::run::shard::dissect_jsonl("mixed", &bytes[..], settings, 3, &mut out, &mut |d| {
        diags.push(d.to_string())
    })
    .unwrap();
    assert!(
        diags.iter().any(|d| {
            d.starts_with(
            "mixed: 5 TCP connections, 0 WebSocket: 1 plain HTTP without upgrade, 1 upgrade refused"
        )
        }),
        "parallel path: {diags:?}"
    );
    let strict = wsdissect(&["--strict", "-q", p.to_str().unwrap()]);
    assert_eq!(strict.status.code(), Some(1));
    let err = String::from_utf8_lossy(&strict.stderr);
    assert!(
        err.contains("1 handshake problem (no answer to the upgrade request)"),
        "{err}"
    );
}
