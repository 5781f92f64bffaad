//! Known answers from RFC 8448 and the IETF TLS list's PRF vectors, and round trips
//! through records sealed here with RustCrypto, independently of ring.

use super::suite::SUITES;
use super::*;

use aes::cipher::{BlockEncryptMut, KeyIvInit};
use aes_gcm::aead::AeadInPlace;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn suite(id: u16) -> Suite {
    Suite::from_id(id).unwrap()
}

/// Splits a whole record into its header and a body to open in place.
fn split(record: &[u8]) -> ([u8; 5], Vec<u8>) {
    let (header, body) = record.split_first_chunk::<5>().unwrap();
    assert_eq!(
        usize::from(u16::from_be_bytes([header[3], header[4]])),
        body.len()
    );
    (*header, body.to_vec())
}

/// Opens a whole record; the content type and the plaintext.
fn open(opener: &Opener, seq: u64, record: &[u8]) -> Result<(u8, Vec<u8>), OpenError> {
    let (header, mut body) = split(record);
    let opened = opener.open(seq, &header, &mut body)?;
    Ok((opened.content_type, body[opened.plaintext].to_vec()))
}

// RFC 8448 §3, "Simple 1-RTT Handshake" (TLS_AES_128_GCM_SHA256).
const S_HS_SECRET: &str = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38";
const C_HS_SECRET: &str = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21";
const C_AP_SECRET: &str = "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5";
const S_AP_SECRET: &str = "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643";

/// "{server} send handshake record": EncryptedExtensions, Certificate, CertificateVerify,
/// Finished, 679 octets.
const SERVER_FLIGHT_RECORD: &str = "
    17030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af35e
    df7869fcf40aa40aa2b8ea73f848a7ca07612ef9f945cb960b4068905123ea78
    b111b429ba9191cd05d2a389280f526134aadc7fc78c4b729df828b5ecf7b13b
    d9aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e37d57a6b9
    d7477609aee6e122a4cf51427325250c7d0e509289444c9b3a648f1d71035d2e
    d65b0e3cdd0cbae8bf2d0b227812cbb360987255cc744110c453baa4fcd61092
    8d809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70a2559c09ead68694
    5ba246ab66e5edd8044b4c6de3fcf2a89441ac66272fd8fb330ef8190579b368
    4596c960bd596eea520a56a8d650f563aad27409960dca63d3e688611ea5e22f
    4415cf9538d51a200c27034272968a264ed6540c84838d89f72c24461aad6d26
    f59ecaba9acbbb317b66d902f4f292a36ac1b639c637ce343117b65962224531
    7b49eeda0c6258f100d7d961ffb138647e92ea330faeea6dfa31c7a84dc3bd7e
    1b7a6c7178af36879018e3f252107f243d243dc7339d5684c8b0378bf30244da
    8c87c843f5e56eb4c5e8280a2b48052cf93b16499a66db7cca71e4599426f7d4
    61e66f99882bd89fc50800becca62d6c74116dbd2972fda1fa80f85df881edbe
    5a37668936b335583b599186dc5c6918a396fa48a181d6b6fa4f9d62d513afbb
    992f2b992f67f8afe67f76913fa388cb5630c8ca01e0c65d11c66a1e2ac4c859
    77b7c7a6999bbf10dc35ae69f5515614636c0b9b68c19ed2e31c0b3b66763038
    ebba42f3b38edc0399f3a9f23faa63978c317fc9fa66a73f60f0504de93b5b84
    5e275592c12335ee340bbc4fddd502784016e4b3be7ef04dda49f4b440a30cb5
    d2af939828fd4ae3794e44f94df5a631ede42c1719bfdabf0253fe5175be898e
    750edc53370d2b";

/// Its payload, 657 octets (the handshake messages, without the inner content type).
const SERVER_FLIGHT_PAYLOAD: &str = "
    080000240022000a00140012001d00170018001901000101010201030104001c
    00024001000000000b0001b9000001b50001b0308201ac30820115a003020102
    020102300d06092a864886f70d01010b0500300e310c300a0603550403130372
    7361301e170d3136303733303031323335395a170d3236303733303031323335
    395a300e310c300a0603550403130372736130819f300d06092a864886f70d01
    0101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c
    0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19e
    aa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e2
    2a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a
    8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304
    023000300b0603551d0f0404030205a0300d06092a864886f70d01010b050003
    81810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594
    365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd
    335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb
    2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b4
    2b4de100000f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f82
    4cd484145ab3ff52f1fda8477b0b7abc90db78e2d33a5c141a078653fa6bef78
    0c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671
    459e46445c9ea58c181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda
    65cdf5aea20d53dfacd42f74f3140000209b9b141d906337fbd2cbdce71df4de
    da4ab42c309572cb7fffee5454b78f0718";

