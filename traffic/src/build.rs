//! Crafting test frames layer by layer, correct by default and broken on request.

use std::net::{Ipv4Addr, Ipv6Addr};

use pnet::packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet::packet::ethernet::{EtherType, EtherTypes, MutableEthernetPacket};
use pnet::packet::icmp::{self, IcmpTypes};
use pnet::packet::icmpv6::{self, Icmpv6Types};
use pnet::packet::ip::{IpNextHeaderProtocol, IpNextHeaderProtocols};
use pnet::packet::ipv4::{self, MutableIpv4Packet};
use pnet::packet::ipv6::MutableIpv6Packet;
use pnet::packet::tcp::{MutableTcpPacket, TcpFlags};
use pnet::packet::udp::MutableUdpPacket;
use pnet::packet::vlan::MutableVlanPacket;
use pnet::util::MacAddr;

use crate::checksum::{self, Addrs};
use crate::header::{
    ARP_LEN, ETH_LEN, ICMP_LEN, IPV4_LEN, IPV6_LEN, MAX_OPTIONS, TCP_LEN, UDP_LEN, VLAN_LEN,
};
use crate::proto::{EXPERIMENTAL_ETHERTYPE, EXPERIMENTAL_IP_PROTO};
use crate::tag::{TRAILER_LEN, trailer};
pub use crate::tag::{Tag, find_tag};

/// Builds one Ethernet frame for a test: pick the layers, optionally break something, then
/// [`build`](Self::build).
///
/// Every checksum is correct unless broken on purpose. Settings for a layer the frame does not
/// have (TCP flags on a UDP frame, a TTL on an ARP frame) are ignored, so the order of calls does
/// not matter. A [`Tag`] is written into the IP header and, when the frame has a payload area,
/// as a trailer after the payload (see [`crate::tag`]).
#[derive(Clone, Debug)]
pub struct FrameBuilder {
    src: MacAddr,
    dst: MacAddr,
    vlan: Option<u16>,
    ethertype: Option<u16>,
    net: Net,
    ip: IpSettings,
    transport: Transport,
    tcp: TcpSettings,
    payload: Vec<u8>,
    tag: Tag,
    bad_l4_checksum: bool,
    truncate: Option<usize>,
    /// Ethernet padding: (the frame's minimum length, the fill bytes repeated).
    pad: Option<(usize, Vec<u8>)>,
    /// Transport header bytes written over the built header (offset, bytes), before its
    /// checksum: fields a rule ignores, set to values a sender would not write.
    l4_fields: Vec<(usize, Vec<u8>)>,
}

/// Where each layer starts in a built frame (before any [`FrameBuilder::truncate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    /// Start of the network header (ARP body included); for frames with nothing above
    /// Ethernet, the end of the Ethernet and VLAN headers.
    pub l3: usize,
    /// Start of the TCP, UDP or ICMP header, if the frame has one.
    pub l4: Option<usize>,
    /// Start of the payload (user bytes, then the tag trailer), if the frame has a payload area.
    pub payload: Option<usize>,
    /// Length of the whole frame.
    pub len: usize,
}

#[derive(Clone, Copy, Debug)]
enum Net {
    None,
    Ipv4 { src: Ipv4Addr, dst: Ipv4Addr },
    Ipv6 { src: Ipv6Addr, dst: Ipv6Addr },
    Arp { sender: Ipv4Addr, target: Ipv4Addr },
}

#[derive(Clone, Debug)]
struct IpSettings {
    options: Vec<u8>,
    ttl: u8,
    ihl: Option<u8>,
    bad_checksum: bool,
    /// The version nibble, when not 4.
    version: Option<u8>,
    /// More-fragments flag and fragment offset (8-byte units).
    fragment: Option<(bool, u16)>,
    /// The IPv4 datagram's length (header included), when shorter than what was built.
    datagram_len: Option<usize>,
    /// The don't-fragment flag.
    dont_fragment: bool,
    /// The Identification of an untagged frame (a tag writes its own).
    id: u16,
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    None,
    Raw(u8),
    Tcp { sport: u16, dport: u16 },
    Udp { sport: u16, dport: u16 },
    IcmpEcho { id: u16, seq: u16 },
}

#[derive(Clone, Debug)]
struct TcpSettings {
    flags: u8,
    seq: u32,
    ack: u32,
    window: u16,
    options: Vec<u8>,
}

impl FrameBuilder {
    /// Starts a frame with this Ethernet header. With nothing added it carries the payload
    /// directly under EtherType 0x88b5 (IEEE local experimental).
    pub fn ethernet(src: MacAddr, dst: MacAddr) -> Self {
        FrameBuilder {
            src,
            dst,
            vlan: None,
            ethertype: None,
            net: Net::None,
            ip: IpSettings {
                options: Vec::new(),
                ttl: 64,
                ihl: None,
                bad_checksum: false,
                version: None,
                fragment: None,
                datagram_len: None,
                dont_fragment: false,
                id: 0,
            },
            transport: Transport::None,
            tcp: TcpSettings {
                flags: TcpFlags::SYN,
                seq: 1,
                ack: 0,
                window: 64240,
                options: Vec::new(),
            },
            payload: Vec::new(),
            tag: Tag::NONE,
            bad_l4_checksum: false,
            truncate: None,
            pad: None,
            l4_fields: Vec::new(),
        }
    }

