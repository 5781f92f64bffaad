//! The columnar formats: records as Arrow record batches, written as Parquet
//! (`--format parquet`, zstd unless `--compression` says otherwise) or as an Arrow IPC
//! stream (`--format arrow`).
//!
//! A run writes one record type, so one schema ([`Kind`]): its columns are
//! [`schema`]'s, built from the records by [`column`](mod@column)'s builders. Rows gather into a
//! batch of at most [`BATCH_ROWS`] rows or about [`BATCH_BYTES`] bytes, which goes to the
//! writer at once, so that memory stays flat whatever the capture's size:
//! - Parquet row groups are cut at `encoder::ROW_GROUP_BYTES` of batches (the
//!   writer's own limit is a count of rows, a million, which for large payloads would be
//!   gigabytes) and encoded on worker threads (`encoder.rs`: compressing costs more than
//!   decoding). The file is written front to back (the footer last), so standard output
//!   works as well as a file.
//! - An Arrow IPC *stream* writes each batch as it comes, with that batch's
//!   dictionaries (the IPC *file* format refuses dictionaries that change between
//!   batches).
//!
//! Both write into byte buffers handed to the view's output after each batch: the
//! parquet writer wants a `Send` writer, standard output under a lock is not.

pub mod column;
mod encoder;
pub mod schema;

use crate::tcp::FlowSummary;
use crate::view::stats::StatsRecord;
use crate::view::ParquetCompression;
use crate::ws::record::{FlowRecord, FrameRecord, MessageRecord, Record};
use arrow_array::RecordBatch;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{Schema, SchemaRef};
use column::Col;
use std::io::{self, Write};
use std::sync::Arc;

/// Rows in a batch at most.
pub const BATCH_ROWS: usize = 8192;
/// Bytes of values in a batch, about, past which it is cut (payloads make rows large).
pub const BATCH_BYTES: usize = 4 << 20;

/// The record type a columnar output holds: one schema per file or stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Message records.
    Message,
    /// Frame records (`--frames`).
    Frame,
    /// Flow records (`flows`).
    Flow,
    /// TCP connection records (`tcp`).
    Tcp,
    /// Statistics records (`stats`).
    Stats,
}

/// Which columnar format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Parquet, zstd-compressed.
    Parquet,
    /// Arrow IPC stream.
    Arrow,
}

/// Rows of one record type being gathered into a batch.
pub struct Table<R> {
    schema: SchemaRef,
    cols: Vec<Col<R>>,
    rows: usize,
    bytes: usize,
}

impl<R: 'static> Table<R> {
    /// A table with these columns.
    pub fn new(cols: Vec<Col<R>>) -> Table<R> {
        let schema = Arc::new(Schema::new(
            cols.iter().map(|c| c.field()).collect::<Vec<_>>(),
        ));
        Table {
            schema,
            cols,
            rows: 0,
            bytes: 0,
        }
    }

    /// Appends a row. After an error (a value too large) the table is unusable.
    pub fn push(&mut self, r: &R) -> io::Result<()> {
        for c in &mut self.cols {
            self.bytes += c.push(Some(r))?;
        }
        self.rows += 1;
        Ok(())
    }

    /// The batch is full.
    pub fn full(&self) -> bool {
        self.rows >= BATCH_ROWS || self.bytes >= BATCH_BYTES
    }

    /// Rows gathered.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The rows gathered, as a batch; the table starts empty again.
    pub fn batch(&mut self) -> io::Result<RecordBatch> {
        let arrays = self.cols.iter_mut().map(|c| c.finish()).collect();
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(self.schema.clone(), arrays).map_err(io::Error::other)
    }
}

/// The table of the run's record type.
enum Tables {
    Message(Table<MessageRecord>),
    Frame(Table<FrameRecord>),
    Flow(Table<FlowRecord>),
    Tcp(Table<FlowSummary>),
    Stats(Table<StatsRecord>),
}

impl Tables {
    fn new(kind: Kind) -> Tables {
        match kind {
            Kind::Message => Tables::Message(Table::new(schema::message())),
            Kind::Frame => Tables::Frame(Table::new(schema::frame())),
            Kind::Flow => Tables::Flow(Table::new(schema::flow())),
            Kind::Tcp => Tables::Tcp(Table::new(schema::tcp())),
            Kind::Stats => Tables::Stats(Table::new(schema::stats())),
        }
    }

