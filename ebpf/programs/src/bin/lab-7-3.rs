//! Lab 7.3 reference object: an L4 load balancer for the VIP 192.168.1.100, four ways.
//!
//! - `lb_round_robin`: TCP or UDP to the VIP (full transport header present) gets the next
//!   backend's IP and MAC as destination, both checksums fixed incrementally, XDP_TX.
//! - `lb_hash`: the same, with the backend a hash of the source address.
//! - `lb_redirect`: round robin, then XDP_REDIRECT through `tx_ports` to the backend's link.
//! - `lb_dsr`: direct server return: hash of the source picks the backend; only the MACs change
//!   (destination: the backend's; source: the LB's own, i.e. the frame's old destination).
//!
//! Each counts a balanced packet in stats[0] and in backend_stats[backend]. Everything else
//! (other versions than 4, later fragments, headers cut short by the frame or by the IPv4
//! total length) passes untouched.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]
// The BPF target lacks compare-and-swap, so core hides fetch_add; the intrinsic lowers to the
// BPF atomic add (XADD) when its result is unused, which the objects' BPF v1 allows.
#![cfg_attr(target_arch = "bpf", feature(core_intrinsics))]
#![cfg_attr(target_arch = "bpf", allow(internal_features))]

use aya_ebpf::{
    bindings::xdp_action::{XDP_PASS, XDP_TX},
    btf_maps::{Array, DevMap, PerCpuArray},
    macros::{btf_map, xdp},
    programs::XdpContext,
};
// Linked for its panic handler, the one every program object shares.
use xdplab_programs as _;

/// One backend as the contract lays it out: IPv4 address (network order), MAC, padding.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Backend {
    ip: [u8; 4],
    mac: [u8; 6],
    pad: [u8; 2],
}

const BACKENDS: u32 = 3;
const VIP: [u8; 4] = [192, 168, 1, 100];
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// The backends, filled by the harness (key 0..2).
#[btf_map(name = "backends")]
static BACKEND_TABLE: Array<Backend, 3> = Array::new();

/// stats[0]: balanced packets.
#[btf_map(name = "stats")]
static STATS: PerCpuArray<u64, 4> = PerCpuArray::new();

/// backend_stats[i]: packets sent to backend i.
#[btf_map(name = "backend_stats")]
static BACKEND_STATS: PerCpuArray<u64, 3> = PerCpuArray::new();

/// Backend index -> ifindex of that backend's link, filled by the harness.
#[btf_map(name = "tx_ports")]
static TX_PORTS: DevMap<3> = DevMap::new();

/// The round-robin position, shared by all CPUs (a per-CPU one would not cycle).
#[btf_map(name = "rr_next")]
static RR_NEXT: Array<u64, 1> = Array::new();

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

/// A pointer to `len` bytes at `offset`, or `None` when the frame ends before them. The
/// comparison is on the same pointer the caller then uses, as the verifier wants.
#[inline(always)]
fn at(ctx: &XdpContext, offset: usize, len: usize) -> Option<*mut u8> {
    let p = ctx.data() + offset;
    if p + len > ctx.data_end() {
        return None;
    }
    Some(p as *mut u8)
}

/// Where the fields of a balanced packet are.
struct Vip {
    eth: *mut u8,
    ip: *mut u8,
    /// The transport checksum field (TCP or UDP).
    l4_check: *mut u8,
    udp: bool,
}

