//! Several capture files read as one capture: a rotated set (`tcpdump -C`/`-G`,
//! `dumpcap -b`), or any files given together.
//!
//! [`SetReader`] hands out the packets of all its files in timestamp order, a streaming
//! k-way merge like `mergecap`'s: each open file has its next packet peeked, and the
//! earliest goes first (ties in file order; a file's own order is always kept). Files
//! are opened only when the merge reaches their first packet and closed at their end, so
//! a ring buffer of a thousand files holds one or two open at a time and costs a heap
//! operation on one entry per packet; files that overlap in time are all open at once,
//! as they must be.
//!
//! Packets keep their numbers within their own file, as Wireshark shows them. Inside,
//! a packet is named by one `u64` id that holds both ([`packet_id`]): the stages after
//! this one pass packet numbers around as before, and [`FileSet`] turns an id back into
//! a file name and a number where a record or a diagnostic is written. For a capture of
//! one file the id is the packet number.

use super::{CaptureError, CaptureReader, RawPacket};
use crate::util::time::Timestamp;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read};
use std::sync::Arc;

/// Bits of a packet id that hold the packet's number within its file (the file's index
/// in the set is above them): 2^40 packets per file, 2^24 files per set.
const NUMBER_BITS: u32 = 40;
const NUMBER_MASK: u64 = (1 << NUMBER_BITS) - 1;

/// Files open at once beyond which a newly opened one reads [`SMALL_CHUNK`] at a time.
const MANY_OPEN: usize = 8;

/// What a file opened while many are open reads at a time.
const SMALL_CHUNK: usize = 64 << 10;

/// Most files one capture may be made of (what a packet id can name).
pub const MAX_FILES: usize = 1 << (64 - NUMBER_BITS);

/// The id of packet `number` (1-based, within its file) of the set's file `file`.
pub fn packet_id(file: usize, number: u64) -> u64 {
    ((file as u64) << NUMBER_BITS) | (number & NUMBER_MASK)
}

/// The file index and packet number a packet id stands for.
pub fn split_id(id: u64) -> (usize, u64) {
    ((id >> NUMBER_BITS) as usize, id & NUMBER_MASK)
}

/// The files of one capture, in the order their packets are merged (by first packet
/// time): what turns packet ids into file names and packet numbers.
#[derive(Debug)]
pub struct FileSet {
    names: Vec<String>,
    label: String,
    capture: u32,
}

impl FileSet {
    /// The files `names` (merge order) of the run's capture number `capture`.
    pub fn new(capture: u32, names: Vec<String>) -> Arc<FileSet> {
        let label = match names.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [first, rest @ ..] => format!(
                "{first} (and {} more file{})",
                rest.len(),
                if rest.len() == 1 { "" } else { "s" }
            ),
        };
        Arc::new(FileSet {
            names,
            label,
            capture,
        })
    }

    /// A capture of the one file `name`.
    pub fn single(name: &str) -> Arc<FileSet> {
        FileSet::new(0, vec![name.to_string()])
    }

    /// The name of the set's file `index` (empty if there is none).
    pub fn name(&self, index: usize) -> &str {
        self.names.get(index).map_or("", String::as_str)
    }

    /// The file holding packet `id`, and the packet's number in it.
    pub fn locate(&self, id: u64) -> (&str, u64) {
        let (file, number) = split_id(id);
        (self.name(file), number)
    }

    /// The name of the file holding packet `id`.
    pub fn file_of(&self, id: u64) -> &str {
        self.name(split_id(id).0)
    }

    /// The name of the file holding packet `first` when it is not the one holding
    /// `last`: what records add when they span files.
    pub fn first_file(&self, first: u64, last: u64) -> Option<String> {
        let f = split_id(first).0;
        (f != split_id(last).0).then(|| self.name(f).to_string())
    }

    /// Where a record whose first and last packets have the ids `[first, last]` lies, as
    /// records say it (`file`, `packets`, `first_file`).
    pub fn place(&self, [first, last]: [u64; 2]) -> Place {
        Place {
            file: self.file_of(last).to_string(),
            packets: [split_id(first).1, split_id(last).1],
            first_file: self.first_file(first, last),
        }
    }

    /// How diagnostics about the capture as a whole name it: the file's name, or the
    /// first file's and how many more.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The files, in merge order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Which of the run's captures this is (0 unless the run decodes several, with
    /// `--each-file`): what tells apart records of equal flow numbers.
    pub fn capture(&self) -> u32 {
        self.capture
    }
}

