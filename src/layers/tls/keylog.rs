//! NSS key log files (`SSLKEYLOGFILE`): the secrets browsers, OpenSSL, Node and Python
//! write for each TLS connection, keyed by the connection's ClientHello random.
//!
//! One line per secret: `LABEL <client random, 64 hex digits> <secret, hex>`. The labels
//! used here are TLS 1.2's `CLIENT_RANDOM` (the 48-byte master secret) and TLS 1.3's
//! traffic secrets (`CLIENT_EARLY_TRAFFIC_SECRET`, `CLIENT_HANDSHAKE_TRAFFIC_SECRET`,
//! `SERVER_HANDSHAKE_TRAFFIC_SECRET`, `CLIENT_TRAFFIC_SECRET_0`,
//! `SERVER_TRAFFIC_SECRET_0`). Comments (`#`), blank lines, exporter secrets, the
//! `CLIENT_TRAFFIC_SECRET_N` lines OpenSSL writes after a KeyUpdate (the decoder derives
//! those itself) and unknown labels are skipped; a line that names a known label but is
//! malformed is counted as bad, so a file of junk is told apart from a file of lines
//! this tool does not use.
//!
//! [`Keys`] is the store a run shares between its layers (and its threads): key log
//! files and pcapng Decryption Secrets Blocks are added to it as they are read, and the
//! sessions of TLS 1.2 full handshakes are remembered in it so that a resumed connection
//! can reuse their master secret.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

/// A TLS 1.3 traffic secret: as long as the suite's hash (32 or 48 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    len: u8,
    bytes: [u8; 48],
}

impl Secret {
    /// The secret in `bytes`, when it has a hash's length (32 or 48 bytes).
    pub fn new(bytes: &[u8]) -> Option<Secret> {
        if bytes.len() != 32 && bytes.len() != 48 {
            return None;
        }
        let mut s = Secret {
            len: bytes.len() as u8,
            bytes: [0; 48],
        };
        s.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(s)
    }

    /// The secret's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Key material stays out of debug output.
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.len)
    }
}

/// Everything a key log says about one connection.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS 1.2 master secret (`CLIENT_RANDOM`).
    pub master: Option<[u8; 48]>,
    /// TLS 1.3 0-RTT data (`CLIENT_EARLY_TRAFFIC_SECRET`).
    pub client_early: Option<Secret>,
    /// TLS 1.3 client handshake (`CLIENT_HANDSHAKE_TRAFFIC_SECRET`).
    pub client_handshake: Option<Secret>,
    /// TLS 1.3 server handshake (`SERVER_HANDSHAKE_TRAFFIC_SECRET`).
    pub server_handshake: Option<Secret>,
    /// TLS 1.3 client application data, first generation (`CLIENT_TRAFFIC_SECRET_0`).
    pub client_traffic: Option<Secret>,
    /// TLS 1.3 server application data, first generation (`SERVER_TRAFFIC_SECRET_0`).
    pub server_traffic: Option<Secret>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("master", &self.master.is_some())
            .field("client_early", &self.client_early.is_some())
            .field("client_handshake", &self.client_handshake.is_some())
            .field("server_handshake", &self.server_handshake.is_some())
            .field("client_traffic", &self.client_traffic.is_some())
            .field("server_traffic", &self.server_traffic.is_some())
            .finish()
    }
}

/// Which secret a key log line gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    ClientRandom,
    ClientEarly,
    ClientHandshake,
    ServerHandshake,
    ClientTraffic0,
    ServerTraffic0,
}

impl Label {
    /// The label of a line; `Err(())` for labels that are known but not used.
    fn parse(s: &[u8]) -> Option<Result<Label, ()>> {
        Some(Ok(match s {
            b"CLIENT_RANDOM" => Label::ClientRandom,
            b"CLIENT_EARLY_TRAFFIC_SECRET" => Label::ClientEarly,
            b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshake,
            b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshake,
            b"CLIENT_TRAFFIC_SECRET_0" => Label::ClientTraffic0,
            b"SERVER_TRAFFIC_SECRET_0" => Label::ServerTraffic0,
            b"EXPORTER_SECRET" | b"EARLY_EXPORTER_SECRET" | b"RSA" => return Some(Err(())),
            s if s.starts_with(b"CLIENT_TRAFFIC_SECRET_")
                || s.starts_with(b"SERVER_TRAFFIC_SECRET_") =>
            {
                return Some(Err(()))
            }
            _ => return None,
        }))
    }
}

