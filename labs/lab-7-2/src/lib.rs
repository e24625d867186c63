//! Lab 7.2, DDoS mitigation: the contract in README.md, as checks.
//!
//! Most checks are floods ([`harness::Flood`]): hundreds or thousands of frames sent as fast
//! as the target takes them, judged by how many passed. Where the contract depends on time
//! (token refill, 1-second windows) the bounds are derived from the elapsed time the harness
//! measures, never assumed. Each check uses source addresses of its own, because the checks of
//! a part share one loaded program and its per-source state.
//!
//! Frames go from the client (02:00:00:00:00:01) to the program's interface
//! (02:00:00:00:00:02), to 203.0.113.1.

mod cookie;
mod guard;
mod rate;

use std::net::Ipv4Addr;

use harness::{
    Expect, Lab, Part, Verdict, Volley,
    topology::{CLIENT_MAC, DUT_MAC, TopologySpec},
};
use traffic::FrameBuilder;

/// The lab's id.
pub const ID: &str = "7.2";

/// The counter map every lab 7.2 program has.
const STATS: &str = "stats";
/// Where every crafted frame goes.
const DST: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const SPORT: u16 = 40000;
const DPORT: u16 = 80;

/// TCP flag bits, as on the wire.
mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// The lab with all its parts. Its frames do not vary with `seed` yet.
pub fn lab(seed: u64) -> Lab {
    let _ = seed;
    Lab {
        id: ID,
        title: "DDoS mitigation",
        reference: reference::lab_7_2,
        parts: vec![
            part("rate_limiter", rate::checks(), TopologySpec::pair()),
            part("syn_guard", guard::syn_checks(), TopologySpec::pair()),
            part("ddos_guard", guard::ddos_checks(), TopologySpec::pair()),
            part("syn_cookie", cookie::checks(), cookie::topology()).requires(&[
                harness::kernel::Helper::TCP_RAW_GEN_SYNCOOKIE_IPV4,
                harness::kernel::Helper::TCP_RAW_CHECK_SYNCOOKIE_IPV4,
            ]),
        ],
        environment: Some(cookie::topology),
    }
}

fn part(program: &'static str, checks: Vec<harness::Check>, topology: TopologySpec) -> Part {
    Part {
        program,
        counters: Some(STATS),
        checks,
        topology,
        setup: None,
        requires: &[],
    }
}
fn eth() -> FrameBuilder {
    FrameBuilder::ethernet(CLIENT_MAC, DUT_MAC)
}

fn udp(src: Ipv4Addr) -> FrameBuilder {
    eth().ipv4(src, DST).udp(SPORT, 9).payload(b"xdplab")
}

fn tcp(src: Ipv4Addr, flags: u8) -> FrameBuilder {
    eth()
        .ipv4(src, DST)
        .tcp(SPORT, DPORT)
        .tcp_flags(flags)
        .payload(b"xdplab")
}

fn syn(src: Ipv4Addr) -> FrameBuilder {
    tcp(src, flags::SYN)
}

/// An ARP request whose sender address makes frame `i` unique (ARP carries no tag).
fn arp(i: usize) -> FrameBuilder {
    let sender = Ipv4Addr::new(10, 200, (i >> 8) as u8, i as u8);
    eth().arp_request(sender, DST)
}

fn ipv6() -> FrameBuilder {
    eth()
        .ipv6("fd00::1".parse().unwrap(), "fd00::9".parse().unwrap())
        .udp(SPORT, 9)
        .payload(b"xdplab")
}

/// Adds groups of `n` ARP, IPv6 and IPv4-cut-inside-its-header frames (from `cut_src`), all of
/// which must pass: none of them is IPv4 in the contract's sense.
fn non_ipv4_groups(volley: Volley, n: usize, cut_src: Ipv4Addr) -> Volley {
    volley
        .group("arp", n, arp, Expect::All(Verdict::Pass))
        .group("ipv6", n, |_| ipv6(), Expect::All(Verdict::Pass))
        .group(
            format!("ipv4 from {cut_src} cut at 24 bytes"),
            n,
            move |_| udp(cut_src).truncate(24),
            Expect::All(Verdict::Pass),
        )
}
