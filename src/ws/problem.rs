//! Everything that can be wrong with a WebSocket connection, as data: a [`Problem`] is
//! written on the record it concerns (its `Display` is the sentence JSON shows), and its
//! [`Kind`] says which `--strict` counter it adds to. [`Problems`] is that tally.
//!
//! Counting and filtering are `match`es on these types, never parsing of the sentences.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use thiserror::Error;

use super::deflate::InflateError;
use super::protocol::Opcode;
use crate::http::HandshakeProblem;
use crate::tcp::{FlowSummary, TcpState};

/// What `--strict` counts a problem as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A WebSocket protocol violation (on a frame or message).
    Violation,
    /// Bytes never captured (a TCP gap).
    Gap,
    /// A message whose payload could not be decoded.
    Undecodable,
    /// A message cut at the maximum message size or the memory budget.
    Truncated,
    /// A direction where bytes were skipped to find a frame boundary.
    Resync,
    /// A problem with the opening handshake or the connection as a whole.
    Handshake,
    /// A problem in the capture file itself: truncation, corrupt or malformed packets,
    /// unsupported link types.
    Capture,
    /// The out-of-order buffer limit forced a hole to become a gap.
    OooLimit,
    /// A connection evicted because the connection table was full.
    Evicted,
    /// A TCP segment contradicting its connection, as an attacker's would: a
    /// retransmission differing from the first copy, a RST outside the window.
    SuspiciousTcp,
    /// A TLS connection without keys (or captured after its handshake): not decoded.
    TlsNoKey,
    /// A TLS connection whose records could not all be decrypted: a record that did not
    /// verify, a version or suite that cannot be decrypted, records lost in a gap.
    Decryption,
    /// Something odd but harmless, said on the record and not counted by `--strict`.
    Notice,
    /// A problem the decoder counted without a kind above (the last kind: it sizes the
    /// counters).
    Other,
}

impl Kind {
    /// Every kind counted by `--strict`, in the order the summary names them.
    pub const COUNTED: [Kind; 13] = [
        Kind::Violation,
        Kind::Gap,
        Kind::Undecodable,
        Kind::Truncated,
        Kind::Resync,
        Kind::Handshake,
        Kind::Capture,
        Kind::OooLimit,
        Kind::Evicted,
        Kind::SuspiciousTcp,
        Kind::TlsNoKey,
        Kind::Decryption,
        Kind::Other,
    ];

    /// The kind's name for one and for several.
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            Kind::Violation => ("violation", "violations"),
            Kind::Gap => ("gap", "gaps"),
            Kind::Undecodable => ("undecodable message", "undecodable messages"),
            Kind::Truncated => ("truncated message", "truncated messages"),
            Kind::Resync => ("resynchronisation", "resynchronisations"),
            Kind::Handshake => ("handshake problem", "handshake problems"),
            Kind::Capture => ("capture error", "capture errors"),
            Kind::OooLimit => ("out-of-order limit hit", "out-of-order limit hits"),
            Kind::Evicted => ("evicted connection", "evicted connections"),
            Kind::SuspiciousTcp => ("suspicious TCP segment", "suspicious TCP segments"),
            Kind::TlsNoKey => (
                "TLS connection without keys",
                "TLS connections without keys",
            ),
            Kind::Decryption => ("TLS decryption problem", "TLS decryption problems"),
            Kind::Notice => ("notice", "notices"),
            Kind::Other => ("other problem", "other problems"),
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// Why the end of a stream cut a frame or message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Inside a frame's payload: `have` of `of` bytes.
    Frame {
        /// Payload bytes seen.
        have: u64,
        /// Payload bytes the header declared.
        of: u64,
    },
    /// Inside a frame header: `have` of `need` bytes.
    Header {
        /// Header bytes seen.
        have: usize,
        /// Header bytes needed.
        need: usize,
    },
    /// Between the fragments of a message that had `frames` frames.
    Message {
        /// Frames of the message seen.
        frames: u64,
    },
}

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cut::Frame { have, of } => write!(f, "inside frame: have {have} of {of} bytes"),
            Cut::Header { have, need } => {
                write!(f, "inside a frame header: have {have} of {need} bytes")
            }
            Cut::Message { frames } => write!(
                f,
                "inside a fragmented message ({frames} frames, no final fragment)"
            ),
        }
    }
}

