//! One TLS connection, both directions: records framed from the TCP byte streams,
//! handshake messages read for the randoms, suite and extensions, keys chosen from the
//! key log as the handshake moves on, records opened, and application data handed up
//! with the packets that carried it. Sans-I/O: bytes in, [`Up`] events out.
//!
//! Here the framing and reading of records (`pump`, `record`); in `half.rs` one
//! direction's buffer and the packets behind its bytes; in `keys.rs` what the handshake
//! messages change (which secret opens the next record); in `resync.rs` crossing a TCP
//! gap.

mod half;
mod keys;
mod resync;

use std::collections::VecDeque;
use std::ops::Range;

use half::{Half, Pending};
use resync::Resync;

use super::crypto::{Opener, Suite};
use super::hello::{self, kind, ClientHello, Message, ServerHello, TLS13};
use super::keylog::{Keys, Secret, Secrets};
use crate::tcp::stream::{Decryption, Direction, Provenance, TlsAlert, TlsSummary};

/// Record content types (RFC 8446 §5.1).
mod content {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
}

/// Largest record payload any version allows (TLS 1.2: 2^14 + 2048 of ciphertext).
pub const MAX_RECORD: usize = (1 << 14) + 2048;

/// Bytes a direction may hold while it waits for the other's ServerHello, or for the
/// rest of a record.
const MAX_HELD: usize = 256 << 10;

/// Largest handshake message read; longer ones (certificate chains) are skipped.
const MAX_HANDSHAKE: usize = 64 << 10;

/// Records tried after a gap: the sequence numbers `next ..= next + MAX_LOST_RECORDS`.
const MAX_LOST_RECORDS: u64 = 4096;

/// Bytes searched for a record that opens after a gap before the direction gives up.
const MAX_RESYNC_SEARCH: u64 = 4 << 20;

/// Encrypted records a TLS 1.3 direction skips when the key log has its traffic secret
/// but not its handshake secret (the encrypted handshake).
const MAX_SKIPPED_HANDSHAKE: u32 = 64;

/// Alerts kept on the summary.
const MAX_ALERTS: usize = 8;

/// What a session hands up.
#[derive(Debug, PartialEq, Eq)]
pub enum Up<'a> {
    /// Application data, in order.
    Data(Direction, &'a [u8], Provenance),
    /// Application data lost (a TCP gap took records): about `len` bytes, exact when
    /// records carry no padding.
    Gap(Direction, u64, Provenance),
    /// The direction ended with a `close_notify` alert.
    Closed(Direction, Provenance),
}

/// Why a warning is given, typed; its text is [`Note::message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A record did not verify.
    DecryptFailed,
    /// Bytes that cannot be a TLS record where one should start.
    NotARecord,
    /// A version or suite this tool cannot decrypt.
    Unsupported(String),
    /// A handshake message that does not parse.
    Malformed(u8),
    /// A gap before the keys were known: the rest of the direction cannot be placed.
    HandshakeGap,
    /// After a gap no record opened within the search bounds.
    Lost,
    /// The server accepted 0-RTT data and the key log has no early secret for it.
    EarlyDataLost,
    /// A TCP gap inside encrypted records: they were skipped and the next one found.
    Resynced {
        /// Records lost.
        records: u64,
    },
}

