//! Public captures from other projects' test suites (testdata/public, provenance in
//! SOURCES.md) and the synthetic no-context-takeover capture: what their authors
//! documented must come out.

mod common;

use common::*;
use serde_json::Value;

fn messages(rel: &str) -> Vec<Value> {
    let p = testdata().join(rel);
    jsonl(&["--quiet", "--format", "jsonl", p.to_str().unwrap()])
}

fn flows(rel: &str) -> Vec<Value> {
    let p = testdata().join(rel);
    jsonl(&["flows", "--quiet", "--format", "jsonl", p.to_str().unwrap()])
}

const Z: &str = "public/zeek/testing/btest/Traces/websocket/";

#[test]
fn suricata_compressed_context_takeover_decodes_every_message() {
    let m = messages("public/suricata-verify/tests/websocket-compressed/example_websocket.pcap");
    assert_eq!(m.len(), 10);
    assert!(m
        .iter()
        .all(|r| r["compressed"] == true && r["errors"].as_array().unwrap().is_empty()));
    assert!(m[0]["text"].as_str().unwrap().starts_with("KEY="));
    assert_eq!(m[9]["text"], "TOGGLE=5659131662f54334");
}

#[test]
fn suricata_control_frame_inside_fragmented_message_is_not_spliced() {
    let m = messages("public/suricata-verify/tests/websocket-control-frag/input.pcap");
    let text: Vec<&Value> = m.iter().filter(|r| r["opcode"] == "text").collect();
    assert_eq!(text.len(), 1);
    assert_eq!(
        text[0]["text"],
        "MALWARE_DOWNLOAD cmd.exe /c powershell -enc AAAA"
    );
    assert_eq!(text[0]["frames"], 2);
    assert!(m.iter().any(|r| r["opcode"] == "ping"));
    assert!(m.iter().any(|r| r["opcode"] == "pong"));
}

#[test]
fn suricata_ping_on_linux_cooked_capture() {
    let m = messages("public/suricata-verify/tests/websocket-ping/input.pcap");
    let ping = m.iter().find(|r| r["opcode"] == "ping").unwrap();
    let pong = m.iter().find(|r| r["opcode"] == "pong").unwrap();
    assert_eq!(ping["packets"][0], 8);
    assert_eq!(pong["packets"][0], 11);
    assert!(ping["errors"].to_string().contains("unmasked client frame"));
}

#[test]
fn suricata_basic_counts() {
    let m = messages("public/suricata-verify/tests/websocket/basic_websockets.pcap");
    let c2s = m
        .iter()
        .filter(|r| r["direction"] == "client_to_server")
        .count();
    let s2c = m
        .iter()
        .filter(|r| r["direction"] == "server_to_client")
        .count();
    assert_eq!((c2s, s2c), (3, 14));
    assert_eq!(
        m.iter()
            .find(|r| r["direction"] == "client_to_server")
            .unwrap()["packets"][0],
        6
    );
}

#[test]
fn zeek_close_status_and_oversized_close_violation() {
    let m = messages(&format!("{Z}message-too-big-status.pcap"));
    let close = m.iter().find(|r| r["close_code"] == 1009).unwrap();
    assert_eq!(close["close_reason"], "over size limit (4 > 2 bytes)");
    let m = messages(&format!("{Z}oversized-close-frame.pcapng"));
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["opcode"], "close");
    assert_eq!(m[0]["length"], 258);
    assert!(m[0]["errors"]
        .to_string()
        .contains("control frame payload of 258 bytes"));
}

#[test]
fn zeek_wrong_accept_header_is_reported() {
    let f = flows(&format!("{Z}wrong-accept-header.pcap"));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["accept_valid"], false);
    assert_eq!(f[0]["protocol"], "v1");
}

#[test]
fn zeek_fragments_and_coalesced_reply() {
    let m = messages(&format!("{Z}two-binary-fragments.pcap"));
    let two = m.iter().find(|r| r["frames"] == 2).unwrap();
    assert_eq!(two["data_b64"], "SGVsbG8gdGhlcmUh"); // "Hello there!"
    for name in ["reply-ping-coalesced.pcap", "reply-ping-separate.pcap"] {
        let m = messages(&format!("{Z}{name}"));
        let kinds: Vec<&str> = m.iter().map(|r| r["opcode"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["ping", "pong", "text", "text", "close", "close"],
            "{name}"
        );
    }
    let f = flows(&format!("{Z}wstunnel-ssh.pcap"));
    assert_eq!(f.len(), 2);
}

#[test]
fn zeek_pr_python_websockets_compressed_pair() {
    let plain =
        messages("public/zeek-pr5646/testing/btest/Traces/websocket/websocket_baseline.pcap");
    let comp =
        messages("public/zeek-pr5646/testing/btest/Traces/websocket/websocket_compressed.pcap");
    assert_eq!(comp[0]["text"], "Hello_Zeek_Analyzer_".repeat(50));
    assert_eq!(comp[1]["text"], "Zeek_WebSocket_Test_String_".repeat(50));
    for (a, b) in plain.iter().zip(&comp) {
        assert_eq!(a["text"], b["text"]);
    }
    let f = flows("public/zeek-pr5646/testing/btest/Traces/websocket/websocket_compressed.pcap");
    assert_eq!(f[0]["permessage_deflate"]["server_max_window_bits"], 12);
    assert_eq!(f[0]["permessage_deflate"]["client_max_window_bits"], 12);
}

#[test]
fn synthetic_no_context_takeover_per_direction() {
    let m = messages("synthetic/pmd-no-context-takeover-direction.pcap");
    assert_eq!(m.len(), 20);
    for r in &m {
        assert!(r["errors"].as_array().unwrap().is_empty(), "{r}");
        let t: Value = serde_json::from_str(r["text"].as_str().unwrap()).unwrap();
        let from = if r["direction"] == "client_to_server" {
            "client"
        } else {
            "server"
        };
        assert_eq!(t["from"], from);
    }
}

#[test]
fn ndn_segmented_binary_over_ipv4_and_ipv6() {
    for f in [
        "ipv4-websocket-segmented.pcap",
        "ipv6-websocket-segmented.pcap",
    ] {
        let m = messages(&format!("public/ndn-tools/tests/dissect-wireshark/{f}"));
        let big = m.iter().find(|r| r["length"] == 5379).unwrap();
        assert!(
            big["packets"][1].as_u64() > big["packets"][0].as_u64(),
            "{f}"
        );
    }
}
