//! Views: records written as a table, JSON Lines or one JSON array.
//!
//! JSON Lines and JSON stream record by record through the caller's (buffered) writer;
//! the table collects one short row per record (payloads are cut to a preview) and is
//! printed at the end, in chunks of [`TABLE_CHUNK`] rows so memory stays bounded.
//!
//! The files, one concern each:
//! - `mod.rs`: the [`View`] writer the record views print through, its settings
//!   ([`Format`], [`ColorChoice`], [`TableStyle`]), and [`record_json`], the one way a
//!   record becomes JSON (parallel runs render their lines with it too).
//! - `table.rs`: the table format: the [`Row`] trait, the rows of messages, frames,
//!   connections and TCP summaries, the cell helpers ([`preview`], [`join`]) and the
//!   printing of collected rows.
//! - `json/`: the fast JSON writer for message records, byte-identical to serde_json.
//! - `columnar/`: Parquet and Arrow IPC output, one typed schema per record type (the
//!   cargo feature `columnar`; without it, `columnar_off.rs` refuses those formats).
//! - `filter/`: the criteria every view honours ([`filter::Filter`]) and the
//!   [`filter::Selector`] applying them to a record stream.
//! - `stats/`: the `stats` view, per-connection statistics aggregated from the records.
//! - `extract.rs`: the `extract` command, payloads as files with a manifest.
//! - `dump.rs`: the `tcp --dump-dir` raw stream files ([`DumpSink`], a TCP stream sink).
//!
//! A new view is a file (or folder) here: its record type (serde for JSON, [`Row`] for the
//! table), written through [`View::write`].

#[cfg(feature = "columnar")]
pub mod columnar;
#[cfg(not(feature = "columnar"))]
#[path = "columnar_off.rs"]
pub mod columnar;
mod dump;
pub mod extract;
pub mod filter;
pub mod json;
pub mod stats;
mod table;

pub use dump::DumpSink;
pub use table::{join, preview, Row};

use crate::ws::record::Record;
use std::io::{self, Write};

/// How Parquet pages are compressed (`--compression`): zstd by default, for the
/// smallest files; lz4 or none where writing speed matters more than size (README,
/// Performance).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParquetCompression {
    /// zstd at this level (1 by default; negative levels are faster).
    Zstd(i32),
    /// LZ4 (the `LZ4_RAW` codec, which every current reader knows).
    Lz4,
    /// No compression.
    None,
}

impl Default for ParquetCompression {
    fn default() -> Self {
        ParquetCompression::Zstd(1)
    }
}

/// Output format of every view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A readable table.
    Table,
    /// One JSON object per line.
    Jsonl,
    /// One JSON array.
    Json,
    /// Parquet (one record type per file).
    Parquet,
    /// An Arrow IPC stream (one record type per stream).
    Arrow,
}

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Parquet => "parquet",
            Format::Arrow => "arrow",
        }
    }

    /// The columnar encoding, for Parquet and Arrow.
    pub fn columnar(self) -> Option<columnar::Encoding> {
        match self {
            Format::Parquet => Some(columnar::Encoding::Parquet),
            Format::Arrow => Some(columnar::Encoding::Arrow),
            Format::Table | Format::Jsonl | Format::Json => None,
        }
    }
}

/// When to colour tables (`--color`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// When standard output is a terminal and `NO_COLOR` is unset or empty.
    #[default]
    Auto,
    /// Always (e.g. for `less -R`), whatever `NO_COLOR` says.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour, given the `NO_COLOR` variable's value and whether standard
    /// output is a terminal.
    pub fn enabled(self, no_color: Option<&std::ffi::OsStr>, stdout_is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stdout_is_terminal && no_color.is_none_or_empty(),
        }
    }
}

trait NoneOrEmpty {
    fn is_none_or_empty(&self) -> bool;
}

impl NoneOrEmpty for Option<&std::ffi::OsStr> {
    fn is_none_or_empty(&self) -> bool {
        self.is_none_or(|v| v.is_empty())
    }
}

/// How tables are laid out: colours, and the width to fit (`None` with `wrap` set: the
/// terminal's width, detected; `wrap` off: no wrapping at all, for pipes and files).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TableStyle {
    /// Colour direction arrows, warnings and problems.
    pub color: bool,
    /// Wrap cells to fit a width.
    pub wrap: bool,
    /// Width to fit when wrapping; `None` detects the terminal's.
    pub width: Option<u16>,
    /// Add a `file` column (the run reads several files).
    pub files: bool,
}

/// Rows held before a table is printed (a long capture prints several tables).
pub const TABLE_CHUNK: usize = 2000;

/// Writes rows of one kind in the chosen format.
pub struct View<W: Write> {
    format: Format,
    out: W,
    count: u64,
    header: &'static [&'static str],
    rows: Vec<Vec<String>>,
    json: crate::view::json::JsonBuf,
    style: TableStyle,
    /// The date of the first time shown in a table, which tables leave out while every
    /// time is on it.
    first_date: Option<String>,
    /// A time on another date was shown: tables show dates from then on.
    dated: bool,
    /// The Parquet or Arrow writer (see [`View::holding`]).
    columnar: Option<columnar::Writer>,
}

impl<W: Write> View<W> {
    /// A view writing to `out`; `width` caps the table width (terminal width).
    pub fn new(format: Format, out: W, width: Option<u16>) -> Self {
        View {
            format,
            out,
            count: 0,
            header: &[],
            rows: Vec::new(),
            json: crate::view::json::JsonBuf::new(),
            style: TableStyle {
                color: false,
                wrap: true,
                width,
                files: false,
            },
            first_date: None,
            dated: false,
            columnar: None,
        }
    }

