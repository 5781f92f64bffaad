//! Tunnels: the encapsulations a packet's TCP segment may be carried in, and how each
//! is taken off.
//!
//! `decapsulate` starts where [`packet`](super::packet) found no TCP: a packet whose
//! IP payload is IP (IP-in-IP, IPv6-in-IP), GRE (with ERSPAN types I, II and III) or UDP
//! to the VXLAN (4789) or Geneve (6081) port, or whose Ethernet payload is MPLS or a
//! PPPoE session. Each header is parsed here by hand (etherparse 0.16 knows none of
//! them) into a typed [`Tunnel`] and the place its payload starts (`Next`), which
//! etherparse slices again; the walk repeats until TCP is found, something else is, or
//! [`MAX_DEPTH`] tunnels were taken off. The tunnels are handed up with the segment as
//! its [`Encap`], outermost first.
//!
//! Everything is bounds-checked: a header cut short is [`PacketError::Malformed`], a
//! protocol, version or payload type not decoded here is [`PacketError::NotTcp`] (like
//! any other traffic without TCP). Packets without a tunnel never come here, so the
//! plain path pays nothing but an empty [`Encap`] (a null pointer).

use super::packet::{segment, Next, PacketError, TcpSegment};
use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use std::net::IpAddr;
use std::sync::Arc;

/// Tunnels taken off one packet at most; a packet nested deeper is malformed (and
/// hostile input cannot make the walk long). Real stacks (an MPLS label or two under a
/// VXLAN or GRE tunnel) stay well below it.
pub const MAX_DEPTH: usize = 8;

/// UDP destination port of VXLAN (RFC 7348).
const VXLAN_PORT: u16 = 4789;
/// UDP destination port of Geneve (RFC 8926).
const GENEVE_PORT: u16 = 6081;
/// EtherType of transparent Ethernet bridging (an Ethernet frame follows).
const TEB: u16 = 0x6558;
/// GRE protocol type of ERSPAN types I and II.
const ERSPAN_II: u16 = 0x88be;
/// GRE protocol type of ERSPAN type III.
const ERSPAN_III: u16 = 0x22eb;
/// EtherType of MPLS unicast.
const MPLS_UC: u16 = 0x8847;
/// EtherType of MPLS multicast.
const MPLS_MC: u16 = 0x8848;
/// EtherType of a PPPoE session (RFC 2516).
const PPPOE_SESSION: u16 = 0x8864;

/// One encapsulation protocol and what identifies the tunnel in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// VXLAN (UDP 4789), with its 24-bit network identifier.
    Vxlan {
        /// VXLAN Network Identifier.
        vni: u32,
    },
    /// Geneve (UDP 6081; what AWS Gateway Load Balancer sends), with its 24-bit network
    /// identifier.
    Geneve {
        /// Virtual Network Identifier.
        vni: u32,
    },
    /// GRE carrying IP, Ethernet (transparent bridging) or another EtherType.
    Gre {
        /// The key field, when present.
        key: Option<u32>,
    },
    /// ERSPAN (mirrored frames in GRE).
    Erspan {
        /// 1, 2 or 3 for ERSPAN type I (no header), II or III.
        erspan_type: u8,
        /// The 10-bit session ID (types II and III).
        session_id: Option<u16>,
    },
    /// IPv4 or IPv6 carried directly in IPv4 or IPv6 (IP protocols 4 and 41).
    IpInIp,
    /// One MPLS label stack entry.
    Mpls {
        /// The 20-bit label.
        label: u32,
    },
    /// A PPPoE session.
    Pppoe {
        /// The session ID.
        session_id: u16,
    },
}

impl TunnelKind {
    /// The name in output (`"vxlan"`, `"ip_in_ip"`...).
    pub fn name(self) -> &'static str {
        match self {
            TunnelKind::Vxlan { .. } => "vxlan",
            TunnelKind::Geneve { .. } => "geneve",
            TunnelKind::Gre { .. } => "gre",
            TunnelKind::Erspan { .. } => "erspan",
            TunnelKind::IpInIp => "ip_in_ip",
            TunnelKind::Mpls { .. } => "mpls",
            TunnelKind::Pppoe { .. } => "pppoe",
        }
    }
}

