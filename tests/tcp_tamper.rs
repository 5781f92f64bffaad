//! TCP shaped by an attacker or by the capture point, in captures written here: a forged
//! RST far outside the window, retransmissions that differ from bytes already delivered,
//! an ACK captured before its data, a reused address pair whose SYN was not captured.
//! Each is counted on the `tcp` record and warned about, and the WebSocket messages
//! around it still decode.

mod common;

use common::write::*;
use common::*;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// An unmasked text frame (server to client).
fn text(s: &str) -> Vec<u8> {
    let mut f = vec![0x81, s.len() as u8];
    f.extend_from_slice(s.as_bytes());
    f
}

/// Writes a capture at `dir/name` with `body` after the WebSocket handshake.
fn capture(
    dir: &Path,
    name: &str,
    body: impl FnOnce(&mut Pcap<BufWriter<std::fs::File>>, &mut Conn),
) -> PathBuf {
    let path = dir.join(name);
    let mut p = Pcap::new(BufWriter::new(std::fs::File::create(&path).unwrap()), 65535);
    let mut c = Conn::new(1, 8080);
    c.open(&mut p, false);
    body(&mut p, &mut c);
    drop(p);
    path
}

/// (records, stderr) of `wsdissect [sub] --format jsonl FILE`.
fn run(sub: &[&str], file: &Path) -> (Vec<serde_json::Value>, String) {
    let mut a = sub.to_vec();
    a.extend_from_slice(&["--format", "jsonl", file.to_str().unwrap()]);
    let out = wsdissect(&a);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let records = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (records, stderr)
}

fn texts(records: &[serde_json::Value]) -> Vec<&str> {
    records
        .iter()
        .filter(|r| r["record"] == "message")
        .filter_map(|r| r["text"].as_str())
        .collect()
}

#[test]
fn forged_rst_outside_the_window_is_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let path = capture(tmp.path(), "forged-rst.pcap", |p, c| {
        c.send(p, false, &text("before"));
        // Injected toward the client, a million bytes ahead of the server's stream.
        p.packet(&tcp_packet(
            c.s,
            c.c,
            c.sseq.wrapping_add(1_000_000),
            c.cseq,
            RST | ACK,
            b"",
        ));
        c.send(p, false, &text("after"));
        c.close(p);
    });
    let (records, stderr) = run(&[], &path);
    assert_eq!(texts(&records), ["before", "after"]);
    assert!(
        stderr.contains("forged-rst.pcap: packet 7")
            && stderr.contains("RST outside the window ignored"),
        "{stderr}"
    );
    let (tcp, _) = run(&["tcp"], &path);
    assert_eq!(tcp[0]["state"], "closed");
    assert_eq!(tcp[0]["server_to_client"]["suspicious_rsts"], 1);
    assert_eq!(tcp[0]["server_to_client"]["rst"], false);
    assert_eq!(tcp[0]["client_to_server"]["suspicious_rsts"], 0);
}

#[test]
fn rst_in_the_window_still_ends_the_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let path = capture(tmp.path(), "rst.pcap", |p, c| {
        c.send(p, false, &text("before"));
        p.packet(&tcp_packet(c.s, c.c, c.sseq, c.cseq, RST | ACK, b""));
        c.send(p, false, &text("after"));
    });
    let (records, stderr) = run(&[], &path);
    assert_eq!(texts(&records), ["before"]);
    assert!(!stderr.contains("RST outside the window"), "{stderr}");
    let (tcp, _) = run(&["tcp"], &path);
    assert_eq!(tcp[0]["state"], "reset");
    assert_eq!(tcp[0]["server_to_client"]["suspicious_rsts"], 0);
}

