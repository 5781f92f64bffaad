//! TLS 1.3 for the generator (`Options::tls`): the handshake flights, shaped like
//! OpenSSL's with TLS_AES_128_GCM_SHA256 over x25519, and the record protection of
//! RFC 8446 §5.2 with keys from random traffic secrets that the NSS key log names.
//!
//! Nothing here is a real key exchange: the key shares, the signature and the Finished
//! verify data are random bytes of the right lengths, and the secrets do not derive from
//! them. A decoder with the key log cannot tell, since it never checks those; the bytes
//! on the wire have the layout real peers give them, so tshark reads them too.

use crate::Rng;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use std::io::{self, Write};

/// Largest plaintext of one record (RFC 8446 §5.1), bytes.
pub const MAX_PLAINTEXT: usize = 1 << 14;

/// The server name the client asks for.
pub const SERVER_NAME: &str = "feed.example";

/// Record content types (RFC 8446 §5.1).
const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;
/// Content type of the records carrying WebSocket bytes.
pub const APPLICATION_DATA: u8 = 23;

/// TLS_AES_128_GCM_SHA256.
const SUITE: u16 = 0x1301;

/// The middlebox-compatibility ChangeCipherSpec record each side sends once.
const CCS: [u8; 6] = [CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1];

/// A self-signed Ed25519 certificate for `feed.example`, made once with
/// `openssl req -x509 -newkey ed25519 -subj /CN=feed.example -outform DER`: the server's
/// Certificate message carries a real one so that tshark shows it as one.
const CERTIFICATE: &[u8] = include_bytes!("feed.example.der");

/// One direction's record protection: AES-128-GCM with the key and IV of a traffic
/// secret, and the sequence number of the next record.
pub struct Sealer {
    aead: Aes128Gcm,
    iv: [u8; 12],
    seq: u64,
}

impl Sealer {
    /// The sealer of `secret`: key and IV by HKDF-Expand-Label (RFC 8446 §7.3).
    pub fn new(secret: &[u8; 32]) -> io::Result<Sealer> {
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        expand_label(secret, b"key", &mut key)?;
        expand_label(secret, b"iv", &mut iv)?;
        let aead = Aes128Gcm::new_from_slice(&key).map_err(|_| io::Error::other("AES key"))?;
        Ok(Sealer { aead, iv, seq: 0 })
    }

    /// Appends one application write `data` of content type `ty` as records of at most
    /// [`MAX_PLAINTEXT`] bytes (one record when `data` is empty), as OpenSSL cuts a
    /// write; returns how many.
    pub fn seal(&mut self, ty: u8, data: &[u8], out: &mut Vec<u8>) -> io::Result<u64> {
        if data.is_empty() {
            self.record(ty, data, out)?;
            return Ok(1);
        }
        let mut n = 0;
        for chunk in data.chunks(MAX_PLAINTEXT) {
            self.record(ty, chunk, out)?;
            n += 1;
        }
        Ok(n)
    }

    /// Appends one record: header, `chunk` and `ty` encrypted, tag.
    fn record(&mut self, ty: u8, chunk: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        let len = (chunk.len() + 1 + 16) as u16;
        let start = out.len();
        out.extend_from_slice(&[APPLICATION_DATA, 3, 3]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(chunk);
        out.push(ty);
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        let (header, body) = out[start..].split_at_mut(5);
        let tag = self
            .aead
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), header, body)
            .map_err(|_| io::Error::other("AES-GCM seal"))?;
        out.extend_from_slice(&tag);
        self.seq += 1;
        Ok(())
    }
}

/// HKDF-Expand-Label(secret, label, "", out.len()) with SHA-256 (RFC 8446 §7.1).
fn expand_label(secret: &[u8; 32], label: &[u8], out: &mut [u8]) -> io::Result<()> {
    let mut info = Vec::with_capacity(10 + label.len());
    info.extend_from_slice(&(out.len() as u16).to_be_bytes());
    info.push(6 + label.len() as u8);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    Hkdf::<Sha256>::from_prk(secret)
        .map_err(|_| io::Error::other("HKDF PRK"))?
        .expand(&info, out)
        .map_err(|_| io::Error::other("HKDF length"))
}

/// The random values of one connection's handshake and its four secrets.
pub struct Handshake {
    client_random: [u8; 32],
    server_random: [u8; 32],
    session_id: [u8; 32],
    client_share: [u8; 32],
    server_share: [u8; 32],
    signature: [u8; 64],
    client_finished: [u8; 32],
    server_finished: [u8; 32],
    ticket: [u8; 96],
    ticket_age_add: u32,
    client_handshake: [u8; 32],
    server_handshake: [u8; 32],
    client_traffic: [u8; 32],
    server_traffic: [u8; 32],
}

fn fill<const N: usize>(rng: &mut Rng) -> [u8; N] {
    let mut b = [0u8; N];
    for c in b.chunks_mut(8) {
        c.copy_from_slice(&rng.next_u64().to_le_bytes()[..c.len()]);
    }
    b
}