/// Where a record's packets are, as its fields say it (see [`FileSet::place`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The file holding the last packet.
    pub file: String,
    /// The first and last packets' numbers, each within its own file.
    pub packets: [u64; 2],
    /// The file holding the first packet, when it is not `file`.
    pub first_file: Option<String>,
}

/// A byte source a capture is read from.
pub type Source<'a> = Box<dyn Read + Send + 'a>;

/// Opens the set's file `index` again for reading.
pub type Opener<'a> = Box<dyn FnMut(usize) -> io::Result<Source<'a>> + Send + 'a>;

/// One file of a set, as looked at before the merge.
pub struct Member<'a> {
    /// Time of its first packet (`None`: none could be read; merged first, so that its
    /// problems are told).
    pub first: Option<Timestamp>,
    /// A reader kept from that look (standard input cannot be opened twice); `None`:
    /// the [`Opener`] opens the file when the merge reaches it.
    pub reader: Option<CaptureReader<Source<'a>>>,
}

enum Slot<'a> {
    Waiting(Option<CaptureReader<Source<'a>>>),
    Open(CaptureReader<Source<'a>>),
    Done,
}

/// What [`SetReader::next_item`] returns.
pub enum Item<'a> {
    /// A packet of file `file` (index in the set).
    Packet {
        /// Index of the file in the set.
        file: usize,
        /// The packet, numbered within its file.
        packet: RawPacket<'a>,
    },
    /// A problem reading file `file`; reading goes on (with the rest of the file when
    /// the error allows it, else with the other files).
    Error {
        /// Index of the file in the set.
        file: usize,
        /// What went wrong.
        error: CaptureError,
        /// The file could not be used at all (it failed when opened again).
        unusable: bool,
        /// The number in its file of the packet being read when it happened (0 when
        /// none was: the file could not be opened).
        packet: u64,
    },
}

/// The packets of a set of files in timestamp order (see the module doc).
pub struct SetReader<'a> {
    slots: Vec<Slot<'a>>,
    firsts: Vec<Option<Timestamp>>,
    opener: Opener<'a>,
    next_open: usize,
    /// The earliest next packet of each open file.
    heap: BinaryHeap<Reverse<(Timestamp, usize)>>,
    /// The file whose next packet is to be peeked before the merge goes on (the one
    /// handed out last, or one just opened).
    to_peek: Option<usize>,
    /// The file just peeked, when it is the next to hand out without a look at the
    /// others.
    alone: Option<usize>,
    /// The buffer of a file read to its end, for the next one opened.
    spare: Option<Vec<u8>>,
    packets: u64,
    bytes: u64,
}