/// A problem on a WebSocket record. The wording (`Display`) is a contract: JSON shows it.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Problem {
    /// The opening handshake or the connection.
    #[error(transparent)]
    Handshake(#[from] HandshakeProblem),
    /// Opcode 0x3–0x7 or 0xB–0xF.
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// RSV2 set.
    #[error("RSV2 set (no extension defines it)")]
    Rsv2,
    /// RSV3 set.
    #[error("RSV3 set (no extension defines it)")]
    Rsv3,
    /// A control frame longer than 125 bytes.
    #[error("control frame payload of {0} bytes (max 125)")]
    ControlTooLong(u64),
    /// A control frame without FIN.
    #[error("fragmented control frame (FIN not set)")]
    FragmentedControl,
    /// A length in a longer encoding than needed.
    #[error("non-minimal length encoding ({bytes} bytes for length {length})")]
    NonMinimalLength {
        /// Bytes used for the extended length.
        bytes: usize,
        /// The length.
        length: u64,
    },
    /// The 64-bit length has its top bit set.
    #[error("64-bit payload length with the most significant bit set")]
    LengthMsbSet,
    /// A client frame without a mask.
    #[error("unmasked client frame")]
    UnmaskedClientFrame,
    /// A server frame with a mask.
    #[error("masked server frame")]
    MaskedServerFrame,
    /// RSV1 on a frame that does not start a data message.
    #[error("RSV1 set on a {0} frame (only the first frame of a data message may carry it)")]
    Rsv1NotFirst(Opcode),
    /// RSV1 without permessage-deflate.
    #[error("RSV1 set but permessage-deflate was not negotiated")]
    Rsv1WithoutDeflate,
    /// A frame after this direction's close frame.
    #[error("frame after a close frame")]
    FrameAfterClose,
    /// A text or binary frame while a fragmented message is open.
    #[error("new data message inside a fragmented message")]
    NewMessageInsideFragmented,
    /// A continuation frame with no message open.
    #[error("continuation frame without a message start")]
    ContinuationWithoutStart,
    /// Text that is not UTF-8, from the given byte on.
    #[error("invalid UTF-8 in text message at byte {0}")]
    InvalidUtf8Text(usize),
    /// A close payload of one byte.
    #[error("close frame with a 1-byte payload (a code needs 2)")]
    CloseOneByte,
    /// A close code a peer may not send.
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// A close reason that is not UTF-8.
    #[error("invalid UTF-8 in close reason")]
    InvalidUtf8CloseReason,
    /// A fragmented message interrupted by a new one.
    #[error("message never finished: a new data message started")]
    MessageUnfinished,
    /// A continuation frame after a gap ate its message's start.
    #[error("continuation frame whose message start was lost")]
    StartLost,
    /// A retransmission of bytes of this message differed from the first copy, which is
    /// what was decoded (counted by `--strict` on the TCP connection, noted here).
    #[error("a retransmission of {0} of its bytes differed from the copy decoded")]
    ConflictingRetransmission(u64),
    /// The first frame (which says whether a message is compressed) is missing.
    #[error("cannot tell whether the message is compressed: its first frame is missing")]
    CompressionUnknown,
    /// Inflating failed; `history_missing` when compression history was already lost.
    #[error("{error}{}", if *.history_missing { " (compression history before this message is missing)" } else { "" })]
    Inflate {
        /// What zlib said.
        error: InflateError,
        /// Compression history before this message was missing.
        history_missing: bool,
    },
    /// Bytes after the final DEFLATE block (harmless).
    #[error("{0} bytes after the final DEFLATE block ignored")]
    DeflateTrailing(u64),
    /// Bytes lost in a TCP gap.
    #[error("tcp gap of {0} bytes")]
    Gap(u64),
    /// Payload bytes of a frame lost in a TCP gap.
    #[error("{0} payload bytes lost in a tcp gap")]
    PayloadLost(u64),
    /// Bytes skipped to find the next frame header.
    #[error("{0} bytes skipped while resynchronising on frame headers")]
    Skipped(u64),
    /// The frame (or a frame of the message) was found by searching for frame headers
    /// (after a gap, bytes that are not frames, or a capture that starts mid-connection)
    /// before anything confirmed where frames start: its boundaries are a guess.
    #[error("frame boundaries guessed: found by searching, not followed from the start")]
    GuessedBoundary,
    /// The stream ended inside a frame or message.
    #[error("stream ended {0}")]
    StreamEnded(Cut),
    /// A message longer than the maximum message size.
    #[error("message of {total} bytes truncated to the {cap}-byte maximum message size")]
    TruncatedAtMax {
        /// Decoded length.
        total: u64,
        /// The maximum message size.
        cap: usize,
    },
    /// A message cut because the messages in progress held the memory budget.
    #[error("message of {total} bytes truncated to {kept} bytes: the messages in progress hold the {budget}-byte memory budget")]
    TruncatedAtBudget {
        /// Decoded length.
        total: u64,
        /// Bytes kept.
        kept: usize,
        /// The budget.
        budget: usize,
    },
}

