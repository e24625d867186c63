//! Lab 7.1, packet filter: the contract in README.md, as checks.
//!
//! Each check is a list of frames and the verdict and counter bucket the contract gives each.
//! Frames come from the client (02:00:00:00:00:01) to the program's interface
//! (02:00:00:00:00:02). What a check's rule does not look at differs from frame to frame: a
//! source rule sees its source with other destinations, ports and payloads, a port rule its
//! port from other sources. Under seed 0 those values go round fixed lists (sources 10.0.0.2,
//! 172.16.0.7, ..., destinations 10.0.0.9, ..., source ports 40000, ..., ports 8080, ...); a
//! non-zero seed draws them at random and shuffles the frames of each check, so a program
//! that matched the exact frames instead of the rules fails.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod differential;

use std::{cell::Cell, net::Ipv4Addr};

use harness::{
    Check, Hint, Lab, Part, PartId, Probe,
    vary::{CLIENT_PORTS, Cycle, Vary},
};
use kernel::{
    Verdict::{Drop, Pass},
    topology::{CLIENT_MAC, DUT_MAC, TopologySpec},
};
use traffic::{FrameBuilder, Tag};

/// The lab's id.
pub const ID: &str = "7.1";

const BLOCKED_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const BLOCKED_B: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 100);
/// 10.0.0.1 with its bytes reversed: what a filter comparing in host byte order blocks.
const SWAPPED_A: Ipv4Addr = Ipv4Addr::new(1, 0, 0, 10);
/// Ethernet (14) + IPv4 without options (20).
const L4: usize = 34;

/// The `stats` entries by what the contract counts in them (README.md, each part's rules);
/// reports show them as the contract writes them, `stats[N]`.
#[derive(Clone, Copy)]
enum Stat {
    /// `ip_filter`, `port_filter`: stats[0], dropped.
    Dropped,
    /// `ip_filter`, `port_filter`: stats[1], passed.
    Passed,
    /// `firewall`, rule 1: stats[0], ICMP.
    Icmp,
    /// `firewall`, rule 2: stats[1], from 10.0.0.1.
    Source,
    /// `firewall`, rule 3: stats[2], TCP or UDP to port 22 or 80.
    Port,
    /// `firewall`, rule 4: stats[3], everything else, passed.
    Others,
}

impl Stat {
    /// What the contract counts here, for hints.
    fn meaning(self) -> &'static str {
        match self {
            Stat::Dropped => "dropped frames",
            Stat::Passed => "passed frames",
            Stat::Icmp => "ICMP (rule 1)",
            Stat::Source => "frames from 10.0.0.1 (rule 2)",
            Stat::Port => "TCP and UDP to ports 22 and 80 (rule 3)",
            Stat::Others => "everything else, passed (rule 4)",
        }
    }

    /// The verdict of the rule that counts here.
    fn verdict(self) -> kernel::Verdict {
        match self {
            Stat::Passed | Stat::Others => Pass,
            Stat::Dropped | Stat::Icmp | Stat::Source | Stat::Port => Drop,
        }
    }
}

impl From<Stat> for u32 {
    fn from(stat: Stat) -> u32 {
        match stat {
            Stat::Dropped | Stat::Icmp => 0,
            Stat::Passed | Stat::Source => 1,
            Stat::Port => 2,
            Stat::Others => 3,
        }
    }
}

/// The lab with frames varied by `seed` (0: the canonical frames).
pub fn lab(seed: u64) -> Lab {
    let f = Frames::new(seed);
    let mut parts = vec![
        part(IP_FILTER, ip_filter(&f)),
        part(PORT_FILTER, port_filter(&f)),
        part(FIREWALL, firewall(&f)),
    ];
    for p in &mut parts {
        p.checks.push(differential::check(p.program, seed));
    }
    for check in parts.iter_mut().flat_map(|p| p.checks.iter_mut()) {
        if let Some(probes) = check.probes_mut() {
            f.vary.shuffle(probes);
        }
    }
    Lab {
        id: ID,
        title: "packet filter",
        contract: include_str!("../README.md"),
        reference: reference::lab_7_1,
        parts,
        environment: None,
    }
}

const IP_FILTER: PartId = PartId::new(ID, "ip_filter");
const PORT_FILTER: PartId = PartId::new(ID, "port_filter");
const FIREWALL: PartId = PartId::new(ID, "firewall");

fn part(id: PartId, checks: Vec<Check>) -> Part {
    Part {
        program: id.program,
        counters: Some("stats"),
        checks,
        topology: TopologySpec::pair(),
        setup: None,
        requires: &[],
        points: None,
    }
}

/// `stats` under load from two CPUs at once (see [`harness::cpus::counts_from_2_cpus`]): every
/// frame the program runs is counted once, in whichever bucket its rule gives (the other checks
/// judge the buckets).
fn from_two_cpus(part: PartId, frames: Vec<FrameBuilder>) -> Check {
    let frames: Vec<Vec<u8>> = frames.iter().map(FrameBuilder::build).collect();
    harness::cpus::counts_from_2_cpus(part.lab, part.program, "stats", frames, (1, None))
}

/// Ports no rule of any program matches, byte-swapped look-alikes included; seeded draws avoid
/// them (draws start at 1024, above 22, 23 and 80).
const RULE_PORTS: [u16; 5] = [3389, 5632, 5888, 15629, 20480];

