//! Crafted frames, and what the contract says each must become at a backend.

use std::net::Ipv4Addr;

use harness::{
    delivery::Parcel,
    vary::{CLIENT_PORTS, Cycle, Rng, Vary},
};
use pnet::packet::ipv4::{self, MutableIpv4Packet};
use traffic::{FrameBuilder, MacAddr, Tag};

use crate::net::{CLIENT, CLIENT_IP, Net, VIP};

/// The shortest Ethernet frame on a wire (without its FCS): shorter ones are padded to it.
pub const MIN_FRAME: usize = 60;
/// Where the IPv4 header starts in the lab's untagged Ethernet II frames.
const L3: usize = traffic::header::ETH_LEN;

/// The UDP port backends listen on in the delivery checks.
pub const UDP_PORT: u16 = 7000;
/// The TCP port of the VIP service.
pub const TCP_PORT: u16 = 80;

/// A frame the client sends, described so it can be built for any destination (the VIP as
/// sent, a backend for the contract's expected rewrite).
#[derive(Clone, Debug)]
pub struct Spec {
    /// Short name for tables.
    pub name: String,
    /// Source address.
    pub src: Ipv4Addr,
    /// TCP (else UDP).
    pub tcp: bool,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// IPv4 options.
    pub options: Vec<u8>,
    /// Send UDP without a checksum (0).
    pub udp_no_checksum: bool,
    /// The tag.
    pub tag: u16,
    /// The payload (the tag's trailer follows it, unless `trailer` is false).
    pub payload: Vec<u8>,
    /// TCP flags (SYN unless set).
    pub flags: Option<u8>,
    /// The tag also as a payload trailer; without it the tag is only in the IPv4
    /// Identification, so the transport segment is exactly header and payload.
    pub trailer: bool,
    /// Ethernet padding (zeros past the IPv4 total length) up to this frame length.
    pub pad_to: usize,
    /// A TCP data offset other than the header's own (a field no rule reads).
    pub data_offset: Option<u8>,
    /// A UDP length field other than the datagram's own (a field no rule reads).
    pub udp_length: Option<u16>,
}

impl Spec {
    /// A UDP datagram from `src` to the VIP's UDP port.
    pub fn udp(name: impl Into<String>, tag: u16, src: Ipv4Addr, sport: u16) -> Self {
        Self {
            name: name.into(),
            src,
            tcp: false,
            sport,
            dport: UDP_PORT,
            options: Vec::new(),
            udp_no_checksum: false,
            tag,
            payload: b"xdplab lb".to_vec(),
            flags: None,
            trailer: true,
            pad_to: 0,
            data_offset: None,
            udp_length: None,
        }
    }

    /// A TCP SYN from the client to the VIP's TCP port.
    pub fn tcp(name: impl Into<String>, tag: u16, sport: u16) -> Self {
        Self {
            tcp: true,
            dport: TCP_PORT,
            ..Self::udp(name, tag, CLIENT_IP, sport)
        }
    }

    /// The frame addressed to `dst_ip` at `dst_mac`, from `src_mac`.
    pub fn build_for(&self, src_mac: MacAddr, dst_mac: MacAddr, dst_ip: Ipv4Addr) -> Vec<u8> {
        let tag = if self.trailer {
            Tag(self.tag)
        } else {
            Tag::NONE
        };
        let mut b = FrameBuilder::ethernet(src_mac, dst_mac)
            .ipv4(self.src, dst_ip)
            .tag(tag);
        if !self.options.is_empty() {
            b = b.ip_options(&self.options);
        }
        b = if self.tcp {
            b.tcp(self.sport, self.dport)
        } else {
            b.udp(self.sport, self.dport)
        };
        if let Some(flags) = self.flags {
            b = b.tcp_flags(flags);
        }
        if let Some(words) = self.data_offset {
            b = b.tcp_data_offset(words);
        }
        if let Some(len) = self.udp_length {
            b = b.udp_length(len);
        }
        b = b.payload(&self.payload).pad_to(self.pad_to);
        let layout = b.layout();
        let mut frame = b.build();
        if self.udp_no_checksum
            && let Some(l4) = layout.l4
        {
            frame[l4 + 6..l4 + 8].fill(0);
        }
        if !self.trailer {
            edit_ipv4(&mut frame, |ip| ip.set_identification(self.tag));
        }
        frame
    }

