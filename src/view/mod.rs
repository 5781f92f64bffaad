//! Views: records written as a table, JSON Lines or one JSON array.
//!
//! JSON Lines and JSON stream record by record through the caller's (buffered) writer;
//! the table collects one short row per record (payloads are cut to a preview) and is
//! printed at the end.

pub mod extract;
pub mod filter;
pub mod json;
pub mod stats;

use crate::tcp::stream::{CloseKind, Direction, FlowInfo, Provenance, StreamSink};
use crate::tcp::FlowSummary;
use crate::util::time::Timestamp;
use crate::ws::problem::Problem;
use crate::ws::record::{FlowRecord, FlowState, FrameRecord, MessageRecord, Record};
use comfy_table::{presets, Cell, Color, ContentArrangement, Table};
use serde::Serialize;
use std::io::{self, Write};

/// Output format of every view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// One JSON object per line.
    Jsonl,
    /// One JSON array.
    Json,
}

/// When to colour tables (`--color`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
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
        self.map_or(true, |v| v.is_empty())
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
}

/// Something a view can print: as JSON, and as a table row.
pub trait Row: Serialize {
    /// Column names of the table.
    fn header() -> &'static [&'static str];
    /// This record's cells.
    fn cells(&self) -> Vec<String>;
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
            },
        }
    }

    /// Sets the table layout and colours (the default wraps to `width`, uncoloured).
    pub fn with_style(mut self, style: TableStyle) -> Self {
        self.style = style;
        self
    }

    /// Writes (or, for tables, collects) one row.
    pub fn write<T: Row>(&mut self, item: &T) -> io::Result<()> {
        match self.format {
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
                self.rows.push(item.cells());
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
        match r {
            Record::Message(m) => self.write(&Tagged(r, m)),
            Record::Frame(f) => self.write(&InMessageTable(f)),
            Record::Flow(f) => self.write(&Tagged(r, f)),
        }
    }

    /// Number of rows written.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Prints the rows collected so far as one table. Tables are printed in chunks of
    /// [`TABLE_CHUNK`] rows so that memory stays bounded however long the capture.
    fn flush_table(&mut self) -> io::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut t = Table::new();
        t.load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(if self.style.wrap {
                ContentArrangement::Dynamic
            } else {
                ContentArrangement::Disabled
            })
            .set_header(self.header.to_vec());
        if let (true, Some(w)) = (self.style.wrap, self.style.width) {
            t.set_width(w);
        }
        if self.style.color {
            t.enforce_styling();
        }
        let header = self.header;
        let color = self.style.color;
        for r in self.rows.drain(..) {
            t.add_row(r.into_iter().enumerate().map(|(i, text)| {
                let colour = if color {
                    cell_color(header.get(i).copied().unwrap_or(""), &text)
                } else {
                    None
                };
                match colour {
                    Some(c) => Cell::new(text).fg(c),
                    None => Cell::new(text),
                }
            }));
        }
        writeln!(self.out, "{t}")?;
        Ok(())
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
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The colour of a table cell, by column name and contents.
fn cell_color(column: &str, text: &str) -> Option<Color> {
    if text.is_empty() {
        return None;
    }
    match column {
        "dir" if !text.contains('\n') => Some(if text.starts_with('→') {
            Color::Cyan
        } else {
            Color::Magenta
        }),
        "errors" | "problems" => Some(Color::Red),
        "payload" if text.contains('⚠') => Some(Color::Yellow),
        _ => None,
    }
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

/// A record serialised with its `"record"` tag, tabulated by its inner type.
struct Tagged<'a, T>(&'a Record, &'a T);

impl<T> Serialize for Tagged<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<T: Row> Row for Tagged<'_, T> {
    fn header() -> &'static [&'static str] {
        T::header()
    }
    fn cells(&self) -> Vec<String> {
        self.1.cells()
    }
}

/// A frame as a row of the message table (`--frames` mixes both in one table).
struct InMessageTable<'a>(&'a FrameRecord);