/// What one key log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// A secret this tool uses, added to the store.
    Used,
    /// A comment, a blank line, or a label this tool does not use.
    Skipped,
    /// A line that is not a key log line: malformed hex, wrong lengths, junk.
    Bad,
}

/// How the lines of one key log source were taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Lines that gave a secret.
    pub used: u64,
    /// Comments, blank lines and unused labels.
    pub skipped: u64,
    /// Lines that are not key log lines.
    pub bad: u64,
    /// The 1-based number of the first bad line.
    pub first_bad: Option<u64>,
}

impl LogStats {
    /// Counts one line (the `n`-th).
    pub fn count(&mut self, n: u64, line: Line) {
        match line {
            Line::Used => self.used += 1,
            Line::Skipped => self.skipped += 1,
            Line::Bad => {
                self.bad += 1;
                self.first_bad.get_or_insert(n);
            }
        }
    }
}

/// Longest line a key log has: a label, 64 hex digits and a 48-byte secret in hex are
/// about 160 bytes. Readers may skip longer lines without keeping them.
pub const MAX_LINE: usize = 1024;

/// Sessions (TLS 1.2 session IDs and tickets) remembered for resumption, each; the
/// oldest are forgotten beyond.
const MAX_SESSIONS: usize = 100_000;

/// Connections' secrets from key logs, and TLS 1.2 sessions for resumption. Cloning
/// shares the store.
#[derive(Clone, Default)]
pub struct Keys {
    inner: Arc<RwLock<Store>>,
}

#[derive(Default)]
struct Store {
    by_random: HashMap<[u8; 32], Secrets, crate::util::hash::FoldBuild>,
    /// Master secrets by session ID or ticket, in the order learned.
    sessions: HashMap<Vec<u8>, [u8; 48], crate::util::hash::FoldBuild>,
    session_order: std::collections::VecDeque<Vec<u8>>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.inner.read().map(|s| s.by_random.len()).unwrap_or(0);
        write!(f, "Keys({n} connections)")
    }
}

/// Two handles are equal when they share one store.
impl PartialEq for Keys {
    fn eq(&self, other: &Keys) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Keys {}

impl Keys {
    /// An empty store.
    pub fn new() -> Keys {
        Keys::default()
    }

    /// Adds one key log line (without its line end).
    pub fn add_line(&self, line: &[u8]) -> Line {
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            return Line::Skipped;
        }
        let mut parts = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|p| !p.is_empty());
        let (Some(label), random, secret, None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Line::Bad;
        };
        let label = match Label::parse(label) {
            Some(Ok(l)) => l,
            Some(Err(())) => return Line::Skipped,
            None => return Line::Bad,
        };
        let (Some(random), Some(secret)) = (random.and_then(hex32), secret.and_then(hex)) else {
            return Line::Bad;
        };
        let Ok(mut store) = self.inner.write() else {
            return Line::Bad;
        };
        let e = store.by_random.entry(random).or_default();
        let ok = match label {
            Label::ClientRandom => match <[u8; 48]>::try_from(secret.as_slice()) {
                Ok(m) => {
                    e.master = Some(m);
                    true
                }
                Err(_) => false,
            },
            Label::ClientEarly => set(&mut e.client_early, &secret),
            Label::ClientHandshake => set(&mut e.client_handshake, &secret),
            Label::ServerHandshake => set(&mut e.server_handshake, &secret),
            Label::ClientTraffic0 => set(&mut e.client_traffic, &secret),
            Label::ServerTraffic0 => set(&mut e.server_traffic, &secret),
        };
        if ok {
            Line::Used
        } else {
            if *e == Secrets::default() {
                store.by_random.remove(&random);
            }
            Line::Bad
        }
    }

    /// Adds every line of a whole key log text (a pcapng Decryption Secrets Block).
    pub fn add_text(&self, text: &[u8]) -> LogStats {
        let mut stats = LogStats::default();
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            if line.len() > MAX_LINE {
                stats.count(i as u64 + 1, Line::Bad);
            } else {
                stats.count(i as u64 + 1, self.add_line(line));
            }
        }
        stats
    }

    /// The secrets of the connection whose ClientHello random is `random`.
    pub fn get(&self, random: &[u8; 32]) -> Option<Secrets> {
        self.inner.read().ok()?.by_random.get(random).copied()
    }

    /// How many connections the store has secrets for.
    pub fn len(&self) -> usize {
        self.inner.read().map(|s| s.by_random.len()).unwrap_or(0)
    }

    /// True when the store has no secret at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Remembers the master secret of a TLS 1.2 session under its session ID or ticket,
    /// for connections that resume it.
    pub fn remember_session(&self, id: &[u8], master: [u8; 48]) {
        if id.is_empty() {
            return;
        }
        let Ok(mut store) = self.inner.write() else {
            return;
        };
        if store.sessions.insert(id.to_vec(), master).is_none() {
            store.session_order.push_back(id.to_vec());
            while store.session_order.len() > MAX_SESSIONS {
                if let Some(old) = store.session_order.pop_front() {
                    store.sessions.remove(&old);
                }
            }
        }
    }

    /// The master secret of the TLS 1.2 session with this session ID or ticket.
    pub fn session(&self, id: &[u8]) -> Option<[u8; 48]> {
        if id.is_empty() {
            return None;
        }
        self.inner.read().ok()?.sessions.get(id).copied()
    }
}

