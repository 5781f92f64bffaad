// Capture bytes through every stage to JSON Lines: the capture readers and packet decoder,
// the TCP reassembler (small limits, so that gaps, flushes and evictions happen), the stream
// stack (TLS) and the WebSocket dissector, driven by `run::run`; then each record rendered as
// `--format jsonl` renders it (`view::record_json`: messages by the hand-written writer,
// whose strings go through the SSSE3 escaper of src/view/json/simd.rs, the only
// `unsafe` in the crate, so run this target with AddressSanitizer).
//
// Each rendering must be exactly what `serde_json` makes of the record.
//
// Shared by fuzz/fuzz_targets/pipeline.rs and, when it has found something, by
// tests/fuzz_regressions.rs (which replays the inputs in testdata/regressions/).
use wsdissect::tcp::Config;
use wsdissect::view::json::JsonBuf;
use wsdissect::ws::{Dissector, Options};

/// Runs one capture; panics when a record's JSON differs from `serde_json`'s.
pub fn run(data: &[u8]) {
    let config = Config {
        max_ooo_bytes: 16 << 10,
        max_ooo_total: 64 << 10,
        max_flows: 16,
        max_recent_total: 64 << 10,
        shard: None,
    };
    let opts = Options {
        messages: true,
        frames: true,
        flows: true,
        // Small enough for truncated messages (cut inside a character, too), large
        // enough for strings of many 16-byte blocks.
        max_message_size: 4096,
        include_payload_in_frames: true,
        ..Options::default()
    };
    let file = "fuzz \"capture\"\t.pcap";
    // The whole stream stack: TLS detection and record framing see the input too (a
    // key log is in the capture when the input carries a Decryption Secrets Block).
    let layers = wsdissect::layers::Options::default();
    let keys = layers.keys.clone();
    let mut d = layers.stack(Dissector::new(file.to_string(), opts));
    let mut json = JsonBuf::new();
    let mut out = Vec::new();
    let _ = wsdissect::run::run(file, data, config, &keys, &mut d, &mut |_| {}, |d, tcp| {
        tcp.drain_summaries().for_each(drop);
        d.drain_warnings().for_each(drop);
        let d = d.top_mut();
        d.drain_warnings().for_each(drop);
        for r in d.drain_records() {
            out.clear();
            wsdissect::view::record_json(&mut json, &mut out, &r)?;
            let want = serde_json::to_vec(&r).expect("records serialise");
            assert!(
                out == want,
                "record_json and serde_json differ on {r:?}:\n{}\n{}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&want)
            );
        }
        Ok(())
    });
}