impl Handshake {
    /// A connection's handshake, all its randoms from `rng`.
    pub fn new(rng: &mut Rng) -> Handshake {
        Handshake {
            client_random: fill(rng),
            server_random: fill(rng),
            session_id: fill(rng),
            client_share: fill(rng),
            server_share: fill(rng),
            signature: fill(rng),
            client_finished: fill(rng),
            server_finished: fill(rng),
            ticket: fill(rng),
            ticket_age_add: rng.next_u64() as u32,
            client_handshake: fill(rng),
            server_handshake: fill(rng),
            client_traffic: fill(rng),
            server_traffic: fill(rng),
        }
    }

    /// Writes the connection's NSS key log lines.
    pub fn keylog(&self, w: &mut dyn Write) -> io::Result<()> {
        let random = hex(&self.client_random);
        for (label, secret) in [
            ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", &self.client_handshake),
            ("SERVER_HANDSHAKE_TRAFFIC_SECRET", &self.server_handshake),
            ("CLIENT_TRAFFIC_SECRET_0", &self.client_traffic),
            ("SERVER_TRAFFIC_SECRET_0", &self.server_traffic),
        ] {
            writeln!(w, "{label} {random} {}", hex(secret))?;
        }
        Ok(())
    }

    /// Sealers of the encrypted handshake: client's, server's.
    pub fn handshake_sealers(&self) -> io::Result<[Sealer; 2]> {
        Ok([
            Sealer::new(&self.client_handshake)?,
            Sealer::new(&self.server_handshake)?,
        ])
    }

    /// Sealers of the application data: client's, server's.
    pub fn traffic_sealers(&self) -> io::Result<[Sealer; 2]> {
        Ok([
            Sealer::new(&self.client_traffic)?,
            Sealer::new(&self.server_traffic)?,
        ])
    }

    /// Appends the client's first flight: the ClientHello record.
    pub fn client_hello(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[HANDSHAKE, 3, 1]);
        nested(out, 2, |out| {
            message(out, 1, |out| {
                out.extend_from_slice(&[3, 3]);
                out.extend_from_slice(&self.client_random);
                out.push(32);
                out.extend_from_slice(&self.session_id);
                nested(out, 2, |out| {
                    for suite in [SUITE, 0x1302, 0x1303] {
                        out.extend_from_slice(&suite.to_be_bytes());
                    }
                });
                out.extend_from_slice(&[1, 0]);
                nested(out, 2, |out| {
                    extension(out, 0, |out| {
                        nested(out, 2, |out| {
                            out.push(0);
                            nested(out, 2, |out| out.extend_from_slice(SERVER_NAME.as_bytes()));
                        })
                    });
                    // supported_groups: x25519.
                    extension(out, 10, |out| out.extend_from_slice(&[0, 2, 0, 0x1d]));
                    // signature_algorithms: ed25519, ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256.
                    extension(out, 13, |out| {
                        out.extend_from_slice(&[0, 6, 8, 7, 4, 3, 8, 4])
                    });
                    extension(out, 16, alpn);
                    // supported_versions: TLS 1.3.
                    extension(out, 43, |out| out.extend_from_slice(&[2, 3, 4]));
                    // psk_key_exchange_modes: psk_dhe_ke.
                    extension(out, 45, |out| out.extend_from_slice(&[1, 1]));
                    extension(out, 51, |out| {
                        nested(out, 2, |out| key_share(out, &self.client_share))
                    });
                });
            })
        });
    }

    /// Appends the server's flight: ServerHello, ChangeCipherSpec, then
    /// EncryptedExtensions, Certificate, CertificateVerify and Finished in one record
    /// sealed by `sealer` (the server handshake keys); returns the records written.
    pub fn server_flight(&self, sealer: &mut Sealer, out: &mut Vec<u8>) -> io::Result<u64> {
        out.extend_from_slice(&[HANDSHAKE, 3, 3]);
        nested(out, 2, |out| {
            message(out, 2, |out| {
                out.extend_from_slice(&[3, 3]);
                out.extend_from_slice(&self.server_random);
                out.push(32);
                out.extend_from_slice(&self.session_id);
                out.extend_from_slice(&SUITE.to_be_bytes());
                out.push(0);
                nested(out, 2, |out| {
                    extension(out, 43, |out| out.extend_from_slice(&[3, 4]));
                    extension(out, 51, |out| key_share(out, &self.server_share));
                });
            })
        });
        out.extend_from_slice(&CCS);
        let mut hs = Vec::with_capacity(CERTIFICATE.len() + 256);
        message(&mut hs, 8, |out| {
            nested(out, 2, |out| extension(out, 16, alpn))
        });
        message(&mut hs, 11, |out| {
            out.push(0);
            nested(out, 3, |out| {
                nested(out, 3, |out| out.extend_from_slice(CERTIFICATE));
                out.extend_from_slice(&[0, 0]);
            });
        });
        message(&mut hs, 15, |out| {
            out.extend_from_slice(&[8, 7]);
            nested(out, 2, |out| out.extend_from_slice(&self.signature));
        });
        message(&mut hs, 20, |out| {
            out.extend_from_slice(&self.server_finished)
        });
        Ok(2 + sealer.seal(HANDSHAKE, &hs, out)?)
    }

    /// Appends the client's second flight: ChangeCipherSpec and Finished sealed by
    /// `sealer` (the client handshake keys); returns the records written.
    pub fn client_finished(&self, sealer: &mut Sealer, out: &mut Vec<u8>) -> io::Result<u64> {
        out.extend_from_slice(&CCS);
        let mut hs = Vec::with_capacity(36);
        message(&mut hs, 20, |out| {
            out.extend_from_slice(&self.client_finished)
        });
        Ok(1 + sealer.seal(HANDSHAKE, &hs, out)?)
    }

    /// Appends a NewSessionTicket sealed by `sealer` (the server traffic keys), as
    /// OpenSSL sends after the client's Finished; returns the records written.
    pub fn ticket(&self, sealer: &mut Sealer, out: &mut Vec<u8>) -> io::Result<u64> {
        let mut hs = Vec::with_capacity(self.ticket.len() + 32);
        message(&mut hs, 4, |out| {
            out.extend_from_slice(&7200u32.to_be_bytes());
            out.extend_from_slice(&self.ticket_age_add.to_be_bytes());
            out.push(8);
            out.extend_from_slice(&0u64.to_be_bytes());
            nested(out, 2, |out| out.extend_from_slice(&self.ticket));
            out.extend_from_slice(&[0, 0]);
        });
        sealer.seal(HANDSHAKE, &hs, out)
    }
}

