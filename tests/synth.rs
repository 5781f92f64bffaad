//! The synthetic capture generator (`wsdissect_testkit`, behind `examples/gen_capture`):
//! a small generated capture must decode with no problem at all, every message the
//! generator sent found once, with its exact length.

use std::io::Cursor;
use wsdissect::run;
use wsdissect::tcp::Config;
use wsdissect::ws::record::Record;
use wsdissect::ws::{self, Dissector};
use wsdissect_testkit::{generate, Options, Summary};

fn decode(bytes: &[u8]) -> (Vec<Record>, u64, Vec<String>) {
    let mut d = Dissector::new("synth.pcap".into(), ws::Options::default());
    let mut diags = Vec::new();
    let mut warnings = Vec::new();
    let mut records = Vec::new();
    let stats = run::run(
        "synth.pcap",
        Cursor::new(bytes),
        Config::default(),
        &wsdissect::layers::tls::Keys::new(),
        &mut d,
        &mut |x| diags.push(x.to_string()),
        |d: &mut Dissector, _| {
            records.extend(d.drain_records());
            warnings.extend(d.drain_warnings().map(|w| w.message));
            Ok(())
        },
    )
    .expect("run");
    diags.extend(warnings);
    (records, stats.problems + d.problems(), diags)
}

fn check(opts: Options) {
    let mut pcap = Vec::new();
    let sum: Summary = generate(&mut pcap, opts).unwrap();
    assert_eq!(sum.bytes, pcap.len() as u64);
    assert!(sum.bytes >= opts.size);
    let (records, problems, diags) = decode(&pcap);
    assert_eq!(problems, 0, "{diags:?}");
    assert!(diags.is_empty(), "{diags:?}");
    let msgs: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(msgs.len() as u64, sum.messages);
    let count = |op: &str| msgs.iter().filter(|m| m.opcode.name() == op).count() as u64;
    assert_eq!(count("text"), sum.text_messages);
    assert_eq!(count("binary"), sum.binary_messages);
    assert_eq!(count("close"), 2 * wsdissect_testkit::CONNECTIONS as u64);
    assert_eq!(
        msgs.iter().filter(|m| m.compressed).count() as u64,
        sum.compressed_messages
    );
    assert_eq!(
        msgs.iter().map(|m| m.length).sum::<u64>(),
        sum.payload_bytes
    );
    for m in &msgs {
        assert!(m.errors.is_empty(), "{m:?}");
        assert!(!m.undecodable && !m.truncated);
        match &*m.opcode.name() {
            "text" => assert_eq!(m.text.as_ref().map(|t| t.len() as u64), Some(m.length)),
            "binary" => assert!(m.data_b64.is_some()),
            _ => {}
        }
    }
}

#[test]
fn plain_capture_decodes_exactly() {
    check(Options {
        size: 3 << 20,
        deflate: false,
        seed: 1,
    });
}

#[test]
fn deflate_capture_decodes_exactly() {
    check(Options {
        size: 3 << 20,
        deflate: true,
        seed: 2,
    });
}