/// One tunnel a packet came through: its protocol and, for tunnels carried by IP, the
/// outer source and destination addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tunnel {
    /// The encapsulation.
    pub kind: TunnelKind,
    /// The addresses of the IP header carrying it (source, destination); `None` for
    /// MPLS and PPPoE, which sit below IP.
    pub outer: Option<(IpAddr, IpAddr)>,
}

/// JSON: `{"type":"vxlan","vni":42,"outer_src":"10.0.0.1","outer_dst":"10.0.0.2"}`, the
/// identifying fields of the kind and the outer addresses when there are some.
impl Serialize for Tunnel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", self.kind.name())?;
        match self.kind {
            TunnelKind::Vxlan { vni } | TunnelKind::Geneve { vni } => {
                m.serialize_entry("vni", &vni)?
            }
            TunnelKind::Gre { key } => {
                if let Some(k) = key {
                    m.serialize_entry("key", &k)?
                }
            }
            TunnelKind::Erspan {
                erspan_type,
                session_id,
            } => {
                m.serialize_entry("erspan_type", &erspan_type)?;
                if let Some(id) = session_id {
                    m.serialize_entry("session_id", &id)?
                }
            }
            TunnelKind::IpInIp => {}
            TunnelKind::Mpls { label } => m.serialize_entry("label", &label)?,
            TunnelKind::Pppoe { session_id } => m.serialize_entry("session_id", &session_id)?,
        }
        if let Some((src, dst)) = self.outer {
            m.serialize_entry("outer_src", &src)?;
            m.serialize_entry("outer_dst", &dst)?;
        }
        m.end()
    }
}

/// The tunnels a packet came through, outermost first; empty for a packet without one.
/// Cheap to clone and to compare (shared, and a null pointer when empty), so that a
/// segment can carry it and a connection keep it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Encap(Option<Arc<[Tunnel]>>);

impl Encap {
    /// The encapsulation made of `tunnels`, outermost first.
    pub fn new(tunnels: &[Tunnel]) -> Encap {
        Encap((!tunnels.is_empty()).then(|| Arc::from(tunnels)))
    }

    /// The tunnels, outermost first.
    pub fn tunnels(&self) -> &[Tunnel] {
        self.0.as_deref().unwrap_or_default()
    }

    /// True for a packet that came through no tunnel.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

/// JSON: an array of [`Tunnel`]s, outermost first.
impl Serialize for Encap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.tunnels();
        let mut seq = s.serialize_seq(Some(t.len()))?;
        for x in t {
            seq.serialize_element(x)?;
        }
        seq.end()
    }
}

/// Takes tunnels off a packet `p` that holds no TCP of its own (called by
/// [`segment`] for those), until a TCP segment appears (returned with the tunnels as its [`Encap`]). [`PacketError::NotTcp`] when
/// `p` or what it carries is no tunnel (or no TCP); an error of an inner layer names the
/// tunnel it was found in.
#[cold]
#[inline(never)]
pub(super) fn decapsulate<'a>(p: &LaxSlicedPacket<'a>) -> Result<TcpSegment<'a>, PacketError> {
    let mut tunnels = [Tunnel {
        kind: TunnelKind::IpInIp,
        outer: None,
    }; MAX_DEPTH];
    let (first, mut next) = inner(p)?.ok_or(PacketError::NotTcp)?;
    tunnels[0] = first;
    let mut depth = 1;
    loop {
        let within = |e: PacketError| match e {
            PacketError::Malformed(m) => {
                PacketError::Malformed(format!("in {} tunnel: {m}", tunnels[depth - 1].kind.name()))
            }
            e => e,
        };
        let p = next.slice().map_err(within)?;
        match segment(&p, |_| Err(PacketError::NotTcp)) {
            Ok(mut seg) => {
                seg.encap = Encap::new(&tunnels[..depth]);
                return Ok(seg);
            }
            Err(PacketError::NotTcp) => {}
            Err(e) => return Err(within(e)),
        }
        let (t, n) = inner(&p).map_err(within)?.ok_or(PacketError::NotTcp)?;
        let Some(slot) = tunnels.get_mut(depth) else {
            return Err(PacketError::Malformed(format!(
                "more than {MAX_DEPTH} nested tunnels"
            )));
        };
        *slot = t;
        depth += 1;
        next = n;
    }
}