/// "{client} send application_data record": bytes 0x00..0x31 under the client
/// application keys, the client's first record under them.
const CLIENT_DATA_RECORD: &str = "
    1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f
    2b9819a8a5b46b395bd54a9a20441e2b62974e1f5a6292a2977014bd1e3deae6
    3aeebb21694915e4";

/// "{server} send application_data record": the same bytes under the server application
/// keys, after the NewSessionTicket (sequence number 1).
const SERVER_DATA_RECORD: &str = "
    17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36
    e30efaf97d90e6dffc602dcb501a59a8fcc49c4bf2e5f0a21c0047c2abf33254
    0dd032e167c2955d";

/// "{client} send alert record": close_notify, the client's second application record.
const CLIENT_ALERT_RECORD: &str = "1703030013c9872760655666b74d7ff1153efd6db6d0b0e3";

fn expanded(hash: HashAlg, secret: &[u8], label: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    expand_label(hash, secret, label, b"", &mut out).unwrap();
    out
}

#[test]
fn rfc8448_traffic_keys() {
    for (secret, key, iv) in [
        (
            S_HS_SECRET,
            "3fce516009c21727d0f2e4e86ee403bc",
            "5d313eb2671276ee13000b30",
        ),
        (
            C_HS_SECRET,
            "dbfaa693d1762c5b666af5d950258d01",
            "5bd3c71b836e0b76bb73265f",
        ),
        (
            C_AP_SECRET,
            "17422dda596ed5d9acd890e3c63f5051",
            "5b78923dee08579033e523d9",
        ),
        (
            S_AP_SECRET,
            "9f02283b6c9c07efc26bb9f2ac92e356",
            "cf782b88dd83549aadf1e984",
        ),
    ] {
        let secret = hex(secret);
        assert_eq!(expanded(HashAlg::Sha256, &secret, b"key", 16), hex(key));
        assert_eq!(expanded(HashAlg::Sha256, &secret, b"iv", 12), hex(iv));
    }
}

#[test]
fn rfc8448_server_handshake_record() {
    let opener = Opener::tls13(suite(0x1301), &hex(S_HS_SECRET)).unwrap();
    let record = hex(SERVER_FLIGHT_RECORD);
    assert_eq!(record.len(), 679);
    let (content_type, plain) = open(&opener, 0, &record).unwrap();
    assert_eq!(content_type, 0x16);
    assert_eq!(plain, hex(SERVER_FLIGHT_PAYLOAD));
    assert_eq!(plain.len(), 657);
    assert_eq!(open(&opener, 1, &record), Err(OpenError::Auth));
}

#[test]
fn rfc8448_application_records() {
    let data: Vec<u8> = (0..=0x31).collect();
    let client = Opener::tls13(suite(0x1301), &hex(C_AP_SECRET)).unwrap();
    assert_eq!(
        open(&client, 0, &hex(CLIENT_DATA_RECORD)),
        Ok((0x17, data.clone()))
    );
    assert_eq!(
        open(&client, 1, &hex(CLIENT_ALERT_RECORD)),
        Ok((0x15, vec![1, 0]))
    );
    let server = Opener::tls13(suite(0x1301), &hex(S_AP_SECRET)).unwrap();
    assert_eq!(open(&server, 1, &hex(SERVER_DATA_RECORD)), Ok((0x17, data)));
    // Wrong sequence number, wrong direction, wrong generation: the tag fails.
    assert_eq!(
        open(&client, 1, &hex(CLIENT_DATA_RECORD)),
        Err(OpenError::Auth)
    );
    assert_eq!(
        open(&server, 0, &hex(CLIENT_DATA_RECORD)),
        Err(OpenError::Auth)
    );
    let next = client.next_generation().unwrap();
    assert_eq!(
        open(&next, 0, &hex(CLIENT_DATA_RECORD)),
        Err(OpenError::Auth)
    );
}

