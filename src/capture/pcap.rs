//! Legacy pcap: a 24-byte file header (magic, version, snap length, link type), then
//! records of a 16-byte header and the captured bytes, in the byte order the magic
//! shows, with microsecond or nanosecond timestamps.
//!
//! One link type holds for the whole file. A record that cannot be read ends the file:
//! nothing marks where the next record would start.

use crate::capture::{read_u32, CaptureError, CaptureReader, Loc, Next, State, MAX_RECORD};
use crate::util::time::Timestamp;
use std::io::Read;

impl<R: Read> CaptureReader<R> {
    /// Reads the file header (whose magic told the byte order and the timestamp unit)
    /// and takes the file's link type from it.
    pub(super) fn pcap_header(&mut self, big_endian: bool, nano: bool) -> Result<(), CaptureError> {
        let head = &self.buf[self.start..self.end];
        if head.len() < 24 {
            return Err(CaptureError::NotACapture(format!(
                "pcap file header cut short ({} of 24 bytes)",
                head.len()
            )));
        }
        let (_, hdr) = pcap_parser::parse_pcap_header(head)
            .map_err(|e| CaptureError::NotACapture(format!("bad pcap header: {e:?}")))?;
        self.state = State::Pcap {
            big_endian,
            nano,
            linktype: hdr.network.0 as u32,
        };
        self.consume(24);
        Ok(())
    }

    /// The next record, or a new section, or the end of the file.
    pub(super) fn next_pcap(
        &mut self,
        big_endian: bool,
        nano: bool,
        linktype: u32,
    ) -> Result<Next, CaptureError> {
        self.fill(16)?;
        if self.avail() == 0 {
            return Ok(Next::End);
        }
        if self.new_section()? {
            return Ok(Next::Section);
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
        Ok(Next::Packet(loc))
    }
}

#[cfg(test)]
mod tests {
    use crate::capture::{CaptureError, CaptureReader};

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
}
