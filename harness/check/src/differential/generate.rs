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

use super::frame::{Cut, FrameSpec, L4Csum, OptFill, TotalLen};

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
    /// UDP/TCP checksum values a frame is made to carry (those whose update after a rewrite
    /// needs a second carry, for example).
    pub l4_csums: Vec<u16>,
}

/// `canonical` `weight`% of the time, else one of `interesting` (two thirds of the rest) or
/// `random`. With a weight of 0 the canonical value is only drawn by chance.
fn field<T: Clone + std::fmt::Debug + 'static>(
    canonical: T,
    weight: u32,
    interesting: Vec<T>,
    random: BoxedStrategy<T>,
) -> BoxedStrategy<T> {
    let rest = 100 - weight;
    let varied = if interesting.is_empty() {
        random
    } else {
        prop_oneof![
            rest * 2 / 3 => select(interesting),
            rest - rest * 2 / 3 => random,
        ]
        .boxed()
    };
    if weight == 0 {
        return varied;
    }
    prop_oneof![weight => Just(canonical), rest => varied].boxed()
}

/// EtherTypes that would make the frame VLAN-tagged: outside every contract (unscored), so not
/// generated.
const VLAN_TPIDS: [u16; 3] = [0x8100, 0x88a8, 0x9100];

/// The values each field is varied to, drawn more often than random ones and swept one field
/// at a time.
struct Menu {
    macs: Vec<MacAddr>,
    ethertypes: Vec<u16>,
    nibbles: Vec<u8>,
    options: Vec<OptFill>,
    tos: Vec<u8>,
    total_len: Vec<Option<TotalLen>>,
    frag_offset: Vec<u16>,
    ttl: Vec<u8>,
    protocols: Vec<u8>,
    addrs: Vec<Ipv4Addr>,
    ports: Vec<u16>,
    tcp_flags: Vec<u8>,
    tcp_option_words: Vec<u8>,
    l4_csum: Vec<L4Csum>,
    tcp_doff: Vec<Option<u8>>,
    udp_len: Vec<Option<u16>>,
    icmp_type: Vec<u8>,
    payload_len: Vec<u16>,
    padding: Vec<u16>,
    cut: Vec<Option<Cut>>,
}

impl Menu {
    fn new(i: &Interesting) -> Self {
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
        let mut l4_csum = vec![L4Csum::Zero, L4Csum::Bad];
        l4_csum.extend(i.rewritten_to.iter().map(|a| L4Csum::LandsOnZeroFor(*a)));
        l4_csum.extend(i.l4_csums.iter().map(|v| L4Csum::Is(*v)));
        let mut options = vec![OptFill::Nop, OptFill::Zero];
        options.extend(ports.iter().map(|p| OptFill::Decoy(*p)));
        let mut total_len: Vec<Option<TotalLen>> = [0, 1, 20, 28, u16::MAX]
            .map(|n| Some(TotalLen::Is(n)))
            .into();
        // A datagram ending inside its transport header, the frame carrying the rest.
        total_len.extend([0, 1, 2, 3, 4, 7, 8, 19, 20].map(|n| Some(TotalLen::IntoTransport(n))));
        Self {
            macs: i.macs.clone(),
            ethertypes: vec![0x0008, 0x86dd, 0x0806, 0x0000, 0xffff, 0x0801, 0x0900],
            // Every version and IHL, 0 to 15.
            nibbles: (0..16).collect(),
            options,
            tos: vec![0xff, 1, 0xfc],
            total_len,
            frag_offset: vec![0, 1, 2, 185, 0x1fff],
            ttl: vec![0, 1, 255],
            // SCTP (132), UDP-Lite (136) and DCCP (33) start with two ports as TCP and UDP do.
            protocols: vec![6, 17, 1, 47, 0, 58, 255, 132, 136, 33],
            addrs,
            ports,
            // Every flag combination.
            tcp_flags: (0..=255).collect(),
            tcp_option_words: vec![1, 2, 10],
            l4_csum,
            tcp_doff: (0..16).map(Some).collect(),
            udp_len: [0, 1, 7, 8, 9, 14, 15, u16::MAX].map(Some).into(),
            icmp_type: vec![0, 3, 5, 8, 11, 13, 14, 255],
            payload_len: vec![0, 1, 2, 3, 6, 33, 1400],
            padding: vec![1, 4, 18, 26],
            // Every length of the transport header, and every layer boundary before it.
            cut: (0u16..21)
                .map(|n| Some(Cut::IntoTransport(n)))
                .chain([14u16, 15, 24, 33].map(|n| Some(Cut::At(n))))
                .collect(),
        }
    }
}

