//! The harness's own XDP program: passes everything. The harness attaches it to the peers of the
//! interface under test, because in native mode a veth delivers XDP_TX and XDP_REDIRECT frames
//! only to a peer that runs XDP itself.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

use aya_ebpf::{bindings::xdp_action::XDP_PASS, macros::xdp, programs::XdpContext};
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

#[cfg(not(target_arch = "bpf"))]
fn main() {}