impl Serialize for InMessageTable<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Row for InMessageTable<'_> {
    fn header() -> &'static [&'static str] {
        MessageRecord::header()
    }
    fn cells(&self) -> Vec<String> {
        let f = self.0;
        let rsv: String = f.rsv.iter().map(|b| if *b { '1' } else { '0' }).collect();
        let mut detail = format!(
            "frame fin={} rsv={rsv} mask={} offset={}",
            u8::from(f.fin),
            f.mask_key.map_or("-".to_string(), hex),
            f.stream_offset
        );
        if !f.errors.is_empty() {
            detail.push_str(&format!(" ⚠ {}", preview(&join(&f.errors, "; "), 80)));
        }
        vec![
            f.flow.to_string(),
            time_of_day(&f.timestamp),
            arrow(f.direction).to_string(),
            format!("[{}]", f.opcode),
            f.payload_length.to_string(),
            if f.rsv[0] { "z" } else { "" }.to_string(),
            format!("{}-{}", f.packets[0], f.packets[1]),
            detail,
        ]
    }
}

/// Escapes control characters and cuts `s` to about `max` characters for a table cell.
pub fn preview(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn arrow(direction: Direction) -> &'static str {
    match direction {
        Direction::ClientToServer => "→ c2s",
        Direction::ServerToClient => "← s2c",
    }
}

/// Time of day part of a timestamp in RFC 3339, for narrow tables.
fn time_of_day(ts: &Timestamp) -> String {
    let s = ts.to_rfc3339();
    match s.split_once('T') {
        Some((_, t)) => t.to_string(),
        None => s,
    }
}

/// A masking key as 8 hex digits.
fn hex(k: [u8; 4]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}

/// Problems as one cell: their sentences joined by `sep`.
pub fn join(problems: &[Problem], sep: &str) -> String {
    let mut s = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            s.push_str(sep);
        }
        s.push_str(&p.to_string());
    }
    s
}

impl Row for MessageRecord {
    fn header() -> &'static [&'static str] {
        &[
            "flow", "time", "dir", "opcode", "len", "z", "packets", "payload",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let mut payload = if let Some(t) = &self.text {
            preview(t, 80)
        } else if let Some(code) = self.close_code {
            format!(
                "{code} {}",
                preview(self.close_reason.as_deref().unwrap_or(""), 60)
            )
        } else if let Some(b) = &self.data_b64 {
            // Only the start is shown: encode no more than that.
            let head = crate::ws::record::Base64(b.bytes().get(..48).unwrap_or(b.bytes()).to_vec());
            format!("b64:{}", preview(&head.encode(), 60))
        } else {
            String::new()
        };
        if !self.errors.is_empty() {
            if !payload.is_empty() {
                payload.push(' ');
            }
            payload.push_str(&format!("⚠ {}", preview(&join(&self.errors, "; "), 80)));
        }
        vec![
            self.flow.to_string(),
            time_of_day(&self.timestamp),
            arrow(self.direction).to_string(),
            self.opcode.to_string(),
            self.length.to_string(),
            if self.compressed { "z" } else { "" }.to_string(),
            format!("{}-{}", self.packets[0], self.packets[1]),
            payload,
        ]
    }
}

impl Row for FrameRecord {
    fn header() -> &'static [&'static str] {
        &[
            "flow", "time", "dir", "fin", "rsv", "opcode", "mask", "len", "offset", "packets",
            "errors",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let rsv: String = self
            .rsv
            .iter()
            .map(|b| if *b { '1' } else { '0' })
            .collect();
        vec![
            self.flow.to_string(),
            time_of_day(&self.timestamp),
            arrow(self.direction).to_string(),
            if self.fin { "1" } else { "0" }.to_string(),
            rsv,
            self.opcode.to_string(),
            self.mask_key.map(hex).unwrap_or_default(),
            self.payload_length.to_string(),
            self.stream_offset.to_string(),
            format!("{}-{}", self.packets[0], self.packets[1]),
            preview(&join(&self.errors, "; "), 80),
        ]
    }
}

