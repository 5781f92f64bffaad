//! Capture files: legacy pcap (µs and ns, both byte orders) and pcapng (several sections
//! and interfaces, `if_tsresol`/`if_tsoffset`), detected by content.
//!
//! [`CaptureReader`] streams records through one bounded buffer: it never holds more than
//! the current record, and lengths claimed by the file are checked against a limit before
//! anything is read for them. Block parsing is done by `pcap-parser`.

pub mod packet;

use crate::util::time::Timestamp;
use pcap_parser::pcapng::{self, Block};
use pcap_parser::traits::PcapNGPacketBlock;
use std::io::{self, Read};

/// Largest record (pcap packet or pcapng block) accepted; anything claiming more is corrupt.
pub const MAX_RECORD: usize = 16 << 20;

/// How much is read from the file at a time.
const READ_CHUNK: usize = 1 << 20;

/// Link-layer header types (LINKTYPE_* numbers from the pcap/pcapng specifications).
pub mod linktype {
    /// BSD loopback: 4-byte address family in host byte order.
    pub const NULL: u32 = 0;
    /// Ethernet II.
    pub const ETHERNET: u32 = 1;
    /// Raw IP (old BSD number).
    pub const RAW_BSD: u32 = 12;
    /// Raw IP (old OpenBSD number).
    pub const RAW_OPENBSD: u32 = 14;
    /// Raw IP.
    pub const RAW: u32 = 101;
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: u32 = 108;
    /// Linux cooked capture v1.
    pub const LINUX_SLL: u32 = 113;
    /// Raw IPv4.
    pub const IPV4: u32 = 228;
    /// Raw IPv6.
    pub const IPV6: u32 = 229;
    /// Linux cooked capture v2 (`tcpdump -i any`).
    pub const LINUX_SLL2: u32 = 276;
}

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
}

