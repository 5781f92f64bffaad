//! Capture bytes end to end: capture readers, packet decoder, TCP reassembler and
//! WebSocket dissector (`wsdissect::run::run`), then every record rendered to JSON as
//! `--format jsonl` does it and compared with `serde_json`. The only target that reaches
//! the SSSE3 string escaper (`src/view/json/simd.rs`): run it with AddressSanitizer.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../harness/pipeline.rs");

fuzz_target!(|data: &[u8]| run(data));
