//! A message buffer that keeps at most a fixed number of bytes and counts the rest, and
//! a memory budget shared by many such buffers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Least a buffer grows by when it runs out of room.
const GROW_MIN: usize = 16 * 1024;

/// Bytes stored by all the buffers that share it, and the most they may store together:
/// many connections each holding a big message in progress stay within it.
#[derive(Debug, Clone)]
pub struct Budget {
    used: Arc<AtomicUsize>,
    limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Budget {
        Budget {
            used: Arc::new(AtomicUsize::new(0)),
            limit,
        }
    }

    /// Bytes stored now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// Decoded message bytes, kept up to `cap` (and what the shared [`Budget`] allows);
/// bytes beyond are counted, not stored.
#[derive(Debug, Default)]
pub struct CappedBuf {
    data: Vec<u8>,
    total: u64,
    cap: usize,
    budget: Option<Budget>,
    budget_hit: bool,
}

impl CappedBuf {
    /// An empty buffer keeping at most `cap` bytes.
    pub fn new(cap: usize) -> CappedBuf {
        CappedBuf {
            data: Vec::new(),
            total: 0,
            cap,
            budget: None,
            budget_hit: false,
        }
    }

    /// An empty buffer keeping at most `cap` bytes, and only while `budget` allows.
    pub fn with_budget(cap: usize, budget: Budget) -> CappedBuf {
        CappedBuf {
            data: Vec::new(),
            total: 0,
            cap,
            budget: Some(budget),
            budget_hit: false,
        }
    }

    /// Appends `bytes`, storing only what fits under the cap and the budget.
    pub fn push(&mut self, bytes: &[u8]) {
        // Once bytes were dropped, storing later ones would leave a hole in the middle.
        let lost = self.truncated();
        self.total = self.total.saturating_add(bytes.len() as u64);
        let mut room = self.cap.saturating_sub(self.data.len()).min(bytes.len());
        if lost {
            room = 0;
        }
        if let Some(b) = &self.budget {
            let left = b.limit.saturating_sub(b.used());
            if left < room {
                room = left;
                self.budget_hit = true;
            }
            b.used.fetch_add(room, Ordering::Relaxed);
        }
        let keep = bytes.get(..room).unwrap_or(&[]);
        self.data.extend_from_slice(keep);
    }

    /// True when the shared budget, not the cap, stopped storing.
    pub fn budget_hit(&self) -> bool {
        self.budget_hit
    }

    fn release(&mut self) {
        if let Some(b) = &self.budget {
            b.used.fetch_sub(self.data.len(), Ordering::Relaxed);
        }
    }

    /// Bytes that may still be stored: under the cap and what the budget has left.
    fn room(&self) -> usize {
        if self.truncated() {
            return 0;
        }
        let room = self.cap.saturating_sub(self.data.len());
        match &self.budget {
            Some(b) => room.min(b.limit.saturating_sub(b.used())),
            None => room,
        }
    }

    /// Makes room for `n` more bytes without reallocating, as far as the cap and the
    /// budget allow (a size hint: nothing is stored or counted).
    pub fn reserve(&mut self, n: usize) {
        let n = n.min(self.room());
        if self.data.capacity() - self.data.len() < n {
            self.data.reserve_exact(n);
        }
    }

    /// Room for writing at least `min` more bytes straight into the stored bytes'
    /// spare capacity, none of it beyond the cap or the budget: the vector to append
    /// to, or `None` when either is too close (use [`CappedBuf::push`] then). Whoever
    /// appends must call [`CappedBuf::appended`] with the count.
    pub fn spare(&mut self, min: usize) -> Option<&mut Vec<u8>> {
        let room = self.room();
        if self.data.capacity() - self.data.len() < min {
            self.data
                .reserve(self.data.len().max(GROW_MIN).max(min).min(room));
        }
        let spare = self.data.capacity() - self.data.len();
        (spare > 0 && spare <= room).then_some(&mut self.data)
    }

    /// Counts `n` bytes appended through [`CappedBuf::spare`].
    pub fn appended(&mut self, n: usize) {
        self.total = self.total.saturating_add(n as u64);
        if let Some(b) = &self.budget {
            b.used.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The stored bytes (the first `min(total, cap)` bytes pushed).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Takes the stored bytes out, leaving the buffer empty.
    pub fn take(&mut self) -> Vec<u8> {
        self.release();
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

impl Drop for CappedBuf {
    fn drop(&mut self) {
        self.release();
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

    #[test]
    fn budget_is_shared_and_given_back() {
        let budget = Budget::new(10);
        let mut a = CappedBuf::with_budget(8, budget.clone());
        let mut b = CappedBuf::with_budget(8, budget.clone());
        a.push(b"123456");
        b.push(b"abcdef");
        assert_eq!(a.data(), b"123456");
        assert_eq!(b.data(), b"abcd");
        assert!(b.truncated() && b.budget_hit() && !a.budget_hit());
        assert_eq!(budget.used(), 10);
        assert_eq!(a.take(), b"123456");
        assert_eq!(budget.used(), 4);
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn nothing_is_stored_after_a_hole() {
        let budget = Budget::new(10);
        let mut a = CappedBuf::with_budget(100, budget.clone());
        let mut b = CappedBuf::with_budget(100, budget.clone());
        a.push(b"0123456789");
        b.push(b"abcdef");
        assert!(b.truncated() && b.data().is_empty());
        // The budget frees up: b must not store its later bytes after the lost ones.
        a.take();
        b.push(b"ghij");
        assert!(b.data().is_empty());
        assert!(b.spare(1).is_none());
        assert_eq!(b.total(), 10);
    }
}
