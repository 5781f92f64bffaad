//! Replays the inputs that made a fuzz target fail (testdata/regressions/fuzz-TARGET-*),
//! through the same harness code as the fuzz targets in fuzz/.

use arbitrary::{Arbitrary, Unstructured};
use std::path::Path;

mod tcp_harness {
    include!("../fuzz/harness/tcp.rs");
}

mod ws_harness {
    include!("../fuzz/harness/ws.rs");
}

/// The stored inputs of fuzz target `target`, decoded as libFuzzer decodes them.
fn inputs<T: for<'a> Arbitrary<'a>>(target: &str) -> Vec<(String, T)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/regressions");
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("fuzz-{target}-")))
        .collect();
    names.sort();
    for name in names {
        let data = std::fs::read(dir.join(&name)).unwrap();
        let input = T::arbitrary_take_rest(Unstructured::new(&data)).unwrap();
        out.push((name, input));
    }
    out
}

#[test]
fn tcp_fuzz_regressions() {
    let all = inputs::<tcp_harness::Input>("tcp");
    assert!(!all.is_empty());
    for (name, input) in all {
        eprintln!("{name}");
        tcp_harness::run(&input);
    }
}

#[test]
fn ws_fuzz_regressions() {
    for (name, input) in inputs::<ws_harness::Input>("ws") {
        eprintln!("{name}");
        ws_harness::run(&input);
    }
}
