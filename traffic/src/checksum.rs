//! Internet checksums: computing them with pnet, judging received ones, and breaking them on
//! purpose.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use pnet::packet::icmp::{self, IcmpPacket};
use pnet::packet::icmpv6::{self, Icmpv6Packet};
use pnet::packet::tcp::{self, TcpPacket};
use pnet::packet::udp::{self, UdpPacket};

/// The addresses that go into a transport checksum's pseudo-header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Addrs {
    V4(Ipv4Addr, Ipv4Addr),
    V6(Ipv6Addr, Ipv6Addr),
}

/// Transport protocols whose checksum this crate computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    Tcp,
    Udp,
    /// ICMP over IPv4 (no pseudo-header) or ICMPv6 over IPv6 (pseudo-header).
    Icmp,
}

/// The correct checksum of a whole transport segment (header and data), as pnet computes it,
/// or `None` if the segment is shorter than the fixed header.
///
/// A UDP result of 0 is returned as is; senders must transmit it as 0xffff (see [`udp_wire`]).
pub(crate) fn transport(kind: Transport, addrs: Addrs, segment: &[u8]) -> Option<u16> {
    Some(match (kind, addrs) {
        (Transport::Tcp, Addrs::V4(s, d)) => tcp::ipv4_checksum(&TcpPacket::new(segment)?, &s, &d),
        (Transport::Tcp, Addrs::V6(s, d)) => tcp::ipv6_checksum(&TcpPacket::new(segment)?, &s, &d),
        (Transport::Udp, Addrs::V4(s, d)) => udp::ipv4_checksum(&UdpPacket::new(segment)?, &s, &d),
        (Transport::Udp, Addrs::V6(s, d)) => udp::ipv6_checksum(&UdpPacket::new(segment)?, &s, &d),
        (Transport::Icmp, Addrs::V4(..)) => icmp::checksum(&IcmpPacket::new(segment)?),
        (Transport::Icmp, Addrs::V6(s, d)) => {
            icmpv6::checksum(&Icmpv6Packet::new(segment)?, &s, &d)
        }
    })
}

/// How a computed UDP checksum goes on the wire: 0 means "no checksum" in UDP, so a true 0 is
/// sent as its one's-complement twin 0xffff (RFC 768).
pub(crate) fn udp_wire(computed: u16) -> u16 {
    if computed == 0 { 0xffff } else { computed }
}

/// A checksum that is wrong for every verifier: off by one, never 0 (UDP's "none") and never
/// the one's-complement twin of the correct value.
pub(crate) fn corrupt(correct: u16) -> u16 {
    if correct == 0xffff { 1 } else { correct + 1 }
}

/// Whether a received checksum verifies: 0x0000 and 0xffff are the same one's-complement
/// number, and incremental updates (RFC 1624) legitimately produce either.
pub(crate) fn verifies(got: u16, want: u16) -> bool {
    got == want || matches!((got, want), (0, 0xffff) | (0xffff, 0))
}

/// The verdict on one received checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Csum {
    /// The checksum verifies.
    Ok,
    /// The checksum does not verify; `want` is what a correct sender would have written.
    Bad {
        /// The value in the frame.
        got: u16,
        /// The correct value.
        want: u16,
    },
    /// A UDP-over-IPv4 checksum of 0: the sender chose not to checksum.
    Absent,
    /// Not all covered bytes are there (truncated frame, or a fragment of a larger datagram).
    Unchecked,
}

impl Csum {
    /// Judges `got` against the correct value `want`.
    pub(crate) fn judge(got: u16, want: u16) -> Csum {
        if verifies(got, want) {
            Csum::Ok
        } else {
            Csum::Bad { got, want }
        }
    }

    /// `Some(true)` if it verifies, `Some(false)` if not, `None` when there is nothing to verify.
    pub fn ok(self) -> Option<bool> {
        match self {
            Csum::Ok => Some(true),
            Csum::Bad { .. } => Some(false),
            Csum::Absent | Csum::Unchecked => None,
        }
    }
}

impl fmt::Display for Csum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Csum::Ok => f.write_str("ok"),
            Csum::Bad { got, want } => write!(f, "BAD (0x{got:04x}, want 0x{want:04x})"),
            Csum::Absent => f.write_str("none"),
            Csum::Unchecked => f.write_str("unchecked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_never_verifies_and_is_never_zero() {
        for c in 0..=u16::MAX {
            let bad = corrupt(c);
            assert!(!verifies(bad, c), "{c:#x}");
            assert_ne!(bad, 0, "{c:#x}");
        }
    }

    #[test]
    fn zero_and_ffff_are_the_same_number() {
        assert!(verifies(0, 0xffff));
        assert!(verifies(0xffff, 0));
        assert!(!verifies(0x00ff, 0xff00));
        assert!(!verifies(1, 0));
    }

    #[test]
    fn udp_zero_goes_out_as_ffff() {
        assert_eq!(udp_wire(0), 0xffff);
        assert_eq!(udp_wire(0x1234), 0x1234);
    }

    #[test]
    fn display() {
        assert_eq!(Csum::Ok.to_string(), "ok");
        assert_eq!(
            Csum::Bad {
                got: 0x1234,
                want: 0x5678
            }
            .to_string(),
            "BAD (0x1234, want 0x5678)"
        );
        assert_eq!(
            Csum::Bad {
                got: 0x1234,
                want: 0x5678
            }
            .ok(),
            Some(false)
        );
        assert_eq!(Csum::Absent.ok(), None);
    }

    #[test]
    fn short_segments_have_no_checksum() {
        let addrs = Addrs::V4(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST);
        assert_eq!(transport(Transport::Tcp, addrs, &[0; 19]), None);
        assert!(transport(Transport::Udp, addrs, &[0; 8]).is_some());
    }
}
