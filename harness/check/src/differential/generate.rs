//! Seeded frame generation with proptest strategies: every field from the part's canonical
//! frame, its interesting values (the contract's addresses and ports and their byte-swapped
//! look-alikes, 0, 1, maxima, every IHL, fragment bits, every TCP flag combination, ...) or a
//! random value.

use std::net::Ipv4Addr;

use proptest::{
    prelude::*,
    sample::select,
    strategy::{BoxedStrategy, ValueTree},
    test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
};
use traffic::MacAddr;

use super::frame::{Cut, FrameSpec, L4Csum, OptFill};

/// The values a part's contract names, from which the generator draws more often than at
/// random.
#[derive(Debug, Clone, Default)]
pub struct Interesting {
    /// Addresses (both source and destination draw from them; byte-swapped twins are added).
    pub addrs: Vec<Ipv4Addr>,
    /// Ports (both ports draw from them; byte-swapped twins are added).
    pub ports: Vec<u16>,
    /// MACs (the lab's stations).
    pub macs: Vec<MacAddr>,
    /// Destinations a rewrite may give a frame: UDP/TCP checksums are made to land on 0 there.
    pub rewritten_to: Vec<Ipv4Addr>,
}

/// `canonical` `weight`% of the time, else one of `interesting` (two thirds of the rest) or
/// `random`.
fn field<T: Clone + std::fmt::Debug + 'static>(
    canonical: T,
    weight: u32,
    interesting: Vec<T>,
    random: BoxedStrategy<T>,
) -> BoxedStrategy<T> {
    let rest = 100 - weight;
    if interesting.is_empty() {
        return prop_oneof![weight => Just(canonical), rest => random].boxed();
    }
    prop_oneof![
        weight => Just(canonical),
        rest * 2 / 3 => select(interesting),
        rest - rest * 2 / 3 => random,
    ]
    .boxed()
}

/// EtherTypes that would make the frame VLAN-tagged: outside every contract (unscored), so not
/// generated.
const VLAN_TPIDS: [u16; 3] = [0x8100, 0x88a8, 0x9100];

