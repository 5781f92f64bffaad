//! The `extract` command: every message payload as a file, with a manifest.
//!
//! Payloads are written decoded (unmasked, inflated) as they come, one at a time, to
//! `flow<NNNN>-<c2s|s2c>-<INDEX>-<opcode>.<ext>`: `.json` for text that parses as a JSON
//! object or array, `.txt` for other text, `.bin` for everything else (binary, control,
//! text that is not valid UTF-8). `INDEX` is the message's 0-based position in its
//! connection direction, counting every message (also those a filter left out), so a
//! payload keeps its name whatever the filters.
//! `manifest.jsonl` gets one line per message: the message record without its inline
//! payload, plus `index`, `payload_file`, `sha256` and `bytes_written`. Undecodable
//! messages get no payload file but are listed with their errors.

#[cfg(test)]
use crate::ws::problem::Problem;
use crate::ws::protocol::WsDirection;
use crate::ws::record::MessageRecord;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Name of the manifest in the output directory.
pub const MANIFEST: &str = "manifest.jsonl";

/// One manifest line.
#[derive(Serialize)]
struct Entry<'a> {
    record: &'static str,
    #[serde(flatten)]
    message: &'a MessageRecord,
    index: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_written: Option<u64>,
}

/// What an extraction wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Payload files written.
    pub files: u64,
    /// Messages listed in the manifest without a payload file (undecodable).
    pub without_payload: u64,
    /// Payload bytes written.
    pub bytes: u64,
}

/// Writes payload files and the manifest into a directory.
pub struct Extractor {
    root: PathBuf,
    per_file_dirs: bool,
    manifest: BufWriter<File>,
    /// Messages seen so far per connection, by direction (client→server, server→client).
    next_index: HashMap<(u32, u64, Option<u32>), [u64; 2]>,
    /// Subdirectory of each capture file (with several files), unique even when two
    /// paths sanitise to the same name.
    dirs: HashMap<String, String>,
    summary: Summary,
}

/// Lower-case hex of SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The file name of a message's payload (without any per-capture directory).
pub fn payload_name(m: &MessageRecord, index: u64) -> String {
    let dir = match m.direction {
        WsDirection::ClientToServer => "c2s",
        WsDirection::ServerToClient => "s2c",
    };
    let opcode: String = m
        .opcode
        .name()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let ext = match &m.text {
        Some(t) if looks_like_json(t) => "json",
        Some(_) => "txt",
        None => "bin",
    };
    match m.h2_stream_id {
        Some(s) => format!("flow{:04}s{s}-{dir}-{index:06}-{opcode}.{ext}", m.flow),
        None => format!("flow{:04}-{dir}-{index:06}-{opcode}.{ext}", m.flow),
    }
}

fn looks_like_json(t: &str) -> bool {
    let s = t.trim_start();
    (s.starts_with('{') || s.starts_with('['))
        && serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok()
}