/// A pcapng interface as described by its IDB.
#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    /// Timestamp units per second.
    resolution: u64,
    offset: i64,
    snaplen: u32,
    digits: u8,
}

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
    interfaces: Vec<Interface>,
    packets: u64,
    format: Format,
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header and detects the format from the magic number.
    pub fn new(src: R) -> Result<Self, CaptureError> {
        let mut r = CaptureReader {
            src,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            file_offset: 0,
            eof: false,
            done: false,
            state: State::PcapNg { big_endian: false },
            interfaces: Vec::new(),
            packets: 0,
            format: Format::PcapNg,
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
        let (format, big_endian) = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => (Format::PcapMicro, false),
            [0xa1, 0xb2, 0xc3, 0xd4] => (Format::PcapMicro, true),
            [0x4d, 0x3c, 0xb2, 0xa1] => (Format::PcapNano, false),
            [0xa1, 0xb2, 0x3c, 0x4d] => (Format::PcapNano, true),
            [0x0a, 0x0d, 0x0d, 0x0a] => (Format::PcapNg, false),
            [0x34, 0xcd, 0xb2, 0xa1] | [0xa1, 0xb2, 0xcd, 0x34] => {
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
        if head.len() < 24 {
            return Err(CaptureError::NotACapture(format!(
                "pcap file header cut short ({} of 24 bytes)",
                head.len()
            )));
        }
        let (_, hdr) = pcap_parser::parse_pcap_header(head)
            .map_err(|e| CaptureError::NotACapture(format!("bad pcap header: {e:?}")))?;
        r.state = State::Pcap {
            big_endian,
            nano: format == Format::PcapNano,
            linktype: hdr.network.0 as u32,
        };
        r.consume(24);
        Ok(r)
    }

    /// The detected container format.
    pub fn format(&self) -> Format {
        self.format
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
        if self.done {
            return Ok(None);
        }
        let res = match self.state {
            State::Pcap {
                big_endian,
                nano,
                linktype,
            } => self.next_pcap(big_endian, nano, linktype),
            State::PcapNg { .. } => self.next_pcapng(),
        };
        match res {
            Ok(Some(loc)) => {
                self.packets += 1;
                Ok(Some(RawPacket {
                    number: self.packets,
                    ts: loc.ts,
                    linktype: loc.linktype,
                    interface: loc.interface,
                    data: &self.buf[loc.data_start..loc.data_end],
                    orig_len: loc.orig_len,
                }))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                if !matches!(e, CaptureError::Corrupt { resumed: true, .. }) {
                    self.done = true;
                }
                Err(e)
            }
        }
    }

    fn truncated(&self, need: usize) -> CaptureError {
        CaptureError::Truncated {
            packet: self.packets + 1,
            have: self.avail(),
            need,
        }
    }

    fn next_pcap(
        &mut self,
        big_endian: bool,
        nano: bool,
        linktype: u32,
    ) -> Result<Option<Loc>, CaptureError> {
        self.fill(16)?;
        if self.avail() == 0 {
            return Ok(None);
        }
        if self.avail() < 16 {
            return Err(self.truncated(16));
        }
        let h = &self.buf[self.start..self.start + 16];
        let caplen = read_u32(h, 8, big_endian) as usize;
        if caplen > MAX_RECORD {
            return Err(CaptureError::Corrupt {
                packet: self.packets + 1,
                offset: self.file_offset,
                detail: format!("record claims {caplen} captured bytes (limit {MAX_RECORD})"),
                resumed: false,
            });
        }
        self.fill(16 + caplen)?;
        if self.avail() < 16 + caplen {
            return Err(self.truncated(16 + caplen));
        }
        let rec = &self.buf[self.start..self.start + 16 + caplen];
        let parsed = if big_endian {
            pcap_parser::parse_pcap_frame_be(rec)
        } else {
            pcap_parser::parse_pcap_frame(rec)
        };
        let (ts_sec, ts_frac, origlen) = match parsed {
            Ok((_, b)) => (b.ts_sec, b.ts_usec, b.origlen),
            Err(e) => {
                return Err(CaptureError::Corrupt {
                    packet: self.packets + 1,
                    offset: self.file_offset,
                    detail: format!("{e:?}"),
                    resumed: false,
                })
            }
        };
        let ts = if nano {
            Timestamp {
                secs: ts_sec as i64 + (ts_frac / 1_000_000_000) as i64,
                nanos: ts_frac % 1_000_000_000,
                digits: 9,
            }
        } else {
            Timestamp {
                secs: ts_sec as i64 + (ts_frac / 1_000_000) as i64,
                nanos: (ts_frac % 1_000_000) * 1000,
                digits: 6,
            }
        };
        let loc = Loc {
            ts,
            linktype,
            interface: 0,
            data_start: self.start + 16,
            data_end: self.start + 16 + caplen,
            orig_len: origlen,
        };
        self.consume(16 + caplen);
        Ok(Some(loc))
    }

    fn next_pcapng(&mut self) -> Result<Option<Loc>, CaptureError> {
        loop {
            self.fill(12)?;
            if self.avail() == 0 {
                return Ok(None);
            }
            if self.avail() < 12 {
                return Err(self.truncated(12));
            }
            let head = &self.buf[self.start..self.start + 12];
            let raw_type = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            let big_endian = if raw_type == 0x0a0d0d0a {
                // Section header: its byte-order magic decides the section's endianness.
                match head[8..12] {
                    [0x4d, 0x3c, 0x2b, 0x1a] => false,
                    [0x1a, 0x2b, 0x3c, 0x4d] => true,
                    _ => {
                        return Err(self.corrupt("bad section byte-order magic".into(), false));
                    }
                }
            } else {
                match self.state {
                    State::PcapNg { big_endian } => big_endian,
                    State::Pcap { .. } => false,
                }
            };
            let block_len = read_u32(head, 4, big_endian) as usize;
            if block_len < 12 || block_len % 4 != 0 {
                return Err(self.corrupt(format!("block length {block_len} is invalid"), false));
            }
            if block_len > MAX_RECORD {
                return Err(self.corrupt(
                    format!("block claims {block_len} bytes (limit {MAX_RECORD})"),
                    false,
                ));
            }
            self.fill(block_len)?;
            if self.avail() < block_len {
                return Err(self.truncated(block_len));
            }
            let block_bytes = &self.buf[self.start..self.start + block_len];
            let parsed = if raw_type == 0x0a0d0d0a {
                pcapng::parse_sectionheaderblock(block_bytes).map(|(_, b)| Block::SectionHeader(b))
            } else if big_endian {
                pcapng::parse_block_be(block_bytes).map(|(_, b)| b)
            } else {
                pcapng::parse_block_le(block_bytes).map(|(_, b)| b)
            };
            let block = match parsed {
                Ok(b) => b,
                Err(e) => {
                    let is_packet = matches!(
                        read_u32(block_bytes, 0, big_endian),
                        6 | 3 | 2 // EPB, SPB, obsolete packet block
                    );
                    let err = self.corrupt(format!("unparsable block: {e:?}"), true);
                    if is_packet {
                        self.packets += 1;
                    }
                    self.consume(block_len);
                    return Err(err);
                }
            };
            let start = self.start;
            let mut out = None;
            let mut warn = None;
            let mut lost_packet = false;
            match block {
                Block::SectionHeader(shb) => {
                    self.state = State::PcapNg {
                        big_endian: shb.big_endian(),
                    };
                    self.interfaces.clear();
                }
                Block::InterfaceDescription(idb) => {
                    let (resolution, digits) = match ts_resolution(idb.if_tsresol) {
                        Some(r) if r > 0 => (r, resolution_digits(idb.if_tsresol)),
                        _ => {
                            warn = Some(format!(
                                "interface {} has invalid if_tsresol {}; using microseconds",
                                self.interfaces.len(),
                                idb.if_tsresol
                            ));
                            (1_000_000, 6)
                        }
                    };
                    self.interfaces.push(Interface {
                        linktype: idb.linktype.0 as u32,
                        resolution,
                        offset: idb.if_tsoffset,
                        snaplen: idb.snaplen,
                        digits,
                    });
                }
                Block::EnhancedPacket(epb) => {
                    if let Some(iface) = self.interfaces.get(epb.if_id as usize).copied() {
                        let data = epb.packet_data();
                        let data_start = data.as_ptr() as usize - block_bytes.as_ptr() as usize;
                        let raw = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                        out = Some(Loc {
                            ts: make_ts(raw, &iface),
                            linktype: iface.linktype,
                            interface: epb.if_id,
                            data_start: start + data_start,
                            data_end: start + data_start + data.len(),
                            orig_len: epb.origlen,
                        });
                    } else {
                        warn = Some(format!(
                            "packet refers to undefined interface {}",
                            epb.if_id
                        ));
                        lost_packet = true;
                    }
                }
                Block::SimplePacket(spb) => {
                    if let Some(iface) = self.interfaces.first().copied() {
                        let mut len = spb.data.len().min(spb.origlen as usize);
                        if iface.snaplen > 0 {
                            len = len.min(iface.snaplen as usize);
                        }
                        let data_start = spb.data.as_ptr() as usize - block_bytes.as_ptr() as usize;
                        out = Some(Loc {
                            ts: Timestamp {
                                digits: iface.digits,
                                ..Timestamp::default()
                            },
                            linktype: iface.linktype,
                            interface: 0,
                            data_start: start + data_start,
                            data_end: start + data_start + len,
                            orig_len: spb.origlen,
                        });
                    } else {
                        warn = Some("simple packet block before any interface".into());
                        lost_packet = true;
                    }
                }
                _ => {}
            }
            self.consume(block_len);
            if let Some(w) = warn {
                let err = self.corrupt_at(w, true, block_len);
                if lost_packet {
                    self.packets += 1;
                }
                return Err(err);
            }
            if out.is_some() {
                return Ok(out);
            }
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

/// Where a packet lies in the buffer, found before the borrow is handed out.
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

/// Timestamp units per second for an `if_tsresol` value (`10^-n`, or `2^-n` with the top bit).
/// Done here because pcap-parser 0.16 rejects every power-of-two resolution.
fn ts_resolution(tsresol: u8) -> Option<u64> {
    let n = (tsresol & 0x7f) as u32;
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n).filter(|_| n < 64)
    }
}

/// Fractional digits to print for an `if_tsresol` value.
fn resolution_digits(tsresol: u8) -> u8 {
    if tsresol & 0x80 == 0 {
        tsresol.min(9)
    } else {
        // 2^-n: enough decimal digits to show one unit, at most 9.
        (((tsresol & 0x7f) as f64) * std::f64::consts::LOG10_2)
            .ceil()
            .min(9.0) as u8
    }
}

/// Converts a raw pcapng timestamp in interface units to a [`Timestamp`].
fn make_ts(raw: u64, iface: &Interface) -> Timestamp {
    let res = iface.resolution;
    let secs = (raw / res) as i64;
    let frac = raw % res;
    let nanos = ((frac as u128 * 1_000_000_000) / res as u128) as u32;
    Timestamp {
        secs: secs.saturating_add(iface.offset),
        nanos,
        digits: iface.digits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_file(nano: bool, be: bool, packets: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut f = Vec::new();
        f.extend(w32(if nano { 0xa1b23c4d } else { 0xa1b2c3d4 }));
        f.extend(w16(2));
        f.extend(w16(4));
        f.extend(w32(0));
        f.extend(w32(0));
        f.extend(w32(65535));
        f.extend(w32(1));
        for (s, frac, data) in packets {
            f.extend(w32(*s));
            f.extend(w32(*frac));
            f.extend(w32(data.len() as u32));
            f.extend(w32(data.len() as u32 + 10));
            f.extend_from_slice(data);
        }
        f
    }

    #[test]
    fn reads_pcap_all_variants() {
        for nano in [false, true] {
            for be in [false, true] {
                let file = pcap_file(nano, be, &[(1, 5, b"abc"), (2, 7, b"")]);
                let mut r = CaptureReader::new(&file[..]).unwrap();
                let p = r.next_packet().unwrap().unwrap();
                assert_eq!(p.number, 1);
                assert_eq!(p.data, b"abc");
                assert_eq!(p.orig_len, 13);
                assert_eq!(p.linktype, 1);
                assert_eq!(p.ts.secs, 1);
                assert_eq!(p.ts.nanos, if nano { 5 } else { 5000 });
                assert_eq!(p.ts.digits, if nano { 9 } else { 6 });
                let p = r.next_packet().unwrap().unwrap();
                assert_eq!(p.number, 2);
                assert!(r.next_packet().unwrap().is_none());
                assert!(r.next_packet().unwrap().is_none());
            }
        }
    }

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
    fn truncated_and_huge_records_are_errors_not_panics() {
        let file = pcap_file(false, false, &[(1, 0, b"abcdef"), (2, 0, b"ghijkl")]);
        for cut in 24..file.len() {
            let mut r = CaptureReader::new(&file[..cut]).unwrap();
            let mut n = 0;
            loop {
                match r.next_packet() {
                    Ok(Some(_)) => n += 1,
                    Ok(None) => break,
                    Err(CaptureError::Truncated { packet, .. }) => {
                        assert_eq!(packet, n + 1);
                    }
                    Err(e) => panic!("unexpected {e}"),
                }
            }
            assert!(n <= 2);
        }
        let mut file = pcap_file(false, false, &[(1, 0, b"abcdef")]);
        file[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut r = CaptureReader::new(&file[..]).unwrap();
        assert!(matches!(
            r.next_packet(),
            Err(CaptureError::Corrupt { packet: 1, .. })
        ));
        assert!(r.next_packet().unwrap().is_none());
    }

    fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let len = (body.len() + 12) as u32;
        let mut b = kind.to_le_bytes().to_vec();
        b.extend(len.to_le_bytes());
        b.extend(&body);
        b.extend(len.to_le_bytes());
        b
    }

    fn shb() -> Vec<u8> {
        let mut body = 0x1a2b3c4du32.to_le_bytes().to_vec();
        body.extend(1u16.to_le_bytes());
        body.extend(0u16.to_le_bytes());
        body.extend((-1i64).to_le_bytes());
        ng_block(0x0a0d0d0a, &body)
    }

    fn idb(linktype: u16, tsresol: Option<u8>, tsoffset: Option<i64>) -> Vec<u8> {
        let mut body = linktype.to_le_bytes().to_vec();
        body.extend(0u16.to_le_bytes());
        body.extend(0u32.to_le_bytes());
        if let Some(r) = tsresol {
            body.extend(9u16.to_le_bytes());
            body.extend(1u16.to_le_bytes());
            body.extend([r, 0, 0, 0]);
        }
        if let Some(o) = tsoffset {
            body.extend(14u16.to_le_bytes());
            body.extend(8u16.to_le_bytes());
            body.extend(o.to_le_bytes());
        }
        body.extend([0, 0, 0, 0]);
        ng_block(1, &body)
    }

    fn epb(if_id: u32, ts: u64, data: &[u8]) -> Vec<u8> {
        let mut body = if_id.to_le_bytes().to_vec();
        body.extend(((ts >> 32) as u32).to_le_bytes());
        body.extend((ts as u32).to_le_bytes());
        body.extend((data.len() as u32).to_le_bytes());
        body.extend((data.len() as u32).to_le_bytes());
        body.extend(data);
        ng_block(6, &body)
    }

    #[test]
    fn reads_pcapng_interfaces_resolution_offset_and_sections() {
        let mut f = shb();
        f.extend(idb(1, None, None));
        f.extend(idb(101, Some(9), Some(100)));
        f.extend(epb(0, 1_500_000, b"eth"));
        f.extend(epb(1, 2_000_000_123, b"raw"));
        f.extend(ng_block(0x0000_0bad, b"custom"));
        f.extend(shb());
        f.extend(idb(276, Some(0x80 | 10), None));
        f.extend(epb(0, 3 * 1024 + 512, b"sll2"));
        let mut r = CaptureReader::new(&f[..]).unwrap();
        assert_eq!(r.format(), Format::PcapNg);
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!((p.number, p.linktype, p.data), (1, 1, &b"eth"[..]));
        assert_eq!((p.ts.secs, p.ts.nanos, p.ts.digits), (1, 500_000_000, 6));
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!((p.number, p.linktype, p.data), (2, 101, &b"raw"[..]));
        assert_eq!((p.ts.secs, p.ts.nanos, p.ts.digits), (102, 123, 9));
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!((p.number, p.linktype, p.data), (3, 276, &b"sll2"[..]));
        assert_eq!((p.ts.secs, p.ts.nanos, p.ts.digits), (3, 500_000_000, 4));
        assert!(r.next_packet().unwrap().is_none());
    }

    #[test]
    fn corrupt_pcapng_block_is_skipped() {
        let mut f = shb();
        f.extend(idb(1, None, None));
        f.extend(epb(0, 1, b"one"));
        let mut bad = epb(0, 2, b"two");
        let n = bad.len();
        bad[n - 4] ^= 0xff; // trailing length disagrees
        f.extend(bad);
        f.extend(epb(0, 3, b"three"));
        let mut r = CaptureReader::new(&f[..]).unwrap();
        assert_eq!(r.next_packet().unwrap().unwrap().data, b"one");
        assert!(matches!(
            r.next_packet(),
            Err(CaptureError::Corrupt {
                packet: 2,
                resumed: true,
                ..
            })
        ));
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!((p.number, p.data), (3, &b"three"[..]));
    }
}
