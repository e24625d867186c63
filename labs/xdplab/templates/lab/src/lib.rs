//! Lab 0.0, TITLE: the contract in README.md, as checks.
//!
//! The starting point `xdplab new-lab` writes: one part and one check, judged against the
//! harness's own XDP_PASS program until the lab has its reference solution. Counters go by the
//! contract's names: an enum of the `stats` entries, `impl From<Stat> for u32`, given to
//! `Probe::counts` (see lab 7.1).

use std::net::Ipv4Addr;

use harness::{Check, Lab, Part, Probe};
use kernel::{
    Verdict::Pass,
    topology::{CLIENT_MAC, DUT_MAC, TopologySpec},
};
use traffic::{FrameBuilder, Tag};

/// The lab's id.
pub const ID: &str = "0.0";

/// The lab with frames varied by `seed` (0: the canonical frames).
pub fn lab(_seed: u64) -> Lab {
    Lab {
        id: ID,
        title: "TITLE",
        contract: include_str!("../README.md"),
        // Becomes `reference::lab_0_0` once ebpf/programs/src/bin/lab-0-0.rs exists.
        reference: reference::harness_pass,
        parts: vec![Part {
            program: "xdplab_pass",
            counters: None,
            checks: vec![tcp_passes()],
            topology: TopologySpec::pair(),
            setup: None,
            requires: &[],
            points: None,
        }],
        environment: None,
    }
}

fn tcp_passes() -> Check {
    let frame = FrameBuilder::ethernet(CLIENT_MAC, DUT_MAC)
        .tag(Tag(1))
        .ipv4(Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 9))
        .tcp(40000, 8080)
        .payload(b"hello")
        .build();
    Check::new(ID, "xdplab_pass", "tcp-passes", "one TCP segment passes")
        .probe(Probe::new("tcp", frame, Pass))
}
