//! A generated frame as named fields (Ethernet, IPv4, TCP/UDP/ICMP/other), how it is built into
//! bytes, and the one-field-at-a-time reset that shrinking uses.

use std::{fmt, net::Ipv4Addr};

use traffic::{FrameBuilder, MacAddr, header::ETH_LEN};

/// What the transport checksum of a generated TCP or UDP frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4Csum {
    /// Correct for the frame as sent.
    Valid,
    /// 0 (UDP's "no checksum"; simply wrong for TCP).
    Zero,
    /// Off by one.
    Bad,
    /// Correct as sent, with the first two payload bytes chosen so that the checksum computed
    /// after the destination becomes this address is 0 (UDP must then send 0xffff).
    LandsOnZeroFor(Ipv4Addr),
    /// Correct as sent and equal to this value (the first two payload bytes chosen so): a lab
    /// names the values whose update after a rewrite needs a second carry.
    Is(u16),
}

/// An IPv4 total length other than the packet's real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalLen {
    /// This value.
    Is(u16),
    /// The header as the IHL gives it (IHL × 4) plus this many bytes: the datagram ends
    /// inside (or right after) its transport header while the frame carries the rest.
    IntoTransport(u16),
}

/// What fills IPv4 options (IHL above 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptFill {
    /// NOP options (1).
    Nop,
    /// End-of-options (0).
    Zero,
    /// The destination port repeated: what a parser assuming a 20-byte header reads as ports.
    Decoy(u16),
}

/// One generated frame, field by field. Lengths and checksums not named here are computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpec {
    /// Ethernet source MAC.
    pub eth_src: MacAddr,
    /// Ethernet destination MAC.
    pub eth_dst: MacAddr,
    /// EtherType (the bytes after it are an IPv4 packet whatever it says).
    pub ethertype: u16,
    /// IPv4 version nibble.
    pub version: u8,
    /// IPv4 IHL nibble; above 5, (IHL - 5) * 4 option bytes follow the fixed header.
    pub ihl: u8,
    /// What the options are made of.
    pub options: OptFill,
    /// DSCP/ECN byte.
    pub tos: u8,
    /// The total length field, when not the packet's real length.
    pub total_len: Option<TotalLen>,
    /// Don't Fragment.
    pub df: bool,
    /// More Fragments.
    pub mf: bool,
    /// Fragment offset (8-byte units, 13 bits).
    pub frag_offset: u16,
    /// Time to live.
    pub ttl: u8,
    /// IPv4 protocol: 6 TCP, 17 UDP, 1 ICMP (echo), anything else raw bytes starting with
    /// the two ports (47 GRE and others).
    pub protocol: u8,
    /// Whether the IPv4 header checksum is correct.
    pub ip_csum_ok: bool,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Source port (ICMP: echo id).
    pub sport: u16,
    /// Destination port (ICMP: echo sequence).
    pub dport: u16,
    /// TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE, CWR).
    pub tcp_flags: u8,
    /// TCP option words (NOPs), 0 to 10.
    pub tcp_option_words: u8,
    /// The TCP data offset nibble, when not the header's real length.
    pub tcp_doff: Option<u8>,
    /// The UDP length field, when not the datagram's real length.
    pub udp_len: Option<u16>,
    /// The ICMP type (8, echo request, unless varied; the rest of the header stays an echo's).
    pub icmp_type: u8,
    /// The transport checksum.
    pub l4_csum: L4Csum,
    /// Payload length in bytes.
    pub payload_len: u16,
    /// Zero bytes appended after the packet (Ethernet padding; the IPv4 length stays).
    pub padding: u16,
    /// Where the finished frame is cut.
    pub cut: Option<Cut>,
}

/// Where a frame is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// After this many bytes (at least 14).
    At(u16),
    /// After this many bytes of the transport header (which starts after the options present).
    IntoTransport(u16),
}

/// Folds a one's-complement sum (RFC 1071). Written here because traffic's checksum code is
/// private and pnet's wants typed packets; the lands-on-zero payload needs the raw sum.
pub fn ones_sum(mut sum: u32, bytes: &[u8]) -> u32 {
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    sum
}

/// Folds a 32-bit one's-complement sum to 16 bits.
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The IPv4 header checksum of `header` (its checksum field taken as 0).
pub fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut h = header.to_vec();
    h[10..12].fill(0);
    !fold(ones_sum(0, &h))
}

/// The TCP/UDP checksum of `segment` (its checksum field at `at` taken as 0) between `src` and
/// `dst`, as the raw one's-complement value (UDP sends a 0 as 0xffff).
fn l4_checksum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, segment: &[u8], at: usize) -> u16 {
    let mut seg = segment.to_vec();
    seg[at..at + 2].fill(0);
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&[0, proto]);
    pseudo.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    !fold(ones_sum(ones_sum(0, &pseudo), &seg))
}

