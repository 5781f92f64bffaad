//! A progress bar on standard error for long runs: bytes read of the input's size,
//! packets, connections and rate. Shown only when standard error is a terminal, the
//! input is large and `--quiet` is off; otherwise every call is a no-op.
//!
//! A [`Progress`] is shared (`Sync`) so that a run's console can be handed to the
//! threads of the parallel path, which has no bar; packets are counted by one thread.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Inputs smaller than this (in bytes, all files together) get no progress bar.
pub const THRESHOLD: u64 = 64 << 20;

/// Packets between two updates of the bar.
const UPDATE_EVERY: u64 = 4096;

/// Whether to show a bar: stderr is a terminal, not quiet, and `total` bytes is large.
pub fn wanted(total: u64, stderr_is_terminal: bool, quiet: bool) -> bool {
    stderr_is_terminal && !quiet && total >= THRESHOLD
}

/// A reader counting the bytes read through it into a shared counter.
pub struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The progress of a whole run over one or more files.
pub struct Progress {
    bar: ProgressBar,
    read: Arc<AtomicU64>,
    /// Drawn at all (else every call is a no-op).
    shown: bool,
    /// Packets counted, by the one thread reading (a plain load and store per packet).
    packets: AtomicU64,
}

impl Progress {
    /// A bar for `total` bytes, drawn on stderr when `visible`, hidden otherwise.
    pub fn new(total: u64, visible: bool) -> Self {
        let bar = if visible {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.set_message("0 packets, 0 flows");
            b
        } else {
            ProgressBar::hidden()
        };
        Progress {
            bar,
            read: Arc::new(AtomicU64::new(0)),
            shown: visible,
            packets: AtomicU64::new(0),
        }
    }

    /// Whether the bar is drawn.
    pub fn shown(&self) -> bool {
        self.shown
    }

    /// Wraps a file's reader so the bytes read through it advance the bar.
    pub fn reader<R: Read>(&self, inner: R) -> CountingReader<R> {
        CountingReader {
            inner,
            count: self.read.clone(),
        }
    }

    /// Something that wraps readers as [`Progress::reader`] does, for a reader opened
    /// later, elsewhere.
    pub fn counter(
        &self,
    ) -> impl Fn(Box<dyn Read + Send>) -> Box<dyn Read + Send> + Send + 'static {
        let count = self.read.clone();
        move |inner| {
            Box::new(CountingReader {
                inner,
                count: count.clone(),
            })
        }
    }

    /// Bytes read so far through [`Progress::reader`]s.
    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Packets counted so far.
    pub fn packets(&self) -> u64 {
        self.packets.load(Ordering::Relaxed)
    }

    /// Counts one packet; every few thousand, redraws with `flows` connections seen.
    pub fn packet(&self, flows: u64) {
        let n = self.packets.load(Ordering::Relaxed) + 1;
        self.packets.store(n, Ordering::Relaxed);
        if n.is_multiple_of(UPDATE_EVERY) && !self.bar.is_hidden() {
            self.bar.set_position(self.bytes_read());
            self.bar.set_message(format!("{n} packets, {flows} flows"));
        }
    }

    /// Prints a line on stderr without tearing the bar.
    pub fn eprintln(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bytes_and_packets_hidden() {
        assert!(!wanted(THRESHOLD * 2, false, false));
        assert!(!wanted(THRESHOLD * 2, true, true));
        assert!(!wanted(THRESHOLD - 1, true, false));
        assert!(wanted(THRESHOLD, true, false));
        let p = Progress::new(10, false);
        let mut r = p.reader(&b"hello world"[..]);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        let mut r2 = p.reader(&b"!"[..]);
        r2.read_to_string(&mut s).unwrap();
        assert_eq!(p.bytes_read(), 12);
        for _ in 0..10_000 {
            p.packet(1);
        }
        assert_eq!(p.packets(), 10_000);
        p.finish();
    }
}