fn set(slot: &mut Option<Secret>, bytes: &[u8]) -> bool {
    match Secret::new(bytes) {
        Some(s) => {
            *slot = Some(s);
            true
        }
        None => false,
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Hex digits to bytes (at most 64 bytes: no secret is longer).
fn hex(s: &[u8]) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    s.chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

fn hex32(s: &[u8]) -> Option<[u8; 32]> {
    hex(s)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "0102030405060708091011121314151617181920212223242526272829303132";

    #[test]
    fn reads_tls13_and_tls12_lines_and_skips_the_rest() {
        let k = Keys::new();
        let s32 = "aa".repeat(32);
        let s48 = "bb".repeat(48);
        let text = format!(
            "# SSL/TLS secrets log file, generated by NSS\n\
             \n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {R} {s32}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {R} {s48}\r\n\
             CLIENT_TRAFFIC_SECRET_0 {R} {s32}\n\
             SERVER_TRAFFIC_SECRET_0 {R} {s32}\n\
             CLIENT_TRAFFIC_SECRET_1 {R} {s32}\n\
             EXPORTER_SECRET {R} {s32}\n\
             CLIENT_RANDOM {R} {s48}\n\
             CLIENT_RANDOM {R} {s32}\n\
             CLIENT_RANDOM nothex {s48}\n\
             hello world\n"
        );
        let stats = k.add_text(text.as_bytes());
        assert_eq!(stats.used, 5);
        assert_eq!(stats.skipped, 4);
        assert_eq!(stats.bad, 3);
        assert_eq!(stats.first_bad, Some(10));
        let s = k.get(&hex32(R.as_bytes()).unwrap()).unwrap();
        assert_eq!(s.client_handshake.unwrap().bytes(), [0xaa; 32]);
        assert_eq!(s.server_handshake.unwrap().bytes(), [0xbb; 48]);
        assert_eq!(s.master, Some([0xbb; 48]));
        assert!(s.client_early.is_none());
        assert_eq!(k.len(), 1);
    }

    #[test]
    fn bad_lines_add_nothing() {
        let k = Keys::new();
        for line in [
            "CLIENT_RANDOM".to_string(),
            format!("CLIENT_RANDOM {R}"),
            format!("CLIENT_RANDOM {R} aa"),
            format!("CLIENT_RANDOM {R} {} extra", "aa".repeat(48)),
            format!("CLIENT_RANDOM {} {}", &R[..62], "aa".repeat(48)),
            format!("SERVER_TRAFFIC_SECRET_0 {R} {}", "aa".repeat(40)),
        ] {
            assert_eq!(k.add_line(line.as_bytes()), Line::Bad, "{line}");
        }
        assert!(k.is_empty());
        assert!(format!("{k:?}").contains("0 connections"));
    }

    #[test]
    fn sessions_are_remembered_and_bounded() {
        let k = Keys::new();
        k.remember_session(b"", [1; 48]);
        assert_eq!(k.session(b""), None);
        k.remember_session(b"id", [2; 48]);
        assert_eq!(k.session(b"id"), Some([2; 48]));
        for i in 0..MAX_SESSIONS as u32 {
            k.remember_session(&i.to_be_bytes(), [3; 48]);
        }
        assert_eq!(k.session(b"id"), None);
        assert_eq!(k.session(&7u32.to_be_bytes()), Some([3; 48]));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let k = Keys::new();
        k.add_line(format!("CLIENT_RANDOM {R} {}", "ab".repeat(48)).as_bytes());
        let s = k.get(&hex32(R.as_bytes()).unwrap()).unwrap();
        assert!(!format!("{s:?}").contains("ab"));
    }
}