    /// Inserts an 802.1Q tag with this VLAN id (priority 0) after the MAC addresses.
    ///
    /// # Panics
    /// If `vid` does not fit in 12 bits.
    pub fn vlan(mut self, vid: u16) -> Self {
        assert!(vid < 4096, "VLAN id {vid} does not fit in 12 bits");
        self.vlan = Some(vid);
        self
    }

    /// Overrides the EtherType that announces the network layer (the one after any VLAN tag),
    /// for raw Ethernet frames or to mislabel a frame on purpose.
    pub fn ethertype(mut self, ethertype: u16) -> Self {
        self.ethertype = Some(ethertype);
        self
    }

    /// Makes it an IPv4 packet; the protocol comes from the transport call (253, "experimental",
    /// if there is none).
    pub fn ipv4(mut self, src: Ipv4Addr, dst: Ipv4Addr) -> Self {
        self.net = Net::Ipv4 { src, dst };
        self
    }

    /// The same packet from another IPv4 source (a frame that is not IPv4 stays as it is).
    pub fn ipv4_src(mut self, new: Ipv4Addr) -> Self {
        if let Net::Ipv4 { src, .. } = &mut self.net {
            *src = new;
        }
        self
    }

    /// Adds raw IPv4 option bytes, zero-padded to a multiple of 4; the IHL grows to match.
    ///
    /// # Panics
    /// If there are more than 40 bytes (the most an IHL can describe).
    pub fn ip_options(mut self, opts: &[u8]) -> Self {
        assert!(
            opts.len() <= MAX_OPTIONS,
            "{} bytes of IPv4 options, at most 40 fit",
            opts.len()
        );
        self.ip.options = padded(opts);
        self
    }

    /// Sets a raw IP protocol number with nothing but [`payload`](Self::payload) after the IP
    /// header (47 for a hand-made GRE packet, say).
    pub fn ip_protocol(mut self, proto: u8) -> Self {
        self.transport = Transport::Raw(proto);
        self
    }

    /// Sets the IPv4 don't-fragment flag, as most senders do (a TCP stack doing path MTU
    /// discovery sets it on every segment).
    pub fn dont_fragment(mut self) -> Self {
        self.ip.dont_fragment = true;
        self
    }

    /// Writes `id` into the IPv4 Identification of an untagged frame (a tag writes its own
    /// there instead).
    pub fn ip_id(mut self, id: u16) -> Self {
        self.ip.id = id;
        self
    }