/// Hands out tagged frame builders, so every frame can be matched to its outcome, with the
/// fields a check's rule does not look at varied from frame to frame ([`Vary`]).
struct Frames {
    vary: Vary,
    next: Cell<u16>,
    /// Sources no rule matches.
    srcs: Cycle<Ipv4Addr>,
    /// Destinations of the frames that are not about destinations.
    dsts: Cycle<Ipv4Addr>,
    /// Source ports (all ephemeral, as a client's are).
    sports: Cycle<u16>,
    /// Destination ports no rule matches.
    ports: Cycle<u16>,
}

impl Frames {
    fn new(seed: u64) -> Self {
        Frames {
            vary: Vary::new(seed),
            next: Cell::new(0),
            srcs: Cycle::new([
                Ipv4Addr::new(10, 0, 0, 2),
                Ipv4Addr::new(172, 16, 0, 7),
                Ipv4Addr::new(192, 168, 1, 10),
                Ipv4Addr::new(203, 0, 113, 5),
            ]),
            dsts: Cycle::new([
                Ipv4Addr::new(10, 0, 0, 9),
                Ipv4Addr::new(10, 0, 7, 3),
                Ipv4Addr::new(172, 31, 200, 1),
                Ipv4Addr::new(198, 51, 100, 77),
            ]),
            sports: Cycle::new(CLIENT_PORTS),
            ports: Cycle::new([8080, 443, 9000]),
        }
    }

    /// A source no rule matches.
    fn src(&self) -> Ipv4Addr {
        self.vary.pick(&self.srcs, |rng| {
            Ipv4Addr::new(172, rng.u8(16..32), rng.u8(..), rng.u8(1..255))
        })
    }
    fn dst(&self) -> Ipv4Addr {
        self.vary.pick(&self.dsts, |rng| {
            Ipv4Addr::new(10, rng.u8(1..255), rng.u8(..), rng.u8(1..255))
        })
    }
    fn sport(&self) -> u16 {
        self.vary.port(&self.sports, &RULE_PORTS)
    }
    /// A destination port no rule matches.
    fn port(&self) -> u16 {
        self.vary.port(&self.ports, &RULE_PORTS)
    }
    /// A destination whose last two bytes read as `port`: where a parser that takes the
    /// transport header at 14 + IHL*4 for an IHL of 4 finds the destination port.
    fn dst_reading_as(&self, port: u16) -> Ipv4Addr {
        let [hi, lo] = port.to_be_bytes();
        let net = self.vary.fixed(0, |rng| rng.u8(1..255));
        Ipv4Addr::new(10, net, hi, lo)
    }

    fn eth(&self) -> FrameBuilder {
        self.next.set(self.next.get() + 1);
        FrameBuilder::ethernet(CLIENT_MAC, DUT_MAC).tag(Tag(self.next.get()))
    }
    fn ip(&self, src: Ipv4Addr, dst: Ipv4Addr) -> FrameBuilder {
        self.eth().ipv4(src, dst)
    }
    fn tcp(&self, src: Ipv4Addr, sport: u16, dport: u16) -> FrameBuilder {
        self.ip(src, self.dst())
            .tcp(sport, dport)
            .payload(&self.vary.payload())
    }
    fn udp(&self, src: Ipv4Addr, sport: u16, dport: u16) -> FrameBuilder {
        self.ip(src, self.dst())
            .udp(sport, dport)
            .payload(&self.vary.payload())
    }
    fn icmp(&self, src: Ipv4Addr) -> FrameBuilder {
        self.ip(src, self.dst())
            .icmp_echo(7, 1)
            .payload(&self.vary.payload())
    }
    /// An ICMP message of type `kind` (code 0): echo reply, destination unreachable, ...
    fn icmp_of_type(&self, kind: u8) -> FrameBuilder {
        self.icmp(self.src()).icmp_type(kind)
    }
    /// IPv4 protocol `proto` whose first four bytes read as ports `port` to `port`: SCTP (132),
    /// UDP-Lite (136) and DCCP (33) do carry their ports there, but the rules name TCP and UDP.
    fn ports_of(&self, proto: u8, port: u16) -> FrameBuilder {
        let [hi, lo] = port.to_be_bytes();
        self.ip(self.src(), self.dst())
            .ip_protocol(proto)
            .payload(&[hi, lo, hi, lo, 0, 0, 0, 0, 1, 2, 3, 4])
    }
    /// GRE (protocol 47): IPv4 that is neither TCP, UDP nor ICMP.
    fn gre(&self, src: Ipv4Addr) -> FrameBuilder {
        self.ip(src, self.dst())
            .ip_protocol(47)
            .payload(&self.vary.payload())
    }
    fn arp(&self, sender: Ipv4Addr) -> FrameBuilder {
        self.eth().arp_request(sender, self.dst())
    }
    fn ipv6_tcp(&self, dport: u16) -> FrameBuilder {
        self.eth()
            .ipv6("fd00::2".parse().unwrap(), "fd00::9".parse().unwrap())
            .tcp(self.sport(), dport)
    }
    fn vlan_tcp(&self, src: Ipv4Addr, dport: u16) -> FrameBuilder {
        self.eth()
            .vlan(100)
            .ipv4(src, self.dst())
            .tcp(self.sport(), dport)
            .payload(&self.vary.payload())
    }
    /// TCP (else UDP) to `dport` with an IHL of 4, whose destination address reads as port
    /// `decoy` to a parser that takes an IHL of 4 at its word.
    fn ihl_4(&self, tcp: bool, dport: u16, decoy: u16) -> FrameBuilder {
        let b = self.ip(self.src(), self.dst_reading_as(decoy));
        let b = if tcp {
            b.tcp(self.sport(), dport)
        } else {
            b.udp(self.sport(), dport)
        };
        b.payload(&self.vary.payload()).ihl(4)
    }
}