#[test]
fn tampered_records_fail() {
    let opener = Opener::tls13(suite(0x1301), &hex(C_AP_SECRET)).unwrap();
    let record = hex(CLIENT_DATA_RECORD);
    for i in 0..record.len() {
        let mut bad = record.clone();
        bad[i] ^= 0x40;
        // Header bytes are the AAD, the rest ciphertext or tag: all are covered.
        let (header, mut body) = (bad[..5].try_into().unwrap(), bad[5..].to_vec());
        assert_eq!(
            opener.open(0, &header, &mut body),
            Err(OpenError::Auth),
            "byte {i}"
        );
    }
}

/// HKDF-Expand-Label built here from its definition with the hkdf crate: the label
/// struct spelled out byte by byte.
fn expand_label_by_hand(hash: HashAlg, secret: &[u8], label: &str, len: usize) -> Vec<u8> {
    let mut info = (len as u16).to_be_bytes().to_vec();
    info.push(6 + label.len() as u8);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label.as_bytes());
    info.push(0);
    let mut out = vec![0u8; len];
    match hash {
        HashAlg::Sha256 => Hkdf::<Sha256>::from_prk(secret)
            .unwrap()
            .expand(&info, &mut out),
        HashAlg::Sha384 => Hkdf::<Sha384>::from_prk(secret)
            .unwrap()
            .expand(&info, &mut out),
    }
    .unwrap();
    out
}

/// Seals a TLS 1.3 record with RustCrypto: content, inner type, `padding` zeros.
fn seal13(
    id: u16,
    secret: &[u8],
    seq: u64,
    content_type: u8,
    content: &[u8],
    padding: usize,
) -> Vec<u8> {
    let hash = suite(id).hash();
    let key_len = if id == 0x1301 { 16 } else { 32 };
    let key = expand_label_by_hand(hash, secret, "key", key_len);
    let iv = expand_label_by_hand(hash, secret, "iv", 12);
    let mut nonce = iv.clone();
    for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
        *n ^= s;
    }
    let mut buf = content.to_vec();
    buf.push(content_type);
    buf.resize(buf.len() + padding, 0);
    let len = (buf.len() + 16) as u16;
    let header = [0x17, 3, 3, (len >> 8) as u8, len as u8];
    let nonce = aes_gcm::Nonce::from_slice(&nonce);
    let tag = match id {
        0x1301 => aes_gcm::Aes128Gcm::new_from_slice(&key)
            .unwrap()
            .encrypt_in_place_detached(nonce, &header, &mut buf),
        0x1302 => aes_gcm::Aes256Gcm::new_from_slice(&key)
            .unwrap()
            .encrypt_in_place_detached(nonce, &header, &mut buf),
        0x1303 => chacha20poly1305::ChaCha20Poly1305::new_from_slice(&key)
            .unwrap()
            .encrypt_in_place_detached(nonce, &header, &mut buf),
        _ => unreachable!(),
    }
    .unwrap();
    let mut record = header.to_vec();
    record.extend_from_slice(&buf);
    record.extend_from_slice(&tag);
    record
}

#[test]
fn tls13_round_trips_every_suite() {
    for id in [0x1301, 0x1302, 0x1303] {
        let secret: Vec<u8> = (0..suite(id).hash().output_len() as u8)
            .map(|i| i.wrapping_mul(7) + 1)
            .collect();
        let opener = Opener::tls13(suite(id), &secret).unwrap();
        let text = b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
        for (seq, padding) in [(0, 0), (1, 5), (2, 300), (u64::MAX, 1)] {
            let record = seal13(id, &secret, seq, 0x17, text, padding);
            assert_eq!(
                open(&opener, seq, &record),
                Ok((0x17, text.to_vec())),
                "{id:#x} {seq}"
            );
            assert_eq!(open(&opener, seq ^ 1, &record), Err(OpenError::Auth));
        }
        // An empty content is legal for application data; only all-padding is not.
        let record = seal13(id, &secret, 3, 0x17, b"", 0);
        assert_eq!(open(&opener, 3, &record), Ok((0x17, vec![])));
        let record = seal13(id, &secret, 4, 0, b"", 10);
        assert_eq!(open(&opener, 4, &record), Err(OpenError::NoContentType));
    }
}

