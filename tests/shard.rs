//! `--shard K/N`: the N shards of a run together are the whole run, each connection in
//! exactly one shard, with the records (and flow numbers) the whole run gives it.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

/// Records by connection (flow number; HTTP/2 WebSockets of one connection together).
fn by_flow(records: Vec<Value>) -> BTreeMap<u64, Vec<Value>> {
    let mut m: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    for r in records {
        m.entry(r["flow"].as_u64().unwrap()).or_default().push(r);
    }
    m
}

#[test]
fn three_shards_make_the_whole() {
    let corpus = testdata().join("corpus");
    let keys = corpus.join("25-h2-tls-websockets.keys");
    let cases: Vec<Vec<String>> = ["08-concurrent.pcap", "06-cross-node-python.pcap"]
        .iter()
        .map(|c| vec![corpus.join(c).display().to_string()])
        .chain([vec![
            corpus
                .join("25-h2-tls-websockets.pcap")
                .display()
                .to_string(),
            "--keylog".into(),
            keys.display().to_string(),
        ]])
        .collect();
    let mut split = 0;
    for case in &cases {
        for view in [&[][..], &["flows"][..], &["tcp"][..], &["--frames"][..]] {
            let mut args: Vec<&str> = view.to_vec();
            args.extend(case.iter().map(String::as_str));
            args.extend(["--format", "jsonl"]);
            let whole = by_flow(jsonl(&args));
            let mut union = BTreeMap::new();
            let mut shards_used = 0;
            for k in 0..3 {
                let shard = format!("{k}/3");
                let mut a = args.clone();
                a.extend(["--shard", shard.as_str()]);
                let part = by_flow(jsonl(&a));
                shards_used += usize::from(!part.is_empty());
                for (flow, recs) in part {
                    assert!(
                        union.insert(flow, recs).is_none(),
                        "{args:?}: flow {flow} in two shards"
                    );
                }
            }
            assert_eq!(union, whole, "{args:?}: the shards differ from the whole");
            split += usize::from(shards_used > 1);
        }
    }
    assert!(split >= 4, "the captures hardly split: {split}");
}

#[test]
fn shard_takes_k_of_n() {
    let capture = testdata().join("corpus").join("08-concurrent.pcap");
    for bad in ["3/3", "1", "a/2", "0/0"] {
        let out = wsdissect(&[capture.to_str().unwrap(), "--shard", bad]);
        assert_eq!(out.status.code(), Some(2), "--shard {bad}");
    }
}

/// The flow numbers a TCP warning on standard error names ("... flow 3 client_to_server: ...").
fn warned_flows(stderr: &[u8]) -> Vec<u64> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|l| l.split(": flow ").nth(1)?.split(' ').next()?.parse().ok())
        .collect()
}

/// A shard warns only about its own connections: TCP warnings of the connections another
/// task decodes were printed by every task before (found on 12-lossy-gaps with a small
/// out-of-order limit, whose three connections all hit it).
#[test]
fn shard_warns_about_its_own_connections() {
    let capture = testdata().join("corpus").join("12-lossy-gaps.pcap");
    let c = capture.to_str().unwrap();
    let base = ["tcp", c, "--max-ooo-bytes", "2000", "--format", "jsonl"];
    let mut whole = warned_flows(&wsdissect(&base).stderr);
    whole.sort_unstable();
    whole.dedup();
    assert!(
        whole.len() > 1,
        "too few connections warned about: {whole:?}"
    );
    let mut union = Vec::new();
    for k in 0..2 {
        let shard = format!("{k}/2");
        let mut args = base.to_vec();
        args.extend(["--shard", shard.as_str()]);
        let owned: Vec<u64> = jsonl(&args)
            .iter()
            .map(|r| r["flow"].as_u64().unwrap())
            .collect();
        for f in warned_flows(&wsdissect(&args).stderr) {
            assert!(
                owned.contains(&f),
                "shard {shard} warns about flow {f}, not its own"
            );
            union.push(f);
        }
    }
    union.sort_unstable();
    union.dedup();
    assert_eq!(union, whole);
}