/// A TCP or UDP packet to the VIP (IPv4 version 4, not a later fragment) with its whole
/// transport header present in the frame and inside the IPv4 total length, else `None`.
#[inline(always)]
fn vip_packet(ctx: &XdpContext) -> Option<Vip> {
    let eth = at(ctx, 0, 14)?;
    // SAFETY (all reads and writes below): each pointer came from `at` with its length checked.
    if unsafe { [*eth.add(12), *eth.add(13)] } != [0x08, 0x00] {
        return None;
    }
    let ip = at(ctx, 14, 20)?;
    let dst = unsafe { [*ip.add(16), *ip.add(17), *ip.add(18), *ip.add(19)] };
    if dst != VIP {
        return None;
    }
    let version_ihl = unsafe { *ip };
    let ihl = version_ihl & 0x0f;
    if version_ihl >> 4 != 4 || ihl < 5 {
        return None;
    }
    // A fragment other than the first has no transport header.
    if u16::from_be_bytes(unsafe { [*ip.add(6), *ip.add(7)] }) & 0x1fff != 0 {
        return None;
    }
    let l4 = 14 + usize::from(ihl) * 4;
    let (udp, len, check) = match unsafe { *ip.add(9) } {
        IPPROTO_TCP => (false, 20, at(ctx, l4, 20)?.wrapping_add(16)),
        IPPROTO_UDP => (true, 8, at(ctx, l4, 8)?.wrapping_add(6)),
        _ => return None,
    };
    // The packet ends where its total length says: Ethernet padding may follow it.
    let total = usize::from(u16::from_be_bytes(unsafe { [*ip.add(2), *ip.add(3)] }));
    if usize::from(ihl) * 4 + len > total {
        return None;
    }
    Some(Vip {
        eth,
        ip,
        l4_check: check,
        udp,
    })
}

