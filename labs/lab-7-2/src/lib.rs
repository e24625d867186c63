//! Lab 7.2, DDoS mitigation: the contract in README.md, as checks.
//!
//! Most checks are floods ([`harness::Flood`]): hundreds or thousands of frames sent as fast
//! as the target takes them, judged by how many passed. Where the contract depends on time
//! (token refill, 1-second windows) the bounds are derived from the elapsed time the harness
//! measures, never assumed. Each check uses source addresses of its own, because the checks of
//! a part share one loaded program and its per-source state.
//!
//! Frames go from the client (02:00:00:00:00:01) to the program's interface
//! (02:00:00:00:00:02), to addresses in 203.0.113.0/24. Every rule is keyed on the source
//! address, so everything else varies from frame to frame (`Free`).

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod bucket;
mod cookie;
pub mod differential;
mod guard;
mod rate;

use std::net::Ipv4Addr;

use harness::{
    Expect, Lab, Part, PartId, Volley,
    vary::{CLIENT_PORTS, Cycle, Vary},
};
use kernel::{
    Verdict,
    topology::{CLIENT_MAC, DUT_MAC, TopologySpec},
};
use traffic::FrameBuilder;

/// The lab's id.
pub const ID: &str = "7.2";

/// TCP flag bits, as on the wire.
use traffic::header::TcpFlags as flags;

/// The counter map every lab 7.2 program has.
const STATS: &str = "stats";

/// The `stats` entries by what the contract counts in them (each part's rules in README.md);
/// reports show them as the contract writes them, `stats[N]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stat {
    /// `rate_limiter`, `syn_guard`: stats[0], dropped.
    Dropped,
    /// `rate_limiter`, `syn_guard`, `ddos_guard`: stats[1], passed.
    Passed,
    /// `ddos_guard`: stats[0], IPv4 packets seen.
    Seen,
    /// `ddos_guard`: stats[2], dropped by the rate limit.
    RateLimited,
    /// `ddos_guard`: stats[3], dropped as SYN flood.
    SynFlood,
    /// `ddos_guard`: stats[4], dropped by the blocklist.
    Blocklisted,
    /// `syn_cookie`: stats[0], SYNs answered with a SYN-ACK.
    SynAck,
    /// `syn_cookie`: stats[1], bare ACKs whose cookie the kernel accepts.
    CookieAccepted,
    /// `syn_cookie`: stats[2], other bare ACKs, dropped.
    AckDropped,
}

impl From<Stat> for u32 {
    fn from(stat: Stat) -> u32 {
        match stat {
            Stat::Dropped | Stat::Seen | Stat::SynAck => 0,
            Stat::Passed | Stat::CookieAccepted => 1,
            Stat::RateLimited | Stat::AckDropped => 2,
            Stat::SynFlood => 3,
            Stat::Blocklisted => 4,
        }
    }
}

/// The lab with all its parts, the fields no rule reads varied by `seed` (0: the canonical
/// frames).
pub fn lab(seed: u64) -> Lab {
    let f = Free::new(seed);
    let mut lab = Lab {
        id: ID,
        title: "DDoS mitigation",
        contract: include_str!("../README.md"),
        reference: reference::lab_7_2,
        parts: vec![
            part(RATE_LIMITER, rate::checks(&f), TopologySpec::pair()),
            part(SYN_GUARD, guard::syn_checks(&f), TopologySpec::pair()),
            part(DDOS_GUARD, guard::ddos_checks(&f), TopologySpec::pair()),
            part(SYN_COOKIE, cookie::checks(&f), cookie::topology()).requires(&[
                kernel::host::Helper::TCP_RAW_GEN_SYNCOOKIE_IPV4,
                kernel::host::Helper::TCP_RAW_CHECK_SYNCOOKIE_IPV4,
            ]),
        ],
        environment: Some(cookie::topology),
    };
    differential::add(&mut lab.parts, seed);
    lab
}

/// `rate_limiter`.
const RATE_LIMITER: PartId = PartId::new(ID, "rate_limiter");
/// `syn_guard`.
const SYN_GUARD: PartId = PartId::new(ID, "syn_guard");
/// `ddos_guard`.
const DDOS_GUARD: PartId = PartId::new(ID, "ddos_guard");
/// `syn_cookie`.
const SYN_COOKIE: PartId = PartId::new(ID, "syn_cookie");

fn part(id: PartId, checks: Vec<harness::Check>, topology: TopologySpec) -> Part {
    Part {
        program: id.program,
        counters: Some(STATS),
        checks,
        topology,
        setup: None,
        requires: &[],
        points: None,
    }
}

fn eth() -> FrameBuilder {
    FrameBuilder::ethernet(CLIENT_MAC, DUT_MAC)
}

/// The fields no rule of this lab reads, different from frame to frame: every rule is keyed
/// on the source address, so a source's frames go to varied destinations and ports with
/// varied payloads. Under seed 0 they go round fixed lists; a seed draws them (and the /24
/// each part's sources come from) at random.
pub(crate) struct Free {
    vary: Vary,
    dsts: Cycle<Ipv4Addr>,
    sports: Cycle<u16>,
    dports: Cycle<u16>,
    /// Whether a TCP segment has the don't-fragment flag (a real stack sets it).
    dont_fragment: Cycle<bool>,
}