#[test]
fn key_update_follows_the_traffic_upd_label() {
    for id in [0x1301, 0x1302, 0x1303] {
        let hash = suite(id).hash();
        let secret = vec![0x5a; hash.output_len()];
        let gen1 = expand_label_by_hand(hash, &secret, "traffic upd", hash.output_len());
        let gen2 = expand_label_by_hand(hash, &gen1, "traffic upd", hash.output_len());
        let opener = Opener::tls13(suite(id), &secret).unwrap();
        let next = opener.next_generation().unwrap();
        let after = next.next_generation().unwrap();
        let record = seal13(id, &gen1, 0, 0x17, b"after the update", 0);
        assert_eq!(
            open(&next, 0, &record),
            Ok((0x17, b"after the update".to_vec()))
        );
        assert_eq!(open(&opener, 0, &record), Err(OpenError::Auth));
        let record = seal13(id, &gen2, 7, 0x16, b"again", 0);
        assert_eq!(open(&after, 7, &record), Ok((0x16, b"again".to_vec())));
    }
}

#[test]
fn tls13_rejects_wrong_secrets_and_suites() {
    assert!(Opener::tls13(suite(0x1301), &[0; 48]).is_none());
    assert!(Opener::tls13(suite(0x1302), &[0; 32]).is_none());
    assert!(Opener::tls13(suite(0x1303), &[]).is_none());
    assert!(Opener::tls13(suite(0xC02F), &[0; 32]).is_none());
    assert!(Opener::tls12(suite(0x1301), &[0; 48], &[0; 32], &[0; 32], true, false).is_none());
}

#[test]
fn prf_sha256_known_answer() {
    let mut out = [0u8; 100];
    prf(
        HashAlg::Sha256,
        &hex("9bbe436ba940f017b17652849a71db35"),
        b"test label",
        &[&hex("a0ba9f936cda311827a6f796ffd5198c")],
        &mut out,
    );
    let want = hex(
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a
         6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab
         4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701
         87347b66",
    );
    assert_eq!(out.to_vec(), want);
}

#[test]
fn prf_sha384_known_answer() {
    let seed = hex("cd665cf6a8447dd6ff8b27555edb7465");
    let mut out = [0u8; 148];
    // The seed in two parts: the PRF sees their concatenation.
    prf(
        HashAlg::Sha384,
        &hex("b80b733d6ceefcdc71566ea48e5567df"),
        b"test label",
        &[&seed[..5], &seed[5..]],
        &mut out,
    );
    let want = hex(
        "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd
         e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd
         8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425
         9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6
         91c8f3a26854308d5eaa3be85e0990703d73e56f",
    );
    assert_eq!(out.to_vec(), want);
}

const MASTER: [u8; 48] = [0x42; 48];
const CLIENT_RANDOM: [u8; 32] = [0xc1; 32];
const SERVER_RANDOM: [u8; 32] = [0x5e; 32];

/// One side's keys from the key block, cut here by RFC 5246 §6.3's layout.
struct SideKeys {
    mac: Vec<u8>,
    key: Vec<u8>,
    iv: Vec<u8>,
}

fn side_keys(id: u16, mac_len: usize, key_len: usize, iv_len: usize, client: bool) -> SideKeys {
    let mut block = vec![0u8; 2 * (mac_len + key_len + iv_len)];
    prf(
        suite(id).hash(),
        &MASTER,
        b"key expansion",
        &[&SERVER_RANDOM, &CLIENT_RANDOM],
        &mut block,
    );
    let (macs, rest) = block.split_at(2 * mac_len);
    let (keys, ivs) = rest.split_at(2 * key_len);
    let side = usize::from(!client);
    SideKeys {
        mac: macs[side * mac_len..][..mac_len].to_vec(),
        key: keys[side * key_len..][..key_len].to_vec(),
        iv: ivs[side * iv_len..][..iv_len].to_vec(),
    }
}

fn aad12(seq: u64, content_type: u8, len: usize) -> Vec<u8> {
    let mut aad = seq.to_be_bytes().to_vec();
    aad.extend_from_slice(&[content_type, 3, 3]);
    aad.extend_from_slice(&(len as u16).to_be_bytes());
    aad
}

