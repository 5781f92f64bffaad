//! The TLS handshake messages the decoder reads (RFC 8446 §4, RFC 5246 §7.4): the hellos
//! for the randoms, the suite, the version and the extensions a flow record shows;
//! EncryptedExtensions for TLS 1.3's ALPN; TLS 1.2 session tickets for resumption;
//! Finished and KeyUpdate, which change keys. Sans-I/O: a message body in, a parsed
//! view or [`Malformed`] out.

use std::fmt;

/// Handshake message types (RFC 8446 §4).
pub mod kind {
    /// ClientHello.
    pub const CLIENT_HELLO: u8 = 1;
    /// ServerHello (and HelloRetryRequest).
    pub const SERVER_HELLO: u8 = 2;
    /// NewSessionTicket.
    pub const NEW_SESSION_TICKET: u8 = 4;
    /// EndOfEarlyData (TLS 1.3).
    pub const END_OF_EARLY_DATA: u8 = 5;
    /// EncryptedExtensions (TLS 1.3).
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    /// Certificate.
    pub const CERTIFICATE: u8 = 11;
    /// Finished.
    pub const FINISHED: u8 = 20;
    /// KeyUpdate (TLS 1.3).
    pub const KEY_UPDATE: u8 = 24;
}

/// `ServerHello.random` of a HelloRetryRequest: SHA-256 of "HelloRetryRequest".
const RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Wire value of TLS 1.3 in `supported_versions`.
pub const TLS13: u16 = 0x0304;

/// A handshake message that does not parse as its type says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed(pub u8);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed handshake message of type {}", self.0)
    }
}

/// What a ClientHello says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// The random that names the connection in key logs.
    pub random: [u8; 32],
    /// `legacy_session_id` (TLS 1.2 resumption by session ID).
    pub session_id: Vec<u8>,
    /// The server name (SNI).
    pub sni: Option<String>,
    /// ALPN protocols offered.
    pub alpn: Vec<String>,
    /// A non-empty `session_ticket` extension (TLS 1.2 resumption by ticket).
    pub ticket: Option<Vec<u8>>,
    /// `early_data` offered (TLS 1.3 0-RTT).
    pub early_data: bool,
    /// `encrypt_then_mac` offered (RFC 7366).
    pub encrypt_then_mac: bool,
}

/// What a ServerHello says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// The server random.
    pub random: [u8; 32],
    /// `legacy_session_id_echo` / the TLS 1.2 session ID.
    pub session_id: Vec<u8>,
    /// The cipher suite chosen.
    pub suite: u16,
    /// The version chosen: `supported_versions` when present, else the legacy field.
    pub version: u16,
    /// ALPN protocol chosen (TLS 1.2; TLS 1.3 sends it in EncryptedExtensions).
    pub alpn: Option<String>,
    /// `pre_shared_key` chosen (TLS 1.3 resumption).
    pub psk: bool,
    /// `encrypt_then_mac` accepted.
    pub encrypt_then_mac: bool,
    /// A HelloRetryRequest: the real ServerHello comes after a second ClientHello.
    pub retry: bool,
}

/// A handshake message, parsed as far as the decoder needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// ClientHello.
    ClientHello(ClientHello),
    /// ServerHello or HelloRetryRequest.
    ServerHello(ServerHello),
    /// TLS 1.3 EncryptedExtensions: the ALPN protocol chosen and whether 0-RTT data was
    /// accepted.
    EncryptedExtensions {
        /// ALPN protocol chosen.
        alpn: Option<String>,
        /// `early_data` accepted.
        early_data: bool,
    },
    /// A TLS 1.2 NewSessionTicket's ticket (TLS 1.3 tickets are not needed: the key log
    /// names a resumed connection's secrets by its own random).
    Ticket(Vec<u8>),
    /// TLS 1.3 EndOfEarlyData: the client's next records use its handshake keys.
    EndOfEarlyData,
    /// Finished: the sender's next records use its application keys (TLS 1.3).
    Finished,
    /// TLS 1.3 KeyUpdate: the sender's next records use its next generation of keys.
    KeyUpdate,
    /// Another message (certificates, key exchange...), not needed.
    Other(u8),
}

