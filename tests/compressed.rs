//! Compressed captures (gzip, zstd, xz, lz4, bzip2), told by their content, from a file
//! or standard input, and captures joined end to end (`cat a.pcap b.pcap | wsdissect -`):
//! the same records as the plain captures; a truncated or corrupt stream is said, naming
//! the file and the compression, and what came before it is still decoded.

mod common;

use common::truth::assert_exact;
use common::*;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use wsdissect::capture::compressed::Compression;

const ALL: [Compression; 5] = [
    Compression::Gzip,
    Compression::Zstd,
    Compression::Xz,
    Compression::Lz4,
    Compression::Bzip2,
];

/// `data` compressed as the format's command-line tool would (zstd with its checksum).
fn compress(c: Compression, data: &[u8]) -> Vec<u8> {
    match c {
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => {
            let mut e = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
            e.include_checksum(true).unwrap();
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Xz => {
            let opts = lzma_rust2::XzOptions::with_preset(1);
            let mut e = lzma_rust2::XzWriter::new(Vec::new(), opts).unwrap();
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
    }
}

/// The file name extension the format's tool gives.
fn extension(c: Compression) -> &'static str {
    match c {
        Compression::Gzip => "gz",
        Compression::Zstd => "zst",
        Compression::Xz => "xz",
        Compression::Lz4 => "lz4",
        Compression::Bzip2 => "bz2",
    }
}

/// Runs `wsdissect` with `args`, `stdin` written to its standard input.
fn with_stdin(args: &[&str], stdin: Vec<u8>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsdissect"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wsdissect");
    let mut input = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // wsdissect may stop reading early (a corrupt stream): a broken pipe is fine.
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// What a run said, comparable whatever the input was called: the exit status, the
/// records without their `file` field, and the lines of standard error (sorted: the
/// parallel path may interleave them) with the input's name replaced by `INPUT`.
#[derive(Debug, PartialEq)]
struct Said {
    status: Option<i32>,
    records: Vec<Value>,
    stderr: Vec<String>,
}

fn said(out: &Output, name: &str) -> Said {
    let records = String::from_utf8(out.stdout.clone())
        .expect("utf-8 output")
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("file");
            v
        })
        .collect();
    let mut stderr: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| l.replace(name, "INPUT"))
        .collect();
    stderr.sort();
    Said {
        status: out.status.code(),
        records,
        stderr,
    }
}

/// The arguments a corpus capture is read with: JSON Lines, and its key log if it has one.
fn corpus_args(capture: &Path) -> Vec<String> {
    let mut args = vec!["--format".to_string(), "jsonl".to_string()];
    let keys = capture.with_extension("keys");
    if keys.exists() {
        args.extend(["--keylog".to_string(), keys.display().to_string()]);
    }
    args
}

/// Every corpus capture compressed with `c` says exactly what the plain capture says,
/// read from a file; every fifth (a different fifth for each format) also from
/// standard input.
fn corpus_compressed_as(c: Compression) {
    let tmp = tempfile::tempdir().unwrap();
    // The single captures; the files of the rotated sets in subdirectories are each
    // part of a capture (one is empty).
    let corpus = testdata().join("corpus");
    let captures: Vec<_> = captures_under(&corpus)
        .into_iter()
        .filter(|c| c.parent() == Some(corpus.as_path()))
        .collect();
    assert!(captures.len() >= 20, "{} corpus captures", captures.len());
    let nth = ALL.iter().position(|&x| x == c).unwrap();
    for (i, capture) in captures.iter().enumerate() {
        let args = corpus_args(capture);
        let run = |input: &str| {
            let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
            a.push(input);
            wsdissect(&a)
        };
        let plain_name = capture.to_str().unwrap();
        let plain = said(&run(plain_name), plain_name);
        assert!(!plain.records.is_empty(), "{plain_name}: no records");

        let packed = compress(c, &std::fs::read(capture).unwrap());
        let file_name = capture.file_name().unwrap().to_str().unwrap();
        let path = tmp.path().join(format!("{file_name}.{}", extension(c)));
        std::fs::write(&path, &packed).unwrap();
        let name = path.to_str().unwrap();
        assert_eq!(said(&run(name), name), plain, "{name}");

        if i % ALL.len() == nth {
            let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
            a.push("-");
            let piped = said(&with_stdin(&a, packed), "<stdin>");
            assert_eq!(piped, plain, "{file_name} as {c} on standard input");
        }
    }
}