impl Problem {
    /// Which `--strict` counter this problem belongs to.
    pub fn kind(&self) -> Kind {
        use Problem::*;
        match self {
            Handshake(_) => Kind::Handshake,
            ReservedOpcode(_)
            | Rsv2
            | Rsv3
            | ControlTooLong(_)
            | FragmentedControl
            | NonMinimalLength { .. }
            | LengthMsbSet
            | UnmaskedClientFrame
            | MaskedServerFrame
            | Rsv1NotFirst(_)
            | Rsv1WithoutDeflate
            | FrameAfterClose
            | NewMessageInsideFragmented
            | ContinuationWithoutStart
            | InvalidUtf8Text(_)
            | CloseOneByte
            | InvalidCloseCode(_)
            | InvalidUtf8CloseReason => Kind::Violation,
            MessageUnfinished
            | StartLost
            | CompressionUnknown
            | Inflate { .. }
            | StreamEnded(_) => Kind::Undecodable,
            DeflateTrailing(_) | ConflictingRetransmission(_) | GuessedBoundary => Kind::Notice,
            Gap(_) | PayloadLost(_) => Kind::Gap,
            Skipped(_) => Kind::Resync,
            TruncatedAtMax { .. } | TruncatedAtBudget { .. } => Kind::Truncated,
        }
    }

    /// What went wrong, without the values: the words `--strict` names it by.
    pub fn label(&self) -> &'static str {
        use Problem::*;
        match self {
            Handshake(h) => h.label(),
            ReservedOpcode(_) => "reserved opcode",
            Rsv2 => "RSV2 set",
            Rsv3 => "RSV3 set",
            ControlTooLong(_) => "control frame over 125 bytes",
            FragmentedControl => "fragmented control frame",
            NonMinimalLength { .. } => "non-minimal length encoding",
            LengthMsbSet => "64-bit length with the top bit set",
            UnmaskedClientFrame => "unmasked client frame",
            MaskedServerFrame => "masked server frame",
            Rsv1NotFirst(_) => "RSV1 on a frame that does not start a message",
            Rsv1WithoutDeflate => "RSV1 set without permessage-deflate",
            FrameAfterClose => "frame after a close frame",
            NewMessageInsideFragmented => "new data message inside a fragmented message",
            ContinuationWithoutStart => "continuation frame without a message start",
            InvalidUtf8Text(_) => "invalid UTF-8 in text message",
            CloseOneByte => "close frame with a 1-byte payload",
            InvalidCloseCode(_) => "invalid close code",
            InvalidUtf8CloseReason => "invalid UTF-8 in close reason",
            MessageUnfinished => "message never finished",
            StartLost => "message start lost",
            ConflictingRetransmission(_) => "conflicting retransmission",
            CompressionUnknown => "compression unknown",
            Inflate { .. } => "inflate failed",
            DeflateTrailing(_) => "bytes after the final DEFLATE block",
            Gap(_) => "tcp gap",
            PayloadLost(_) => "payload lost in a tcp gap",
            Skipped(_) => "bytes skipped",
            GuessedBoundary => "frame boundaries guessed",
            StreamEnded(_) => "stream ended inside a frame or message",
            TruncatedAtMax { .. } => "message over the maximum message size",
            TruncatedAtBudget { .. } => "memory budget full",
        }
    }
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How many kinds there are (one counter each).
const KINDS: usize = Kind::Other as usize + 1;

/// Labels remembered per kind for the summary; more are only counted.
const LABELS_PER_KIND: usize = 3;

/// How many problems of each kind a run met, and for handshake problems and violations
/// which ones. Any non-zero count fails `--strict`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problems {
    counts: [u64; KINDS],
    /// Per kind, how many problems of each label (for the summary's parentheses).
    labels: BTreeMap<(Kind, &'static str), u64>,
}

impl Problems {
    /// Counts `n` problems of `kind`.
    pub fn add(&mut self, kind: Kind, n: u64) {
        if let Some(c) = self.counts.get_mut(kind.slot()) {
            *c += n;
        }
    }

    /// Counts one problem of a record, named by its label in the summary.
    pub fn add_problem(&mut self, p: &Problem) {
        let kind = p.kind();
        if kind == Kind::Notice {
            return;
        }
        self.add(kind, 1);
        self.name(kind, p.label());
    }

    /// Names a problem of `kind` that is counted elsewhere.
    pub fn name(&mut self, kind: Kind, label: &'static str) {
        *self.labels.entry((kind, label)).or_default() += 1;
    }

