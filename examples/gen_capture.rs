//! Writes a large, deterministic, realistic WebSocket capture (see `wsdissect_testkit`).
//!
//!     cargo run --release --example gen_capture -- --size 256MiB [--deflate] [--seed N]
//!         [--tls --keylog-out KEYLOG] --out FILE
//!
//! `--tls` carries the traffic in TLS 1.3 (AES-128-GCM); its secrets go to the NSS key
//! log `--keylog-out`, which `wsdissect --keylog` and tshark's `tls.keylog_file` read.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use wsdissect_testkit::{self as synth, Options};

fn main() -> ExitCode {
    let mut opts = Options::default();
    let mut out = None;
    let mut keylog = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--size" => match args.next().as_deref().and_then(synth::parse_size) {
                Some(n) => opts.size = n,
                None => return usage("--size needs a size such as 256MiB"),
            },
            "--seed" => match args.next().and_then(|s| s.parse().ok()) {
                Some(n) => opts.seed = n,
                None => return usage("--seed needs a number"),
            },
            "--deflate" => opts.deflate = true,
            "--tls" => opts.tls = true,
            "--keylog-out" => keylog = args.next(),
            "--out" => out = args.next(),
            _ => return usage(&format!("unknown argument {a}")),
        }
    }
    let Some(path) = out else {
        return usage("--out FILE is required");
    };
    if opts.tls != keylog.is_some() {
        return usage("--tls and --keylog-out FILE go together");
    }
    let res = File::create(&path).and_then(|f| {
        let mut k: Box<dyn Write> = match &keylog {
            Some(k) => Box::new(BufWriter::new(File::create(k)?)),
            None => Box::new(std::io::sink()),
        };
        synth::generate_with_keylog(BufWriter::with_capacity(1 << 20, f), &mut k, opts)
    });
    match res {
        Ok(s) => {
            let tls = if opts.tls {
                format!(", {} TLS records", s.tls_records)
            } else {
                String::new()
            };
            eprintln!(
                "{path}: {} bytes, {} packets, {} messages ({} text, {} binary, {} compressed), {} payload bytes{tls}",
                s.bytes, s.packets, s.messages, s.text_messages, s.binary_messages, s.compressed_messages, s.payload_bytes
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen_capture: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!(
        "gen_capture: {msg}\nusage: gen_capture --size SIZE [--deflate] [--seed N] [--tls --keylog-out KEYLOG] --out FILE"
    );
    ExitCode::from(2)
}