    /// Sets the IPv4 TTL or IPv6 hop limit (default 64).
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ip.ttl = ttl;
        self
    }

    /// Makes it an IPv6 packet (no extension headers); the next header comes from the
    /// transport call (253 if there is none).
    pub fn ipv6(mut self, src: Ipv6Addr, dst: Ipv6Addr) -> Self {
        self.net = Net::Ipv6 { src, dst };
        self
    }

    /// Makes it an ARP request asking who has `target_ip`; the sender MAC is the Ethernet
    /// source, the target MAC is zero. ARP frames carry no tag.
    pub fn arp_request(mut self, sender_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Self {
        self.net = Net::Arp {
            sender: sender_ip,
            target: target_ip,
        };
        self
    }

    /// Adds a TCP header: by default flags SYN, seq 1, ack 0, window 64240, no options.
    pub fn tcp(mut self, sport: u16, dport: u16) -> Self {
        self.transport = Transport::Tcp { sport, dport };
        self
    }

    /// Sets the TCP flags, as pnet's [`TcpFlags`] bits.
    pub fn tcp_flags(mut self, flags: u8) -> Self {
        self.tcp.flags = flags;
        self
    }

    /// Sets the TCP sequence number.
    pub fn seq(mut self, seq: u32) -> Self {
        self.tcp.seq = seq;
        self
    }

    /// Sets the TCP acknowledgement number (the ACK flag is not touched).
    pub fn ack(mut self, ack: u32) -> Self {
        self.tcp.ack = ack;
        self
    }

    /// Adds raw TCP option bytes, zero-padded (zero is End of Option List) to a multiple of 4;
    /// the data offset grows to match.
    ///
    /// # Panics
    /// If there are more than 40 bytes (the most a data offset can describe).
    pub fn tcp_options(mut self, opts: &[u8]) -> Self {
        assert!(
            opts.len() <= MAX_OPTIONS,
            "{} bytes of TCP options, at most 40 fit",
            opts.len()
        );
        self.tcp.options = padded(opts);
        self
    }

    /// Adds a UDP header.
    pub fn udp(mut self, sport: u16, dport: u16) -> Self {
        self.transport = Transport::Udp { sport, dport };
        self
    }

    /// Adds an echo request: ICMP over IPv4, ICMPv6 over IPv6.
    pub fn icmp_echo(mut self, id: u16, seq: u16) -> Self {
        self.transport = Transport::IcmpEcho { id, seq };
        self
    }

    /// Sets the payload bytes (the tag trailer, if any, follows them).
    pub fn payload(mut self, bytes: &[u8]) -> Self {
        self.payload = bytes.to_vec();
        self
    }

    /// Marks the frame with `tag` so observed frames can be traced back to it.
    pub fn tag(mut self, tag: Tag) -> Self {
        self.tag = tag;
        self
    }

    /// Writes a wrong IPv4 header checksum (no effect on IPv6, which has none).
    pub fn bad_ip_checksum(mut self) -> Self {
        self.ip.bad_checksum = true;
        self
    }

    /// Writes a wrong TCP, UDP or ICMP checksum (never 0, which would mean "none" for UDP).
    pub fn bad_l4_checksum(mut self) -> Self {
        self.bad_l4_checksum = true;
        self
    }

    /// Writes this value into the IPv4 IHL field without changing where anything is placed.
    /// The header checksum is computed over the header as written (max(IHL, 5) × 4 bytes), so
    /// the IHL is the only thing wrong with it.
    ///
    /// # Panics
    /// If `ihl` does not fit in 4 bits.
    pub fn ihl(mut self, ihl: u8) -> Self {
        assert!(ihl < 16, "IHL {ihl} does not fit in 4 bits");
        self.ip.ihl = Some(ihl);
        self
    }

    /// Writes `version` into the IPv4 version nibble (the frame stays IPv4 otherwise).
    ///
    /// # Panics
    /// If `version` does not fit in 4 bits.
    pub fn ip_version(mut self, version: u8) -> Self {
        assert!(version < 16, "version {version} does not fit in 4 bits");
        self.ip.version = Some(version);
        self
    }

    /// Ends the IPv4 datagram after `len` bytes (its header included): the frame is cut there
    /// and the total length and header checksum say so, as a sender of a short datagram would
    /// write them. The transport checksum still covers what was built.
    pub fn ip_datagram_len(mut self, len: usize) -> Self {
        self.ip.datagram_len = Some(len);
        self
    }

    /// Pads the finished frame to at least `min_len` bytes with `fill` repeated, as a NIC pads
    /// a short frame to Ethernet's 60 bytes: bytes past the end of the IPv4 datagram that
    /// belong to no layer.
    ///
    /// # Panics
    /// If `fill` is empty.
    pub fn pad(mut self, min_len: usize, fill: &[u8]) -> Self {
        assert!(!fill.is_empty(), "padding needs fill bytes");
        self.pad = Some((min_len, fill.to_vec()));
        self
    }

    /// Writes `len` into the UDP length field (the datagram stays as built; the checksum
    /// covers the field as written).
    pub fn udp_length(self, len: u16) -> Self {
        self.l4_field(4, &len.to_be_bytes())
    }

    /// Writes `words` into the TCP data offset nibble (the header stays as built; the
    /// checksum covers the field as written).
    ///
    /// # Panics
    /// If `words` does not fit in 4 bits.
    pub fn tcp_data_offset(self, words: u8) -> Self {
        assert!(words < 16, "data offset {words} does not fit in 4 bits");
        self.l4_field(12, &[words << 4])
    }

    /// Makes an ICMP echo header another ICMP message: `kind` in its type byte, code 0, the
    /// rest as an echo's (the checksum covers it).
    pub fn icmp_type(self, kind: u8) -> Self {
        self.l4_field(0, &[kind, 0])
    }

    fn l4_field(mut self, at: usize, bytes: &[u8]) -> Self {
        self.l4_fields.push((at, bytes.to_vec()));
        self
    }

    /// Cuts the finished frame to at most `len` bytes (checksums and lengths still describe the
    /// whole frame).
    pub fn truncate(mut self, len: usize) -> Self {
        self.truncate = Some(len);
        self
    }

    /// Makes the IPv4 packet a fragment: `offset` in 8-byte units, `more` the MF flag. Only the
    /// header says so; the bytes after it stay what the other calls made them.
    ///
    /// # Panics
    /// If `offset` does not fit in 13 bits.
    pub fn fragment(mut self, offset: u16, more: bool) -> Self {
        assert!(
            offset < 1 << 13,
            "fragment offset {offset} does not fit in 13 bits"
        );
        self.ip.fragment = Some((more, offset));
        self
    }

    /// Appends zero bytes until the frame is `len` bytes long, as Ethernet pads a short frame
    /// on a real wire: the IP lengths and checksums do not count them.
    pub fn pad_to(self, len: usize) -> Self {
        self.pad(len, &[0])
    }

    /// Where each layer starts in the untruncated frame.
    ///
    /// # Panics
    /// As [`build`](Self::build).
    pub fn layout(&self) -> Layout {
        let l2 = ETH_LEN + if self.vlan.is_some() { VLAN_LEN } else { 0 };
        let net_len = match self.net {
            Net::None => 0,
            Net::Ipv4 { .. } => IPV4_LEN + self.ip.options.len(),
            Net::Ipv6 { .. } => IPV6_LEN,
            Net::Arp { .. } => ARP_LEN,
        };
        let l4_len = match self.transport {
            Transport::None | Transport::Raw(_) => None,
            Transport::Tcp { .. } => Some(TCP_LEN + self.tcp.options.len()),
            Transport::Udp { .. } => Some(UDP_LEN),
            Transport::IcmpEcho { .. } => Some(ICMP_LEN),
        };
        let is_ip = matches!(self.net, Net::Ipv4 { .. } | Net::Ipv6 { .. });
        assert!(
            is_ip || matches!(self.transport, Transport::None),
            "a transport header or IP protocol needs ipv4() or ipv6() first"
        );
        let is_arp = matches!(self.net, Net::Arp { .. });
        assert!(
            self.payload.is_empty() || !is_arp,
            "an ARP frame has no room for a payload"
        );

        let l3 = l2;
        let l4 = l4_len.map(|_| l3 + net_len);
        let payload = (!is_arp).then(|| l3 + net_len + l4_len.unwrap_or(0));
        let trailer = if self.tag.is_set() && payload.is_some() {
            TRAILER_LEN
        } else {
            0
        };
        let len = payload.unwrap_or(l3 + net_len) + self.payload.len() + trailer;
        Layout {
            l3,
            l4,
            payload,
            len,
        }
    }

    /// Produces the frame bytes.
    ///
    /// # Panics
    /// If a transport header was asked for without IPv4 or IPv6, if an ARP frame was given a
    /// payload, or if an IP packet would exceed 65535 bytes.
    pub fn build(&self) -> Vec<u8> {
        let layout = self.layout();
        let mut frame = vec![0; layout.len];
        self.write_l2(&mut frame);
        if let Some(at) = layout.payload {
            let user = at + self.payload.len();
            frame[at..user].copy_from_slice(&self.payload);
            if self.tag.is_set() {
                frame[user..].copy_from_slice(&trailer(self.tag));
            }
        }
        // Inside out: the transport checksum needs the payload, and the IPv4 header checksum
        // needs the final IHL.
        let l3 = &mut frame[layout.l3..];
        match self.net {
            Net::None => {}
            Net::Ipv4 { src, dst } => {
                let l4 = IPV4_LEN + self.ip.options.len();
                self.write_transport(&mut l3[l4..], Addrs::V4(src, dst));
                self.write_ipv4(l3, src, dst);
            }
            Net::Ipv6 { src, dst } => {
                self.write_transport(&mut l3[IPV6_LEN..], Addrs::V6(src, dst));
                self.write_ipv6(l3, src, dst);
            }
            Net::Arp { sender, target } => self.write_arp(l3, sender, target),
        }
        if let (Some(len), Net::Ipv4 { .. }) = (self.ip.datagram_len, self.net) {
            frame.truncate(layout.l3 + len);
            self.rewrite_ipv4_len(&mut frame[layout.l3..]);
        }
        if let Some(len) = self.truncate {
            frame.truncate(len);
        }
        if let Some((min, fill)) = &self.pad {
            let need = min.saturating_sub(frame.len());
            frame.extend(fill.iter().cycle().take(need));
        }
        frame
    }

    /// After [`FrameBuilder::ip_datagram_len`]: the total length of the (shortened) packet in
    /// `packet`, and the header checksum again.
    fn rewrite_ipv4_len(&self, packet: &mut [u8]) {
        let len = u16::try_from(packet.len()).expect("IPv4 packet longer than 65535 bytes");
        let Some(mut ip) = MutableIpv4Packet::new(packet) else {
            return;
        };
        ip.set_total_length(len);
        let mut csum = ipv4::checksum(&ip.to_immutable());
        if self.ip.bad_checksum {
            csum = checksum::corrupt(csum);
        }
        ip.set_checksum(csum);
    }

    fn net_ethertype(&self) -> EtherType {
        match (self.ethertype, self.net) {
            (Some(raw), _) => EtherType(raw),
            (None, Net::None) => EXPERIMENTAL_ETHERTYPE,
            (None, Net::Ipv4 { .. }) => EtherTypes::Ipv4,
            (None, Net::Ipv6 { .. }) => EtherTypes::Ipv6,
            (None, Net::Arp { .. }) => EtherTypes::Arp,
        }
    }

    fn write_l2(&self, frame: &mut [u8]) {
        let mut eth = MutableEthernetPacket::new(frame).expect("frame holds an Ethernet header");
        eth.set_source(self.src);
        eth.set_destination(self.dst);
        match self.vlan {
            None => eth.set_ethertype(self.net_ethertype()),
            Some(vid) => {
                eth.set_ethertype(EtherTypes::Vlan);
                let mut vlan =
                    MutableVlanPacket::new(&mut frame[ETH_LEN..]).expect("frame holds a VLAN tag");
                vlan.set_vlan_identifier(vid);
                vlan.set_ethertype(self.net_ethertype());
            }
        }
    }

    fn ip_proto(&self, v6: bool) -> IpNextHeaderProtocol {
        match self.transport {
            Transport::None => EXPERIMENTAL_IP_PROTO,
            Transport::Raw(proto) => IpNextHeaderProtocol(proto),
            Transport::Tcp { .. } => IpNextHeaderProtocols::Tcp,
            Transport::Udp { .. } => IpNextHeaderProtocols::Udp,
            Transport::IcmpEcho { .. } if v6 => IpNextHeaderProtocols::Icmpv6,
            Transport::IcmpEcho { .. } => IpNextHeaderProtocols::Icmp,
        }
    }

    /// Writes the IPv4 header at the start of `packet` (header plus everything after it).
    fn write_ipv4(&self, packet: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) {
        let total_len = u16::try_from(packet.len()).expect("IPv4 packet longer than 65535 bytes");
        let mut ip = MutableIpv4Packet::new(packet).expect("frame holds an IPv4 header");
        ip.set_version(4);
        ip.set_header_length(((IPV4_LEN + self.ip.options.len()) / 4) as u8);
        ip.get_options_raw_mut().copy_from_slice(&self.ip.options);
        ip.set_total_length(total_len);
        ip.set_identification(if self.tag.is_set() {
            self.tag.0
        } else {
            self.ip.id
        });
        ip.set_ttl(self.ip.ttl);
        ip.set_next_level_protocol(self.ip_proto(false));
        ip.set_source(src);
        ip.set_destination(dst);
        if let Some(ihl) = self.ip.ihl {
            ip.set_header_length(ihl);
        }
        if let Some(version) = self.ip.version {
            ip.set_version(version);
        }
        if let Some((more, offset)) = self.ip.fragment {
            // Flags: bit 0 of the three is "more fragments", bit 1 "don't fragment".
            ip.set_flags(u8::from(more) | u8::from(self.ip.dont_fragment) << 1);
            ip.set_fragment_offset(offset);
        } else if self.ip.dont_fragment {
            ip.set_flags(2);
        }
        let mut csum = ipv4::checksum(&ip.to_immutable());
        if self.ip.bad_checksum {
            csum = checksum::corrupt(csum);
        }
        ip.set_checksum(csum);
    }

    fn write_ipv6(&self, packet: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr) {
        let payload_len =
            u16::try_from(packet.len() - IPV6_LEN).expect("IPv6 payload longer than 65535 bytes");
        let mut ip = MutableIpv6Packet::new(packet).expect("frame holds an IPv6 header");
        ip.set_version(6);
        ip.set_flow_label(u32::from(self.tag.0));
        ip.set_payload_length(payload_len);
        ip.set_next_header(self.ip_proto(true));
        ip.set_hop_limit(self.ip.ttl);
        ip.set_source(src);
        ip.set_destination(dst);
    }

    fn write_arp(&self, body: &mut [u8], sender: Ipv4Addr, target: Ipv4Addr) {
        let mut arp = MutableArpPacket::new(body).expect("frame holds an ARP body");
        arp.set_hardware_type(ArpHardwareTypes::Ethernet);
        arp.set_protocol_type(EtherTypes::Ipv4);
        arp.set_hw_addr_len(6);
        arp.set_proto_addr_len(4);
        arp.set_operation(ArpOperations::Request);
        arp.set_sender_hw_addr(self.src);
        arp.set_sender_proto_addr(sender);
        arp.set_target_hw_addr(MacAddr::zero());
        arp.set_target_proto_addr(target);
    }

    /// Writes the transport header at the start of `segment` (header plus payload) and its
    /// checksum over the whole segment.
    fn write_transport(&self, segment: &mut [u8], addrs: Addrs) {
        let kind = match self.transport {
            Transport::None | Transport::Raw(_) => return,
            Transport::Tcp { sport, dport } => {
                let mut tcp = MutableTcpPacket::new(segment).expect("frame holds a TCP header");
                tcp.set_source(sport);
                tcp.set_destination(dport);
                tcp.set_sequence(self.tcp.seq);
                tcp.set_acknowledgement(self.tcp.ack);
                tcp.set_data_offset(((TCP_LEN + self.tcp.options.len()) / 4) as u8);
                tcp.get_options_raw_mut().copy_from_slice(&self.tcp.options);
                tcp.set_flags(self.tcp.flags);
                tcp.set_window(self.tcp.window);
                checksum::Transport::Tcp
            }
            Transport::Udp { sport, dport } => {
                let len = u16::try_from(segment.len()).expect("UDP datagram longer than 65535");
                let mut udp = MutableUdpPacket::new(segment).expect("frame holds a UDP header");
                udp.set_source(sport);
                udp.set_destination(dport);
                udp.set_length(len);
                checksum::Transport::Udp
            }
            Transport::IcmpEcho { id, seq } => {
                if matches!(addrs, Addrs::V6(..)) {
                    let mut echo = icmpv6::echo_request::MutableEchoRequestPacket::new(segment)
                        .expect("frame holds an ICMPv6 echo header");
                    echo.set_icmpv6_type(Icmpv6Types::EchoRequest);
                    echo.set_identifier(id);
                    echo.set_sequence_number(seq);
                } else {
                    let mut echo = icmp::echo_request::MutableEchoRequestPacket::new(segment)
                        .expect("frame holds an ICMP echo header");
                    echo.set_icmp_type(IcmpTypes::EchoRequest);
                    echo.set_identifier(id);
                    echo.set_sequence_number(seq);
                }
                checksum::Transport::Icmp
            }
        };
        for (at, bytes) in &self.l4_fields {
            segment[*at..at + bytes.len()].copy_from_slice(bytes);
        }
        let computed = checksum::transport(kind, addrs, segment).expect("header was just written");
        let csum = match (kind, self.bad_l4_checksum) {
            (_, true) => checksum::corrupt(computed),
            (checksum::Transport::Udp, false) => checksum::udp_wire(computed),
            (_, false) => computed,
        };
        // The checksum field sits at a different offset in each header.
        let at = match kind {
            checksum::Transport::Tcp => 16,
            checksum::Transport::Udp => 6,
            checksum::Transport::Icmp => 2,
        };
        segment[at..at + 2].copy_from_slice(&csum.to_be_bytes());
    }
}