    /// Adds the limits a TCP connection hit (its gaps too when `gaps` is set: the `tcp`
    /// view counts them there, the WebSocket views on the WebSocket directions).
    pub fn add_tcp(&mut self, s: &FlowSummary, gaps: bool) {
        for d in [&s.client_to_server, &s.server_to_client] {
            self.add(Kind::OooLimit, d.ooo_limit_hits);
            self.add(Kind::SuspiciousTcp, d.conflicts + d.suspicious_rsts);
            if gaps {
                self.add(Kind::Gap, d.gaps);
            }
        }
        self.add(Kind::Evicted, u64::from(s.state == TcpState::Evicted));
    }

    /// The count of `kind`.
    pub fn get(&self, kind: Kind) -> u64 {
        self.counts.get(kind.slot()).copied().unwrap_or(0)
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, o: &Problems) {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a += b;
        }
        for (k, n) in &o.labels {
            *self.labels.entry(*k).or_default() += n;
        }
    }

    /// Sum of all counts.
    pub fn total(&self) -> u64 {
        Kind::COUNTED.iter().map(|k| self.get(*k)).sum()
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }
}

impl fmt::Display for Problems {
    /// `3 violations (2 unmasked client frame, 1 reserved opcode), 1 gap` (kinds with a
    /// zero count left out; `no problems` when all are zero).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for kind in Kind::COUNTED {
            let n = self.get(kind);
            if n == 0 {
                continue;
            }
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            let (one, many) = kind.words();
            write!(f, "{n} {}", if n == 1 { one } else { many })?;
            let mut named: Vec<(u64, &str)> = self
                .labels
                .iter()
                .filter(|((k, _), _)| *k == kind)
                .map(|((_, l), c)| (*c, *l))
                .collect();
            if named.is_empty() {
                continue;
            }
            named.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
            f.write_str(" (")?;
            for (i, (c, l)) in named.iter().take(LABELS_PER_KIND).enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                if named.len() == 1 && *c == n {
                    f.write_str(l)?;
                } else {
                    write!(f, "{c} {l}")?;
                }
            }
            if named.len() > LABELS_PER_KIND {
                f.write_str(", …")?;
            }
            f.write_str(")")?;
        }
        if first {
            f.write_str("no problems")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_the_contract() {
        let p = Problem::Inflate {
            error: InflateError::Corrupt("invalid distance too far back".into()),
            history_missing: true,
        };
        assert_eq!(
            p.to_string(),
            "inflate failed: invalid distance too far back (compression history before this message is missing)"
        );
        assert_eq!(
            Problem::StreamEnded(Cut::Frame { have: 3, of: 10 }).to_string(),
            "stream ended inside frame: have 3 of 10 bytes"
        );
        assert_eq!(
            Problem::ReservedOpcode(0xb).to_string(),
            "reserved opcode 0xb"
        );
        assert_eq!(
            Problem::from(HandshakeProblem::NoAccept).to_string(),
            "101 answer lacks Sec-WebSocket-Accept"
        );
        assert_eq!(
            serde_json::to_string(&Problem::Rsv2).unwrap(),
            "\"RSV2 set (no extension defines it)\""
        );
        assert_eq!(
            Problem::GuessedBoundary.to_string(),
            "frame boundaries guessed: found by searching, not followed from the start"
        );
    }

    #[test]
    fn summary_counts_by_kind_and_names_them() {
        let mut p = Problems::default();
        assert!(p.is_empty());
        assert_eq!(p.to_string(), "no problems");
        p.add(Kind::Gap, 1);
        p.add(Kind::Undecodable, 2);
        p.add_problem(&Problem::UnmaskedClientFrame);
        p.add_problem(&Problem::UnmaskedClientFrame);
        p.add_problem(&Problem::ReservedOpcode(3));
        assert_eq!(
            p.to_string(),
            "3 violations (2 unmasked client frame, 1 reserved opcode), 1 gap, 2 undecodable messages"
        );
        let mut q = Problems::default();
        q.add_problem(&Problem::Handshake(HandshakeProblem::AcceptMismatch {
            got: "a".into(),
            expected: "b".into(),
        }));
        assert_eq!(
            q.to_string(),
            "1 handshake problem (Sec-WebSocket-Accept does not match the key)"
        );
        q.add(Kind::Evicted, 1);
        q.merge(&p);
        assert_eq!(q.total(), 8);
        assert!(q.to_string().ends_with("1 evicted connection"));
        q.add_problem(&Problem::DeflateTrailing(3));
        assert_eq!(q.total(), 8, "notices are not counted");
    }
}
