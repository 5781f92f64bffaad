//! `wsdissect-testkit`: a deterministic generator of realistic WebSocket captures, for
//! wsdissect's tests, benchmarks and examples.
//!
//! [`generate`] writes a legacy pcap (Ethernet, IPv4, microsecond timestamps) straight to
//! any writer, packet by packet, so captures of gigabytes take no memory. The traffic looks
//! like what real peers produce: four connections, each with a TCP handshake and an HTTP
//! upgrade (with a correct `Sec-WebSocket-Accept`, and permessage-deflate negotiated when
//! asked), then messages in both directions — masked client frames, text (JSON-like, with
//! some non-ASCII) and binary, 0 B to 70 KB, the largest fragmented — segmented at a
//! 1500-byte MTU (MSS 1448) with the receiver acknowledging every second segment, and a
//! closing handshake (close frames, FIN, ACK) at the end. Compressed messages use raw
//! deflate with context takeover and a sync flush, the `00 00 ff ff` tail stripped
//! (RFC 7692). The same options always give the same bytes.
//!
//! With [`Options::tls`] the same traffic goes inside TLS 1.3 (TLS_AES_128_GCM_SHA256,
//! ports 443 and 8443): each connection opens with a handshake of OpenSSL's shape, then
//! every application write (the HTTP request, the response, each WebSocket frame) becomes
//! records of at most 16 KiB, and [`generate_with_keylog`] writes the secrets that open
//! them as an NSS key log. A TLS capture carries the same messages as the plain capture
//! of the same seed (packet timing draws from its own generator, so the extra segments
//! change no message), fewer of them by the size the records add.

use base64::Engine;
use flate2::{Compress, Compression, FlushCompress};
use sha1::{Digest, Sha1};
use std::io::{self, Write};
use tls::{Handshake, Sealer};

mod tls;

/// Maximum TCP payload per segment (1500-byte MTU minus IPv4 and TCP headers and options).
pub const MSS: usize = 1448;

/// Number of connections generated.
pub const CONNECTIONS: usize = 4;

/// Largest data message generated.
pub const MAX_MESSAGE: usize = 70_000;

/// Data messages larger than this are sent as several frames of this size.
const FRAGMENT: usize = 32 * 1024;

/// Messages shorter than this are sent uncompressed even on deflate connections (as Node
/// `ws` does below its threshold).
const DEFLATE_THRESHOLD: usize = 32;

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Stop starting new messages once the capture holds this many bytes (the closing
    /// handshake follows, so the file is slightly larger).
    pub size: u64,
    /// Negotiate permessage-deflate (context takeover both ways) and compress messages.
    pub deflate: bool,
    /// PRNG seed.
    pub seed: u64,
    /// Carry the traffic in TLS 1.3 (see the module documentation).
    pub tls: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            size: 1 << 20,
            deflate: false,
            seed: 0x5eed,
            tls: false,
        }
    }
}

/// What was written: what a correct decoder must find.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Bytes of the pcap file.
    pub bytes: u64,
    /// Packets written.
    pub packets: u64,
    /// WebSocket messages, including the two close messages of each connection.
    pub messages: u64,
    /// Of which text messages.
    pub text_messages: u64,
    /// Of which binary messages.
    pub binary_messages: u64,
    /// Decoded (unmasked, inflated) payload bytes of all messages.
    pub payload_bytes: u64,
    /// Of which messages sent compressed.
    pub compressed_messages: u64,
    /// TLS records written, handshake ones included (0 without [`Options::tls`]).
    pub tls_records: u64,
}

/// A small, fast, seeded PRNG (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() >> 32) * n) >> 32
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

const WORDS: &[&str] = &[
    "order",
    "status",
    "update",
    "price",
    "market",
    "user",
    "session",
    "token",
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "quote",
    "trade",
    "volume",
    "bid",
    "ask",
    "symbol",
    "channel",
    "subscribe",
    "heartbeat",
    "position",
    "account",
    "balance",
    "ledger",
    "latency",
    "region",
    "europe",
    "north",
    "south",
    "cluster",
    "replica",
    "shard",
    "event",
    "click",
    "scroll",
    "view",
    "cart",
    "checkout",
    "payment",
    "accepted",
    "rejected",
    "pending",
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "with",
    "on",
    "café",
    "naïve",
    "Zürich",
    "São Paulo",
    "東京",
    "данные",
    "ünïcödé",
    "message",
    "payload",
    "window",
    "frame",
    "stream",
    "server",
    "client",
    "error",
    "warning",
    "info",
    "debug",
];

