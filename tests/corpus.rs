//! The real-peer corpus: every message `wsdissect` decodes from each capture in
//! testdata/corpus/ must be what the peers (Python websockets, aiohttp, Node ws,
//! Chromium) really sent, per connection and direction, in order, byte for byte, in the
//! clear and inside TLS (decrypted with the key logs the peers wrote). Where the capture
//! cannot hold everything (snap length, late start), what is decoded must still be exact
//! and what is not must be flagged.

mod common;

use common::truth::{assert_exact, same};
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

struct Check {
    name: String,
    exact: bool,
    /// The key log the peers wrote, for TLS captures.
    keylog: Option<String>,
}

/// Messages the peers sent in a capture (its truth file).
fn sent(name: &str) -> usize {
    let truth = testdata()
        .join("corpus")
        .join(name.rsplit_once('.').unwrap().0.to_string() + ".truth.jsonl");
    truth_by_direction(&truth).values().map(Vec::len).sum()
}

/// The share of the peers' messages a partial capture must decode exactly (the rest are
/// flagged or, when a hole took them whole, absent): what the capture allows.
fn min_share(name: &str) -> f64 {
    match name {
        // Messages longer than the 300-byte snap length cannot be decoded.
        "09-snaplen300.pcap" => 0.70,
        // Started after the handshakes: every message of the three connections.
        "10-late-start.pcap" => 1.0,
        // Three holes: one record holding a whole message, two inside large messages.
        "20-tls-gaps.pcap" => 0.94,
        other => panic!("{other}: no expected share; add one"),
    }
}

fn check(c: &Check) -> (usize, usize) {
    let dir = testdata().join("corpus");
    let file = dir.join(&c.name);
    let truth_path = dir.join(c.name.rsplit_once('.').unwrap().0.to_string() + ".truth.jsonl");
    let truth = truth_by_direction(&truth_path);
    let mut args = vec!["--quiet", "--format", "jsonl"];
    let keylog = c.keylog.as_ref().map(|k| dir.join(k));
    if let Some(k) = &keylog {
        args.extend(["--keylog", k.to_str().unwrap()]);
    }
    args.push(file.to_str().unwrap());
    let records = jsonl(&args);
    if c.exact {
        return (assert_exact(&c.name, &records, &truth), 0);
    }
    let mut ours: BTreeMap<Key, Vec<Value>> = BTreeMap::new();
    for r in records.iter().filter(|r| r["record"] == "message") {
        ours.entry(key_of(r)).or_default().push(r.clone());
    }
    let mut matched = 0;
    let mut flagged = 0;
    for (k, t) in &truth {
        let o = ours.remove(k).unwrap_or_default();
        // Decoded messages are an in-order subsequence of the truth; the rest is flagged.
        let mut ti = 0;
        for om in &o {
            if om.get("undecodable").and_then(Value::as_bool) == Some(true) {
                assert!(
                    !om["errors"].as_array().unwrap().is_empty(),
                    "{}: undecodable without a reason",
                    c.name
                );
                flagged += 1;
                continue;
            }
            while ti < t.len() && same(om, &t[ti]).is_err() {
                ti += 1;
            }
            assert!(
                ti < t.len(),
                "{}: {k:?}: decoded a message the peers never sent: {om}",
                c.name
            );
            ti += 1;
            matched += 1;
        }
    }
    (matched, flagged)
}

/// The manifest's single-file captures (rotated capture sets, directories of files with
/// a `set` entry, are tests/rotated.rs's).
fn manifest() -> Vec<Value> {
    let m: Value = serde_json::from_str(
        &std::fs::read_to_string(testdata().join("corpus/manifest.json")).unwrap(),
    )
    .unwrap();
    m.as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("set").is_none())
        .cloned()
        .collect()
}

/// Captures that cannot hold every message: a small snap length, a late start, holes
/// cut into a capture after the fact.
fn partial(e: &Value) -> bool {
    e["snaplen"].as_u64().unwrap_or(0) < 65535
        || e["starts_after_handshake"] == true
        || e["partial"] == true
}

#[test]
fn complete_captures_decode_exactly_what_the_peers_sent() {
    let mut total = 0;
    for e in manifest() {
        if partial(&e) {
            continue;
        }
        let (n, _) = check(&Check {
            name: e["file"].as_str().unwrap().into(),
            exact: true,
            keylog: e["keylog"].as_str().map(str::to_string),
        });
        eprintln!("{}: {n} messages match the peers", e["file"]);
        total += n;
    }
    assert!(total > 1100, "only {total} messages compared");
}

#[test]
fn partial_captures_decode_exactly_and_flag_the_rest() {
    let mut seen = 0;
    for e in manifest() {
        if !partial(&e) {
            continue;
        }
        let (n, flagged) = check(&Check {
            name: e["file"].as_str().unwrap().into(),
            exact: false,
            keylog: e["keylog"].as_str().map(str::to_string),
        });
        eprintln!(
            "{}: {n} messages match the peers, {flagged} flagged undecodable",
            e["file"]
        );
        let name = e["file"].as_str().unwrap();
        let share = n as f64 / sent(name) as f64;
        assert!(
            share >= min_share(name),
            "{name}: {n} of {} messages decoded ({share:.2} < {})",
            sent(name),
            min_share(name)
        );
        seen += 1;
    }
    assert!(seen >= 3);
}
