//! Packet decoding: link layer → IPv4/IPv6 → TCP, as a borrowed [`TcpSegment`].
//!
//! Ethernet (with 802.1Q/QinQ tags), IPv4/IPv6 (with extension headers) and TCP are parsed
//! by `etherparse` in its lax mode, so packets cut by the snap length still yield their
//! headers and the part of the payload that was captured. Linux cooked v1/v2 and BSD
//! NULL/LOOP headers are stripped here by hand.

use crate::capture::linktype;
use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use std::net::{IpAddr, SocketAddr};

/// TCP header flags the reassembler cares about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    /// SYN.
    pub syn: bool,
    /// ACK.
    pub ack: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
}

/// A decoded TCP segment, borrowing its payload from the packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    /// Sender address and port.
    pub src: SocketAddr,
    /// Receiver address and port.
    pub dst: SocketAddr,
    /// Sequence number of the first payload byte (or of the SYN/FIN).
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Captured payload bytes.
    pub payload: &'a [u8],
    /// Payload bytes the IP header announces but the capture cut off (snap length).
    pub missing: u32,
}

/// Why a packet yields no TCP segment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The interface's link type is not decoded.
    #[error("unsupported link type {0}")]
    UnsupportedLinktype(u32),
    /// A valid packet of another protocol (ARP, UDP, ICMP, …).
    #[error("not TCP")]
    NotTcp,
    /// An IP fragment; reassembly of IP fragments is not done.
    #[error("IP fragment (not reassembled)")]
    IpFragment,
    /// The headers are cut or malformed.
    #[error("malformed packet: {0}")]
    Malformed(String),
}

/// Decodes one captured packet of the given link type down to its TCP segment.
pub fn decode(linktype: u32, data: &[u8]) -> Result<TcpSegment<'_>, PacketError> {
    let sliced = match linktype {
        linktype::ETHERNET => LaxSlicedPacket::from_ethernet(data)
            .map_err(|e| PacketError::Malformed(format!("ethernet: {e}")))?,
        linktype::RAW
        | linktype::RAW_BSD
        | linktype::RAW_OPENBSD
        | linktype::IPV4
        | linktype::IPV6 => from_ip(data)?,
        linktype::NULL | linktype::LOOP => {
            let hdr = data
                .get(..4)
                .ok_or_else(|| PacketError::Malformed("loopback header cut".into()))?;
            let le = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
            let be = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
            // AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD),
            // 28 (FreeBSD), 30 (macOS). The file may come from either byte order.
            let family = if le < 256 { le } else { be };
            match family {
                2 | 10 | 24 | 28 | 30 => from_ip(&data[4..])?,
                _ => return Err(PacketError::NotTcp),
            }
        }
        linktype::LINUX_SLL => {
            let hdr = data
                .get(..16)
                .ok_or_else(|| PacketError::Malformed("SLL header cut".into()))?;
            let proto = u16::from_be_bytes([hdr[14], hdr[15]]);
            from_ether_type(proto, &data[16..])
        }
        linktype::LINUX_SLL2 => {
            let hdr = data
                .get(..20)
                .ok_or_else(|| PacketError::Malformed("SLL2 header cut".into()))?;
            let proto = u16::from_be_bytes([hdr[0], hdr[1]]);
            from_ether_type(proto, &data[20..])
        }
        other => return Err(PacketError::UnsupportedLinktype(other)),
    };
    segment(sliced)
}

fn from_ip(data: &[u8]) -> Result<LaxSlicedPacket<'_>, PacketError> {
    match data.first().map(|b| b >> 4) {
        Some(4) | Some(6) => {
            LaxSlicedPacket::from_ip(data).map_err(|e| PacketError::Malformed(format!("ip: {e}")))
        }
        Some(_) => Err(PacketError::NotTcp),
        None => Err(PacketError::Malformed("empty packet".into())),
    }
}

fn from_ether_type(proto: u16, data: &[u8]) -> LaxSlicedPacket<'_> {
    LaxSlicedPacket::from_ether_type(EtherType(proto), data)
}

