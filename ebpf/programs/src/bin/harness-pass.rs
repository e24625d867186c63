//! The harness's own XDP programs. `xdplab_pass` passes everything: the harness attaches it to
//! the peers of the interface under test, because in native mode a veth delivers XDP_TX and
//! XDP_REDIRECT frames only to a peer that runs XDP itself. `xdplab_drop` drops everything: the
//! floor `xdplab bench` measures programs against.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

use aya_ebpf::{
    bindings::xdp_action::{XDP_DROP, XDP_PASS},
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

#[cfg(not(target_arch = "bpf"))]
fn main() {}
