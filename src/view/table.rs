//! The table format: one short row per record, printed in chunks with `comfy_table`.
//!
//! A record type becomes printable by implementing [`Row`] (its column names and its
//! cells); this file holds the impls for messages, frames, WebSocket connections and TCP
//! connection summaries, the cell helpers they share ([`preview`], [`join`], the
//! direction arrow, the time of day), and the part of [`View`] that prints collected rows.
//! Cells are plain strings: payloads and other text from the wire go through [`preview`],
//! which cuts them short and escapes control characters. Colour is chosen per column only
//! when the rows are printed, so uncoloured output carries no escape codes at all.

use super::View;
use crate::tcp::FlowSummary;
use crate::util::time::Timestamp;
use crate::ws::problem::Problem;
use crate::ws::protocol::WsDirection;
use crate::ws::record::{FlowRecord, FlowState, FrameRecord, MessageRecord, Record, TlsInfo};
use comfy_table::{presets, Cell, Color, ColumnConstraint, ContentArrangement, Table};
use serde::Serialize;
use std::io::{self, Write};

/// Something a view can print: as JSON, and as a table row.
pub trait Row: Serialize {
    /// Column names of the table.
    fn header() -> &'static [&'static str];
    /// This record's cells.
    fn cells(&self) -> Vec<String>;
    /// The file holding the record's last packet, and the one holding its first when it
    /// is another: what the `file` column shows when a run reads several files. `None`
    /// for rows that name no file.
    fn place(&self) -> Option<(&str, Option<&str>)> {
        None
    }
    /// The record as the columnar formats take it; `None` for rows they have no schema
    /// for.
    fn columnar(&self) -> Option<super::columnar::Item<'_>> {
        None
    }
}

/// The `file` column: the file's name without its directory (`first → last` for a
/// record spanning files).
pub(super) fn file_cell(file: &str, first: Option<&str>) -> String {
    let base = |f: &str| {
        std::path::Path::new(f)
            .file_name()
            .map_or(f.to_string(), |n| n.to_string_lossy().into_owned())
    };
    match first {
        Some(first) => preview(&format!("{} → {}", base(first), base(file)), 80),
        None => preview(&base(file), 60),
    }
}

impl<W: Write> View<W> {
    /// Collects a [`Record`] of any kind as a row: messages and frames share the message
    /// table (`--frames`), connections get the flow table.
    pub(super) fn table_record(&mut self, r: &Record) -> io::Result<()> {
        match r {
            Record::Message(m) => self.write(&Tagged(r, m)),
            Record::Frame(f) => self.write(&InMessageTable(f)),
            Record::Flow(f) => self.write(&Tagged(r, f)),
        }
    }

    /// Prints the rows collected so far as one table. Tables are printed in chunks of
    /// [`TABLE_CHUNK`](super::TABLE_CHUNK) rows so that memory stays bounded however long
    /// the capture.
    pub(super) fn flush_table(&mut self) -> io::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut header = self.header.to_vec();
        if self.rows.first().map(Vec::len) == Some(header.len() + 1) {
            header.insert(0, "file");
        }
        if let Some(col) = header.iter().position(|h| *h == "time") {
            show_dates(&mut self.rows, col, &mut self.first_date, &mut self.dated);
        }
        let mut t = Table::new();
        t.load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(if self.style.wrap {
                ContentArrangement::Dynamic
            } else {
                ContentArrangement::Disabled
            })
            .set_header(header.clone());
        if let (true, Some(w)) = (self.style.wrap, self.style.width) {
            t.set_width(w);
        }
        if self.style.color {
            t.enforce_styling();
        }
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
        // Numbers, addresses, times and names never wrap mid-token: only the free-text
        // columns give up width when the terminal is narrow.
        for (i, name) in header.iter().enumerate() {
            if !WRAPPING.contains(name) {
                if let Some(c) = t.column_mut(i) {
                    c.set_constraint(ColumnConstraint::ContentWidth);
                }
            }
        }
        writeln!(self.out, "{t}")?;
        Ok(())
    }
}

