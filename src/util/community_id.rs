//! Community ID v1 (<https://github.com/corelight/community-id-spec>): the flow hash
//! Zeek, Suricata, Arkime and Wireshark log, so that records of one connection join
//! across tools.
//!
//! The hash is SHA-1 over seed (2 bytes, big-endian) | source IP | destination IP |
//! protocol | one zero byte | source port | destination port, all in network byte
//! order, with the endpoints ordered so that the smaller (IP, port) comes first; its
//! base64 after `1:` is the ID. It is computed once per connection, and kept as its
//! text so that each record copies 30 bytes and serialisers write them as they are.

use base64::Engine as _;
use serde::{Serialize, Serializer};
use sha1::{Digest, Sha1};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// IP protocol number of TCP.
const TCP: u8 = 6;

/// A Community ID v1 string, `1:` and the base64 of a SHA-1 hash (30 ASCII bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommunityId([u8; 30]);

impl CommunityId {
    /// The ID of the TCP connection between `a` and `b` (either order), with seed 0 as
    /// the other tools use by default.
    pub fn tcp(a: SocketAddr, b: SocketAddr) -> CommunityId {
        CommunityId::v1(0, TCP, a, b)
    }

    /// The ID of a flow of IP protocol `proto` with ports between `a` and `b` (either
    /// order), hashed with `seed`.
    pub fn v1(seed: u16, proto: u8, a: SocketAddr, b: SocketAddr) -> CommunityId {
        let (oa, ob) = (Octets::of(a.ip()), Octets::of(b.ip()));
        let ((lo, olo), (hi, ohi)) = if (oa.bytes(), a.port()) <= (ob.bytes(), b.port()) {
            ((a, oa), (b, ob))
        } else {
            ((b, ob), (a, oa))
        };
        let mut h = Sha1::new();
        h.update(seed.to_be_bytes());
        h.update(olo.bytes());
        h.update(ohi.bytes());
        h.update([proto, 0]);
        h.update(lo.port().to_be_bytes());
        h.update(hi.port().to_be_bytes());
        let digest = h.finalize();
        let mut text = [0u8; 30];
        text[..2].copy_from_slice(b"1:");
        // 20 bytes are 28 base64 characters (one `=` of padding): the buffer fits.
        let _ = base64::engine::general_purpose::STANDARD.encode_slice(digest, &mut text[2..]);
        CommunityId(text)
    }

    /// The ID's text, `1:...=`.
    pub fn as_str(&self) -> &str {
        // Always ASCII: the prefix and base64.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The ID's text as bytes (for writers that copy it out as it is).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// An address's bytes in network order: 4 for IPv4, 16 for IPv6.
struct Octets([u8; 16], usize);

impl Octets {
    fn of(ip: IpAddr) -> Octets {
        match ip {
            IpAddr::V4(v4) => {
                let mut b = [0; 16];
                b[..4].copy_from_slice(&v4.octets());
                Octets(b, 4)
            }
            IpAddr::V6(v6) => Octets(v6.octets(), 16),
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.0[..self.1]
    }
}

impl fmt::Display for CommunityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CommunityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommunityId({})", self.as_str())
    }
}

/// JSON: the ID's text.
impl Serialize for CommunityId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(proto: u8, src: &str, dst: &str, sport: u16, dport: u16) -> String {
        let a = SocketAddr::new(src.parse().unwrap(), sport);
        let b = SocketAddr::new(dst.parse().unwrap(), dport);
        CommunityId::v1(0, proto, a, b).to_string()
    }

    /// The TCP rows of the specification's `baseline/baseline_deflt.json`, both
    /// directions of each.
    #[test]
    fn spec_baseline_tcp() {
        let v6 = "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=";
        let (a, b) = (
            "2001:470:e5bf:dead:4957:2174:e82c:4887",
            "2607:f8b0:400c:c03::1a",
        );
        assert_eq!(id(6, a, b, 63943, 25), v6);
        assert_eq!(id(6, b, a, 25, 63943), v6);
        let v4 = "1:LQU9qZlK+B5F3KDmev6m5PMibrg=";
        assert_eq!(id(6, "128.232.110.120", "66.35.250.204", 34855, 80), v4);
        assert_eq!(id(6, "66.35.250.204", "128.232.110.120", 80, 34855), v4);
    }

    /// The table of the specification's `baseline/README.md` (default settings), for
    /// TCP, UDP and SCTP: the protocol number is hashed too.
    #[test]
    fn spec_readme_table() {
        let tcp = "1:wCb3OG7yAFWelaUydu0D+125CLM=";
        assert_eq!(id(6, "1.2.3.4", "5.6.7.8", 1122, 3344), tcp);
        assert_eq!(id(6, "5.6.7.8", "1.2.3.4", 3344, 1122), tcp);
        assert_eq!(
            id(17, "1.2.3.4", "5.6.7.8", 1122, 3344),
            "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="
        );
        assert_eq!(
            id(132, "5.6.7.8", "1.2.3.4", 3344, 1122),
            "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8="
        );
        let a: SocketAddr = "1.2.3.4:1122".parse().unwrap();
        let b: SocketAddr = "5.6.7.8:3344".parse().unwrap();
        assert_eq!(CommunityId::tcp(b, a).as_str(), tcp);
        assert_eq!(
            serde_json::to_string(&CommunityId::tcp(a, b)).unwrap(),
            format!("\"{tcp}\"")
        );
    }

    /// Equal addresses: the ports decide the order (the specification's example).
    #[test]
    fn equal_addresses_ordered_by_port() {
        let a: SocketAddr = "10.0.0.1:1234".parse().unwrap();
        let b: SocketAddr = "10.0.0.1:80".parse().unwrap();
        assert_eq!(CommunityId::tcp(a, b), CommunityId::tcp(b, a));
        assert_ne!(CommunityId::tcp(a, b), CommunityId::v1(1, TCP, a, b));
    }
}
