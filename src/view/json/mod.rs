//! A fast JSON writer for message records, the bulk of every JSON output.
//!
//! [`write_message`] writes exactly the bytes `serde_json::to_writer` writes for
//! `Record::Message` (same field order, same escapes), straight into the caller's
//! writer: no intermediate `String`. The record's fields are written here; they go
//! through the reusable buffer of `buf.rs`, strings escaped by `escape.rs` (portable,
//! eight bytes at a time) and `simd.rs` (SSSE3, 16 bytes at a time: the crate's only
//! `unsafe`), so long payloads are copied in large runs.
//!
//! Why not `serde_json` for messages too (as for every other record): it is measurably
//! slower end to end. Measured by routing `Record::Message` through
//! `serde_json::to_writer` into the same buffer (everything else alike; same output
//! bytes), on the captures of `bench/compare.sh` (`gen_capture --size 256MiB
//! [--deflate]`: 268 MB each, 34,611 and 83,954 messages), with
//! `hyperfine -N -w 1 -r 10 --output=null 'wsdissect --format jsonl FILE'` (6 runs for
//! deflate), prefixed with `taskset -c 0` for one thread (no sharding), on a 2-core AMD
//! EPYC VM shared with other builds (load average about 3). Mean ± σ, user CPU time:
//!
//! | capture, threads  | this writer                 | `serde_json`                | ratio |
//! |-------------------|-----------------------------|-----------------------------|-------|
//! | plain, 1          | 251 ms ± 24, user 180 ms    | 670 ms ± 87, user 553 ms    | 2.7x  |
//! | plain, 2 shards   | 318 ms ± 64, user 248 ms    | 640 ms ± 151, user 605 ms   | 2.0x  |
//! | deflate, 1        | 1.85 s ± 0.27, user 1.65 s  | 2.76 s ± 0.13, user 2.64 s  | 1.5x  |
//! | deflate, 2 shards | 1.05 s ± 0.14, user 1.79 s  | 1.91 s ± 0.55, user 2.52 s  | 1.8x  |
//!
//! Interleaved runs at load 8 gave the same picture in CPU time (plain 0.24 s vs 0.58 s,
//! deflate 1.92 s vs 2.67 s), and `Base64` serialised from a base64-simd `String`
//! instead of `collect_str` did not help `serde_json` (0.56 s, 2.80 s). Keep this writer
//! while it beats `serde_json` by more than 10%; the tests hold it to the same bytes.

use crate::ws::record::MessageRecord;
use std::io::{self, Write};

mod buf;
mod escape;
mod simd;

pub use buf::{write_str, JsonBuf};

impl JsonBuf {
    /// Renders `m` as the JSON object `serde_json` makes of `Record::Message(m)`
    /// (without a newline) and writes it to `w`, this buffer's pending bytes first.
    pub fn message<W: Write + ?Sized>(&mut self, w: &mut W, m: &MessageRecord) -> io::Result<()> {
        self.raw(b"{\"record\":\"message\",\"file\":");
        self.str(w, &m.file)?;
        self.raw(b",\"flow\":");
        self.u64(m.flow);
        // Addresses and the direction have nothing to escape: written as they print.
        write!(
            self,
            ",\"client\":\"{}\",\"server\":\"{}\"",
            m.client, m.server
        )?;
        if let Some(id) = &m.community_id {
            self.raw(b",\"community_id\":\"");
            self.raw(id.as_bytes());
            self.raw(b"\"");
        }
        if let Some(id) = m.h2_stream_id {
            self.raw(b",\"h2_stream_id\":");
            self.u64(u64::from(id));
        }
        self.raw(b",\"direction\":\"");
        self.raw(m.direction.as_str().as_bytes());
        self.raw(b"\",\"opcode\":");
        self.str(w, &m.opcode.name())?;
        self.raw(b",\"timestamp\":");
        self.str(w, &m.timestamp.to_rfc3339())?;
        self.raw(b",\"frames\":");
        self.u64(m.frames);
        self.raw(if m.compressed {
            b",\"compressed\":true"
        } else {
            b",\"compressed\":false"
        });
        self.raw(b",\"length\":");
        self.u64(m.length);
        self.raw(b",\"wire_length\":");
        self.u64(m.wire_length);
        if let Some(t) = &m.text {
            self.raw(b",\"text\":");
            self.str(w, t)?;
        }
        if let Some(d) = &m.data_b64 {
            self.raw(b",\"data_b64\":");
            self.base64(w, d.bytes())?;
        }
        if let Some(c) = m.close_code {
            self.raw(b",\"close_code\":");
            self.u64(c.into());
        }
        if let Some(r) = &m.close_reason {
            self.raw(b",\"close_reason\":");
            self.str(w, r)?;
        }
        self.raw(b",\"packets\":[");
        self.u64(m.packets[0]);
        self.raw(b",");
        self.u64(m.packets[1]);
        self.raw(b"]");
        if let Some(f) = &m.first_file {
            self.raw(b",\"first_file\":");
            self.str(w, f)?;
        }
        if m.undecodable {
            self.raw(b",\"undecodable\":true");
        }
        if m.truncated {
            self.raw(b",\"truncated\":true");
        }
        self.raw(b",\"errors\":[");
        for (i, e) in m.errors.iter().enumerate() {
            if i > 0 {
                self.raw(b",");
            }
            self.str(w, &e.to_string())?;
        }
        self.raw(b"]}");
        self.flush(w)
    }
}