/// The part's bases: the canonical frame, as each of TCP, UDP, ICMP and SCTP (a protocol with
/// ports the contracts do not name), with 4 bytes of IPv4 options, and with an IHL of 4 (a
/// parser taking it at its word reads ports from the addresses).
fn bases(canonical: &FrameSpec) -> Vec<FrameSpec> {
    let mut bases = vec![canonical.clone()];
    for protocol in [6, 17, 1, 132] {
        if protocol != canonical.protocol {
            bases.push(FrameSpec {
                protocol,
                ..canonical.clone()
            });
        }
    }
    for ihl in [6, 4] {
        bases.push(FrameSpec {
            ihl,
            ..canonical.clone()
        });
    }
    bases
}

/// Every base, and every base with one field set to one of its values from the menu, each
/// distinct frame once (a checksum landing on 0 after a rewrite once per backend): a mistake about a single field meets the frame that shows it whatever the seed.
pub fn sweep(canonical: &FrameSpec, i: &Interesting) -> Vec<FrameSpec> {
    let m = Menu::new(i);
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for base in bases(canonical) {
        let mut variants = vec![base.clone()];
        macro_rules! vary {
            ($($field:ident: $values:expr),* $(,)?) => {$(
                for v in $values.iter() {
                    variants.push(FrameSpec { $field: v.clone(), ..base.clone() });
                }
            )*};
        }
        vary!(
            eth_src: m.macs,
            eth_dst: m.macs,
            ethertype: m.ethertypes,
            version: m.nibbles,
            ihl: m.nibbles,
            options: m.options,
            tos: m.tos,
            total_len: m.total_len,
            df: [!base.df],
            mf: [!base.mf],
            frag_offset: m.frag_offset,
            ttl: m.ttl,
            protocol: m.protocols,
            ip_csum_ok: [!base.ip_csum_ok],
            src: m.addrs,
            dst: m.addrs,
            sport: m.ports,
            dport: m.ports,
            // Every flag byte on the canonical frame (and its TCP twin) only: the other bases
            // meet flags in the drawn frames.
            tcp_flags: if base.ihl == canonical.ihl { &m.tcp_flags[..] } else { &[] },
            tcp_option_words: m.tcp_option_words,
            tcp_doff: m.tcp_doff,
            udp_len: m.udp_len,
            icmp_type: m.icmp_type,
            l4_csum: m.l4_csum,
            payload_len: m.payload_len,
            padding: m.padding,
            cut: m.cut,
        );
        for v in variants {
            if seen.insert(v.build()) {
                // A checksum made to land on 0 for one backend shows a mistake only when the
                // frame reaches that backend: sent once for each, consecutive frames of a round
                // robin reach every backend whatever the rotation's phase.
                let copies = match v.l4_csum {
                    L4Csum::LandsOnZeroFor(_) => i.rewritten_to.len().max(1),
                    _ => 1,
                };
                out.extend(std::iter::repeat_n(v, copies));
            }
        }
    }
    out
}

/// The strategy of a part. A third of the frames vary every field at once around
/// `canonical` (odd combinations); the rest are one of the part's bases with one to three
/// fields varied.
pub fn strategy(canonical: &FrameSpec, i: &Interesting) -> BoxedStrategy<FrameSpec> {
    let m = Menu::new(i);
    let few = (
        select(bases(canonical)),
        proptest::collection::vec(0..super::frame::FIELDS.len(), 1..=3),
        fields(canonical, &m, false),
    )
        .prop_map(|(mut base, picked, varied)| {
            for k in picked {
                base.reset(k, &varied);
            }
            base
        });
    prop_oneof![1 => fields(canonical, &m, true), 2 => few].boxed()
}

