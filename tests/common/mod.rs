//! Helpers shared by the integration tests: running the binary, finding captures, tshark.

#![allow(dead_code)]

pub mod truth;
pub mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's testdata directory.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Every capture file under `dir`, sorted.
pub fn captures_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap") | Some("pcapng")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Runs `wsdissect` with `args`.
pub fn wsdissect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wsdissect"))
        .args(args)
        .output()
        .expect("run wsdissect")
}

/// Runs `wsdissect` and parses its JSON Lines output.
pub fn jsonl(args: &[&str]) -> Vec<serde_json::Value> {
    let out = wsdissect(args);
    assert!(
        out.status.code() != Some(2) && out.status.code().is_some(),
        "wsdissect {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect()
}

/// True when tshark can be run. When it cannot, a test that needs it says on stderr that
/// it is skipped (`what` names the test) and returns; but in CI (`CI` set) its absence
/// fails the test instead, since `.ci/run` installs tshark: no test may pass there by
/// doing nothing.
pub fn have_tshark(what: &str) -> bool {
    have_wireshark_tool("tshark", what)
}

/// True when editcap (installed with tshark) can be run; as [`have_tshark`].
pub fn have_editcap(what: &str) -> bool {
    have_wireshark_tool("editcap", what)
}

/// As [`have_tshark`], for another tool of Wireshark's that `.ci/run` installs with
/// tshark (`editcap`, `mergecap`).
pub fn have_wireshark_tool(tool: &str, what: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{what}: {tool} not found, but CI is set: CI must run this test \
                 (.ci/run installs tshark and its tools; is it on PATH?)"
            );
        }
        // Straight to stderr, not eprintln!: the test harness would capture that and show
        // it only if the test failed.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "{what}: skipped: {tool} not found (.ci/run installs it with tshark)"
        );
    }
    ok
}

/// A connection direction in the corpus: (client port, direction name, HTTP/2 stream id
/// or 0).
pub type Key = (u64, String, u64);

/// The key of a message record.
pub fn key_of(r: &serde_json::Value) -> Key {
    (
        port_of(r["client"].as_str().unwrap()),
        r["direction"].as_str().unwrap().to_string(),
        r["h2_stream_id"].as_u64().unwrap_or(0),
    )
}

/// The port of an `IP:PORT` or `[v6]:PORT` address.
pub fn port_of(addr: &str) -> u64 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// Lower-case hex SHA-256.
pub fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// The peers' `sent` records of a corpus truth file per (client port, direction), in order.
pub fn truth_by_direction(path: &Path) -> std::collections::BTreeMap<Key, Vec<serde_json::Value>> {
    let mut by: std::collections::BTreeMap<Key, Vec<serde_json::Value>> = Default::default();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let t: serde_json::Value = serde_json::from_str(line).unwrap();
        if t["view"] != "sent" {
            continue;
        }
        let k = (
            t["client_port"].as_u64().unwrap(),
            t["direction"].as_str().unwrap().to_string(),
            t["h2_stream_id"].as_u64().unwrap_or(0),
        );
        by.entry(k).or_default().push(t);
    }
    for v in by.values_mut() {
        v.sort_by_key(|t| t["index"].as_u64().unwrap());
    }
    by
}

/// tshark's view: flow id → (node 0 address, node 1 address, node 0 bytes, node 1 bytes).
pub type Follow = HashMap<u64, (String, String, Vec<u8>, Vec<u8>)>;

/// One stream being read: id, node 0, node 1, node 0 bytes, node 1 bytes.
pub type Stream = (u64, String, String, Vec<u8>, Vec<u8>);

/// `tshark -z follow,PROTO,raw,N` for each of `flows` (PROTO `tcp`, or `tls` with the
/// key log option in `extra`), parsed.
pub fn tshark_follow(file: &Path, proto: &str, extra: &[&str], flows: &[u64]) -> Follow {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).arg("-q").args(extra);
    for f in flows {
        cmd.arg("-z").arg(format!("follow,{proto},raw,{f}"));
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

pub fn decode_hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}
