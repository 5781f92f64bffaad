//! Hostile input, generated here rather than hand-picked: captures cut at every offset
//! and flipped at random, lying pcap and pcapng lengths, garbage on an upgraded
//! connection, a deflate bomb, a SYN flood, a never-filled gap followed by a flood of
//! out-of-order data. Each must end with a documented exit status, name the file and
//! packet in its errors, finish in seconds, and still decode the honest messages
//! around the hostile part.

mod common;

use common::write::*;
use common::*;
use flate2::{Compress, Compression, FlushCompress};
use std::io::BufWriter;
use std::path::Path;
use std::time::{Duration, Instant};
use wsdissect::run;
use wsdissect::tcp::Config;
use wsdissect::ws::record::Record;
use wsdissect::ws::{Dissector, Options};

/// Generous bound for one run of the (debug) binary on a shared machine.
const SECONDS: Duration = Duration::from_secs(30);

/// A WebSocket frame; client frames (`mask`) are masked.
fn frame(rsv1: bool, op: u8, mask: bool, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | (u8::from(rsv1) << 6) | op];
    let m = if mask { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(m | n as u8),
        n if n <= 0xffff => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if mask {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

fn text(mask: bool, s: &str) -> Vec<u8> {
    frame(false, 1, mask, s.as_bytes())
}

/// xorshift64 bytes: reproducible noise.
fn noise(n: usize, mut x: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

// ---------------------------------------------------------------- running

/// With `HOSTILE_KEEP=DIR`, copies a generated capture there (to time it by hand).
fn keep(path: &Path) {
    if let Some(dir) = std::env::var_os("HOSTILE_KEEP") {
        std::fs::copy(path, Path::new(&dir).join(path.file_name().unwrap())).unwrap();
    }
}

struct Ran {
    code: Option<i32>,
    records: Vec<serde_json::Value>,
    stderr: String,
    took: Duration,
}

impl Ran {
    /// Texts of the message records.
    fn texts(&self) -> Vec<String> {
        self.records
            .iter()
            .filter(|r| r["record"] == "message")
            .filter_map(|r| r["text"].as_str().map(str::to_string))
            .collect()
    }

    fn messages(&self) -> usize {
        self.records
            .iter()
            .filter(|r| r["record"] == "message")
            .count()
    }
}

fn run(args: &[&str], file: &Path) -> Ran {
    // A subcommand comes first.
    let (sub, args) = match args.split_first() {
        Some((s, rest)) if ["tcp", "flows"].contains(s) => (vec![*s], rest),
        _ => (vec![], args),
    };
    let mut a = sub;
    a.extend_from_slice(&["--format", "jsonl"]);
    a.extend_from_slice(args);
    a.push(file.to_str().unwrap());
    let t = Instant::now();
    let out = wsdissect(&a);
    let took = t.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "wsdissect {a:?} panicked: {stderr}"
    );
    assert!(took < SECONDS, "wsdissect {a:?} took {took:?}");
    let records = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l}: {e}")))
        .collect();
    eprintln!("wsdissect {a:?}: {took:?}");
    Ran {
        code: out.status.code(),
        records,
        stderr,
        took,
    }
}

/// Runs the library on a capture held in memory: (message records, diagnostics).
fn in_process(data: &[u8]) -> (Vec<wsdissect::ws::record::MessageRecord>, Vec<String>) {
    let mut d = Dissector::new("mem.pcap".into(), Options::default());
    let mut diags = Vec::new();
    let mut msgs = Vec::new();
    let res = run::run(
        "mem.pcap",
        data,
        Config::default(),
        &wsdissect::layers::tls::Keys::new(),
        &mut d,
        &mut |g| diags.push(g.to_string()),
        |d: &mut Dissector, _| {
            for r in d.drain_records() {
                if let Record::Message(m) = r {
                    msgs.push(m);
                }
            }
            d.drain_warnings().for_each(drop);
            Ok(())
        },
    );
    if let Err(e) = res {
        diags.push(e.to_string());
    }
    (msgs, diags)
}

// ---------------------------------------------------------------- the cases

/// Every prefix of a small real capture: nothing panics, and every message whose
/// packets are all in the prefix is decoded as in the whole file.
#[test]
fn capture_cut_at_every_offset() {
    let path =
        testdata().join("public/zeek/testing/btest/Traces/websocket/reply-ping-separate.pcap");
    let data = std::fs::read(path).unwrap();
    let (full, _) = in_process(&data);
    assert!(full.len() >= 6);
    // Offsets where each packet record ends.
    let mut ends = Vec::new();
    let mut i = 24;
    while i + 16 <= data.len() {
        let len = u32::from_le_bytes(data[i + 8..i + 12].try_into().unwrap()) as usize;
        i += 16 + len;
        ends.push(i);
    }
    for cut in 0..=data.len() {
        let (msgs, diags) = in_process(&data[..cut]);
        let whole_packets = ends.iter().filter(|&&e| e <= cut).count() as u64;
        for m in full.iter().filter(|m| m.packets[1] <= whole_packets) {
            assert!(
                msgs.iter().any(|x| x.text == m.text
                    && x.data_b64 == m.data_b64
                    && x.packets == m.packets
                    && !x.undecodable),
                "cut {cut}: lost {m:?}"
            );
        }
        if cut < 24 {
            assert!(diags.iter().any(|d| d.contains("not a pcap")), "{diags:?}");
        } else if !ends.contains(&cut) && cut != 24 {
            assert!(
                diags
                    .iter()
                    .any(|d| d.contains("mem.pcap: packet ") && d.contains("truncated")),
                "cut {cut}: {diags:?}"
            );
        }
    }
    // The binary agrees on exit codes at a few cuts.
    let tmp = tempfile::tempdir().unwrap();
    for cut in [0, 10, 24, 100, data.len() / 2, data.len() - 1] {
        let p = tmp.path().join(format!("cut{cut}.pcap"));
        std::fs::write(&p, &data[..cut]).unwrap();
        let r = run(&[], &p);
        assert_eq!(r.code, Some(if cut < 24 { 2 } else { 0 }), "{}", r.stderr);
        assert!(
            r.stderr.contains(&format!("cut{cut}.pcap")) || cut == 24,
            "{}",
            r.stderr
        );
    }
}

/// Random byte flips in a permessage-deflate capture, in the library (many rounds)
/// and through the binary with --strict (documented exit statuses).
#[test]
fn random_byte_flips() {
    let data = std::fs::read(testdata().join("corpus/01-python-websockets-deflate.pcap")).unwrap();
    let (honest, _) = in_process(&data);
    let mut x: u64 = 0x2545f4914f6cdd1d;
    let tmp = tempfile::tempdir().unwrap();
    let t = Instant::now();
    for round in 0..200 {
        let mut d = data.clone();
        let flips = 1 + round % 16;
        for _ in 0..flips {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let pos = x as usize % d.len();
            d[pos] ^= (x >> 40) as u8 | 1;
        }
        let (msgs, _) = in_process(&d);
        // Flips touch a few packets: most messages survive.
        assert!(msgs.len() + 64 >= honest.len() / 2, "round {round}");
        if round % 40 == 0 {
            let p = tmp.path().join(format!("flip{round}.pcap"));
            std::fs::write(&p, &d).unwrap();
            let r = run(&["--strict"], &p);
            assert!(matches!(r.code, Some(0..=2)), "{}", r.stderr);
        }
    }
    eprintln!("200 flipped captures in {:?}", t.elapsed());
}

/// Not captures at all: exit 2, naming the file.
#[test]
fn empty_and_text_files() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, content) in [
        ("empty.pcap", &b""[..]),
        (
            "notes.txt",
            &b"just some text, long enough to hold a header\n".repeat(10)[..],
        ),
    ] {
        let p = tmp.path().join(name);
        std::fs::write(&p, content).unwrap();
        let r = run(&[], &p);
        assert_eq!(r.code, Some(2));
        assert!(
            r.stderr.contains(name) && r.stderr.contains("not a pcap"),
            "{}",
            r.stderr
        );
    }
}