/// `bytes` zero-padded to a multiple of 4.
fn padded(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out.resize(bytes.len().next_multiple_of(4), 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    use crate::fixtures::*;

    #[test]
    fn tcp_syn_layout_and_fields() {
        let b = eth().ipv4(IP_A, IP_B).tcp(40000, 22).tag(Tag(7));
        let frame = b.build();
        let layout = b.layout();
        assert_eq!(
            layout,
            Layout {
                l3: 14,
                l4: Some(34),
                payload: Some(54),
                len: 62
            }
        );
        assert_eq!(frame.len(), 62);
        assert_eq!(&frame[12..14], &[0x08, 0x00]);
        assert_eq!(
            &frame[18..20],
            &7u16.to_be_bytes(),
            "IPv4 id carries the tag"
        );
        assert_eq!(frame[23], 6);
        assert_eq!(&frame[54..], b"XDPL\0\0\0\x07");
        let d = decode(&frame);
        let tcp = d.tcp.expect("tcp decoded");
        assert_eq!(
            (tcp.sport, tcp.dport, tcp.flags, tcp.seq, tcp.window),
            (40000, 22, 2, 1, 64240)
        );
        assert_eq!(tcp.csum_ok, Some(true));
        assert!(d.ipv4.expect("ipv4 decoded").csum_ok);
        assert_eq!(d.tag, Some(Tag(7)));
    }

    #[test]
    fn untagged_frames_have_id_zero_and_no_trailer() {
        let frame = eth().ipv4(IP_A, IP_B).udp(1, 2).payload(b"hi").build();
        assert_eq!(frame.len(), 14 + 20 + 8 + 2);
        assert_eq!(&frame[18..20], &[0, 0]);
        assert_eq!(find_tag(&frame), None);
    }

    #[test]
    fn every_checksum_verifies_by_default() {
        let frames = [
            eth().ipv4(IP_A, IP_B).tcp(1, 2).payload(b"odd").tag(Tag(1)),
            eth().ipv4(IP_A, IP_B).udp(1, 2).payload(b"x").tag(Tag(2)),
            eth()
                .ipv4(IP_A, IP_B)
                .icmp_echo(3, 4)
                .payload(b"ping")
                .tag(Tag(3)),
            eth().ipv6(IP6_A, IP6_B).tcp(1, 2).tag(Tag(4)),
            eth().ipv6(IP6_A, IP6_B).udp(1, 2).payload(b"abc"),
            eth().ipv6(IP6_A, IP6_B).icmp_echo(3, 4).tag(Tag(6)),
            eth()
                .vlan(100)
                .ipv4(IP_A, IP_B)
                .ip_options(&[1, 1, 1])
                .tcp(5, 6),
        ];
        for b in frames {
            let d = decode(&b.build());
            assert_eq!(d.truncated_at, None, "{d}");
            assert!(d.ipv4.as_ref().is_none_or(|ip| ip.csum_ok), "{d}");
            let l4 = [
                d.tcp.as_ref().map(|t| t.csum_ok),
                d.udp.as_ref().map(|u| u.csum_ok),
                d.icmp.as_ref().map(|i| i.csum_ok),
            ];
            assert_eq!(
                l4.iter().flatten().collect::<Vec<_>>(),
                [&Some(true)],
                "{d}"
            );
        }
    }

    #[test]
    fn udp_checksum_zero_is_sent_as_ffff() {
        // Search for ports whose true checksum is 0; the builder must write 0xffff instead.
        let hit = (0..=u16::MAX)
            .map(|sport| eth().ipv4(IP_A, IP_B).udp(sport, 9).build())
            .find(|f| f[40..42] == [0xff, 0xff])
            .expect("some source port yields a zero checksum");
        assert_eq!(decode(&hit).udp.expect("udp").csum_ok, Some(true));
    }

    #[test]
    fn breakage_is_reported() {
        let d = decode(&eth().ipv4(IP_A, IP_B).tcp(1, 2).bad_ip_checksum().build());
        assert!(!d.ipv4.expect("ipv4").csum_ok);
        assert_eq!(d.tcp.expect("tcp").csum_ok, Some(true));

        let d = decode(&eth().ipv4(IP_A, IP_B).udp(1, 2).bad_l4_checksum().build());
        assert!(d.ipv4.expect("ipv4").csum_ok);
        assert_eq!(d.udp.expect("udp").csum_ok, Some(false));
    }

    #[test]
    fn ihl_changes_only_the_field() {
        let good = eth().ipv4(IP_A, IP_B).tcp(1, 2);
        let odd = good.clone().ihl(6);
        assert_eq!(good.layout(), odd.layout());
        let (g, o) = (good.build(), odd.build());
        assert_eq!(o[14], 0x46);
        let differing: Vec<usize> = (0..g.len()).filter(|&i| g[i] != o[i]).collect();
        assert!(
            differing.iter().all(|i| [14, 24, 25].contains(i)),
            "{differing:?}"
        );
        assert!(
            decode(&o).ipv4.expect("ipv4").csum_ok,
            "checksum covers the header as written"
        );
    }

    #[test]
    fn options_are_padded_and_lengths_follow() {
        let b = eth()
            .ipv4(IP_A, IP_B)
            .ip_options(&[7, 3, 4])
            .tcp(1, 2)
            .tcp_options(&[2, 4, 5, 0xb4, 1]);
        let f = b.build();
        assert_eq!(f[14] & 0x0f, 6);
        assert_eq!(b.layout().l4, Some(38));
        assert_eq!(f[38 + 12] >> 4, 7);
        assert_eq!(&f[58..66], &[2, 4, 5, 0xb4, 1, 0, 0, 0]);
        assert_eq!(decode(&f).tcp.expect("tcp").mss, Some(1460));
    }

    #[test]
    fn ipv6_flow_label_carries_tag() {
        let f = eth().ipv6(IP6_A, IP6_B).udp(1, 2).tag(Tag(0xbeef)).build();
        assert_eq!(&f[15..18], &[0x00, 0xbe, 0xef]);
        assert_eq!(f[20], 17);
        assert_eq!(f[21], 64);
    }

    #[test]
    fn raw_protocol_and_plain_ip() {
        let b = eth()
            .ipv4(IP_A, IP_B)
            .ip_protocol(47)
            .payload(&[0, 0, 8, 0]);
        assert_eq!(
            b.layout(),
            Layout {
                l3: 14,
                l4: None,
                payload: Some(34),
                len: 38
            }
        );
        assert_eq!(b.build()[23], 47);
        assert_eq!(eth().ipv6(IP6_A, IP6_B).build()[20], 253);
    }

    #[test]
    fn arp_request() {
        let b = eth().vlan(5).arp_request(IP_A, IP_B).tag(Tag(3));
        let f = b.build();
        assert_eq!(
            b.layout(),
            Layout {
                l3: 18,
                l4: None,
                payload: None,
                len: 46
            }
        );
        assert_eq!(&f[12..18], &[0x81, 0x00, 0x00, 0x05, 0x08, 0x06]);
        assert_eq!(&f[18 + 8..18 + 14], &[2, 0, 0, 0, 0, 1]);
        assert_eq!(find_tag(&f), None);
    }

    #[test]
    fn raw_ethernet() {
        let b = eth().payload(b"abc").tag(Tag(1));
        assert_eq!(
            b.layout(),
            Layout {
                l3: 14,
                l4: None,
                payload: Some(14),
                len: 25
            }
        );
        assert_eq!(&b.build()[12..14], &[0x88, 0xb5]);
        assert_eq!(&eth().ethertype(0x1234).build()[12..14], &[0x12, 0x34]);
    }

    #[test]
    fn fragments_versions_short_datagrams_and_padding() {
        use pnet::packet::ipv4::Ipv4Packet;
        let f = eth()
            .ipv4(IP_A, IP_B)
            .udp(1, 22)
            .tag(Tag(5))
            .fragment(185, true)
            .ip_version(6)
            .build();
        let ip = Ipv4Packet::new(&f[14..]).unwrap();
        assert_eq!((ip.get_flags(), ip.get_fragment_offset()), (1, 185));
        assert_eq!(ip.get_version(), 6);
        assert_eq!(
            ip.get_checksum(),
            ipv4::checksum(&ip),
            "the checksum covers both"
        );
        // A datagram of 26 bytes (6 of its UDP header) padded to 60 bytes with "22"s.
        let f = eth()
            .ipv4(IP_A, IP_B)
            .udp(1, 53)
            .tag(Tag(6))
            .ip_datagram_len(26)
            .pad(60, &[0, 22])
            .build();
        assert_eq!(f.len(), 60);
        let ip = Ipv4Packet::new(&f[14..]).unwrap();
        assert_eq!(ip.get_total_length(), 26);
        assert_eq!(ip.get_checksum(), ipv4::checksum(&ip));
        assert_eq!(&f[40..44], &[0, 22, 0, 22], "padding after the datagram");
        assert_eq!(find_tag(&f), Some(Tag(6)), "the IPv4 id still tags it");
    }

    #[test]
    fn dont_fragment_and_identification() {
        use pnet::packet::ipv4::Ipv4Packet;
        let flags = |b: FrameBuilder| {
            let f = b.build();
            let ip = Ipv4Packet::new(&f[14..]).unwrap();
            assert_eq!(ip.get_checksum(), ipv4::checksum(&ip));
            (
                ip.get_flags(),
                ip.get_fragment_offset(),
                ip.get_identification(),
            )
        };
        let b = || eth().ipv4(IP_A, IP_B).tcp(1, 2);
        assert_eq!(flags(b().dont_fragment()), (2, 0, 0));
        assert_eq!(flags(b().dont_fragment().fragment(0, true)), (3, 0, 0));
        assert_eq!(flags(b().ip_id(0xbeef)), (0, 0, 0xbeef));
        assert_eq!(
            flags(b().ip_id(0xbeef).tag(Tag(7))),
            (0, 0, 7),
            "a tag wins"
        );
    }

    #[test]
    fn truncate_keeps_layout() {
        let b = eth().ipv4(IP_A, IP_B).tcp(1, 2).tag(Tag(9)).truncate(40);
        assert_eq!(b.build().len(), 40);
        assert_eq!(b.layout().len, 62);
        assert_eq!(
            find_tag(&b.build()),
            Some(Tag(9)),
            "IPv4 id survives the cut"
        );
    }

    #[test]
    fn fragments_and_padding_change_only_what_they_say() {
        let plain = eth().ipv4(IP_A, IP_B).tcp(1, 2).build();
        let frag = eth().ipv4(IP_A, IP_B).tcp(1, 2).fragment(8, true).build();
        assert_eq!(&frag[20..22], &[0x20, 0x08], "MF and offset 8");
        assert_eq!(decode(&frag).ipv4.expect("ipv4").csum.ok(), Some(true));
        assert_eq!(frag[34..], plain[34..]);
        let padded = eth().ipv4(IP_A, IP_B).tcp(1, 2).pad_to(60).build();
        assert_eq!(padded.len(), 60);
        assert_eq!(padded[..54], plain[..]);
        assert_eq!(padded[54..], [0; 6]);
        assert_eq!(eth().ipv4(IP_A, IP_B).tcp(1, 2).pad_to(20).build(), plain);
    }

    #[test]
    fn tag_survives_rewrites_encapsulation_and_trims() {
        let mut f = eth()
            .ipv4(IP_A, IP_B)
            .udp(1, 2)
            .payload(b"data")
            .tag(Tag(77))
            .build();
        // What an XDP program might do: swap MACs, NAT the address, zero the IP id.
        f.copy_within(0..6, 6);
        f[30..34].copy_from_slice(&[192, 168, 1, 1]);
        f[18..20].fill(0);
        assert_eq!(find_tag(&f), Some(Tag(77)));
        // Push an outer header in front (IP-in-IP style) and pad the frame.
        let mut outer = f[..34].to_vec();
        outer.extend(&f[14..]);
        outer.resize(outer.len() + 10, 0);
        assert_eq!(find_tag(&outer), Some(Tag(77)));
        // Trimmed to the headers: only the IPv6 flow label is left.
        let v6 = eth()
            .ipv6(IP6_A, IP6_B)
            .udp(1, 2)
            .payload(b"data")
            .tag(Tag(78));
        assert_eq!(find_tag(&v6.truncate(62).build()), Some(Tag(78)));
    }

    #[test]
    #[should_panic(expected = "needs ipv4() or ipv6()")]
    fn transport_without_ip_panics() {
        eth().udp(1, 2).build();
    }
}