/// The Ethernet minimum: a NIC pads shorter frames to 60 bytes (before the FCS).
const ETH_MIN: usize = 60;

/// A datagram of `ip_len` bytes (IPv4 header included) padded to Ethernet's 60 bytes with
/// `fill`: the padding belongs to no header, whatever it reads as.
fn padded(b: FrameBuilder, ip_len: usize, fill: &[u8]) -> FrameBuilder {
    b.ip_datagram_len(ip_len).pad(ETH_MIN, fill)
}

/// A later fragment (offset `offset` x 8 bytes, more to come) whose data begins with bytes that
/// read as source and destination port `port`, where a first fragment's header would be.
fn later_fragment(b: FrameBuilder, port: u16, offset: u16) -> FrameBuilder {
    let [hi, lo] = port.to_be_bytes();
    b.ip_protocol(17)
        .payload(&[hi, lo, hi, lo, 0, 16, 0, 0, 1, 2, 3, 4])
        .fragment(offset, true)
}

/// UDP to `dport` cut after each of `lens` header bytes: the port rule applies from `needed`
/// bytes on. `stats` are (passed, dropped).
fn udp_cuts(
    f: &Frames,
    dport: u16,
    needed: usize,
    lens: &[usize],
    stats: (Stat, Stat),
) -> Vec<Probe> {
    lens.iter()
        .map(|&len| {
            let stat = if len >= needed { stats.1 } else { stats.0 };
            probe(
                &format!("udp-dport-{dport}-cut-at-{len}-bytes"),
                f.udp(f.src(), f.sport(), dport).truncate(L4 + len),
                stat,
            )
        })
        .collect()
}

/// `frame` must get the verdict of the rule that counts it in `stat`, and be counted there.
fn probe(name: &str, frame: FrameBuilder, stat: Stat) -> Probe {
    Probe::new(name, frame.build(), stat.verdict()).counts(stat)
}