/// Appends a realistic text message (JSON events with prose notes) of exactly `len` bytes.
fn text_message(rng: &mut Rng, len: usize, out: &mut Vec<u8>) {
    let start = out.len();
    let mut seq = 0u64;
    while out.len() - start < len {
        seq += 1;
        let _ = write!(
            out,
            "{{\"type\":\"{}\",\"seq\":{},\"id\":\"{:08x}\",\"price\":{}.{:02},\"qty\":{},\"note\":\"",
            WORDS[rng.below(WORDS.len() as u64) as usize],
            seq,
            rng.next_u64() as u32,
            rng.below(10_000),
            rng.below(100),
            rng.below(500),
        );
        for _ in 0..rng.range(3, 20) {
            out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(b"\"}\n");
    }
    // Cut back to `len` on a character boundary, padding with ASCII.
    let mut cut = start + len;
    while cut > start && cut < out.len() && (out[cut] & 0xc0) == 0x80 {
        cut -= 1;
    }
    out.truncate(cut);
    out.resize(start + len, b' ');
}

/// Appends a binary message of `len` bytes: fixed-size records with counters, ids and
/// random samples (partly compressible, like real telemetry).
fn binary_message(rng: &mut Rng, len: usize, out: &mut Vec<u8>) {
    let start = out.len();
    let mut n = 0u32;
    while out.len() - start < len {
        out.extend_from_slice(&n.to_be_bytes());
        out.extend_from_slice(&[0xb1, 0x0b, 0x00, 0x01]);
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
        out.extend_from_slice(&((rng.below(1000) as u16).to_le_bytes()));
        n += 1;
    }
    out.truncate(start + len);
}

/// Size of the next message: many small, some medium, a few large (0 B–70 KB).
fn message_size(rng: &mut Rng) -> usize {
    (match rng.below(100) {
        0..=39 => rng.range(0, 200),
        40..=69 => rng.range(200, 4096),
        70..=89 => rng.range(4096, 16_384),
        _ => rng.range(16_384, MAX_MESSAGE as u64),
    }) as usize
}

/// One direction of a TCP connection.
struct Side {
    ip: [u8; 4],
    port: u16,
    mac: [u8; 6],
    /// Next sequence number to send.
    seq: u32,
    /// Full segments received since this side last acknowledged.
    unacked: u32,
    /// permessage-deflate compressor of this side.
    deflate: Option<Compress>,
    /// Record protection of this side's application data, in TLS captures.
    tls: Option<Sealer>,
}

struct Conn {
    sides: [Side; 2],
}

/// Writes packets with a running clock.
struct PcapOut<W: Write> {
    w: W,
    bytes: u64,
    packets: u64,
    /// Microseconds since the epoch.
    clock: u64,
    /// The clock's own generator, so that the segments TLS adds leave the messages'
    /// randomness as in the plain capture.
    jitter: Rng,
    pkt: Vec<u8>,
}

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

impl<W: Write> PcapOut<W> {
    fn new(mut w: W, jitter: Rng) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&65535u32.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
        w.write_all(&h)?;
        Ok(PcapOut {
            w,
            bytes: 24,
            packets: 0,
            clock: 1_764_000_000_000_000,
            jitter,
            pkt: Vec::with_capacity(2048),
        })
    }

    /// Writes one TCP segment from `from` to `to`.
    fn segment(&mut self, from: &Side, to: &Side, flags: u8, payload: &[u8]) -> io::Result<()> {
        self.clock += self.jitter.range(2, 40);
        let p = &mut self.pkt;
        p.clear();
        p.extend_from_slice(&to.mac);
        p.extend_from_slice(&from.mac);
        p.extend_from_slice(&0x0800u16.to_be_bytes());
        let ip_start = p.len();
        let tcp_len = 20 + payload.len();
        let total = (20 + tcp_len) as u16;
        p.extend_from_slice(&[0x45, 0]);
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&(self.packets as u16).to_be_bytes());
        p.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]);
        p.extend_from_slice(&from.ip);
        p.extend_from_slice(&to.ip);
        let sum = checksum(0, &p[ip_start..ip_start + 20]);
        p[ip_start + 10..ip_start + 12].copy_from_slice(&sum.to_be_bytes());
        let tcp_start = p.len();
        p.extend_from_slice(&from.port.to_be_bytes());
        p.extend_from_slice(&to.port.to_be_bytes());
        p.extend_from_slice(&from.seq.to_be_bytes());
        let ack = if flags & ACK != 0 { to.seq } else { 0 };
        p.extend_from_slice(&ack.to_be_bytes());
        p.extend_from_slice(&[0x50, flags]);
        p.extend_from_slice(&65535u16.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0]);
        p.extend_from_slice(payload);
        let mut pseudo = [0u8; 12];
        pseudo[..4].copy_from_slice(&from.ip);
        pseudo[4..8].copy_from_slice(&to.ip);
        pseudo[9] = 6;
        pseudo[10..].copy_from_slice(&(tcp_len as u16).to_be_bytes());
        let sum = checksum(sum_words(0, &pseudo), &p[tcp_start..]);
        p[tcp_start + 16..tcp_start + 18].copy_from_slice(&sum.to_be_bytes());
        let mut rec = [0u8; 16];
        rec[..4].copy_from_slice(&((self.clock / 1_000_000) as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&((self.clock % 1_000_000) as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&(p.len() as u32).to_le_bytes());
        rec[12..16].copy_from_slice(&(p.len() as u32).to_le_bytes());
        self.w.write_all(&rec)?;
        self.w.write_all(p)?;
        self.bytes += 16 + p.len() as u64;
        self.packets += 1;
        Ok(())
    }
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

fn sum_words(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u32;
        acc = (acc & 0xffff) + (acc >> 16);
    }
    if let [b] = chunks.remainder() {
        acc += (*b as u32) << 8;
    }
    acc
}

