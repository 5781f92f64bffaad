//! One direction's bytes not yet read as records, and which packets carried them.

use super::*;

/// Bytes not yet read, in a buffer whose front is dropped only when more bytes come (a
/// chunk holding many small records then costs one move, not one per record).
#[derive(Debug, Default)]
pub(super) struct Pending {
    data: Vec<u8>,
    head: usize,
}

impl Pending {
    pub(super) fn bytes(&self) -> &[u8] {
        &self.data[self.head..]
    }
    pub(super) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.data[self.head..]
    }
    pub(super) fn len(&self) -> usize {
        self.data.len() - self.head
    }
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub(super) fn get(&self, r: impl std::slice::SliceIndex<[u8], Output = [u8]>) -> Option<&[u8]> {
        self.bytes().get(r)
    }
    pub(super) fn extend(&mut self, b: &[u8]) {
        if self.head > 0 {
            self.data.drain(..self.head);
            self.head = 0;
        }
        self.data.extend_from_slice(b);
    }
    pub(super) fn consume(&mut self, n: usize) {
        self.head += n.min(self.len());
    }
    pub(super) fn clear(&mut self) {
        self.data.clear();
        self.head = 0;
    }
}

/// One direction of the connection.
#[derive(Debug)]
pub(super) struct Half {
    /// Bytes not yet framed into records, from stream offset `base`.
    pub(super) buf: Pending,
    pub(super) base: u64,
    /// The stream offset each chunk in `buf` ends at, and the packet that carried it.
    pub(super) marks: VecDeque<(u64, Provenance)>,
    pub(super) keying: Keying,
    /// Handshake bytes not yet parsed.
    pub(super) hs: Vec<u8>,
    /// Bytes of a handshake message too long to read still to skip.
    pub(super) hs_skip: usize,
    /// Stream offset after the last record that was read (for what a gap lost).
    pub(super) done: u64,
    pub(super) resync: Option<Resync>,
    /// A `close_notify` was seen: later bytes are not read.
    pub(super) closed: bool,
}

impl Half {
    pub(super) fn new() -> Half {
        Half {
            buf: Pending::default(),
            base: 0,
            marks: VecDeque::new(),
            keying: Keying::Plain,
            hs: Vec::new(),
            hs_skip: 0,
            done: 0,
            resync: None,
            closed: false,
        }
    }

    pub(super) fn end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// The packets that carried stream bytes `[from, to)`.
    pub(super) fn provenance(&self, from: u64, to: u64) -> Provenance {
        let first = self
            .marks
            .iter()
            .find(|(end, _)| *end > from)
            .map(|(_, p)| p.first);
        let last = self
            .marks
            .iter()
            .find(|(end, _)| *end >= to)
            .or(self.marks.back())
            .map(|(_, p)| *p)
            .unwrap_or_default();
        Provenance {
            first: first.unwrap_or(last.first),
            ..last
        }
    }

    /// Forgets the first `n` bytes of `buf`.
    pub(super) fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.consume(n);
        self.base += n as u64;
        while self.marks.len() > 1 && self.marks.front().is_some_and(|(e, _)| *e <= self.base) {
            self.marks.pop_front();
        }
    }
}
