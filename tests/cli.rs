//! The command line as scripts and analysts use it: `extract` checked against the peers'
//! truth files, every filter, `stats` numbers against the truth, `--strict` exit codes,
//! colours, completions and the man page.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn corpus(name: &str) -> String {
    testdata()
        .join("corpus")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

/// The peers' `sent` records per (client port, direction), in order.
fn truth(capture: &str) -> BTreeMap<Key, Vec<Value>> {
    truth_by_direction(Path::new(&corpus(
        &(capture.rsplit_once('.').unwrap().0.to_string() + ".truth.jsonl"),
    )))
}

fn key(r: &Value) -> Key {
    key_of(r)
}

fn messages(args: &[&str]) -> Vec<Value> {
    let mut a = vec!["--quiet", "--format", "jsonl"];
    a.extend_from_slice(args);
    jsonl(&a)
        .into_iter()
        .filter(|r| r["record"] == "message")
        .collect()
}

fn read_manifest(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("manifest.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every payload file's digest equals the manifest's and the peers' truth, in order.
fn extract_matches_truth(capture: &str) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("evidence");
    let o = wsdissect(&["extract", &corpus(capture), "--out", dir.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout.is_empty(), "extract writes nothing on stdout");
    let name_re =
        regex::Regex::new(r"^flow\d{4}-(c2s|s2c)-\d{6}-[a-z0-9]+\.(txt|json|bin)$").unwrap();
    let mut ours: BTreeMap<Key, Vec<(u64, String, String)>> = BTreeMap::new();
    let mut files = 0;
    for e in read_manifest(&dir) {
        assert!(e.get("text").is_none() && e.get("data_b64").is_none());
        assert!(e["packets"][0].as_u64().unwrap() >= 1);
        let name = e["payload_file"].as_str().expect("every message decoded");
        assert!(name_re.is_match(name), "{name}");
        let bytes = std::fs::read(dir.join(name)).unwrap();
        files += 1;
        assert_eq!(
            sha(&bytes),
            e["sha256"],
            "{name}: digest differs from manifest"
        );
        assert_eq!(bytes.len() as u64, e["bytes_written"].as_u64().unwrap());
        let dir_tag = if e["direction"] == "client_to_server" {
            "c2s"
        } else {
            "s2c"
        };
        assert!(name.contains(&format!(
            "flow{:04}-{dir_tag}-{:06}-",
            e["flow"].as_u64().unwrap(),
            e["index"].as_u64().unwrap()
        )));
        if name.ends_with(".json") {
            serde_json::from_slice::<Value>(&bytes).unwrap();
        }
        if name.ends_with(".txt") || name.ends_with(".json") {
            assert_eq!(e["opcode"], "text");
            String::from_utf8(bytes).unwrap();
        }
        ours.entry(key(&e)).or_default().push((
            e["index"].as_u64().unwrap(),
            e["opcode"].as_str().unwrap().to_string(),
            e["sha256"].as_str().unwrap().to_string(),
        ));
    }
    let t = truth(capture);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        t.keys().collect::<Vec<_>>(),
        "{capture}: connection directions"
    );
    let mut compared = 0;
    for (k, sent) in &t {
        let got = &ours[k];
        assert_eq!(got.len(), sent.len(), "{capture} {k:?}: message count");
        for (i, ((index, opcode, digest), tm)) in got.iter().zip(sent).enumerate() {
            assert_eq!(*index, i as u64, "{capture} {k:?}: manifest order");
            assert_eq!(opcode, &tm["opcode"], "{capture} {k:?} #{i}");
            assert_eq!(
                digest, &tm["sha256"],
                "{capture} {k:?} #{i}: payload differs"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, files);
    assert!(
        compared > 20,
        "{capture}: only {compared} payloads compared"
    );
}

#[test]
fn extract_writes_what_the_peers_sent() {
    for capture in [
        "01-python-websockets-deflate.pcap",
        "05-aiohttp-compress-subprotocol.pcap",
        "07-ipv6.pcapng",
        "08-concurrent.pcap",
    ] {
        extract_matches_truth(capture);
    }
}

#[test]
fn extract_lists_undecodable_messages_without_a_file() {
    let capture = corpus("09-snaplen300.pcap");
    let out = tempfile::tempdir().unwrap();
    let o = wsdissect(&[
        "extract",
        "-q",
        &capture,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let manifest = read_manifest(out.path());
    let all = messages(&[&capture]);
    assert_eq!(manifest.len(), all.len());
    let mut without = 0;
    for e in &manifest {
        if e.get("payload_file").is_none() {
            without += 1;
            assert_eq!(e["undecodable"], true);
            assert!(!e["errors"].as_array().unwrap().is_empty());
            assert!(e.get("sha256").is_none());
        } else {
            let b = std::fs::read(out.path().join(e["payload_file"].as_str().unwrap())).unwrap();
            assert_eq!(sha(&b), e["sha256"]);
        }
    }
    assert!(without > 0);
    // With a filter only the selected messages are written, still indexed by position.
    let out2 = tempfile::tempdir().unwrap();
    let o = wsdissect(&[
        "extract",
        "-q",
        &capture,
        "--out",
        out2.path().to_str().unwrap(),
        "--direction",
        "server_to_client",
        "--opcode",
        "binary",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let m2 = read_manifest(out2.path());
    assert!(!m2.is_empty());
    for e in &m2 {
        assert_eq!(e["direction"], "server_to_client");
        assert_eq!(e["opcode"], "binary");
        let same = manifest
            .iter()
            .find(|x| {
                x["flow"] == e["flow"]
                    && x["packets"] == e["packets"]
                    && x["direction"] == e["direction"]
            })
            .unwrap();
        assert_eq!(same["index"], e["index"]);
    }
}

/// Runs the message view with `filter` and checks it keeps exactly what `keep` keeps.
fn filtered(capture: &str, filter: &[&str], keep: impl Fn(&Value) -> bool) -> usize {
    let all = messages(&[capture]);
    let mut args = vec![capture];
    args.extend_from_slice(filter);
    let got = messages(&args);
    let want: Vec<Value> = all.into_iter().filter(|m| keep(m)).collect();
    assert_eq!(got, want, "{filter:?}");
    assert!(
        !got.is_empty(),
        "{filter:?} selects nothing: a useless test"
    );
    got.len()
}

#[test]
fn every_filter_selects_exactly_its_messages() {
    let c = corpus("08-concurrent.pcap");
    let all = messages(&[&c]);
    let flows: Vec<u64> = all.iter().map(|m| m["flow"].as_u64().unwrap()).collect();
    assert!(
        flows.iter().any(|f| *f != flows[0]),
        "need several connections"
    );
    let f1 = all[all.len() / 2]["flow"].as_u64().unwrap();
    let n = filtered(&c, &["--flow", &f1.to_string()], |m| m["flow"] == f1);
    assert!(n < all.len());
    let client = all[0]["client"].as_str().unwrap().to_string();
    filtered(&c, &["--client", &client], |m| {
        m["client"] == client.as_str()
    });
    let server = all[0]["server"].as_str().unwrap().to_string();
    filtered(&c, &["--server", &server], |m| {
        m["server"] == server.as_str()
    });
    filtered(&c, &["--server", "127.0.0.1"], |_| true);
    filtered(&c, &["--direction", "server_to_client"], |m| {
        m["direction"] == "server_to_client"
    });
    filtered(&c, &["--direction", "c2s"], |m| {
        m["direction"] == "client_to_server"
    });
    filtered(&c, &["--opcode", "binary,ping"], |m| {
        m["opcode"] == "binary" || m["opcode"] == "ping"
    });
    let re = regex::Regex::new("^hello.*[13]$").unwrap();
    filtered(&c, &["--grep", "^hello.*[13]$"], |m| {
        m["text"].as_str().is_some_and(|t| re.is_match(t))
    });
    let mid = all[all.len() / 2]["timestamp"]
        .as_str()
        .unwrap()
        .to_string();
    filtered(&c, &["--since", &mid], |m| {
        m["timestamp"].as_str().unwrap() >= mid.as_str()
    });
    filtered(&c, &["--until", &mid], |m| {
        m["timestamp"].as_str().unwrap() <= mid.as_str()
    });
    let got = messages(&[&c, "--limit", "3"]);
    assert_eq!(got, all[..3].to_vec());
    // Combined.
    filtered(
        &c,
        &[
            "--flow",
            &f1.to_string(),
            "--opcode",
            "text",
            "--direction",
            "client_to_server",
        ],
        |m| m["flow"] == f1 && m["opcode"] == "text" && m["direction"] == "client_to_server",
    );

    // IPv6, with and without a port.
    let v6 = corpus("07-ipv6.pcapng");
    let all6 = messages(&[&v6]);
    let c6 = all6[0]["client"].as_str().unwrap().to_string();
    assert!(c6.starts_with('['));
    filtered(&v6, &["--client", &c6], |m| m["client"] == c6.as_str());
    filtered(&v6, &["--client", "::1"], |_| true);
    filtered(&v6, &["--client", "[::1]"], |_| true);
    let none = messages(&[&v6, "--client", "[::2]"]);
    assert!(none.is_empty());

    // Frames follow their message.
    let mut args = vec![
        "--quiet", "--format", "jsonl", "--frames", &c, "--opcode", "ping",
    ];
    let recs = jsonl(&args);
    assert!(recs.iter().any(|r| r["record"] == "frame"));
    assert!(recs.iter().all(|r| r["opcode"] == "ping"));
    args.truncate(5);
    let all_recs = jsonl(&args);
    assert!(all_recs.len() > recs.len());

    // Bad values are usage errors.
    for bad in [
        ["--since", "yesterday"],
        ["--client", "not-an-address"],
        ["--grep", "("],
        ["--opcode", "nope"],
    ] {
        let o = wsdissect(&[&c, bad[0], bad[1]]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        assert!(!o.stderr.is_empty());
    }
}

#[test]
fn queued_frames_keep_the_capture_order() {
    // A ping between the fragments of a text message: with a limit (which makes frames
    // wait for their message) the output is still in the original order.
    let c = testdata()
        .join("public/suricata-verify/tests/websocket-control-frag/input.pcap")
        .to_str()
        .unwrap()
        .to_string();
    let plain = jsonl(&["-q", "--format", "jsonl", "--frames", &c]);
    let limited = jsonl(&["-q", "--format", "jsonl", "--frames", "--limit", "1000", &c]);
    assert_eq!(plain, limited);
    let kinds: Vec<String> = plain
        .iter()
        .map(|r| format!("{} {}", r["record"], r["opcode"]))
        .collect();
    assert!(kinds.len() >= 4, "{kinds:?}");
    let with_ping = jsonl(&[
        "-q",
        "--format",
        "jsonl",
        "--frames",
        "--opcode",
        "text,ping",
        &c,
    ]);
    let want: Vec<Value> = plain
        .into_iter()
        .filter(|r| r["opcode"] != "binary" && r["opcode"] != "close" && r["opcode"] != "pong")
        .collect();
    assert_eq!(with_ping, want);
}

#[test]
fn flows_and_tcp_views_honour_connection_filters() {
    let c = corpus("08-concurrent.pcap");
    let flows = jsonl(&["flows", "-q", "--format", "jsonl", &c]);
    assert!(flows.len() > 1);
    let one = flows[0]["flow"].as_u64().unwrap();
    let got = jsonl(&[
        "flows",
        "-q",
        "--format",
        "jsonl",
        &c,
        "--flow",
        &one.to_string(),
    ]);
    assert_eq!(got, vec![flows[0].clone()]);
    let server = flows[0]["server"].as_str().unwrap();
    let got = jsonl(&["flows", "-q", "--format", "jsonl", &c, "--server", server]);
    assert!(got.iter().all(|f| f["server"] == server) && !got.is_empty());
    let got = jsonl(&["flows", "-q", "--format", "jsonl", &c, "--limit", "1"]);
    assert_eq!(got.len(), 1);
    let got = jsonl(&[
        "flows",
        "-q",
        "--format",
        "jsonl",
        &c,
        "--until",
        "1970-01-01",
    ]);
    assert!(got.is_empty());

    let tcp = jsonl(&["tcp", "-q", "--format", "jsonl", &c]);
    let got = jsonl(&["tcp", "-q", "--format", "jsonl", &c, "--flow", "1"]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["flow"], 1);
    let got = jsonl(&["tcp", "-q", "--format", "jsonl", &c, "--limit", "2"]);
    assert_eq!(got, tcp[..2].to_vec());
    let got = jsonl(&[
        "tcp",
        "-q",
        "--format",
        "jsonl",
        &c,
        "--since",
        "2100-01-01",
    ]);
    assert!(got.is_empty());
}

/// Pings of `from` answered by a pong with the same payload sent the other way.
fn answered_pings(pings: &[&Value], pongs: &[&Value]) -> u64 {
    let mut used = vec![false; pongs.len()];
    let mut n = 0;
    for p in pings {
        if let Some(i) = (0..pongs.len()).find(|&i| !used[i] && pongs[i]["hex"] == p["hex"]) {
            used[i] = true;
            n += 1;
        }
    }
    n
}

#[test]
fn stats_count_what_the_peers_sent() {
    for capture in [
        "01-python-websockets-deflate.pcap",
        "03-node-ws-deflate.pcapng",
        "08-concurrent.pcap",
    ] {
        let t = truth(capture);
        let stats = jsonl(&["stats", "-q", "--format", "jsonl", &corpus(capture)]);
        assert!(!stats.is_empty());
        let mut seen = 0;
        for s in &stats {
            assert_eq!(s["record"], "stats");
            let port = port_of(s["client"].as_str().unwrap());
            for (dir, other) in [
                ("client_to_server", "server_to_client"),
                ("server_to_client", "client_to_server"),
            ] {
                let sent = &t[&(port, dir.to_string(), 0)];
                let back = &t[&(port, other.to_string(), 0)];
                let mut by: BTreeMap<String, u64> = BTreeMap::new();
                for m in sent {
                    *by.entry(m["opcode"].as_str().unwrap().into()).or_default() += 1;
                }
                let d = &s[dir];
                let ours: BTreeMap<String, u64> =
                    serde_json::from_value(d["by_opcode"].clone()).unwrap();
                assert_eq!(ours, by, "{capture} flow {} {dir}", s["flow"]);
                assert_eq!(d["messages"].as_u64().unwrap(), sent.len() as u64);
                let bytes: u64 = sent.iter().map(|m| m["length"].as_u64().unwrap()).sum();
                assert_eq!(d["payload_bytes"].as_u64().unwrap(), bytes);
                let max = sent
                    .iter()
                    .map(|m| m["length"].as_u64().unwrap())
                    .max()
                    .unwrap();
                assert_eq!(d["sizes"]["max"].as_u64().unwrap(), max);
                let pings: Vec<&Value> = sent.iter().filter(|m| m["opcode"] == "ping").collect();
                let pongs: Vec<&Value> = back.iter().filter(|m| m["opcode"] == "pong").collect();
                assert_eq!(d["pings"].as_u64().unwrap(), pings.len() as u64);
                let rtt = d["ping_rtt"]["count"].as_u64().unwrap_or(0);
                assert_eq!(
                    rtt,
                    answered_pings(&pings, &pongs),
                    "{capture} {dir} ping→pong"
                );
                seen += 1;
            }
            assert_eq!(s["close"]["clean"], true, "{capture}: {}", s["close"]);
        }
        assert_eq!(seen, t.len(), "{capture}: every truth direction has stats");
    }
    // A table too, one row per connection, both directions in it.
    let o = wsdissect(&["stats", &corpus("01-python-websockets-deflate.pcap")]);
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(
        table.contains("→ c2s") && table.contains("← s2c"),
        "{table}"
    );
    assert!(
        table.contains("1000 first") && table.contains("1000 reply (clean)"),
        "{table}"
    );
}

#[test]
fn strict_fails_on_problems_with_a_reason() {
    let clean = wsdissect(&[
        "--strict",
        "--quiet",
        &corpus("01-python-websockets-deflate.pcap"),
    ]);
    assert_eq!(clean.status.code(), Some(0));
    assert!(clean.stderr.is_empty());
    assert!(!clean.stdout.is_empty());
    for view in [&[][..], &["stats"][..], &["flows"][..]] {
        let mut args = view.to_vec();
        let cut = corpus("09-snaplen300.pcap");
        args.extend_from_slice(&["--strict", "--quiet", "--format", "jsonl", &cut]);
        let o = wsdissect(&args);
        assert_eq!(o.status.code(), Some(1), "{view:?}");
        let err = String::from_utf8(o.stderr).unwrap();
        assert!(err.starts_with("wsdissect: --strict: "), "{err}");
        assert!(err.contains("undecodable messages"), "{err}");
        assert!(err.contains("gaps"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        for line in String::from_utf8(o.stdout).unwrap().lines() {
            serde_json::from_str::<Value>(line).expect("only data on stdout");
        }
        // Without --strict the same run succeeds.
        args.retain(|a| *a != "--strict");
        assert_eq!(wsdissect(&args).status.code(), Some(0));
    }
    let o = wsdissect(&["tcp", "--strict", "-q", &corpus("09-snaplen300.pcap")]);
    assert_eq!(o.status.code(), Some(1));
    let o = wsdissect(&[
        "tcp",
        "--strict",
        "-q",
        &corpus("01-python-websockets-deflate.pcap"),
    ]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn colours_follow_the_choice_and_never_touch_json() {
    let c = corpus("01-python-websockets-deflate.pcap");
    let esc = |o: &std::process::Output| o.stdout.contains(&0x1b);
    assert!(esc(&wsdissect(&["--color", "always", &c])));
    assert!(!esc(&wsdissect(&["--color", "never", &c])));
    assert!(!esc(&wsdissect(&[&c])), "stdout is not a terminal here");
    assert!(!esc(&wsdissect(&[
        "--color", "always", "--format", "jsonl", &c
    ])));
    assert!(!esc(&wsdissect(&[
        "--color", "always", "--format", "json", &c
    ])));
    // Not a terminal: no wrapping, one line per record.
    let o = wsdissect(&["--color", "never", &c]);
    let rows = String::from_utf8(o.stdout).unwrap().lines().count();
    assert_eq!(rows, messages(&[&c]).len() + 4);
}

#[test]
fn help_completions_and_man_page() {
    let h = wsdissect(&["--help"]);
    let help = String::from_utf8(h.stdout).unwrap();
    assert!(
        help.contains("Examples:") && help.contains("wsdissect extract"),
        "{help}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let o = wsdissect(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let s = String::from_utf8(o.stdout).unwrap();
        assert!(
            s.contains("wsdissect") && s.contains("extract") && s.contains("grep"),
            "{shell}"
        );
    }
    let o = wsdissect(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    let man = String::from_utf8(o.stdout).unwrap();
    assert!(man.contains(".TH wsdissect 1"), "{man}");
    assert!(man.contains("Examples"));
}

#[test]
fn limit_counts_printed_messages_only() {
    // Flow records ride along internally (they release frames); they must not count.
    let file = corpus("08-concurrent.pcap");
    for n in [5usize, 200, 203] {
        let out = jsonl(&[
            "--quiet",
            "--format",
            "jsonl",
            "--limit",
            &n.to_string(),
            &file,
        ]);
        assert_eq!(out.len(), n, "--limit {n}");
    }
}

/// Zeek's capture of a server answering with a wrong `Sec-WebSocket-Accept`: one warning
/// naming the packet without `--strict`, and with it a closing line that names the
/// problem's kind and what it was.
#[test]
fn wrong_accept_is_warned_and_strict_names_it() {
    let cap = testdata()
        .join("public/zeek/testing/btest/Traces/websocket/wrong-accept-header.pcap")
        .display()
        .to_string();
    let o = wsdissect(&[&cap]);
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("packet 6: flow 0: Sec-WebSocket-Accept")
            && err.contains("does not match the key"),
        "{err}"
    );
    let o = wsdissect(&["--strict", "--quiet", &cap]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(o.stderr).unwrap(),
        "wsdissect: --strict: 1 handshake problem (Sec-WebSocket-Accept does not match the key)\n"
    );
}

/// `--decode-as` (the stream stack's first layer) decodes a connection that starts
/// mid-stream from its first byte: the same messages as the frame search finds, the
/// connection marked `forced`; other ports are left to the search.
#[test]
fn decode_as_forces_its_port_only() {
    let cap = corpus("10-late-start.pcap");
    let state = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["flows", "--format", "jsonl"];
        a.extend_from_slice(args);
        a.push(&cap);
        jsonl(&a)
            .iter()
            .map(|f| f["state"].as_str().unwrap().to_string())
            .collect()
    };
    // Three connections, to ports 8030, 8010 and 8020.
    assert_eq!(state(&[]), ["midstream"; 3]);
    assert_eq!(
        state(&["--decode-as", "8030"]),
        ["forced", "midstream", "midstream"]
    );
    assert_eq!(state(&["--decode-as", "9"]), ["midstream"; 3]);
    // The same messages (the records may come out in another order).
    let sorted = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = messages(args).iter().map(|m| m.to_string()).collect();
        v.sort();
        v
    };
    let forced = sorted(&["--decode-as", "8030", &cap]);
    assert_eq!(forced.len(), 27);
    assert!(
        forced == sorted(&[&cap]),
        "--decode-as changed the messages"
    );
}

#[test]
fn options_before_a_view_name_are_explained_not_read_as_a_file() {
    let f = corpus("01-python-websockets-deflate.pcap");
    let out = wsdissect(&["--format", "jsonl", "flows", &f]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`flows` is a view, not a file"), "{err}");
}

#[test]
fn extract_refuses_a_directory_that_is_not_empty_without_force() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("earlier.txt"), "evidence of another run").unwrap();
    let d = dir.path().to_str().unwrap();
    let f = corpus("01-python-websockets-deflate.pcap");
    let out = wsdissect(&["extract", "--quiet", "--out", d, &f]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(std::fs::read_dir(d).unwrap().count(), 1);
    let out = wsdissect(&["extract", "--quiet", "--force", "--out", d, &f]);
    assert_eq!(out.status.code(), Some(0));
    assert!(std::fs::read_dir(d).unwrap().count() > 2);
}

#[test]
fn sizes_take_units() {
    let f = corpus("02-node-ws-plain-2mb.pcap");
    let small = jsonl(&[
        "--quiet",
        "--format",
        "jsonl",
        "--max-message-size",
        "1MiB",
        &f,
    ]);
    assert!(small.iter().any(|m| m["truncated"] == true));
    let out = wsdissect(&["--max-message-size", "12XB", &f]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_input_is_opened_before_any_is_decoded() {
    // --limit 1 stops in the first file; the missing second one still fails the run.
    let f = corpus("01-python-websockets-deflate.pcap");
    for format in ["table", "jsonl"] {
        let out = wsdissect(&[
            "--limit",
            "1",
            "--format",
            format,
            &f,
            "/nonexistent/x.pcap",
        ]);
        assert_eq!(out.status.code(), Some(2), "{format}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("/nonexistent/x.pcap"), "{format}: {err}");
    }
}
