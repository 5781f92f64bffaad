//! Capture files: legacy pcap (µs and ns, both byte orders) and pcapng (several sections
//! and interfaces, `if_tsresol`/`if_tsoffset`), detected by content.
//!
//! [`CaptureReader`] streams records through one bounded buffer: it never holds more than
//! the current record, and lengths claimed by the file are checked against a limit before
//! anything is read for them. Block parsing is done by `pcap-parser`.
//!
//! This file holds the reader and its buffer, and tells the format by its magic number;
//! `pcap.rs` and `pcapng.rs` each read their format's records into the buffer,
//! `sections.rs` switches between them where captures were joined end to end, and
//! `linktype.rs` names the link layers. Decoding a packet's headers is
//! [`packet`]'s job, taking off the tunnels it came through [`tunnel`]'s. A compressed capture is
//! decompressed before it gets here ([`compressed`]).

pub mod compressed;
pub mod linktype;
pub mod packet;
mod pcap;
mod pcapng;
mod sections;
pub mod set;
pub mod tunnel;

use crate::util::time::Timestamp;
use std::io::{self, Read};

/// Largest record (pcap packet or pcapng block) accepted; anything claiming more is corrupt.
pub const MAX_RECORD: usize = 16 << 20;

/// How much is read from the file at a time.
const READ_CHUNK: usize = 1 << 20;

/// Which container format a file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Legacy pcap with microsecond timestamps.
    PcapMicro,
    /// Legacy pcap with nanosecond timestamps.
    PcapNano,
    /// pcapng.
    PcapNg,
}

/// A problem reading a capture. `Corrupt` leaves the reader usable (it skipped the bad
/// record); the others end the file.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be read.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    /// The content is not pcap or pcapng.
    #[error("not a pcap or pcapng file ({0})")]
    NotACapture(String),
    /// The file ends inside a record.
    #[error("file truncated inside a record ({have} of {need} bytes present)")]
    Truncated {
        /// 1-based number the packet would have had.
        packet: u64,
        /// Bytes of the record present.
        have: usize,
        /// Bytes the record claims.
        need: usize,
    },
    /// A record is malformed. `resumed` says whether reading continues after it.
    #[error("corrupt record at byte offset {offset}: {detail}{}", if *.resumed { " (skipped)" } else { " (rest of file not readable)" })]
    Corrupt {
        /// 1-based number of the last packet read before the problem, plus one.
        packet: u64,
        /// Byte offset of the record in the file.
        offset: u64,
        /// What is wrong.
        detail: String,
        /// True when the reader skipped the record and goes on.
        resumed: bool,
    },
}

/// One captured packet, borrowed from the reader's buffer until the next call.
#[derive(Debug)]
pub struct RawPacket<'a> {
    /// 1-based packet number in the file, as Wireshark counts.
    pub number: u64,
    /// Capture time.
    pub ts: Timestamp,
    /// Link-layer type of the interface it was captured on.
    pub linktype: u32,
    /// Interface index (0 for legacy pcap).
    pub interface: u32,
    /// Captured bytes (possibly cut by the snap length).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
    /// TLS key logs of the pcapng Decryption Secrets Blocks read since the packet before
    /// (a block precedes the packets it serves); usually none.
    pub secrets: Vec<Vec<u8>>,
}

/// What the file header told: the format and what it fixes for the records after it.
#[derive(Clone, Copy, Debug)]
enum State {
    Pcap {
        big_endian: bool,
        nano: bool,
        linktype: u32,
    },
    PcapNg {
        big_endian: bool,
    },
}