impl Note {
    /// The warning's kind, for limiting.
    pub fn kind(&self) -> &'static str {
        match self {
            Note::DecryptFailed => "tls decryption failed",
            Note::NotARecord => "tls not a record",
            Note::Unsupported(_) => "tls unsupported",
            Note::Malformed(_) => "tls malformed handshake",
            Note::HandshakeGap => "tls handshake gap",
            Note::Lost => "tls lost",
            Note::EarlyDataLost => "tls early data lost",
            Note::Resynced { .. } => "tls resynced",
        }
    }

    /// The warning's text.
    pub fn message(&self) -> String {
        match self {
            Note::DecryptFailed => {
                "TLS decryption failed (wrong key or corrupt record); the rest of this direction is not decoded".into()
            }
            Note::NotARecord => {
                "bytes that are not a TLS record; the rest of this direction is not decoded".into()
            }
            Note::Unsupported(what) => format!("TLS {what} cannot be decrypted"),
            Note::Malformed(ty) => format!("malformed TLS handshake message of type {ty}"),
            Note::HandshakeGap => {
                "TCP gap inside the TLS handshake; the rest of this direction is not decoded".into()
            }
            Note::Lost => {
                "no TLS record could be opened after a TCP gap; the rest of this direction is not decoded".into()
            }
            Note::EarlyDataLost => "0-RTT data the server accepted cannot be decrypted (the key log has no CLIENT_EARLY_TRAFFIC_SECRET for it): a gap at the start of the client's stream".into(),
            Note::Resynced { records } => format!(
                "TCP gap inside TLS: {records} record(s) lost, decryption resumed at the next record"
            ),
        }
    }
}

/// A warning of the session: what, in which direction, at which packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The direction it concerns.
    pub dir: Direction,
    /// The packet it was found at.
    pub packet: u64,
    /// What.
    pub note: Note,
}

/// Which keys a direction's next record is opened with.
// `Sealed` is large (the cipher's key schedule) and the others nearly empty; a keying
// lives in a session that is boxed already, and a box here would cost an indirection per
// record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Keying {
    /// Records are plaintext (before ChangeCipherSpec or the ServerHello).
    Plain,
    /// TLS 1.3 client: encrypted records before the ServerHello was seen; they wait.
    Hold,
    /// Records are opened with `opener`, the next being number `seq`.
    Sealed {
        opener: Opener,
        seq: u64,
        stage: Stage,
    },
    /// No keys: records are skipped.
    NoKey,
    /// Decoding of this direction stopped.
    Stopped,
}

/// Which secret a TLS 1.3 direction's keys come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Client 0-RTT data, handed up only when the server `accepted` it (its
    /// EncryptedExtensions say so): rejected early data never reached the application. A
    /// record that does not open is tried with the handshake keys.
    Early { accepted: bool },
    /// The encrypted handshake.
    Handshake,
    /// The client offered 0-RTT data that cannot be read (no early secret): records that
    /// do not open with the handshake keys are skipped, `skipped` so far, `bytes` long.
    SkipEarly { skipped: u32, bytes: u64 },
    /// The key log lacks the handshake secret: records are tried with the traffic keys
    /// and skipped (the encrypted handshake) until one opens, `skipped` so far.
    SkipHandshake { skipped: u32 },
    /// Application data (also TLS 1.2 after ChangeCipherSpec).
    Traffic,
}

/// A TLS connection being decoded.
#[derive(Debug)]
pub struct Session {
    keys: Keys,
    ch: Option<Box<ClientHello>>,
    sh: Option<Box<ServerHello>>,
    secrets: Option<Secrets>,
    master: Option<[u8; 48]>,
    suite: Option<Suite>,
    halves: [Half; 2],
    summary: TlsSummary,
    /// The summary changed since [`Session::take_summary`] last gave it.
    changed: bool,
    /// Encrypted records opened.
    opened: u64,
    /// The client's 0-RTT keys, until the server's EncryptedExtensions say whether it
    /// accepted the early data (the client's records wait till then).
    early: Option<Opener>,
    /// The server accepted 0-RTT data (its EncryptedExtensions said so).
    early_accepted: bool,
    /// 0-RTT records the server read but this key log cannot open: how many, how long.
    early_lost: Option<(u32, u64)>,
    warnings: Vec<Warning>,
}

impl Session {
    /// A session whose ClientHello will be read from the client's bytes; `keys` give
    /// its secrets.
    pub fn new(keys: Keys) -> Session {
        Session {
            keys,
            ch: None,
            sh: None,
            secrets: None,
            master: None,
            suite: None,
            halves: [Half::new(), Half::new()],
            summary: TlsSummary::default(),
            changed: true,
            opened: 0,
            early: None,
            early_accepted: false,
            early_lost: None,
            warnings: Vec::new(),
        }
    }

