//! Messages and frames leaving the decoder: a message in progress ([`Msg`]), the records
//! made of finished frames and messages, and the payload's last checks (UTF-8 of text,
//! the close code and reason).

use super::{Ctx, DirState, Frame};
use crate::capture::set::Place;
use crate::tcp::stream::Provenance;
use crate::util::utf8;
use crate::ws::buf::CappedBuf;
use crate::ws::deflate::InflateError;
use crate::ws::problem::Problem;
use crate::ws::protocol::{valid_close_code, Opcode};
use crate::ws::record::{Base64, FrameRecord, MessageRecord, Record};
use crate::ws::Out;

/// A message being assembled.
#[derive(Debug)]
pub(super) struct Msg {
    pub(super) opcode: Opcode,
    pub(super) compressed: bool,
    /// Payload goes through the inflater.
    pub(super) inflate: bool,
    /// Stream offset of its first frame's header.
    pub(super) start: u64,
    pub(super) frames: u64,
    pub(super) wire: u64,
    pub(super) first_packet: u64,
    pub(super) last: Provenance,
    pub(super) buf: CappedBuf,
    pub(super) errors: Vec<Problem>,
    pub(super) undecodable: bool,
    /// A frame of it was decoded from a boundary found by searching (not confirmed).
    pub(super) guessed: bool,
}

impl Msg {
    /// Marks the message undecodable after an inflate error (saying so when compression
    /// history was already missing); the direction's history is lost from here on.
    pub(super) fn inflate_failed(
        &mut self,
        cx: &Ctx,
        out: &mut Out,
        packet: u64,
        err: &InflateError,
        ctx_lost: &mut bool,
    ) {
        let p = Problem::Inflate {
            error: err.clone(),
            history_missing: *ctx_lost,
        };
        cx.warn(out, packet, p.label(), p.to_string());
        self.errors.push(p);
        self.undecodable = true;
        *ctx_lost = true;
    }
}

impl DirState {
    pub(super) fn emit_frame(&mut self, cx: &Ctx, out: &mut Out, f: Frame, extra: Option<Problem>) {
        if !cx.opts.frames {
            return;
        }
        let mut errors = f.errors;
        if f.guessed {
            errors.insert(0, Problem::GuessedBoundary);
        }
        if f.lost > 0 {
            errors.push(Problem::PayloadLost(f.lost));
        }
        errors.extend(extra);
        let whole = f.lost == 0 && f.done == f.h.payload_len;
        let payload_b64 = f
            .payload
            .filter(|p| whole && !p.truncated())
            .map(|mut p| Base64(p.take()));
        let Place {
            file,
            packets,
            first_file,
        } = cx.files.place([f.first.first, f.last.packet]);
        out.records.push(Record::Frame(FrameRecord {
            file,
            capture: cx.files.capture(),
            first_file,
            flow: cx.flow,
            client: cx.client,
            server: cx.server,
            community_id: Some(*cx.community_id),
            h2_stream_id: cx.h2_stream,
            direction: cx.dir,
            timestamp: f.last.ts,
            fin: f.h.fin,
            rsv: f.h.rsv,
            opcode: f.h.opcode,
            masked: f.h.masked(),
            mask_key: f.h.mask,
            payload_length: f.h.payload_len,
            header_length: f.h.header_len as u64,
            stream_offset: f.offset,
            packets,
            payload_b64,
            errors,
        }));
    }

    /// Counts `violations` found on a frame or message of this direction, naming each in
    /// the `--strict` summary.
    pub(super) fn count_violations(&mut self, out: &mut Out, violations: &[Problem]) {
        self.stats.violations += violations.len() as u64;
        out.problems += violations.len() as u64;
        for v in violations {
            out.kinds.name(v.kind(), v.label());
        }
    }

