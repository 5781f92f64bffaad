//! Capture sets: files given together (or a directory of them) are one capture. A
//! real-peer capture cut into small files (so that handshakes, frames and deflate runs
//! straddle files) must decode exactly as the whole capture does, whatever order the
//! files are given in, with every record naming the file and the packet in it that hold
//! its bytes; unrelated captures given together decode as they do alone.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Writes the classic pcap `src` cut into files of `per` packets each into `dir`
/// (`part_000.pcap`, …), as `editcap -c` does; returns their paths in order.
fn split_pcap(src: &Path, per: usize, dir: &Path) -> Vec<PathBuf> {
    let b = std::fs::read(src).unwrap();
    assert!(
        b[..4] == [0xd4, 0xc3, 0xb2, 0xa1] || b[..4] == [0x4d, 0x3c, 0xb2, 0xa1],
        "a little-endian pcap"
    );
    let (header, mut rest) = b.split_at(24);
    let mut files = Vec::new();
    let mut out: Vec<u8> = Vec::new();
    let mut n = 0;
    while rest.len() >= 16 {
        let len = u32::from_le_bytes(rest[8..12].try_into().unwrap()) as usize;
        if n % per == 0 {
            if !out.is_empty() {
                files.push(std::mem::take(&mut out));
            }
            out.extend_from_slice(header);
        }
        out.extend_from_slice(&rest[..16 + len]);
        rest = &rest[16 + len..];
        n += 1;
    }
    files.push(out);
    files
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let p = dir.join(format!("part_{i:03}.pcap"));
            std::fs::write(&p, f).unwrap();
            p
        })
        .collect()
}

/// `editcap -c per` of `src` into `dir`, or `None` when editcap is missing.
fn editcap(src: &Path, per: usize, dir: &Path) -> Option<Vec<PathBuf>> {
    let ext = src.extension().unwrap().to_str().unwrap();
    let out = dir.join(format!("part.{ext}"));
    let st = std::process::Command::new("editcap")
        .args(["-c", &per.to_string()])
        .arg(src)
        .arg(&out)
        .status();
    if !st.is_ok_and(|s| s.success()) {
        eprintln!("editcap not found (.ci/run installs it with tshark): skipped");
        return None;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    Some(files)
}

/// JSON Lines records of `wsdissect ARGS -q --format jsonl FILES` (a view name first
/// in `args`).
fn run(args: &[&str], files: &[PathBuf]) -> Vec<Value> {
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["-q", "--format", "jsonl"]);
    a.extend(files.iter().map(|p| p.to_str().unwrap()));
    jsonl(&a)
}

/// The whole capture's record `r` as the set of files of `per` packets each shows it:
/// file of the last packet, packets numbered within their files, `first_file` when
/// the first packet is in another file.
fn as_in_set(r: &Value, parts: &[PathBuf], per: u64) -> Value {
    let mut r = r.clone();
    let Some(p) = r.get("packets").and_then(Value::as_array).cloned() else {
        return r;
    };
    let at = |n: u64| ((n - 1) / per, (n - 1) % per + 1);
    let (ff, first) = at(p[0].as_u64().unwrap());
    let (lf, last) = at(p[1].as_u64().unwrap());
    r["file"] = parts[lf as usize].display().to_string().into();
    r["packets"] = serde_json::json!([first, last]);
    if ff != lf {
        r["first_file"] = parts[ff as usize].display().to_string().into();
    }
    r
}

/// Records without the fields that depend on how the capture was named.
fn sans_names(mut rs: Vec<Value>) -> Vec<Value> {
    for r in &mut rs {
        if let Some(o) = r.as_object_mut() {
            o.remove("file");
            o.remove("first_file");
        }
    }
    rs
}

struct Case {
    name: &'static str,
    per: u64,
    keylog: Option<&'static str>,
}

