//! Several files at once (`--format jsonl` decodes them in parallel): the output must be
//! the concatenation of single-file runs, in the order the files were given, and the
//! exit status what the worst file calls for.

mod common;

use common::*;
use std::process::Command;

fn run(args: &[&str]) -> (Vec<u8>, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_wsdissect"))
        .args(args)
        .output()
        .expect("run wsdissect");
    (out.stdout, out.status.code())
}

#[test]
fn many_files_equal_concatenated_single_runs() {
    let mut files: Vec<String> = captures_under(&testdata().join("corpus"))
        .into_iter()
        .map(|p| p.display().to_string())
        .collect();
    assert!(files.len() >= 4);
    // A file twice, and a larger generated one in the middle, so that later files
    // finish first.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.pcap");
    let f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    wsdissect::synth::generate(
        f,
        wsdissect::synth::Options {
            size: 12 << 20,
            deflate: true,
            seed: 9,
        },
    )
    .unwrap();
    files.insert(1, big.display().to_string());
    files.push(files[0].clone());

    let mut expected = Vec::new();
    for f in &files {
        let (o, code) = run(&["--format", "jsonl", "-q", f]);
        assert_ne!(code, Some(2), "{f}");
        expected.extend(o);
    }
    let mut args = vec!["--format", "jsonl", "-q"];
    args.extend(files.iter().map(String::as_str));
    let (got, code) = run(&args);
    assert_eq!(code, Some(0));
    assert!(
        got == expected,
        "parallel output differs from the single-file runs"
    );
}

#[test]
fn unusable_file_among_others() {
    let good = testdata().join("corpus/01-python-websockets-deflate.pcap");
    let good = good.to_str().unwrap();
    let (single, _) = run(&["--format", "jsonl", good]);
    let (both, code) = run(&["--format", "jsonl", "/nonexistent.pcap", good, "Cargo.toml"]);
    assert_eq!(code, Some(2));
    assert_eq!(both, single);
}
