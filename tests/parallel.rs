//! Several files decoded each on its own (`--each-file --format jsonl` decodes them in
//! parallel): the output must be the concatenation of single-file runs, in the order
//! the files were given, and the exit status what the worst file calls for.

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
    wsdissect_testkit::generate(
        f,
        wsdissect_testkit::Options {
            size: 12 << 20,
            deflate: true,
            seed: 9,
            ..Default::default()
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
    let mut args = vec!["--each-file", "--format", "jsonl", "-q"];
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

/// One file spread over worker threads by connection: byte for byte the output, and
/// the problems, of the single-threaded decoder, on every capture in testdata/
/// and on generated ones with and without permessage-deflate.
#[test]
fn sharded_file_equals_sequential() {
    use wsdissect::run::{self, shard};
    use wsdissect::{tcp::Config, ws};
    let mut inputs: Vec<(String, Vec<u8>)> = captures_under(&testdata())
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    for deflate in [false, true] {
        let mut v = Vec::new();
        let o = wsdissect_testkit::Options {
            size: 1 << 20,
            deflate,
            seed: 5,
            ..Default::default()
        };
        wsdissect_testkit::generate(&mut v, o).unwrap();
        inputs.push((format!("synth-{deflate}"), v));
    }
    for opts in [
        ws::Options::default(),
        ws::Options {
            frames: true,
            flows: true,
            include_payload_in_frames: true,
            max_message_size: 1000,
            ..ws::Options::default()
        },
    ] {
        for (name, bytes) in &inputs {
            let config = Config {
                max_flows: 3,
                ..Config::default()
            };
            let settings = || run::JsonlSettings {
                config,
                decoding: run::Decoding {
                    ws: opts.clone(),
                    ..Default::default()
                },
                flow_records: true,
            };
            let mut seq = Vec::new();
            let mut seq_diags = Vec::new();
            let a = run::dissect_jsonl(name, &bytes[..], settings(), &mut seq, &mut |d| {
                seq_diags.push(d)
            });
            let workers = 3;
            let mut par = Vec::new();
            let mut par_diags = Vec::new();
            let b =
                shard::dissect_jsonl(name, &bytes[..], settings(), workers, &mut par, &mut |d| {
                    par_diags.push(d)
                });
            match (&a, &b) {
                (Ok(x), Ok(y)) => assert_eq!(x, y, "{name}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{name}: {a:?} vs {b:?}"),
            }
            assert!(seq == par, "{name}: output differs with {workers} workers");
            seq_diags.sort_by_key(|d| d.to_string());
            par_diags.sort_by_key(|d| d.to_string());
            assert_eq!(seq_diags, par_diags, "{name}");
        }
    }
}

/// The parallel path (`--format jsonl`, no filter) prints what the sequential path
/// (taken here because a filter is given, one that keeps everything) prints, for the
/// messages and the flows views, and exits the same way with --strict.
#[test]
fn parallel_path_equals_filtered_sequential_path() {
    let mut files: Vec<String> = captures_under(&testdata())
        .into_iter()
        .map(|p| p.display().to_string())
        .collect();
    files.truncate(12);
    let all = ["--since", "1970-01-01T00:00:00Z"];
    for view in [None, Some("flows")] {
        for one in [true, false] {
            let mut args: Vec<&str> = view.into_iter().collect();
            args.extend(["--format", "jsonl", "-q", "--strict"]);
            if one {
                args.push(&files[1]);
            } else {
                args.extend(files.iter().map(String::as_str));
            }
            let (par, pc) = run(&args);
            let mut seq_args = args.clone();
            let at = usize::from(view.is_some());
            seq_args.splice(at..at, all);
            let (seq, sc) = run(&seq_args);
            assert_eq!(pc, sc, "{args:?}");
            assert!(par == seq, "{args:?}: outputs differ");
        }
    }
}