    /// The frame as the client sends it: to the VIP, at the load balancer's MAC.
    pub fn frame(&self, net: &Net) -> Vec<u8> {
        self.build_for(CLIENT, net.lb_mac, VIP)
    }

    /// The same datagram or segment with its first two payload bytes chosen so that its
    /// transport checksum, computed for the destination `dst_ip`, is 0: the sum of everything
    /// else is S, and a word of !S makes the sum 0xffff. A UDP checksum of 0 goes on the
    /// wire as 0xffff (RFC 768); TCP's stays 0x0000.
    pub fn summing_to_zero(mut self, dst_ip: Ipv4Addr) -> Self {
        let field = if self.tcp { 16 } else { 6 };
        let l4 = L3 + 20 + self.options.len();
        self.payload.splice(0..0, [0, 0]);
        let frame = self.build_for(CLIENT, CLIENT, dst_ip);
        self.payload[..2].copy_from_slice(&frame[l4 + field..l4 + field + 2]);
        self
    }

    /// The same datagram or segment with its first two payload bytes chosen so that the
    /// incremental update (RFC 1624) of its checksum for the destination `dst_ip` needs a
    /// second carry: the sum ~C + ~VIP + `dst_ip`, folded once, still exceeds 16 bits, so a
    /// program that folds once writes a wrong checksum.
    pub fn needing_a_second_carry(self, dst_ip: Ipv4Addr) -> Self {
        let c = second_carry(dst_ip, u16::from_be_bytes).expect("the VIP's words carry");
        self.with_checksum(VIP, c)
    }

    /// As [`Spec::needing_a_second_carry`] for a program that sums the words as a
    /// little-endian CPU reads them (each word's bytes swapped), where the carries fall
    /// elsewhere; `None` where those words of the VIP and `dst_ip` cannot carry past 16 bits.
    pub fn needing_a_second_carry_swapped(self, dst_ip: Ipv4Addr) -> Option<Self> {
        let c = second_carry(dst_ip, u16::from_le_bytes)?;
        Some(self.with_checksum(VIP, c.swap_bytes()))
    }

    /// The same datagram or segment with its first two payload bytes chosen so that its
    /// checksum for the destination `dst_ip` is `target`: the sum of everything else is S,
    /// and a word of ~S + ~target makes the sum ~target.
    fn with_checksum(mut self, dst_ip: Ipv4Addr, target: u16) -> Self {
        let field = if self.tcp { 16 } else { 6 };
        let l4 = L3 + 20 + self.options.len();
        self.payload.splice(0..0, [0, 0]);
        let frame = self.build_for(CLIENT, CLIENT, dst_ip);
        let not_s = u32::from(u16::from_be_bytes([
            frame[l4 + field],
            frame[l4 + field + 1],
        ]));
        let word = not_s + u32::from(!target);
        let word = ((word & 0xffff) + (word >> 16)) as u16;
        self.payload[..2].copy_from_slice(&word.to_be_bytes());
        self
    }
}

/// The checksums (as the field carries them, of a datagram or segment to the VIP) whose
/// update for the rewrite VIP → `backend` needs a second carry, summed in network order or as
/// a little-endian CPU reads the words: what the differential's generator crafts too.
pub fn needing_a_second_carry_at(backend: Ipv4Addr) -> Vec<u16> {
    let mut values: Vec<u16> = second_carry(backend, u16::from_be_bytes)
        .into_iter()
        .collect();
    values.extend(second_carry(backend, u16::from_le_bytes).map(u16::swap_bytes));
    values
}

