//! Writing captures by hand for the tests: a pcap writer, TCP packets, and a TCP
//! connection that keeps its sequence numbers.

use std::io::Write;

/// A pcap writer (Ethernet, microseconds) over any sink.
pub struct Pcap<W: Write> {
    w: W,
    n: u64,
}

impl<W: Write> Pcap<W> {
    pub fn new(mut w: W, snaplen: u32) -> Pcap<W> {
        w.write_all(&0xa1b2c3d4u32.to_le_bytes()).unwrap();
        w.write_all(&2u16.to_le_bytes()).unwrap();
        w.write_all(&4u16.to_le_bytes()).unwrap();
        w.write_all(&[0; 8]).unwrap();
        w.write_all(&snaplen.to_le_bytes()).unwrap();
        w.write_all(&1u32.to_le_bytes()).unwrap();
        Pcap { w, n: 0 }
    }

    pub fn packet(&mut self, data: &[u8]) {
        self.n += 1;
        let ts = 1_700_000_000 + (self.n / 1000) as u32;
        let us = (self.n % 1000) as u32 * 1000;
        for v in [ts, us, data.len() as u32, data.len() as u32] {
            self.w.write_all(&v.to_le_bytes()).unwrap();
        }
        self.w.write_all(data).unwrap();
    }
}

pub type Ep = ([u8; 4], u16);

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const PSH: u8 = 0x08;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;

/// Ethernet + IPv4 + TCP (checksums left zero: the decoder does not check them).
pub fn tcp_packet(src: Ep, dst: Ep, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 12];
    p.extend_from_slice(&[0x08, 0x00]);
    let total = (40 + payload.len()) as u16;
    p.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        6,
        0,
        0,
    ]);
    p.extend_from_slice(&src.0);
    p.extend_from_slice(&dst.0);
    p.extend_from_slice(&src.1.to_be_bytes());
    p.extend_from_slice(&dst.1.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ack.to_be_bytes());
    p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

/// One TCP connection being written: tracks both sequence numbers.
pub struct Conn {
    pub c: Ep,
    pub s: Ep,
    pub cseq: u32,
    pub sseq: u32,
}

impl Conn {
    pub fn new(client: u32, port: u16) -> Conn {
        Conn {
            c: (
                [10, 1, (client >> 8) as u8, client as u8],
                40000 + (client % 20000) as u16,
            ),
            s: ([10, 0, 0, 1], port),
            cseq: 1000 + client.wrapping_mul(7919),
            sseq: 5000 + client.wrapping_mul(104729),
        }
    }

    /// SYN, SYN-ACK, ACK.
    pub fn syn<W: Write>(&mut self, p: &mut Pcap<W>) {
        p.packet(&tcp_packet(self.c, self.s, self.cseq, 0, SYN, b""));
        p.packet(&tcp_packet(
            self.s,
            self.c,
            self.sseq,
            self.cseq + 1,
            SYN | ACK,
            b"",
        ));
        self.cseq += 1;
        self.sseq += 1;
        p.packet(&tcp_packet(self.c, self.s, self.cseq, self.sseq, ACK, b""));
    }

    /// SYN, SYN-ACK, ACK, upgrade request and its 101 answer.
    pub fn open<W: Write>(&mut self, p: &mut Pcap<W>, deflate: bool) {
        self.syn(p);
        let ext = if deflate {
            "Sec-WebSocket-Extensions: permessage-deflate\r\n"
        } else {
            ""
        };
        let req = format!(
            "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
        );
        self.send(p, true, req.as_bytes());
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{ext}\r\n"
        );
        self.send(p, false, resp.as_bytes());
    }

    /// Sends `bytes` in order, in segments of at most 1400 bytes.
    pub fn send<W: Write>(&mut self, p: &mut Pcap<W>, to_server: bool, bytes: &[u8]) {
        for chunk in bytes.chunks(1400) {
            let (src, dst, seq, ack) = if to_server {
                (self.c, self.s, &mut self.cseq, self.sseq)
            } else {
                (self.s, self.c, &mut self.sseq, self.cseq)
            };
            p.packet(&tcp_packet(src, dst, *seq, ack, ACK | PSH, chunk));
            *seq = seq.wrapping_add(chunk.len() as u32);
        }
    }

    /// `n` bytes the capture never holds (not acknowledged either).
    pub fn hole(&mut self, to_server: bool, n: u32) {
        let seq = if to_server {
            &mut self.cseq
        } else {
            &mut self.sseq
        };
        *seq = seq.wrapping_add(n);
    }

    pub fn close<W: Write>(&mut self, p: &mut Pcap<W>) {
        p.packet(&tcp_packet(
            self.c,
            self.s,
            self.cseq,
            self.sseq,
            FIN | ACK,
            b"",
        ));
        p.packet(&tcp_packet(
            self.s,
            self.c,
            self.sseq,
            self.cseq + 1,
            FIN | ACK,
            b"",
        ));
    }
}