impl Free {
    fn new(seed: u64) -> Self {
        Self {
            vary: Vary::new(seed),
            dsts: Cycle::new([
                Ipv4Addr::new(203, 0, 113, 1),
                Ipv4Addr::new(203, 0, 113, 77),
                Ipv4Addr::new(203, 0, 113, 200),
            ]),
            sports: Cycle::new(CLIENT_PORTS),
            dports: Cycle::new([80, 443, 8080, 53]),
            dont_fragment: Cycle::new([false, true]),
        }
    }

    /// The third byte of a part's sources: `canonical` under seed 0, else drawn.
    fn net(&self, canonical: u8) -> u8 {
        self.vary.fixed(canonical, |rng| rng.u8(..))
    }

    /// A destination (never an address of the lab's own network, so no stack answers).
    fn dst(&self) -> Ipv4Addr {
        self.vary
            .pick(&self.dsts, |rng| Ipv4Addr::new(203, 0, 113, rng.u8(1..255)))
    }
    fn sport(&self) -> u16 {
        self.vary.port(&self.sports, &[])
    }
    fn dport(&self) -> u16 {
        self.vary.pick(&self.dports, |rng| rng.u16(1..))
    }

    fn udp(&self, src: Ipv4Addr) -> FrameBuilder {
        eth()
            .ipv4(src, self.dst())
            .udp(self.sport(), self.dport())
            .payload(&self.vary.payload())
    }

    /// A TCP segment, don't-fragment set on every other one (a program that reads the
    /// fragment offset without byte order takes DF for an offset).
    fn tcp(&self, src: Ipv4Addr, flags: u8) -> FrameBuilder {
        let segment = eth()
            .ipv4(src, self.dst())
            .tcp(self.sport(), self.dport())
            .tcp_flags(flags)
            .payload(&self.vary.payload());
        let df = self
            .vary
            .pick(&self.dont_fragment, harness::vary::Rng::bool);
        if df { segment.dont_fragment() } else { segment }
    }

    fn syn(&self, src: Ipv4Addr) -> FrameBuilder {
        self.tcp(src, flags::SYN)
    }

    /// IPv4 packet `i` of a flood that is not about SYNs: UDP, a TCP ACK, ICMP, a UDP packet
    /// with IHL 4 (IPv4 without a transport header), an IPv4 header alone and a UDP fragment
    /// past offset 0 (middle and last in turn) in turn, each of which costs a token.
    fn packet(&self, src: Ipv4Addr, i: usize) -> FrameBuilder {
        match i % 6 {
            0 => self.udp(src),
            1 => self.tcp(src, flags::ACK),
            2 => eth()
                .ipv4(src, self.dst())
                .icmp_echo(7, i as u16)
                .payload(&self.vary.payload()),
            3 => self.udp(src).ihl(4),
            4 => self.header_only(src),
            _ => self.udp(src).fragment(8, (i / 6).is_multiple_of(2)),
        }
    }

    /// The shortest IPv4 packet: a 20-byte header and nothing after it (protocol 59, "no next
    /// header"), a 34-byte frame. A program that wants one byte past the header misses it.
    fn header_only(&self, src: Ipv4Addr) -> FrameBuilder {
        eth()
            .ipv4(src, self.dst())
            .ip_protocol(59)
            .ip_datagram_len(20)
    }

    /// SYN `i` of a run: plain, exactly 54 bytes (its 20-byte TCP header ends the datagram
    /// and the frame, so a program that wants one byte more misses it) and a first fragment
    /// (offset 0, more fragments set: the header is there) in turn.
    fn complete_syn(&self, src: Ipv4Addr, i: usize) -> FrameBuilder {
        match i % 3 {
            0 => self.syn(src),
            1 => self.syn(src).ip_datagram_len(40),
            _ => self.syn(src).fragment(0, true),
        }
    }

    fn ipv6(&self) -> FrameBuilder {
        eth()
            .ipv6("fd00::1".parse().unwrap(), "fd00::9".parse().unwrap())
            .udp(self.sport(), self.dport())
            .payload(&self.vary.payload())
    }

    /// Adds groups of `n` ARP, IPv6 and IPv4-cut-inside-its-header frames (from `cut_src`),
    /// all of which must pass: none of them is IPv4 in the contract's sense.
    fn non_ipv4_groups(&self, volley: Volley, n: usize, cut_src: Ipv4Addr) -> Volley {
        volley
            .group("arp", n, arp, Expect::All(Verdict::Pass))
            .group("ipv6", n, |_| self.ipv6(), Expect::All(Verdict::Pass))
            .group(
                format!("ipv4 from {cut_src} cut at 24 bytes"),
                n,
                |_| self.udp(cut_src).truncate(24),
                Expect::All(Verdict::Pass),
            )
    }
}

/// `frames` built, and the same frames from `other`: two sources' packets for
/// [`harness::cpus::counts_from_2_cpus_apart`], which keeps the CPUs on different sources'
/// state.
fn twins(frames: Vec<FrameBuilder>, other: Ipv4Addr) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let twins = frames
        .iter()
        .map(|b| b.clone().ipv4_src(other).build())
        .collect();
    (frames.iter().map(FrameBuilder::build).collect(), twins)
}

/// An ARP request whose sender address makes frame `i` unique (ARP carries no tag).
fn arp(i: usize) -> FrameBuilder {
    let sender = Ipv4Addr::new(10, 200, (i >> 8) as u8, i as u8);
    eth().arp_request(sender, Ipv4Addr::new(203, 0, 113, 1))
}
