//! The harness's own XDP programs. `xdplab_pass` passes everything: the harness attaches it to
//! the peers of the interface under test, because in native mode a veth delivers XDP_TX and
//! XDP_REDIRECT frames only to a peer that runs XDP itself. `xdplab_drop` drops everything: the
//! floor `xdplab bench` measures programs against. `xdplab_syncookie_check` judges lab 7.2's
//! SYN-ACKs: run on the ACK a client would send back, it says whether the kernel accepts the
//! cookie in it.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

use aya_ebpf::{
    bindings::xdp_action::{XDP_ABORTED, XDP_DROP, XDP_PASS},
    helpers::generated::bpf_tcp_raw_check_syncookie_ipv4,
    macros::xdp,
    programs::XdpContext,
};
// Linked for its panic handler, the one every program object shares.
use xdplab_programs as _;

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

/// Passes every frame.
#[xdp]
pub fn xdplab_pass(_ctx: XdpContext) -> u32 {
    XDP_PASS
}

/// Drops every frame: the cheapest an XDP program can be.
#[xdp]
pub fn xdplab_drop(_ctx: XdpContext) -> u32 {
    XDP_DROP
}

/// For the frame Ethernet, a 20-byte IPv4 header and a 20-byte TCP header (an ACK answering a
/// SYN-ACK): PASS when `bpf_tcp_raw_check_syncookie_ipv4` accepts its ack number − 1 as a cookie
/// for its addresses and ports, DROP when it does not, ABORTED for any other frame. Test-run
/// only, by the harness; the helper needs a GPL-compatible license, which this object has.
#[xdp]
pub fn xdplab_syncookie_check(ctx: XdpContext) -> u32 {
    const IP: usize = 14;
    const TCP: usize = IP + 20;
    if ctx.data() + TCP + 20 > ctx.data_end() {
        return XDP_ABORTED;
    }
    let (ip, tcp) = ((ctx.data() + IP) as *mut _, (ctx.data() + TCP) as *mut _);
    // SAFETY: both headers lie inside the frame (checked above), 20 bytes each, the sizes the
    // helper reads.
    if unsafe { bpf_tcp_raw_check_syncookie_ipv4(ip, tcp) } == 0 {
        XDP_PASS
    } else {
        XDP_DROP
    }
}

#[cfg(not(target_arch = "bpf"))]
fn main() {}
