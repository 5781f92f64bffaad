//! Drives one capture through the stages: capture reader → packet decoder → TCP
//! reassembler → a [`StreamSink`], reporting problems as [`Diagnostic`]s.

use crate::capture::{CaptureError, CaptureReader};
use crate::packet::{self, PacketError};
use crate::stream::{Provenance, StreamSink};
use crate::tcp::{Config, Reassembler};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Read};

/// Packet-level diagnostics of one kind printed per file before the rest are only counted.
const DIAG_PER_KIND: u64 = 20;

/// Warnings of one kind (the same text but for its numbers) printed per file before
/// the rest are only counted, so that hostile input cannot flood standard error.
pub const WARNINGS_PER_KIND: u64 = 50;

/// Decides which warnings of a file to print: the first [`WARNINGS_PER_KIND`] of each
/// kind, where a kind is the warning's text with its digits removed.
#[derive(Debug, Default)]
pub struct WarnLimiter {
    seen: HashMap<String, (u64, Option<String>)>,
}

impl WarnLimiter {
    /// Counts `message`; true when it is to be printed.
    pub fn admit(&mut self, message: &str) -> bool {
        let kind: String = message.chars().filter(|c| !c.is_ascii_digit()).collect();
        let e = self.seen.entry(kind).or_insert((0, None));
        e.0 += 1;
        if e.0 > WARNINGS_PER_KIND && e.1.is_none() {
            e.1 = Some(message.to_string());
        }
        e.0 <= WARNINGS_PER_KIND
    }

    /// One line per kind that had warnings left unprinted: how many, and the first of
    /// them as an example.
    pub fn summary(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .seen
            .values()
            .filter_map(|(n, first)| {
                let first = first.as_ref()?;
                Some(format!(
                    "{} more warnings like \"{first}\" not listed",
                    n - WARNINGS_PER_KIND
                ))
            })
            .collect();
        v.sort();
        v
    }
}

/// A problem worth telling the user, tied to a file and (usually) a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The capture file.
    pub file: String,
    /// 1-based packet number, when the problem concerns one.
    pub packet: Option<u64>,
    /// What happened.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.packet {
            Some(p) => write!(f, "{}: packet {p}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// What one file held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Packets read.
    pub packets: u64,
    /// TCP segments decoded.
    pub tcp_segments: u64,
    /// Problems in the file itself: truncation, corrupt records, malformed packets,
    /// unsupported link types.
    pub problems: u64,
    /// Bytes of the file read.
    pub bytes: u64,
}

/// Why a file could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Not a capture, or unreadable from the start.
    #[error("{file}: {source}")]
    Unusable {
        /// The file.
        file: String,
        /// The reader's error.
        source: CaptureError,
    },
    /// Writing output failed (e.g. a closed pipe).
    #[error("output: {0}")]
    Output(#[from] io::Error),
}

/// Reads a whole capture from `src`, feeding `sink` through a reassembler built from
/// `config`. `after_packet` runs after every packet (to drain and print records), and at
/// the end once more after the reassembler has flushed every flow.
pub fn run<R: Read, S: StreamSink>(
    file: &str,
    src: R,
    config: Config,
    sink: &mut S,
    diag: &mut dyn FnMut(Diagnostic),
    mut after_packet: impl FnMut(&mut S, &mut Reassembler) -> io::Result<()>,
) -> Result<FileStats, RunError> {
    let mut reader = CaptureReader::new(src).map_err(|source| RunError::Unusable {
        file: file.to_string(),
        source,
    })?;
    let mut tcp = Reassembler::new(config);
    let mut stats = FileStats::default();
    let mut unsupported: HashSet<(u32, u32)> = HashSet::new();
    let mut malformed = 0u64;
    let mut snapcut = 0u64;
    let mut tcp_warnings = WarnLimiter::default();
    let mut report = |packet: Option<u64>, message: String| {
        diag(Diagnostic {
            file: file.to_string(),
            packet,
            message,
        })
    };
    loop {
        let pkt = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                stats.problems += 1;
                let packet = match &e {
                    CaptureError::Truncated { packet, .. }
                    | CaptureError::Corrupt { packet, .. } => Some(*packet),
                    _ => None,
                };
                report(packet, e.to_string());
                continue;
            }
        };
        stats.packets += 1;
        let at = Provenance {
            packet: pkt.number,
            ts: pkt.ts,
        };
        match packet::decode(pkt.linktype, pkt.data) {
            Ok(seg) => {
                stats.tcp_segments += 1;
                if seg.missing > 0 {
                    snapcut += 1;
                    if snapcut <= DIAG_PER_KIND {
                        report(
                            Some(pkt.number),
                            format!(
                                "{} payload bytes cut by the snap length (captured {} of {})",
                                seg.missing,
                                pkt.data.len(),
                                pkt.orig_len
                            ),
                        );
                    }
                }
                tcp.process(&seg, at, sink);
            }
            Err(PacketError::NotTcp) => {}
            Err(PacketError::UnsupportedLinktype(lt)) => {
                if unsupported.insert((pkt.interface, lt)) {
                    stats.problems += 1;
                    report(
                        Some(pkt.number),
                        format!(
                            "interface {}: unsupported link type {lt}; its packets are skipped",
                            pkt.interface
                        ),
                    );
                }
            }
            Err(e @ (PacketError::Malformed(_) | PacketError::IpFragment)) => {
                stats.problems += 1;
                malformed += 1;
                if malformed <= DIAG_PER_KIND {
                    report(Some(pkt.number), e.to_string());
                }
            }
        }
        for w in tcp.drain_warnings() {
            if tcp_warnings.admit(&w.message) {
                report(Some(w.packet), w.message);
            }
        }
        after_packet(sink, &mut tcp)?;
    }
    // End the flows left a thousand at a time, draining records in between.
    while tcp.finish_some(sink, 1000) {
        after_packet(sink, &mut tcp)?;
    }
    for w in tcp.drain_warnings() {
        if tcp_warnings.admit(&w.message) {
            report(Some(w.packet), w.message);
        }
    }
    for line in tcp_warnings.summary() {
        report(None, line);
    }
    if malformed > DIAG_PER_KIND {
        report(
            None,
            format!(
                "{} more malformed packets not listed",
                malformed - DIAG_PER_KIND
            ),
        );
    }
    if snapcut > DIAG_PER_KIND {
        report(
            None,
            format!(
                "{} more packets cut by the snap length not listed",
                snapcut - DIAG_PER_KIND
            ),
        );
    }
    after_packet(sink, &mut tcp)?;
    stats.bytes = reader.bytes_read();
    Ok(stats)
}