/// A pcap header claiming a 4 GB snap length, and packets claiming more bytes than
/// the file holds: the honest packets before are decoded, the error names the packet.
#[test]
fn pcap_lengths_that_lie() {
    let tmp = tempfile::tempdir().unwrap();
    let mut buf = Vec::new();
    {
        let mut p = Pcap::new(&mut buf, u32::MAX);
        let mut c = Conn::new(1, 8080);
        c.open(&mut p, false);
        for i in 0..5 {
            c.send(&mut p, false, &text(false, &format!("honest {i}")));
        }
    }
    let honest_len = buf.len();
    for (name, caplen, extra) in [
        ("longer-than-file.pcap", 5000u32, 100usize),
        ("over-record-limit.pcap", 0x7fff_ffff, 100),
        ("max.pcap", u32::MAX, 3),
    ] {
        let mut d = buf.clone();
        d.extend_from_slice(&[0; 8]);
        d.extend_from_slice(&caplen.to_le_bytes());
        d.extend_from_slice(&caplen.to_le_bytes());
        d.extend(std::iter::repeat_n(0x55, extra));
        let p = tmp.path().join(name);
        std::fs::write(&p, &d).unwrap();
        let r = run(&[], &p);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        // Three-way handshake, request, 101, five messages: the lie is packet 11.
        assert!(
            r.stderr.contains(&format!("{name}: packet 11")),
            "{name}: {}",
            r.stderr
        );
        let texts = r.texts();
        assert_eq!(texts.len(), 5, "{name}: {texts:?}");
        assert_eq!(texts[4], "honest 4");
        let strict = run(&["--strict"], &p);
        assert_eq!(strict.code, Some(1));
    }
    assert!(honest_len > 0);
}

