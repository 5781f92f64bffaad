//! The Parquet encoder: row groups encoded (and zstd-compressed, which costs more than
//! decoding the capture) on worker threads, one row group each, and written in order.
//!
//! The calling thread gathers batches until they hold [`ROW_GROUP_BYTES`] of Arrow
//! memory, hands them with a fresh set of column writers to the workers, and appends the
//! encoded column chunks of each row group, in row group order, to the file, whose bytes
//! it then writes to its output (which stays on the calling thread: standard output
//! under a lock cannot move). At most as many row groups as there are workers are in
//! flight, so memory stays flat: about two row groups per worker. On 2 cores this takes
//! the 256 MiB benchmark capture from 0.95 s to 0.6–0.7 s (README, Performance).

use crate::view::ParquetCompression;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Arrow memory of the batches of one row group (its encoded size is smaller): with a
/// row group per worker in flight, 8 MB (with batches of 4 MB) keeps the benchmark
/// captures under 100 MB (256 MiB) and 115 MB (1 GiB) of peak memory on 2 cores.
pub const ROW_GROUP_BYTES: usize = 8 << 20;
/// Worker threads at most.
const MAX_WORKERS: usize = 4;

/// The writer's settings: the codec asked for (zstd level 1 by default); no dictionary
/// and no statistics for payload columns (they rarely repeat, and their minimum and
/// maximum help no query).
fn properties(compression: ParquetCompression) -> io::Result<WriterProperties> {
    let codec = match compression {
        ParquetCompression::Zstd(level) => {
            Compression::ZSTD(ZstdLevel::try_new(level).map_err(io::Error::other)?)
        }
        ParquetCompression::Lz4 => Compression::LZ4_RAW,
        ParquetCompression::None => Compression::UNCOMPRESSED,
    };
    let mut props = WriterProperties::builder().set_compression(codec);
    for big in ["text", "data", "payload"] {
        props = props
            .set_column_dictionary_enabled(ColumnPath::from(big), false)
            .set_column_statistics_enabled(ColumnPath::from(big), EnabledStatistics::None);
    }
    Ok(props.build())
}

/// One row group to encode.
struct Job {
    index: usize,
    schema: SchemaRef,
    writers: Vec<ArrowColumnWriter>,
    batches: Vec<RecordBatch>,
}

/// A row group's encoded column chunks, by row group number.
type Done = Result<(usize, Vec<ArrowColumnChunk>), ParquetError>;

/// Encodes a row group's batches, column by column leaf.
fn encode(job: Job) -> Done {
    let Job {
        index,
        schema,
        mut writers,
        batches,
    } = job;
    for b in &batches {
        let mut w = writers.iter_mut();
        for (field, col) in schema.fields().iter().zip(b.columns()) {
            for leaf in compute_leaves(field, col)? {
                w.next()
                    .ok_or_else(|| ParquetError::General("more leaves than writers".into()))?
                    .write(&leaf)?;
            }
        }
    }
    let chunks = writers
        .into_iter()
        .map(ArrowColumnWriter::close)
        .collect::<Result<_, _>>()?;
    Ok((index, chunks))
}

/// A Parquet file being written by worker threads.
pub struct Encoder {
    file: SerializedFileWriter<Vec<u8>>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    gathered: Vec<RecordBatch>,
    gathered_bytes: usize,
    /// Row groups handed out, and written to the file.
    dispatched: usize,
    appended: usize,
    /// Row groups encoded out of order, waiting for those before them.
    ready: BTreeMap<usize, Vec<ArrowColumnChunk>>,
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
}

impl Encoder {
    /// Starts the workers (as many as `threads`, up to four) of a file with `schema`,
    /// compressed with `compression`.
    pub fn new(
        schema: SchemaRef,
        compression: ParquetCompression,
        threads: usize,
    ) -> io::Result<Encoder> {
        let props = properties(compression)?;
        let w = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props))
            .map_err(io::Error::other)?;
        let (file, factory) = w.into_serialized_writer().map_err(io::Error::other)?;
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (done_tx, done) = mpsc::channel();
        let n = threads.clamp(1, MAX_WORKERS);
        let mut workers = Vec::new();
        for _ in 0..n {
            let rx = Arc::clone(&job_rx);
            let tx = done_tx.clone();
            workers.push(
                std::thread::Builder::new()
                    .name("parquet".into())
                    .spawn(move || loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        if tx.send(encode(job)).is_err() {
                            return;
                        }
                    })?,
            );
        }
        Ok(Encoder {
            file,
            factory,
            schema,
            gathered: Vec::new(),
            gathered_bytes: 0,
            dispatched: 0,
            appended: 0,
            ready: BTreeMap::new(),
            jobs: Some(jobs),
            done,
            workers,
        })
    }

    /// Adds a batch; writes to `out` the row groups encoded so far.
    pub fn write(&mut self, batch: RecordBatch, out: &mut dyn Write) -> io::Result<()> {
        self.gathered_bytes += batch.get_array_memory_size();
        self.gathered.push(batch);
        if self.gathered_bytes >= ROW_GROUP_BYTES {
            // As many row groups in flight as workers: wait for the oldest first.
            while self.dispatched - self.appended >= self.workers.len() {
                self.collect(true, out)?;
            }
            self.dispatch()?;
        }
        self.collect(false, out)
    }

    /// Ends the file and writes the rest of it to `out`.
    pub fn finish(mut self, out: &mut dyn Write) -> io::Result<()> {
        if !self.gathered.is_empty() {
            self.dispatch()?;
        }
        while self.appended < self.dispatched {
            self.collect(true, out)?;
        }
        self.file.finish().map_err(io::Error::other)?;
        drain(self.file.inner_mut(), out)
    }

    /// Hands the gathered batches to the workers as the next row group.
    fn dispatch(&mut self) -> io::Result<()> {
        let writers = self
            .factory
            .create_column_writers(self.dispatched)
            .map_err(io::Error::other)?;
        let job = Job {
            index: self.dispatched,
            schema: self.schema.clone(),
            writers,
            batches: std::mem::take(&mut self.gathered),
        };
        self.gathered_bytes = 0;
        let sent = self.jobs.as_ref().is_some_and(|j| j.send(job).is_ok());
        if !sent {
            return Err(io::Error::other("the parquet workers stopped"));
        }
        self.dispatched += 1;
        Ok(())
    }

    /// Takes the encoded row groups (waiting for one when `wait`), appends those next in
    /// order to the file and writes its bytes to `out`.
    fn collect(&mut self, wait: bool, out: &mut dyn Write) -> io::Result<()> {
        if wait {
            let d = self
                .done
                .recv()
                .map_err(|_| io::Error::other("the parquet workers stopped"))?;
            let (i, chunks) = d.map_err(io::Error::other)?;
            self.ready.insert(i, chunks);
        }
        while let Ok(d) = self.done.try_recv() {
            let (i, chunks) = d.map_err(io::Error::other)?;
            self.ready.insert(i, chunks);
        }
        while let Some(chunks) = self.ready.remove(&self.appended) {
            let mut rg = self.file.next_row_group().map_err(io::Error::other)?;
            for c in chunks {
                c.append_to_row_group(&mut rg).map_err(io::Error::other)?;
            }
            rg.close().map_err(io::Error::other)?;
            self.appended += 1;
        }
        drain(self.file.inner_mut(), out)
    }
}

impl Drop for Encoder {
    /// Stops the workers (after the last row group, or an error elsewhere).
    fn drop(&mut self) {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Moves the encoded bytes to the output.
fn drain(buf: &mut Vec<u8>, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(buf)?;
    buf.clear();
    Ok(())
}