/// The checksum C, as `word` reads it, that makes ~C + ~VIP + `dst_ip` (in words read by
/// `word`) all ones in its low 16 bits with a carry above them: folded once, it still
/// exceeds 16 bits. `None` when the address words alone stay under 16 bits.
fn second_carry(dst_ip: Ipv4Addr, word: fn([u8; 2]) -> u16) -> Option<u16> {
    let words = |a: Ipv4Addr| {
        let [a, b, c, d] = a.octets();
        [word([a, b]), word([c, d])]
    };
    let moved: u32 = words(VIP).iter().map(|w| u32::from(!w)).sum::<u32>()
        + words(dst_ip).iter().map(|&w| u32::from(w)).sum::<u32>();
    let not_c = 0xffff - (moved & 0xffff);
    (not_c + moved > 0x1_0000).then_some(!(not_c as u16))
}

impl Spec {
    /// The same segment with its first two payload bytes chosen so that updating its
    /// checksum for the rewrite VIP → `backend` the RFC 1624 way (~C + ~old + new, in 16-bit
    /// words) sums past 0xffff after one fold of the carries: a program that folds once writes
    /// a wrong checksum. Its checksum C for the VIP is picked so, then the word that gives C.
    pub fn folding_twice(mut self, backend: Ipv4Addr) -> Self {
        let field = if self.tcp { 16 } else { 6 };
        let l4 = L3 + 20 + self.options.len();
        self.payload.splice(0..0, [0, 0]);
        let frame = self.build_for(CLIENT, CLIENT, VIP);
        let c0 = u32::from(u16::from_be_bytes([
            frame[l4 + field],
            frame[l4 + field + 1],
        ]));
        let halves = |a: Ipv4Addr| {
            let v = u32::from(a);
            [v >> 16, v & 0xffff]
        };
        let k: u32 = halves(VIP).iter().map(|h| !h & 0xffff).sum::<u32>()
            + halves(backend).iter().sum::<u32>();
        // ~C: the first word of the update's sum.
        let not_c = (1..=0xffffu32)
            .find(|n| {
                let sum = n + k;
                (sum & 0xffff) + (sum >> 16) > 0xffff
            })
            .expect("three words of 0x0a00 and more reach past 0xffff");
        // One's complement: with the word 0 the sum was ~c0; ~C - ~c0 = ~C + c0.
        let mut word = not_c + c0;
        word = (word & 0xffff) + (word >> 16);
        word = (word & 0xffff) + (word >> 16);
        self.payload[..2].copy_from_slice(&(word as u16).to_be_bytes());
        self
    }
}

/// Edits the IPv4 header of a lab frame and recomputes its header checksum (over IHL × 4
/// bytes, as pnet reads it).
pub fn edit_ipv4(frame: &mut [u8], edit: impl FnOnce(&mut MutableIpv4Packet)) {
    let mut ip = MutableIpv4Packet::new(&mut frame[L3..]).expect("a frame with an IPv4 header");
    edit(&mut ip);
    let csum = ipv4::checksum(&ip.to_immutable());
    ip.set_checksum(csum);
}

/// The fields no rule of this lab reads, different from frame to frame: ports, protocol and
/// payload everywhere, and the source wherever the rule is not about it (round robin). Under
/// seed 0 they go round fixed lists; a seed draws them, and the source sets, at random.
#[derive(Debug)]
pub struct Free {
    vary: Vary,
    sports: Cycle<u16>,
    dports: Cycle<u16>,
    srcs: Cycle<Ipv4Addr>,
}

impl Free {
    /// The canonical values for seed 0, seeded draws for any other.
    pub fn new(seed: u64) -> Self {
        Self {
            vary: Vary::new(seed),
            sports: Cycle::new(CLIENT_PORTS),
            dports: Cycle::new([UDP_PORT, TCP_PORT, 53, 443, 8080]),
            srcs: Cycle::new([
                CLIENT_IP,
                Ipv4Addr::new(172, 16, 5, 5),
                Ipv4Addr::new(198, 51, 100, 20),
                Ipv4Addr::new(203, 0, 113, 9),
            ]),
        }
    }

