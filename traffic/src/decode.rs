//! Turning any frame (well-formed, truncated or garbage) into a structured, deterministic
//! description with a checksum verdict per layer, for assertions and snapshot tests.
//!
//! Decoding goes outside in and stops at the first layer whose bytes are missing
//! ([`Decoded::truncation`]) or make no sense ([`Decoded::malformed`]). Lengths come from the
//! headers (IPv4 total length, IPv6 payload length, UDP length), not from the frame size, so
//! Ethernet padding is reported as padding and a frame shorter than its headers claim shows up
//! as truncated. The `Display` form is one line per layer:
//!
//! ```text
//! eth 02:00:00:00:00:01 > 02:00:00:00:00:02 type ipv4
//! ipv4 10.0.0.1 > 10.0.0.2 ihl 5 ttl 64 id 7 proto tcp len 48 csum ok
//! tcp 40000 > 22 [S] seq 1 ack 0 win 64240 csum ok
//! payload 8 bytes tag #7
//! ```

mod summary;
pub mod tcp_options;

use std::net::{Ipv4Addr, Ipv6Addr};

use pnet::packet::arp::ArpPacket;
use pnet::packet::ethernet::{EtherTypes, EthernetPacket};
use pnet::packet::icmp::IcmpPacket;
use pnet::packet::icmpv6::Icmpv6Packet;
use pnet::packet::ip::{IpNextHeaderProtocol, IpNextHeaderProtocols};
use pnet::packet::ipv4::{self, Ipv4Flags, Ipv4Packet};
use pnet::packet::ipv6::Ipv6Packet;
use pnet::packet::tcp::TcpPacket;
use pnet::packet::udp::UdpPacket;

use crate::header::{ARP_LEN, ETH_LEN, ICMP_LEN, IPV4_LEN, IPV6_LEN, TCP_LEN, UDP_LEN, VLAN_LEN};
use pnet::packet::vlan::VlanPacket;
use pnet::util::MacAddr;

pub use crate::checksum::Csum;
use crate::checksum::{self, Addrs, Transport};
use crate::proto::is_vlan;
use crate::tag::{Tag, find_tag, trailer_tag};
pub use tcp_options::TcpOpt;

/// Everything [`decode`] recognised in a frame; `Display` gives the one-line-per-layer summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// The Ethernet header.
    pub eth: Option<Eth>,
    /// The first 802.1Q/802.1ad tag (a second one is treated as payload).
    pub vlan: Option<Vlan>,
    /// The IPv4 header.
    pub ipv4: Option<Ipv4>,
    /// The IPv6 header (extension headers are not decoded: they show up as payload).
    pub ipv6: Option<Ipv6>,
    /// The ARP body.
    pub arp: Option<Arp>,
    /// The TCP header.
    pub tcp: Option<Tcp>,
    /// The UDP header.
    pub udp: Option<Udp>,
    /// The ICMP or ICMPv6 header.
    pub icmp: Option<Icmp>,
    /// Bytes of payload present after the innermost decoded header (padding excluded).
    pub payload_len: Option<usize>,
    /// The tag trailer found inside the payload, if any.
    pub payload_tag: Option<Tag>,
    /// The frame's tag as [`find_tag`] sees it (payload trailer, else IP field).
    pub tag: Option<Tag>,
    /// Bytes after the end the headers declare (Ethernet padding, or junk after a datagram).
    pub padding_len: usize,
    /// The layer where the frame ended too early: "eth", "vlan", "ipv4", "ipv6", "arp", "tcp",
    /// "udp", "icmp", "icmpv6" or "payload". Same as `truncation.layer`.
    pub truncated_at: Option<&'static str>,
    /// How many bytes that layer had and needed.
    pub truncation: Option<Truncation>,
    /// A layer whose header contradicts itself or its container; decoding stopped there.
    pub malformed: Option<Malformed>,
}

/// Ethernet header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eth {
    /// Source MAC.
    pub src: MacAddr,
    /// Destination MAC.
    pub dst: MacAddr,
    /// EtherType (0x8100 when a VLAN tag follows).
    pub ethertype: u16,
}

/// 802.1Q tag fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vlan {
    /// VLAN id.
    pub vid: u16,
    /// Priority code point.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// EtherType of what follows the tag.
    pub ethertype: u16,
}