#[test]
fn split_captures_decode_as_the_whole_one() {
    let cases = [
        // Python websockets with deflate: messages of 64 KiB straddle files.
        Case {
            name: "01-python-websockets-deflate.pcap",
            per: 60,
            keylog: None,
        },
        Case {
            name: "01-python-websockets-deflate.pcap",
            per: 7,
            keylog: None,
        },
        // Node ws with deflate, pcapng (split by editcap).
        Case {
            name: "03-node-ws-deflate.pcapng",
            per: 20,
            keylog: None,
        },
        // Several connections at once.
        Case {
            name: "08-concurrent.pcap",
            per: 37,
            keylog: None,
        },
        // TLS 1.3: records straddle files; the key log is the peers'.
        Case {
            name: "13-python-tls13.pcap",
            per: 25,
            keylog: Some("13-python-tls13.keys"),
        },
        // WebSocket over HTTP/2 (h2c).
        Case {
            name: "24-h2c-websocket.pcap",
            per: 9,
            keylog: None,
        },
    ];
    for c in cases {
        let src = testdata().join("corpus").join(c.name);
        let tmp = tempfile::tempdir().unwrap();
        let parts = if c.name.ends_with(".pcapng") {
            match editcap(&src, c.per as usize, tmp.path()) {
                Some(p) => p,
                None => continue,
            }
        } else {
            split_pcap(&src, c.per as usize, tmp.path())
        };
        assert!(parts.len() > 2, "{}: {} parts", c.name, parts.len());
        let key = c
            .keylog
            .map(|k| testdata().join("corpus").join(k).display().to_string());
        let mut args: Vec<&str> = vec!["--frames"];
        if let Some(k) = &key {
            args.extend(["--keylog", k]);
        }
        let whole: Vec<Value> = run(&args, std::slice::from_ref(&src))
            .iter()
            .map(|r| as_in_set(r, &parts, c.per))
            .collect();
        assert!(whole.iter().any(|r| r["record"] == "message"));
        let given = run(&args, &parts);
        assert!(
            given == whole,
            "{} in {} files: differs from the whole capture",
            c.name,
            parts.len()
        );
        let mut reversed = parts.clone();
        reversed.reverse();
        assert!(
            run(&args, &reversed) == whole,
            "{}: files given in reverse order",
            c.name
        );
        assert!(
            run(&args, &[tmp.path().to_path_buf()]) == whole,
            "{}: the directory of the files",
            c.name
        );
        // Each file on its own loses what crosses the cuts.
        let each = run(&["--each-file"], &parts);
        let messages = |rs: &[Value]| rs.iter().filter(|r| r["record"] == "message").count();
        let clean = |rs: &[Value]| {
            rs.iter()
                .filter(|r| r["record"] == "message" && r["errors"] == serde_json::json!([]))
                .count()
        };
        assert!(
            clean(&each) < messages(&whole),
            "{}: --each-file decoded every message cleanly",
            c.name
        );
    }
}

#[test]
fn unrelated_captures_together_decode_as_alone() {
    let a = testdata().join("corpus/05-aiohttp-compress-subprotocol.pcap");
    let b = testdata().join("corpus/07-ipv6.pcapng");
    let alone: Vec<Value> = [&a, &b]
        .iter()
        .flat_map(|f| run(&[], &[f.to_path_buf()]))
        .collect();
    let together = run(&[], &[b.clone(), a.clone()]);
    // The two were captured at different times: one's records, then the other's, with
    // flows numbered over both.
    let strip_flow = |rs: Vec<Value>| -> Vec<Value> {
        let mut rs = rs;
        for r in &mut rs {
            r.as_object_mut().unwrap().remove("flow");
        }
        rs.sort_by_key(|r| r["timestamp"].as_str().unwrap().to_string());
        rs
    };
    assert_eq!(strip_flow(together.clone()), strip_flow(alone));
    let flows: std::collections::BTreeSet<u64> = together
        .iter()
        .map(|r| r["flow"].as_u64().unwrap())
        .collect();
    let a_alone = run(&[], std::slice::from_ref(&a));
    let b_alone = run(&[], std::slice::from_ref(&b));
    let count = |rs: &[Value]| -> std::collections::BTreeSet<u64> {
        rs.iter().map(|r| r["flow"].as_u64().unwrap()).collect()
    };
    assert_eq!(flows.len(), count(&a_alone).len() + count(&b_alone).len());
    // Every record names the file it came from.
    for r in &together {
        let f = r["file"].as_str().unwrap();
        assert!(f == a.to_str().unwrap() || f == b.to_str().unwrap(), "{f}");
    }
}