impl FrameSpec {
    /// A well-formed frame: IPv4 without options, TTL 64, a TCP SYN (protocol 6) or the given
    /// protocol, valid checksums, 6 bytes of payload, no padding, not cut.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        eth_src: MacAddr,
        eth_dst: MacAddr,
        protocol: u8,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        sport: u16,
        dport: u16,
    ) -> Self {
        Self {
            eth_src,
            eth_dst,
            ethertype: 0x0800,
            version: 4,
            ihl: 5,
            options: OptFill::Nop,
            tos: 0,
            total_len: None,
            df: false,
            mf: false,
            frag_offset: 0,
            ttl: 64,
            protocol,
            ip_csum_ok: true,
            src,
            dst,
            sport,
            dport,
            tcp_flags: 0x02,
            tcp_option_words: 0,
            tcp_doff: None,
            udp_len: None,
            icmp_type: 8,
            l4_csum: L4Csum::Valid,
            payload_len: 6,
            padding: 0,
            cut: None,
        }
    }

    /// The frame's bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut b = FrameBuilder::ethernet(self.eth_src, self.eth_dst)
            .ethertype(self.ethertype)
            .ipv4(self.src, self.dst)
            .ttl(self.ttl);
        if self.ihl > 5 {
            let len = usize::from(self.ihl - 5) * 4;
            let opts: Vec<u8> = match self.options {
                OptFill::Nop => vec![1; len],
                OptFill::Zero => vec![0; len],
                OptFill::Decoy(port) => port.to_be_bytes().repeat(len / 2),
            };
            b = b.ip_options(&opts);
        }
        let mut payload: Vec<u8> = (0..self.payload_len).map(|i| (i % 251) as u8).collect();
        b = match self.protocol {
            6 => {
                let b = b
                    .tcp(self.sport, self.dport)
                    .tcp_flags(self.tcp_flags)
                    .tcp_options(&vec![1; usize::from(self.tcp_option_words) * 4]);
                match self.tcp_doff {
                    Some(words) => b.tcp_data_offset(words & 0x0f),
                    None => b,
                }
            }
            17 => {
                let b = b.udp(self.sport, self.dport);
                match self.udp_len {
                    Some(len) => b.udp_length(len),
                    None => b,
                }
            }
            1 => b
                .icmp_echo(self.sport, self.dport)
                .icmp_type(self.icmp_type),
            p => {
                // Raw transport bytes that start like ports, so a parser that reads ports for
                // any protocol sees them.
                let mut raw = [self.sport.to_be_bytes(), self.dport.to_be_bytes()].concat();
                raw.extend_from_slice(&[0; 4]);
                raw.append(&mut payload);
                payload = raw;
                b.ip_protocol(p)
            }
        };
        let l4_ports = matches!(self.protocol, 6 | 17);
        // The value a crafted first payload word makes the checksum come out as, for a
        // destination.
        let crafted = match self.l4_csum {
            L4Csum::LandsOnZeroFor(to) => Some((to, 0)),
            L4Csum::Is(value) => Some((self.dst, value)),
            L4Csum::Valid | L4Csum::Zero | L4Csum::Bad => None,
        };
        if crafted.is_some() && l4_ports && payload.len() < 2 {
            payload.resize(2, 0);
        }
        b = b.payload(&payload);
        let layout = b.layout();
        let mut frame = b.build();
        let ip = ETH_LEN;
        frame[ip] = (self.version << 4) | (self.ihl & 0x0f);
        frame[ip + 1] = self.tos;
        if let Some(len) = self.total_len {
            let len = match len {
                TotalLen::Is(n) => n,
                TotalLen::IntoTransport(n) => u16::from(self.ihl) * 4 + n,
            };
            frame[ip + 2..ip + 4].copy_from_slice(&len.to_be_bytes());
        }
        let frag =
            (u16::from(self.df) << 14) | (u16::from(self.mf) << 13) | (self.frag_offset & 0x1fff);
        frame[ip + 6..ip + 8].copy_from_slice(&frag.to_be_bytes());
        if let (Some(l4), true) = (layout.l4, l4_ports) {
            let at = if self.protocol == 6 { 16 } else { 6 };
            let udp = self.protocol == 17;
            let sum =
                |frame: &[u8], dst| l4_checksum(self.src, dst, self.protocol, &frame[l4..], at);
            let wire = |c: u16| if udp && c == 0 { 0xffff } else { c };
            if let Some((to, value)) = crafted
                && let Some(p) = layout.payload
            {
                // With the adjusting word 0, the sum s over the packet sent to `to`; the word
                // !value + !s (one's complement) brings the sum to !value, whose checksum is
                // `value`.
                frame[p..p + 2].fill(0);
                let s = !sum(&frame, to);
                let word = fold(u32::from(!value) + u32::from(!s));
                frame[p..p + 2].copy_from_slice(&word.to_be_bytes());
            }
            let value = match self.l4_csum {
                L4Csum::Valid | L4Csum::LandsOnZeroFor(_) | L4Csum::Is(_) => {
                    wire(sum(&frame, self.dst))
                }
                L4Csum::Zero => 0,
                L4Csum::Bad => wire(sum(&frame, self.dst)).wrapping_add(1).max(1),
            };
            frame[l4 + at..l4 + at + 2].copy_from_slice(&value.to_be_bytes());
        }
        let header_end = (ip + usize::from(self.ihl.max(5)) * 4).min(frame.len());
        let mut csum = ipv4_checksum(&frame[ip..header_end]);
        if !self.ip_csum_ok {
            csum = csum.wrapping_add(1);
        }
        frame[ip + 10..ip + 12].copy_from_slice(&csum.to_be_bytes());
        frame.resize(frame.len() + usize::from(self.padding), 0);
        let l4 = layout.l4.unwrap_or(frame.len());
        match self.cut {
            Some(Cut::At(n)) => frame.truncate(usize::from(n).max(ETH_LEN)),
            Some(Cut::IntoTransport(n)) => frame.truncate(l4 + usize::from(n)),
            None => {}
        }
        frame
    }
}

