//! Header lengths and TCP flag bits, defined once for the frame builder, the decoder, the
//! harness and the labs.

/// TCP flag bits as on the wire (pnet's, `u8`): `TcpFlags::SYN | TcpFlags::ACK`.
pub use pnet::packet::tcp::TcpFlags;

/// An Ethernet II header: two MACs and the EtherType.
pub const ETH_LEN: usize = 14;
/// One 802.1Q or 802.1ad tag.
pub const VLAN_LEN: usize = 4;
/// An IPv4 header without options.
pub const IPV4_LEN: usize = 20;
/// An IPv6 header (extension headers apart).
pub const IPV6_LEN: usize = 40;
/// An ARP packet for IPv4 over Ethernet.
pub const ARP_LEN: usize = 28;
/// A TCP header without options.
pub const TCP_LEN: usize = 20;
/// A UDP header.
pub const UDP_LEN: usize = 8;
/// An ICMP header (an echo's identifier and sequence included).
pub const ICMP_LEN: usize = 8;
/// IPv4 options and TCP options both fit in 40 bytes (a 4-bit length counting 32-bit words).
pub const MAX_OPTIONS: usize = 40;