#[test]
fn directories_hold_captures_and_other_files() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = split_pcap(
        &testdata().join("corpus/01-python-websockets-deflate.pcap"),
        60,
        tmp.path(),
    );
    let whole = sans_names(run(&[], &parts));
    // A note, a hidden file and a subdirectory beside the captures.
    std::fs::write(tmp.path().join("README.txt"), "not a capture\n").unwrap();
    std::fs::copy(&parts[0], tmp.path().join(".hidden.pcap")).unwrap();
    let sub = tmp.path().join("more");
    std::fs::create_dir(&sub).unwrap();
    std::fs::copy(
        testdata().join("corpus/05-aiohttp-compress-subprotocol.pcap"),
        sub.join("other.pcap"),
    )
    .unwrap();
    let dir = tmp.path().to_str().unwrap();
    let out = wsdissect(&["--format", "jsonl", dir]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped 1 files in directories that are not captures"),
        "{stderr}"
    );
    let got: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        sans_names(got),
        whole,
        "hidden files and subdirectories are left out"
    );
    let deep = sans_names(jsonl(&["-q", "--format", "jsonl", "--recursive", dir]));
    let other = sans_names(jsonl(&[
        "-q",
        "--format",
        "jsonl",
        sub.join("other.pcap").to_str().unwrap(),
    ]));
    assert_eq!(
        deep.len(),
        whole.len() + other.len(),
        "--recursive reads more/"
    );
}

#[test]
fn tcp_records_name_their_files() {
    let tmp = tempfile::tempdir().unwrap();
    let src = testdata().join("corpus/01-python-websockets-deflate.pcap");
    let parts = split_pcap(&src, 60, tmp.path());
    let whole = run(&["tcp"], std::slice::from_ref(&src));
    let set = run(&["tcp"], &parts);
    assert_eq!(whole.len(), set.len());
    for (w, s) in whole.iter().zip(&set) {
        assert_eq!(&as_in_set(w, &parts, 60), s);
    }
    assert!(set.iter().any(|r| r.get("first_file").is_some()));
}

#[test]
fn compressed_sets_decode_as_the_whole_capture() {
    use std::io::Write;
    let src = testdata().join("corpus/01-python-websockets-deflate.pcap");
    let tmp = tempfile::tempdir().unwrap();
    let parts = split_pcap(&src, 25, tmp.path());
    // Half the files gzip, half zstd, with names that say nothing.
    let mut packed = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let raw = std::fs::read(p).unwrap();
        let bytes = if i % 2 == 0 {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&raw).unwrap();
            e.finish().unwrap()
        } else {
            zstd::encode_all(&raw[..], 3).unwrap()
        };
        let q = tmp.path().join(format!("piece{i:03}"));
        std::fs::write(&q, bytes).unwrap();
        std::fs::remove_file(p).unwrap();
        packed.push(q);
    }
    let whole: Vec<Value> = run(&["--frames"], std::slice::from_ref(&src))
        .iter()
        .map(|r| as_in_set(r, &packed, 25))
        .collect();
    assert!(run(&["--frames"], &packed) == whole, "compressed set");
    assert!(
        run(&["--frames"], &[tmp.path().to_path_buf()]) == whole,
        "compressed set as a directory"
    );
}

/// Standard input given twice is read once (a second reader would take bytes from under
/// the first), and said: exit status 2, with everything from the one read.
#[test]
fn standard_input_twice_is_read_once() {
    use std::io::Write;
    let src = testdata().join("corpus/01-python-websockets-deflate.pcap");
    let once = run(&[], std::slice::from_ref(&src));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wsdissect"))
        .args(["-q", "--format", "jsonl", "-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(&src).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(&bytes));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard input given more than once"));
    let got: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(sans_names(got), sans_names(once));
}

/// `--output DIR` writes one part per input argument (a file, or a directory: a set),
/// named after its position and name, each what a run on that argument alone writes.
#[test]
fn an_output_directory_gets_one_part_per_set() {
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("rotated set");
    std::fs::create_dir(&set).unwrap();
    split_pcap(
        &testdata().join("corpus/01-python-websockets-deflate.pcap"),
        40,
        &set,
    );
    let other = testdata().join("corpus/05-aiohttp-compress-subprotocol.pcap");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    for (format, ext) in [("jsonl", "jsonl"), ("parquet", "parquet")] {
        let o = wsdissect(&[
            "flows",
            "-q",
            "--format",
            format,
            "--output",
            out.to_str().unwrap(),
            other.to_str().unwrap(),
            set.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        let first = out.join(format!(
            "part-00000-05-aiohttp-compress-subprotocol.pcap.{ext}"
        ));
        let second = out.join(format!("part-00001-rotated_set.{ext}"));
        for (part, input) in [(&first, &other), (&second, &set)] {
            let alone = wsdissect(&["flows", "-q", "--format", format, input.to_str().unwrap()]);
            let written = std::fs::read(part).unwrap_or_else(|e| panic!("{}: {e}", part.display()));
            assert!(written == alone.stdout, "{}", part.display());
        }
    }
}
