//! Crossing a TCP gap inside TLS: the bytes of the record the gap cut are dropped, the
//! next record is found (where the cut record's header said it ends, else by searching
//! for a plausible header), and the sequence numbers the lost records took are tried
//! until its tag verifies. The plaintext lost goes up as a gap of its length.

use super::*;

/// Where a direction stands after a TCP gap.
#[derive(Clone, Copy, Debug)]
pub(super) struct Resync {
    /// The stream offset where the next record starts, when the record the gap cut
    /// had its header seen.
    pub(super) next: Option<u64>,
    /// Bytes searched so far.
    pub(super) searched: u64,
}

impl Session {
    /// `len` bytes of direction `dir` were never captured.
    pub fn gap(&mut self, dir: Direction, len: u64, at: Provenance) {
        let h = &mut self.halves[dir.index()];
        let start = h.base;
        // The record the gap cut, when its header was seen, tells where the next starts.
        let after = h.end() + len;
        let next = match h.resync {
            Some(r) => r.next,
            None => h
                .buf
                .get(..5)
                .map(|hdr| start + 5 + u64::from(u16::from_be_bytes([hdr[3], hdr[4]]))),
        };
        // Known only when the gap ends inside the record it cut.
        let next = next.filter(|&n| n >= after);
        let skipped = h.buf.len() as u64;
        h.buf.clear();
        h.marks.clear();
        h.base = start + skipped + len;
        match h.keying {
            Keying::Sealed { .. } if !h.closed => {
                h.resync = Some(Resync {
                    next: next.filter(|&n| n >= h.base),
                    searched: 0,
                });
            }
            Keying::Plain | Keying::Hold if !h.closed => {
                self.stop(dir, at.packet, Note::HandshakeGap);
            }
            _ => {}
        }
    }

    /// After a gap: finds the next record that opens, trying the sequence numbers the
    /// lost records may have taken. `Some(true)` when one was found (decoding goes on
    /// from it), `Some(false)` when more bytes are needed, `None` when the search gave up.
    pub(super) fn find_record(&mut self, dir: Direction, up: &mut dyn FnMut(Up)) -> Option<bool> {
        let i = dir.index();
        loop {
            let h = &mut self.halves[i];
            let r = h.resync?;
            if let Some(next) = r.next {
                if next > h.base {
                    let n = (next - h.base).min(h.buf.len() as u64) as usize;
                    h.consume(n);
                    if h.base < next {
                        return Some(false);
                    }
                }
            }
            let Some(hdr) = h.buf.get(..5) else {
                return Some(false);
            };
            let hdr: [u8; 5] = hdr.try_into().unwrap_or_default();
            let len = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
            if hdr[0] != content::APPLICATION_DATA || !plausible(&hdr) {
                if r.searched >= MAX_RESYNC_SEARCH {
                    return None;
                }
                h.consume(1);
                h.resync = Some(Resync {
                    next: None,
                    searched: r.searched + 1,
                });
                continue;
            }
            if h.buf.len() < 5 + len {
                return Some(false);
            }
            let Keying::Sealed { opener, seq, stage } = &h.keying else {
                return None;
            };
            let (seq0, stage) = (*seq, *stage);
            let mut body = h.buf.bytes()[5..5 + len].to_vec();
            let mut found = None;
            let mut gen = None::<Opener>;
            'tries: for generation in 0..2 {
                let o = match generation {
                    0 => opener,
                    _ => match opener.next_generation() {
                        Some(n) => gen.insert(n),
                        None => break,
                    },
                };
                for k in 0..=MAX_LOST_RECORDS {
                    body.copy_from_slice(&h.buf.bytes()[5..5 + len]);
                    if o.open(seq0 + k, &hdr, &mut body).is_ok() {
                        found = Some((generation, k));
                        break 'tries;
                    }
                    if generation == 1 && k > 16 {
                        break;
                    }
                }
            }
            let Some((generation, k)) = found else {
                if r.searched >= MAX_RESYNC_SEARCH {
                    return None;
                }
                h.consume(1);
                h.resync = Some(Resync {
                    next: None,
                    searched: r.searched + 1,
                });
                continue;
            };
            if let Some(g) = gen.filter(|_| generation == 1) {
                h.keying = Keying::Sealed {
                    opener: g,
                    seq: k,
                    stage,
                };
                self.summary.key_updates += 1;
                self.changed = true;
            } else if let Keying::Sealed { seq, .. } = &mut h.keying {
                *seq = seq0 + k;
            }
            h.resync = None;
            let at = h.provenance(h.base, h.base + 5 + len as u64);
            // The bytes between the last record read and this one were `k` records.
            let lost_bytes = h.base.saturating_sub(h.done);
            let plain = lost_bytes.saturating_sub(self.suite.map_or(22, overhead) * k);
            self.warnings.push(Warning {
                dir,
                packet: at.packet,
                note: Note::Resynced { records: k },
            });
            up(Up::Gap(dir, plain, at));
            return Some(true);
        }
    }
}