fn checksum(acc: u32, data: &[u8]) -> u16 {
    let mut s = sum_words(acc, data);
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

impl Conn {
    fn new(i: usize, rng: &mut Rng, opts: &Options) -> Conn {
        let side = |ip: [u8; 4], port: u16, mac_last: u8, seq: u32| Side {
            ip,
            port,
            mac: [0x02, 0, 0, 0, 0, mac_last],
            seq,
            unacked: 0,
            tls: None,
            deflate: opts
                .deflate
                .then(|| Compress::new_with_window_bits(Compression::default(), false, 15)),
        };
        // Connection 1 starts near the end of the sequence space to exercise wraparound.
        let isn = |rng: &mut Rng| {
            if i == 1 {
                u32::MAX - 100_000
            } else {
                rng.next_u64() as u32
            }
        };
        let c = side(
            [10, 0, 0, 1 + i as u8],
            50_000 + i as u16,
            1 + i as u8,
            isn(rng),
        );
        let port = match (opts.tls, i.is_multiple_of(2)) {
            (false, true) => 80,
            (false, false) => 8080,
            (true, true) => 443,
            (true, false) => 8443,
        };
        let s = side([10, 0, 1, 1], port, 0x80, isn(rng));
        Conn { sides: [c, s] }
    }
}

/// Sends `data` from side `from` of `conn` in MSS-sized segments, the receiver
/// acknowledging every second full segment and the last one.
fn send<W: Write>(
    out: &mut PcapOut<W>,
    conn: &mut Conn,
    from: usize,
    data: &[u8],
) -> io::Result<()> {
    let (a, b) = conn.sides.split_at_mut(1);
    let (s, r) = if from == 0 {
        (&mut a[0], &mut b[0])
    } else {
        (&mut b[0], &mut a[0])
    };
    let mut chunks = data.chunks(MSS).peekable();
    while let Some(c) = chunks.next() {
        let last = chunks.peek().is_none();
        out.segment(s, r, ACK | if last { PSH } else { 0 }, c)?;
        s.seq = s.seq.wrapping_add(c.len() as u32);
        r.unacked += 1;
        if r.unacked >= 2 || last {
            out.segment(r, s, ACK, &[])?;
            r.unacked = 0;
        }
    }
    Ok(())
}

/// Appends one frame header (and the masked payload when `mask` is given).
fn frame(out: &mut Vec<u8>, fin: bool, rsv1: bool, opcode: u8, mask: Option<[u8; 4]>, p: &[u8]) {
    out.push((fin as u8) << 7 | (rsv1 as u8) << 6 | opcode);
    let m = (mask.is_some() as u8) << 7;
    match p.len() {
        n if n < 126 => out.push(m | n as u8),
        n if n <= 0xffff => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend(p.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => out.extend_from_slice(p),
    }
}

/// Compresses one message with a sync flush and strips the `00 00 ff ff` tail.
fn compress(c: &mut Compress, data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(data.len() / 2 + 64);
    let mut pos = 0;
    loop {
        let in0 = c.total_in();
        c.compress_vec(&data[pos..], out, FlushCompress::Sync)
            .expect("deflate");
        pos += (c.total_in() - in0) as usize;
        if out.len() < out.capacity() && pos == data.len() {
            break;
        }
        out.reserve(out.capacity().max(4096));
    }
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    } else {
        out.push(0);
    }
}

/// A side's application writes for one send: their bytes, where each ends, and the
/// records they become in TLS captures (one write, one or more records).
#[derive(Default)]
struct Writes {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    sealed: Vec<u8>,
}

impl Writes {
    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    /// Ends the write begun where the previous one ended.
    fn end(&mut self) {
        self.ends.push(self.bytes.len());
    }
}

/// Sends the writes `w` from side `from` of `conn`: as they are, or as TLS records when
/// the side has a sealer.
fn transmit<W: Write>(
    out: &mut PcapOut<W>,
    conn: &mut Conn,
    from: usize,
    w: &mut Writes,
    sum: &mut Summary,
) -> io::Result<()> {
    let Some(sealer) = &mut conn.sides[from].tls else {
        return send(out, conn, from, &w.bytes);
    };
    w.sealed.clear();
    let mut start = 0;
    for &end in &w.ends {
        sum.tls_records +=
            sealer.seal(tls::APPLICATION_DATA, &w.bytes[start..end], &mut w.sealed)?;
        start = end;
    }
    send(out, conn, from, &w.sealed)
}

/// Opens TLS on `conn` after its TCP handshake: writes its key log lines, sends the
/// handshake flights and a session ticket, and leaves both sides sealing application
/// data with their traffic keys.
fn tls_handshake<W: Write>(
    out: &mut PcapOut<W>,
    conn: &mut Conn,
    hs: &Handshake,
    keylog: &mut dyn Write,
    sum: &mut Summary,
) -> io::Result<()> {
    hs.keylog(keylog)?;
    let mut wire = Vec::new();
    let [mut client, mut server] = hs.handshake_sealers()?;
    hs.client_hello(&mut wire);
    sum.tls_records += 1;
    send(out, conn, 0, &wire)?;
    wire.clear();
    sum.tls_records += hs.server_flight(&mut server, &mut wire)?;
    send(out, conn, 1, &wire)?;
    wire.clear();
    sum.tls_records += hs.client_finished(&mut client, &mut wire)?;
    send(out, conn, 0, &wire)?;
    let [client, mut server] = hs.traffic_sealers()?;
    wire.clear();
    sum.tls_records += hs.ticket(&mut server, &mut wire)?;
    send(out, conn, 1, &wire)?;
    conn.sides[0].tls = Some(client);
    conn.sides[1].tls = Some(server);
    Ok(())
}

/// Seed offset of the generator of TLS handshake randoms and secrets.
const TLS_SEED: u64 = 0x7153_7153_7153_7153;

/// Seed offset of the packet clock's generator.
const JITTER_SEED: u64 = 0xc10c_c10c_c10c_c10c;

/// Writes a capture as described in the module documentation (a TLS capture's key log is
/// dropped: [`generate_with_keylog`] keeps it).
pub fn generate<W: Write>(w: W, opts: Options) -> io::Result<Summary> {
    generate_with_keylog(w, &mut io::sink(), opts)
}

/// Writes a capture as [`generate`] does and, with [`Options::tls`], the NSS key log of
/// its connections to `keylog`.
pub fn generate_with_keylog<W: Write>(
    w: W,
    keylog: &mut dyn Write,
    opts: Options,
) -> io::Result<Summary> {
    let mut rng = Rng::new(opts.seed);
    let mut tls_rng = Rng::new(opts.seed ^ TLS_SEED);
    let jitter = Rng::new(opts.seed ^ JITTER_SEED);
    let mut out = PcapOut::new(w, jitter)?;
    let mut sum = Summary::default();
    let mut conns: Vec<Conn> = (0..CONNECTIONS)
        .map(|i| Conn::new(i, &mut rng, &opts))
        .collect();
    let mut wr = Writes::default();
    let mut msg = Vec::new();
    let mut z = Vec::new();

    for (i, conn) in conns.iter_mut().enumerate() {
        let [c, s] = &mut conn.sides;
        out.segment(c, s, SYN, &[])?;
        c.seq = c.seq.wrapping_add(1);
        out.segment(s, c, SYN | ACK, &[])?;
        s.seq = s.seq.wrapping_add(1);
        out.segment(c, s, ACK, &[])?;
        let port = s.port;
        if opts.tls {
            let hs = Handshake::new(&mut tls_rng);
            tls_handshake(&mut out, conn, &hs, keylog, &mut sum)?;
        }
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        key[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
        let key = base64::engine::general_purpose::STANDARD.encode(key);
        let accept = base64::engine::general_purpose::STANDARD
            .encode(Sha1::digest(format!("{key}{GUID}").as_bytes()));
        let ext_offer = if opts.deflate {
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        } else {
            ""
        };
        let ext_answer = if opts.deflate {
            "Sec-WebSocket-Extensions: permessage-deflate\r\n"
        } else {
            ""
        };
        let req = format!(
            "GET /feed/{i} HTTP/1.1\r\nHost: 10.0.1.1:{port}\r\nUser-Agent: wsdissect-synth/1\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n\
             Sec-WebSocket-Version: 13\r\n{ext_offer}\r\n"
        );
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n{ext_answer}\r\n"
        );
        for (from, text) in [(0, req), (1, resp)] {
            wr.clear();
            wr.bytes.extend_from_slice(text.as_bytes());
            wr.end();
            transmit(&mut out, conn, from, &mut wr, &mut sum)?;
        }
    }

    while out.bytes < opts.size {
        let ci = rng.below(CONNECTIONS as u64) as usize;
        let from = rng.below(2) as usize;
        let len = message_size(&mut rng);
        let text = rng.below(10) < 7;
        msg.clear();
        if text {
            text_message(&mut rng, len, &mut msg);
            sum.text_messages += 1;
        } else {
            binary_message(&mut rng, len, &mut msg);
            sum.binary_messages += 1;
        }
        sum.messages += 1;
        sum.payload_bytes += msg.len() as u64;
        let conn = &mut conns[ci];
        let compressed = match &mut conn.sides[from].deflate {
            Some(c) if msg.len() >= DEFLATE_THRESHOLD => {
                compress(c, &msg, &mut z);
                sum.compressed_messages += 1;
                true
            }
            _ => false,
        };
        let payload = if compressed { &z } else { &msg };
        wr.clear();
        let mut pieces = payload.chunks(FRAGMENT).peekable();
        let mut first = true;
        if payload.is_empty() {
            let mask = (from == 0).then(|| (rng.next_u64() as u32).to_be_bytes());
            frame(
                &mut wr.bytes,
                true,
                false,
                if text { 1 } else { 2 },
                mask,
                &[],
            );
            wr.end();
        }
        while let Some(p) = pieces.next() {
            let mask = (from == 0).then(|| (rng.next_u64() as u32).to_be_bytes());
            let op = match (first, text) {
                (false, _) => 0,
                (true, true) => 1,
                (true, false) => 2,
            };
            frame(
                &mut wr.bytes,
                pieces.peek().is_none(),
                first && compressed,
                op,
                mask,
                p,
            );
            wr.end();
            first = false;
        }
        transmit(&mut out, conn, from, &mut wr, &mut sum)?;
    }

    for conn in &mut conns {
        let close = [0x03, 0xe8, b'b', b'y', b'e'];
        for from in [0, 1] {
            wr.clear();
            let mask = (from == 0).then(|| (rng.next_u64() as u32).to_be_bytes());
            frame(&mut wr.bytes, true, false, 8, mask, &close);
            wr.end();
            transmit(&mut out, conn, from, &mut wr, &mut sum)?;
            sum.messages += 1;
            sum.payload_bytes += close.len() as u64;
        }
        let [c, s] = &mut conn.sides;
        out.segment(s, c, FIN | ACK, &[])?;
        s.seq = s.seq.wrapping_add(1);
        out.segment(c, s, FIN | ACK, &[])?;
        c.seq = c.seq.wrapping_add(1);
        out.segment(s, c, ACK, &[])?;
    }
    out.w.flush()?;
    keylog.flush()?;
    sum.bytes = out.bytes;
    sum.packets = out.packets;
    Ok(sum)
}

/// Parses a size such as `256MiB`, `1GiB`, `500MB`, `4096`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    Some((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("256MiB"), Some(256 << 20));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("1.5k"), Some(1500));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("12 parsecs"), None);
    }

    #[test]
    fn deterministic() {
        let o = Options {
            size: 200_000,
            deflate: true,
            seed: 7,
            tls: true,
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        assert_eq!(generate(&mut a, o).unwrap(), generate(&mut b, o).unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn text_is_utf8_of_exact_length() {
        let mut rng = Rng::new(1);
        for len in [0, 1, 2, 3, 50, 1000, 70_000] {
            let mut v = Vec::new();
            text_message(&mut rng, len, &mut v);
            assert_eq!(v.len(), len);
            assert!(std::str::from_utf8(&v).is_ok());
        }
    }
}