    fn schema(&self) -> SchemaRef {
        match self {
            Tables::Message(t) => t.schema(),
            Tables::Frame(t) => t.schema(),
            Tables::Flow(t) => t.schema(),
            Tables::Tcp(t) => t.schema(),
            Tables::Stats(t) => t.schema(),
        }
    }

    fn rows(&self) -> usize {
        match self {
            Tables::Message(t) => t.rows(),
            Tables::Frame(t) => t.rows(),
            Tables::Flow(t) => t.rows(),
            Tables::Tcp(t) => t.rows(),
            Tables::Stats(t) => t.rows(),
        }
    }

    fn full(&self) -> bool {
        match self {
            Tables::Message(t) => t.full(),
            Tables::Frame(t) => t.full(),
            Tables::Flow(t) => t.full(),
            Tables::Tcp(t) => t.full(),
            Tables::Stats(t) => t.full(),
        }
    }

    fn batch(&mut self) -> io::Result<RecordBatch> {
        match self {
            Tables::Message(t) => t.batch(),
            Tables::Frame(t) => t.batch(),
            Tables::Flow(t) => t.batch(),
            Tables::Tcp(t) => t.batch(),
            Tables::Stats(t) => t.batch(),
        }
    }
}

/// The encoder of the chosen format.
#[allow(clippy::large_enum_variant)] // one per run
enum Sink {
    Parquet(encoder::Encoder),
    Arrow(StreamWriter<Vec<u8>>),
}

/// A record the columnar writer can hold: what a view hands it.
pub enum Item<'a> {
    /// A WebSocket record.
    Ws(&'a Record),
    /// A TCP connection record.
    Tcp(&'a FlowSummary),
    /// A statistics record.
    Stats(&'a StatsRecord),
}

/// Writes records of one type as Parquet or an Arrow IPC stream.
pub struct Writer {
    table: Tables,
    sink: Sink,
}

impl Writer {
    /// A writer of `kind` records in `encoding` (Parquet compressed as `parquet` says, on
    /// up to `threads` threads).
    pub fn new(
        encoding: Encoding,
        kind: Kind,
        parquet: ParquetCompression,
        threads: usize,
    ) -> io::Result<Writer> {
        let table = Tables::new(kind);
        let schema = table.schema();
        let sink = match encoding {
            Encoding::Parquet => Sink::Parquet(encoder::Encoder::new(schema, parquet, threads)?),
            Encoding::Arrow => {
                Sink::Arrow(StreamWriter::try_new(Vec::new(), &schema).map_err(io::Error::other)?)
            }
        };
        Ok(Writer { table, sink })
    }

    /// Adds a record; records of another type are left out (a run holds one type).
    pub fn push(&mut self, row: Item<'_>, out: &mut dyn Write) -> io::Result<()> {
        match (&mut self.table, row) {
            (Tables::Message(t), Item::Ws(Record::Message(r))) => t.push(r)?,
            (Tables::Frame(t), Item::Ws(Record::Frame(r))) => t.push(r)?,
            (Tables::Flow(t), Item::Ws(Record::Flow(r))) => t.push(r)?,
            (Tables::Tcp(t), Item::Tcp(r)) => t.push(r)?,
            (Tables::Stats(t), Item::Stats(r)) => t.push(r)?,
            _ => return Ok(()),
        }
        if self.table.full() {
            self.write_batch(out)?;
        }
        Ok(())
    }

    /// Encodes the gathered rows and hands what is encoded to `out`.
    fn write_batch(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let batch = self.table.batch()?;
        match &mut self.sink {
            Sink::Parquet(w) => w.write(batch, out),
            Sink::Arrow(w) => {
                w.write(&batch).map_err(io::Error::other)?;
                drain(w.get_mut(), out)
            }
        }
    }

    /// Writes the last rows and the end of the file or stream.
    pub fn finish(mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.table.rows() > 0 {
            self.write_batch(out)?;
        }
        match self.sink {
            Sink::Parquet(w) => w.finish(out),
            Sink::Arrow(mut w) => {
                w.finish().map_err(io::Error::other)?;
                drain(w.get_mut(), out)
            }
        }
    }
}

/// Moves the encoded bytes to the output.
fn drain(buf: &mut Vec<u8>, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(buf)?;
    buf.clear();
    Ok(())
}
