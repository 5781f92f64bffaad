//! What each cipher suite id is: its IANA name and, for the suites we decrypt, its
//! record protection and key schedule hash.

/// Protocol versions whose records we can open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// TLS 1.2 (RFC 5246): keys from the master secret, explicit content type.
    Tls12,
    /// TLS 1.3 (RFC 8446): keys from traffic secrets, content type inside the record.
    Tls13,
}

/// A hash of the key schedule: TLS 1.3's HKDF hash, TLS 1.2's PRF hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256, 32-byte output.
    Sha256,
    /// SHA-384, 48-byte output.
    Sha384,
}

impl HashAlg {
    /// Its output length in bytes: the length of a TLS 1.3 secret under this hash.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }
}

/// The record MAC of a CBC suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MacAlg {
    Sha1,
    Sha256,
    Sha384,
}

impl MacAlg {
    pub(super) fn len(self) -> usize {
        match self {
            MacAlg::Sha1 => 20,
            MacAlg::Sha256 => 32,
            MacAlg::Sha384 => 48,
        }
    }
}

/// The record protection of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bulk {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    Aes128Cbc(MacAlg),
    Aes256Cbc(MacAlg),
}

impl Bulk {
    pub(super) fn key_len(self) -> usize {
        match self {
            Bulk::Aes128Gcm | Bulk::Aes128Cbc(_) => 16,
            Bulk::Aes256Gcm | Bulk::ChaCha20Poly1305 | Bulk::Aes256Cbc(_) => 32,
        }
    }

    /// The IV bytes the TLS 1.2 key block holds per side: GCM's implicit salt,
    /// ChaCha20's whole IV; none for CBC, whose IV travels in each record.
    pub(super) fn tls12_iv_len(self) -> usize {
        match self {
            Bulk::Aes128Gcm | Bulk::Aes256Gcm => 4,
            Bulk::ChaCha20Poly1305 => 12,
            Bulk::Aes128Cbc(_) | Bulk::Aes256Cbc(_) => 0,
        }
    }

    pub(super) fn mac(self) -> Option<MacAlg> {
        match self {
            Bulk::Aes128Cbc(mac) | Bulk::Aes256Cbc(mac) => Some(mac),
            Bulk::Aes128Gcm | Bulk::Aes256Gcm | Bulk::ChaCha20Poly1305 => None,
        }
    }
}

/// A cipher suite we know how to decrypt: the TLS 1.3 AES-GCM and ChaCha20 suites, and
/// the TLS 1.2 AES-GCM, ChaCha20-Poly1305 (RFC 7905) and AES-CBC with HMAC-SHA1,
/// -SHA256 or -SHA384 suites, whatever their key exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    id: u16,
    name: &'static str,
    pub(super) bulk: Bulk,
    pub(super) hash: HashAlg,
}

impl Suite {
    /// The suite with IANA id `id`, when we can decrypt it.
    pub fn from_id(id: u16) -> Option<Suite> {
        let known = lookup(id)?;
        let (bulk, hash) = known.cipher?;
        Some(Suite {
            id,
            name: known.name,
            bulk,
            hash,
        })
    }

    /// Its IANA id.
    pub fn id(self) -> u16 {
        self.id
    }

    /// Its IANA name, e.g. "TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".
    pub fn name(self) -> &'static str {
        self.name
    }

    /// TLS 1.3 suites are 0x13xx.
    pub fn is_tls13(self) -> bool {
        self.id >> 8 == 0x13
    }

    /// The protocol version whose records this suite protects.
    pub fn version(self) -> Version {
        if self.is_tls13() {
            Version::Tls13
        } else {
            Version::Tls12
        }
    }

    /// Its key schedule hash: the HKDF hash (TLS 1.3) or the PRF hash (TLS 1.2).
    pub fn hash(self) -> HashAlg {
        self.hash
    }
}

/// The IANA name of any well-known suite id, supported or not (for display: flow records
/// show the negotiated suite even when we cannot decrypt it). None for unknown ids.
pub fn suite_name(id: u16) -> Option<&'static str> {
    lookup(id).map(|k| k.name)
}

/// One row of the suite table: its id, its name and, when we decrypt it, how.
pub(super) struct Known {
    pub(super) id: u16,
    pub(super) name: &'static str,
    cipher: Option<(Bulk, HashAlg)>,
}

fn lookup(id: u16) -> Option<&'static Known> {
    let i = SUITES.binary_search_by_key(&id, |k| k.id).ok()?;
    SUITES.get(i)
}

const fn known(id: u16, name: &'static str, cipher: Option<(Bulk, HashAlg)>) -> Known {
    Known { id, name, cipher }
}

const NO: Option<(Bulk, HashAlg)> = None;
const GCM128: Option<(Bulk, HashAlg)> = Some((Bulk::Aes128Gcm, HashAlg::Sha256));
const GCM256: Option<(Bulk, HashAlg)> = Some((Bulk::Aes256Gcm, HashAlg::Sha384));
const CHACHA: Option<(Bulk, HashAlg)> = Some((Bulk::ChaCha20Poly1305, HashAlg::Sha256));
const CBC128_SHA: Option<(Bulk, HashAlg)> = Some((Bulk::Aes128Cbc(MacAlg::Sha1), HashAlg::Sha256));
const CBC256_SHA: Option<(Bulk, HashAlg)> = Some((Bulk::Aes256Cbc(MacAlg::Sha1), HashAlg::Sha256));
const CBC128_SHA256: Option<(Bulk, HashAlg)> =
    Some((Bulk::Aes128Cbc(MacAlg::Sha256), HashAlg::Sha256));