/// The hint for dropped look-alikes of blocked ports (their bytes swapped), frames
/// `(protocol, port)`: the ports were compared in host byte order.
fn swapped_ports(frames: &[(&str, u16)]) -> Hint {
    let rows: Vec<String> = frames
        .iter()
        .map(|(protocol, port)| format!("{protocol}-dport-{}", port.swap_bytes()))
        .collect();
    let list = |f: &dyn Fn(u16) -> String| {
        frames
            .iter()
            .map(|(_, p)| f(*p))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let port = frames[0].1;
    Hint::rows(
        rows.iter().map(String::as_str),
        Pass,
        Drop,
        format!(
            "ports {} are {} with their two bytes swapped, and at least one was dropped: \
             the header holds ports in network byte order, so compare the field with \
             `bpf_htons({port})` (or `bpf_ntohs(field)` with {port})",
            list(&|p| p.swap_bytes().to_string()),
            list(&|p| p.to_string()),
        ),
    )
}

/// The hint for a dropped look-alike of 10.0.0.1 (its bytes swapped): the address was
/// compared in host byte order.
fn swapped_address() -> Hint {
    Hint::row(
        &format!("from-{SWAPPED_A}"),
        Pass,
        Drop,
        format!(
            "{SWAPPED_A} is {BLOCKED_A} with its bytes swapped, and it was dropped: the header \
             holds addresses in network byte order, so compare `saddr` with \
             `bpf_htonl(0x0a000001)`, not with the host-order number"
        ),
    )
}

/// The hint for counts the contract puts in `stats[expected]` that went to `stats[got]`.
fn counted_in(expected: Stat, got: Stat) -> Hint {
    let (e, g) = (u32::from(expected), u32::from(got));
    Hint::counted(
        "stats",
        e,
        g,
        format!(
            "these frames were counted in stats[{g}], which counts {}; the contract counts \
             them in stats[{e}] ({})",
            got.meaning(),
            expected.meaning()
        ),
    )
}

/// IPv4 options of `words` 32-bit words whose first four bytes read, to a parser that assumes a
/// 20-byte header, as source port `decoy` and destination port `decoy`.
fn decoy_options(words: usize, decoy: u16) -> Vec<u8> {
    let mut opts = vec![0u8; words * 4];
    for chunk in opts[..4].chunks_mut(2) {
        chunk.copy_from_slice(&decoy.to_be_bytes());
    }
    opts
}

/// Frames cut at every layer boundary of a TCP frame from `src` to `dport`, up to `keep` bytes
/// of transport header (exclusive): Ethernet only, half an IPv4 header, IPv4 without transport,
/// and a few transport lengths below the rule's minimum.
fn truncations(f: &Frames, src: Ipv4Addr, dport: u16, keep: usize) -> Vec<(String, FrameBuilder)> {
    let mut cuts = vec![
        (14, "ethernet-only"),
        (24, "half-ipv4"),
        (33, "ipv4-minus-1"),
    ];
    cuts.push((L4, "ipv4-no-transport"));
    let mut out: Vec<(String, FrameBuilder)> = cuts
        .into_iter()
        .map(|(len, name)| {
            (
                format!("cut-{len}-{name}"),
                f.tcp(src, f.sport(), dport).truncate(len),
            )
        })
        .collect();
    let mut lens = vec![2, 3, keep - 1];
    lens.dedup();
    for l4 in lens {
        out.push((
            format!("cut-{}-transport-{l4}-bytes", L4 + l4),
            f.tcp(src, f.sport(), dport).truncate(L4 + l4),
        ));
    }
    out
}

/// A port rule (`port_filter`'s, `firewall`'s rule 3) and the edge cases every port rule has,
/// written once: `port` is a port it blocks, `dropped` and `passed` the stats of the frames it
/// drops and of those it lets through.
#[derive(Clone, Copy)]
struct PortRule {
    port: u16,
    dropped: Stat,
    passed: Stat,
}

impl PortRule {
    /// The transport header is found after one word of IPv4 options: TCP to the port is
    /// dropped, and options that read as the port where a 20-byte header would end are not a
    /// port.
    fn after_options(self, f: &Frames) -> [Probe; 2] {
        let port = self.port;
        [
            probe(
                &format!("ihl-6-dport-{port}"),
                f.tcp(f.src(), f.sport(), port)
                    .ip_options(&decoy_options(1, f.port())),
                self.dropped,
            ),
            probe(
                &format!("ihl-6-decoy-{port}-dport-clean"),
                f.tcp(f.src(), f.sport(), f.port())
                    .ip_options(&decoy_options(1, port)),
                self.passed,
            ),
        ]
    }

    /// TCP to `port` cut at every layer boundary before `needed` transport bytes passes; with
    /// `needed` bytes it is dropped.
    fn cut_short(self, f: &Frames, port: u16, needed: usize) -> Vec<Probe> {
        let mut probes: Vec<Probe> = truncations(f, f.src(), port, needed)
            .into_iter()
            .map(|(n, b)| probe(&n, b, self.passed))
            .collect();
        probes.push(probe(
            &format!("cut-{}-transport-{needed}-bytes", L4 + needed),
            f.tcp(f.src(), f.sport(), port).truncate(L4 + needed),
            self.dropped,
        ));
        probes
    }

    /// An IHL of 4 leaves no room for a transport header: TCP to the port passes, and so does
    /// UDP whose destination address reads as `decoy` at 14 + IHL*4.
    fn without_transport(self, f: &Frames, decoy: u16) -> [Probe; 2] {
        let port = self.port;
        [
            probe(
                &format!("ihl-4-dport-{port}-decoy-{port}"),
                f.ihl_4(true, port, port),
                self.passed,
            ),
            probe(
                &format!("ihl-4-udp-decoy-{decoy}"),
                f.ihl_4(false, f.port(), decoy),
                self.passed,
            ),
        ]
    }

    /// A first fragment to the port is dropped; a later fragment has no ports and passes, even
    /// when its data reads as the port.
    fn fragments(self, f: &Frames) -> [Probe; 2] {
        let port = self.port;
        [
            probe(
                &format!("first-fragment-tcp-dport-{port}"),
                f.tcp(f.src(), f.sport(), port).fragment(0, true),
                self.dropped,
            ),
            probe(
                &format!("later-fragment-reading-{port}"),
                later_fragment(f.ip(f.src(), f.dst()), port, 1),
                self.passed,
            ),
        ]
    }

    /// 802.1Q-tagged TCP to port 22, outside the contract: reported, not scored.
    fn vlan_tagged(self, c: impl Fn(&str, &str) -> Check, f: &Frames) -> Check {
        c(
            "vlan-tagged",
            "802.1Q-tagged TCP to port 22 (outside the contract: not scored)",
        )
        .unscored()
        .probe(probe(
            "vlan-100-dport-22",
            f.vlan_tcp(f.src(), 22),
            self.passed,
        ))
    }
}

fn ip_filter(f: &Frames) -> Vec<Check> {
    let c = |name: &str, desc: &str| IP_FILTER.check(name, desc).counting("stats");
    vec![
        c(
            "blocked-10.0.0.1",
            "TCP, UDP, ICMP and GRE from 10.0.0.1 are dropped into stats[0]",
        )
        .hint(counted_in(Stat::Dropped, Stat::Passed))
        .probes([
            probe(
                "tcp-from-10.0.0.1",
                f.tcp(BLOCKED_A, f.sport(), f.port()),
                Stat::Dropped,
            ),
            probe(
                "udp-from-10.0.0.1",
                f.udp(BLOCKED_A, f.sport(), f.port()),
                Stat::Dropped,
            ),
            probe("icmp-from-10.0.0.1", f.icmp(BLOCKED_A), Stat::Dropped),
            probe("gre-from-10.0.0.1", f.gre(BLOCKED_A), Stat::Dropped),
        ]),
        c(
            "blocked-192.168.1.100",
            "traffic from 192.168.1.100 is dropped into stats[0]",
        )
        .probes([
            probe(
                "tcp-from-192.168.1.100",
                f.tcp(BLOCKED_B, f.sport(), f.port()),
                Stat::Dropped,
            ),
            probe(
                "udp-from-192.168.1.100",
                f.udp(BLOCKED_B, f.sport(), f.port()),
                Stat::Dropped,
            ),
        ]),
        c(
            "other-sources-pass",
            "neighbouring addresses pass into stats[1]",
        )
        .probes([
            probe(
                "from-a-clean-source",
                f.tcp(f.src(), f.sport(), f.port()),
                Stat::Passed,
            ),
            probe(
                "from-10.0.0.10",
                f.tcp(Ipv4Addr::new(10, 0, 0, 10), f.sport(), f.port()),
                Stat::Passed,
            ),
            probe(
                "from-192.168.1.101",
                f.udp(Ipv4Addr::new(192, 168, 1, 101), f.sport(), 53),
                Stat::Passed,
            ),
        ]),
        c(
            "byte-swapped-lookalikes",
            "1.0.0.10 and 100.1.168.192 (byte-swapped blocked addresses) pass",
        )
        .hint(swapped_address())
        .probes([
            probe(
                "from-1.0.0.10",
                f.tcp(SWAPPED_A, f.sport(), f.port()),
                Stat::Passed,
            ),
            probe(
                "from-100.1.168.192",
                f.tcp(Ipv4Addr::new(100, 1, 168, 192), f.sport(), f.port()),
                Stat::Passed,
            ),
        ]),
        c(
            "blocked-as-destination",
            "a blocked address as destination, not source, passes",
        )
        .probes([
            probe(
                "to-10.0.0.1",
                f.ip(f.src(), BLOCKED_A).tcp(f.sport(), f.port()),
                Stat::Passed,
            ),
            probe(
                "to-192.168.1.100",
                f.ip(f.src(), BLOCKED_B).udp(f.sport(), 53),
                Stat::Passed,
            ),
        ]),
        c(
            "ip-options",
            "the source rule holds for headers with options (IHL 6 and 15)",
        )
        .probes([
            probe(
                "ihl-6-from-10.0.0.1",
                f.tcp(BLOCKED_A, f.sport(), f.port())
                    .ip_options(&[1, 1, 1, 1]),
                Stat::Dropped,
            ),
            probe(
                "ihl-15-from-192.168.1.100",
                f.udp(BLOCKED_B, f.sport(), 53).ip_options(&[1; 40]),
                Stat::Dropped,
            ),
            probe(
                "ihl-6-from-a-clean-source",
                f.tcp(f.src(), f.sport(), f.port())
                    .ip_options(&[1, 1, 1, 1]),
                Stat::Passed,
            ),
        ]),
        c(
            "non-ipv4-pass",
            "ARP (even claiming 10.0.0.1) and IPv6 pass into stats[1]",
        )
        .probes([
            probe("arp-from-10.0.0.1", f.arp(BLOCKED_A), Stat::Passed),
            probe("ipv6-tcp", f.ipv6_tcp(f.port()), Stat::Passed),
        ]),
        c(
            "truncated-pass",
            "frames from 10.0.0.1 cut before the IPv4 header is complete pass",
        )
        .probes([
            probe(
                "cut-14-ethernet-only",
                f.tcp(BLOCKED_A, f.sport(), f.port()).truncate(14),
                Stat::Passed,
            ),
            probe(
                "cut-24-half-ipv4",
                f.tcp(BLOCKED_A, f.sport(), f.port()).truncate(24),
                Stat::Passed,
            ),
            probe(
                "cut-33-ipv4-minus-1",
                f.tcp(BLOCKED_A, f.sport(), f.port()).truncate(33),
                Stat::Passed,
            ),
            probe(
                "cut-34-ipv4-complete",
                f.tcp(BLOCKED_A, f.sport(), f.port()).truncate(L4),
                Stat::Dropped,
            ),
        ]),
        c(
            "ihl-below-5",
            "an IHL below 5 leaves the source in place: 10.0.0.1 with IHL 4 or 0 is dropped",
        )
        .probes([
            probe(
                "ihl-4-from-10.0.0.1",
                f.tcp(BLOCKED_A, f.sport(), f.port()).ihl(4),
                Stat::Dropped,
            ),
            probe(
                "ihl-0-from-192.168.1.100",
                f.udp(BLOCKED_B, f.sport(), 53).ihl(0),
                Stat::Dropped,
            ),
            probe(
                "ihl-4-from-a-clean-source",
                f.tcp(f.src(), f.sport(), f.port()).ihl(4),
                Stat::Passed,
            ),
        ]),
        c(
            "fragments",
            "every fragment from 10.0.0.1, first or later, is dropped; others pass",
        )
        .probes([
            probe(
                "first-fragment-from-10.0.0.1",
                f.tcp(BLOCKED_A, f.sport(), f.port()).fragment(0, true),
                Stat::Dropped,
            ),
            probe(
                "later-fragment-from-10.0.0.1",
                later_fragment(f.ip(BLOCKED_A, f.dst()), f.port(), 185),
                Stat::Dropped,
            ),
            probe(
                "last-fragment-from-192.168.1.100",
                f.udp(BLOCKED_B, f.sport(), 53).fragment(1, false),
                Stat::Dropped,
            ),
            probe(
                "later-fragment-from-a-clean-source",
                later_fragment(f.ip(f.src(), f.dst()), f.port(), 2),
                Stat::Passed,
            ),
        ]),
        c(
            "padded",
            "short datagrams padded to 60 bytes: the source rule holds, whatever the padding",
        )
        .probes([
            probe(
                "udp-from-10.0.0.1-padded",
                padded(f.udp(BLOCKED_A, f.sport(), 53), 28, &[0]),
                Stat::Dropped,
            ),
            probe(
                "icmp-from-a-clean-source-padded-with-10.0.0.1",
                padded(f.icmp(f.src()), 28, &[10, 0, 0, 1]),
                Stat::Passed,
            ),
        ]),
        c(
            "ipv4-version",
            "EtherType 0x0800 from 10.0.0.1 with version 6 in the header (left open: not scored)",
        )
        .unscored()
        .probe(probe(
            "version-6-from-10.0.0.1",
            f.tcp(BLOCKED_A, f.sport(), f.port()).ip_version(6),
            Stat::Dropped,
        )),
        c(
            "vlan-tagged",
            "802.1Q-tagged frame from 10.0.0.1 (outside the contract: not scored)",
        )
        .unscored()
        .probe(probe(
            "vlan-100-from-10.0.0.1",
            f.vlan_tcp(BLOCKED_A, f.port()),
            Stat::Passed,
        )),
        from_two_cpus(
            IP_FILTER,
            vec![
                f.tcp(BLOCKED_A, f.sport(), f.port()),
                f.tcp(f.src(), f.sport(), f.port()),
            ],
        ),
    ]
}

fn port_filter(f: &Frames) -> Vec<Check> {
    let c = |name: &str, desc: &str| PORT_FILTER.check(name, desc).counting("stats");
    let rule = PortRule {
        port: 22,
        dropped: Stat::Dropped,
        passed: Stat::Passed,
    };
    let blocked = [22, 23, 3389];
    vec![
        c(
            "tcp-blocked-ports",
            "TCP to ports 22, 23 and 3389 is dropped into stats[0], whatever its data offset says",
        )
        .probes(blocked.map(|p| {
            probe(
                &format!("tcp-dport-{p}"),
                f.tcp(f.src(), f.sport(), p),
                Stat::Dropped,
            )
        }))
        .probes([(22, 4), (3389, 0)].map(|(p, words)| {
            probe(
                &format!("tcp-dport-{p}-data-offset-{words}"),
                f.tcp(f.src(), f.sport(), p).tcp_data_offset(words),
                Stat::Dropped,
            )
        })),
        c(
            "udp-blocked-ports",
            "UDP to ports 22, 23 and 3389 is dropped too, whatever its length field says",
        )
        .probes(blocked.map(|p| {
            probe(
                &format!("udp-dport-{p}"),
                f.udp(f.src(), f.sport(), p),
                Stat::Dropped,
            )
        }))
        .probes([(22, 0), (23, 7), (3389, u16::MAX)].map(|(p, len)| {
            probe(
                &format!("udp-dport-{p}-length-field-{len}"),
                f.udp(f.src(), f.sport(), p).udp_length(len),
                Stat::Dropped,
            )
        })),
        c("other-ports-pass", "neighbouring ports pass into stats[1]").probes([
            probe("tcp-dport-21", f.tcp(f.src(), f.sport(), 21), Stat::Passed),
            probe("tcp-dport-24", f.tcp(f.src(), f.sport(), 24), Stat::Passed),
            probe(
                "tcp-dport-2222",
                f.tcp(f.src(), f.sport(), 2222),
                Stat::Passed,
            ),
            probe(
                "tcp-dport-3390",
                f.tcp(f.src(), f.sport(), 3390),
                Stat::Passed,
            ),
            probe("udp-dport-53", f.udp(f.src(), f.sport(), 53), Stat::Passed),
        ]),
        c(
            "byte-swapped-ports",
            "ports 5632, 5888 and 15629 (22, 23, 3389 byte-swapped) pass",
        )
        .hint(swapped_ports(&[("tcp", 22), ("tcp", 23), ("tcp", 3389)]))
        .probes(blocked.map(|p: u16| {
            let swapped = p.swap_bytes();
            probe(
                &format!("tcp-dport-{swapped}"),
                f.tcp(f.src(), f.sport(), swapped),
                Stat::Passed,
            )
        })),
        c(
            "source-port-ignored",
            "port 22 or 3389 as source port, not destination, passes",
        )
        .probes([
            probe("tcp-sport-22", f.tcp(f.src(), 22, f.port()), Stat::Passed),
            probe("udp-sport-3389", f.udp(f.src(), 3389, 53), Stat::Passed),
        ]),
        c(
            "ip-options",
            "the transport header is found after IPv4 options (IHL 6 and 15)",
        )
        .probes(rule.after_options(f))
        .probes([
            probe(
                "ihl-15-udp-dport-3389",
                f.udp(f.src(), f.sport(), 3389)
                    .ip_options(&decoy_options(10, 53)),
                Stat::Dropped,
            ),
            probe(
                "ihl-15-decoy-23-dport-53",
                f.udp(f.src(), f.sport(), 53)
                    .ip_options(&decoy_options(10, 23)),
                Stat::Passed,
            ),
        ]),
        c(
            "other-protocols-pass",
            "ICMP of any type, GRE, SCTP, UDP-Lite and DCCP pass, even with 22, 23 or 3389 \
             where ports would be",
        )
        .probes([
            probe("icmp", f.icmp(f.src()), Stat::Passed),
            probe("icmp-echo-reply", f.icmp_of_type(0), Stat::Passed),
            probe("icmp-unreachable", f.icmp_of_type(3), Stat::Passed),
            probe("sctp-dport-22", f.ports_of(132, 22), Stat::Passed),
            probe("udplite-dport-23", f.ports_of(136, 23), Stat::Passed),
            probe("dccp-dport-3389", f.ports_of(33, 3389), Stat::Passed),
            probe(
                "gre-with-port-22-bytes",
                f.ip(f.src(), f.dst())
                    .ip_protocol(47)
                    .payload(&[0, 22, 0, 22, 0, 0, 0, 0]),
                Stat::Passed,
            ),
        ]),
        c(
            "truncated-pass",
            "TCP to port 22 cut before 8 transport bytes passes; 8 bytes suffice",
        )
        .probes(rule.cut_short(f, 22, 8)),
        c(
            "ihl-below-5",
            "an IHL of 4 means no transport header: port 22 passes, and so does a destination \
             address whose last bytes read as 22 or 3389 at 14 + IHL*4",
        )
        .probes(rule.without_transport(f, 3389)),
        c("non-ipv4-pass", "IPv6 TCP to port 22 and ARP pass").probes([
            probe("ipv6-tcp-dport-22", f.ipv6_tcp(22), Stat::Passed),
            probe("arp", f.arp(f.src()), Stat::Passed),
        ]),
        c(
            "udp-truncated",
            "UDP to port 23 with fewer than 8 header bytes passes; 8 bytes suffice",
        )
        .probes(udp_cuts(
            f,
            23,
            8,
            &[4, 7, 8],
            (Stat::Passed, Stat::Dropped),
        )),
        c(
            "fragments",
            "a first fragment to port 22 is dropped; a later fragment has no ports and passes",
        )
        .probes(rule.fragments(f))
        .probes([probe(
            "last-fragment-udp-header-to-3389",
            f.udp(f.src(), f.sport(), 3389).fragment(185, false),
            Stat::Passed,
        )]),
        c(
            "padded",
            "the IPv4 total length ends the datagram: padding to 60 bytes is not a header",
        )
        .probes([
            probe(
                "udp-2-header-bytes-padded-with-22",
                padded(f.udp(f.src(), f.sport(), 53), 22, &[0, 22]),
                Stat::Passed,
            ),
            probe(
                "tcp-dport-22-7-header-bytes-padded",
                padded(f.tcp(f.src(), f.sport(), 22), 27, &[0]),
                Stat::Passed,
            ),
            probe(
                "tcp-dport-22-8-header-bytes-padded",
                padded(f.tcp(f.src(), f.sport(), 22), 28, &[0]),
                Stat::Dropped,
            ),
            // 30 bytes: 24 of IPv4 header (IHL 6), 6 of TCP; a length test with 20 for the
            // header finds 10.
            probe(
                "ihl-6-tcp-dport-22-6-header-bytes-padded",
                padded(
                    f.tcp(f.src(), f.sport(), 22)
                        .ip_options(&decoy_options(1, f.port())),
                    30,
                    &[0],
                ),
                Stat::Passed,
            ),
        ]),
        rule.vlan_tagged(c, f),
        from_two_cpus(
            PORT_FILTER,
            vec![
                f.tcp(f.src(), f.sport(), 22),
                f.tcp(f.src(), f.sport(), 443),
            ],
        ),
    ]
}

fn firewall(f: &Frames) -> Vec<Check> {
    let c = |name: &str, desc: &str| FIREWALL.check(name, desc).counting("stats");
    let rule = PortRule {
        port: 80,
        dropped: Stat::Port,
        passed: Stat::Others,
    };
    vec![
        c(
            "icmp-dropped",
            "ICMP of any type is dropped into stats[0], whatever follows its IPv4 header",
        )
        .probes([
            probe("icmp-from-a-clean-source", f.icmp(f.src()), Stat::Icmp),
            probe("icmp-echo-reply", f.icmp_of_type(0), Stat::Icmp),
            probe("icmp-unreachable", f.icmp_of_type(3), Stat::Icmp),
            probe("icmp-time-exceeded", f.icmp_of_type(11), Stat::Icmp),
            probe(
                "icmp-cut-after-ipv4",
                f.icmp(f.src()).truncate(L4),
                Stat::Icmp,
            ),
            probe(
                "icmp-cut-inside-its-header",
                f.icmp(f.src()).truncate(L4 + 3),
                Stat::Icmp,
            ),
            probe("icmp-ihl-4", f.icmp(f.src()).ihl(4), Stat::Icmp),
            probe(
                "icmp-later-fragment",
                f.icmp(f.src()).fragment(3, false),
                Stat::Icmp,
            ),
        ]),
        c(
            "blocked-source",
            "TCP, UDP and GRE from 10.0.0.1 are dropped into stats[1]",
        )
        .probes([
            probe(
                "tcp-from-10.0.0.1",
                f.tcp(BLOCKED_A, f.sport(), f.port()),
                Stat::Source,
            ),
            probe(
                "udp-from-10.0.0.1",
                f.udp(BLOCKED_A, f.sport(), 53),
                Stat::Source,
            ),
            probe("gre-from-10.0.0.1", f.gre(BLOCKED_A), Stat::Source),
        ]),
        c(
            "blocked-ports",
            "TCP and UDP to ports 22 and 80 are dropped into stats[2], whatever the TCP data \
             offset or UDP length field says",
        )
        .hint(counted_in(Stat::Port, Stat::Others))
        .probes([
            probe("tcp-dport-22", f.tcp(f.src(), f.sport(), 22), Stat::Port),
            probe("tcp-dport-80", f.tcp(f.src(), f.sport(), 80), Stat::Port),
            probe("udp-dport-22", f.udp(f.src(), f.sport(), 22), Stat::Port),
            probe("udp-dport-80", f.udp(f.src(), f.sport(), 80), Stat::Port),
            probe(
                "tcp-dport-80-data-offset-4",
                f.tcp(f.src(), f.sport(), 80).tcp_data_offset(4),
                Stat::Port,
            ),
            probe(
                "udp-dport-22-length-field-0",
                f.udp(f.src(), f.sport(), 22).udp_length(0),
                Stat::Port,
            ),
            probe(
                "udp-dport-80-length-field-65535",
                f.udp(f.src(), f.sport(), 80).udp_length(u16::MAX),
                Stat::Port,
            ),
        ]),
        c(
            "others-pass",
            "everything else passes into stats[3], including ports 23 and 3389 and GRE, SCTP, \
             UDP-Lite and DCCP with 80 or 22 where ports would be",
        )
        .probes([
            probe(
                "tcp-dport-443",
                f.tcp(f.src(), f.sport(), 443),
                Stat::Others,
            ),
            probe("tcp-dport-23", f.tcp(f.src(), f.sport(), 23), Stat::Others),
            probe(
                "tcp-dport-3389",
                f.tcp(f.src(), f.sport(), 3389),
                Stat::Others,
            ),
            probe("udp-dport-53", f.udp(f.src(), f.sport(), 53), Stat::Others),
            probe(
                "gre-with-port-80-bytes",
                f.ip(f.src(), f.dst())
                    .ip_protocol(47)
                    .payload(&[0, 80, 0, 80, 0, 0, 0, 0]),
                Stat::Others,
            ),
            probe("sctp-dport-80", f.ports_of(132, 80), Stat::Others),
            probe("udplite-dport-22", f.ports_of(136, 22), Stat::Others),
            probe("dccp-dport-80", f.ports_of(33, 80), Stat::Others),
        ]),
        c(
            "first-match-wins",
            "when several rules match, the first one decides the bucket",
        )
        .probes([
            probe("icmp-from-10.0.0.1", f.icmp(BLOCKED_A), Stat::Icmp),
            probe(
                "tcp-from-10.0.0.1-dport-22",
                f.tcp(BLOCKED_A, f.sport(), 22),
                Stat::Source,
            ),
            probe(
                "udp-from-10.0.0.1-dport-80",
                f.udp(BLOCKED_A, f.sport(), 80),
                Stat::Source,
            ),
        ]),
        c(
            "byte-swapped-lookalikes",
            "1.0.0.10 and ports 5632 and 20480 (byte-swapped 22, 80) pass",
        )
        .hint(swapped_address())
        .hint(swapped_ports(&[("tcp", 22), ("udp", 80)]))
        .probes([
            probe(
                "from-1.0.0.10",
                f.tcp(SWAPPED_A, f.sport(), f.port()),
                Stat::Others,
            ),
            probe(
                "tcp-dport-5632",
                f.tcp(f.src(), f.sport(), 5632),
                Stat::Others,
            ),
            probe(
                "udp-dport-20480",
                f.udp(f.src(), f.sport(), 20480),
                Stat::Others,
            ),
        ]),
        c("blocked-as-destination", "10.0.0.1 as destination passes").probe(probe(
            "to-10.0.0.1",
            f.ip(f.src(), BLOCKED_A).tcp(f.sport(), f.port()),
            Stat::Others,
        )),
        c("source-port-ignored", "port 80 or 22 as source port passes").probes([
            probe("tcp-sport-80", f.tcp(f.src(), 80, f.port()), Stat::Others),
            probe("udp-sport-22", f.udp(f.src(), 22, 53), Stat::Others),
        ]),
        c("ip-options", "rules see past IPv4 options (IHL 6 and 15)")
            .probes(rule.after_options(f))
            .probes([
                probe(
                    "ihl-15-from-10.0.0.1",
                    f.udp(BLOCKED_A, f.sport(), 53)
                        .ip_options(&decoy_options(10, 53)),
                    Stat::Source,
                ),
                probe(
                    "ihl-15-decoy-22-dport-53",
                    f.udp(f.src(), f.sport(), 53)
                        .ip_options(&decoy_options(10, 22)),
                    Stat::Others,
                ),
            ]),
        c(
            "truncated",
            "port rule needs 4 transport bytes; shorter frames pass into stats[3]",
        )
        .probes(rule.cut_short(f, 22, 4))
        .probes(udp_cuts(f, 80, 4, &[3, 4, 6], (Stat::Others, Stat::Port))),
        c(
            "ihl-below-5",
            "an IHL of 4 means no transport header: port 80 passes, and so does a destination \
             address whose last bytes read as 80 or 22 at 14 + IHL*4",
        )
        .probes(rule.without_transport(f, 22))
        .probes([probe(
            "ihl-4-from-10.0.0.1",
            f.tcp(BLOCKED_A, f.sport(), f.port()).ihl(4),
            Stat::Source,
        )]),
        c(
            "fragments",
            "a first fragment to port 80 is dropped into stats[2]; a later one has no ports and \
             passes; the source rule holds for every fragment",
        )
        .probes(rule.fragments(f))
        .probes([probe(
            "later-fragment-from-10.0.0.1",
            later_fragment(f.ip(BLOCKED_A, f.dst()), f.port(), 9),
            Stat::Source,
        )]),
        c(
            "padded",
            "the IPv4 total length ends the datagram: padding to 60 bytes is not a header",
        )
        .probes([
            probe(
                "tcp-2-header-bytes-padded-with-80",
                padded(f.tcp(f.src(), f.sport(), f.port()), 22, &[0, 80]),
                Stat::Others,
            ),
            probe(
                "udp-dport-22-4-header-bytes-padded",
                padded(f.udp(f.src(), f.sport(), 22), 24, &[0]),
                Stat::Port,
            ),
            // 26 bytes: 24 of IPv4 header (IHL 6), 2 of TCP, then padding reading as port
            // 80; a length test with 20 for the header finds 6.
            probe(
                "ihl-6-tcp-2-header-bytes-padded-with-80",
                padded(
                    f.tcp(f.src(), f.sport(), f.port())
                        .ip_options(&decoy_options(1, f.port())),
                    26,
                    &[0, 80],
                ),
                Stat::Others,
            ),
        ]),
        c(
            "non-ipv4-pass",
            "ARP from 10.0.0.1 and IPv6 to port 22 pass into stats[3]",
        )
        .probes([
            probe("arp-from-10.0.0.1", f.arp(BLOCKED_A), Stat::Others),
            probe("ipv6-tcp-dport-22", f.ipv6_tcp(22), Stat::Others),
        ]),
        rule.vlan_tagged(c, f),
        from_two_cpus(
            FIREWALL,
            vec![
                f.icmp(f.src()),
                f.tcp(BLOCKED_A, f.sport(), f.port()),
                f.tcp(f.src(), f.sport(), 80),
                f.tcp(f.src(), f.sport(), 443),
            ],
        ),
    ]
}