impl<'a> SetReader<'a> {
    /// A reader over `members`, given in merge order (sorted by first packet time);
    /// `opener` opens a member that kept no reader.
    pub fn new(members: Vec<Member<'a>>, opener: Opener<'a>) -> SetReader<'a> {
        let firsts = members.iter().map(|m| m.first).collect();
        SetReader {
            slots: members
                .into_iter()
                .map(|m| Slot::Waiting(m.reader))
                .collect(),
            firsts,
            opener,
            next_open: 0,
            heap: BinaryHeap::new(),
            to_peek: None,
            alone: None,
            spare: None,
            packets: 0,
            bytes: 0,
        }
    }

    /// A reader over the one capture `src`, read from its start (its header is read
    /// here: an error means the source is not a usable capture).
    pub fn single(src: Source<'a>) -> Result<SetReader<'a>, CaptureError> {
        let reader = CaptureReader::new(src)?;
        let member = Member {
            first: None,
            reader: Some(reader),
        };
        let opener: Opener<'a> = Box::new(|_| Err(io::ErrorKind::NotFound.into()));
        Ok(SetReader::new(vec![member], opener))
    }

    /// Packets handed out so far.
    pub fn packets_read(&self) -> u64 {
        self.packets
    }

    /// Bytes of capture read so far, in files read to their end (after decompression).
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// The next packet of the set, or a problem reading one of its files; `None` when
    /// every file has been read.
    pub fn next_item(&mut self) -> Option<Item<'_>> {
        loop {
            if let Some(i) = self.to_peek.take() {
                if let Some(item) = self.peek(i) {
                    return Some(item);
                }
                if let Some(i) = self.alone.take() {
                    self.to_peek = Some(i);
                    return self.take(i);
                }
            }
            if self.next_open < self.slots.len() {
                let j = self.next_open;
                let due = match self.heap.peek() {
                    None => true,
                    Some(Reverse((ts, _))) => self.firsts[j].is_none_or(|f| f <= *ts),
                };
                if due {
                    self.next_open += 1;
                    if let Some(item) = self.open(j) {
                        return Some(item);
                    }
                    continue;
                }
            }
            let Reverse((_, i)) = self.heap.pop()?;
            self.to_peek = Some(i);
            return self.take(i);
        }
    }

    /// Opens member `j` (or takes the reader it kept) and marks it to be peeked.
    fn open(&mut self, j: usize) -> Option<Item<'static>> {
        let kept = match std::mem::replace(&mut self.slots[j], Slot::Done) {
            Slot::Waiting(r) => r,
            other => {
                self.slots[j] = other;
                return None;
            }
        };
        let reader = match kept {
            Some(r) => r,
            None => match (self.opener)(j).map_err(CaptureError::Io).and_then(|src| {
                match self.spare.take() {
                    Some(buf) if self.heap.len() < MANY_OPEN => CaptureReader::reusing(src, buf),
                    _ => CaptureReader::with_buffer(src, self.chunk()),
                }
            }) {
                Ok(r) => r,
                Err(error) => {
                    return Some(Item::Error {
                        file: j,
                        error,
                        unusable: true,
                        packet: 0,
                    })
                }
            },
        };
        self.slots[j] = Slot::Open(reader);
        self.to_peek = Some(j);
        None
    }

    /// Closes file `i`, keeping its buffer for the next file opened.
    fn retire(&mut self, i: usize) {
        if let Slot::Open(r) = std::mem::replace(&mut self.slots[i], Slot::Done) {
            let buf = r.into_buffer();
            if self.spare.as_ref().is_none_or(|s| s.len() < buf.len()) {
                self.spare = Some(buf);
            }
        }
    }

    /// How much a file opened now reads at a time: the reader's usual megabyte while few
    /// files are open at once, less when many overlap in time, so that memory stays
    /// bounded (a buffer still grows to hold a larger record).
    fn chunk(&self) -> usize {
        if self.heap.len() < MANY_OPEN {
            super::READ_CHUNK
        } else {
            SMALL_CHUNK
        }
    }

    /// Reads the next packet of open file `i` into the merge; an error reading it is
    /// returned (and the file peeked again next time when it goes on).
    fn peek(&mut self, i: usize) -> Option<Item<'static>> {
        let Slot::Open(r) = &mut self.slots[i] else {
            return None;
        };
        let packet = r.packets_read() + 1;
        match r.peek() {
            Ok(Some(ts)) => {
                // The only file open, with no other due before its next packet (a
                // ring buffer, most of the time): no need to go through the heap.
                let due = |f: &Option<Timestamp>| f.is_none_or(|f| f <= ts);
                if self.heap.is_empty() && !self.firsts.get(self.next_open).is_some_and(due) {
                    self.alone = Some(i);
                } else {
                    self.heap.push(Reverse((ts, i)));
                }
                None
            }
            Ok(None) => {
                self.bytes += r.bytes_read();
                self.retire(i);
                None
            }
            Err(error) => {
                if matches!(error, CaptureError::Corrupt { resumed: true, .. }) {
                    self.to_peek = Some(i);
                } else {
                    self.bytes += r.bytes_read();
                    self.retire(i);
                }
                Some(Item::Error {
                    file: i,
                    error,
                    unusable: false,
                    packet,
                })
            }
        }
    }

    /// Hands out the packet of file `i` that was peeked.
    fn take(&mut self, i: usize) -> Option<Item<'_>> {
        let Slot::Open(r) = &mut self.slots[i] else {
            return None;
        };
        self.packets += 1;
        let packet = r.packets_read() + 1;
        match r.next_packet() {
            Ok(Some(packet)) => Some(Item::Packet { file: i, packet }),
            Ok(None) => None,
            Err(error) => Some(Item::Error {
                file: i,
                error,
                unusable: false,
                packet,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic pcap (µs, little-endian, raw IP) with one tiny packet per timestamp.
    fn pcap(times: &[u32]) -> Vec<u8> {
        let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        f.extend([0; 8]);
        f.extend(65535u32.to_le_bytes());
        f.extend(101u32.to_le_bytes());
        for &t in times {
            f.extend(t.to_le_bytes());
            f.extend(0u32.to_le_bytes());
            f.extend(1u32.to_le_bytes());
            f.extend(1u32.to_le_bytes());
            f.push(t as u8);
        }
        f
    }

    fn members(files: &[Vec<u8>]) -> (Vec<Member<'static>>, Opener<'static>) {
        let mut ms = Vec::new();
        for f in files {
            let src: Source = Box::new(io::Cursor::new(f.clone()));
            let mut r = CaptureReader::new(src).unwrap();
            ms.push(Member {
                first: r.peek().ok().flatten(),
                reader: None,
            });
        }
        let files = files.to_vec();
        let opener: Opener = Box::new(move |i| {
            let src: Source = Box::new(io::Cursor::new(files[i].clone()));
            Ok(src)
        });
        (ms, opener)
    }

    fn drain(r: &mut SetReader) -> Vec<(usize, u64, u8)> {
        let mut out = Vec::new();
        while let Some(item) = r.next_item() {
            match item {
                Item::Packet { file, packet } => out.push((file, packet.number, packet.data[0])),
                Item::Error { error, .. } => panic!("{error}"),
            }
        }
        out
    }

    #[test]
    fn merges_by_time_keeping_each_files_order() {
        let (ms, op) = members(&[pcap(&[1, 4, 4, 9]), pcap(&[2, 4, 5]), pcap(&[20])]);
        let mut r = SetReader::new(ms, op);
        let got = drain(&mut r);
        assert_eq!(
            got,
            [
                (0, 1, 1),
                (1, 1, 2),
                (0, 2, 4),
                (0, 3, 4),
                (1, 2, 4),
                (1, 3, 5),
                (0, 4, 9),
                (2, 1, 20)
            ]
        );
        assert_eq!(r.packets_read(), 8);
    }

    #[test]
    fn a_ring_buffer_is_read_one_file_at_a_time() {
        let files: Vec<Vec<u8>> = (0..5).map(|i| pcap(&[i * 10, i * 10 + 5])).collect();
        let (ms, _) = members(&files);
        let opened = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = opened.clone();
        let op: Opener = Box::new(move |i| {
            log.lock().unwrap().push(i);
            let src: Source = Box::new(io::Cursor::new(files[i].clone()));
            Ok(src)
        });
        let mut r = SetReader::new(ms, op);
        let mut open_at_packet = Vec::new();
        while let Some(item) = r.next_item() {
            if let Item::Packet { .. } = item {
                open_at_packet.push(opened.lock().unwrap().len());
            }
        }
        // File i is opened only when its first packet is due.
        assert_eq!(open_at_packet, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    }

    #[test]
    fn errors_name_their_file_and_the_rest_is_read() {
        let mut cut = pcap(&[3, 6]);
        cut.truncate(cut.len() - 3);
        let (ms, op) = members(&[pcap(&[1, 5]), cut]);
        let mut r = SetReader::new(ms, op);
        let mut seen = Vec::new();
        while let Some(item) = r.next_item() {
            match item {
                Item::Packet { file, packet } => seen.push(format!("{file}:{}", packet.number)),
                Item::Error { file, error, .. } => seen.push(format!("{file}!{error}")),
            }
        }
        // The cut is found when file 1's second packet is looked for, right after its
        // first one.
        assert_eq!(seen[..2], ["0:1", "1:1"]);
        assert!(seen[2].starts_with("1!file truncated"), "{seen:?}");
        assert_eq!(seen[3..], ["0:2"]);
    }

    #[test]
    fn ids_name_file_and_number() {
        let set = FileSet::new(0, vec!["a.pcap".into(), "b.pcap".into()]);
        let id = packet_id(1, 77);
        assert_eq!(set.locate(id), ("b.pcap", 77));
        assert_eq!(set.locate(5), ("a.pcap", 5));
        assert_eq!(set.first_file(5, id).as_deref(), Some("a.pcap"));
        assert_eq!(set.first_file(id, id), None);
        assert_eq!(set.label(), "a.pcap (and 1 more file)");
        assert_eq!(FileSet::single("x").label(), "x");
    }
}