fn pcapng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let pad = (4 - body.len() % 4) % 4;
    let len = (12 + body.len() + pad) as u32;
    let mut b = kind.to_le_bytes().to_vec();
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.extend(std::iter::repeat_n(0, pad));
    b.extend_from_slice(&len.to_le_bytes());
    b
}

/// A pcapng file (SHB, IDB, one EPB per packet) from a pcap written by [`Pcap`].
fn pcapng_from_pcap(pcap: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::new();
    let mut shb = 0x1a2b3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    out.extend(pcapng_block(0x0a0d0d0a, &shb));
    let mut idb = vec![1, 0, 0, 0];
    idb.extend_from_slice(&65535u32.to_le_bytes());
    out.extend(pcapng_block(1, &idb));
    let mut starts = Vec::new();
    let mut i = 24;
    while i + 16 <= pcap.len() {
        let len = u32::from_le_bytes(pcap[i + 8..i + 12].try_into().unwrap()) as usize;
        let data = &pcap[i + 16..i + 16 + len];
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&[0; 8]);
        epb.extend_from_slice(&(len as u32).to_le_bytes());
        epb.extend_from_slice(&(len as u32).to_le_bytes());
        epb.extend_from_slice(data);
        starts.push(out.len());
        out.extend(pcapng_block(6, &epb));
        i += 16 + len;
    }
    (out, starts)
}

/// pcapng blocks whose lengths lie (too big, too small, unaligned, trailer differs,
/// captured length past the block): decoded up to the lie, which is named.
#[test]
fn pcapng_lengths_that_lie() {
    let mut buf = Vec::new();
    {
        let mut p = Pcap::new(&mut buf, 65535);
        let mut c = Conn::new(2, 8080);
        c.open(&mut p, false);
        for i in 0..6 {
            c.send(&mut p, false, &text(false, &format!("honest {i}")));
        }
    }
    let (ng, starts) = pcapng_from_pcap(&buf);
    assert_eq!(starts.len(), 11);
    let tmp = tempfile::tempdir().unwrap();
    // Lie in the 10th packet (the 5th message): messages 0..4 must decode.
    let at = starts[9];
    type Lie = fn(&mut Vec<u8>, usize);
    let lies: [(&str, Lie); 6] = [
        ("huge", |d, at| {
            d[at + 4..at + 8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes())
        }),
        ("past-end", |d, at| {
            let n = (d.len() - at + 400) as u32 & !3;
            d[at + 4..at + 8].copy_from_slice(&n.to_le_bytes())
        }),
        ("tiny", |d, at| {
            d[at + 4..at + 8].copy_from_slice(&8u32.to_le_bytes())
        }),
        ("unaligned", |d, at| {
            let n = u32::from_le_bytes(d[at + 4..at + 8].try_into().unwrap()) + 1;
            d[at + 4..at + 8].copy_from_slice(&n.to_le_bytes())
        }),
        ("trailer", |d, at| {
            let n = u32::from_le_bytes(d[at + 4..at + 8].try_into().unwrap()) as usize;
            d[at + n - 4] ^= 0x40;
        }),
        ("caplen", |d, at| {
            d[at + 20..at + 24].copy_from_slice(&60000u32.to_le_bytes())
        }),
    ];
    for (name, lie) in lies {
        let mut d = ng.clone();
        lie(&mut d, at);
        let p = tmp.path().join(format!("{name}.pcapng"));
        std::fs::write(&p, &d).unwrap();
        let r = run(&[], &p);
        assert_eq!(r.code, Some(0), "{name}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("{name}.pcapng: packet 10")),
            "{name}: {}",
            r.stderr
        );
        let texts = r.texts();
        for i in 0..4 {
            assert!(texts.contains(&format!("honest {i}")), "{name}: {texts:?}");
        }
        let strict = run(&["--strict"], &p);
        assert_eq!(strict.code, Some(1), "{name}");
    }
}

