//! Lab 7.1 reference object: three XDP filters (section `xdp`) sharing one `stats` map.
//!
//! - `ip_filter`: source 10.0.0.1 or 192.168.1.100 -> DROP, stats[0]; else PASS, stats[1].
//! - `port_filter`: TCP or UDP to port 22, 23 or 3389 with the first 8 transport bytes present
//!   -> DROP, stats[0]; else PASS, stats[1].
//! - `firewall`, first match wins: ICMP -> DROP, stats[0]; source 10.0.0.1 -> DROP, stats[1];
//!   TCP or UDP to port 22 or 80 with the first 4 transport bytes present -> DROP, stats[2];
//!   else PASS, stats[3].
//!
//! Non-IPv4 and truncated frames are "else" everywhere: PASS, never ABORTED.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

use aya_ebpf::{
    bindings::xdp_action::{XDP_DROP, XDP_PASS},
    btf_maps::PerCpuArray,
    macros::{btf_map, xdp},
    programs::XdpContext,
};
use xdplab_programs::{Frame, IPPROTO_ICMP, Ports, ipv4, tcp_udp_ports};

/// Packet counters, u32 bucket -> u64 count; each program documents its buckets. Maps are found
/// by name, so the object calls it `stats` (bpf-linker names the BTF variable after the symbol).
#[btf_map(name = "stats")]
static STATS: PerCpuArray<u64, 4> = PerCpuArray::new();

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

/// Counts the packet in `bucket` and returns `action`.
#[inline(always)]
fn count(bucket: u32, action: u32) -> u32 {
    if let Some(n) = STATS.get_ptr_mut(bucket) {
        // SAFETY: a per-CPU slot; nothing else on this CPU runs while the program does.
        unsafe { *n += 1 };
    }
    action
}

#[xdp]
pub fn ip_filter(ctx: XdpContext) -> u32 {
    let frame = Frame::new(&ctx);
    match ipv4(&frame) {
        Some(ip) if matches!(ip.src, [10, 0, 0, 1] | [192, 168, 1, 100]) => count(0, XDP_DROP),
        _ => count(1, XDP_PASS),
    }
}

#[xdp]
pub fn port_filter(ctx: XdpContext) -> u32 {
    let frame = Frame::new(&ctx);
    match ipv4(&frame).and_then(|ip| tcp_udp_ports::<8>(&frame, ip)) {
        Some(Ports {
            dst: 22 | 23 | 3389,
            ..
        }) => count(0, XDP_DROP),
        _ => count(1, XDP_PASS),
    }
}

#[xdp]
pub fn firewall(ctx: XdpContext) -> u32 {
    let frame = Frame::new(&ctx);
    let Some(ip) = ipv4(&frame) else {
        return count(3, XDP_PASS);
    };
    if ip.protocol == IPPROTO_ICMP {
        return count(0, XDP_DROP);
    }
    if ip.src == [10, 0, 0, 1] {
        return count(1, XDP_DROP);
    }
    if let Some(Ports { dst: 22 | 80, .. }) = tcp_udp_ports::<4>(&frame, ip) {
        return count(2, XDP_DROP);
    }
    count(3, XDP_PASS)
}

/// The host build has nothing to run; the programs exist only in the eBPF object.
#[cfg(not(target_arch = "bpf"))]
fn main() {}
