//! Each reassembled TCP direction must equal what `tshark -z follow,tcp,raw` reports, on
//! every capture in testdata/ (the lossy ones included: their holes are filled late and
//! out of order), for every connection where no gap remained. The snap-length capture is
//! left out: there tshark and wsdissect both lack the cut bytes, in different ways.

mod common;

use common::*;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// tshark's view: flow id → (node 0 address, node 1 address, node 0 bytes, node 1 bytes).
type Follow = HashMap<u64, (String, String, Vec<u8>, Vec<u8>)>;

/// One stream being read: id, node 0, node 1, node 0 bytes, node 1 bytes.
type Stream = (u64, String, String, Vec<u8>, Vec<u8>);

fn tshark_follow(file: &Path, flows: &[u64]) -> Follow {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).arg("-q");
    for f in flows {
        cmd.arg("-z").arg(format!("follow,tcp,raw,{f}"));
    }
    let out = cmd.output().expect("run tshark");
    assert!(out.status.success(), "tshark failed on {}", file.display());
    let text = String::from_utf8(out.stdout).expect("tshark output is text");
    let mut result = Follow::new();
    let mut cur: Option<Stream> = None;
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("Filter: tcp.stream eq ") {
            if let Some(c) = cur.take() {
                result.insert(c.0, (c.1, c.2, c.3, c.4));
            }
            cur = Some((
                f.trim().parse().unwrap(),
                String::new(),
                String::new(),
                vec![],
                vec![],
            ));
        } else if let Some(c) = cur.as_mut() {
            if let Some(a) = line.strip_prefix("Node 0: ") {
                c.1 = a.to_string();
            } else if let Some(a) = line.strip_prefix("Node 1: ") {
                c.2 = a.to_string();
            } else if line.starts_with("===") || line.starts_with("Follow:") || line.is_empty() {
            } else if let Some(hex) = line.strip_prefix('\t') {
                c.4.extend(decode_hex(hex));
            } else {
                c.3.extend(decode_hex(line));
            }
        }
    }
    if let Some(c) = cur.take() {
        result.insert(c.0, (c.1, c.2, c.3, c.4));
    }
    result
}

fn decode_hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// tshark writes IPv6 nodes as `addr:port` without brackets.
fn same_addr(ours: &str, theirs: &str) -> bool {
    ours == theirs || ours.replace(['[', ']'], "") == theirs
}

#[test]
fn reassembled_streams_equal_tshark_follow() {
    if !have_tshark("reassembled_streams_equal_tshark_follow") {
        return;
    }
    let mut checked = 0;
    for file in captures_under(&testdata()) {
        let name = file.display().to_string();
        if name.contains("snaplen") {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let flows = jsonl(&[
            "tcp",
            "--quiet",
            "--format",
            "jsonl",
            "--dump-dir",
            dir.path().to_str().unwrap(),
            &name,
        ]);
        let clean: Vec<&serde_json::Value> = flows
            .iter()
            .filter(|f| {
                ["client_to_server", "server_to_client"]
                    .iter()
                    .all(|d| f[d]["gaps"] == 0 && f[d]["conflicting_bytes"] == 0)
            })
            .collect();
        let ids: Vec<u64> = clean.iter().map(|f| f["flow"].as_u64().unwrap()).collect();
        if ids.is_empty() {
            continue;
        }
        let follow = tshark_follow(&file, &ids);
        for f in clean {
            let id = f["flow"].as_u64().unwrap();
            let (n0, n1, b0, b1) = follow
                .get(&id)
                .unwrap_or_else(|| panic!("{name}: tshark has no stream {id}"));
            let client = f["client"].as_str().unwrap();
            let c2s =
                std::fs::read(dir.path().join(format!("flow{id}.client_to_server.bin"))).unwrap();
            let s2c =
                std::fs::read(dir.path().join(format!("flow{id}.server_to_client.bin"))).unwrap();
            let (tc, ts) = if same_addr(client, n0) {
                (b0, b1)
            } else {
                assert!(
                    same_addr(client, n1),
                    "{name} flow {id}: {client} is neither {n0} nor {n1}"
                );
                (b1, b0)
            };
            assert!(
                c2s == *tc,
                "{name} flow {id}: client→server differs from tshark ({} vs {} bytes)",
                c2s.len(),
                tc.len()
            );
            assert!(
                s2c == *ts,
                "{name} flow {id}: server→client differs from tshark ({} vs {} bytes)",
                s2c.len(),
                ts.len()
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} flows compared");
}
