//! Each reassembled TCP direction must equal what `tshark -z follow,tcp,raw` reports, on
//! every capture in testdata/ (the lossy ones included: their holes are filled late and
//! out of order), for every connection where no gap remained. The snap-length capture is
//! left out: there tshark and wsdissect both lack the cut bytes, in different ways.

mod common;

use common::*;

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
        let follow = tshark_follow(&file, "tcp", &[], &ids);
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