/// The tunnel `p` is, and where what it carries starts; `None` when `p` is no tunnel
/// decoded here.
fn inner<'a>(p: &LaxSlicedPacket<'a>) -> Result<Option<(Tunnel, Next<'a>)>, PacketError> {
    let Some(net) = &p.net else {
        let Some(e) = p.ether_payload() else {
            return Ok(None);
        };
        let found = match e.ether_type.0 {
            MPLS_UC | MPLS_MC => mpls(e.payload)?,
            PPPOE_SESSION => pppoe(e.payload)?,
            _ => None,
        };
        return Ok(found.map(|(kind, next)| (Tunnel { kind, outer: None }, next)));
    };
    let outer = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
            )
        }
    };
    let Some(ip) = p.ip_payload() else {
        return Ok(None);
    };
    let found = match ip.ip_number.0 {
        4 | 41 => Some((TunnelKind::IpInIp, Next::Ip(ip.payload))),
        47 => gre(ip.payload)?,
        17 => match &p.transport {
            Some(TransportSlice::Udp(u)) => match u.destination_port() {
                VXLAN_PORT => Some(vxlan(u.payload())?),
                GENEVE_PORT => geneve(u.payload())?,
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    Ok(found.map(|(kind, next)| {
        (
            Tunnel {
                kind,
                outer: Some(outer),
            },
            next,
        )
    }))
}

/// The first `n` bytes of `d` and the rest, or a Malformed error naming `what`.
fn split<'a>(d: &'a [u8], n: usize, what: &str) -> Result<(&'a [u8], &'a [u8]), PacketError> {
    if d.len() < n {
        return Err(PacketError::Malformed(format!(
            "{what} cut ({} of {n} bytes)",
            d.len()
        )));
    }
    Ok(d.split_at(n))
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// VXLAN (RFC 7348): 8 bytes (flags, VNI), then an Ethernet frame.
fn vxlan(d: &[u8]) -> Result<(TunnelKind, Next<'_>), PacketError> {
    let (h, rest) = split(d, 8, "VXLAN header")?;
    let vni = be32(h, 4) >> 8;
    Ok((TunnelKind::Vxlan { vni }, Next::Ethernet(rest)))
}

/// Geneve (RFC 8926): 8 bytes and the options they announce, then what the protocol
/// type names (Ethernet for 0x6558, else an EtherType). Versions other than 0 are not
/// decoded.
fn geneve(d: &[u8]) -> Result<Option<(TunnelKind, Next<'_>)>, PacketError> {
    let (h, _) = split(d, 8, "Geneve header")?;
    if h[0] >> 6 != 0 {
        return Ok(None);
    }
    let len = 8 + usize::from(h[0] & 0x3f) * 4;
    let (_, rest) = split(d, len, "Geneve options")?;
    let vni = be32(h, 4) >> 8;
    Ok(Some((
        TunnelKind::Geneve { vni },
        ether_type(be16(h, 2), rest),
    )))
}

/// What an EtherType-labelled payload is: an Ethernet frame for transparent bridging,
/// else the payload of that EtherType.
fn ether_type(t: u16, d: &[u8]) -> Next<'_> {
    if t == TEB {
        Next::Ethernet(d)
    } else {
        Next::EtherType(t, d)
    }
}

/// GRE version 0 (RFC 2784, with the key and sequence number of RFC 2890 and the
/// routing of RFC 1701), and ERSPAN inside it. Version 1 (PPTP) is not decoded.
fn gre(d: &[u8]) -> Result<Option<(TunnelKind, Next<'_>)>, PacketError> {
    let (h, mut rest) = split(d, 4, "GRE header")?;
    let (flags, version, proto) = (h[0], h[1] & 0x07, be16(h, 2));
    if version != 0 {
        return Ok(None);
    }
    let (checksum, routing, has_key, has_seq) = (
        flags & 0x80 != 0,
        flags & 0x40 != 0,
        flags & 0x20 != 0,
        flags & 0x10 != 0,
    );
    if checksum || routing {
        rest = split(rest, 4, "GRE checksum")?.1;
    }
    let mut key = None;
    if has_key {
        let (k, r) = split(rest, 4, "GRE key")?;
        key = Some(be32(k, 0));
        rest = r;
    }
    if has_seq {
        rest = split(rest, 4, "GRE sequence number")?.1;
    }
    if routing {
        // Source route entries, up to the one with address family 0 and length 0.
        loop {
            let (sre, r) = split(rest, 4, "GRE source route entry")?;
            let len = usize::from(sre[3]);
            rest = split(r, len, "GRE source route entry")?.1;
            if be16(sre, 0) == 0 && len == 0 {
                break;
            }
        }
    }
    Ok(match proto {
        ERSPAN_II if !has_seq => Some((
            TunnelKind::Erspan {
                erspan_type: 1,
                session_id: None,
            },
            Next::Ethernet(rest),
        )),
        ERSPAN_II => {
            let (e, frame) = split(rest, 8, "ERSPAN type II header")?;
            Some((
                TunnelKind::Erspan {
                    erspan_type: 2,
                    session_id: Some(be16(e, 2) & 0x3ff),
                },
                Next::Ethernet(frame),
            ))
        }
        ERSPAN_III => erspan3(rest)?,
        _ => Some((TunnelKind::Gre { key }, ether_type(proto, rest))),
    })
}

/// ERSPAN type III: 12 bytes, 8 more of platform-specific subheader when its O bit is
/// set, then the mirrored Ethernet frame (frame type 0) or IP packet (frame type 2).
fn erspan3(d: &[u8]) -> Result<Option<(TunnelKind, Next<'_>)>, PacketError> {
    let (e, mut rest) = split(d, 12, "ERSPAN type III header")?;
    if e[11] & 0x01 != 0 {
        rest = split(rest, 8, "ERSPAN platform-specific subheader")?.1;
    }
    let kind = TunnelKind::Erspan {
        erspan_type: 3,
        session_id: Some(be16(e, 2) & 0x3ff),
    };
    Ok(match (e[10] >> 2) & 0x1f {
        0 => Some((kind, Next::Ethernet(rest))),
        2 => Some((kind, Next::Ip(rest))),
        _ => None,
    })
}

/// One MPLS label stack entry. Below the bottom of the stack the payload type is not
/// written anywhere; it is guessed from the first nibble as Wireshark does: 4 IPv4,
/// 6 IPv6, 0 an Ethernet pseudowire with its control word (RFC 4448); anything else is
/// not decoded.
fn mpls(d: &[u8]) -> Result<Option<(TunnelKind, Next<'_>)>, PacketError> {
    let (h, rest) = split(d, 4, "MPLS label")?;
    let entry = be32(h, 0);
    let kind = TunnelKind::Mpls { label: entry >> 12 };
    if entry & 0x100 == 0 {
        return Ok(Some((kind, Next::EtherType(MPLS_UC, rest))));
    }
    Ok(match rest.first().map(|b| b >> 4) {
        Some(4) | Some(6) => Some((kind, Next::Ip(rest))),
        Some(0) => Some((kind, Next::Ethernet(split(rest, 4, "MPLS control word")?.1))),
        _ => None,
    })
}

/// A PPPoE session packet (RFC 2516): 6 bytes, then PPP; IPv4 (0x0021) and IPv6
/// (0x0057) are decoded, the protocol field compressed to one byte or not.
fn pppoe(d: &[u8]) -> Result<Option<(TunnelKind, Next<'_>)>, PacketError> {
    let (h, rest) = split(d, 6, "PPPoE header")?;
    if h[0] != 0x11 || h[1] != 0 {
        return Ok(None);
    }
    let kind = TunnelKind::Pppoe {
        session_id: be16(h, 2),
    };
    // The PPP bytes the header announces; a frame cut by the snap length has fewer.
    let ppp = rest.get(..usize::from(be16(h, 4))).unwrap_or(rest);
    let (proto, ip) = match ppp.first() {
        Some(&b) if b & 1 == 1 => (u16::from(b), &ppp[1..]),
        _ => {
            let (p, ip) = split(ppp, 2, "PPP protocol")?;
            (be16(p, 0), ip)
        }
    };
    Ok(matches!(proto, 0x0021 | 0x0057).then_some((kind, Next::Ip(ip))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::linktype;
    use crate::capture::packet::decode;
    use etherparse::{IpNumber, PacketBuilder};
    use proptest::prelude::*;

    const A: [u8; 4] = [192, 0, 2, 1];
    const B: [u8; 4] = [192, 0, 2, 2];

    /// The segment every case carries: IPv4, 10.0.0.1:40000 → 10.0.0.2:8080, "hello".
    fn inner_ip() -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 8080, 1000, 65535)
            .ack(5)
            .write(&mut out, b"hello")
            .unwrap();
        out
    }

    fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend(ethertype.to_be_bytes());
        f.extend(payload);
        f
    }

    fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4(A, B, 64)
            .write(&mut out, IpNumber(proto), payload)
            .unwrap();
        out
    }

    fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
        a[..2].copy_from_slice(&[0x20, 0x01]);
        b[..2].copy_from_slice(&[0x20, 0x01]);
        (a[15], b[15]) = (1, 2);
        let mut out = Vec::new();
        PacketBuilder::ipv6(a, b, 64)
            .write(&mut out, IpNumber(next), payload)
            .unwrap();
        out
    }

    fn udp(dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4(A, B, 64)
            .udp(51000, dport)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn outer() -> Option<(IpAddr, IpAddr)> {
        Some((IpAddr::from(A), IpAddr::from(B)))
    }

    /// Decodes `data` (Ethernet unless `lt` says otherwise) and checks it yields the inner
    /// segment; returns its encapsulation.
    fn decoded(lt: u32, data: &[u8]) -> Vec<Tunnel> {
        let s = decode(lt, data).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.src, "10.0.0.1:40000".parse().unwrap());
        assert_eq!(s.dst, "10.0.0.2:8080".parse().unwrap());
        assert_eq!(
            (s.seq, s.ack, s.payload, s.missing),
            (1000, 5, &b"hello"[..], 0)
        );
        s.encap.tunnels().to_vec()
    }

    fn one(kind: TunnelKind, outer: Option<(IpAddr, IpAddr)>) -> Vec<Tunnel> {
        vec![Tunnel { kind, outer }]
    }

    #[test]
    fn plain_packets_have_no_encapsulation() {
        let ip = inner_ip();
        let s = decode(linktype::RAW, &ip).unwrap();
        assert!(s.encap.is_empty());
        assert_eq!(serde_json::to_string(&s.encap).unwrap(), "[]");
    }

    #[test]
    fn vxlan_and_geneve() {
        let frame = eth(0x0800, &inner_ip());
        let vx = cat(&[&[0x08, 0, 0, 0, 0, 0x30, 0x39, 0], &frame]);
        let kind = TunnelKind::Vxlan { vni: 12345 };
        assert_eq!(
            decoded(1, &eth(0x0800, &udp(4789, &vx))),
            one(kind, outer())
        );
        // Geneve with 8 bytes of options, carrying Ethernet, then IPv4 directly.
        let opts = [0x01, 0x08, 0x01, 0x01, 1, 2, 3, 4];
        let gen = cat(&[&[0x02, 0, 0x65, 0x58, 0, 0, 7, 0], &opts, &frame]);
        let kind = TunnelKind::Geneve { vni: 7 };
        assert_eq!(
            decoded(1, &eth(0x0800, &udp(6081, &gen))),
            one(kind, outer())
        );
        let gen_ip = cat(&[&[0, 0, 0x08, 0, 0, 0, 9, 0], &inner_ip()]);
        let kind = TunnelKind::Geneve { vni: 9 };
        assert_eq!(decoded(101, &udp(6081, &gen_ip)), one(kind, outer()));
        // Another Geneve version, or another UDP port, is no tunnel.
        let gen_v1 = cat(&[&[0x40, 0, 0x08, 0, 0, 0, 9, 0], &inner_ip()]);
        assert_eq!(decode(101, &udp(6081, &gen_v1)), Err(PacketError::NotTcp));
        assert_eq!(decode(101, &udp(4790, &vx)), Err(PacketError::NotTcp));
    }

    #[test]
    fn gre_with_optional_fields() {
        let ip = inner_ip();
        let plain = cat(&[&[0, 0, 0x08, 0], &ip]);
        let gre = TunnelKind::Gre { key: None };
        assert_eq!(decoded(101, &ipv4(47, &plain)), one(gre, outer()));
        // Checksum, key and sequence number present.
        let full = cat(&[
            &[0xb0, 0, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 1],
            &ip,
        ]);
        let keyed = TunnelKind::Gre { key: Some(42) };
        assert_eq!(decoded(101, &ipv4(47, &full)), one(keyed, outer()));
        // Transparent Ethernet bridging (gretap), over IPv6.
        let teb = cat(&[&[0, 0, 0x65, 0x58], &eth(0x0800, &ip)]);
        let t = decoded(101, &ipv6(47, &teb));
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].kind, gre);
        assert_eq!(t[0].outer.unwrap().0.to_string(), "2001::1");
        // RFC 1701 routing: one source route entry of 4 bytes, then the null entry.
        let routed = cat(&[
            &[0x40, 0, 0x08, 0, 0, 0, 0, 0],
            &[0, 2, 0, 4, 9, 9, 9, 9],
            &[0, 0, 0, 0],
            &ip,
        ]);
        assert_eq!(decoded(101, &ipv4(47, &routed)), one(gre, outer()));
        // PPTP's enhanced GRE (version 1) is not decoded.
        let v1 = cat(&[&[0x30, 0x81, 0x88, 0x0b, 0, 4, 0, 1, 0, 0, 0, 1], &ip]);
        assert_eq!(decode(101, &ipv4(47, &v1)), Err(PacketError::NotTcp));
    }

    #[test]
    fn erspan_types() {
        let frame = eth(0x0800, &inner_ip());
        let type1 = cat(&[&[0, 0, 0x88, 0xbe], &frame]);
        let k1 = TunnelKind::Erspan {
            erspan_type: 1,
            session_id: None,
        };
        assert_eq!(decoded(101, &ipv4(47, &type1)), one(k1, outer()));
        // Type II: GRE with a sequence number, 8 bytes of ERSPAN (version 1, session 0x2a5).
        let type2 = cat(&[
            &[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1],
            &[0x10, 0x0a, 0x02, 0xa5, 0, 0, 0, 3],
            &frame,
        ]);
        let k2 = TunnelKind::Erspan {
            erspan_type: 2,
            session_id: Some(0x2a5),
        };
        assert_eq!(decoded(101, &ipv4(47, &type2)), one(k2, outer()));
        // Type III with the platform-specific subheader (O bit), then an IP frame type.
        let k3 = TunnelKind::Erspan {
            erspan_type: 3,
            session_id: Some(5),
        };
        let hdr3 = [0x20, 0, 0, 5, 1, 2, 3, 4, 0, 0, 0, 0x01];
        let type3 = cat(&[&[0x10, 0, 0x22, 0xeb, 0, 0, 0, 1], &hdr3, &[7; 8], &frame]);
        assert_eq!(decoded(101, &ipv4(47, &type3)), one(k3, outer()));
        let hdr3_ip = [0x20, 0, 0, 5, 1, 2, 3, 4, 0, 0, 2 << 2, 0];
        let type3_ip = cat(&[&[0x10, 0, 0x22, 0xeb, 0, 0, 0, 1], &hdr3_ip, &inner_ip()]);
        assert_eq!(decoded(101, &ipv4(47, &type3_ip)), one(k3, outer()));
    }

    #[test]
    fn ip_in_ip_all_four_ways() {
        let v4 = inner_ip();
        let mut v6 = Vec::new();
        let (a, b) = (
            "fd00::1".parse::<std::net::Ipv6Addr>().unwrap(),
            "fd00::2".parse::<std::net::Ipv6Addr>().unwrap(),
        );
        PacketBuilder::ipv6(a.octets(), b.octets(), 64)
            .tcp(40000, 8080, 1000, 65535)
            .ack(5)
            .write(&mut v6, b"hello")
            .unwrap();
        let k = TunnelKind::IpInIp;
        assert_eq!(decoded(101, &ipv4(4, &v4)), one(k, outer()));
        assert_eq!(decoded(101, &ipv6(4, &v4))[0].kind, k);
        for data in [ipv4(41, &v6), ipv6(41, &v6)] {
            let s = decode(101, &data).unwrap();
            assert_eq!(s.src.to_string(), "[fd00::1]:40000");
            assert_eq!(s.payload, b"hello");
            assert_eq!(s.encap.tunnels()[0].kind, k);
        }
    }

    #[test]
    fn mpls_stacks_and_pseudowires() {
        // Two labels (16, then 17 with bottom of stack), IPv4 guessed from the nibble.
        let stack = [0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x11, 0x40];
        let t = decoded(1, &eth(0x8847, &cat(&[&stack, &inner_ip()])));
        let labels: Vec<TunnelKind> = t.iter().map(|t| t.kind).collect();
        assert_eq!(
            labels,
            [
                TunnelKind::Mpls { label: 16 },
                TunnelKind::Mpls { label: 17 }
            ]
        );
        assert!(t.iter().all(|t| t.outer.is_none()));
        // An Ethernet pseudowire with its control word.
        let pw = cat(&[
            &[0x00, 0x01, 0x01, 0x40],
            &[0; 4],
            &eth(0x0800, &inner_ip()),
        ]);
        assert_eq!(
            decoded(1, &eth(0x8847, &pw)),
            one(TunnelKind::Mpls { label: 16 }, None)
        );
        // A payload that starts otherwise is not guessed.
        let other = cat(&[&[0x00, 0x01, 0x01, 0x40], &[0x20; 40]]);
        assert_eq!(decode(1, &eth(0x8847, &other)), Err(PacketError::NotTcp));
    }

    #[test]
    fn pppoe_sessions() {
        let ip = inner_ip();
        let len = (ip.len() + 2) as u16;
        let mut s = vec![0x11, 0, 0x12, 0x34];
        s.extend(len.to_be_bytes());
        s.extend([0x00, 0x21]);
        s.extend(&ip);
        let k = TunnelKind::Pppoe { session_id: 0x1234 };
        assert_eq!(decoded(1, &eth(0x8864, &s)), one(k, None));
        // Protocol field compressed to one byte, behind a VLAN tag.
        let mut c = vec![0x11, 0, 0x12, 0x34];
        c.extend((len - 1).to_be_bytes());
        c.push(0x21);
        c.extend(&ip);
        let tagged = cat(&[&[0, 10, 0x88, 0x64], &c]);
        assert_eq!(decoded(1, &eth(0x8100, &tagged)), one(k, None));
        // LCP is not IP.
        let lcp = [0x11, 0, 0x12, 0x34, 0, 6, 0xc0, 0x21, 1, 1, 0, 4];
        assert_eq!(decode(1, &eth(0x8864, &lcp)), Err(PacketError::NotTcp));
    }

    #[test]
    fn nesting_and_its_limit() {
        // VXLAN inside GRE inside an MPLS label.
        let vx = cat(&[&[0x08, 0, 0, 0, 0, 0, 1, 0], &eth(0x0800, &inner_ip())]);
        let gre = cat(&[&[0, 0, 0x08, 0], &udp(4789, &vx)]);
        let mpls = cat(&[&[0x00, 0x01, 0x01, 0x40], &ipv4(47, &gre)]);
        let t = decoded(1, &eth(0x8847, &mpls));
        let kinds: Vec<&str> = t.iter().map(|t| t.kind.name()).collect();
        assert_eq!(kinds, ["mpls", "gre", "vxlan"]);
        // MAX_DEPTH tunnels are taken off; one more is malformed.
        let mut p = inner_ip();
        for _ in 0..MAX_DEPTH {
            p = ipv4(4, &p);
        }
        assert_eq!(decoded(101, &p).len(), MAX_DEPTH);
        let deeper = ipv4(4, &p);
        assert!(
            matches!(decode(101, &deeper), Err(PacketError::Malformed(m)) if m.contains("nested"))
        );
    }

    #[test]
    fn cut_headers_are_malformed_and_say_where() {
        let cases: Vec<(u32, Vec<u8>)> = vec![
            (101, udp(4789, &[0x08, 0, 0])),
            (101, udp(6081, &[0x3f, 0, 0x65, 0x58, 0, 0, 1, 0])),
            (101, ipv4(47, &[0x20, 0, 0x08, 0, 0])),
            (101, ipv4(47, &[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1, 0x10])),
            (101, ipv4(47, &[0, 0, 0x22, 0xeb, 0x20])),
            (1, eth(0x8847, &[0, 1])),
            (1, eth(0x8864, &[0x11, 0])),
        ];
        for (lt, data) in cases {
            assert!(
                matches!(decode(lt, &data), Err(PacketError::Malformed(ref m)) if m.contains("cut")),
                "{data:02x?}: {:?}",
                decode(lt, &data)
            );
        }
        // An inner packet cut short is named by its tunnel.
        let vx = cat(&[
            &[0x08, 0, 0, 0, 0, 0, 1, 0],
            &eth(0x0800, &inner_ip()[..10]),
        ]);
        let e = decode(101, &udp(4789, &vx)).unwrap_err();
        assert!(e.to_string().contains("in vxlan tunnel"), "{e}");
    }

    #[test]
    fn snaplen_cut_inside_a_tunnel() {
        let mut big = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 8080, 1000, 65535)
            .write(&mut big, &[7u8; 1000])
            .unwrap();
        let vx = cat(&[&[0x08, 0, 0, 0, 0, 0, 1, 0], &eth(0x0800, &big)]);
        let packet = udp(4789, &vx);
        let s = decode(101, &packet[..packet.len() - 600]).unwrap();
        assert_eq!((s.payload.len(), s.missing), (400, 600));
    }

    #[test]
    fn json_shape() {
        let e = Encap::new(&[
            Tunnel {
                kind: TunnelKind::Vxlan { vni: 42 },
                outer: Some(("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap())),
            },
            Tunnel {
                kind: TunnelKind::Gre { key: None },
                outer: Some(("::1".parse().unwrap(), "::2".parse().unwrap())),
            },
            Tunnel {
                kind: TunnelKind::Erspan {
                    erspan_type: 2,
                    session_id: Some(3),
                },
                outer: None,
            },
            Tunnel {
                kind: TunnelKind::Mpls { label: 16 },
                outer: None,
            },
        ]);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"[{"type":"vxlan","vni":42,"outer_src":"10.0.0.1","outer_dst":"10.0.0.2"},{"type":"gre","outer_src":"::1","outer_dst":"::2"},{"type":"erspan","erspan_type":2,"session_id":3},{"type":"mpls","label":16}]"#
        );
    }

    /// Valid tunnel headers of kind `which` around `tail`: every path through the walk
    /// gets arbitrary bytes where the inner packet should be.
    fn wrapped(which: usize, tail: &[u8]) -> (u32, Vec<u8>) {
        match which {
            0 => (101, udp(4789, &cat(&[&[0x08, 0, 0, 0, 0, 0, 1, 0], tail]))),
            1 => (
                101,
                udp(6081, &cat(&[&[0x01, 0, 0x65, 0x58, 0, 0, 1, 0], tail])),
            ),
            2 => (101, ipv4(47, &cat(&[&[0, 0, 0x65, 0x58], tail]))),
            3 => (
                101,
                ipv4(47, &cat(&[&[0x10, 0, 0x22, 0xeb, 0, 0, 0, 1], tail])),
            ),
            4 => (101, ipv6(4, tail)),
            5 => (1, eth(0x8847, tail)),
            6 => (1, eth(0x8864, &cat(&[&[0x11, 0, 0, 1, 0xff, 0xff], tail]))),
            _ => (linktype::NFLOG, cat(&[&[2, 0, 0, 0], tail])),
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_after_tunnel_headers(which in 0usize..8, tail in proptest::collection::vec(any::<u8>(), 0..200)) {
            let (lt, p) = wrapped(which, &tail);
            if let Ok(s) = decode(lt, &p) {
                prop_assert!(s.payload.len() <= p.len());
                prop_assert!(s.encap.tunnels().len() <= MAX_DEPTH);
            }
        }
    }
}