const CBC256_SHA256: Option<(Bulk, HashAlg)> =
    Some((Bulk::Aes256Cbc(MacAlg::Sha256), HashAlg::Sha256));
const CBC256_SHA384: Option<(Bulk, HashAlg)> =
    Some((Bulk::Aes256Cbc(MacAlg::Sha384), HashAlg::Sha384));

/// The suites we name, sorted by id (a test checks): the ones browsers, OpenSSL and
/// common servers negotiate, with how to decrypt those we can.
pub(super) static SUITES: &[Known] = &[
    known(0x0000, "TLS_NULL_WITH_NULL_NULL", NO),
    known(0x0001, "TLS_RSA_WITH_NULL_MD5", NO),
    known(0x0002, "TLS_RSA_WITH_NULL_SHA", NO),
    known(0x0004, "TLS_RSA_WITH_RC4_128_MD5", NO),
    known(0x0005, "TLS_RSA_WITH_RC4_128_SHA", NO),
    known(0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", NO),
    known(0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", NO),
    known(0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", NO),
    known(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", CBC128_SHA),
    known(0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", CBC128_SHA),
    known(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", CBC128_SHA),
    known(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", CBC256_SHA),
    known(0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", CBC256_SHA),
    known(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", CBC256_SHA),
    known(0x003B, "TLS_RSA_WITH_NULL_SHA256", NO),
    known(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", CBC128_SHA256),
    known(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", CBC256_SHA256),
    known(0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", CBC128_SHA256),
    known(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", CBC128_SHA256),
    known(0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", CBC256_SHA256),
    known(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", CBC256_SHA256),
    known(0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA", CBC128_SHA),
    known(0x008D, "TLS_PSK_WITH_AES_256_CBC_SHA", CBC256_SHA),
    known(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", GCM128),
    known(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", GCM256),
    known(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", GCM128),
    known(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", GCM256),
    known(0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", GCM128),
    known(0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", GCM256),
    known(0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256", GCM128),
    known(0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384", GCM256),
    known(0x00AE, "TLS_PSK_WITH_AES_128_CBC_SHA256", CBC128_SHA256),
    known(0x00AF, "TLS_PSK_WITH_AES_256_CBC_SHA384", CBC256_SHA384),
    known(0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", NO),
    known(0x1301, "TLS_AES_128_GCM_SHA256", GCM128),
    known(0x1302, "TLS_AES_256_GCM_SHA384", GCM256),
    known(0x1303, "TLS_CHACHA20_POLY1305_SHA256", CHACHA),
    known(0x1304, "TLS_AES_128_CCM_SHA256", NO),
    known(0x1305, "TLS_AES_128_CCM_8_SHA256", NO),
    known(0x5600, "TLS_FALLBACK_SCSV", NO),
    known(0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", CBC128_SHA),
    known(0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", CBC256_SHA),
    known(0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", NO),
    known(0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", NO),
    known(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", CBC128_SHA),
    known(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", CBC256_SHA),
    known(0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", CBC128_SHA),
    known(0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", CBC256_SHA),
    known(0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", NO),
    known(0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", NO),
    known(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", CBC128_SHA),
    known(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", CBC256_SHA),
    known(
        0xC023,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        CBC128_SHA256,
    ),
    known(
        0xC024,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        CBC256_SHA384,
    ),
    known(
        0xC025,
        "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256",
        CBC128_SHA256,
    ),
    known(
        0xC026,
        "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384",
        CBC256_SHA384,
    ),
    known(
        0xC027,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        CBC128_SHA256,
    ),
    known(
        0xC028,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        CBC256_SHA384,
    ),
    known(
        0xC029,
        "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256",
        CBC128_SHA256,
    ),
    known(
        0xC02A,
        "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384",
        CBC256_SHA384,
    ),
    known(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", GCM128),
    known(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", GCM256),
    known(0xC02D, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", GCM128),
    known(0xC02E, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", GCM256),
    known(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", GCM128),
    known(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", GCM256),
    known(0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", GCM128),
    known(0xC032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", GCM256),
    known(0xC035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", CBC128_SHA),
    known(0xC036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA", CBC256_SHA),
    known(
        0xC037,
        "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256",
        CBC128_SHA256,
    ),
    known(
        0xC038,
        "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384",
        CBC256_SHA384,
    ),
    known(0xC09C, "TLS_RSA_WITH_AES_128_CCM", NO),
    known(0xC09D, "TLS_RSA_WITH_AES_256_CCM", NO),
    known(0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM", NO),
    known(0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM", NO),
    known(0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8", NO),
    known(0xC0A1, "TLS_RSA_WITH_AES_256_CCM_8", NO),
    known(0xC0A2, "TLS_DHE_RSA_WITH_AES_128_CCM_8", NO),
    known(0xC0A3, "TLS_DHE_RSA_WITH_AES_256_CCM_8", NO),
    known(0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", NO),
    known(0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", NO),
    known(0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", NO),
    known(0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", NO),
    known(
        0xCCA8,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        CHACHA,
    ),
    known(
        0xCCA9,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        CHACHA,
    ),
    known(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", CHACHA),
    known(0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", CHACHA),
    known(
        0xCCAC,
        "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
        CHACHA,
    ),
    known(0xCCAD, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256", CHACHA),
    known(0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256", CHACHA),
];