fn segment(p: LaxSlicedPacket<'_>) -> Result<TcpSegment<'_>, PacketError> {
    let Some(net) = &p.net else {
        return match p.stop_err {
            Some((e, layer)) => Err(PacketError::Malformed(format!("{layer}: {e}"))),
            None => Err(PacketError::NotTcp),
        };
    };
    let (src_ip, dst_ip, claimed_end, ip_start): (IpAddr, IpAddr, Option<usize>, *const u8) =
        match net {
            LaxNetSlice::Ipv4(v4) => {
                let h = v4.header();
                let total = h.total_len() as usize;
                (
                    IpAddr::V4(h.source_addr()),
                    IpAddr::V4(h.destination_addr()),
                    (total >= h.slice().len()).then_some(total),
                    h.slice().as_ptr(),
                )
            }
            LaxNetSlice::Ipv6(v6) => {
                let h = v6.header();
                let plen = h.payload_length() as usize;
                (
                    IpAddr::V6(h.source_addr()),
                    IpAddr::V6(h.destination_addr()),
                    (plen > 0).then_some(40 + plen),
                    h.slice().as_ptr(),
                )
            }
        };
    let Some(ip_payload) = net.ip_payload_ref() else {
        return Err(PacketError::NotTcp);
    };
    if ip_payload.fragmented {
        return Err(PacketError::IpFragment);
    }
    if ip_payload.ip_number != etherparse::IpNumber::TCP {
        return Err(PacketError::NotTcp);
    }
    let tcp = match &p.transport {
        Some(TransportSlice::Tcp(t)) => t,
        _ => {
            return Err(match &p.stop_err {
                Some((e, _)) => PacketError::Malformed(format!("tcp: {e}")),
                None => PacketError::Malformed("tcp header missing".into()),
            })
        }
    };
    let payload = tcp.payload();
    // Bytes announced by the IP length but absent from the capture (snap length).
    let captured_end = payload.as_ptr() as usize + payload.len() - ip_start as usize;
    let missing = claimed_end
        .map(|end| end.saturating_sub(captured_end))
        .unwrap_or(0);
    Ok(TcpSegment {
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
        },
        payload,
        missing: u32::try_from(missing).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn v4_tcp(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 8080, 1000, 65535)
            .ack(5)
            .psh();
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    fn v6_tcp(payload: &[u8]) -> Vec<u8> {
        let mut src = [0u8; 16];
        src[15] = 1;
        let b = PacketBuilder::ipv6(src, src, 64)
            .tcp(40000, 8080, 7, 65535)
            .syn();
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    fn eth(ethertype: u16, inner: &[u8], vlans: &[u16]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        for (i, v) in vlans.iter().enumerate() {
            f.extend(
                if i == 0 && vlans.len() == 2 {
                    0x88a8u16
                } else {
                    0x8100u16
                }
                .to_be_bytes(),
            );
            f.extend(v.to_be_bytes());
        }
        f.extend(ethertype.to_be_bytes());
        f.extend(inner);
        f
    }

    #[test]
    fn every_link_type_yields_the_same_segment() {
        let ip = v4_tcp(b"hello");
        let mut sll = vec![0, 0, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0];
        sll.extend(0x0800u16.to_be_bytes());
        sll.extend(&ip);
        let mut sll2 = 0x0800u16.to_be_bytes().to_vec();
        sll2.extend([0, 0, 0, 0, 0, 1, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
        sll2.extend(&ip);
        let mut null_le = 2u32.to_le_bytes().to_vec();
        null_le.extend(&ip);
        let mut loop_be = 2u32.to_be_bytes().to_vec();
        loop_be.extend(&ip);
        let cases: Vec<(u32, Vec<u8>)> = vec![
            (linktype::ETHERNET, eth(0x0800, &ip, &[])),
            (linktype::ETHERNET, eth(0x0800, &ip, &[10])),
            (linktype::ETHERNET, eth(0x0800, &ip, &[10, 20])),
            (linktype::RAW, ip.clone()),
            (linktype::IPV4, ip.clone()),
            (linktype::LINUX_SLL, sll),
            (linktype::LINUX_SLL2, sll2),
            (linktype::NULL, null_le.clone()),
            (linktype::NULL, loop_be.clone()),
            (linktype::LOOP, loop_be),
        ];
        for (lt, data) in cases {
            let s = decode(lt, &data).unwrap_or_else(|e| panic!("linktype {lt}: {e}"));
            assert_eq!(s.src, "10.0.0.1:40000".parse().unwrap());
            assert_eq!(s.dst, "10.0.0.2:8080".parse().unwrap());
            assert_eq!(s.seq, 1000);
            assert_eq!(s.ack, 5);
            assert!(s.flags.ack && !s.flags.syn);
            assert_eq!(s.payload, b"hello");
            assert_eq!(s.missing, 0);
        }
    }

    #[test]
    fn ipv6_and_ethernet_padding() {
        let ip = v6_tcp(b"");
        let s = decode(linktype::IPV6, &ip).unwrap();
        assert_eq!(s.src.to_string(), "[::1]:40000");
        assert!(s.flags.syn);
        // Ethernet pads short frames to 60 bytes: padding is not payload.
        let mut frame = eth(0x0800, &v4_tcp(b"x"), &[]);
        frame.resize(60, 0);
        assert_eq!(decode(linktype::ETHERNET, &frame).unwrap().payload, b"x");
    }

    #[test]
    fn snaplen_cut_reports_missing_bytes() {
        let ip = v4_tcp(&[7u8; 1000]);
        let s = decode(linktype::RAW, &ip[..300]).unwrap();
        assert_eq!(s.payload.len(), 300 - 40);
        assert_eq!(s.missing, 740);
        assert!(matches!(
            decode(linktype::RAW, &ip[..30]),
            Err(PacketError::Malformed(_))
        ));
    }

    #[test]
    fn other_traffic_and_garbage() {
        assert_eq!(
            decode(147, b"anything"),
            Err(PacketError::UnsupportedLinktype(147))
        );
        let arp = eth(0x0806, &[0u8; 28], &[]);
        assert_eq!(decode(linktype::ETHERNET, &arp), Err(PacketError::NotTcp));
        for len in 0..60 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            for lt in [0, 1, 101, 108, 113, 228, 229, 276] {
                let _ = decode(lt, &junk);
            }
        }
    }
}
