//! The synthetic capture generator (`wsdissect_testkit`, behind `examples/gen_capture`):
//! a small generated capture must decode with no problem at all, every message the
//! generator sent found once, with its exact length. Its TLS 1.3 captures decrypt with
//! their key logs to the messages of the plain capture of the same seed.

mod common;

use serde_json::Value;
use std::io::Cursor;
use wsdissect::layers::tls::Keys;
use wsdissect::layers::{Layer, Tls};
use wsdissect::run;
use wsdissect::tcp::Config;
use wsdissect::ws::record::Record;
use wsdissect::ws::{self, Dissector};
use wsdissect_testkit::{generate_with_keylog, Options, Summary};

/// Decodes `bytes` through the TLS layer (secrets from `keys`) and the WebSocket stage:
/// the records, the problems, the diagnostics and warnings.
fn decode(bytes: &[u8], keys: &Keys) -> (Vec<Record>, u64, Vec<String>) {
    let d = Dissector::new("synth.pcap".into(), ws::Options::default());
    let mut stack = Tls::new(keys.clone(), d);
    let mut diags = Vec::new();
    let mut warnings = Vec::new();
    let mut records = Vec::new();
    let stats = run::run(
        "synth.pcap",
        Cursor::new(bytes),
        Config::default(),
        keys,
        &mut stack,
        &mut |x| diags.push(x.to_string()),
        |t: &mut Tls<Dissector>, _| {
            warnings.extend(t.drain_warnings().map(|w| w.message));
            let d = t.inner_mut();
            records.extend(d.drain_records());
            warnings.extend(d.drain_warnings().map(|w| w.message));
            Ok(())
        },
    )
    .expect("run");
    diags.extend(warnings);
    let tls = stack.stats();
    assert_eq!(tls.decrypted, tls.connections, "{tls:?}");
    (records, stats.problems + stack.inner().problems(), diags)
}

fn check(opts: Options) {
    let (mut pcap, mut keylog) = (Vec::new(), Vec::new());
    let sum: Summary = generate_with_keylog(&mut pcap, &mut keylog, opts).unwrap();
    assert_eq!(sum.bytes, pcap.len() as u64);
    assert!(sum.bytes >= opts.size);
    assert_eq!(opts.tls, sum.tls_records > 0);
    let keys = Keys::new();
    let lines = keys.add_text(&keylog);
    let secrets = 4 * wsdissect_testkit::CONNECTIONS as u64 * u64::from(opts.tls);
    assert_eq!((lines.used, lines.bad), (secrets, 0));
    let (records, problems, diags) = decode(&pcap, &keys);
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
        ..Default::default()
    });
}

#[test]
fn deflate_capture_decodes_exactly() {
    check(Options {
        size: 3 << 20,
        deflate: true,
        seed: 2,
        ..Default::default()
    });
}

#[test]
fn tls_capture_decodes_exactly() {
    check(Options {
        size: 3 << 20,
        deflate: true,
        seed: 3,
        tls: true,
    });
}

/// `wsdissect --keylog` on a TLS capture prints the messages it prints for the plain
/// capture of the same seed: the same records but for where and when (addresses, ports,
/// packets, times). The TLS capture holds the first of them (its records take room)
/// and the same closing handshakes.
#[test]
fn tls_capture_equals_plain_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (plain, tls, keylog) = (path("plain.pcap"), path("tls.pcap"), path("tls.keys"));
    let opts = Options {
        size: 2 << 20,
        seed: 4,
        ..Options::default()
    };
    let write = |file: &str, keylog: &mut dyn std::io::Write, opts| {
        let f = std::io::BufWriter::new(std::fs::File::create(file).unwrap());
        generate_with_keylog(f, keylog, opts).unwrap()
    };
    write(&plain, &mut std::io::sink(), opts);
    let mut k = std::fs::File::create(&keylog).unwrap();
    let sum = write(&tls, &mut k, Options { tls: true, ..opts });
    let messages = |args: &[&str]| -> Vec<Value> {
        let out = common::wsdissect(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                let o = v.as_object_mut().unwrap();
                for where_when in [
                    "file",
                    "client",
                    "server",
                    "community_id",
                    "packets",
                    "timestamp",
                ] {
                    o.remove(where_when).unwrap();
                }
                v
            })
            .collect()
    };
    let p = messages(&["--format", "jsonl", &plain]);
    let t = messages(&["--keylog", &keylog, "--format", "jsonl", &tls]);
    assert_eq!(t.len() as u64, sum.messages);
    let closes = 2 * wsdissect_testkit::CONNECTIONS;
    assert!(t.len() > 100 && t.len() <= p.len());
    let (t_data, t_close) = t.split_at(t.len() - closes);
    let (p_data, p_close) = p.split_at(p.len() - closes);
    for (i, (a, b)) in t_data.iter().zip(p_data).enumerate() {
        assert_eq!(a, b, "message {i}");
    }
    assert_eq!(t_close, p_close);
    assert!(t_close.iter().all(|m| m["opcode"] == "close"));
}