/// Streaming reader over a pcap or pcapng byte source.
pub struct CaptureReader<R: Read> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    file_offset: u64,
    eof: bool,
    done: bool,
    state: State,
    /// Interfaces of the current pcapng section, by index.
    interfaces: Vec<pcapng::Interface>,
    packets: u64,
    format: Format,
    /// TLS key logs from Decryption Secrets Blocks not yet handed out with a packet.
    secrets: Vec<Vec<u8>>,
    /// The next packet, read by [`CaptureReader::peek`] and not yet handed out.
    pending: Option<Loc>,
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header and detects the format from the magic number.
    pub fn new(src: R) -> Result<Self, CaptureError> {
        Self::with_buffer(src, READ_CHUNK)
    }

    /// As [`CaptureReader::new`], first reading `chunk` bytes at a time (the buffer
    /// still grows to hold a larger record): a small chunk makes looking at the start of
    /// many files cheap.
    pub fn with_buffer(src: R, chunk: usize) -> Result<Self, CaptureError> {
        Self::reusing(src, vec![0; chunk.max(64)])
    }

    /// As [`CaptureReader::new`], reading into `buf` (a finished reader's, see
    /// [`CaptureReader::into_buffer`]; at least 64 bytes) instead of a new buffer: a set
    /// of files read one after the other zeroes no fresh megabyte per file.
    pub fn reusing(src: R, mut buf: Vec<u8>) -> Result<Self, CaptureError> {
        if buf.len() < 64 {
            buf.resize(64, 0);
        }
        let mut r = CaptureReader {
            src,
            buf,
            start: 0,
            end: 0,
            file_offset: 0,
            eof: false,
            done: false,
            state: State::PcapNg { big_endian: false },
            interfaces: Vec::new(),
            packets: 0,
            format: Format::PcapNg,
            secrets: Vec::new(),
            pending: None,
        };
        r.fill(24)?;
        let head = &r.buf[r.start..r.end];
        if head.len() < 4 {
            return Err(CaptureError::NotACapture(if head.is_empty() {
                "empty file".into()
            } else {
                format!("only {} bytes", head.len())
            }));
        }
        let magic = [head[0], head[1], head[2], head[3]];
        let (format, big_endian) = match (sections::pcap_magic(magic), magic) {
            (Some((false, big_endian)), _) => (Format::PcapMicro, big_endian),
            (Some((true, big_endian)), _) => (Format::PcapNano, big_endian),
            (None, [0x0a, 0x0d, 0x0d, 0x0a]) => (Format::PcapNg, false),
            (None, [0x34, 0xcd, 0xb2, 0xa1] | [0xa1, 0xb2, 0xcd, 0x34]) => {
                return Err(CaptureError::NotACapture(
                    "modified (Kuznetzov) pcap is not supported".into(),
                ))
            }
            _ => {
                return Err(CaptureError::NotACapture(format!(
                    "unknown magic number {:02x}{:02x}{:02x}{:02x}",
                    magic[0], magic[1], magic[2], magic[3]
                )))
            }
        };
        r.format = format;
        if format == Format::PcapNg {
            return Ok(r);
        }
        r.pcap_header(big_endian, format == Format::PcapNano)?;
        Ok(r)
    }

    /// The reader's buffer, for another reader to reuse.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// The detected container format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The TLS key logs of Decryption Secrets Blocks read and not yet handed out with a
    /// packet (after [`CaptureReader::peek`]: those before the next packet).
    pub fn pending_secrets(&self) -> &[Vec<u8>] {
        &self.secrets
    }

    /// Number of packets returned so far.
    pub fn packets_read(&self) -> u64 {
        self.packets
    }

    /// Bytes of the file consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.file_offset
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.file_offset += n as u64;
    }

    /// Makes at least `want` bytes available from `start` (fewer only at end of file).
    fn fill(&mut self, want: usize) -> io::Result<()> {
        while self.end - self.start < want && !self.eof {
            if self.buf.len() - self.start < want.max(READ_CHUNK / 2) {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                // Grow as bytes arrive, never to a declared length up front: a record
                // that claims 16 MiB in a short file allocates no more than the file.
                let needed = want.max(READ_CHUNK);
                let grown = (self.buf.len() * 2).clamp(self.end + 1, needed.max(self.end + 1));
                self.buf.resize(grown, 0);
            }
            let n = match self.src.read(&mut self.buf[self.end..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.eof = true;
            }
            self.end += n;
        }
        Ok(())
    }

    fn avail(&self) -> usize {
        self.end - self.start
    }

    /// The next packet, `Ok(None)` at the end. After an `Err`, call again: a
    /// `Corrupt { resumed: true }` record was skipped and reading goes on; any other
    /// error ends the file (the next call returns `Ok(None)`).
    pub fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        let loc = match self.pending.take() {
            Some(loc) => loc,
            None => match self.read_next()? {
                Some(loc) => loc,
                None => return Ok(None),
            },
        };
        self.packets += 1;
        Ok(Some(RawPacket {
            number: self.packets,
            ts: loc.ts,
            linktype: loc.linktype,
            interface: loc.interface,
            data: &self.buf[loc.data_start..loc.data_end],
            orig_len: loc.orig_len,
            secrets: std::mem::take(&mut self.secrets),
        }))
    }

    /// The capture time of the packet [`CaptureReader::next_packet`] returns next,
    /// reading it (but not handing it out) if need be; `Ok(None)` at the end. Errors
    /// are those of `next_packet`, and so is what to do after one. Reading the next
    /// packet reuses the buffer, so peek only once the previous packet is done with.
    pub fn peek(&mut self) -> Result<Option<Timestamp>, CaptureError> {
        if self.pending.is_none() {
            self.pending = self.read_next()?;
        }
        Ok(self.pending.as_ref().map(|l| l.ts))
    }

    /// Reads the next packet record into the buffer, ending the file on `Ok(None)` and
    /// on any error but a skipped corrupt record.
    fn read_next(&mut self) -> Result<Option<Loc>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let res = loop {
            let next = match self.state {
                State::Pcap {
                    big_endian,
                    nano,
                    linktype,
                } => self.next_pcap(big_endian, nano, linktype),
                State::PcapNg { .. } => self.next_pcapng(),
            };
            if !matches!(next, Ok(Next::Section)) {
                break next;
            }
        };
        let res = match res {
            Ok(Next::Packet(loc)) => Ok(Some(loc)),
            Ok(Next::Section | Next::End) => Ok(None),
            Err(e) => Err(e),
        };
        match res {
            Ok(None) => self.done = true,
            Err(CaptureError::Corrupt { resumed: true, .. }) | Ok(Some(_)) => {}
            Err(_) => self.done = true,
        }
        res
    }

    fn truncated(&self, need: usize) -> CaptureError {
        CaptureError::Truncated {
            packet: self.packets + 1,
            have: self.avail(),
            need,
        }
    }

    fn corrupt(&self, detail: String, resumed: bool) -> CaptureError {
        self.corrupt_at(detail, resumed, 0)
    }

    /// A corrupt-record error for the block that started `back` bytes before the cursor.
    fn corrupt_at(&self, detail: String, resumed: bool, back: usize) -> CaptureError {
        CaptureError::Corrupt {
            packet: self.packets + 1,
            offset: self.file_offset - back as u64,
            detail,
            resumed,
        }
    }
}