fn record12(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut record = vec![content_type, 3, 3];
    record.extend_from_slice(&(body.len() as u16).to_be_bytes());
    record.extend_from_slice(body);
    record
}

/// Seals a TLS 1.2 AES-GCM record with RustCrypto.
fn seal12_gcm(id: u16, client: bool, seq: u64, content_type: u8, content: &[u8]) -> Vec<u8> {
    let key_len = if suite(id).hash() == HashAlg::Sha256 {
        16
    } else {
        32
    };
    let keys = side_keys(id, 0, key_len, 4, client);
    let explicit = (seq ^ 0x0102_0304_0506_0708).to_be_bytes();
    let nonce = [&keys.iv[..], &explicit].concat();
    let nonce = aes_gcm::Nonce::from_slice(&nonce);
    let aad = aad12(seq, content_type, content.len());
    let mut buf = content.to_vec();
    let tag = if key_len == 16 {
        let aead = aes_gcm::Aes128Gcm::new_from_slice(&keys.key).unwrap();
        aead.encrypt_in_place_detached(nonce, &aad, &mut buf)
    } else {
        let aead = aes_gcm::Aes256Gcm::new_from_slice(&keys.key).unwrap();
        aead.encrypt_in_place_detached(nonce, &aad, &mut buf)
    }
    .unwrap();
    record12(content_type, &[&explicit[..], &buf, &tag].concat())
}

/// Seals a TLS 1.2 ChaCha20-Poly1305 record with RustCrypto.
fn seal12_chacha(id: u16, client: bool, seq: u64, content_type: u8, content: &[u8]) -> Vec<u8> {
    let keys = side_keys(id, 0, 32, 12, client);
    let mut nonce = keys.iv.clone();
    for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
        *n ^= s;
    }
    let aad = aad12(seq, content_type, content.len());
    let mut buf = content.to_vec();
    let tag = chacha20poly1305::ChaCha20Poly1305::new_from_slice(&keys.key)
        .unwrap()
        .encrypt_in_place_detached(chacha20poly1305::Nonce::from_slice(&nonce), &aad, &mut buf)
        .unwrap();
    record12(content_type, &[&buf[..], &tag].concat())
}

fn hmac_of(mac_len: usize, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn go<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = <M as Mac>::new_from_slice(key).unwrap();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
    match mac_len {
        20 => go::<Hmac<Sha1>>(key, parts),
        32 => go::<Hmac<Sha256>>(key, parts),
        48 => go::<Hmac<Sha384>>(key, parts),
        _ => unreachable!(),
    }
}

fn cbc_encrypt(key: &[u8], iv: &[u8; 16], buf: &mut [u8]) {
    let len = buf.len();
    if key.len() == 16 {
        cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
            .unwrap()
            .encrypt_padded_mut::<NoPadding>(buf, len)
            .unwrap();
    } else {
        cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
            .unwrap()
            .encrypt_padded_mut::<NoPadding>(buf, len)
            .unwrap();
    }
}

/// Seals a TLS 1.2 AES-CBC record, MAC then encrypt or (`etm`) encrypt then MAC, with
/// `extra` blocks of padding beyond the least.
#[allow(clippy::too_many_arguments)]
fn seal12_cbc(
    id: u16,
    (mac_len, key_len): (usize, usize),
    etm: bool,
    client: bool,
    seq: u64,
    content_type: u8,
    content: &[u8],
    extra: usize,
) -> Vec<u8> {
    let keys = side_keys(id, mac_len, key_len, 0, client);
    let iv = [seq as u8 ^ 0x99; 16];
    let mut plain = content.to_vec();
    if !etm {
        let aad = aad12(seq, content_type, content.len());
        plain.extend(hmac_of(mac_len, &keys.mac, &[&aad, content]));
    }
    let pad = 15 - plain.len() % 16 + 16 * extra;
    plain.resize(plain.len() + pad + 1, pad as u8);
    cbc_encrypt(&keys.key, &iv, &mut plain);
    let mut body = [&iv[..], &plain].concat();
    if etm {
        let aad = aad12(seq, content_type, body.len());
        body.extend(hmac_of(mac_len, &keys.mac, &[&aad, &body]));
    }
    record12(content_type, &body)
}

