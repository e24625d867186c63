//! Frame parsing shared by the reference XDP programs of every lab.
//!
//! Programs wrap their context in a [`Frame`] and ask it for headers. Every read is checked
//! against `data_end` in the form the verifier accepts (a pointer plus a length compared with the
//! end, then a read through that same pointer), so callers never touch packet memory directly.
//! Multi-byte fields stay byte arrays in network order; callers convert where they compare.
//!
//! On the host the crate builds with std and no programs, so these helpers have unit tests.
#![cfg_attr(target_arch = "bpf", no_std)]

use core::marker::PhantomData;

/// The one panic handler of every program object (each links this crate). The verifier
/// rejects any path that could reach it, so it never runs.
#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

use aya_ebpf::programs::XdpContext;

/// Length of an untagged Ethernet II header.
pub const ETH_HDR_LEN: usize = 14;
/// EtherType of IPv4.
pub const ETH_P_IP: u16 = 0x0800;
/// Length of an IPv4 header without options.
pub const IPV4_HDR_LEN: usize = 20;
/// IPv4 protocol number of ICMP.
pub const IPPROTO_ICMP: u8 = 1;
/// IPv4 protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IPv4 protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;

/// Marks types that can be read in place from packet memory.
///
/// # Safety
///
/// Implementors must have alignment 1, no padding and no invalid bit patterns, so a reference to
/// any in-bounds packet byte is a valid reference to them.
pub unsafe trait Plain {}

// SAFETY: alignment 1, every bit pattern valid.
unsafe impl Plain for u8 {}
// SAFETY: alignment 1, every bit pattern valid.
unsafe impl<const N: usize> Plain for [u8; N] {}

/// The bytes an XDP program sees: from the context's `data` up to `data_end`.
#[derive(Clone, Copy)]
pub struct Frame<'a> {
    start: usize,
    end: usize,
    _bytes: PhantomData<&'a [u8]>,
}

impl<'a> Frame<'a> {
    /// The frame of an XDP context, as the kernel describes it.
    #[inline(always)]
    pub fn new(ctx: &'a XdpContext) -> Self {
        Self {
            start: ctx.data(),
            end: ctx.data_end(),
            _bytes: PhantomData,
        }
    }

    /// A frame over ordinary memory, for tests on the host.
    #[inline(always)]
    pub fn from_bytes(bytes: &'a [u8]) -> Self {
        let start = bytes.as_ptr() as usize;
        Self {
            start,
            end: start + bytes.len(),
            _bytes: PhantomData,
        }
    }

    /// The `T` at `offset`, or `None` when the frame ends before the last byte of it.
    #[inline(always)]
    pub fn get<T: Plain>(&self, offset: usize) -> Option<&'a T> {
        let at = self.start + offset;
        if at + size_of::<T>() > self.end {
            return None;
        }
        // SAFETY: `at..at + size_of::<T>()` lies inside the frame, which outlives 'a, and `T` is
        // `Plain`: alignment 1 and valid for any bytes.
        Some(unsafe { &*(at as *const T) })
    }
}

/// The fixed 20 bytes of an IPv4 header, in place in the frame (network byte order).
#[repr(C)]
pub struct Ipv4Hdr {
    pub version_ihl: u8,
    pub tos: u8,
    pub total_len: [u8; 2],
    pub id: [u8; 2],
    pub frag_off: [u8; 2],
    pub ttl: u8,
    pub protocol: u8,
    pub check: [u8; 2],
    pub src: [u8; 4],
    pub dst: [u8; 4],
}

const _: () = assert!(size_of::<Ipv4Hdr>() == IPV4_HDR_LEN && align_of::<Ipv4Hdr>() == 1);

// SAFETY: only u8 and u8 arrays, so alignment 1, no padding, every bit pattern valid.
unsafe impl Plain for Ipv4Hdr {}

impl Ipv4Hdr {
    /// Header length in 32-bit words (the low nibble of the first byte).
    #[inline(always)]
    pub fn ihl(&self) -> u8 {
        self.version_ihl & 0x0f
    }

    /// Frame offset of the transport header: 14 + IHL*4, or `None` when IHL is below 5 (then there
    /// is no transport header).
    #[inline(always)]
    pub fn transport_offset(&self) -> Option<usize> {
        let ihl = self.ihl();
        (ihl >= 5).then(|| ETH_HDR_LEN + usize::from(ihl) * 4)
    }

    /// Where this fragment's data sits in its datagram, in 8-byte units: 0 for the first (or
    /// only) fragment, the one that carries the transport header.
    #[inline(always)]
    pub fn fragment_offset(&self) -> u16 {
        u16::from_be_bytes(self.frag_off) & 0x1fff
    }

    /// The IPv4 total length: the datagram ends there, whatever follows it in the frame
    /// (Ethernet pads short frames to 60 bytes).
    #[inline(always)]
    pub fn total_len(&self) -> usize {
        usize::from(u16::from_be_bytes(self.total_len))
    }
}

/// The IPv4 header of an untagged Ethernet II frame: EtherType 0x0800 at offset 12 and all 20
/// header bytes present. `None` for anything else (other EtherTypes, VLAN tags, truncated frames).
/// Version and checksum are not looked at; [`tcp_udp_ports`] looks at the lengths and the
/// fragment offset.
#[inline(always)]
pub fn ipv4<'a>(frame: &Frame<'a>) -> Option<&'a Ipv4Hdr> {
    let ethertype: &[u8; 2] = frame.get(12)?;
    if u16::from_be_bytes(*ethertype) != ETH_P_IP {
        return None;
    }
    frame.get(ETH_HDR_LEN)
}