/// A field value as a report shows it.
pub trait Show {
    /// The value, short.
    fn show(&self) -> String;
}

macro_rules! show_display {
    ($($t:ty),*) => { $(impl Show for $t { fn show(&self) -> String { self.to_string() } })* };
}
show_display!(u8, u16, bool, Ipv4Addr, MacAddr);

impl<T: Show> Show for Option<T> {
    fn show(&self) -> String {
        self.as_ref().map_or_else(|| "-".to_owned(), Show::show)
    }
}

impl Show for L4Csum {
    fn show(&self) -> String {
        match self {
            L4Csum::Valid => "valid".into(),
            L4Csum::Zero => "0".into(),
            L4Csum::Bad => "wrong".into(),
            L4Csum::LandsOnZeroFor(a) => format!("valid, 0 once the destination is {a}"),
            L4Csum::Is(v) => format!("valid, 0x{v:04x}"),
        }
    }
}

impl Show for Cut {
    fn show(&self) -> String {
        match self {
            Cut::At(n) => format!("after {n} bytes"),
            Cut::IntoTransport(n) => format!("after {n} bytes of transport header"),
        }
    }
}

impl Show for TotalLen {
    fn show(&self) -> String {
        match self {
            TotalLen::Is(n) => n.to_string(),
            TotalLen::IntoTransport(n) => format!("IHL × 4 + {n}"),
        }
    }
}

impl Show for OptFill {
    fn show(&self) -> String {
        match self {
            OptFill::Nop => "NOP".into(),
            OptFill::Zero => "end-of-options".into(),
            OptFill::Decoy(p) => format!("bytes reading as port {p}"),
        }
    }
}

/// Hex for EtherTypes.
struct Hex(u16);
impl Show for Hex {
    fn show(&self) -> String {
        format!("0x{:04x}", self.0)
    }
}

macro_rules! fields {
    ($($field:ident $(as $wrap:ident)?),* $(,)?) => {
        /// The fields shrinking resets one at a time, in this order.
        pub const FIELDS: &[&str] = &[$(stringify!($field)),*];

        impl FrameSpec {
            /// Sets field `i` ([`FIELDS`]) to its value in `canonical`.
            pub fn reset(&mut self, i: usize, canonical: &Self) {
                let mut k = 0;
                $(
                    if k == i { self.$field = canonical.$field.clone(); }
                    k += 1;
                )*
                let _ = k;
            }

            /// The fields whose value differs from `canonical`: (name, this value, canonical).
            pub fn differences(&self, canonical: &Self) -> Vec<(&'static str, String, String)> {
                let mut out = Vec::new();
                $(
                    if self.$field != canonical.$field {
                        out.push((
                            stringify!($field),
                            fields!(@show self.$field $(, $wrap)?),
                            fields!(@show canonical.$field $(, $wrap)?),
                        ));
                    }
                )*
                out
            }
        }
    };
    (@show $e:expr) => { $e.show() };
    (@show $e:expr, $wrap:ident) => { $wrap($e).show() };
}

fields!(
    eth_src,
    eth_dst,
    ethertype as Hex,
    version,
    ihl,
    options,
    tos,
    total_len,
    df,
    mf,
    frag_offset,
    ttl,
    protocol,
    ip_csum_ok,
    src,
    dst,
    sport,
    dport,
    tcp_flags,
    tcp_option_words,
    tcp_doff,
    udp_len,
    icmp_type,
    l4_csum,
    payload_len,
    padding,
    cut,
);

impl fmt::Display for FrameSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&traffic::decode(&self.build()).to_string())
    }
}