/// Every field drawn around `canonical` (`keep`: the canonical value often), or away from it.
fn fields(canonical: &FrameSpec, m: &Menu, keep: bool) -> BoxedStrategy<FrameSpec> {
    let w = |weight: u32| if keep { weight } else { 0 };
    let c = canonical.clone();
    let any_addr = any::<u32>().prop_map(Ipv4Addr::from).boxed();
    let any_mac = any::<[u8; 6]>()
        .prop_map(|m| MacAddr(m[0], m[1], m[2], m[3], m[4], m[5]))
        .boxed();
    let nibble = || (0u8..16).boxed();
    let eth = (
        field(c.eth_src, w(90), m.macs.clone(), any_mac.clone()),
        field(c.eth_dst, w(90), m.macs.clone(), any_mac),
        field(
            c.ethertype,
            w(85),
            m.ethertypes.clone(),
            any::<u16>()
                .prop_filter("no VLAN tag", |t| !VLAN_TPIDS.contains(t))
                .boxed(),
        ),
    );
    let ip_a = (
        field(c.version, w(85), m.nibbles.clone(), nibble()),
        field(c.ihl, w(60), m.nibbles.clone(), nibble()),
        field(
            c.options,
            w(50),
            m.options.clone(),
            Just(OptFill::Nop).boxed(),
        ),
        field(c.tos, w(90), m.tos.clone(), any::<u8>().boxed()),
        field(
            c.total_len,
            w(85),
            m.total_len.clone(),
            any::<u16>().prop_map(|n| Some(TotalLen::Is(n))).boxed(),
        ),
        field(c.df, w(70), vec![!c.df], Just(c.df).boxed()),
        field(c.mf, w(80), vec![!c.mf], Just(c.mf).boxed()),
        field(
            c.frag_offset,
            w(80),
            m.frag_offset.clone(),
            (0u16..0x2000).boxed(),
        ),
    );
    let ip_b = (
        field(c.ttl, w(85), m.ttl.clone(), any::<u8>().boxed()),
        field(c.protocol, w(50), m.protocols.clone(), any::<u8>().boxed()),
        field(
            c.ip_csum_ok,
            w(85),
            vec![!c.ip_csum_ok],
            Just(c.ip_csum_ok).boxed(),
        ),
        field(c.src, w(50), m.addrs.clone(), any_addr.clone()),
        field(c.dst, w(50), m.addrs.clone(), any_addr),
    );
    let l4 = (
        field(c.sport, w(60), m.ports.clone(), any::<u16>().boxed()),
        field(c.dport, w(50), m.ports.clone(), any::<u16>().boxed()),
        field(c.tcp_flags, w(50), m.tcp_flags.clone(), any::<u8>().boxed()),
        field(
            c.tcp_option_words,
            w(80),
            m.tcp_option_words.clone(),
            (0u8..=10).boxed(),
        ),
        field(c.l4_csum, w(70), m.l4_csum.clone(), Just(c.l4_csum).boxed()),
    );
    let l4_fields = (
        field(
            c.tcp_doff,
            w(85),
            m.tcp_doff.clone(),
            (0u8..16).prop_map(Some).boxed(),
        ),
        field(
            c.udp_len,
            w(85),
            m.udp_len.clone(),
            any::<u16>().prop_map(Some).boxed(),
        ),
        field(c.icmp_type, w(85), m.icmp_type.clone(), any::<u8>().boxed()),
    );
    let tail = (
        field(
            c.payload_len,
            w(60),
            m.payload_len.clone(),
            (0u16..1500).boxed(),
        ),
        field(c.padding, w(85), m.padding.clone(), (0u16..64).boxed()),
        field(
            c.cut,
            w(65),
            m.cut.clone(),
            (14u16..120).prop_map(|n| Some(Cut::At(n))).boxed(),
        ),
    );
    (eth, ip_a, ip_b, l4, l4_fields, tail)
        .prop_map(
            |(
                (eth_src, eth_dst, ethertype),
                (version, ihl, options, tos, total_len, df, mf, frag_offset),
                (ttl, protocol, ip_csum_ok, src, dst),
                (sport, dport, tcp_flags, tcp_option_words, l4_csum),
                (tcp_doff, udp_len, icmp_type),
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
                tcp_doff,
                udp_len,
                icmp_type,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical() -> FrameSpec {
        FrameSpec::new(
            MacAddr(2, 0, 0, 0, 0, 1),
            MacAddr(2, 0, 0, 0, 0, 2),
            6,
            [10, 0, 0, 1].into(),
            [10, 0, 0, 2].into(),
            1000,
            22,
        )
    }

    #[test]
    fn sweep_sends_every_base_and_each_frame_once() {
        let i = Interesting {
            ports: vec![22],
            ..Interesting::default()
        };
        let swept = sweep(&canonical(), &i);
        let built: Vec<Vec<u8>> = swept.iter().map(FrameSpec::build).collect();
        for base in bases(&canonical()) {
            assert!(built.contains(&base.build()), "base missing: {base}");
        }
        let distinct: std::collections::HashSet<&Vec<u8>> = built.iter().collect();
        assert_eq!(distinct.len(), built.len(), "a frame swept twice");
        // With backends, a checksum landing on 0 for one is sent once per backend, in a row.
        let backends = vec![[10, 0, 0, 11].into(), [10, 0, 0, 12].into()];
        let i = Interesting {
            rewritten_to: backends,
            ..i
        };
        let swept = sweep(&canonical(), &i);
        let landing: Vec<usize> = swept
            .iter()
            .enumerate()
            .filter(|(_, f)| matches!(f.l4_csum, L4Csum::LandsOnZeroFor(_)))
            .map(|(k, _)| k)
            .collect();
        assert!(landing.len() >= 2, "{landing:?}");
        for pair in landing.chunks(2) {
            assert_eq!(pair.len(), 2);
            assert_eq!(pair[1], pair[0] + 1);
            assert_eq!(swept[pair[0]].build(), swept[pair[1]].build());
        }
        // One field at a time: the byte-swapped port appears as a destination port alone.
        assert!(
            swept
                .iter()
                .any(|f| f.dport == 22u16.swap_bytes() && f.sport == 1000)
        );
    }
}