    pub(super) fn emit_message(&mut self, cx: &Ctx, out: &mut Out, mut m: Msg) {
        self.stats.messages += 1;
        if m.guessed {
            self.stats.guessed_messages += 1;
            m.errors.insert(0, Problem::GuessedBoundary);
        }
        self.stats.payload_bytes = self.stats.payload_bytes.saturating_add(m.buf.total());
        if m.undecodable {
            self.stats.undecodable += 1;
            out.problems += 1;
        }
        let truncated = m.buf.truncated();
        if truncated && !m.undecodable {
            self.stats.truncated += 1;
            out.problems += 1;
            let p = if m.buf.budget_hit() {
                Problem::TruncatedAtBudget {
                    total: m.buf.total(),
                    kept: m.buf.data().len(),
                    budget: out.budget.limit(),
                }
            } else {
                Problem::TruncatedAtMax {
                    total: m.buf.total(),
                    cap: m.buf.cap(),
                }
            };
            cx.warn(out, m.last.packet, p.label(), p.to_string());
            m.errors.push(p);
        }
        let length = m.buf.total();
        let data = m.buf.take();
        let Place {
            file,
            packets,
            first_file,
        } = cx.files.place([m.first_packet, m.last.packet]);
        let mut rec = MessageRecord {
            file,
            capture: cx.files.capture(),
            first_file,
            flow: cx.flow,
            client: cx.client,
            server: cx.server,
            community_id: Some(*cx.community_id),
            h2_stream_id: cx.h2_stream,
            direction: cx.dir,
            opcode: m.opcode,
            timestamp: m.last.ts,
            frames: m.frames,
            compressed: m.compressed,
            length,
            wire_length: m.wire,
            packets,
            undecodable: m.undecodable,
            truncated: truncated && !m.undecodable,
            ..MessageRecord::default()
        };
        if !m.undecodable {
            let before = m.errors.len();
            fill_payload(&mut rec, &mut m.errors, m.opcode, data, truncated);
            self.count_violations(out, m.errors.get(before..).unwrap_or(&[]));
        }
        if !cx.opts.messages {
            return;
        }
        rec.errors = m.errors;
        out.records.push(Record::Message(rec));
    }
}

/// Sets `text`/`data_b64`/`close_*` from a decoded payload (moved into the record, not
/// copied).
fn fill_payload(
    rec: &mut MessageRecord,
    errors: &mut Vec<Problem>,
    opcode: Opcode,
    data: Vec<u8>,
    truncated: bool,
) {
    match opcode {
        Opcode::Text => match utf8::into_string(data) {
            Ok(text) => rec.text = Some(text),
            Err((mut data, err)) => {
                if truncated && err.error_len().is_none() {
                    // The message was cut inside a character: keep the characters before it.
                    data.truncate(err.valid_up_to());
                    rec.text = Some(
                        utf8::into_string(data)
                            .unwrap_or_else(|(d, _)| String::from_utf8_lossy(&d).into_owned()),
                    );
                } else {
                    errors.push(Problem::InvalidUtf8Text(err.valid_up_to()));
                    rec.data_b64 = Some(Base64(data));
                }
            }
        },
        Opcode::Close => {
            match data.as_slice() {
                [] => {}
                [_] => errors.push(Problem::CloseOneByte),
                [hi, lo, reason @ ..] => {
                    let code = u16::from_be_bytes([*hi, *lo]);
                    rec.close_code = Some(code);
                    if !valid_close_code(code) {
                        errors.push(Problem::InvalidCloseCode(code));
                    }
                    match simdutf8::basic::from_utf8(reason) {
                        Ok(s) => rec.close_reason = Some(s.to_string()),
                        Err(_) => {
                            errors.push(Problem::InvalidUtf8CloseReason);
                            rec.close_reason = Some(String::from_utf8_lossy(reason).into_owned());
                        }
                    }
                }
            }
            rec.data_b64 = Some(Base64(data));
        }
        _ => rec.data_b64 = Some(Base64(data)),
    }
}
