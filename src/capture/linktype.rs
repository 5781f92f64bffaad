//! Link-layer header types: the `LINKTYPE_*` numbers of the pcap/pcapng specifications
//! with which a file (pcap) or an interface (pcapng) names what its packets start with.
//!
//! Only the types [`decode`](crate::capture::packet::decode) strips are named here;
//! the reader passes any number through.

/// BSD loopback: 4-byte address family in host byte order.
pub const NULL: u32 = 0;
/// Ethernet II.
pub const ETHERNET: u32 = 1;
/// Raw IP (old BSD number).
pub const RAW_BSD: u32 = 12;
/// Raw IP (old OpenBSD number).
pub const RAW_OPENBSD: u32 = 14;
/// Raw IP.
pub const RAW: u32 = 101;
/// OpenBSD loopback: 4-byte address family in network byte order.
pub const LOOP: u32 = 108;
/// Linux cooked capture v1.
pub const LINUX_SLL: u32 = 113;
/// Raw IPv4.
pub const IPV4: u32 = 228;
/// Raw IPv6.
pub const IPV6: u32 = 229;
/// Linux netfilter NFLOG: a header and TLV attributes, one of which holds the IP packet.
pub const NFLOG: u32 = 239;
/// Linux cooked capture v2 (`tcpdump -i any`).
pub const LINUX_SLL2: u32 = 276;
