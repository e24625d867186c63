//! Protocol numbers the crate treats specially, and the short names the summaries print.

use pnet::packet::ethernet::{EtherType, EtherTypes};
use pnet::packet::ip::{IpNextHeaderProtocol, IpNextHeaderProtocols};

/// EtherType of frames with nothing above Ethernet: IEEE 802 "local experimental 1", so no
/// real protocol handler claims them.
pub(crate) const EXPERIMENTAL_ETHERTYPE: EtherType = EtherType(0x88b5);

/// IP protocol of packets with no transport header: RFC 3692's "use for experimentation".
pub(crate) const EXPERIMENTAL_IP_PROTO: IpNextHeaderProtocol = IpNextHeaderProtocols::Test1;

/// Whether `ethertype` announces an 802.1Q/802.1ad tag rather than a network protocol.
pub(crate) fn is_vlan(ethertype: EtherType) -> bool {
    [EtherTypes::Vlan, EtherTypes::PBridge, EtherTypes::QinQ].contains(&ethertype)
}

/// Short lower-case name of an EtherType, or its hex value.
pub(crate) fn ethertype_name(ethertype: EtherType) -> String {
    match ethertype {
        EtherTypes::Ipv4 => "ipv4".into(),
        EtherTypes::Ipv6 => "ipv6".into(),
        EtherTypes::Arp => "arp".into(),
        EtherTypes::Vlan => "802.1q".into(),
        EtherTypes::PBridge => "802.1ad".into(),
        EtherTypes::QinQ => "qinq".into(),
        EtherType(other) => format!("0x{other:04x}"),
    }
}

/// Short lower-case name of an IP protocol, or its number.
pub(crate) fn ip_proto_name(proto: IpNextHeaderProtocol) -> String {
    match proto {
        IpNextHeaderProtocols::Tcp => "tcp".into(),
        IpNextHeaderProtocols::Udp => "udp".into(),
        IpNextHeaderProtocols::Icmp => "icmp".into(),
        IpNextHeaderProtocols::Icmpv6 => "icmpv6".into(),
        IpNextHeaderProtocol(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(ethertype_name(EtherTypes::Ipv4), "ipv4");
        assert_eq!(ethertype_name(EXPERIMENTAL_ETHERTYPE), "0x88b5");
        assert_eq!(ip_proto_name(IpNextHeaderProtocols::Tcp), "tcp");
        assert_eq!(ip_proto_name(IpNextHeaderProtocol(47)), "47");
    }

    #[test]
    fn vlan_ethertypes() {
        assert!(is_vlan(EtherType(0x8100)));
        assert!(is_vlan(EtherType(0x88a8)));
        assert!(!is_vlan(EtherTypes::Ipv4));
    }
}