#[test]
fn corpus_as_gzip() {
    corpus_compressed_as(Compression::Gzip);
}

#[test]
fn corpus_as_zstd() {
    corpus_compressed_as(Compression::Zstd);
}

#[test]
fn corpus_as_xz() {
    corpus_compressed_as(Compression::Xz);
}

#[test]
fn corpus_as_lz4() {
    corpus_compressed_as(Compression::Lz4);
}

#[test]
fn corpus_as_bzip2() {
    corpus_compressed_as(Compression::Bzip2);
}

/// The corpus capture `name`, its path and its messages the peers sent.
fn corpus(name: &str) -> (std::path::PathBuf, usize) {
    let path = testdata().join("corpus").join(name);
    let truth = path.with_extension("truth.jsonl");
    let sent = truth_by_direction(&truth).values().map(Vec::len).sum();
    (path, sent)
}

/// Asserts what a run on a damaged compressed capture said: exit status 0 (1 with
/// `--strict`, which `strict` is), the error naming the input and the compression on
/// standard error, and messages before the damage decoded as in the whole capture.
/// Returns how many messages came out.
fn check_damaged(out: &Output, name: &str, error: &str, whole: &Said, strict: bool) -> usize {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(strict as i32), "{name}: {stderr}");
    // The packet being read when the stream broke is named.
    let said_it = stderr.lines().any(|l| {
        l.strip_prefix(&format!("wsdissect: {name}: packet "))
            .and_then(|rest| rest.split_once(": "))
            .is_some_and(|(n, what)| {
                n.parse::<u64>().is_ok() && what.starts_with(&format!("read error: {error}"))
            })
    });
    assert!(
        said_it,
        "{name}: \"packet N: read error: {error}\" not in {stderr}"
    );
    let damaged = said(out, name);
    let mut messages = 0;
    for r in damaged.records.iter().filter(|r| r["record"] == "message") {
        if r["errors"].as_array().unwrap().is_empty() {
            assert!(
                whole.records.contains(r),
                "{name}: not in the whole capture: {r}"
            );
            messages += 1;
        }
    }
    messages
}

/// `gzip` cut short, from a file and from standard input: "gzip: unexpected end of
/// stream", every message before the cut decoded.
#[test]
fn truncated_gzip_is_said_and_what_came_before_is_decoded() {
    let (capture, sent) = corpus("01-python-websockets-deflate.pcap");
    let plain = capture.to_str().unwrap();
    let whole = said(&wsdissect(&["--format", "jsonl", plain]), plain);
    let gz = compress(Compression::Gzip, &std::fs::read(&capture).unwrap());
    let cut = gz[..gz.len() / 2].to_vec();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("cut.pcap.gz");
    std::fs::write(&path, &cut).unwrap();
    let name = path.to_str().unwrap();
    let error = "gzip: unexpected end of stream";
    for strict in [false, true] {
        let mut args = vec!["--format", "jsonl"];
        if strict {
            args.push("--strict");
        }
        let from_file = wsdissect(&[&args[..], &[name]].concat());
        let n = check_damaged(&from_file, name, error, &whole, strict);
        assert!(n >= 10 && n < sent, "{n} of {sent} messages before the cut");
        let from_stdin = with_stdin(&[&args[..], &["-"]].concat(), cut.clone());
        assert_eq!(
            check_damaged(&from_stdin, "<stdin>", error, &whole, strict),
            n
        );
    }
}

/// Where each block of a zstd frame starts.
fn zstd_blocks(frame: &[u8]) -> Vec<usize> {
    assert_eq!(frame[..4], [0x28, 0xb5, 0x2f, 0xfd]);
    let descriptor = frame[4];
    let single_segment = descriptor & 0x20 != 0;
    let content_size = [single_segment as usize, 2, 4, 8][(descriptor >> 6) as usize];
    let dictionary = [0, 1, 2, 4][(descriptor & 3) as usize];
    let mut at = 5 + !single_segment as usize + dictionary + content_size;
    let mut blocks = Vec::new();
    loop {
        blocks.push(at);
        let header = u32::from_le_bytes([frame[at], frame[at + 1], frame[at + 2], 0]);
        let size = match (header >> 1) & 3 {
            1 => 1, // RLE: one byte repeated
            _ => (header >> 3) as usize,
        };
        at += 3 + size;
        if header & 1 == 1 {
            return blocks;
        }
    }
}