fn opener12(id: u16, client: bool, etm: bool) -> Opener {
    Opener::tls12(
        suite(id),
        &MASTER,
        &CLIENT_RANDOM,
        &SERVER_RANDOM,
        client,
        etm,
    )
    .unwrap()
}

const TEXTS: [&[u8]; 4] = [b"", b"x", b"sixteen bytes!!!", &[0xab; 3000]];

#[test]
fn tls12_gcm_round_trips() {
    for id in [
        0xC02F, 0xC030, 0xC02B, 0xC02C, 0x009C, 0x009D, 0x009E, 0x009F,
    ] {
        for client in [true, false] {
            let opener = opener12(id, client, false);
            let other = opener12(id, !client, false);
            for (seq, text) in TEXTS.iter().enumerate() {
                let seq = seq as u64 * 1000;
                let record = seal12_gcm(id, client, seq, 0x17, text);
                assert_eq!(
                    open(&opener, seq, &record),
                    Ok((0x17, text.to_vec())),
                    "{id:#x}"
                );
                assert_eq!(open(&opener, seq + 1, &record), Err(OpenError::Auth));
                assert_eq!(open(&other, seq, &record), Err(OpenError::Auth));
            }
        }
    }
}

#[test]
fn tls12_chacha_round_trips() {
    for id in [0xCCA8, 0xCCA9, 0xCCAA] {
        for client in [true, false] {
            let opener = opener12(id, client, false);
            for (seq, text) in TEXTS.iter().enumerate() {
                let seq = seq as u64 + (1 << 40);
                let record = seal12_chacha(id, client, seq, 0x15, text);
                assert_eq!(
                    open(&opener, seq, &record),
                    Ok((0x15, text.to_vec())),
                    "{id:#x}"
                );
                assert_eq!(open(&opener, seq - 1, &record), Err(OpenError::Auth));
            }
        }
    }
}

#[test]
fn tls12_cbc_round_trips() {
    // SHA-1, SHA-256, SHA-384 MACs; AES-128 and AES-256; SHA-384 PRF for 0xC028.
    for (id, sizes) in [
        (0xC013, (20, 16)),
        (0xC014, (20, 32)),
        (0x003C, (32, 16)),
        (0x006B, (32, 32)),
        (0xC028, (48, 32)),
    ] {
        for etm in [false, true] {
            for client in [true, false] {
                let opener = opener12(id, client, etm);
                let mte = opener12(id, client, !etm);
                for (seq, text) in TEXTS.iter().enumerate() {
                    for extra in [0, 3] {
                        let seq = seq as u64;
                        let record = seal12_cbc(id, sizes, etm, client, seq, 0x17, text, extra);
                        let want = Ok((0x17, text.to_vec()));
                        assert_eq!(open(&opener, seq, &record), want, "{id:#x} etm {etm}");
                        assert_eq!(open(&opener, seq + 1, &record), Err(OpenError::Auth));
                        assert_ne!(open(&mte, seq, &record), want);
                    }
                }
            }
        }
    }
}

#[test]
fn cbc_bad_padding_fails() {
    let id = 0xC013;
    let opener = opener12(id, true, false);
    let mut record = seal12_cbc(id, (20, 16), false, true, 0, 0x17, b"hello", 0);
    // Flip a bit of the IV: the first plaintext block changes, the MAC then fails.
    record[5] ^= 1;
    assert_eq!(open(&opener, 0, &record), Err(OpenError::Auth));
    // A body that is not whole blocks after the IV.
    let record = record12(0x17, &[0u8; 16 + 33]);
    assert_eq!(open(&opener, 0, &record), Err(OpenError::Auth));
}

/// Every kind of opener, for the hostile-input tests.
fn every_opener() -> Vec<Opener> {
    let mut openers = vec![
        Opener::tls13(suite(0x1301), &[1; 32]).unwrap(),
        Opener::tls13(suite(0x1302), &[1; 48]).unwrap(),
        Opener::tls13(suite(0x1303), &[1; 32]).unwrap(),
    ];
    for id in [0xC02F, 0xC030, 0xCCA8, 0xC013, 0x003D, 0xC028] {
        for etm in [false, true] {
            openers.push(opener12(id, true, etm));
        }
    }
    openers
}

