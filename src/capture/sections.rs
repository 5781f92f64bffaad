//! Captures joined end to end: `cat a.pcap b.pcap`, `cat a.pcapng b.pcap`, `cat a.pcap
//! b.pcapng` (how `tcpdump -C` files are joined in shell pipelines, and, decompressed,
//! `cat a.pcap.gz b.pcap.gz`). Where a record is expected, a file header of either format
//! starts a new section with its own link type, byte order and timestamp unit, as a pcapng
//! Section Header Block already does inside pcapng. Packets keep their numbers over the
//! whole input.
//!
//! A real record must never be taken for a header, so a header is only recognised by
//! fields no record has:
//!
//! - a pcap file header: one of the four magic numbers, version 2.4 in the byte order the
//!   magic shows, and a zero `sigfigs` (every writer writes 0; `thiszone` is not checked,
//!   since libpcap copies it from the file it read). Read as a pcap record header, these
//!   are a timestamp in 2011, 2055 or 2083 and a wire length of 0, which no packet has;
//!   read as a pcapng block, a block type with the high bit set (local use) and a length
//!   that is not a multiple of 4, over the 16 MiB limit, or (big-endian sections only)
//!   131076 bytes;
//! - a pcapng Section Header Block after pcap records: its block type and byte-order
//!   magic, which as a pcap record header claim over 400 MB of captured bytes.

use crate::capture::{read_u32, CaptureError, CaptureReader, State};
use std::io::Read;

/// The pcap file header magic numbers, as the file's first four bytes: whether the
/// timestamps are in nanoseconds and the file big-endian, or `None`.
pub(super) fn pcap_magic(magic: [u8; 4]) -> Option<(bool, bool)> {
    match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => Some((false, false)),
        [0xa1, 0xb2, 0xc3, 0xd4] => Some((false, true)),
        [0x4d, 0x3c, 0xb2, 0xa1] => Some((true, false)),
        [0xa1, 0xb2, 0x3c, 0x4d] => Some((true, true)),
        _ => None,
    }
}

/// Length of a pcap file header.
const PCAP_HEADER: usize = 24;

/// The pcapng Section Header Block type, the same in either byte order.
const SHB_TYPE: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

