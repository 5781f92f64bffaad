//! A message buffer that keeps at most a fixed number of bytes and counts the rest.

/// Decoded message bytes, kept up to `cap`; bytes beyond the cap are counted, not stored.
#[derive(Debug, Clone, Default)]
pub struct CappedBuf {
    data: Vec<u8>,
    total: u64,
    cap: usize,
}

impl CappedBuf {
    /// An empty buffer keeping at most `cap` bytes.
    pub fn new(cap: usize) -> CappedBuf {
        CappedBuf {
            data: Vec::new(),
            total: 0,
            cap,
        }
    }

    /// Appends `bytes`, storing only what fits under the cap.
    pub fn push(&mut self, bytes: &[u8]) {
        self.total = self.total.saturating_add(bytes.len() as u64);
        let room = self.cap.saturating_sub(self.data.len());
        let keep = bytes.get(..room.min(bytes.len())).unwrap_or(&[]);
        self.data.extend_from_slice(keep);
    }

    /// Room for writing at least `min` more bytes straight into the stored bytes'
    /// spare capacity, none of it beyond the cap: the vector to append to, or `None`
    /// when the cap is too close (use [`CappedBuf::push`] then). Whoever appends must
    /// call [`CappedBuf::appended`] with the count.
    pub fn spare(&mut self, min: usize) -> Option<&mut Vec<u8>> {
        let room = self.cap.saturating_sub(self.data.len());
        if self.data.capacity() - self.data.len() < min {
            self.data.reserve(self.data.len().max(min).min(room));
        }
        let spare = self.data.capacity() - self.data.len();
        (spare > 0 && spare <= room).then_some(&mut self.data)
    }

    /// Counts `n` bytes appended through [`CappedBuf::spare`].
    pub fn appended(&mut self, n: usize) {
        self.total = self.total.saturating_add(n as u64);
    }

    /// The stored bytes (the first `min(total, cap)` bytes pushed).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Takes the stored bytes out, leaving the buffer empty.
    pub fn take(&mut self) -> Vec<u8> {
        self.total = 0;
        std::mem::take(&mut self.data)
    }

    /// Bytes pushed in total, stored or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// True when some pushed bytes were not stored.
    pub fn truncated(&self) -> bool {
        self.total > self.data.len() as u64
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_counts() {
        let mut b = CappedBuf::new(5);
        b.push(b"abc");
        assert!(!b.truncated());
        b.push(b"defg");
        assert_eq!(b.data(), b"abcde");
        assert_eq!(b.total(), 7);
        assert!(b.truncated());
        b.push(b"xyz");
        assert_eq!(b.total(), 10);
        assert_eq!(b.cap(), 5);
        assert_eq!(b.take(), b"abcde");
        assert_eq!(b.total(), 0);
        let mut z = CappedBuf::new(0);
        z.push(b"a");
        assert!(z.truncated());
        assert!(z.data().is_empty());
    }
}
