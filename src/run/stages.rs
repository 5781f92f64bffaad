//! One capture through the stages: capture reader → packet decoder → TCP reassembler →
//! a [`StreamSink`], with the problems of the file itself (truncation, corrupt records,
//! malformed packets, unsupported link types) reported as [`Diagnostic`]s.
//!
//! The caller drains what the sink and the reassembler produced after every packet, so
//! records come out while the capture is read and memory stays flat; the same callback
//! may stop the reading (`ControlFlow::Break`), which is how `--limit` ends a run early
//! without the stop looking like an error.

use crate::capture::packet::{self, PacketError};
use crate::capture::set::{packet_id, split_id, FileSet, Item, SetReader};
use crate::capture::CaptureError;
use crate::layers::tls::Keys;
use crate::run::diag::{Diagnostic, WarnLimiter};
use crate::run::RunError;
use crate::tcp::stream::{Provenance, StreamSink};
use crate::tcp::{Config, Reassembler};
use crate::ws::problem::{Kind, Problems};
use std::collections::HashSet;
use std::convert::Infallible;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::sync::Arc;

/// Packet-level diagnostics of one kind printed per file before the rest are only counted.
const DIAG_PER_KIND: u64 = 20;

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

impl FileStats {
    /// Counts the file's own problems (see [`FileStats::problems`]) into `p`.
    pub fn count_into(&self, p: &mut Problems) {
        p.add(Kind::Capture, self.problems);
    }
}

/// Reads a whole capture from `src`, feeding `sink` through a reassembler built from
/// `config`; the TLS secrets of its Decryption Secrets Blocks go to `keys`. `after_packet` runs after every packet (to drain and print records), and at
/// the end once more after the reassembler has flushed every flow.
pub fn run<R: Read + Send, S: StreamSink>(
    file: &str,
    src: R,
    config: Config,
    keys: &Keys,
    sink: &mut S,
    diag: &mut dyn FnMut(Diagnostic),
    mut after_packet: impl FnMut(&mut S, &mut Reassembler) -> io::Result<()>,
) -> Result<FileStats, RunError> {
    let whole = run_until(file, src, config, keys, sink, diag, |s, tcp| {
        after_packet(s, tcp).map(ControlFlow::<Infallible>::Continue)
    })?;
    match whole {
        ControlFlow::Continue(stats) => Ok(stats),
        ControlFlow::Break(never) => match never {},
    }
}

/// As [`run`], where `after_packet` may stop the reading by returning
/// [`ControlFlow::Break`] (`--limit` reached): the rest of the capture is left unread,
/// its flows are not flushed and nothing more is reported; the `Break` is returned.
/// `Continue` carries the statistics of a capture read to its end.
pub fn run_until<R: Read + Send, S: StreamSink, B>(
    file: &str,
    src: R,
    config: Config,
    keys: &Keys,
    sink: &mut S,
    diag: &mut dyn FnMut(Diagnostic),
    after_packet: impl FnMut(&mut S, &mut Reassembler) -> io::Result<ControlFlow<B>>,
) -> Result<ControlFlow<B, FileStats>, RunError> {
    let (files, reader) = single(file, src)?;
    run_set(&files, reader, config, keys, sink, diag, after_packet)
}

/// The one capture file `file`, read from `src`, as a set of one file; an error when
/// `src` is not a capture.
pub(crate) fn single<'a, R: Read + Send + 'a>(
    file: &str,
    src: R,
) -> Result<(Arc<FileSet>, SetReader<'a>), RunError> {
    let reader = SetReader::single(Box::new(src)).map_err(|source| RunError::Unusable {
        file: file.to_string(),
        source,
    })?;
    Ok((FileSet::single(file), reader))
}

/// As [`run_until`], over the packets of a set of files (`reader`, whose files `files`
/// names) read as one capture: packet numbers in the records and diagnostics are
/// numbered within their own file.
pub fn run_set<S: StreamSink, B>(
    files: &FileSet,
    mut reader: SetReader<'_>,
    config: Config,
    keys: &Keys,
    sink: &mut S,
    diag: &mut dyn FnMut(Diagnostic),
    mut after_packet: impl FnMut(&mut S, &mut Reassembler) -> io::Result<ControlFlow<B>>,
) -> Result<ControlFlow<B, FileStats>, RunError> {
    let mut tcp = Reassembler::new(config);
    let mut stats = FileStats::default();
    let mut unsupported: HashSet<(usize, u32, u32)> = HashSet::new();
    let mut malformed = 0u64;
    let mut snapcut = 0u64;
    let mut tcp_warnings = WarnLimiter::default();
    // Packets are named by their id (see `capture::set`), which gives the file; the id
    // of a file's packet 0 names the file alone, and `None` the whole capture.
    let mut report = |packet: Option<u64>, message: String| {
        diag(Diagnostic {
            file: match packet {
                Some(id) => files.file_of(id),
                None => files.label(),
            }
            .to_string(),
            packet: packet.map(|id| split_id(id).1).filter(|&n| n > 0),
            message,
        })
    };
    while let Some(item) = reader.next_item() {
        let (file, pkt) = match item {
            Item::Packet { file, packet } => (file, packet),
            Item::Error {
                file,
                error,
                packet: reading,
                ..
            } => {
                stats.problems += 1;
                // A read error (a compressed stream cut short) names the packet it cut.
                let packet = match error {
                    CaptureError::Truncated { packet, .. }
                    | CaptureError::Corrupt { packet, .. } => packet,
                    _ => reading,
                };
                report(Some(packet_id(file, packet)), error.to_string());
                continue;
            }
        };
        stats.packets += 1;
        let id = packet_id(file, pkt.number);
        let at = Provenance::of(id, pkt.ts);
        for text in &pkt.secrets {
            keys.add_text(text);
        }
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
                if unsupported.insert((file, pkt.interface, lt)) {
                    stats.problems += 1;
                    report(
                        Some(id),
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
                    report(Some(id), e.to_string());
                }
            }
        }
        for w in tcp.drain_warnings() {
            if tcp_warnings.admit(w.kind, &w.message) {
                report(Some(w.packet), w.message);
            }
        }
        if let ControlFlow::Break(b) = after_packet(sink, &mut tcp)? {
            return Ok(ControlFlow::Break(b));
        }
    }
    // End the flows left a thousand at a time, draining records in between.
    while tcp.finish_some(sink, 1000) {
        if let ControlFlow::Break(b) = after_packet(sink, &mut tcp)? {
            return Ok(ControlFlow::Break(b));
        }
    }
    for w in tcp.drain_warnings() {
        if tcp_warnings.admit(w.kind, &w.message) {
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
    if let ControlFlow::Break(b) = after_packet(sink, &mut tcp)? {
        return Ok(ControlFlow::Break(b));
    }
    stats.bytes = reader.bytes_read();
    Ok(ControlFlow::Continue(stats))
}