/// Writes `m` as the JSON object `serde_json` makes of `Record::Message(m)`, without a
/// trailing newline. [`JsonBuf::message`] does the same reusing its buffer.
pub fn write_message<W: Write + ?Sized>(w: &mut W, m: &MessageRecord) -> io::Result<()> {
    JsonBuf::new().message(w, m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HandshakeProblem;
    use crate::ws::problem::Problem;
    use crate::ws::record::Record;
    use proptest::prelude::*;

    fn ours(m: &MessageRecord) -> String {
        let mut v = Vec::new();
        write_message(&mut v, m).unwrap();
        String::from_utf8(v).unwrap()
    }

    fn serde(m: &MessageRecord) -> String {
        serde_json::to_string(&Record::Message(m.clone())).unwrap()
    }

    #[test]
    fn all_optional_fields() {
        let mut m = MessageRecord {
            file: "a\"b\\c.pcap".into(),
            capture: 2,
            first_file: Some("first\u{1}.pcap".into()),
            flow: 3,
            client: "[::1]:5".parse().unwrap(),
            server: "1.2.3.4:80".parse().unwrap(),
            community_id: Some(crate::util::community_id::CommunityId::tcp(
                "[::1]:5".parse().unwrap(),
                "1.2.3.4:80".parse().unwrap(),
            )),
            h2_stream_id: Some(u32::MAX >> 1),
            direction: "client_to_server".parse().unwrap(),
            opcode: "close".parse().unwrap(),
            timestamp: "2026-01-01T00:00:00.000001Z".parse().unwrap(),
            frames: 2,
            compressed: true,
            length: 7,
            wire_length: 9,
            text: Some("héllo\n\u{1}\u{7f}\"".into()),
            data_b64: Some(crate::ws::record::Base64(vec![0, 1, 2, 0xff, 0xfe])),
            close_code: Some(1000),
            close_reason: Some("bye\t".into()),
            packets: [4, 5],
            undecodable: true,
            truncated: true,
            errors: vec![
                Problem::Rsv2,
                Problem::Handshake(HandshakeProblem::MethodNotGet("y\u{1f}".into())),
            ],
        };
        assert_eq!(ours(&m), serde(&m));
        m = MessageRecord::default();
        assert_eq!(ours(&m), serde(&m));
    }

    proptest! {
        #[test]
        fn dense_escapes_like_serde_json(s in "[\"\\\\\\x00-\\x1fa-zé\\x7f]{0,300}") {
            let m = MessageRecord { text: Some(s), ..MessageRecord::default() };
            prop_assert_eq!(ours(&m), serde(&m));
        }

        #[test]
        fn two_byte_escapes_like_serde_json(s in "[\"\\\\\\n\\t\\r\\x08\\x0ca-z0-9 é東]{0,300}") {
            let m = MessageRecord { text: Some(s), ..MessageRecord::default() };
            prop_assert_eq!(ours(&m), serde(&m));
        }

        #[test]
        fn same_as_serde_json(text in any::<String>(), ascii in "[ -~\\n\\t]{0,80}", n in any::<u64>(),
                              flags in any::<(bool, bool, bool)>(), errors in proptest::collection::vec(any::<String>(), 0..3),
                              bin in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..30_000))) {
            let m = MessageRecord {
                file: ascii.clone(),
                flow: n,
                text: Some(text),
                close_reason: flags.0.then(|| ascii.clone()),
                close_code: flags.1.then_some(n as u16),
                compressed: flags.2,
                undecodable: flags.0,
                errors: errors
                    .into_iter()
                    .map(|e| Problem::Handshake(HandshakeProblem::MethodNotGet(e)))
                    .collect(),
                data_b64: bin.map(crate::ws::record::Base64),
                ..MessageRecord::default()
            };
            prop_assert_eq!(ours(&m), serde(&m));
        }
    }
}