/// Parses the body of a handshake message of type `ty`.
pub fn parse(ty: u8, body: &[u8], tls13: bool) -> Result<Message, Malformed> {
    let bad = Malformed(ty);
    let mut r = Reader(body);
    Ok(match ty {
        kind::CLIENT_HELLO => Message::ClientHello(client_hello(&mut r).ok_or(bad)?),
        kind::SERVER_HELLO => Message::ServerHello(server_hello(&mut r).ok_or(bad)?),
        kind::ENCRYPTED_EXTENSIONS => {
            let (mut alpn, mut early_data) = (None, false);
            extensions(&mut r, |ty, mut e| {
                match ty {
                    ext::ALPN => alpn = alpn_list(&mut e)?.into_iter().next(),
                    ext::EARLY_DATA => early_data = true,
                    _ => {}
                }
                Some(())
            })
            .ok_or(bad)?;
            Message::EncryptedExtensions { alpn, early_data }
        }
        kind::NEW_SESSION_TICKET if !tls13 => {
            r.u32().ok_or(bad)?;
            Message::Ticket(r.vec16().ok_or(bad)?.to_vec())
        }
        kind::END_OF_EARLY_DATA => Message::EndOfEarlyData,
        kind::FINISHED => Message::Finished,
        kind::KEY_UPDATE => Message::KeyUpdate,
        other => Message::Other(other),
    })
}

/// Extension types (IANA TLS ExtensionType values).
mod ext {
    pub const SERVER_NAME: u16 = 0;
    pub const ALPN: u16 = 16;
    pub const ENCRYPT_THEN_MAC: u16 = 22;
    pub const SESSION_TICKET: u16 = 35;
    pub const PRE_SHARED_KEY: u16 = 41;
    pub const EARLY_DATA: u16 = 42;
    pub const SUPPORTED_VERSIONS: u16 = 43;
}

