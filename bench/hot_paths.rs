//! Criterion benchmarks of the hot paths: frame header parsing, unmasking, inflating,
//! TCP reassembly and JSON output. Inputs come from the deterministic generator
//! (`wsdissect_testkit`), so runs are comparable.
//!
//!     cargo bench -p wsdissect-benches [-- FILTER]

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::io::{self, Cursor};
use wsdissect::run;
use wsdissect::tcp::stream::{CloseKind, Direction, FlowInfo, Provenance, StreamSink};
use wsdissect::tcp::Config;
use wsdissect::view::{Format, View};
use wsdissect::ws::buf::CappedBuf;
use wsdissect::ws::deflate::Inflater;
use wsdissect::ws::frame::{parse_header, unmask, HeaderStatus};
use wsdissect::ws::record::Record;
use wsdissect::ws::{self, Dissector};
use wsdissect_testkit::{self as synth, Options};

fn capture(size: u64, deflate: bool) -> Vec<u8> {
    let mut v = Vec::new();
    synth::generate(
        &mut v,
        Options {
            size,
            deflate,
            seed: 42,
            ..Default::default()
        },
    )
    .expect("generate");
    v
}

fn headers(c: &mut Criterion) {
    let hdrs: Vec<Vec<u8>> = vec![
        vec![0x81, 0x05],
        vec![0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4],
        vec![0xc1, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0],
        vec![0x88, 0x82, 9, 9, 9, 9],
    ];
    let mut g = c.benchmark_group("frame_header");
    g.throughput(Throughput::Elements(hdrs.len() as u64));
    g.bench_function("parse_4", |b| {
        b.iter(|| {
            for h in &hdrs {
                if let HeaderStatus::Header(h) = parse_header(black_box(h)) {
                    black_box(h.payload_len);
                }
            }
        })
    });
    g.finish();
}

fn unmasking(c: &mut Criterion) {
    let mut g = c.benchmark_group("unmask");
    for len in [125usize, 1448, 65536] {
        let mut data = vec![0x5au8; len];
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(format!("{len}B"), |b| {
            b.iter(|| unmask(black_box(&mut data), [1, 2, 3, 4], 3))
        });
    }
    g.finish();
}

/// Captures every compressed piece of one direction as it reaches the dissector.
#[derive(Default)]
struct Collect {
    data: Vec<u8>,
}

impl StreamSink for Collect {
    fn open(&mut self, _: &FlowInfo) {}
    fn data(&mut self, f: &FlowInfo, d: Direction, bytes: &[u8], _: Provenance) {
        if f.id == 0 && d == Direction::ServerToClient {
            self.data.extend_from_slice(bytes);
        }
    }
    fn gap(&mut self, _: &FlowInfo, _: Direction, _: u64, _: Provenance) {}
    fn close(&mut self, _: &FlowInfo, _: Direction, _: CloseKind, _: Provenance) {}
    fn end(&mut self, _: &FlowInfo) {}
}

/// The compressed payloads of one server direction, message by message.
fn compressed_messages(pcap: &[u8]) -> Vec<Vec<u8>> {
    let mut sink = Collect::default();
    run::run(
        "bench",
        Cursor::new(pcap),
        Config::default(),
        &wsdissect::layers::tls::Keys::new(),
        &mut sink,
        &mut |_| {},
        |_, _| Ok(()),
    )
    .expect("run");
    let s = &sink.data;
    let start = s
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("handshake")
        + 4;
    let mut pos = start;
    let mut msgs: Vec<Vec<u8>> = Vec::new();
    let mut cur = Vec::new();
    let mut compressed = false;
    while let HeaderStatus::Header(h) = parse_header(&s[pos..]) {
        let body = &s[pos + h.header_len..pos + h.header_len + h.payload_len as usize];
        if h.opcode.is_data_start() {
            compressed = h.rsv[0];
        }
        cur.extend_from_slice(body);
        pos += h.header_len + h.payload_len as usize;
        if h.fin {
            if compressed {
                msgs.push(std::mem::take(&mut cur));
            } else {
                cur.clear();
            }
        }
        if h.opcode.is_control() {
            break;
        }
    }
    msgs
}