impl Row for FlowRecord {
    fn header() -> &'static [&'static str] {
        &[
            "flow",
            "client",
            "server",
            "state",
            "path",
            "protocol",
            "extensions",
            "msgs c2s/s2c",
            "bytes c2s/s2c",
            "gaps",
            "problems",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let (c, s) = (&self.client_to_server, &self.server_to_client);
        let mut problems: Vec<String> = self.errors.iter().map(|p| p.to_string()).collect();
        let viol = c.violations + s.violations;
        if viol > 0 {
            problems.push(format!("{viol} violations"));
        }
        let und = c.undecodable + s.undecodable;
        if und > 0 {
            problems.push(format!("{und} undecodable"));
        }
        vec![
            self.flow.to_string(),
            self.client.clone(),
            self.server.clone(),
            match self.status {
                Some(code) if self.state == FlowState::Rejected => format!("rejected {code}"),
                _ => self.state.to_string(),
            },
            preview(self.path.as_deref().unwrap_or(""), 40),
            self.protocol.clone().unwrap_or_default(),
            preview(&self.extensions.join(", "), 60),
            format!("{}/{}", c.messages, s.messages),
            format!("{}/{}", c.payload_bytes, s.payload_bytes),
            format!("{}/{}", c.gaps, s.gaps),
            preview(&problems.join("; "), 80),
        ]
    }
}

impl Row for FlowSummary {
    fn header() -> &'static [&'static str] {
        &[
            "flow",
            "client",
            "server",
            "state",
            "pkts c2s/s2c",
            "bytes c2s/s2c",
            "gaps",
            "gap bytes",
            "retrans",
            "conflicts",
            "ooo",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let (c, s) = (&self.client_to_server, &self.server_to_client);
        vec![
            self.flow.to_string(),
            self.client.clone(),
            self.server.clone(),
            if self.roles_known {
                self.state.to_string()
            } else {
                format!("{} (no SYN)", self.state)
            },
            format!("{}/{}", c.packets, s.packets),
            format!("{}/{}", c.delivered_bytes, s.delivered_bytes),
            format!("{}/{}", c.gaps, s.gaps),
            format!("{}/{}", c.gap_bytes, s.gap_bytes),
            format!("{}/{}", c.retransmissions, s.retransmissions),
            format!("{}/{}", c.conflicting_bytes, s.conflicting_bytes),
            format!("{}/{}", c.out_of_order, s.out_of_order),
        ]
    }
}

/// A stream sink that writes each direction's reassembled bytes to
/// `DIR/flow<N>.client_to_server.bin` and `DIR/flow<N>.server_to_client.bin`
/// (the `tcp --dump-dir` option). Gaps are not filled: the files hold captured bytes only.
pub struct DumpSink {
    dir: std::path::PathBuf,
    open: std::collections::HashMap<(u64, Direction), io::BufWriter<std::fs::File>>,
    error: Option<io::Error>,
}

/// Open dump files kept at once; beyond it all are flushed and reopened on demand.
const MAX_OPEN_DUMPS: usize = 128;

impl DumpSink {
    /// Dumps into `dir`, which must exist.
    pub fn new(dir: std::path::PathBuf) -> Self {
        DumpSink {
            dir,
            open: Default::default(),
            error: None,
        }
    }

    /// The path of one direction's dump file.
    pub fn path(&self, flow: u64, dir: Direction) -> std::path::PathBuf {
        self.dir.join(format!("flow{flow}.{dir}.bin"))
    }