/// Appends what `body` writes, after its length as a `width`-byte big-endian number.
fn nested(out: &mut Vec<u8>, width: usize, body: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.resize(at + width, 0);
    body(out);
    let len = (out.len() - at - width) as u64;
    out[at..at + width].copy_from_slice(&len.to_be_bytes()[8 - width..]);
}

/// Appends a handshake message of type `ty`.
fn message(out: &mut Vec<u8>, ty: u8, body: impl FnOnce(&mut Vec<u8>)) {
    out.push(ty);
    nested(out, 3, body);
}

/// Appends an extension of type `ty`.
fn extension(out: &mut Vec<u8>, ty: u16, body: impl FnOnce(&mut Vec<u8>)) {
    out.extend_from_slice(&ty.to_be_bytes());
    nested(out, 2, body);
}

/// The body of an ALPN extension naming `http/1.1` (what a wss:// client offers).
fn alpn(out: &mut Vec<u8>) {
    nested(out, 2, |out| {
        out.push(8);
        out.extend_from_slice(b"http/1.1");
    });
}

/// A KeyShareEntry for x25519.
fn key_share(out: &mut Vec<u8>, share: &[u8; 32]) {
    out.extend_from_slice(&0x001du16.to_be_bytes());
    nested(out, 2, |out| out.extend_from_slice(share));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of the record header, the AEAD tag and the inner content type a record adds.
    const OVERHEAD: usize = 5 + 16 + 1;

    /// RFC 8448 §3: the server handshake traffic secret gives this key and IV.
    #[test]
    fn expand_label_rfc8448() {
        let secret = unhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let secret: [u8; 32] = secret.try_into().unwrap();
        let (mut key, mut iv) = ([0u8; 16], [0u8; 12]);
        expand_label(&secret, b"key", &mut key).unwrap();
        expand_label(&secret, b"iv", &mut iv).unwrap();
        assert_eq!(hex(&key), "3fce516009c21727d0f2e4e86ee403bc");
        assert_eq!(hex(&iv), "5d313eb2671276ee13000b30");
    }

    #[test]
    fn writes_are_cut_into_records() {
        let mut s = Sealer::new(&[7; 32]).unwrap();
        let mut out = Vec::new();
        assert_eq!(s.seal(APPLICATION_DATA, &[], &mut out).unwrap(), 1);
        assert_eq!(out[..5], [23, 3, 3, 0, 17]);
        assert_eq!(out.len(), OVERHEAD);
        out.clear();
        let data = vec![0x55; MAX_PLAINTEXT + 10];
        assert_eq!(s.seal(APPLICATION_DATA, &data, &mut out).unwrap(), 2);
        assert_eq!(out.len(), data.len() + 2 * OVERHEAD);
        assert_eq!(&out[3..5], &((MAX_PLAINTEXT + 17) as u16).to_be_bytes());
    }

    #[test]
    fn hellos_are_framed() {
        let h = Handshake::new(&mut Rng::new(3));
        let mut ch = Vec::new();
        h.client_hello(&mut ch);
        assert_eq!(ch[..3], [22, 3, 1]);
        assert_eq!(
            usize::from(u16::from_be_bytes([ch[3], ch[4]])),
            ch.len() - 5
        );
        assert_eq!(ch[5], 1);
        assert_eq!(ch[11..43], h.client_random);
        let mut sh = Vec::new();
        let mut sealer = h.handshake_sealers().unwrap();
        assert_eq!(h.server_flight(&mut sealer[1], &mut sh).unwrap(), 3);
        let hello = 5 + usize::from(u16::from_be_bytes([sh[3], sh[4]]));
        assert_eq!(sh[hello..hello + 6], CCS);
        assert_eq!(sh[hello + 6], APPLICATION_DATA);
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