    /// A session for a connection captured after its handshake: nothing can be
    /// decrypted, and nothing is handed up.
    pub fn without_handshake(keys: Keys) -> Session {
        let mut s = Session::new(keys);
        s.summary.decryption = Decryption::NoHandshake;
        for h in &mut s.halves {
            h.keying = Keying::NoKey;
        }
        s
    }

    /// The summary, when it changed since the last call.
    pub fn take_summary(&mut self) -> Option<&TlsSummary> {
        std::mem::take(&mut self.changed).then_some(&self.summary)
    }

    /// The summary as it stands.
    pub fn summary(&self) -> &TlsSummary {
        &self.summary
    }

    /// Encrypted records opened so far.
    pub fn records(&self) -> u64 {
        self.opened
    }

    /// Takes the warnings given so far.
    pub fn drain_warnings(&mut self) -> std::vec::Drain<'_, Warning> {
        self.warnings.drain(..)
    }

    /// Bytes of direction `dir`, in order, carried by packet `at`.
    pub fn data(&mut self, dir: Direction, bytes: &[u8], at: Provenance, up: &mut dyn FnMut(Up)) {
        let h = &mut self.halves[dir.index()];
        if h.closed || matches!(h.keying, Keying::Stopped | Keying::NoKey) {
            h.base += bytes.len() as u64;
            return;
        }
        if h.buf.len() + bytes.len() > MAX_HELD + MAX_RECORD {
            // Only a direction held for the other's ServerHello grows this far.
            self.stop(dir, at.packet, Note::NotARecord);
            return;
        }
        h.buf.extend(bytes);
        let end = h.end();
        h.marks.push_back((end, at));
        self.pump(dir, up);
        // Records the other direction held may open now (a ServerHello was read).
        let other = dir.reverse();
        if !self.halves[other.index()].buf.is_empty() {
            self.pump(other, up);
        }
    }

    /// Stops decoding direction `dir` with a warning.
    fn stop(&mut self, dir: Direction, packet: u64, note: Note) {
        let h = &mut self.halves[dir.index()];
        h.keying = Keying::Stopped;
        h.buf = Pending::default();
        h.marks.clear();
        h.hs = Vec::new();
        if matches!(note, Note::DecryptFailed | Note::Lost | Note::NotARecord)
            && !matches!(self.summary.decryption, Decryption::Failed(_))
        {
            self.summary.decryption = Decryption::Failed(packet);
            self.changed = true;
        }
        self.warnings.push(Warning { dir, packet, note });
    }

    /// Reads every complete record of direction `dir`.
    fn pump(&mut self, dir: Direction, up: &mut dyn FnMut(Up)) {
        let i = dir.index();
        loop {
            let h = &mut self.halves[i];
            if h.closed || matches!(h.keying, Keying::Hold | Keying::Stopped | Keying::NoKey) {
                if h.closed || matches!(h.keying, Keying::NoKey) {
                    let n = h.buf.len();
                    h.consume(n);
                }
                return;
            }
            if h.resync.is_some() {
                match self.find_record(dir, up) {
                    Some(true) => continue,
                    Some(false) => return,
                    None => {
                        let p = self.halves[i].marks.back().map_or(0, |m| m.1.packet);
                        self.stop(dir, p, Note::Lost);
                        return;
                    }
                }
            }
            let h = &mut self.halves[i];
            let Some(hdr) = h.buf.get(..5) else { return };
            let hdr: [u8; 5] = hdr.try_into().unwrap_or_default();
            let len = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
            if !plausible(&hdr) {
                let p = h.marks.front().map_or(0, |m| m.1.packet);
                self.stop(dir, p, Note::NotARecord);
                return;
            }
            if h.buf.len() < 5 + len {
                return;
            }
            let at = h.provenance(h.base, h.base + 5 + len as u64);
            match self.record(dir, hdr, at, up) {
                Step::Read => {
                    let h = &mut self.halves[i];
                    h.consume(5 + len);
                    h.done = h.base;
                }
                Step::Retry => {}
                Step::Wait | Step::Stop => return,
            }
        }
    }

    /// Reads the record at the start of direction `dir`'s buffer, header `hdr`.
    fn record(
        &mut self,
        dir: Direction,
        hdr: [u8; 5],
        at: Provenance,
        up: &mut dyn FnMut(Up),
    ) -> Step {
        let i = dir.index();
        let len = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
        let plain = 5..5 + len;
        let opened = {
            let Half { keying, buf, .. } = &mut self.halves[i];
            match keying {
                Keying::Plain => {
                    if hdr[0] == content::APPLICATION_DATA
                        && dir == Direction::ClientToServer
                        && self.sh.is_none()
                    {
                        // TLS 1.3 (or 0-RTT): the keys come with the ServerHello.
                        *keying = Keying::Hold;
                        return Step::Wait;
                    }
                    if dir == Direction::ServerToClient && self.ch.is_none() {
                        // The server's bytes came first (captures merged from two
                        // interfaces): its hello is read after the client's.
                        *keying = Keying::Hold;
                        return Step::Wait;
                    }
                    Ok((hdr[0], plain, false))
                }
                Keying::Sealed { .. } if hdr[0] == content::CHANGE_CIPHER_SPEC => {
                    Ok((hdr[0], plain, false))
                }
                Keying::Sealed { opener, seq, stage } => {
                    let Some(body) = buf.bytes_mut().get_mut(plain) else {
                        return Step::Wait;
                    };
                    // A failed attempt may leave the body garbled; 0-RTT data that does
                    // not open is tried again with other keys.
                    let copy = matches!(stage, Stage::Early { .. }).then(|| body.to_vec());
                    match opener.open(*seq, &hdr, body) {
                        Ok(o) => {
                            *seq += 1;
                            match *stage {
                                Stage::SkipHandshake { .. } => *stage = Stage::Traffic,
                                Stage::SkipEarly { skipped, bytes } => {
                                    if skipped > 0 && self.early_accepted {
                                        self.early_lost = Some((skipped, bytes));
                                    }
                                    *stage = Stage::Handshake
                                }
                                _ => {}
                            }
                            // Rejected 0-RTT data: opened, verified, not handed up.
                            let ty = match *stage {
                                Stage::Early { accepted: false }
                                    if o.content_type == content::APPLICATION_DATA =>
                                {
                                    0
                                }
                                _ => o.content_type,
                            };
                            Ok((ty, 5 + o.plaintext.start..5 + o.plaintext.end, true))
                        }
                        Err(e) => {
                            if let Some(c) = copy {
                                body.copy_from_slice(&c);
                            }
                            Err(e)
                        }
                    }
                }
                Keying::Hold | Keying::NoKey | Keying::Stopped => return Step::Stop,
            }
        };
        let (ty, range) = match opened {
            Ok((ty, range, decrypted)) => {
                if decrypted {
                    self.decrypted();
                }
                (ty, range)
            }
            Err(_) => return self.not_opened(dir, 5 + len as u64, at),
        };
        if let Some((records, bytes)) = self.early_lost.take() {
            // The server read 0-RTT data this key log cannot open: a gap at the start of
            // the client's stream (its last record was EndOfEarlyData's four bytes).
            let plain = bytes.saturating_sub(u64::from(records) * 22 + 4);
            self.warnings.push(Warning {
                dir,
                packet: at.packet,
                note: Note::EarlyDataLost,
            });
            up(Up::Gap(dir, plain, at));
        }
        match ty {
            content::CHANGE_CIPHER_SPEC => self.change_cipher_spec(dir),
            content::ALERT => self.alert(dir, range, at, up),
            content::HANDSHAKE => self.handshake(dir, range, at),
            content::APPLICATION_DATA => {
                let h = &self.halves[i];
                if matches!(h.keying, Keying::Plain) {
                    // Application data in the clear: not TLS as we know it.
                    self.stop(dir, at.packet, Note::NotARecord);
                    return Step::Stop;
                }
                if let Some(b) = h.buf.get(range) {
                    if !b.is_empty() {
                        up(Up::Data(dir, b, at));
                    }
                }
            }
            _ => {}
        }
        Step::Read
    }

    fn decrypted(&mut self) {
        self.opened += 1;
        if self.summary.decryption == Decryption::Pending {
            self.summary.decryption = Decryption::Decrypted;
            self.changed = true;
        }
    }

    /// A record that did not open under the direction's keys.
    fn not_opened(&mut self, dir: Direction, record_len: u64, at: Provenance) -> Step {
        let i = dir.index();
        let Keying::Sealed { stage, .. } = &mut self.halves[i].keying else {
            return Step::Stop;
        };
        match *stage {
            Stage::Early { .. } => {
                // 0-RTT data ended, or was never readable: the handshake keys next.
                let o = self
                    .secrets
                    .and_then(|s| s.client_handshake)
                    .and_then(|s| self.opener13(&s));
                self.halves[i].keying = match o {
                    Some(o) => Keying::Sealed {
                        opener: o,
                        seq: 0,
                        stage: Stage::Handshake,
                    },
                    None => Keying::NoKey,
                };
                Step::Retry
            }
            Stage::SkipHandshake { skipped } if skipped < MAX_SKIPPED_HANDSHAKE => {
                *stage = Stage::SkipHandshake {
                    skipped: skipped + 1,
                };
                Step::Read
            }
            Stage::SkipEarly { skipped, bytes } if skipped < MAX_SKIPPED_HANDSHAKE => {
                *stage = Stage::SkipEarly {
                    skipped: skipped + 1,
                    bytes: bytes + record_len,
                };
                Step::Read
            }
            _ => {
                self.stop(dir, at.packet, Note::DecryptFailed);
                Step::Stop
            }
        }
    }
}