    /// The first write error, if any; all files flushed.
    pub fn finish(&mut self) -> io::Result<()> {
        for (_, mut w) in self.open.drain() {
            w.flush()?;
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn write(&mut self, flow: u64, dir: Direction, bytes: &[u8]) -> io::Result<()> {
        if !self.open.contains_key(&(flow, dir)) {
            if self.open.len() >= MAX_OPEN_DUMPS {
                for (_, mut w) in self.open.drain() {
                    w.flush()?;
                }
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(flow, dir))?;
            self.open.insert((flow, dir), io::BufWriter::new(f));
        }
        match self.open.get_mut(&(flow, dir)) {
            Some(w) => w.write_all(bytes),
            None => Ok(()),
        }
    }
}

impl StreamSink for DumpSink {
    fn open(&mut self, flow: &FlowInfo) {
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let r = std::fs::File::create(self.path(flow.id, dir)).map(drop);
            if let Err(e) = r {
                self.error.get_or_insert(e);
            }
        }
    }
    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], _: Provenance) {
        if let Err(e) = self.write(flow.id, dir, bytes) {
            self.error.get_or_insert(e);
        }
    }
    fn gap(&mut self, _: &FlowInfo, _: Direction, _: u64, _: Provenance) {}
    fn close(&mut self, _: &FlowInfo, _: Direction, _: CloseKind, _: Provenance) {}
    fn end(&mut self, flow: &FlowInfo) {
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            if let Some(mut w) = self.open.remove(&(flow.id, dir)) {
                if let Err(e) = w.flush() {
                    self.error.get_or_insert(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str) -> Record {
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

    #[test]
    fn coloured_tables_colour_arrows_and_warnings_only_when_asked() {
        let mut r = msg("bad");
        if let Record::Message(m) = &mut r {
            m.errors.push(Problem::Rsv2);
        }
        let style = TableStyle {
            color: true,
            wrap: false,
            width: None,
        };
        let mut v = View::new(Format::Table, Vec::new(), None).with_style(style);
        v.write_record(&r).unwrap();
        let out = String::from_utf8(v.finish().unwrap()).unwrap();
        assert!(out.contains("\u{1b}["), "{out}");
        let mut v = View::new(Format::Table, Vec::new(), None).with_style(TableStyle {
            color: false,
            ..style
        });
        v.write_record(&r).unwrap();
        let out = String::from_utf8(v.finish().unwrap()).unwrap();
        assert!(!out.contains('\u{1b}'));
        let mut v = View::new(Format::Jsonl, Vec::new(), None).with_style(style);
        v.write_record(&r).unwrap();
        assert!(!v.finish().unwrap().contains(&0x1b));
    }

    #[test]
    fn frames_share_the_message_table() {
        let mut v = View::new(Format::Table, Vec::new(), None);
        v.write_record(&Record::Frame(FrameRecord {
            opcode: crate::ws::protocol::Opcode::Text,
            fin: true,
            payload_length: 2,
            mask_key: Some([0x0a, 0x0b, 0x0c, 0x0d]),
            ..Default::default()
        }))
        .unwrap();
        v.write_record(&msg("hi")).unwrap();
        let out = String::from_utf8(v.finish().unwrap()).unwrap();
        assert!(out.contains("[text]") && out.contains("frame fin=1 rsv=000 mask=0a0b0c0d"));
        assert_eq!(
            out.lines().filter(|l| l.contains("payload")).count(),
            1,
            "{out}"
        );
    }

    #[test]
    fn long_tables_print_in_chunks() {
        let mut v = View::new(Format::Table, Vec::new(), Some(200));
        for i in 0..TABLE_CHUNK + 5 {
            v.write_record(&msg(&format!("m{i}"))).unwrap();
            assert!(v.rows.len() < TABLE_CHUNK);
        }
        let out = String::from_utf8(v.finish().unwrap()).unwrap();
        assert_eq!(out.matches("payload").count(), 2);
        assert!(out.contains(&format!("m{}", TABLE_CHUNK + 4)));
    }

    #[test]
    fn table_escapes_control_characters() {
        let mut v = View::new(Format::Table, Vec::new(), Some(200));
        v.write_record(&msg("line\nbreak\u{1b}[31m")).unwrap();
        let out = String::from_utf8(v.finish().unwrap()).unwrap();
        assert!(out.contains("line\\nbreak\\u{1b}[31m"));
        assert!(!out.contains('\u{1b}'));
    }
}