/// The columns whose text may wrap in a narrow terminal; every other one keeps its
/// content's width.
const WRAPPING: [&str; 8] = [
    "payload",
    "path",
    "extensions",
    "problems",
    "errors",
    "tls",
    "protocol",
    "messages (by opcode)",
];

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
    fn place(&self) -> Option<(&str, Option<&str>)> {
        self.1.place()
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
    fn place(&self) -> Option<(&str, Option<&str>)> {
        self.0.place()
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
            flow_cell(f.flow, f.h2_stream_id),
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

/// Escapes what a terminal would not show as it is, and cuts `s` to `max` screen columns
/// for a table cell (CJK and emoji take two). Escaped: control characters, and the
/// invisible format characters a payload could use to make a cell lie, bidirectional
/// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069: `gnp.exe` shown as
/// `exe.png`), zero-width characters and marks.
pub fn preview(s: &str, max: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let mut out = String::new();
    let mut width = 0;
    for c in s.chars() {
        let escaped = match c {
            '\n' => Some("\\n".to_string()),
            '\r' => Some("\\r".to_string()),
            '\t' => Some("\\t".to_string()),
            c if c.is_control() || invisible(c) => Some(format!("\\u{{{:x}}}", c as u32)),
            _ => None,
        };
        let w = escaped.as_ref().map_or(c.width().unwrap_or(0), String::len);
        if width + w > max {
            out.push('…');
            break;
        }
        width += w;
        match escaped {
            Some(e) => out.push_str(&e),
            None => out.push(c),
        }
    }
    out
}

/// Format characters that change how text around them is shown without showing
/// themselves.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00ad}' // soft hyphen
        | '\u{061c}' // Arabic letter mark
        | '\u{180e}' // Mongolian vowel separator
        | '\u{200b}'..='\u{200f}' // zero-width space, joiners, LRM, RLM
        | '\u{202a}'..='\u{202e}' // bidirectional embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}' // bidirectional isolates
        | '\u{feff}' // zero-width no-break space
    )
}

fn arrow(direction: WsDirection) -> &'static str {
    match direction {
        WsDirection::ClientToServer => "→ c2s",
        WsDirection::ServerToClient => "← s2c",
    }
}

/// A timestamp for the `time` column, in RFC 3339; [`View::flush_table`] leaves the date
/// out while every time shown is on one date.
fn time_of_day(ts: &Timestamp) -> String {
    ts.to_rfc3339()
}