/// What reading a record did.
enum Step {
    /// It was read (and handed up, if it carried data).
    Read,
    /// It must wait (for the other direction's ServerHello).
    Wait,
    /// The direction stopped.
    Stop,
    /// It is to be read again (with other keys).
    Retry,
}

/// A record header that can start a record: a known content type, a 3.x version, a
/// length no version allows beyond.
fn plausible(hdr: &[u8; 5]) -> bool {
    let len = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
    (20..=24).contains(&hdr[0]) && hdr[1] == 3 && hdr[2] <= 4 && len <= MAX_RECORD
}

/// Bytes a record of `suite` adds to its plaintext (header included), without
/// padding: what a gap's lost records are counted with.
fn overhead(suite: Suite) -> u64 {
    let name = suite.name();
    if suite.is_tls13() {
        5 + 16 + 1
    } else if name.contains("GCM") {
        5 + 8 + 16
    } else if name.contains("CHACHA20") {
        5 + 16
    } else {
        // CBC: IV, MAC and at least one byte of padding.
        5 + 16 + 20 + 1
    }
}

/// A ClientHello's first bytes: a handshake record (version 3.x) whose first message is a
/// ClientHello.
pub fn is_client_hello(b: &[u8; 6]) -> bool {
    b[0] == content::HANDSHAKE && b[1] == 3 && b[2] <= 4 && b[5] == kind::CLIENT_HELLO
}

/// A record header that may start a connection captured after its handshake: an
/// application data or alert record (version 3.1–3.3).
pub fn is_midstream_record(b: &[u8; 5]) -> bool {
    matches!(b[0], content::APPLICATION_DATA | content::ALERT)
        && b[1] == 3
        && (1..=3).contains(&b[2])
        && usize::from(u16::from_be_bytes([b[3], b[4]])) <= MAX_RECORD
}

#[cfg(test)]
mod tests;