/// Source and destination port of a TCP or UDP header, in host order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub src: u16,
    pub dst: u16,
}

/// The ports of a TCP or UDP packet whose transport header has at least its first `N` bytes
/// present (`N >= 4`; both headers start with source then destination port): in the frame and
/// inside the IPv4 total length. `None` for other protocols, for IHL below 5, for a fragment
/// other than the first (its data continues another fragment's) and when fewer than `N` bytes
/// follow the IPv4 header and options.
#[inline(always)]
pub fn tcp_udp_ports<const N: usize>(frame: &Frame<'_>, ip: &Ipv4Hdr) -> Option<Ports> {
    const { assert!(N >= 4, "the ports are the first 4 bytes") };
    if !matches!(ip.protocol, IPPROTO_TCP | IPPROTO_UDP) || ip.fragment_offset() != 0 {
        return None;
    }
    let at = ip.transport_offset()?;
    if at - ETH_HDR_LEN + N > ip.total_len() {
        return None;
    }
    let header: &[u8; N] = frame.get(at)?;
    Some(Ports {
        src: u16::from_be_bytes([header[0], header[1]]),
        dst: u16::from_be_bytes([header[2], header[3]]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet + IPv4 (with `options` extra header words) + 8 transport bytes.
    fn frame(ethertype: u16, ihl: u8, protocol: u8, options: usize) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend(ethertype.to_be_bytes());
        let mut ip = vec![0u8; 20 + options * 4];
        let total = (ip.len() + 8) as u16;
        ip[0] = 0x40 | ihl;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[9] = protocol;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[192, 168, 1, 100]);
        f.extend(ip);
        f.extend([0x30, 0x39, 0x00, 0x16, 0, 0, 0, 0]); // 12345 -> 22
        f
    }

    #[test]
    fn ipv4_needs_ethertype_and_20_bytes() {
        let f = frame(ETH_P_IP, 5, IPPROTO_TCP, 0);
        let ip = ipv4(&Frame::from_bytes(&f)).expect("IPv4");
        assert_eq!(ip.src, [10, 0, 0, 1]);
        assert_eq!(ip.dst, [192, 168, 1, 100]);
        assert!(ipv4(&Frame::from_bytes(&f[..33])).is_none());
        assert!(ipv4(&Frame::from_bytes(&f[..34])).is_some());
        assert!(ipv4(&Frame::from_bytes(&frame(0x86dd, 5, IPPROTO_TCP, 0))).is_none());
        assert!(ipv4(&Frame::from_bytes(&frame(0x8100, 5, IPPROTO_TCP, 0))).is_none());
        assert!(ipv4(&Frame::from_bytes(&f[..10])).is_none());
    }

    #[test]
    fn ports_honour_ihl_and_length() {
        let ports = Some(Ports {
            src: 12345,
            dst: 22,
        });
        for (ihl, options) in [(5, 0), (6, 1), (15, 10)] {
            for protocol in [IPPROTO_TCP, IPPROTO_UDP] {
                let f = frame(ETH_P_IP, ihl, protocol, options);
                let end = 14 + usize::from(ihl) * 4;
                let ports_of = |len: usize, n8: bool| {
                    let fr = Frame::from_bytes(&f[..len]);
                    let ip = ipv4(&fr).unwrap();
                    if n8 {
                        tcp_udp_ports::<8>(&fr, ip)
                    } else {
                        tcp_udp_ports::<4>(&fr, ip)
                    }
                };
                assert_eq!(ports_of(end + 8, true), ports);
                assert_eq!(ports_of(end + 7, true), None);
                assert_eq!(ports_of(end + 4, false), ports);
                assert_eq!(ports_of(end + 3, false), None);
            }
        }
        // The total length ends the datagram; a later fragment has no transport header.
        let mut padded = frame(ETH_P_IP, 5, IPPROTO_UDP, 0);
        padded[16..18].copy_from_slice(&26u16.to_be_bytes()); // 6 bytes of UDP header
        let fr = Frame::from_bytes(&padded);
        assert_eq!(tcp_udp_ports::<8>(&fr, ipv4(&fr).unwrap()), None);
        assert_eq!(tcp_udp_ports::<4>(&fr, ipv4(&fr).unwrap()), ports);
        for (flags_offset, first) in [(0x2000u16, true), (0x2001, false), (0x0001, false)] {
            let mut f = frame(ETH_P_IP, 5, IPPROTO_TCP, 0);
            f[20..22].copy_from_slice(&flags_offset.to_be_bytes());
            let fr = Frame::from_bytes(&f);
            let got = tcp_udp_ports::<8>(&fr, ipv4(&fr).unwrap());
            assert_eq!(got.is_some(), first, "flags and offset {flags_offset:#06x}");
        }
        let icmp = frame(ETH_P_IP, 5, IPPROTO_ICMP, 0);
        let fr = Frame::from_bytes(&icmp);
        assert_eq!(tcp_udp_ports::<4>(&fr, ipv4(&fr).unwrap()), None);
        for ihl in 0..5 {
            let f = frame(ETH_P_IP, ihl, IPPROTO_TCP, 0);
            let fr = Frame::from_bytes(&f);
            assert_eq!(
                tcp_udp_ports::<4>(&fr, ipv4(&fr).unwrap()),
                None,
                "IHL {ihl}"
            );
        }
    }
}