/// A masked client text frame with the zero masking key (the payload reads as sent).
fn client_text(s: &str) -> Vec<u8> {
    let mut f = vec![0x81, 0x80 | s.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(s.as_bytes());
    f
}

#[test]
fn retransmission_differing_from_delivered_bytes_keeps_the_first_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let path = capture(tmp.path(), "conflict.pcap", |p, c| {
        let seq = c.cseq;
        c.send(p, true, &client_text("transfer 100 to alice"));
        // The same sequence numbers, other bytes: a second copy the server may not see.
        p.packet(&tcp_packet(
            c.c,
            c.s,
            seq,
            c.sseq,
            ACK | PSH,
            &client_text("transfer 999 to mallo"),
        ));
        c.send(p, true, &client_text("after"));
        c.close(p);
    });
    let (records, stderr) = run(&[], &path);
    assert_eq!(texts(&records), ["transfer 100 to alice", "after"]);
    assert!(
        stderr.contains(
            "conflict.pcap: packet 7: flow 0 client_to_server: retransmission differs from \
             the bytes already delivered: first copy kept (8 bytes differ)"
        ),
        "{stderr}"
    );
    let (tcp, _) = run(&["tcp"], &path);
    assert_eq!(tcp[0]["client_to_server"]["conflicting_bytes"], 8);
    assert_eq!(tcp[0]["client_to_server"]["conflicts"], 1);
    assert_eq!(tcp[0]["client_to_server"]["retransmissions"], 1);
    for sub in [&["tcp"][..], &[][..]] {
        let mut a = sub.to_vec();
        a.extend_from_slice(&["--strict", path.to_str().unwrap()]);
        let out = wsdissect(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{a:?}: {err}");
        assert!(err.contains("1 suspicious TCP segment"), "{a:?}: {err}");
    }
}

#[test]
fn ack_captured_before_the_data_it_acknowledges_leaves_no_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let path = capture(tmp.path(), "ack-first.pcap", |p, c| {
        let (one, two) = (text("one"), text("two"));
        // The client's ACK of both frames reaches the capture point first.
        let end = c.sseq.wrapping_add((one.len() + two.len()) as u32);
        p.packet(&tcp_packet(c.c, c.s, c.cseq, end, ACK, b""));
        c.send(p, false, &one);
        c.send(p, false, &two);
        c.close(p);
    });
    let (records, stderr) = run(&[], &path);
    assert_eq!(texts(&records), ["one", "two"]);
    assert!(!stderr.contains("gap"), "{stderr}");
    let (tcp, _) = run(&["tcp"], &path);
    assert_eq!(tcp[0]["server_to_client"]["gaps"], 0);
    assert_eq!(tcp[0]["server_to_client"]["retransmissions"], 0);
}

#[test]
fn reused_addresses_without_a_captured_syn_start_a_new_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let path = capture(tmp.path(), "reused.pcap", |p, c| {
        c.send(p, false, &text("first"));
        c.close(p);
        // The same addresses again, the client's SYN not captured: its SYN-ACK first.
        c.cseq = c.cseq.wrapping_add(3_000_000);
        c.sseq = c.sseq.wrapping_add(7_000_000);
        p.packet(&tcp_packet(c.s, c.c, c.sseq, c.cseq + 1, SYN | ACK, b""));
        c.cseq += 1;
        c.sseq += 1;
        p.packet(&tcp_packet(c.c, c.s, c.cseq, c.sseq, ACK, b""));
        c.send(
            p,
            true,
            b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        );
        c.send(
            p,
            false,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        );
        c.send(p, false, &text("second"));
        c.close(p);
    });
    let (records, _) = run(&[], &path);
    assert_eq!(texts(&records), ["first", "second"]);
    let flows: Vec<_> = records
        .iter()
        .filter(|r| r["record"] == "message")
        .map(|r| r["flow"].as_u64())
        .collect();
    assert_eq!(flows, [Some(0), Some(1)]);
    let (tcp, _) = run(&["tcp"], &path);
    assert_eq!(tcp.len(), 2);
    assert_eq!(tcp[1]["roles_known"], true);
    assert_eq!(tcp[1]["state"], "closed");
}

#[test]
fn a_conflict_inside_a_message_in_progress_is_said_on_that_message() {
    // A fragmented message: its first fragment delivered, then a differing copy of that
    // fragment, then the final fragment. The message decodes from the first copy and
    // says that another existed.
    let tmp = tempfile::tempdir().unwrap();
    let path = capture(tmp.path(), "conflict-in-message.pcap", |p, c| {
        let first = {
            let mut f = vec![0x01, 0x80 | 16, 0, 0, 0, 0];
            f.extend_from_slice(b"transfer 100 to ");
            f
        };
        let seq = c.cseq;
        c.send(p, true, &first);
        let mut forged = first.clone();
        forged[6..22].copy_from_slice(b"transfer 999 to ");
        p.packet(&tcp_packet(c.c, c.s, seq, c.sseq, ACK | PSH, &forged));
        let mut last = vec![0x80, 0x80 | 5, 0, 0, 0, 0];
        last.extend_from_slice(b"alice");
        c.send(p, true, &last);
        c.send(p, true, &client_text("after"));
        c.close(p);
    });
    let (records, _) = run(&[], &path);
    let msgs: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["record"] == "message")
        .collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(msgs[0]["text"], "transfer 100 to alice");
    assert_eq!(
        msgs[0]["errors"],
        serde_json::json!(["a retransmission of 22 of its bytes differed from the copy decoded"])
    );
    assert_eq!(msgs[1]["errors"], serde_json::json!([]));
}