    /// Says which record type the view holds: the columnar formats write one schema
    /// (records of other types are left out), Parquet compressed as `parquet` says on up
    /// to `threads` threads. Fails for a columnar format this build lacks.
    pub fn holding(
        mut self,
        kind: columnar::Kind,
        parquet: ParquetCompression,
        threads: usize,
    ) -> io::Result<Self> {
        if let Some(encoding) = self.format.columnar() {
            self.columnar = Some(columnar::Writer::new(encoding, kind, parquet, threads)?);
        }
        Ok(self)
    }

    /// Sets the table layout and colours (the default wraps to `width`, uncoloured).
    pub fn with_style(mut self, style: TableStyle) -> Self {
        self.style = style;
        self
    }

    /// Writes (or, for tables, collects) one row.
    pub fn write<T: Row>(&mut self, item: &T) -> io::Result<()> {
        match self.format {
            Format::Parquet | Format::Arrow => {
                let (Some(w), Some(item)) = (&mut self.columnar, item.columnar()) else {
                    return Err(no_schema());
                };
                w.push(item, &mut self.out)?;
            }
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, item)?;
                self.out.write_all(b"\n")?;
            }
            Format::Json => {
                self.out
                    .write_all(if self.count == 0 { b"[\n" } else { b",\n" })?;
                serde_json::to_writer(&mut self.out, item)?;
            }
            Format::Table => {
                self.header = T::header();
                let mut cells = item.cells();
                if self.style.files {
                    if let Some((file, first)) = item.place() {
                        cells.insert(0, table::file_cell(file, first));
                    }
                }
                self.rows.push(cells);
                if self.rows.len() >= TABLE_CHUNK {
                    self.flush_table()?;
                }
            }
        }
        self.count += 1;
        Ok(())
    }

    /// Writes a [`Record`] of any kind.
    pub fn write_record(&mut self, r: &Record) -> io::Result<()> {
        if let Some(w) = &mut self.columnar {
            w.push(columnar::Item::Ws(r), &mut self.out)?;
            self.count += 1;
            return Ok(());
        }
        if self.format.columnar().is_some() {
            return Err(no_schema());
        }
        if self.format != Format::Table {
            if self.format == Format::Json {
                self.out
                    .write_all(if self.count == 0 { b"[\n" } else { b",\n" })?;
            }
            record_json(&mut self.json, &mut self.out, r)?;
            if self.format == Format::Jsonl {
                self.out.write_all(b"\n")?;
            }
            self.count += 1;
            return Ok(());
        }
        self.table_record(r)
    }

    /// Number of rows written.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Ends the output (closes the JSON array, prints the table) and flushes.
    pub fn finish(mut self) -> io::Result<W> {
        match self.format {
            Format::Json => {
                self.out
                    .write_all(if self.count == 0 { b"[]\n" } else { b"\n]\n" })?;
            }
            Format::Table => self.flush_table()?,
            Format::Jsonl => {}
            Format::Parquet | Format::Arrow => match self.columnar.take() {
                Some(w) => w.finish(&mut self.out)?,
                None => return Err(no_schema()),
            },
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A columnar view that was not told its record type ([`View::holding`]).
fn no_schema() -> io::Error {
    io::Error::other("this view has no Parquet or Arrow schema")
}

/// Writes one record as a JSON object (no separator): messages through the fast writer,
/// byte-identical to serde_json and several times faster; other records through serde_json.
pub fn record_json<W: Write + ?Sized>(
    json: &mut crate::view::json::JsonBuf,
    w: &mut W,
    r: &Record,
) -> io::Result<()> {
    match r {
        Record::Message(m) => json.message(w, m),
        other => {
            // Through the buffer, so that a keeping buffer gets every record.
            serde_json::to_writer(&mut *json, other)?;
            json.flush(w)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::record::MessageRecord;

    /// A text message record of flow 3 (shared with the table tests).
    pub(super) fn msg(text: &str) -> Record {
        Record::Message(MessageRecord {
            flow: 3,
            direction: "client_to_server".parse().unwrap(),
            opcode: "text".parse().unwrap(),
            timestamp: "2026-01-01T00:00:00.000001Z".parse().unwrap(),
            text: Some(text.into()),
            length: text.len() as u64,
            packets: [4, 5],
            ..Default::default()
        })
    }

    #[test]
    fn jsonl_and_json_carry_the_record_tag() {
        let mut v = View::new(Format::Jsonl, Vec::new(), None);
        v.write_record(&msg("hi")).unwrap();
        let out = String::from_utf8(v.finish().unwrap()).unwrap();
        let j: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(j["record"], "message");
        assert_eq!(j["text"], "hi");
        assert_eq!(j["packets"], serde_json::json!([4, 5]));

        let mut v = View::new(Format::Json, Vec::new(), None);
        v.write_record(&msg("a")).unwrap();
        v.write_record(&msg("b")).unwrap();
        let out = v.finish().unwrap();
        let j: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(j.as_array().unwrap().len(), 2);
        let empty = View::new(Format::Json, Vec::new(), None).finish().unwrap();
        assert_eq!(empty, b"[]\n");
    }

    #[test]
    fn colour_follows_choice_no_color_and_terminal() {
        use std::ffi::OsStr;
        assert!(ColorChoice::Auto.enabled(None, true));
        assert!(ColorChoice::Auto.enabled(Some(OsStr::new("")), true));
        assert!(!ColorChoice::Auto.enabled(Some(OsStr::new("1")), true));
        assert!(!ColorChoice::Auto.enabled(None, false));
        assert!(ColorChoice::Always.enabled(Some(OsStr::new("1")), false));
        assert!(!ColorChoice::Never.enabled(None, true));
    }
}
