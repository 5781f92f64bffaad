//! Golden outputs: every record type as JSON Lines (frames, messages, flows, stats, tcp) on
//! the public and synthetic captures and two small corpus captures, and every table on the
//! corpus captures, compared byte for byte with testdata/golden/.
//! A regression guard, not proof of correctness (tests/corpus.rs and tests/public.rs
//! check against what the peers sent). After an intended change, regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test golden` and review the diff.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn output(rel: &str, args: &[&str]) -> String {
    run(rel, args, "jsonl")
}

fn run(rel: &str, args: &[&str], format: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wsdissect"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .args(["--quiet", "--color", "never", "--format", format, rel])
        .output()
        .unwrap();
    assert!(out.status.code() != Some(2), "{rel}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn output_matches_golden_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = captures_under(&testdata().join("public"))
        .into_iter()
        .chain(captures_under(&testdata().join("synthetic")))
        .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
        .collect();
    files.push("testdata/corpus/01-python-websockets-deflate.pcap".into());
    files.push("testdata/corpus/10-late-start.pcap".into());
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let golden_dir = testdata().join("golden");
    let mut mismatches = Vec::new();
    for rel in &files {
        let mut out = output(rel, &["--frames"]);
        out.push_str(&output(rel, &["flows"]));
        out.push_str(&output(rel, &["stats"]));
        out.push_str(&output(rel, &["tcp"]));
        if rel.starts_with("testdata/corpus/") {
            for view in [&["--frames"][..], &["flows"], &["stats"], &["tcp"]] {
                out.push_str(&run(rel, view, "table"));
            }
        }
        let name = rel.trim_start_matches("testdata/").replace('/', "__") + ".jsonl";
        let path = golden_dir.join(&name);
        if update {
            std::fs::create_dir_all(&golden_dir).unwrap();
            std::fs::write(&path, &out).unwrap();
            continue;
        }
        let Ok(want) = std::fs::read_to_string(&path) else {
            mismatches.push(format!("{name}: golden file missing"));
            continue;
        };
        if want != out {
            let line = want
                .lines()
                .zip(out.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(want.lines().count().min(out.lines().count()));
            mismatches.push(format!("{name}: first difference at line {}", line + 1));
        }
    }
    assert!(
        mismatches.is_empty(),
        "output differs from testdata/golden (UPDATE_GOLDEN=1 to accept):\n{}",
        mismatches.join("\n")
    );
}