#[test]
fn hostile_bodies_are_errors() {
    for opener in every_opener() {
        for len in [
            0, 1, 7, 8, 15, 16, 17, 23, 24, 31, 32, 47, 48, 63, 64, 65, 80, 1000,
        ] {
            let mut body = vec![0x33u8; len];
            let header = [0x17, 3, 3, (len >> 8) as u8, len as u8];
            let got = opener.open(0, &header, &mut body);
            assert!(
                matches!(got, Err(OpenError::Auth | OpenError::Short)),
                "{opener:?} {len}: {got:?}"
            );
        }
        // Larger than any record, and than a 16-bit length.
        let mut body = vec![0u8; (1 << 16) + 100];
        let got = opener.open(9, &[0x17, 3, 3, 0xff, 0xff], &mut body);
        assert!(matches!(got, Err(OpenError::Auth)), "{opener:?}: {got:?}");
    }
}

#[test]
fn short_means_too_short_for_the_cipher() {
    let short = |opener: &Opener, len: usize| {
        let mut body = vec![0u8; len];
        opener.open(0, &[0x17, 3, 3, 0, len as u8], &mut body) == Err(OpenError::Short)
    };
    let tls13 = Opener::tls13(suite(0x1301), &[1; 32]).unwrap();
    assert!(short(&tls13, 15) && !short(&tls13, 16));
    let gcm = opener12(0xC02F, true, false);
    assert!(short(&gcm, 23) && !short(&gcm, 24));
    let chacha = opener12(0xCCA8, true, false);
    assert!(short(&chacha, 15) && !short(&chacha, 16));
    // IV and one block for a 20-byte MAC plus the padding length: two blocks.
    let cbc = opener12(0xC013, true, false);
    assert!(short(&cbc, 47) && !short(&cbc, 48));
    let etm = opener12(0xC013, true, true);
    assert!(short(&etm, 51) && !short(&etm, 52));
}

proptest! {
    #[test]
    fn random_bodies_never_panic(
        which in 0usize..15,
        seq in any::<u64>(),
        header in any::<[u8; 5]>(),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut body = body;
        let openers = every_opener();
        let opener = &openers[which % openers.len()];
        let got = opener.open(seq, &header, &mut body);
        prop_assert!(got.is_err());
    }
}

#[test]
fn suite_table_is_sorted_and_consistent() {
    assert!(SUITES.windows(2).all(|w| w[0].id < w[1].id));
    for known in SUITES {
        assert_eq!(suite_name(known.id), Some(known.name));
        assert!(known.name.starts_with("TLS_"));
        if let Some(suite) = Suite::from_id(known.id) {
            assert_eq!((suite.id(), suite.name()), (known.id, known.name));
            assert_eq!(suite.is_tls13(), !known.name.contains("_WITH_"));
            let sha384 = known.name.ends_with("_SHA384");
            assert_eq!(suite.hash() == HashAlg::Sha384, sha384, "{}", known.name);
            assert_eq!(
                known.name.contains("AES_256"),
                suite.bulk.key_len() == 32 && !known.name.contains("CHACHA")
            );
        }
    }
    assert_eq!(suite_name(0x1301), Some("TLS_AES_128_GCM_SHA256"));
    assert_eq!(
        suite_name(0xC02F),
        Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    );
    assert_eq!(suite_name(0x000A), Some("TLS_RSA_WITH_3DES_EDE_CBC_SHA"));
    assert_eq!(suite_name(0x1234), None);
    assert_eq!(Suite::from_id(0x1304), None);
    assert_eq!(Suite::from_id(0xC09C), None);
    assert_eq!(suite(0x1303).version(), Version::Tls13);
    assert_eq!(suite(0xCCA8).version(), Version::Tls12);
}

#[test]
fn debug_shows_no_key_material() {
    let secret = hex(S_HS_SECRET);
    let opener = Opener::tls13(suite(0x1301), &secret).unwrap();
    let shown = format!("{opener:?}");
    assert_eq!(
        shown,
        r#"Opener { suite: "TLS_AES_128_GCM_SHA256", version: Tls13, .. }"#
    );
    let shown = format!("{:?}", opener12(0xC013, true, false));
    assert!(!shown.contains("42") && !shown.contains("66"), "{shown}");
}