/// The strategy of a part: fields drawn around `canonical`.
pub fn strategy(canonical: &FrameSpec, i: &Interesting) -> BoxedStrategy<FrameSpec> {
    let c = canonical.clone();
    let mut addrs: Vec<Ipv4Addr> = i.addrs.clone();
    addrs.extend(
        i.addrs
            .iter()
            .map(|a| Ipv4Addr::from(u32::from(*a).swap_bytes())),
    );
    addrs.extend([
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(0, 0, 0, 1),
    ]);
    let mut ports: Vec<u16> = i.ports.clone();
    ports.extend(i.ports.iter().map(|p| p.swap_bytes()));
    ports.extend([0, 1, u16::MAX]);
    let any_addr = any::<u32>().prop_map(Ipv4Addr::from).boxed();
    let any_mac = any::<[u8; 6]>()
        .prop_map(|m| MacAddr(m[0], m[1], m[2], m[3], m[4], m[5]))
        .boxed();
    let mut csums = vec![L4Csum::Zero, L4Csum::Bad];
    csums.extend(i.rewritten_to.iter().map(|a| L4Csum::LandsOnZeroFor(*a)));
    let mut fills = vec![OptFill::Nop, OptFill::Zero];
    fills.extend(ports.iter().map(|p| OptFill::Decoy(*p)));
    let eth = (
        field(c.eth_src, 90, i.macs.clone(), any_mac.clone()),
        field(c.eth_dst, 90, i.macs.clone(), any_mac),
        field(
            c.ethertype,
            85,
            vec![0x0008, 0x86dd, 0x0806, 0x0000, 0xffff, 0x0801, 0x0900],
            any::<u16>()
                .prop_filter("no VLAN tag", |t| !VLAN_TPIDS.contains(t))
                .boxed(),
        ),
    );
    let ip_a = (
        field(c.version, 85, (0..16).collect(), (0u8..16).boxed()),
        // Every IHL, 0 to 15, equally often when not canonical.
        field(c.ihl, 60, (0..16).collect(), (0u8..16).boxed()),
        field(c.options, 50, fills, Just(OptFill::Nop).boxed()),
        field(c.tos, 90, vec![0xff, 1, 0xfc], any::<u8>().boxed()),
        field(
            c.total_len,
            85,
            vec![Some(0), Some(1), Some(20), Some(28), Some(u16::MAX)],
            any::<u16>().prop_map(Some).boxed(),
        ),
        field(c.df, 70, vec![!c.df], Just(c.df).boxed()),
        field(c.mf, 80, vec![!c.mf], Just(c.mf).boxed()),
        field(
            c.frag_offset,
            80,
            vec![0, 1, 2, 185, 0x1fff],
            (0u16..0x2000).boxed(),
        ),
    );
    let ip_b = (
        field(c.ttl, 85, vec![0, 1, 255], any::<u8>().boxed()),
        field(
            c.protocol,
            50,
            vec![6, 17, 1, 47, 0, 58, 255],
            any::<u8>().boxed(),
        ),
        field(
            c.ip_csum_ok,
            85,
            vec![!c.ip_csum_ok],
            Just(c.ip_csum_ok).boxed(),
        ),
        field(c.src, 50, addrs.clone(), any_addr.clone()),
        field(c.dst, 50, addrs, any_addr),
    );
    let l4 = (
        field(c.sport, 60, ports.clone(), any::<u16>().boxed()),
        field(c.dport, 50, ports, any::<u16>().boxed()),
        // Every flag combination: each byte value as likely as any other when not canonical.
        field(c.tcp_flags, 50, (0..=255).collect(), any::<u8>().boxed()),
        field(c.tcp_option_words, 80, vec![1, 2, 10], (0u8..=10).boxed()),
        field(c.l4_csum, 70, csums, Just(c.l4_csum).boxed()),
    );
    let tail = (
        field(
            c.payload_len,
            60,
            vec![0, 1, 2, 3, 6, 33, 1400],
            (0u16..1500).boxed(),
        ),
        field(c.padding, 85, vec![1, 4, 18, 26], (0u16..64).boxed()),
        // Every length of the transport header, and every layer boundary before it.
        field(
            c.cut,
            65,
            (0u16..21)
                .map(|n| Some(Cut::IntoTransport(n)))
                .chain([14u16, 15, 24, 33].map(|n| Some(Cut::At(n))))
                .collect(),
            (14u16..120).prop_map(|n| Some(Cut::At(n))).boxed(),
        ),
    );
    (eth, ip_a, ip_b, l4, tail)
        .prop_map(
            |(
                (eth_src, eth_dst, ethertype),
                (version, ihl, options, tos, total_len, df, mf, frag_offset),
                (ttl, protocol, ip_csum_ok, src, dst),
                (sport, dport, tcp_flags, tcp_option_words, l4_csum),
                (payload_len, padding, cut),
            )| FrameSpec {
                eth_src,
                eth_dst,
                ethertype,
                version,
                ihl,
                options,
                tos,
                total_len,
                df,
                mf,
                frag_offset,
                ttl,
                protocol,
                ip_csum_ok,
                src,
                dst,
                sport,
                dport,
                tcp_flags,
                tcp_option_words,
                l4_csum,
                payload_len,
                padding,
                cut,
            },
        )
        .boxed()
}

/// Draws frames from a strategy, reproducibly: the same seed and salt give the same frames.
pub struct Generator {
    runner: TestRunner,
    strategy: BoxedStrategy<FrameSpec>,
}

impl Generator {
    /// A generator for `strategy`, seeded by `seed` and `salt` (the part's name, so parts of
    /// one seed draw different frames).
    pub fn new(seed: u64, salt: &str, strategy: BoxedStrategy<FrameSpec>) -> Self {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        for (k, b) in salt.bytes().enumerate() {
            bytes[8 + k % 24] ^= b;
        }
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
        Self {
            runner: TestRunner::new_with_rng(Config::default(), rng),
            strategy,
        }
    }

    /// A number below `n` (sequence lengths and openings), from the same seeded stream.
    pub fn below(&mut self, n: usize) -> usize {
        self.runner.rng().random_range(0..n.max(1))
    }

    /// The next frame.
    pub fn next_frame(&mut self) -> FrameSpec {
        self.strategy
            .new_tree(&mut self.runner)
            .expect("the frame strategies reject only VLAN EtherTypes, which are rare")
            .current()
    }
}