/// 1 MiB of noise on an upgraded connection, in order (no TCP gap marks it): the
/// other direction and another connection decode whole, the noisy direction decodes
/// before and (after a few messages the last fake frame swallows) after the noise,
/// and few fake messages come out of it.
#[test]
fn garbage_on_an_upgraded_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("garbage.pcap");
    let mut p = Pcap::new(BufWriter::new(std::fs::File::create(&path).unwrap()), 65535);
    let mut a = Conn::new(3, 8080);
    let mut b = Conn::new(4, 9090);
    a.open(&mut p, false);
    b.open(&mut p, false);
    a.send(&mut p, false, &text(false, "before the noise"));
    let junk = noise(1 << 20, 77);
    for (i, piece) in junk.chunks(64 * 1024).enumerate() {
        a.send(&mut p, false, piece);
        a.send(&mut p, true, &text(true, &format!("client {i}")));
        b.send(&mut p, false, &text(false, &format!("other {i}")));
    }
    for i in 0..40 {
        a.send(&mut p, false, &text(false, &format!("after {i}")));
    }
    a.close(&mut p);
    b.close(&mut p);
    drop(p);
    keep(&path);
    let r = run(&[], &path);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let texts = r.texts();
    assert!(texts.contains(&"before the noise".to_string()));
    for i in 0..16 {
        assert!(texts.contains(&format!("client {i}")), "client {i}");
        assert!(texts.contains(&format!("other {i}")), "other {i}");
    }
    for i in 20..40 {
        assert!(
            texts.contains(&format!("after {i}")),
            "after {i}: {texts:?}"
        );
    }
    let honest = texts
        .iter()
        .filter(|t| {
            t.starts_with("client")
                || t.starts_with("other")
                || t.starts_with("after")
                || t.starts_with("before")
        })
        .count();
    let fake = r.messages() - honest;
    assert!(fake <= 20, "{fake} fake messages");
    assert!(r.stderr.contains("garbage.pcap: packet "), "{}", r.stderr);
    assert!(r.stderr.contains("not WebSocket frames"), "{}", r.stderr);
    assert!(
        r.stderr.lines().count() < 200,
        "stderr floods: {}",
        r.stderr.lines().count()
    );
    assert_eq!(run(&["--strict"], &path).code, Some(1));
}

/// One permessage-deflate message of about 1 MiB that inflates to 1 GiB, between two
/// honest messages of a context-takeover stream: truncated to the maximum message
/// size and flagged, fast, and the message after it still decodes.
#[test]
fn deflate_bomb() {
    let mut c = Compress::new(Compression::best(), false);
    let zeros = vec![0u8; 1 << 20];
    let chunk = |c: &mut Compress, input: &[u8]| {
        let mut out = Vec::with_capacity(input.len() + 1024);
        let before = c.total_in();
        c.compress_vec(input, &mut out, FlushCompress::Sync)
            .unwrap();
        assert_eq!((c.total_in() - before) as usize, input.len());
        out
    };
    let strip = |mut v: Vec<u8>| {
        assert!(v.ends_with(&[0, 0, 0xff, 0xff]));
        v.truncate(v.len() - 4);
        v
    };
    let first = strip(chunk(&mut c, b"honest before the bomb"));
    // 1 GiB of zeros: the compressed form of 1 MiB of zeros repeats once the window
    // holds zeros, so it is made twice and the second copy repeated.
    let head = chunk(&mut c, &zeros);
    let body = chunk(&mut c, &zeros);
    let mut bomb = head;
    for _ in 0..1022 {
        bomb.extend_from_slice(&body);
    }
    bomb.extend(chunk(&mut c, &zeros));
    let bomb = strip(bomb);
    let after = strip(chunk(
        &mut c,
        b"honest after the bomb, with history: honest",
    ));
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bomb.pcap");
    let mut p = Pcap::new(BufWriter::new(std::fs::File::create(&path).unwrap()), 65535);
    let mut conn = Conn::new(5, 8080);
    conn.open(&mut p, true);
    conn.send(&mut p, false, &frame(true, 1, false, &first));
    conn.send(&mut p, false, &frame(true, 2, false, &bomb));
    conn.send(&mut p, false, &frame(true, 1, false, &after));
    conn.close(&mut p);
    drop(p);
    keep(&path);
    eprintln!("bomb: {} compressed bytes", bomb.len());
    for (args, cap) in [
        (&[][..], 64u64 << 20),
        (&["--max-message-size", "1000"][..], 1000),
    ] {
        let r = run(args, &path);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        let msgs: Vec<&serde_json::Value> = r
            .records
            .iter()
            .filter(|r| r["record"] == "message")
            .collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert_eq!(msgs[0]["text"], "honest before the bomb");
        assert_eq!(msgs[1]["length"], 1u64 << 30);
        assert_eq!(msgs[1]["truncated"], true);
        assert_eq!(
            msgs[1]["data_b64"].as_str().unwrap().len() as u64,
            cap.div_ceil(3) * 4
        );
        assert!(msgs[1]["errors"][0]
            .as_str()
            .unwrap()
            .contains("truncated to the"));
        assert_eq!(
            msgs[2]["text"],
            "honest after the bomb, with history: honest"
        );
        assert!(
            r.stderr.contains("bomb.pcap: packet ") && r.stderr.contains("truncated"),
            "{}",
            r.stderr
        );
        assert!(r.took < Duration::from_secs(15), "{:?}", r.took);
        assert_eq!(run(&["--strict"], &path).code, Some(1));
    }
}

