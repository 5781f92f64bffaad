//! pcapng: blocks framed by their type and length, grouped in sections that each set
//! their byte order and list their interfaces (link type, snap length, timestamp
//! resolution and offset).
//!
//! Blocks are parsed by `pcap-parser`. A block with a sound length that fails to parse
//! is skipped and reading goes on with the next one; a bad length ends the file, since
//! the next block cannot be found. Timestamp units are worked out here because
//! pcap-parser 0.16 rejects every power-of-two resolution.

use crate::capture::{read_u32, CaptureError, CaptureReader, Loc, Next, State, MAX_RECORD};
use crate::util::time::Timestamp;
use pcap_parser::pcapng::{self, Block};
use pcap_parser::traits::PcapNGPacketBlock;
use std::io::Read;

/// A pcapng interface as described by its IDB.
#[derive(Clone, Copy, Debug)]
pub(super) struct Interface {
    /// Link-layer type of its packets.
    linktype: u32,
    /// Timestamp units per second.
    resolution: u64,
    /// Seconds added to every timestamp (`if_tsoffset`).
    offset: i64,
    /// Longest packet captured, 0 for no limit.
    snaplen: u32,
    /// Fractional digits its timestamps are printed with.
    digits: u8,
}

impl<R: Read> CaptureReader<R> {
    /// The next packet block, or a new pcap section, or the end of the file. Section
    /// headers and interface descriptions are taken in on the way; other blocks are passed
    /// over.
    pub(super) fn next_pcapng(&mut self) -> Result<Next, CaptureError> {
        loop {
            self.fill(12)?;
            if self.avail() == 0 {
                return Ok(Next::End);
            }
            if self.new_section()? {
                return Ok(Next::Section);
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
            if block_len < 12 || !block_len.is_multiple_of(4) {
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
                Block::DecryptionSecrets(dsb)
                    if dsb.secrets_type == pcapng::SecretsType::TlsKeyLog =>
                {
                    let n = (dsb.secrets_len as usize).min(dsb.data.len());
                    self.secrets.push(dsb.data[..n].to_vec());
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
            if let Some(loc) = out {
                return Ok(Next::Packet(loc));
            }
        }
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
    use super::{resolution_digits, ts_resolution};
    use crate::capture::{CaptureError, CaptureReader, Format};

    /// `if_tsresol` is a power of ten, or of two with the top bit set; units that do
    /// not fit in 64 bits are invalid.
    #[test]
    fn tsresol_units_and_digits() {
        assert_eq!(ts_resolution(6), Some(1_000_000));
        assert_eq!(ts_resolution(9), Some(1_000_000_000));
        assert_eq!(ts_resolution(0x80 | 10), Some(1024));
        assert_eq!(ts_resolution(20), None);
        assert_eq!(ts_resolution(0x80 | 64), None);
        assert_eq!(resolution_digits(6), 6);
        assert_eq!(resolution_digits(12), 9);
        assert_eq!(resolution_digits(0x80 | 10), 4);
        assert_eq!(resolution_digits(0x80 | 30), 9);
    }

    fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
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
