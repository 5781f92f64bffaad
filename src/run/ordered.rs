//! Several inputs decoded in parallel, their outputs written in input order.
//!
//! Each input is a job writing its own output; the job of the earliest unfinished input
//! writes straight to the real output while later ones write into a [`Spill`] (memory,
//! then a temporary file), copied out once every job before them is done. So the bytes
//! are exactly those of running the jobs one after the other, memory stays bounded, and
//! no job runs more than `threads` inputs ahead of the one being written.

use std::io;

/// Output a job holds in memory before it spills the rest to a temporary file.
const SPILL_AT: usize = 4 << 20;

/// A job's output while earlier jobs still write theirs: memory first, then a temporary
/// file (removed when dropped), so memory stays bounded however large the output.
struct Spill {
    mem: Vec<u8>,
    file: Option<(std::path::PathBuf, io::BufWriter<std::fs::File>)>,
}

impl Spill {
    fn new() -> Spill {
        Spill {
            mem: Vec::new(),
            file: None,
        }
    }

    /// Writes everything held to `out`.
    fn copy_to(mut self, out: &mut dyn io::Write) -> io::Result<()> {
        out.write_all(&self.mem)?;
        if let Some((path, w)) = self.file.take() {
            let f = w.into_inner().map_err(|e| e.into_error())?;
            drop(f);
            let r = std::fs::File::open(&path).and_then(|mut f| io::copy(&mut f, out));
            let _ = std::fs::remove_file(&path);
            r?;
        }
        Ok(())
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        if let Some((path, _)) = self.file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl io::Write for Spill {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.file.is_none() && self.mem.len() + buf.len() <= SPILL_AT {
            self.mem.extend_from_slice(buf);
            return Ok(buf.len());
        }
        if self.file.is_none() {
            static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("wsdissect-{}-{n}.spill", std::process::id()));
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?;
            self.file = Some((path, io::BufWriter::with_capacity(1 << 20, f)));
        }
        match &mut self.file {
            Some((_, w)) => w.write(buf),
            None => Ok(0),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some((_, w)) => w.flush(),
            None => Ok(()),
        }
    }
}

/// Runs `job` on every input, on up to `threads` threads (the calling thread is one of
/// them), and writes the jobs' outputs to `out` one after the other in input order,
/// exactly as running them one by one would. The job of the earliest unfinished input
/// writes straight to `out`; the others write into a buffer held in memory up to 4 MiB
/// and spilled to a temporary file beyond, and no job starts more than `threads` inputs
/// ahead of the one being written. Returns the jobs' results in input order, or the
/// first error writing `out`.
pub fn run_ordered<T, R>(
    inputs: &[T],
    threads: usize,
    out: &mut dyn io::Write,
    job: impl Fn(&T, &mut dyn io::Write) -> R + Sync,
) -> io::Result<Vec<R>>
where
    T: Sync,
    R: Send,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Condvar, Mutex};

    let n = inputs.len();
    let threads = threads.clamp(1, n.max(1));
    let next = AtomicUsize::new(0);
    // Index of the input being written to `out`, and whether writing failed.
    let head = Mutex::new((0usize, false));
    let moved = Condvar::new();
    let mut results: Vec<Option<R>> = (0..n).map(|_| None).collect();
    let (tx, rx) = mpsc::channel::<(usize, R, Spill)>();

    std::thread::scope(|s| -> io::Result<()> {
        for _ in 1..threads {
            let tx = tx.clone();
            let (next, head, moved, job) = (&next, &head, &moved, &job);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(input) = inputs.get(i) else { return };
                {
                    let mut h = head.lock().unwrap_or_else(|e| e.into_inner());
                    while !h.1 && i >= h.0 + threads {
                        h = moved.wait(h).unwrap_or_else(|e| e.into_inner());
                    }
                    if h.1 {
                        return;
                    }
                }
                let mut spill = Spill::new();
                let r = job(input, &mut spill);
                if tx.send((i, r, spill)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let mut done: Vec<Option<Spill>> = (0..n).map(|_| None).collect();
        let mut outcome = Ok(());
        for i in 0..n {
            if next
                .compare_exchange(i, i + 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                results[i] = Some(job(&inputs[i], out));
            } else {
                while done[i].is_none() {
                    match rx.recv() {
                        Ok((j, r, spill)) => {
                            results[j] = Some(r);
                            done[j] = Some(spill);
                        }
                        Err(_) => break,
                    }
                }
                if let Some(spill) = done[i].take() {
                    if let Err(e) = spill.copy_to(out) {
                        outcome = Err(e);
                    }
                }
            }
            let mut h = head.lock().unwrap_or_else(|e| e.into_inner());
            h.0 = i + 1;
            h.1 = outcome.is_err();
            moved.notify_all();
            drop(h);
            if outcome.is_err() {
                break;
            }
        }
        outcome
    })?;
    Ok(results.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_output_with_spills_and_uneven_jobs() {
        let inputs: Vec<usize> = (0..12).collect();
        let job = |&i: &usize, w: &mut dyn io::Write| {
            // Early inputs are slow, so later ones finish first and wait (some spilled).
            std::thread::sleep(std::time::Duration::from_millis(((12 - i) * 5) as u64));
            let chunk = vec![i as u8; 1 << 16];
            for _ in 0..(i * 13) {
                w.write_all(&chunk).unwrap();
            }
            i * 2
        };
        let mut expected = Vec::new();
        for i in &inputs {
            job(i, &mut expected);
        }
        for threads in [1, 2, 5] {
            let mut out = Vec::new();
            let r = run_ordered(&inputs, threads, &mut out, job).unwrap();
            assert_eq!(r, inputs.iter().map(|i| i * 2).collect::<Vec<_>>());
            assert!(out == expected, "threads {threads}");
        }
    }

    #[test]
    fn output_error_stops_early() {
        struct Fail;
        impl io::Write for Fail {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let inputs: Vec<usize> = (0..50).collect();
        // Jobs writing straight to the output see the error themselves; copies of
        // buffered outputs fail the run.
        let r = run_ordered(&inputs, 3, &mut Fail, |_, w| w.write_all(b"x\n"));
        match r {
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
            Ok(results) => assert!(results.iter().all(|r| r.is_err())),
        }
    }
}
