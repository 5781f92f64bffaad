//! WebSockets over HTTP/2 (RFC 8441) between real peers: hypercorn against a client on
//! the `h2` library (cleartext with prior knowledge, and inside TLS with two WebSockets,
//! a page and a refused CONNECT on one connection), and headless Chromium against
//! hypercorn. The messages are compared with the peers' truth in tests/corpus.rs; here
//! the flow records must say what the peers negotiated, stream by stream, and the
//! filters must select streams.

mod common;

use common::*;
use serde_json::Value;

fn corpus(name: &str) -> std::path::PathBuf {
    testdata().join("corpus").join(name)
}

fn h2_captures() -> Vec<Value> {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus("manifest.json")).unwrap()).unwrap();
    m.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["h2"] == true)
        .cloned()
        .collect()
}

fn args(e: &Value, view: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = view.iter().map(|s| s.to_string()).collect();
    a.extend(["--quiet".into(), "--format".into(), "jsonl".into()]);
    if let Some(k) = e["keylog"].as_str() {
        a.extend(["--keylog".into(), corpus(k).display().to_string()]);
    }
    a.push(corpus(e["file"].as_str().unwrap()).display().to_string());
    a
}

fn run(a: &[String]) -> Vec<Value> {
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    jsonl(&a)
}

/// A manifest list of extensions ("a; b, c") as the flow record lists them.
fn list(v: &Value) -> Vec<String> {
    v.as_str()
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn flows_say_what_each_stream_negotiated() {
    let mut checked = 0;
    for e in h2_captures() {
        let file = e["file"].as_str().unwrap();
        let flows = run(&args(&e, &["flows"]));
        let wanted = e["h2_websockets"].as_array().unwrap();
        let refused: Vec<&Value> = e["h2_other_streams"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["protocol"] == "websocket")
            .collect();
        assert_eq!(
            flows.len(),
            wanted.len() + refused.len(),
            "{file}: {flows:?}"
        );
        for w in wanted {
            let id = w["h2_stream_id"].as_u64().unwrap();
            let f = flows
                .iter()
                .find(|f| f["h2_stream_id"] == id)
                .unwrap_or_else(|| panic!("{file}: no flow for stream {id}"));
            let what = format!("{file} stream {id}: {f}");
            assert_eq!(
                port_of(f["client"].as_str().unwrap()),
                w["client_port"].as_u64().unwrap(),
                "{what}"
            );
            assert_eq!(f["state"], "upgraded", "{what}");
            assert_eq!(f["method"], "CONNECT", "{what}");
            assert_eq!(f["path"], w["path"], "{what}");
            assert_eq!(f["host"], w["authority"], "{what}");
            assert_eq!(f["status"], 200, "{what}");
            assert_eq!(f["protocol"], w["protocol"], "{what}");
            assert_eq!(
                f["extensions"].as_array().unwrap().len(),
                list(&w["extensions"]).len(),
                "{what}"
            );
            for (ours, theirs) in f["extensions"]
                .as_array()
                .unwrap()
                .iter()
                .zip(list(&w["extensions"]))
            {
                assert_eq!(ours.as_str().unwrap(), theirs, "{what}");
            }
            assert_eq!(
                f["permessage_deflate"].is_object(),
                w["extensions"].is_string(),
                "{what}"
            );
            let others = e["h2_other_streams"].as_array().unwrap().len();
            assert_eq!(
                f["h2_other_streams"].as_u64(),
                Some(others as u64 - refused.len() as u64),
                "{what}"
            );
            for (d, n) in w["messages"].as_object().unwrap() {
                assert_eq!(f[d]["messages"], *n, "{what} {d}");
            }
            assert!(f["errors"].as_array().unwrap().is_empty(), "{what}");
            checked += 1;
        }
        for r in refused {
            let id = r["stream"].as_u64().unwrap();
            let f = flows.iter().find(|f| f["h2_stream_id"] == id).unwrap();
            assert_eq!(f["state"], "rejected", "{f}");
            assert_eq!(f["status"], r["status"], "{f}");
            assert_eq!(f["path"], r["path"], "{f}");
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} streams checked");
}

#[test]
fn stream_filter_selects_one_websocket_of_a_connection() {
    let e = h2_captures()
        .into_iter()
        .find(|e| e["h2_websockets"].as_array().unwrap().len() >= 2)
        .unwrap();
    let all = run(&args(&e, &[]));
    let mut streams: Vec<u64> = all
        .iter()
        .map(|m| m["h2_stream_id"].as_u64().unwrap())
        .collect();
    streams.sort_unstable();
    streams.dedup();
    assert_eq!(streams, [1, 3]);
    let mut total = 0;
    for s in streams {
        let one = run(&args(&e, &["--h2-stream", &s.to_string()]));
        assert!(!one.is_empty() && one.iter().all(|m| m["h2_stream_id"] == s));
        total += one.len();
    }
    assert_eq!(total, all.len());
    // --flow keeps selecting the TCP connection: both streams.
    let conn = run(&args(&e, &["--flow", "0"]));
    assert_eq!(conn.len(), all.len());
}

#[test]
fn stats_and_extract_keep_the_streams_of_a_connection_apart() {
    let e = h2_captures()
        .into_iter()
        .find(|e| e["h2_websockets"].as_array().unwrap().len() >= 2)
        .unwrap();
    let stats = run(&args(&e, &["stats"]));
    for w in e["h2_websockets"].as_array().unwrap() {
        let id = w["h2_stream_id"].as_u64().unwrap();
        let s = stats
            .iter()
            .find(|s| s["h2_stream_id"] == id)
            .unwrap_or_else(|| panic!("no stats for stream {id}: {stats:?}"));
        for (d, n) in w["messages"].as_object().unwrap() {
            assert_eq!(s[d]["messages"], *n, "stream {id} {d}: {s}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let mut a = args(&e, &["extract", "--out", out.to_str().unwrap()]);
    a.retain(|x| x != "--format" && x != "jsonl");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    assert!(wsdissect(&a).status.success());
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let sent: usize = e["h2_websockets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["messages"].as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap() as usize)
        .sum();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("flow0000s")).count(),
        sent
    );
}
