//! What a direction does when bytes are missing: a TCP gap (inside a frame the next
//! boundary is still known; elsewhere the frames in progress are lost and boundaries are
//! searched for again), and the end of the stream inside a frame or message. What is lost
//! is said on the records concerned, never silently dropped.

use super::Ctx;
use super::{Deflate, DirState, Target};
use crate::tcp::stream::Provenance;
use crate::ws::frame::{parse_header, HeaderStatus};
use crate::ws::problem::{Cut, Problem};
use crate::ws::Out;

impl DirState {
    /// The in-progress frame and messages can no longer be decoded (bytes lost): emit
    /// them as undecodable with `reason`, forget compression history.
    pub(super) fn lose(&mut self, cx: &Ctx, out: &mut Out, reason: Problem) {
        self.flush_inflater(cx, out);
        if let Some(f) = self.frame.take() {
            self.stats.frames += 1;
            self.stats.wire_bytes = self.stats.wire_bytes.saturating_add(f.done);
            let target = f.target;
            let errors = f.errors.clone();
            self.emit_frame(cx, out, f, Some(reason.clone()));
            if let Some(m) = self.target_msg(target) {
                m.errors.extend(errors);
            }
        }
        self.hdr_len = 0;
        for m in [self.ctrl.take(), self.msg.take()].into_iter().flatten() {
            let mut m = m;
            if !m.undecodable {
                m.errors.push(reason.clone());
            }
            m.undecodable = true;
            self.emit_message(cx, out, m);
        }
        self.lose_context(cx);
        self.after_gap = true;
    }

    pub(super) fn lose_context(&mut self, cx: &Ctx) {
        if cx.deflate != Deflate::Off {
            if let Some(inf) = self.inflater.as_mut() {
                inf.reset();
            }
            self.ctx_lost = true;
        }
    }

    /// `len` bytes of this direction were never captured.
    pub fn gap(&mut self, cx: &Ctx, out: &mut Out, len: u64, at: Provenance) {
        self.flush_inflater(cx, out);
        self.stats.gaps += 1;
        self.stats.gap_bytes = self.stats.gap_bytes.saturating_add(len);
        out.problems += 1;
        cx.warn(
            out,
            at.packet,
            "tcp gap",
            format!("tcp gap of {len} bytes at stream offset {}", self.offset),
        );
        self.last_at = at;
        // Bytes held for resynchronisation cannot be checked against what follows the
        // gap: decide on them as if the stream ended here.
        self.resolve_sync_at_end(cx, out);
        let reason = Problem::Gap(len);
        if self.hdr_len == 0 {
            let DirState {
                frame, msg, ctrl, ..
            } = self;
            if let Some(f) = frame.as_mut() {
                let remaining = f.h.payload_len.saturating_sub(f.done);
                if len <= remaining {
                    // The gap ends inside this frame: the next frame boundary is still known.
                    f.done += len;
                    f.lost += len;
                    f.last = at;
                    let m = match f.target {
                        Target::Data => msg.as_mut(),
                        Target::Ctrl => ctrl.as_mut(),
                    };
                    let mut compressed = false;
                    if let Some(m) = m {
                        compressed = m.inflate;
                        m.last = at;
                        if !m.undecodable {
                            m.errors.push(reason);
                            m.undecodable = true;
                        }
                    }
                    if compressed {
                        self.lose_context(cx);
                    }
                    self.offset = self.offset.saturating_add(len);
                    if self
                        .frame
                        .as_ref()
                        .is_some_and(|f| f.done == f.h.payload_len)
                    {
                        self.end_frame(cx, out);
                    }
                    return;
                }
            }
        }
        let fragment_open = self.msg.is_some();
        self.lose(cx, out, reason);
        self.offset = self.offset.saturating_add(len);
        self.enter_sync(false, fragment_open);
    }

    /// Emits whatever is still in progress at the end of the stream.
    pub(super) fn flush_incomplete(&mut self, cx: &Ctx, out: &mut Out) {
        self.flush_inflater(cx, out);
        let cut = if let Some(f) = self.frame.as_ref() {
            Cut::Frame {
                have: f.done,
                of: f.h.payload_len,
            }
        } else if self.hdr_len > 0 {
            let need = match parse_header(self.hdr.get(..self.hdr_len).unwrap_or(&[])) {
                HeaderStatus::NeedMore(n) => n,
                HeaderStatus::Header(h) => h.header_len,
            };
            Cut::Header {
                have: self.hdr_len,
                need,
            }
        } else if let Some(m) = self.msg.as_ref() {
            Cut::Message { frames: m.frames }
        } else {
            return;
        };
        let reason = Problem::StreamEnded(cut);
        if self.frame.is_none() && self.msg.is_none() {
            // A cut header alone: no message to attach the problem to.
            out.problems += 1;
        }
        cx.warn(out, self.last_at.packet, reason.label(), reason.to_string());
        self.lose(cx, out, reason);
    }
}