/// A zstd block in the middle of the stream turned into one of the reserved type: the
/// error says "zstd:", and the messages before it are decoded.
#[test]
fn corrupt_zstd_is_said_and_what_came_before_is_decoded() {
    let (capture, sent) = corpus("02-node-ws-plain-2mb.pcap");
    let plain = capture.to_str().unwrap();
    let whole = said(&wsdissect(&["--format", "jsonl", plain]), plain);
    let mut zst = compress(Compression::Zstd, &std::fs::read(&capture).unwrap());
    let blocks = zstd_blocks(&zst);
    assert!(blocks.len() >= 10, "{} blocks", blocks.len());
    zst[blocks[blocks.len() / 2]] |= 0b110;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.pcap.zst");
    std::fs::write(&path, &zst).unwrap();
    let name = path.to_str().unwrap();
    let from_file = wsdissect(&["--format", "jsonl", name]);
    let n = check_damaged(&from_file, name, "zstd: ", &whole, false);
    assert!(
        n >= 3 && n < sent,
        "{n} of {sent} messages before the damage"
    );
    let from_stdin = with_stdin(&["--strict", "--format", "jsonl", "-"], zst);
    assert_eq!(
        check_damaged(&from_stdin, "<stdin>", "zstd: ", &whole, true),
        n
    );
}

/// `tcpdump -C` files joined with `cat` (here `editcap -c 60` splits of a corpus
/// capture), plain and as `cat a.pcap.gz b.pcap.gz`: every message the peers sent.
#[test]
fn split_captures_joined_on_stdin_decode_whole() {
    if !have_wireshark_tool("editcap", "split_captures_joined_on_stdin_decode_whole") {
        return;
    }
    let (capture, _) = corpus("01-python-websockets-deflate.pcap");
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("editcap")
        .args(["-c", "60"])
        .arg(&capture)
        .arg(tmp.path().join("part.pcap"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut parts: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    parts.sort();
    assert!(parts.len() >= 3, "{} parts", parts.len());
    let parts: Vec<Vec<u8>> = parts.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let truth = truth_by_direction(&capture.with_extension("truth.jsonl"));
    for (how, joined) in [
        ("cat", parts.concat()),
        (
            "cat of .gz",
            parts
                .iter()
                .flat_map(|p| compress(Compression::Gzip, p))
                .collect(),
        ),
    ] {
        let out = with_stdin(&["--strict", "--format", "jsonl", "-"], joined);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{how}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let records = said(&out, "<stdin>").records;
        assert_eq!(assert_exact(how, &records, &truth), 31);
    }
}

/// `cat a.pcapng b.pcap` and `cat a.pcap b.pcapng` on standard input: both captures'
/// messages, packets numbered on over the whole input.
#[test]
fn pcapng_and_pcap_joined_on_stdin() {
    let (ng, _) = corpus("03-node-ws-deflate.pcapng");
    let (pcap, _) = corpus("01-python-websockets-deflate.pcap");
    let mut truth = truth_by_direction(&ng.with_extension("truth.jsonl"));
    truth.extend(truth_by_direction(&pcap.with_extension("truth.jsonl")));
    let packets = |p: &Path| {
        let file = std::fs::File::open(p).unwrap();
        let mut r = wsdissect::capture::CaptureReader::new(file).unwrap();
        while r.next_packet().unwrap().is_some() {}
        r.packets_read()
    };
    for (a, b) in [(&ng, &pcap), (&pcap, &ng)] {
        let joined = [std::fs::read(a).unwrap(), std::fs::read(b).unwrap()].concat();
        let out = with_stdin(&["--strict", "--format", "jsonl", "-"], joined.clone());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let records = said(&out, "<stdin>").records;
        assert_eq!(assert_exact("joined", &records, &truth), 31 + 35);
        let last = records
            .iter()
            .filter_map(|r| r["packets"].as_array())
            .filter_map(|p| p.last()?.as_u64())
            .max()
            .unwrap();
        assert!(
            last > packets(a) && last <= packets(a) + packets(b),
            "last packet {last}"
        );
    }
}