/// A directory name for one capture file among several.
fn dir_for(file: &str) -> String {
    file.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Extractor {
    /// Creates `root` (and parents) and its manifest. With `per_file_dirs`, each capture
    /// file's payloads go to a subdirectory named after it (for several input files).
    pub fn new(root: &Path, per_file_dirs: bool) -> io::Result<Self> {
        std::fs::create_dir_all(root)?;
        let manifest = BufWriter::new(File::create(root.join(MANIFEST))?);
        Ok(Extractor {
            root: root.to_path_buf(),
            per_file_dirs,
            manifest,
            next_index: HashMap::new(),
            dirs: HashMap::new(),
            summary: Summary::default(),
        })
    }

    /// Counts message `m` in its direction and, when `selected`, writes its payload file
    /// and manifest line. Takes the record to move its payload out rather than copy it.
    pub fn message(&mut self, mut m: MessageRecord, selected: bool) -> io::Result<()> {
        let counters = self
            .next_index
            .entry((m.capture, m.flow, m.h2_stream_id))
            .or_default();
        let slot = &mut counters[m.direction.index()];
        let index = *slot;
        *slot += 1;
        if !selected {
            return Ok(());
        }
        let name = payload_name(&m, index);
        let text = m.text.take();
        let b64 = m.data_b64.take();
        let payload: Option<Vec<u8>> = if m.undecodable {
            None
        } else if let Some(t) = text {
            Some(t.into_bytes())
        } else if let Some(b) = b64 {
            Some(b.0)
        } else {
            Some(Vec::new())
        };
        let bare = m;
        let mut entry = Entry {
            record: "message",
            message: &bare,
            index,
            payload_file: None,
            sha256: None,
            bytes_written: None,
        };
        if let Some(p) = payload {
            let mut rel = PathBuf::new();
            if self.per_file_dirs {
                rel.push(self.dir_of(&bare.file));
                std::fs::create_dir_all(self.root.join(&rel))?;
            }
            rel.push(name);
            std::fs::write(self.root.join(&rel), &p)?;
            entry.payload_file = Some(rel.to_string_lossy().replace('\\', "/"));
            entry.sha256 = Some(sha256_hex(&p));
            entry.bytes_written = Some(p.len() as u64);
            self.summary.files += 1;
            self.summary.bytes += p.len() as u64;
        } else {
            self.summary.without_payload += 1;
        }
        serde_json::to_writer(&mut self.manifest, &entry)?;
        self.manifest.write_all(b"\n")
    }

    /// Forgets a finished connection's message counters: connection `flow` (and
    /// `h2_stream`) of the run's capture `capture` (as records number them).
    pub fn end_flow(&mut self, capture: u32, flow: u64, h2_stream: Option<u32>) {
        self.next_index.remove(&(capture, flow, h2_stream));
    }

    /// The subdirectory for a capture file: its sanitised name, with `-2`, `-3`, … added
    /// when another file already took that name.
    fn dir_of(&mut self, file: &str) -> String {
        if let Some(d) = self.dirs.get(file) {
            return d.clone();
        }
        let base = dir_for(file);
        let mut name = base.clone();
        let mut n = 1;
        while self.dirs.values().any(|d| *d == name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        self.dirs.insert(file.to_string(), name.clone());
        name
    }

    /// Flushes the manifest.
    pub fn finish(mut self) -> io::Result<Summary> {
        self.manifest.flush()?;
        Ok(self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_whose_names_sanitise_alike_get_their_own_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let mut x = Extractor::new(tmp.path(), true).unwrap();
        assert_eq!(x.dir_of("a/b.pcap"), "a_b.pcap");
        assert_eq!(x.dir_of("a_b.pcap"), "a_b.pcap-2");
        assert_eq!(x.dir_of("a/b.pcap"), "a_b.pcap");
    }

    fn msg(opcode: &str, text: Option<&str>, b64: Option<&str>) -> MessageRecord {
        MessageRecord {
            file: "cap.pcap".into(),
            flow: 3,
            direction: "client_to_server".parse().unwrap(),
            opcode: opcode.parse().unwrap(),
            text: text.map(String::from),
            data_b64: b64.and_then(crate::ws::record::Base64::decode),
            packets: [7, 9],
            ..Default::default()
        }
    }

    #[test]
    fn names_say_flow_direction_index_and_kind() {
        assert_eq!(
            payload_name(&msg("text", Some("hi"), None), 12),
            "flow0003-c2s-000012-text.txt"
        );
        assert_eq!(
            payload_name(&msg("text", Some(" {\"a\": [1]}"), None), 0),
            "flow0003-c2s-000000-text.json"
        );
        assert_eq!(
            payload_name(&msg("text", Some("{broken"), None), 0),
            "flow0003-c2s-000000-text.txt"
        );
        let mut m = msg("reserved:3", None, Some("AA=="));
        m.direction = WsDirection::ServerToClient;
        assert_eq!(payload_name(&m, 1), "flow0003-s2c-000001-reserved3.bin");
    }

    #[test]
    fn writes_payloads_and_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x");
        let mut e = Extractor::new(&out, false).unwrap();
        e.message(msg("text", Some("skipped"), None), false)
            .unwrap();
        e.message(msg("binary", None, Some("AAEC")), true).unwrap();
        let mut bad = msg("text", None, None);
        bad.undecodable = true;
        bad.errors = vec![Problem::Gap(3)];
        e.message(bad, true).unwrap();
        let s = e.finish().unwrap();
        assert_eq!(
            s,
            Summary {
                files: 1,
                without_payload: 1,
                bytes: 3
            }
        );
        let bin = std::fs::read(out.join("flow0003-c2s-000001-binary.bin")).unwrap();
        assert_eq!(bin, [0, 1, 2]);
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(out.join(MANIFEST))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["sha256"], sha256_hex(&[0, 1, 2]));
        assert_eq!(lines[0]["packets"], serde_json::json!([7, 9]));
        assert!(lines[0].get("data_b64").is_none());
        assert_eq!(lines[1]["index"], 2);
        assert!(lines[1].get("payload_file").is_none());
        assert_eq!(lines[1]["errors"][0], "tcp gap of 3 bytes");
    }
}