fn inflate(c: &mut Criterion) {
    let msgs = compressed_messages(&capture(4 << 20, true));
    let mut g = c.benchmark_group("inflate");
    let mut check = Inflater::new();
    let out_len: u64 = msgs
        .iter()
        .map(|m| {
            let mut out = CappedBuf::new(usize::MAX);
            check.feed(m, &mut out).unwrap();
            check.finish(&mut out, false).unwrap();
            out.total()
        })
        .sum();
    g.throughput(Throughput::Bytes(out_len));
    for piece in [1448usize, 1 << 20] {
        g.bench_function(format!("pieces_of_{piece}B"), |b| {
            b.iter(|| {
                let mut inf = Inflater::new();
                for m in &msgs {
                    let mut out = CappedBuf::new(64 << 20);
                    for p in m.chunks(piece) {
                        inf.feed(p, &mut out).unwrap();
                    }
                    inf.finish(&mut out, false).unwrap();
                    black_box(out.total());
                }
            })
        });
    }
    // As the dissector does it: a frame's segments gathered and inflated as one run.
    g.bench_function("gathered_1448B", |b| {
        b.iter(|| {
            let mut inf = Inflater::new();
            for m in &msgs {
                let mut out = CappedBuf::new(64 << 20);
                for (i, p) in m.chunks(1448).enumerate() {
                    inf.gather(p, i as u64, &mut out).unwrap();
                }
                inf.finish(&mut out, false).unwrap();
                black_box(out.total());
            }
        })
    });
    g.finish();
}

/// Counts events, to measure capture reading and reassembly alone.
#[derive(Default)]
struct Count(u64);

impl StreamSink for Count {
    fn open(&mut self, _: &FlowInfo) {}
    fn data(&mut self, _: &FlowInfo, _: Direction, bytes: &[u8], _: Provenance) {
        self.0 += bytes.len() as u64;
    }
    fn gap(&mut self, _: &FlowInfo, _: Direction, _: u64, _: Provenance) {}
    fn close(&mut self, _: &FlowInfo, _: Direction, _: CloseKind, _: Provenance) {}
    fn end(&mut self, _: &FlowInfo) {}
}

fn reassembly(c: &mut Criterion) {
    let pcap = capture(16 << 20, false);
    let mut g = c.benchmark_group("reassembly");
    g.throughput(Throughput::Bytes(pcap.len() as u64));
    g.sample_size(20);
    g.bench_function("read_decode_reassemble", |b| {
        b.iter(|| {
            let mut sink = Count::default();
            run::run(
                "bench",
                Cursor::new(&pcap[..]),
                Config::default(),
                &wsdissect::layers::tls::Keys::new(),
                &mut sink,
                &mut |_| {},
                |_, _| Ok(()),
            )
            .expect("run");
            black_box(sink.0)
        })
    });
    g.finish();
}

fn decode_records(pcap: &[u8]) -> Vec<Record> {
    let mut d = Dissector::new("bench.pcap".into(), ws::Options::default());
    let mut recs = Vec::new();
    run::run(
        "bench.pcap",
        Cursor::new(pcap),
        Config::default(),
        &wsdissect::layers::tls::Keys::new(),
        &mut d,
        &mut |_| {},
        |d: &mut Dissector, _| {
            recs.extend(d.drain_records());
            Ok(())
        },
    )
    .expect("run");
    recs
}

fn json_output(c: &mut Criterion) {
    let pcap = capture(16 << 20, false);
    let recs = decode_records(&pcap);
    let mut g = c.benchmark_group("json_output");
    let mut probe = View::new(Format::Jsonl, Vec::new(), None);
    for r in &recs {
        probe.write_record(r).unwrap();
    }
    g.throughput(Throughput::Bytes(probe.finish().unwrap().len() as u64));
    g.sample_size(20);
    g.bench_function("jsonl_messages", |b| {
        b.iter(|| {
            let mut v = View::new(Format::Jsonl, io::sink(), None);
            for r in &recs {
                v.write_record(r).unwrap();
            }
            v.finish().unwrap();
        })
    });
    g.finish();

    let mut g = c.benchmark_group("end_to_end");
    for deflate in [false, true] {
        let pcap = capture(16 << 20, deflate);
        g.throughput(Throughput::Bytes(pcap.len() as u64));
        g.sample_size(10);
        g.bench_function(
            if deflate {
                "deflate_jsonl"
            } else {
                "plain_jsonl"
            },
            |b| {
                b.iter_batched(
                    || (),
                    |()| {
                        let mut d = Dissector::new("bench.pcap".into(), ws::Options::default());
                        let mut v = View::new(Format::Jsonl, io::sink(), None);
                        run::run(
                            "bench.pcap",
                            Cursor::new(&pcap[..]),
                            Config::default(),
                            &wsdissect::layers::tls::Keys::new(),
                            &mut d,
                            &mut |_| {},
                            |d: &mut Dissector, _| {
                                for r in d.drain_records() {
                                    v.write_record(&r)?;
                                }
                                Ok(())
                            },
                        )
                        .expect("run");
                        v.finish().unwrap();
                    },
                    BatchSize::PerIteration,
                )
            },
        );
    }
    g.finish();
}

criterion_group!(
    benches,
    headers,
    unmasking,
    inflate,
    reassembly,
    json_output
);
criterion_main!(benches);