/// IPv4 header fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv4 {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Version field (4 unless the frame is mislabelled).
    pub version: u8,
    /// Header length in 32-bit words.
    pub ihl: u8,
    /// DSCP and ECN byte.
    pub tos: u8,
    /// Total length field.
    pub total_len: u16,
    /// Identification field (carries the tag in crafted frames).
    pub id: u16,
    /// Don't Fragment flag.
    pub df: bool,
    /// More Fragments flag.
    pub mf: bool,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
    /// Time to live.
    pub ttl: u8,
    /// Protocol number.
    pub proto: u8,
    /// Raw option bytes.
    pub options: Vec<u8>,
    /// The header checksum's verdict, over max(IHL, 5) × 4 bytes.
    pub csum: Csum,
    /// Whether the header checksum verifies (`csum == Csum::Ok`).
    pub csum_ok: bool,
}

/// IPv6 header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6 {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Version field (6 unless the frame is mislabelled).
    pub version: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (its low 16 bits carry the tag in crafted frames).
    pub flow_label: u32,
    /// Payload length field.
    pub payload_len: u16,
    /// Next header.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
}

/// ARP body fields (Ethernet/IPv4 ARP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    /// Operation: 1 request, 2 reply.
    pub op: u16,
    /// Sender hardware address.
    pub sender_mac: MacAddr,
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address.
    pub target_mac: MacAddr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

/// TCP header fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tcp {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Flags, as pnet's `TcpFlags` bits.
    pub flags: u8,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Window.
    pub window: u16,
    /// Data offset in 32-bit words.
    pub data_offset: u8,
    /// Raw option bytes (see [`Tcp::option_list`]).
    pub options: Vec<u8>,
    /// The MSS option's value, if present.
    pub mss: Option<u16>,
    /// The checksum's verdict.
    pub csum: Csum,
    /// Whether the checksum verifies; `None` when the segment is incomplete (truncated frame or
    /// IP fragment) so it cannot be checked.
    pub csum_ok: Option<bool>,
}

impl Tcp {
    /// The options, parsed.
    pub fn option_list(&self) -> Vec<TcpOpt> {
        tcp_options::parse(&self.options)
    }
}

/// UDP header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Length field (header plus data).
    pub len: u16,
    /// The checksum's verdict.
    pub csum: Csum,
    /// Whether the checksum verifies; `None` when it is 0 over IPv4 (not computed by the
    /// sender) or the datagram is incomplete. A 0 over IPv6 is `Some(false)`.
    pub csum_ok: Option<bool>,
}

/// ICMP or ICMPv6 header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmp {
    /// ICMPv6 (over IPv6) rather than ICMP.
    pub v6: bool,
    /// Message type.
    pub icmp_type: u8,
    /// Message code.
    pub code: u8,
    /// Identifier and sequence number of echo requests and replies.
    pub echo: Option<Echo>,
    /// The checksum's verdict.
    pub csum: Csum,
    /// Whether the checksum verifies; `None` when the message is incomplete.
    pub csum_ok: Option<bool>,
}

/// Identifier and sequence number of an echo request or reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Echo {
    /// Identifier.
    pub id: u16,
    /// Sequence number.
    pub seq: u16,
}

/// Where and by how much a frame fell short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// The layer that was cut.
    pub layer: &'static str,
    /// Bytes of it present.
    pub have: usize,
    /// Bytes its header (or the enclosing one) says it has.
    pub need: usize,
}

/// A layer whose header makes no sense.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    /// The layer.
    pub layer: &'static str,
    /// What is wrong, in words.
    pub reason: String,
}

/// Decodes a frame; never panics, whatever the bytes.
pub fn decode(frame: &[u8]) -> Decoded {
    let mut d = Decoded {
        tag: find_tag(frame),
        ..Decoded::default()
    };
    d.eth(frame);
    d
}

/// ICMP types with an identifier and sequence number: echo request and reply.
const ICMP_ECHO_TYPES: [u8; 2] = [8, 0];
const ICMPV6_ECHO_TYPES: [u8; 2] = [128, 129];

impl Decoded {
    fn set_truncated(&mut self, layer: &'static str, have: usize, need: usize) {
        self.truncated_at = Some(layer);
        self.truncation = Some(Truncation { layer, have, need });
    }

    fn set_malformed(&mut self, layer: &'static str, reason: String) {
        self.malformed = Some(Malformed { layer, reason });
    }