fn syn_flood(path: &Path, n: u32) {
    let mut p = Pcap::new(BufWriter::new(std::fs::File::create(path).unwrap()), 65535);
    let mut first = Conn::new(1_000_000, 8080);
    first.open(&mut p, false);
    first.send(&mut p, true, &text(true, "before the flood"));
    first.send(&mut p, false, &text(false, "answer before"));
    for i in 0..n {
        let src = (
            [172, 16 + (i >> 16) as u8, (i >> 8) as u8, i as u8],
            1024 + (i % 60000) as u16,
        );
        p.packet(&tcp_packet(
            src,
            ([10, 0, 0, 1], 80),
            i.wrapping_mul(2654435761),
            0,
            SYN,
            b"",
        ));
    }
    first.send(&mut p, true, &text(true, "during the flood"));
    let mut last = Conn::new(2_000_000, 8080);
    last.open(&mut p, false);
    last.send(&mut p, true, &text(true, "after the flood"));
    last.send(&mut p, false, &text(false, "answer after"));
    last.close(&mut p);
    first.close(&mut p);
}

/// 100,000 half-open connections: bounded, fast, the eviction said (once per round,
/// not per connection), and the honest connections around it decoded.
#[test]
fn syn_flood_100k() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("flood.pcap");
    syn_flood(&path, 100_000);
    keep(&path);
    for args in [&[][..], &["--max-flows", "10000"][..]] {
        let r = run(args, &path);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        let texts = r.texts();
        for t in [
            "before the flood",
            "answer before",
            "after the flood",
            "answer after",
        ] {
            assert!(texts.contains(&t.to_string()), "{args:?}: {t}: {texts:?}");
        }
        if args.is_empty() {
            assert!(texts.contains(&"during the flood".to_string()));
        } else {
            assert!(r.stderr.contains("flood.pcap: packet "), "{}", r.stderr);
            assert!(r.stderr.contains("connection table full (10000 flows)"));
            assert!(r.stderr.lines().count() < 100, "{}", r.stderr);
        }
    }
    let r = run(&["tcp", "--max-flows", "10000"], &path);
    assert_eq!(r.code, Some(0));
    // The flood, the two honest connections, and the first one again after its
    // eviction (its later bytes start a new record).
    assert_eq!(r.records.len(), 100_003);
    assert!(r.records.iter().any(|x| x["state"] == "evicted"));
}