impl<R: Read> CaptureReader<R> {
    /// Whether a new section starts at the cursor, where a record or block is expected; if
    /// so the reader is switched to it: a pcap file header is read, a pcapng Section Header
    /// Block is left for the pcapng reader.
    pub(super) fn new_section(&mut self) -> Result<bool, CaptureError> {
        let head = &self.buf[self.start..self.end];
        let Some(magic) = head.get(..4) else {
            return Ok(false);
        };
        let magic = [magic[0], magic[1], magic[2], magic[3]];
        if let Some((nano, big_endian)) = pcap_magic(magic) {
            self.fill(PCAP_HEADER)?;
            let head = &self.buf[self.start..self.end];
            if head.len() < PCAP_HEADER {
                // A header or a record, cut short either way.
                return Err(self.truncated(PCAP_HEADER));
            }
            let u16_at = |at: usize| {
                let b = [head[at], head[at + 1]];
                if big_endian {
                    u16::from_be_bytes(b)
                } else {
                    u16::from_le_bytes(b)
                }
            };
            if (u16_at(4), u16_at(6)) != (2, 4) || read_u32(head, 12, big_endian) != 0 {
                return Ok(false);
            }
            self.pcap_header(big_endian, nano)?;
            self.interfaces.clear();
            return Ok(true);
        }
        if magic == SHB_TYPE && matches!(self.state, State::Pcap { .. }) {
            let shb_bom = head.get(8..12);
            if shb_bom == Some(&[0x4d, 0x3c, 0x2b, 0x1a])
                || shb_bom == Some(&[0x1a, 0x2b, 0x3c, 0x4d])
            {
                self.state = State::PcapNg { big_endian: false };
                self.interfaces.clear();
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use crate::capture::{CaptureError, CaptureReader, Format};

    /// A pcap file of `linktype` with one packet per `(seconds, fraction, data)`.
    fn pcap(nano: bool, be: bool, linktype: u32, packets: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut f = Vec::new();
        f.extend(w32(if nano { 0xa1b23c4d } else { 0xa1b2c3d4 }));
        f.extend(w16(2));
        f.extend(w16(4));
        f.extend(w32(0));
        f.extend(w32(0));
        f.extend(w32(65535));
        f.extend(w32(linktype));
        for (s, frac, data) in packets {
            f.extend(w32(*s));
            f.extend(w32(*frac));
            f.extend(w32(data.len() as u32));
            f.extend(w32(data.len() as u32));
            f.extend_from_slice(data);
        }
        f
    }

    fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
        let len = (body.len() + 12) as u32;
        let mut b = kind.to_le_bytes().to_vec();
        b.extend(len.to_le_bytes());
        b.extend(body);
        b.extend(len.to_le_bytes());
        b
    }

    /// A little-endian pcapng file: a section, one interface of `linktype` in
    /// microseconds, and an Enhanced Packet Block per `(microseconds, 4-byte data)`.
    fn pcapng(linktype: u16, packets: &[(u64, [u8; 4])]) -> Vec<u8> {
        let mut shb = 0x1a2b3c4du32.to_le_bytes().to_vec();
        shb.extend(1u16.to_le_bytes());
        shb.extend(0u16.to_le_bytes());
        shb.extend((-1i64).to_le_bytes());
        let mut f = ng_block(0x0a0d0d0a, &shb);
        let mut idb = linktype.to_le_bytes().to_vec();
        idb.extend([0, 0, 0, 0, 0, 0]);
        f.extend(ng_block(1, &idb));
        for (ts, data) in packets {
            let mut epb = 0u32.to_le_bytes().to_vec();
            epb.extend(((ts >> 32) as u32).to_le_bytes());
            epb.extend((*ts as u32).to_le_bytes());
            epb.extend(4u32.to_le_bytes());
            epb.extend(4u32.to_le_bytes());
            epb.extend(data);
            f.extend(ng_block(6, &epb));
        }
        f
    }

    /// Number, link type, seconds, nanoseconds, fraction digits and data of each packet.
    type Seen = (u64, u32, i64, u32, u8, Vec<u8>);

    fn read_all(file: &[u8]) -> Vec<Seen> {
        let mut r = CaptureReader::new(file).unwrap();
        let mut out = Vec::new();
        while let Some(p) = r.next_packet().unwrap() {
            let ts = p.ts;
            out.push((
                p.number,
                p.linktype,
                ts.secs,
                ts.nanos,
                ts.digits,
                p.data.to_vec(),
            ));
        }
        out
    }

    fn seen(n: u64, linktype: u32, secs: i64, nanos: u32, digits: u8, data: &[u8]) -> Seen {
        (n, linktype, secs, nanos, digits, data.to_vec())
    }

    /// `cat a.pcap b.pcap` with every pair of byte orders and timestamp units: each part
    /// is read with its own header, and packets are numbered on.
    #[test]
    fn joined_pcap_files_are_read_as_one() {
        for (nano_a, be_a, nano_b, be_b) in
            (0..16).map(|i| (i & 1 > 0, i & 2 > 0, i & 4 > 0, i & 8 > 0))
        {
            let mut f = pcap(nano_a, be_a, 1, &[(10, 7, b"a1"), (11, 8, b"a2")]);
            f.extend(pcap(nano_b, be_b, 101, &[(20, 9, b"b1")]));
            let unit = |nano: bool| if nano { 1 } else { 1000 };
            let digits = |nano: bool| if nano { 9 } else { 6 };
            assert_eq!(
                read_all(&f),
                [
                    seen(1, 1, 10, 7 * unit(nano_a), digits(nano_a), b"a1"),
                    seen(2, 1, 11, 8 * unit(nano_a), digits(nano_a), b"a2"),
                    seen(3, 101, 20, 9 * unit(nano_b), digits(nano_b), b"b1"),
                ],
                "{nano_a} {be_a} {nano_b} {be_b}"
            );
        }
    }

    /// Files without packets (a `tcpdump -C` file cut right after its header) join too.
    #[test]
    fn empty_files_in_between_are_passed_over() {
        let mut f = pcap(false, false, 1, &[]);
        f.extend(pcap(true, true, 1, &[]));
        f.extend(pcap(false, false, 113, &[(1, 2, b"x")]));
        f.extend(pcap(false, false, 1, &[]));
        assert_eq!(read_all(&f), [seen(1, 113, 1, 2000, 6, b"x")]);
    }

    /// `cat a.pcapng b.pcap` and `cat a.pcap b.pcapng`.
    #[test]
    fn pcap_and_pcapng_join_either_way() {
        let mut f = pcapng(1, &[(1_000_001, *b"ng-1")]);
        f.extend(pcap(true, false, 101, &[(5, 6, b"pcap")]));
        f.extend(pcapng(113, &[(2_000_002, *b"ng-2")]));
        let mut r = CaptureReader::new(&f[..]).unwrap();
        assert_eq!(r.format(), Format::PcapNg);
        assert_eq!(
            read_all(&f),
            [
                seen(1, 1, 1, 1000, 6, b"ng-1"),
                seen(2, 101, 5, 6, 9, b"pcap"),
                seen(3, 113, 2, 2000, 6, b"ng-2"),
            ]
        );
        assert!(r.next_packet().unwrap().is_some());
    }

    /// The one record header that reads as a pcap file header's magic and version: in a
    /// little-endian nanosecond file, 2011-01-24T00:58:41.067109376Z. With a wire length
    /// (a header's `sigfigs`) it is a record.
    #[test]
    fn a_record_that_looks_like_a_header_is_a_record() {
        let mut f = pcap(true, false, 1, &[(0x4d3c_b2a1, 0x0400_0200, b"real")]);
        f.extend(pcap(true, false, 1, &[(3, 4, b"next")]).split_off(24));
        assert_eq!(
            read_all(&f),
            [
                seen(1, 1, 1_295_823_521, 67_109_376, 9, b"real"),
                seen(2, 1, 3, 4, 9, b"next"),
            ]
        );
    }

    /// A header cut short at the end of the input is a truncated record, and a header
    /// of another version is not a header: it is read as a record (of the magic number's
    /// time).
    #[test]
    fn broken_headers_are_not_sections() {
        let whole = pcap(false, false, 1, &[(1, 0, b"one")]);
        let mut f = whole.clone();
        f.extend(&whole[..20]);
        let mut r = CaptureReader::new(&f[..]).unwrap();
        assert_eq!(r.next_packet().unwrap().unwrap().data, b"one");
        assert!(matches!(
            r.next_packet(),
            Err(CaptureError::Truncated { packet: 2, .. })
        ));

        let mut f = whole.clone();
        let mut v3 = pcap(false, false, 1, &[(2, 0, b"two")]);
        v3[4] = 3;
        f.extend(v3);
        let mut r = CaptureReader::new(&f[..]).unwrap();
        assert_eq!(r.next_packet().unwrap().unwrap().data, b"one");
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!((p.ts.secs, p.data), (0xa1b2_c3d4, &b""[..]));
    }
}