fn client_hello(r: &mut Reader) -> Option<ClientHello> {
    r.u16()?;
    let mut h = ClientHello {
        random: r.array()?,
        session_id: r.vec8()?.to_vec(),
        ..ClientHello::default()
    };
    r.vec16()?;
    r.vec8()?;
    if r.0.is_empty() {
        return Some(h);
    }
    extensions(r, |ty, mut e| {
        match ty {
            ext::SERVER_NAME => {
                let mut list = Reader(e.vec16()?);
                while !list.0.is_empty() {
                    let name_type = list.u8()?;
                    let name = list.vec16()?;
                    if name_type == 0 && h.sni.is_none() {
                        h.sni = Some(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
            ext::ALPN => h.alpn = alpn_list(&mut e)?,
            ext::SESSION_TICKET if !e.0.is_empty() => h.ticket = Some(e.0.to_vec()),
            ext::EARLY_DATA => h.early_data = true,
            ext::ENCRYPT_THEN_MAC => h.encrypt_then_mac = true,
            _ => {}
        }
        Some(())
    })?;
    Some(h)
}

fn server_hello(r: &mut Reader) -> Option<ServerHello> {
    let legacy = r.u16()?;
    let random: [u8; 32] = r.array()?;
    let mut h = ServerHello {
        retry: random == RETRY_RANDOM,
        random,
        session_id: r.vec8()?.to_vec(),
        suite: r.u16()?,
        version: legacy,
        ..ServerHello::default()
    };
    r.u8()?;
    if r.0.is_empty() {
        return Some(h);
    }
    extensions(r, |ty, mut e| {
        match ty {
            ext::SUPPORTED_VERSIONS => h.version = e.u16()?,
            ext::ALPN => h.alpn = alpn_list(&mut e)?.into_iter().next(),
            ext::PRE_SHARED_KEY => h.psk = true,
            ext::ENCRYPT_THEN_MAC => h.encrypt_then_mac = true,
            _ => {}
        }
        Some(())
    })?;
    Some(h)
}

/// Walks an extension block (`u16` length, then `type, u16 length, data` entries).
fn extensions(r: &mut Reader, mut each: impl FnMut(u16, Reader) -> Option<()>) -> Option<()> {
    let mut list = Reader(r.vec16()?);
    while !list.0.is_empty() {
        let ty = list.u16()?;
        each(ty, Reader(list.vec16()?))?;
    }
    Some(())
}

fn alpn_list(r: &mut Reader) -> Option<Vec<String>> {
    let mut list = Reader(r.vec16()?);
    let mut v = Vec::new();
    while !list.0.is_empty() {
        v.push(String::from_utf8_lossy(list.vec8()?).into_owned());
    }
    Some(v)
}

/// A cursor over a message: every read checks its length.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array()?))
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(ty: u16, data: &[u8]) -> Vec<u8> {
        let mut v = ty.to_be_bytes().to_vec();
        v.extend((data.len() as u16).to_be_bytes());
        v.extend(data);
        v
    }

    fn vec16(data: &[u8]) -> Vec<u8> {
        let mut v = (data.len() as u16).to_be_bytes().to_vec();
        v.extend(data);
        v
    }

    fn client_hello_bytes() -> Vec<u8> {
        let mut b = vec![3, 3];
        b.extend([7u8; 32]);
        b.extend([4, 1, 2, 3, 4]);
        b.extend(vec16(&[0x13, 0x01, 0x13, 0x02]));
        b.extend([1, 0]);
        let mut exts = Vec::new();
        let mut sni = vec![0];
        sni.extend(vec16(b"ws.test"));
        exts.extend(ext(0, &vec16(&sni)));
        exts.extend(ext(16, &vec16(b"\x02h2\x08http/1.1")));
        exts.extend(ext(35, b"TICKET"));
        exts.extend(ext(42, b""));
        exts.extend(ext(22, b""));
        b.extend(vec16(&exts));
        b
    }

    #[test]
    fn client_hello_gives_random_sni_alpn_and_resumption_offers() {
        let Message::ClientHello(h) = parse(1, &client_hello_bytes(), false).unwrap() else {
            panic!()
        };
        assert_eq!(h.random, [7; 32]);
        assert_eq!(h.session_id, [1, 2, 3, 4]);
        assert_eq!(h.sni.as_deref(), Some("ws.test"));
        assert_eq!(h.alpn, ["h2", "http/1.1"]);
        assert_eq!(h.ticket.as_deref(), Some(&b"TICKET"[..]));
        assert!(h.early_data && h.encrypt_then_mac);
    }

    #[test]
    fn server_hello_version_comes_from_supported_versions() {
        let mut b = vec![3, 3];
        b.extend(RETRY_RANDOM);
        b.extend([0, 0x13, 0x02, 0]);
        let mut exts = ext(43, &[3, 4]);
        exts.extend(ext(41, &[0, 0]));
        b.extend(vec16(&exts));
        let Message::ServerHello(h) = parse(2, &b, false).unwrap() else {
            panic!()
        };
        assert_eq!(
            (h.version, h.suite, h.psk, h.retry),
            (TLS13, 0x1302, true, true)
        );
        // Without extensions: TLS 1.2 from the legacy field.
        let Message::ServerHello(h) = parse(2, &b[..38], false).unwrap() else {
            panic!()
        };
        assert_eq!((h.version, h.psk, h.retry), (0x0303, false, true));
    }

    #[test]
    fn every_truncation_is_malformed_not_a_panic() {
        let b = client_hello_bytes();
        for n in 0..b.len() {
            let r = parse(1, &b[..n], false);
            // A hello cut exactly before its extensions is a valid old-style hello.
            assert!(r.is_err() || n == 2 + 32 + 5 + 6 + 2, "{n}");
        }
        assert_eq!(parse(4, &[0, 0, 0, 1, 0, 9], false), Err(Malformed(4)));
        assert_eq!(
            parse(4, &[0, 0, 0, 1, 0, 1, 9], false),
            Ok(Message::Ticket(vec![9]))
        );
    }
}