    /// A client's source port.
    pub fn sport(&self) -> u16 {
        self.vary.port(&self.sports, &[])
    }

    /// A destination port on the VIP.
    pub fn dport(&self) -> u16 {
        self.vary.pick(&self.dports, |rng| rng.u16(1..))
    }

    /// A payload.
    pub fn payload(&self) -> Vec<u8> {
        self.vary.payload()
    }

    /// A source address outside the lab's 10.0.0.0/16 (whose stations the backends would
    /// answer on the wire), other than the VIP.
    pub fn src(&self) -> Ipv4Addr {
        self.vary
            .pick(&self.srcs, |rng| outside_lab(|| rng.u32(..)))
    }

    /// `canonical` under seed 0; under a seed, a value drawn by `draw`.
    pub fn pick<T>(&self, canonical: T, draw: impl FnOnce(&mut Rng) -> T) -> T {
        self.vary.fixed(canonical, draw)
    }

    /// The configuration of one part: under seed 0 [`Net::CANONICAL`], or [`Net::OTHER`]
    /// when `other`; under a seed, one drawn at random.
    pub fn net(&self, other: bool) -> Net {
        let canonical = if other { Net::OTHER } else { Net::CANONICAL };
        self.pick(canonical, Net::draw)
    }

    /// Shuffles `items` under a seed (where the contract fixes no order).
    pub fn shuffle<T>(&self, items: &mut [T]) {
        self.vary.shuffle(items);
    }

    /// A TCP (odd `k`) or UDP (even `k`) frame from `src` with free ports and payload.
    pub fn spec(&self, name: impl Into<String>, tag: u16, src: Ipv4Addr, k: usize) -> Spec {
        Spec {
            tcp: k % 2 == 1,
            dport: self.dport(),
            payload: self.payload(),
            ..Spec::udp(name, tag, src, self.sport())
        }
    }
}

/// The first address `next` gives that lies outside 10.0.0.0/16 and is not the VIP.
pub fn outside_lab(mut next: impl FnMut() -> u32) -> Ipv4Addr {
    loop {
        let a = Ipv4Addr::from(next());
        if !matches!(a.octets(), [10, 0, ..]) && a != VIP {
            break a;
        }
    }
}

/// Which kind of rewrite the contract asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rewrite {
    /// Destination IP and MAC become the backend's; checksums follow. The source MAC may stay or
    /// become the LB's; the TTL may stay or drop by one.
    Nat,
    /// Only the destination MAC becomes the backend's, and the source MAC the LB's.
    Dsr,
}

impl Rewrite {
    /// The frame the contract expects from `spec` when balanced to backend `b`.
    pub fn expected_frame(self, spec: &Spec, b: usize, net: &Net) -> Vec<u8> {
        let (ip, mac) = net.backends[b];
        match self {
            Rewrite::Nat => spec.build_for(CLIENT, mac, ip),
            Rewrite::Dsr => spec.build_for(net.lb_mac, mac, VIP),
        }
    }

    /// The contract's rewrite as the harness reads it: how a frame names its backend, and the
    /// variants the NAT programs may produce (shown as the form they stand for). The DSR
    /// contract allows none: its source MAC must be the LB's and nothing else may change.
    pub fn harness(self, net: &Net) -> harness::delivery::Rewrite {
        use harness::delivery::{Allow, Rewrite as R};
        match self {
            Rewrite::Nat => R {
                address: true,
                allow: vec![
                    Allow::SourceMac {
                        from: net.lb_mac,
                        reads_as: CLIENT,
                    },
                    Allow::TtlDecrement,
                    Allow::UdpChecksumAdded,
                ],
            },
            Rewrite::Dsr => R {
                address: false,
                allow: Vec::new(),
            },
        }
    }

