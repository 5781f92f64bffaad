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