/// What the reader found where a record or block was expected.
enum Next {
    /// A packet.
    Packet(Loc),
    /// The start of a new section, which the reader has switched to (see `sections.rs`).
    Section,
    /// The end of the input.
    End,
}

/// Where a packet lies in the buffer, found before the borrow is handed out.
#[derive(Clone, Copy, Debug)]
struct Loc {
    ts: Timestamp,
    linktype: u32,
    interface: u32,
    data_start: usize,
    data_end: usize,
    orig_len: u32,
}

fn read_u32(b: &[u8], at: usize, big_endian: bool) -> u32 {
    let w = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if big_endian {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_captures() {
        assert!(matches!(
            CaptureReader::new(&b""[..]),
            Err(CaptureError::NotACapture(_))
        ));
        assert!(matches!(
            CaptureReader::new(&b"hello world, this is text\n"[..]),
            Err(CaptureError::NotACapture(_))
        ));
    }

    #[test]
    fn tells_the_format_by_the_magic_number() {
        let ng = [0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0];
        assert_eq!(
            CaptureReader::new(&ng[..]).unwrap().format(),
            Format::PcapNg
        );
        let kuznetzov = [0xa1, 0xb2, 0xcd, 0x34, 0, 0, 0, 0];
        assert!(matches!(
            CaptureReader::new(&kuznetzov[..]),
            Err(CaptureError::NotACapture(m)) if m.contains("Kuznetzov")
        ));
        let short_pcap = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        assert!(matches!(
            CaptureReader::new(&short_pcap[..]),
            Err(CaptureError::NotACapture(m)) if m.contains("cut short")
        ));
    }
}