/// A hole that never fills, followed by far more out-of-order data than the limits
/// allow (per direction, and in total across connections): holes become gaps, the
/// limits are said, and the honest messages after the hole decode.
#[test]
fn never_filled_gap_then_flood_of_out_of_order_data() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("ooo.pcap");
    let mut p = Pcap::new(BufWriter::new(std::fs::File::create(&path).unwrap()), 65535);
    let mut conns: Vec<Conn> = (0..8).map(|i| Conn::new(10 + i, 8080)).collect();
    for c in &mut conns {
        c.open(&mut p, false);
        c.send(&mut p, false, &text(false, "before the hole"));
        c.hole(false, 100);
    }
    // 8 connections x 4 MiB of frames behind their holes: 32 MiB out of order.
    let msg = "x".repeat(1000);
    let mut sent = 0;
    for i in 0..4096 {
        for (n, c) in conns.iter_mut().enumerate() {
            c.send(&mut p, false, &text(false, &format!("{n} {i} {msg}")));
        }
        sent += 1;
    }
    for c in &mut conns {
        c.close(&mut p);
    }
    drop(p);
    keep(&path);
    let limits = ["--max-ooo-bytes", "1000000", "--max-ooo-total", "3000000"];
    for args in [&[][..], &limits[..]] {
        let r = run(args, &path);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        let texts = r.texts();
        assert_eq!(
            texts.iter().filter(|t| *t == "before the hole").count(),
            8,
            "{args:?}"
        );
        for n in 0..8 {
            let got = texts
                .iter()
                .filter(|t| t.starts_with(&format!("{n} ")))
                .count();
            // What the gap cut (one message) and resynchronisation skipped aside,
            // every message after the hole decodes.
            assert!(got + 4 >= sent, "{args:?}: connection {n}: {got} of {sent}");
        }
        assert!(r.stderr.contains("ooo.pcap: packet "), "{}", r.stderr);
        assert!(r.stderr.contains("tcp gap of 100 bytes"), "{}", r.stderr);
        if !args.is_empty() {
            assert!(
                r.stderr.contains("total out-of-order buffer limit"),
                "{}",
                r.stderr
            );
        }
        assert!(r.stderr.lines().count() < 200, "{}", r.stderr);
    }
    let mut args = vec!["tcp", "--strict"];
    args.extend_from_slice(&limits);
    let r = run(&args, &path);
    assert_eq!(r.code, Some(1));
    assert!(r
        .records
        .iter()
        .all(|x| x["server_to_client"]["ooo_limit_hits"].as_u64() >= Some(1)));
}

/// Six connections each with a compressed message in progress that inflates to 100 MiB:
/// together they would hold 384 MiB at the default 64 MiB maximum message size, so
/// the shared memory budget (256 MiB) cuts the later ones, says so, and every
/// connection decodes on.
#[test]
fn concurrent_bombs_share_the_memory_budget() {
    let mut c = Compress::new(Compression::best(), false);
    let zeros = vec![0u8; 1 << 20];
    let mut chunk = || {
        let mut out = Vec::with_capacity(4096);
        c.compress_vec(&zeros, &mut out, FlushCompress::Sync)
            .unwrap();
        out
    };
    let mut bomb = chunk();
    let body = chunk();
    for _ in 0..98 {
        bomb.extend_from_slice(&body);
    }
    bomb.extend(chunk());
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bombs.pcap");
    let mut p = Pcap::new(BufWriter::new(std::fs::File::create(&path).unwrap()), 65535);
    let mut conns: Vec<Conn> = (0..6).map(|i| Conn::new(50 + i, 8080)).collect();
    for c in &mut conns {
        c.open(&mut p, true);
        let mut f = frame(true, 2, false, &bomb);
        f[0] &= 0x7f; // not final: the message stays in progress
        c.send(&mut p, false, &f);
    }
    for (i, c) in conns.iter_mut().enumerate() {
        c.send(&mut p, false, &frame(false, 0, false, b""));
        c.send(&mut p, false, &text(false, &format!("after {i}")));
        c.close(&mut p);
    }
    drop(p);
    keep(&path);
    let r = run(&[], &path);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let msgs: Vec<&serde_json::Value> = r
        .records
        .iter()
        .filter(|r| r["record"] == "message")
        .collect();
    assert_eq!(msgs.len(), 12, "{}", r.stderr);
    let bombs: Vec<_> = msgs.iter().filter(|m| m["opcode"] == "binary").collect();
    assert_eq!(bombs.len(), 6);
    assert!(bombs
        .iter()
        .all(|m| m["truncated"] == true && m["length"] == 100u64 << 20));
    assert!(r.stderr.contains("memory budget"), "{}", r.stderr);
    let texts = r.texts();
    for i in 0..6 {
        assert!(texts.contains(&format!("after {i}")), "{texts:?}");
    }
}