    /// Checks that a header of `need` bytes fits in what the enclosing header `declared` and
    /// in what the frame `has`; records why not and returns false otherwise.
    fn fits(&mut self, layer: &'static str, has: usize, declared: usize, need: usize) -> bool {
        if declared < need {
            let reason =
                format!("header needs {need} bytes, the enclosing length leaves {declared}");
            self.set_malformed(layer, reason);
            false
        } else if has < need {
            self.set_truncated(layer, has, need);
            false
        } else {
            true
        }
    }

    fn eth(&mut self, frame: &[u8]) {
        let Some(eth) = EthernetPacket::new(frame) else {
            return self.set_truncated("eth", frame.len(), ETH_LEN);
        };
        let mut ethertype = eth.get_ethertype();
        self.eth = Some(Eth {
            src: eth.get_source(),
            dst: eth.get_destination(),
            ethertype: ethertype.0,
        });
        let mut rest = &frame[ETH_LEN..];
        if is_vlan(ethertype) {
            let Some(vlan) = VlanPacket::new(rest) else {
                return self.set_truncated("vlan", rest.len(), VLAN_LEN);
            };
            ethertype = vlan.get_ethertype();
            self.vlan = Some(Vlan {
                vid: vlan.get_vlan_identifier(),
                pcp: vlan.get_priority_code_point().0,
                dei: vlan.get_drop_eligible_indicator() == 1,
                ethertype: ethertype.0,
            });
            rest = &rest[VLAN_LEN..];
        }
        match ethertype {
            EtherTypes::Ipv4 => self.ipv4(rest),
            EtherTypes::Ipv6 => self.ipv6(rest),
            EtherTypes::Arp => self.arp(rest),
            _ => self.payload(rest, rest.len()),
        }
    }

    fn ipv4(&mut self, l3: &[u8]) {
        let ihl = l3.first().map_or(5, |b| b & 0x0f);
        let hlen = usize::from(ihl.max(5)) * 4;
        if l3.len() < hlen {
            return self.set_truncated("ipv4", l3.len(), hlen);
        }
        let header = &l3[..hlen];
        let ip = Ipv4Packet::new(header).expect("length checked");
        let csum = Csum::judge(ip.get_checksum(), ipv4::checksum(&ip));
        let flags = ip.get_flags();
        let (src, dst) = (ip.get_source(), ip.get_destination());
        let fields = Ipv4 {
            src,
            dst,
            version: ip.get_version(),
            ihl,
            tos: header[1],
            total_len: ip.get_total_length(),
            id: ip.get_identification(),
            df: flags & Ipv4Flags::DontFragment != 0,
            mf: flags & Ipv4Flags::MoreFragments != 0,
            frag_offset: ip.get_fragment_offset(),
            ttl: ip.get_ttl(),
            proto: ip.get_next_level_protocol().0,
            options: header[IPV4_LEN..].to_vec(),
            csum,
            csum_ok: csum == Csum::Ok,
        };
        let (total, proto, frag_offset, mf) = (
            usize::from(fields.total_len),
            fields.proto,
            fields.frag_offset,
            fields.mf,
        );
        let version = fields.version;
        self.ipv4 = Some(fields);
        if version != 4 {
            return self.set_malformed("ipv4", format!("version {version}"));
        }
        if ihl < 5 {
            return self.set_malformed("ipv4", format!("ihl {ihl} is below the minimum 5"));
        }
        if total < hlen {
            return self.set_malformed(
                "ipv4",
                format!("total length {total} is below header length {hlen}"),
            );
        }
        self.padding_len = l3.len().saturating_sub(total);
        let body = &l3[hlen..total.min(l3.len())];
        let declared = total - hlen;
        if frag_offset != 0 {
            // A later fragment: no transport header in it.
            return self.payload(body, declared);
        }
        self.transport(proto, Addrs::V4(src, dst), body, declared, mf);
    }