/// RFC 1624 incremental update of a checksum stored big-endian at `field` when the 4 bytes
/// `old` covered by it become `new`.
#[inline(always)]
unsafe fn csum_replace4(field: *mut u8, old: [u8; 4], new: [u8; 4]) -> u16 {
    let check = u16::from_be_bytes(unsafe { [*field, *field.add(1)] });
    let mut sum = u32::from(!check);
    sum += u32::from(!u16::from_be_bytes([old[0], old[1]]));
    sum += u32::from(!u16::from_be_bytes([old[2], old[3]]));
    sum += u32::from(u16::from_be_bytes([new[0], new[1]]));
    sum += u32::from(u16::from_be_bytes([new[2], new[3]]));
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

#[inline(always)]
unsafe fn store16(field: *mut u8, value: u16) {
    let [hi, lo] = value.to_be_bytes();
    unsafe {
        *field = hi;
        *field.add(1) = lo;
    }
}

/// Counts a balanced packet for backend `i`.
#[inline(always)]
fn count(i: u32) {
    if let Some(n) = STATS.get_ptr_mut(0) {
        // SAFETY: a per-CPU slot; nothing else on this CPU runs while the program does.
        unsafe { *n += 1 };
    }
    if let Some(n) = BACKEND_STATS.get_ptr_mut(i) {
        // SAFETY: as above.
        unsafe { *n += 1 };
    }
}

/// Adds 1 to `*p` atomically and returns the value before this packet's add. BPF v1 has no
/// fetch-and-add, so the value is read back after the add: two CPUs racing may read the same
/// value (both packets go to one backend), but no add is ever lost, so the cycle stays fair.
#[cfg(target_arch = "bpf")]
#[inline(always)]
fn fetch_add(p: *mut u64) -> u64 {
    use core::intrinsics::{AtomicOrdering, atomic_xadd};
    // SAFETY: `p` is a valid, aligned map slot for the map's lifetime.
    unsafe {
        let _ = atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(p, 1);
        core::ptr::read_volatile(p).wrapping_sub(1)
    }
}

#[cfg(not(target_arch = "bpf"))]
fn fetch_add(p: *mut u64) -> u64 {
    // SAFETY: host builds never run the programs; this only keeps them compiling.
    unsafe { core::sync::atomic::AtomicU64::from_ptr(p) }
        .fetch_add(1, core::sync::atomic::Ordering::Relaxed)
}

/// The next round-robin position (0..3).
#[inline(always)]
fn round_robin() -> u32 {
    match RR_NEXT.get_ptr_mut(0) {
        Some(p) => (fetch_add(p) % u64::from(BACKENDS)) as u32,
        None => 0,
    }
}

/// A well-mixing hash of the source address (murmur3's finaliser), so both neighbouring and
/// scattered sources spread evenly.
#[inline(always)]
fn source_hash(ip: *mut u8) -> u32 {
    // SAFETY: `ip` points at a checked 20-byte IPv4 header.
    let mut h = u32::from_be_bytes(unsafe { [*ip.add(12), *ip.add(13), *ip.add(14), *ip.add(15)] });
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h % BACKENDS
}

/// NAT-style rewrite: destination MAC and IP become backend `i`'s, checksums follow.
/// Returns false when the backend table has no entry `i`.
#[inline(always)]
fn rewrite_to(p: &Vip, i: u32) -> bool {
    let Some(b) = BACKEND_TABLE.get(i) else {
        return false;
    };
    let b = *b;
    // SAFETY: the pointers in `p` were bounds-checked by `vip_packet`.
    unsafe {
        let old = [*p.ip.add(16), *p.ip.add(17), *p.ip.add(18), *p.ip.add(19)];
        let ip_check = p.ip.add(10);
        store16(ip_check, csum_replace4(ip_check, old, b.ip));
        // The pseudo-header covers the destination address; UDP's 0 means "no checksum".
        let l4 = u16::from_be_bytes([*p.l4_check, *p.l4_check.add(1)]);
        if !(p.udp && l4 == 0) {
            let mut new = csum_replace4(p.l4_check, old, b.ip);
            if p.udp && new == 0 {
                new = 0xffff;
            }
            store16(p.l4_check, new);
        }
        for k in 0..4 {
            *p.ip.add(16 + k) = b.ip[k];
        }
        for k in 0..6 {
            *p.eth.add(k) = b.mac[k];
        }
    }
    count(i);
    true
}

/// Round robin over the backends, NAT rewrite, XDP_TX.
#[xdp]
pub fn lb_round_robin(ctx: XdpContext) -> u32 {
    match vip_packet(&ctx) {
        Some(p) if rewrite_to(&p, round_robin()) => XDP_TX,
        _ => XDP_PASS,
    }
}

/// Backend by a hash of the source address, NAT rewrite, XDP_TX.
#[xdp]
pub fn lb_hash(ctx: XdpContext) -> u32 {
    match vip_packet(&ctx) {
        Some(p) if rewrite_to(&p, source_hash(p.ip)) => XDP_TX,
        _ => XDP_PASS,
    }
}

/// Round robin, NAT rewrite, XDP_REDIRECT onto the backend's link.
#[xdp]
pub fn lb_redirect(ctx: XdpContext) -> u32 {
    let Some(p) = vip_packet(&ctx) else {
        return XDP_PASS;
    };
    let i = round_robin();
    if !rewrite_to(&p, i) {
        return XDP_PASS;
    }
    // Without a port for the backend the rewritten frame cannot go anywhere useful.
    TX_PORTS.redirect(i, 0).unwrap_or_else(|action| action)
}

/// Direct server return: backend by source hash, only the MACs change, XDP_TX.
#[xdp]
pub fn lb_dsr(ctx: XdpContext) -> u32 {
    let Some(p) = vip_packet(&ctx) else {
        return XDP_PASS;
    };
    let i = source_hash(p.ip);
    let Some(b) = BACKEND_TABLE.get(i) else {
        return XDP_PASS;
    };
    let mac = b.mac;
    // SAFETY: `p.eth` points at a checked 14-byte Ethernet header.
    unsafe {
        for (k, byte) in mac.iter().enumerate() {
            // The frame was addressed to the LB, so its old destination is the LB's own MAC.
            *p.eth.add(6 + k) = *p.eth.add(k);
            *p.eth.add(k) = *byte;
        }
    }
    count(i);
    XDP_TX
}

/// The host build has nothing to run; the programs exist only in the eBPF object.
#[cfg(not(target_arch = "bpf"))]
fn main() {}