    /// `spec` as a parcel: sent to the VIP, arriving as the contract's rewrite for each
    /// backend.
    pub fn parcel(self, spec: &Spec, net: &Net) -> Parcel {
        Parcel::new(spec.name.clone(), spec.frame(net)).arriving_as(
            (0..net.backends.len())
                .map(|b| self.expected_frame(spec, b, net))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use traffic::{decode, decode::Csum};

    use super::*;
    use crate::net::Net;

    /// The crafted word makes the checksum C one for which ~C + ~VIP + backend carries after
    /// one fold.
    #[test]
    fn folding_twice() {
        let l4 = L3 + 20;
        let backend = Net::CANONICAL.backends[2].0;
        let sent = Spec::tcp("t", 1, 40000)
            .folding_twice(backend)
            .frame(&Net::CANONICAL);
        assert_eq!(decode(&sent).tcp.map(|t| t.csum), Some(Csum::Ok));
        let c = u32::from(u16::from_be_bytes([sent[l4 + 16], sent[l4 + 17]]));
        let (vip, b) = (u32::from(VIP), u32::from(backend));
        let sum = (!c & 0xffff) + (!vip >> 16) + (!vip & 0xffff) + (b >> 16) + (b & 0xffff);
        assert!((sum & 0xffff) + (sum >> 16) > 0xffff, "{sum:#x}");
    }

    /// The crafted word makes the checksum 0: TCP's stays 0x0000 on the wire, UDP's goes as
    /// 0xffff, and the frame sent to the VIP carries an ordinary UDP checksum.
    #[test]
    fn summing_to_zero() {
        let l4 = L3 + 20;
        let tcp = Spec::tcp("t", 1, 40000).summing_to_zero(VIP);
        let sent = tcp.frame(&Net::CANONICAL);
        assert_eq!(sent[l4 + 16..l4 + 18], [0, 0]);
        assert_eq!(decode(&sent).tcp.map(|t| t.csum), Some(Csum::Ok));
        let backend = Net::CANONICAL.backends[1];
        let udp = Spec::udp("u", 2, CLIENT_IP, 40000).summing_to_zero(backend.0);
        let rewritten = udp.build_for(CLIENT, backend.1, backend.0);
        assert_eq!(rewritten[l4 + 6..l4 + 8], [0xff, 0xff]);
        let sent = udp.frame(&Net::CANONICAL);
        assert_ne!(sent[l4 + 6..l4 + 8], [0xff, 0xff]);
        assert_ne!(sent[l4 + 6..l4 + 8], [0, 0]);
    }

    /// The crafted checksum sits where folding once loses a carry, and the frame sent to the
    /// VIP carries it as a valid checksum.
    #[test]
    fn needing_a_second_carry() {
        let l4 = L3 + 20;
        for (ip, _) in Net::CANONICAL.backends.iter().chain(&Net::OTHER.backends) {
            let udp = Spec::udp("u", 2, CLIENT_IP, 40000).needing_a_second_carry(*ip);
            let sent = udp.frame(&Net::CANONICAL);
            assert_eq!(decode(&sent).udp.map(|u| u.csum), Some(Csum::Ok));
            let c = u16::from_be_bytes([sent[l4 + 6], sent[l4 + 7]]);
            let words = |a: &Ipv4Addr| {
                let o = a.octets();
                [[o[0], o[1]], [o[2], o[3]]].map(|w| u32::from(u16::from_be_bytes(w)))
            };
            let ([v0, v1], [n0, n1]) = (words(&VIP), words(ip));
            let sum = u32::from(!c) + (0xffff - v0) + (0xffff - v1) + n0 + n1;
            let once = (sum & 0xffff) + (sum >> 16);
            assert!(once > 0xffff, "{ip}: {sum:#x} folds once to {once:#x}");
        }
    }
}