    fn ipv6(&mut self, l3: &[u8]) {
        let Some(ip) = Ipv6Packet::new(l3) else {
            return self.set_truncated("ipv6", l3.len(), IPV6_LEN);
        };
        let fields = Ipv6 {
            src: ip.get_source(),
            dst: ip.get_destination(),
            version: ip.get_version(),
            traffic_class: ip.get_traffic_class(),
            flow_label: ip.get_flow_label(),
            payload_len: ip.get_payload_length(),
            next_header: ip.get_next_header().0,
            hop_limit: ip.get_hop_limit(),
        };
        self.ipv6 = Some(fields);
        if fields.version != 6 {
            return self.set_malformed("ipv6", format!("version {}", fields.version));
        }
        let declared = usize::from(fields.payload_len);
        self.padding_len = l3.len().saturating_sub(IPV6_LEN + declared);
        let body = &l3[IPV6_LEN..(IPV6_LEN + declared).min(l3.len())];
        self.transport(
            fields.next_header,
            Addrs::V6(fields.src, fields.dst),
            body,
            declared,
            false,
        );
    }

    fn arp(&mut self, l3: &[u8]) {
        let Some(arp) = ArpPacket::new(l3) else {
            return self.set_truncated("arp", l3.len(), ARP_LEN);
        };
        self.arp = Some(Arp {
            op: arp.get_operation().0,
            sender_mac: arp.get_sender_hw_addr(),
            sender_ip: arp.get_sender_proto_addr(),
            target_mac: arp.get_target_hw_addr(),
            target_ip: arp.get_target_proto_addr(),
        });
        self.padding_len = l3.len() - ARP_LEN;
        let (htype, ptype) = (arp.get_hardware_type().0, arp.get_protocol_type().0);
        let (hlen, plen) = (arp.get_hw_addr_len(), arp.get_proto_addr_len());
        if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4) {
            self.set_malformed(
                "arp",
                format!(
                    "not Ethernet/IPv4: htype {htype} ptype 0x{ptype:04x} hlen {hlen} plen {plen}"
                ),
            );
        }
    }

    /// Decodes what an IP header carries. `body` is what the frame holds of the `declared`
    /// bytes; `fragment` means the datagram continues in other frames.
    fn transport(&mut self, proto: u8, addrs: Addrs, body: &[u8], declared: usize, fragment: bool) {
        let v6 = matches!(addrs, Addrs::V6(..));
        // `segment` is all the checksum covers only if `complete`.
        let verdict = |kind, got, segment: &[u8], complete: bool| match checksum::transport(
            kind, addrs, segment,
        ) {
            Some(want) if complete && !fragment => Csum::judge(got, want),
            _ => Csum::Unchecked,
        };
        let complete = body.len() >= declared;
        match IpNextHeaderProtocol(proto) {
            IpNextHeaderProtocols::Tcp => {
                if !self.fits("tcp", body.len(), declared, TCP_LEN) {
                    return;
                }
                let tcp = TcpPacket::new(body).expect("length checked");
                let data_offset = tcp.get_data_offset();
                let hlen = usize::from(data_offset) * 4;
                if hlen < TCP_LEN {
                    return self
                        .set_malformed("tcp", format!("data offset {data_offset} is below 5"));
                }
                if !self.fits("tcp", body.len(), declared, hlen) {
                    return;
                }
                let options = body[TCP_LEN..hlen].to_vec();
                let mss = tcp_options::parse(&options).iter().find_map(|o| match o {
                    TcpOpt::Mss(mss) => Some(*mss),
                    _ => None,
                });
                let csum = verdict(Transport::Tcp, tcp.get_checksum(), body, complete);
                self.tcp = Some(Tcp {
                    sport: tcp.get_source(),
                    dport: tcp.get_destination(),
                    flags: tcp.get_flags(),
                    seq: tcp.get_sequence(),
                    ack: tcp.get_acknowledgement(),
                    window: tcp.get_window(),
                    data_offset,
                    options,
                    mss,
                    csum,
                    csum_ok: csum.ok(),
                });
                self.payload(&body[hlen..], declared - hlen);
            }
            IpNextHeaderProtocols::Udp => {
                if !self.fits("udp", body.len(), declared, UDP_LEN) {
                    return;
                }
                let udp = UdpPacket::new(body).expect("length checked");
                let len = udp.get_length();
                let ulen = usize::from(len);
                let got = udp.get_checksum();
                let csum = if got == 0 && !v6 {
                    Csum::Absent
                } else {
                    let covered = (UDP_LEN..=body.len()).contains(&ulen);
                    verdict(Transport::Udp, got, &body[..ulen.min(body.len())], covered)
                };
                self.udp = Some(Udp {
                    sport: udp.get_source(),
                    dport: udp.get_destination(),
                    len,
                    csum,
                    csum_ok: csum.ok(),
                });
                if ulen < UDP_LEN || ulen > declared {
                    return self.set_malformed(
                        "udp",
                        format!("length {ulen} outside {UDP_LEN}..={declared} (the IP payload)"),
                    );
                }
                // The kernel trims an IP payload longer than the UDP length; so do we.
                self.padding_len += declared - ulen;
                self.payload(&body[UDP_LEN..ulen.min(body.len())], ulen - UDP_LEN);
            }
            // ICMP belongs with IPv4 and ICMPv6 with IPv6; crossed, they are opaque payload.
            p @ (IpNextHeaderProtocols::Icmp | IpNextHeaderProtocols::Icmpv6)
                if (p == IpNextHeaderProtocols::Icmpv6) == v6 =>
            {
                let layer = if v6 { "icmpv6" } else { "icmp" };
                if !self.fits(layer, body.len(), declared, ICMP_LEN) {
                    return;
                }
                let (icmp_type, code, got) = if v6 {
                    let p = Icmpv6Packet::new(body).expect("length checked");
                    (
                        p.get_icmpv6_type().0,
                        p.get_icmpv6_code().0,
                        p.get_checksum(),
                    )
                } else {
                    let p = IcmpPacket::new(body).expect("length checked");
                    (p.get_icmp_type().0, p.get_icmp_code().0, p.get_checksum())
                };
                let echo_types = if v6 {
                    ICMPV6_ECHO_TYPES
                } else {
                    ICMP_ECHO_TYPES
                };
                let echo = echo_types.contains(&icmp_type).then(|| Echo {
                    id: u16::from_be_bytes([body[4], body[5]]),
                    seq: u16::from_be_bytes([body[6], body[7]]),
                });
                let csum = verdict(Transport::Icmp, got, body, complete);
                self.icmp = Some(Icmp {
                    v6,
                    icmp_type,
                    code,
                    echo,
                    csum,
                    csum_ok: csum.ok(),
                });
                self.payload(&body[ICMP_LEN..], declared - ICMP_LEN);
            }
            _ => self.payload(body, declared),
        }
    }

    fn payload(&mut self, present: &[u8], declared: usize) {
        self.payload_len = Some(present.len());
        self.payload_tag = trailer_tag(present);
        if present.len() < declared {
            self.set_truncated("payload", present.len(), declared);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fixtures::*;

    /// A spread of frames covering every layer the decoder knows.
    fn samples() -> Vec<Vec<u8>> {
        let syn_opts = [
            2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        vec![
            eth()
                .ipv4(IP_A, IP_B)
                .tcp(40000, 22)
                .tcp_options(&syn_opts)
                .payload(b"hello")
                .tag(Tag(7))
                .build(),
            eth()
                .vlan(42)
                .ipv4(IP_A, IP_B)
                .ip_options(&[1, 1, 1, 0])
                .udp(53, 5353)
                .payload(b"q")
                .build(),
            eth()
                .ipv4(IP_A, IP_B)
                .icmp_echo(1, 2)
                .payload(&[0xaa; 20])
                .tag(Tag(3))
                .build(),
            eth().ipv6(IP6_A, IP6_B).tcp(1, 2).tag(Tag(9)).build(),
            eth().ipv6(IP6_A, IP6_B).udp(1, 2).payload(b"v6").build(),
            eth().ipv6(IP6_A, IP6_B).icmp_echo(5, 6).build(),
            eth().arp_request(IP_A, IP_B).build(),
            eth()
                .ipv4(IP_A, IP_B)
                .ip_protocol(47)
                .payload(&[0, 0, 8, 0])
                .build(),
            eth().payload(b"raw").tag(Tag(1)).build(),
        ]
    }

    #[test]
    fn never_panics_on_truncations_and_noise() {
        for frame in samples() {
            for len in 0..=frame.len() {
                let d = decode(&frame[..len]);
                let _ = d.to_string();
            }
            // Every single-byte corruption, at every position, with a few values.
            for at in 0..frame.len() {
                for v in [0x00, 0x01, 0x0f, 0x45, 0x80, 0xff] {
                    let mut f = frame.clone();
                    f[at] = v;
                    let _ = decode(&f).to_string();
                }
            }
        }
        // Random bytes; the first few steer into IP and VLAN paths.
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for i in 0..20_000 {
            let len = (next() % 120) as usize;
            let mut f: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len >= 14 {
                let ethertypes = [[0x08, 0x00], [0x86, 0xdd], [0x81, 0x00], [0x08, 0x06]];
                f[12..14].copy_from_slice(&ethertypes[i % 4]);
            }
            if len >= 15 && i % 3 == 0 {
                f[14] = 0x45;
            }
            let _ = decode(&f).to_string();
        }
    }

    #[test]
    fn decodes_fields() {
        let f = eth()
            .vlan(42)
            .ipv4(IP_A, IP_B)
            .ttl(9)
            .udp(53, 5353)
            .payload(b"abc")
            .tag(Tag(4))
            .build();
        let d = decode(&f);
        assert_eq!(d.eth.map(|e| e.ethertype), Some(0x8100));
        assert_eq!(d.vlan.map(|v| (v.vid, v.ethertype)), Some((42, 0x0800)));
        let ip = d.ipv4.as_ref().expect("ipv4");
        assert_eq!(
            (ip.src, ip.dst, ip.ttl, ip.id, ip.proto, ip.total_len),
            (IP_A, IP_B, 9, 4, 17, 39)
        );
        let udp = d.udp.expect("udp");
        assert_eq!(
            (udp.sport, udp.dport, udp.len, udp.csum_ok),
            (53, 5353, 19, Some(true))
        );
        assert_eq!(
            (d.payload_len, d.payload_tag, d.tag),
            (Some(11), Some(Tag(4)), Some(Tag(4)))
        );
    }

    #[test]
    fn truncation_names_the_layer() {
        let f = eth().ipv4(IP_A, IP_B).tcp(1, 2).payload(&[1; 12]).build();
        let cut = |n: usize| decode(&f[..n]).truncation;
        assert_eq!(
            cut(5),
            Some(Truncation {
                layer: "eth",
                have: 5,
                need: 14
            })
        );
        assert_eq!(
            cut(26),
            Some(Truncation {
                layer: "ipv4",
                have: 12,
                need: 20
            })
        );
        assert_eq!(
            cut(40),
            Some(Truncation {
                layer: "tcp",
                have: 6,
                need: 20
            })
        );
        assert_eq!(
            cut(60),
            Some(Truncation {
                layer: "payload",
                have: 6,
                need: 12
            })
        );
        let d = decode(&f[..60]);
        assert_eq!(d.tcp.map(|t| t.csum), Some(Csum::Unchecked));
        assert_eq!(d.truncated_at, Some("payload"));
    }

    #[test]
    fn padding_is_not_payload() {
        let mut f = eth().ipv4(IP_A, IP_B).udp(1, 2).payload(b"ab").build();
        f.resize(60, 0);
        let d = decode(&f);
        assert_eq!(
            (d.payload_len, d.padding_len, d.truncated_at),
            (Some(2), 16, None)
        );
        assert_eq!(d.udp.map(|u| u.csum_ok), Some(Some(true)));
    }

    #[test]
    fn udp_zero_checksum_means_none_on_ipv4_and_bad_on_ipv6() {
        let mut f = eth().ipv4(IP_A, IP_B).udp(1, 2).build();
        f[40..42].fill(0);
        assert_eq!(
            decode(&f).udp.map(|u| (u.csum, u.csum_ok)),
            Some((Csum::Absent, None))
        );
        let mut f = eth().ipv6(IP6_A, IP6_B).udp(1, 2).build();
        f[60..62].fill(0);
        assert_eq!(decode(&f).udp.and_then(|u| u.csum_ok), Some(false));
    }

    #[test]
    fn malformed_headers_stop_decoding() {
        let f = eth().ipv4(IP_A, IP_B).tcp(1, 2).ihl(4).build();
        let d = decode(&f);
        assert!(d.malformed.is_some_and(|m| m.layer == "ipv4"));
        assert!(d.tcp.is_none());

        let mut f = eth().ipv4(IP_A, IP_B).udp(1, 2).payload(b"abcd").build();
        f[38..40].copy_from_slice(&100u16.to_be_bytes());
        assert!(decode(&f).malformed.is_some_and(|m| m.layer == "udp"));
    }

    #[test]
    fn fragments_are_not_checksummed() {
        let mut f = eth().ipv4(IP_A, IP_B).udp(1, 2).build();
        f[20] |= 0x20; // MF
        let d = decode(&f);
        assert_eq!(d.udp.map(|u| u.csum), Some(Csum::Unchecked));
    }
}
