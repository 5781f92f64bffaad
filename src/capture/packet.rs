//! Packet decoding: link layer → IPv4/IPv6 → TCP, as a borrowed [`TcpSegment`].
//!
//! Ethernet (with 802.1Q/QinQ tags), IPv4/IPv6 (with extension headers) and TCP are parsed
//! by `etherparse` in its lax mode, so packets cut by the snap length still yield their
//! headers and the part of the payload that was captured. Linux cooked v1/v2, BSD
//! NULL/LOOP and Linux NFLOG headers are stripped here by hand. A packet without TCP of
//! its own may carry it in a tunnel: [`tunnel`] takes those off.

use crate::capture::linktype;
use crate::capture::tunnel::{self, Encap};
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
    /// The tunnels the segment came through, outermost first (empty for most packets).
    pub encap: Encap,
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

/// Decodes one captured packet of the given link type down to its TCP segment, through
/// the tunnels it may be carried in.
pub fn decode(linktype: u32, data: &[u8]) -> Result<TcpSegment<'_>, PacketError> {
    let sliced = match linktype {
        linktype::ETHERNET => Next::Ethernet(data).slice()?,
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
            Next::EtherType(proto, &data[16..]).slice()?
        }
        linktype::LINUX_SLL2 => {
            let hdr = data
                .get(..20)
                .ok_or_else(|| PacketError::Malformed("SLL2 header cut".into()))?;
            let proto = u16::from_be_bytes([hdr[0], hdr[1]]);
            Next::EtherType(proto, &data[20..]).slice()?
        }
        linktype::NFLOG => from_ip(nflog_payload(data)?)?,
        other => return Err(PacketError::UnsupportedLinktype(other)),
    };
    segment(&sliced, tunnel::decapsulate)
}

/// Where the next header starts and what it is: how a link type, or a tunnel, hands its
/// payload on to be sliced.
#[derive(Clone, Copy, Debug)]
pub(super) enum Next<'a> {
    /// An Ethernet frame.
    Ethernet(&'a [u8]),
    /// The payload of an EtherType (IP, VLAN, MPLS, ...).
    EtherType(u16, &'a [u8]),
    /// An IPv4 or IPv6 packet (told apart by its version nibble).
    Ip(&'a [u8]),
}

impl<'a> Next<'a> {
    /// The headers etherparse finds from here on.
    #[inline(always)]
    pub(super) fn slice(self) -> Result<LaxSlicedPacket<'a>, PacketError> {
        match self {
            Next::Ethernet(d) => LaxSlicedPacket::from_ethernet(d)
                .map_err(|e| PacketError::Malformed(format!("ethernet: {e}"))),
            Next::EtherType(t, d) => Ok(LaxSlicedPacket::from_ether_type(EtherType(t), d)),
            Next::Ip(d) => from_ip(d),
        }
    }
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

/// NFLOG attribute type of the logged packet (`NFULA_PAYLOAD`).
const NFULA_PAYLOAD: u16 = 9;

/// The IP packet of a Linux NFLOG record: a 4-byte header (family, version, resource
/// id), then attributes (TLVs: length including its 4-byte header, type; padded to 4
/// bytes), of which type 9 holds the packet. TLV lengths and types are in the byte order
/// of the host that captured, which the record does not say: the order whose TLVs tile
/// the record exactly (the packet's may run past its end, cut by the snap length) is
/// taken, little-endian first.
fn nflog_payload(data: &[u8]) -> Result<&[u8], PacketError> {
    let tlvs = data
        .get(4..)
        .ok_or_else(|| PacketError::Malformed("NFLOG header cut".into()))?;
    let mut consistent = false;
    for read in [u16::from_le_bytes, u16::from_be_bytes] {
        let mut rest = tlvs;
        let mut payload = None;
        let tiles = loop {
            let Some(h) = rest.get(..4) else {
                break rest.is_empty();
            };
            let len = usize::from(read([h[0], h[1]]));
            let is_payload = read([h[2], h[3]]) == NFULA_PAYLOAD;
            if len < 4 || (len > rest.len() && !is_payload) {
                break false;
            }
            if is_payload {
                // Cut by the snap length when longer than the record: the IP header
                // then says how much is missing.
                payload = rest.get(4..len.min(rest.len()));
            }
            rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
        };
        consistent |= tiles;
        if let (true, Some(p)) = (tiles, payload) {
            return Ok(p);
        }
    }
    if consistent {
        // A record without a packet (the attributes alone).
        Err(PacketError::NotTcp)
    } else {
        Err(PacketError::Malformed(
            "NFLOG attributes do not fit the record".into(),
        ))
    }
}

/// What a packet without TCP of its own is searched for (tunnels), or not.
pub(super) type Other<'a> = fn(&LaxSlicedPacket<'a>) -> Result<TcpSegment<'a>, PacketError>;

/// The TCP segment of a sliced packet; what `other` finds when it holds none (called
/// from here so that the common case returns its segment straight).
#[inline(always)]
pub(super) fn segment<'a>(
    p: &LaxSlicedPacket<'a>,
    other: Other<'a>,
) -> Result<TcpSegment<'a>, PacketError> {
    let Some(net) = &p.net else {
        return match &p.stop_err {
            Some((e, layer)) => Err(PacketError::Malformed(format!("{layer}: {e}"))),
            None => other(p),
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
        return other(p);
    };
    if ip_payload.fragmented {
        return Err(PacketError::IpFragment);
    }
    if ip_payload.ip_number != etherparse::IpNumber::TCP {
        return other(p);
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
        encap: Encap::default(),
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

    /// An NFLOG record: header, a prefix attribute (4 bytes, padded), the packet
    /// attribute; TLV fields in the byte order `tlv` writes.
    fn nflog(ip: &[u8], tlv: fn(u16) -> [u8; 2]) -> Vec<u8> {
        let mut r = vec![2, 0, 0, 1];
        r.extend(tlv(8));
        r.extend(tlv(10));
        r.extend(b"ws\0\0");
        r.extend(tlv(4 + ip.len() as u16));
        r.extend(tlv(9));
        r.extend(ip);
        r
    }

    #[test]
    fn nflog_in_either_byte_order() {
        let ip = v4_tcp(b"hello!");
        for tlv in [u16::to_le_bytes, u16::to_be_bytes] {
            let rec = nflog(&ip, tlv);
            let s = decode(linktype::NFLOG, &rec).unwrap();
            assert_eq!(s.payload, b"hello!");
            assert!(s.encap.is_empty());
            // Cut by the snap length inside the packet: the IP header tells what is missing.
            let s = decode(linktype::NFLOG, &rec[..rec.len() - 4]).unwrap();
            assert_eq!((s.payload, s.missing), (&b"he"[..], 4));
        }
        // Attributes without a packet; attributes that do not tile the record.
        let mut no_packet = vec![2, 0, 0, 1];
        no_packet.extend([8, 0, 10, 0]);
        no_packet.extend(b"ws\0\0");
        assert_eq!(
            decode(linktype::NFLOG, &no_packet),
            Err(PacketError::NotTcp)
        );
        let mut bad = no_packet.clone();
        bad[4] = 200;
        assert!(matches!(
            decode(linktype::NFLOG, &bad),
            Err(PacketError::Malformed(_))
        ));
        assert!(matches!(
            decode(linktype::NFLOG, &[2, 0]),
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
            for lt in [0, 1, 101, 108, 113, 228, 229, 239, 276] {
                let _ = decode(lt, &junk);
            }
        }
    }
}
