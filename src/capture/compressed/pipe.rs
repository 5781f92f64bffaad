//! A reader run on a thread of its own, its output handed over in chunks through a
//! bounded channel: decompression then overlaps the decoding of what it already produced,
//! on another core.
//!
//! Memory stays bounded (at most [`DEPTH`] + 2 chunks exist), and the thread ends when
//! the source does, fails, or the [`Pipe`] is dropped (its next send fails). A source
//! that panics ends the stream with an error rather than the process.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Bytes handed over at a time.
const CHUNK: usize = 256 << 10;

/// Chunks the thread may be ahead by.
const DEPTH: usize = 4;

/// Bytes asked of the source at a time. A decoder that fails drops what it decoded in the
/// same call (flate2 and zstd do), so this bounds what is lost just before a corrupt spot;
/// flate2 decodes 10% slower asked for 16 KiB at a time, as fast for 64 KiB as for 1 MiB.
const STEP: usize = 64 << 10;

/// What goes through the channel: a chunk of output, the end (an empty chunk), or the
/// source's error.
type Message = io::Result<Vec<u8>>;

/// The reading end of a source run on its own thread.
pub(super) struct Pipe {
    full: Receiver<Message>,
    /// Chunks read out, going back to be filled again.
    empty: SyncSender<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
    done: bool,
}

impl Pipe {
    /// Starts reading `src` on a new thread.
    pub(super) fn spawn(src: super::Source) -> io::Result<Pipe> {
        let (full_tx, full) = sync_channel(DEPTH);
        let (empty, empty_rx) = sync_channel(DEPTH + 1);
        std::thread::Builder::new()
            .name("decompress".into())
            .spawn(move || pump(src, full_tx, empty_rx))?;
        Ok(Pipe {
            full,
            empty,
            chunk: Vec::new(),
            at: 0,
            done: false,
        })
    }
}

/// The thread: reads `src` into chunks and sends them until the source ends or fails, or
/// nobody listens any more.
fn pump(mut src: super::Source, full: SyncSender<Message>, empty: Receiver<Vec<u8>>) {
    loop {
        let mut chunk = empty.try_recv().unwrap_or_default();
        chunk.resize(CHUNK, 0);
        let (len, end) = fill(&mut src, &mut chunk);
        chunk.truncate(len);
        if len > 0 && full.send(Ok(chunk)).is_err() {
            return;
        }
        if let Some(end) = end {
            let _ = full.send(end.map(|()| Vec::new()));
            return;
        }
    }
}

/// Fills `chunk` from `src`, [`STEP`] bytes at a time: how many bytes it holds, and how
/// the source ended if it did.
fn fill(src: &mut super::Source, chunk: &mut [u8]) -> (usize, Option<io::Result<()>>) {
    let mut len = 0;
    while len < chunk.len() {
        let step = (len + STEP).min(chunk.len());
        match src.read(&mut chunk[len..step]) {
            Ok(0) => return (len, Some(Ok(()))),
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (len, Some(Err(e))),
        }
    }
    (len, None)
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            match self.full.recv() {
                Ok(Ok(chunk)) => {
                    self.done = chunk.is_empty();
                    let spent = std::mem::replace(&mut self.chunk, chunk);
                    let _ = self.empty.try_send(spent);
                    self.at = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other("the decompressing thread stopped"));
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source of `len` counting bytes, then `end`.
    struct Counting {
        at: usize,
        len: usize,
        end: Option<io::ErrorKind>,
    }

    impl Read for Counting {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.len {
                if self.end == Some(io::ErrorKind::Other) {
                    panic!("a decoder bug");
                }
                return self.end.map_or(Ok(0), |k| Err(k.into()));
            }
            // Odd sizes, so that chunk and step boundaries fall anywhere.
            let n = buf.len().min(self.len - self.at).min(7919);
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = (self.at + i) as u8;
            }
            self.at += n;
            Ok(n)
        }
    }

    fn drain(len: usize, end: Option<io::ErrorKind>) -> (Vec<u8>, Option<io::Error>) {
        let mut p = Pipe::spawn(Box::new(Counting { at: 0, len, end })).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 100_000];
        loop {
            match p.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn passes_every_byte_in_order() {
        for len in [0, 1, STEP, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 12345] {
            let (out, err) = drain(len, None);
            assert!(err.is_none());
            assert_eq!(out.len(), len);
            assert!(out.iter().enumerate().all(|(i, &b)| b == i as u8));
        }
    }

    #[test]
    fn an_error_comes_after_the_bytes_before_it() {
        let (out, err) = drain(3 * CHUNK + 5, Some(io::ErrorKind::InvalidData));
        assert_eq!(out.len(), 3 * CHUNK + 5);
        assert_eq!(err.unwrap().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_panicking_source_is_an_error() {
        let (out, err) = drain(CHUNK + 1, Some(io::ErrorKind::Other));
        assert_eq!(out.len(), CHUNK);
        assert_eq!(err.unwrap().to_string(), "the decompressing thread stopped");
    }

    /// Dropping the reader ends the thread even when the source never ends.
    #[test]
    fn dropping_the_reader_ends_the_thread() {
        let (tx, rx) = sync_channel(1);
        struct Endless(SyncSender<()>);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                Ok(buf.len())
            }
        }
        impl Drop for Endless {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let mut p = Pipe::spawn(Box::new(Endless(tx))).unwrap();
        let mut buf = [0u8; 10];
        assert_eq!(p.read(&mut buf).unwrap(), 10);
        drop(p);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the thread ended");
    }
}