/// The `time` cells of a table: times of day while all of them, and those of the
/// tables before, are on the date of the first; dates and times (`2026-11-25
/// 08:01:48.78Z`) from the first time on another date on.
fn show_dates(
    rows: &mut [Vec<String>],
    col: usize,
    first_date: &mut Option<String>,
    dated: &mut bool,
) {
    for r in rows.iter() {
        let Some((date, _)) = r.get(col).and_then(|c| c.split_once('T')) else {
            continue;
        };
        match first_date {
            None => *first_date = Some(date.to_string()),
            Some(d) if d != date => *dated = true,
            Some(_) => {}
        }
    }
    for r in rows.iter_mut() {
        if let Some(cell) = r.get_mut(col) {
            if let Some((date, time)) = cell.split_once('T') {
                *cell = if *dated {
                    format!("{date} {time}")
                } else {
                    time.to_string()
                };
            }
        }
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
    fn place(&self) -> Option<(&str, Option<&str>)> {
        Some((&self.file, self.first_file.as_deref()))
    }
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
            flow_cell(self.flow, self.h2_stream_id),
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
    fn place(&self) -> Option<(&str, Option<&str>)> {
        Some((&self.file, self.first_file.as_deref()))
    }
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
            flow_cell(self.flow, self.h2_stream_id),
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
    fn place(&self) -> Option<(&str, Option<&str>)> {
        Some((&self.file, self.first_file.as_deref()))
    }
    fn header() -> &'static [&'static str] {
        &[
            "flow",
            "client",
            "server",
            "state",
            "tls",
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
            flow_cell(self.flow, self.h2_stream_id),
            self.client.to_string(),
            self.server.to_string(),
            match (self.status, self.h2_stream_id) {
                (Some(code), None) if self.state == FlowState::Rejected => {
                    format!("rejected {code}")
                }
                (Some(code), Some(_)) if self.state == FlowState::Rejected => {
                    format!("rejected {code} (HTTP/2)")
                }
                (_, Some(_)) => format!("{} (HTTP/2)", self.state),
                _ => self.state.to_string(),
            },
            self.tls.as_ref().map(tls_cell).unwrap_or_default(),
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

/// The flow column: the connection's number, and `/stream` for a WebSocket on an
/// HTTP/2 stream.
pub(crate) fn flow_cell(flow: u64, h2: Option<u32>) -> String {
    match h2 {
        Some(s) => format!("{flow}/{s}"),
        None => flow.to_string(),
    }
}

/// A TLS connection in a few words: `1.3 AES_128_GCM_SHA256 ws.test`, with `resumed` and
/// what kept it from being decrypted.
fn tls_cell(t: &TlsInfo) -> String {
    let mut words: Vec<String> = Vec::new();
    if let Some(v) = t.version() {
        words.push(v.strip_prefix("TLSv").map_or(v.clone(), str::to_string));
    }
    if let Some(s) = t.cipher_suite() {
        let s = s.strip_prefix("TLS_").unwrap_or(&s).replace("_WITH_", "_");
        words.push(s);
    }
    words.extend(t.0.sni.clone());
    if t.0.resumed {
        words.push("resumed".into());
    }
    if let Some(p) = t.problem() {
        words.push(p.replace('_', " "));
    }
    if words.is_empty() {
        "tls".into()
    } else {
        words.join(" ")
    }
}

impl Row for FlowSummary {
    fn place(&self) -> Option<(&str, Option<&str>)> {
        Some((&self.file, self.first_file.as_deref()))
    }
    fn columnar(&self) -> Option<super::columnar::Item<'_>> {
        Some(super::columnar::Item::Tcp(self))
    }
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
            self.client.to_string(),
            self.server.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::tests::msg;
    use crate::view::{Format, TableStyle, TABLE_CHUNK};

    #[test]
    fn previews_cannot_lie_about_what_a_payload_holds() {
        // "gnp.exe" behind a right-to-left override would show as "exe.png".
        assert_eq!(preview("\u{202e}gnp.exe", 40), "\\u{202e}gnp.exe");
        assert_eq!(
            preview("a\u{200b}b\u{2066}c\u{feff}d\u{7}", 80),
            "a\\u{200b}b\\u{2066}c\\u{feff}d\\u{7}"
        );
        // Wide characters count two columns.
        assert_eq!(preview("日本語のテキスト", 8), "日本語の…");
        assert_eq!(preview("🎉🚀ab", 5), "🎉🚀a…");
        assert_eq!(preview("abc", 3), "abc");
    }

    #[test]
    fn narrow_tables_wrap_text_never_addresses_or_numbers() {
        let f = FlowRecord {
            flow: 12345,
            client: "[2001:db8::1234:5678]:54321".parse().unwrap(),
            server: "192.168.100.200:8443".parse().unwrap(),
            path: Some("/a/very/long/path/that/can/wrap/anywhere/it/likes".into()),
            extensions: vec![
                "permessage-deflate; client_max_window_bits=10; server_max_window_bits=11".into(),
            ],
            ..FlowRecord::default()
        };
        let style = TableStyle {
            color: false,
            wrap: true,
            width: Some(80),
            files: false,
        };
        let mut v = View::new(Format::Table, Vec::new(), Some(80)).with_style(style);
        v.write_record(&Record::Flow(f)).unwrap();
        let out = String::from_utf8(v.finish().unwrap()).unwrap();
        for token in [
            "[2001:db8::1234:5678]:54321",
            "192.168.100.200:8443",
            "12345",
        ] {
            assert!(
                out.lines().any(|l| l.contains(token)),
                "{token} cut:\n{out}"
            );
        }
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
            files: false,
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
    fn files_and_dates_show_when_a_set_needs_them() {
        let at = |ts: &str, file: &str, first: Option<&str>| {
            let mut r = msg("x");
            if let Record::Message(m) = &mut r {
                m.timestamp = ts.parse().unwrap();
                m.file = file.into();
                m.first_file = first.map(Into::into);
            }
            r
        };
        let style = TableStyle {
            color: false,
            wrap: false,
            width: None,
            files: true,
        };
        let mut v = View::new(Format::Table, Vec::new(), None).with_style(style);
        v.write_record(&at("2026-01-01T23:59:59.5Z", "/d/a.pcap", None))
            .unwrap();
        v.write_record(&at(
            "2026-01-01T23:59:59.9Z",
            "/d/b.pcap",
            Some("/d/a.pcap"),
        ))
        .unwrap();
        v.flush_table().unwrap();
        v.write_record(&at("2026-01-02T00:00:00.1Z", "/d/b.pcap", None))
            .unwrap();
        let out = String::from_utf8(v.finish().unwrap()).unwrap();
        let lines: Vec<&str> = out.lines().filter(|l| l.contains(" x ")).collect();
        assert!(
            lines[0].contains("a.pcap") && !lines[0].contains("/d/"),
            "{out}"
        );
        assert!(lines[0].contains(" 23:59:59.5Z"), "{out}");
        assert!(lines[1].contains("a.pcap → b.pcap"), "{out}");
        // The day changed: this table and the ones after show dates.
        assert!(lines[2].contains("2026-01-02 00:00:00.1Z"), "{out}");
        assert!(out.contains("│ file"), "{out}");
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
