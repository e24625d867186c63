//! The lab's checks as data: frames in, and where and how each must come out. The harness
//! sends them, observes the program (its verdicts and output, or real arrival at the backends)
//! and fills the contract's free choices (where the round robin starts, where a source hashes
//! to) in from what the program did.

use std::{collections::BTreeMap, net::Ipv4Addr};

use harness::{
    Check, Hint, PartId, Probe,
    arrival::Arrival,
    cpus::Spreading,
    delivery::{Count, Delivery, Observe, Parcel, Routing},
    judgement::Judgement,
    table::render,
};
use kernel::{
    Spread, Verdict,
    service::{Served, Service},
    target::Target,
};
use traffic::{FrameBuilder, Tag, decode, header::TcpFlags::ACK};

use crate::{
    ID, LB_HASH,
    frames::{Free, MIN_FRAME, Rewrite, Spec, TCP_PORT, UDP_PORT, outside_lab},
    net::{
        BACKEND_LINK, BACKEND_NS, CLIENT, CLIENT_IP, Net, SWITCH_LB_PORT, SWITCH_NS, VIP, backends,
    },
};

/// `stats[0]` counts balanced packets.
const BALANCED: Count = Count::PerFrame {
    map: "stats",
    index: 0,
};

/// A delivery to the lab's backends.
fn delivery(
    net: &Net,
    parcels: Vec<Parcel>,
    routing: Routing,
    counts: Vec<Count>,
    observe: Observe,
) -> Delivery {
    delivery_as(Rewrite::Nat, net, parcels, routing, counts, observe)
}

fn delivery_as(
    rewrite: Rewrite,
    net: &Net,
    parcels: Vec<Parcel>,
    routing: Routing,
    counts: Vec<Count>,
    observe: Observe,
) -> Delivery {
    Delivery {
        backends: backends(net),
        parcels,
        rewrite: rewrite.harness(net),
        routing,
        counts,
        observe,
    }
}

/// The transport of a frame [`rewritten_headers`] sends.
#[derive(Clone, Copy)]
enum Transport {
    Tcp,
    Udp,
}

/// Snapshots of rewritten TCP and UDP headers, checksums judged per layer. Besides a SYN, a
/// SYN with IPv4 options and two datagrams (one without a checksum), a bare ACK and an empty
/// datagram whose segments are exactly the 20- and 8-byte headers (frames of 54 and 42
/// bytes: a program that wants one byte more passes them), and the same two padded to the
/// 60-byte minimum (the padding is past the IPv4 total length and stays), and segments whose
/// TCP data offset (0, 4) or UDP length field (0, 65535) is wrong: no rule reads them.
pub fn rewritten_headers(
    part: PartId,
    verdict: Verdict,
    rewrite: Rewrite,
    f: &Free,
    net: &Net,
) -> Check {
    use Transport::{Tcp, Udp};
    let spec = |name: &str, tag, transport| Spec {
        dport: f.dport(),
        payload: f.payload(),
        ..match transport {
            Tcp => Spec::tcp(name, tag, f.sport()),
            Udp => Spec::udp(name, tag, CLIENT_IP, f.sport()),
        }
    };
    let ihl6 = Spec {
        options: vec![1, 1, 1, 1],
        ..spec("tcp-ihl-6", 2, Tcp)
    };
    let no_csum = Spec {
        udp_no_checksum: true,
        ..spec("udp-no-checksum", 4, Udp)
    };
    // A segment that is exactly its header: a bare ACK, an empty datagram.
    let bare = |name: &str, tag, transport| Spec {
        payload: Vec::new(),
        flags: Some(ACK),
        trailer: false,
        ..spec(name, tag, transport)
    };
    let padded = |bare: Spec| Spec {
        pad_to: MIN_FRAME,
        ..bare
    };
    let specs = [
        spec("tcp-syn", 1, Tcp),
        ihl6,
        spec("udp", 3, Udp),
        no_csum,
        bare("tcp-ack-20-bytes", 5, Tcp),
        bare("udp-8-bytes", 6, Udp),
        padded(bare("tcp-ack-20-padded", 7, Tcp)),
        padded(bare("udp-8-padded", 8, Udp)),
        // Fields no rule reads: the whole 20 (8) header bytes make a header, whatever the
        // data offset (length field) says.
        Spec {
            data_offset: Some(4),
            ..spec("tcp-data-offset-4", 9, Tcp)
        },
        Spec {
            data_offset: Some(0),
            ..spec("tcp-data-offset-0", 10, Tcp)
        },
        Spec {
            udp_length: Some(0),
            ..spec("udp-length-field-0", 11, Udp)
        },
        Spec {
            udp_length: Some(u16::MAX),
            ..spec("udp-length-field-65535", 12, Udp)
        },
    ];
    let what = match rewrite {
        Rewrite::Nat => "destination IP and MAC become a backend's, checksums stay valid",
        Rewrite::Dsr => "only the MACs change: destination a backend's, source the LB's",
    };
    part.check(
        "rewritten-headers",
        format!("TCP and UDP to the VIP: {verdict}, {what}; stats[0] counts them"),
    )
    .hint(Hint::any_row(
        verdict,
        Verdict::Pass,
        format!(
            "frames to the VIP went up the load balancer's own stack (XDP_PASS); the contract \
             sends each on to its backend: return XDP_{verdict} after the rewrite"
        ),
    ))
    .delivery(delivery_as(
        rewrite,
        net,
        specs.iter().map(|s| rewrite.parcel(s, net)).collect(),
        Routing::Rewritten,
        vec![BALANCED],
        Observe::Output { verdict },
    ))
}

/// Thirty VIP packets: exactly ten per backend, every three consecutive ones cover all three.
/// They come as ten flows of three packets each (one source, protocol and pair of ports), so
/// a program that picks the backend from any field of the packet sends a flow's three to one
/// backend and fails.
pub fn round_robin(part: PartId, verdict: Verdict, f: &Free, net: &Net) -> Check {
    let mut parcels = Vec::new();
    for flow in 0..10 {
        let first = f.spec("", 0, f.src(), flow);
        for k in 3 * flow..3 * flow + 3 {
            let proto = if first.tcp { "tcp" } else { "udp" };
            let spec = Spec {
                name: format!("{proto}-{k}"),
                tag: k as u16 + 1,
                payload: f.payload(),
                ..first.clone()
            };
            parcels.push(Parcel::new(spec.name.clone(), spec.frame(net)));
        }
    }
    part.check(
        "round-robin",
        "30 VIP packets, 10 flows of 3: 10 per backend, each 3 in a row reach all 3 (starting \
         anywhere)",
    )
    .delivery(delivery(
        net,
        parcels,
        Routing::Rotation,
        vec![BALANCED],
        Observe::Output { verdict },
    ))
}

/// Checksums at their edges, rewritten by the NAT programs: datagrams whose rewritten UDP
/// checksum comes out 0 and must go on the wire as 0xffff (RFC 768: 0 means "no checksum"),
/// three crafted for each backend in a row (round robin sends one of each three to every
/// backend; a hash sends one source's to one backend, so some land where they sum to 0), and
/// a TCP segment sent with the checksum 0x0000, which TCP treats like any other value.
pub fn checksum_edges(part: PartId, verdict: Verdict, f: &Free, net: &Net) -> Check {
    let mut specs = Vec::new();
    for (b, (ip, _)) in net.backends.iter().enumerate() {
        for k in 0..3u16 {
            let tag = 20 + 3 * b as u16 + k;
            let spec = Spec {
                dport: f.dport(),
                payload: f.payload(),
                ..Spec::udp(
                    format!("udp-sums-to-0-at-{}-{}", BACKEND_NS[b], k + 1),
                    tag,
                    CLIENT_IP,
                    f.sport(),
                )
            };
            specs.push(spec.summing_to_zero(*ip));
        }
    }
    // Datagrams whose incremental update needs a second carry at one backend each, three
    // per backend in a row as above: a checksum folded once comes out wrong. Then the same for
    // a program that sums the words as a little-endian CPU reads them, where a backend's
    // address allows it.
    for (name, first_tag, swapped) in [
        ("udp-second-carry", 40, false),
        ("udp-second-carry-swapped", 60, true),
    ] {
        for (b, (ip, _)) in net.backends.iter().enumerate() {
            for k in 0..3u16 {
                let spec = Spec {
                    dport: f.dport(),
                    payload: f.payload(),
                    ..Spec::udp(
                        format!("{name}-at-{}-{}", BACKEND_NS[b], k + 1),
                        first_tag + 3 * b as u16 + k,
                        CLIENT_IP,
                        f.sport(),
                    )
                };
                specs.extend(if swapped {
                    spec.needing_a_second_carry_swapped(*ip)
                } else {
                    Some(spec.needing_a_second_carry(*ip))
                });
            }
        }
    }
    let tcp = Spec {
        dport: f.dport(),
        payload: f.payload(),
        ..Spec::tcp("tcp-checksum-0000", 29, f.sport())
    };
    specs.push(tcp.summing_to_zero(VIP));
    // One segment per backend whose checksum update carries twice when rewritten for it (its
    // own ports: the crafted word, not the free fields, is what matters here).
    for (b, (ip, _)) in net.backends.iter().enumerate() {
        let spec = Spec::tcp(
            format!("tcp-update-carries-twice-at-{}", BACKEND_NS[b]),
            30 + b as u16,
            41000 + b as u16,
        );
        specs.push(spec.folding_twice(*ip));
    }
    part.check(
        "checksum-edges",
        "UDP whose rewritten checksum comes out 0 leaves with 0xffff; a TCP checksum of 0x0000 \
         is updated like any other; an update that needs a second carry stays valid",
    )
    .delivery(delivery(
        net,
        specs.iter().map(|s| Rewrite::Nat.parcel(s, net)).collect(),
        Routing::Rewritten,
        vec![BALANCED],
        Observe::Output { verdict },
    ))
}

/// VIP packets in the long rotation check: more than an 8-bit cursor counts.
const LONG_RUN: usize = 300;

/// Non-VIP frames after VIP packet k, going round: 4 per 7 VIP packets, in gaps of 0, 1 and
/// 2, so a cursor that moves on every frame leaves the rotation.
const GAPS: [usize; 7] = [0, 1, 0, 0, 2, 0, 1];

/// 300 VIP packets with non-VIP frames between them: the rotation never breaks (an 8-bit
/// cursor wraps after 256 packets; a cursor bumped by every frame skips backends), the
/// non-VIP frames pass, and `stats[0]` counts the 300.
pub fn round_robin_long(part: PartId, verdict: Verdict, f: &Free, net: &Net) -> Check {
    let mut frames = Vec::new();
    let mut vip = Vec::new();
    let mut tag = 1000u16;
    for k in 0..LONG_RUN {
        tag += 1;
        let spec = f.spec("", tag, f.src(), k);
        vip.push(frames.len());
        frames.push(spec.frame(net));
        for _ in 0..GAPS[k % GAPS.len()] {
            tag += 1;
            let b = FrameBuilder::ethernet(CLIENT, net.lb_mac).tag(Tag(tag));
            let b = match tag % 3 {
                0 => b.ipv4(CLIENT_IP, VIP).icmp_echo(7, tag),
                1 => b.ipv4(CLIENT_IP, f.src()).udp(f.sport(), f.dport()),
                _ => b.ipv4(VIP, CLIENT_IP).tcp(TCP_PORT, f.sport()),
            };
            frames.push(b.payload(&f.payload()).build());
        }
    }
    let net = net.clone();
    part.check(
        "round-robin-long",
        format!(
            "{LONG_RUN} VIP packets with {} non-VIP frames between them: the rotation never \
             breaks, the others pass",
            frames.len() - LONG_RUN
        ),
    )
    .custom(move |t| long_rotation(t, &frames, &vip, verdict, &net))
}

fn long_rotation(
    t: &mut dyn Target,
    frames: &[Vec<u8>],
    vip: &[usize],
    verdict: Verdict,
    net: &Net,
) -> kernel::Result<Judgement> {
    let before = t.counters("stats")?;
    let shot = t.fire(frames)?;
    let after = t.counters("stats")?;
    let names: Vec<String> = BACKEND_NS.iter().map(|n| (*n).to_owned()).collect();
    let d = delivery(
        net,
        Vec::new(),
        Routing::Rotation,
        Vec::new(),
        Observe::Output { verdict },
    );
    // Where each VIP packet went: a backend's name, or the verdict it got instead.
    let went: Vec<(Option<usize>, String)> = vip
        .iter()
        .map(|&i| {
            let o = &shot.outcomes[i];
            match o.bytes.as_deref().and_then(|b| d.backend_of(b)) {
                Some(b) if o.verdict == verdict => (Some(b), names[b].clone()),
                _ => (None, o.verdict.to_string()),
            }
        })
        .collect();
    let n = net.backends.len();
    // The order of the first three when they are three backends, else counting up from the
    // first one (as the short rotation check reads it).
    let mut firsts: Vec<usize> = went[..n].iter().filter_map(|(b, _)| *b).collect();
    firsts.dedup();
    if firsts.len() != n || (1..n).any(|i| firsts[i..].contains(&firsts[i - 1])) {
        let start = firsts.first().copied().unwrap_or(0);
        firsts = (0..n).map(|k| (start + k) % n).collect();
    }
    let first: Vec<&str> = firsts.iter().map(|&b| names[b].as_str()).collect();
    let order = first.join(" ");
    let broken = went
        .chunks(n)
        .enumerate()
        .find(|(_, w)| w.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>() != first[..w.len()]);
    let rows = |rotation: String, counts: Vec<usize>, others: String| {
        let mut rows = vec![(format!("VIP packets 1-{}", went.len()), rotation)];
        for (b, c) in counts.into_iter().enumerate() {
            rows.push((
                format!("{} ({})", names[b], net.backends[b].0),
                format!("{c} packets"),
            ));
        }
        rows.push(("non-VIP between them".to_owned(), others));
        rows
    };
    let fine = format!("each 3 in a row: {order} (the order of the first three)");
    let actual_rotation = match broken {
        None => fine.clone(),
        Some((w, window)) => format!(
            "broken at packets {}-{}: {}",
            n * w + 1,
            n * w + window.len(),
            window
                .iter()
                .map(|(_, s)| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    };
    let counts = (0..n)
        .map(|b| went.iter().filter(|(w, _)| *w == Some(b)).count())
        .collect();
    let others: Vec<Verdict> = (0..frames.len())
        .filter(|i| !vip.contains(i))
        .map(|i| shot.outcomes[i].verdict)
        .collect();
    let expected = rows(
        fine,
        vec![went.len() / n; n],
        tally(&vec![Verdict::Pass; others.len()]),
    );
    let actual = rows(actual_rotation, counts, tally(&others));
    let want = BTreeMap::from([(0, went.len() as u64)]);
    let got = harness::counters::moved(&kernel::maps::deltas(&before, &after));
    let note = shot.note.map(|n| n + "\n").unwrap_or_default();
    let table = |rows: Vec<(String, String)>, counted: &BTreeMap<u32, u64>| {
        note.clone()
            + &render(
                rows.iter().map(|(k, v)| (k.as_str(), v.clone())),
                Some(("stats", counted)),
            )
    };
    Ok(Judgement {
        expected: table(expected, &want),
        actual: table(actual, &got),
    })
}

/// How many frames got each verdict, in order of first appearance: `TX ×114, PASS ×57`.
fn tally(verdicts: &[Verdict]) -> String {
    let mut seen: Vec<(Verdict, usize)> = Vec::new();
    for v in verdicts {
        match seen.iter_mut().find(|(w, _)| w == v) {
            Some((_, n)) => *n += 1,
            None => seen.push((*v, 1)),
        }
    }
    harness::table::runs(
        &seen
            .iter()
            .flat_map(|(v, n)| std::iter::repeat_n(*v, *n))
            .collect::<Vec<_>>(),
    )
}

/// [`round_robin`]'s packets one at a time, two in a row on one CPU, then two on the other:
/// one rotation whatever CPU runs the program. A cursor kept per CPU (a PERCPU_ARRAY) rotates
/// each CPU alone and breaks the sequence, whatever each CPU's cursor started at.
pub fn round_robin_across_cpus(part: PartId, verdict: Verdict, f: &Free, net: &Net) -> Check {
    const IN_TURN: Spread = Spread::InTurn { cpus: 2, each: 2 };
    let harness::Body::Delivery(delivery) = round_robin(part, verdict, f, net).body else {
        unreachable!("round_robin is a delivery")
    };
    part.check(
        "round-robin-across-cpus",
        "the 30 packets of round-robin, two at a time on each of 2 CPUs in turn: still one \
         rotation",
    )
    .custom(move |t| {
        let (judgement, _) = delivery.judge(&mut Spreading::new(t, IN_TURN))?;
        Ok(judgement)
    })
}

/// One VIP packet per source, in order, TCP and UDP in turn, with free ports and payloads.
fn from_sources(sources: &[Ipv4Addr], f: &Free, net: &Net) -> Vec<Parcel> {
    sources
        .iter()
        .enumerate()
        .map(|(k, src)| {
            let spec = f.spec(format!("from-{src}"), k as u16 + 1, *src, k);
            Parcel::new(spec.name.clone(), spec.frame(net))
        })
        .collect()
}

/// Balanced by `lb_hash`: TX, seen by its output.
fn hashed(net: &Net, parcels: Vec<Parcel>, routing: Routing, counts: Vec<Count>) -> Delivery {
    delivery(
        net,
        parcels,
        routing,
        counts,
        Observe::Output {
            verdict: Verdict::Tx,
        },
    )
}

/// Repeated packets from one source always reach the same backend, whatever their ports,
/// protocol and payload (a hash over the ports sends them to different ones). `part` is
/// `lb_hash` or `lb_dsr`, rewriting as `rewrite` says.
pub fn affinity(part: PartId, rewrite: Rewrite, f: &Free, net: &Net) -> Check {
    const SOURCES: [Ipv4Addr; 6] = [
        Ipv4Addr::new(172, 16, 0, 1),
        Ipv4Addr::new(172, 16, 0, 2),
        Ipv4Addr::new(192, 0, 2, 7),
        Ipv4Addr::new(198, 51, 100, 20),
        Ipv4Addr::new(203, 0, 113, 99),
        Ipv4Addr::new(100, 64, 1, 1),
    ];
    const ROUNDS: usize = 5;
    let mut distinct = Vec::new();
    for canonical in SOURCES {
        let src = f.pick(canonical, |rng| outside_lab(|| rng.u32(..)));
        if !distinct.contains(&src) {
            distinct.push(src);
        }
    }
    let mut sources: Vec<Ipv4Addr> = (0..ROUNDS).flat_map(|_| distinct.clone()).collect();
    f.shuffle(&mut sources);
    let parcels = from_sources(&sources, f, net)
        .into_iter()
        .zip(&sources)
        .map(|(p, src)| p.in_group(src.to_string()))
        .collect();
    part.check(
        "affinity",
        "6 sources, 5 packets each (interleaved; ports, protocol and payload varied): each \
         source always reaches the same backend",
    )
    .delivery(delivery_as(
        rewrite,
        net,
        parcels,
        Routing::Affinity,
        Vec::new(),
        Observe::Output {
            verdict: Verdict::Tx,
        },
    ))
}

/// 300 consecutive source addresses: from 172.16.0.0 under seed 0, from a random /24 of
/// 172.16.0.0/12 under a seed.
pub fn consecutive_sources(f: &Free) -> Vec<Ipv4Addr> {
    let first = f.pick(Ipv4Addr::new(172, 16, 0, 0), |rng| {
        Ipv4Addr::new(172, rng.u8(16..32), rng.u8(..254), 0)
    });
    (0..300u32)
        .map(|i| Ipv4Addr::from(u32::from(first) + i))
        .collect()
}

/// 300 source addresses spread over the whole IPv4 space (golden-ratio steps from a start
/// the seed moves), leaving out the lab's own 10.0.0.0/16, which the backends would try to
/// answer on the wire.
pub fn scattered_sources(f: &Free) -> Vec<Ipv4Addr> {
    let mut i = f.pick(0u32, |rng| rng.u32(..));
    (0..300)
        .map(|_| {
            outside_lab(|| {
                i = i.wrapping_add(1);
                i.wrapping_mul(0x9e37_79b9)
            })
        })
        .collect()
}

/// Over 300 sources (`what` they are), every backend gets at least 20% of them. `part` is
/// `lb_hash` or `lb_dsr`, rewriting as `rewrite` says.
pub fn spread(
    part: PartId,
    rewrite: Rewrite,
    (name, what): (&str, &str),
    sources: &[Ipv4Addr],
    f: &Free,
    net: &Net,
) -> Check {
    part.check(
        name,
        format!("300 sources {what}: every backend gets at least 20% of them"),
    )
    .delivery(delivery_as(
        rewrite,
        net,
        from_sources(sources, f, net),
        Routing::Spread { percent: 20 },
        Vec::new(),
        Observe::Output {
            verdict: Verdict::Tx,
        },
    ))
}

/// Reports the chi-square figure of both source sets (not scored).
pub fn chi_square_report(
    consecutive: &[Ipv4Addr],
    scattered: &[Ipv4Addr],
    f: &Free,
    net: &Net,
) -> Check {
    let sets = vec![
        ("consecutive".to_owned(), consecutive.len()),
        ("scattered".to_owned(), scattered.len()),
    ];
    let sources: Vec<Ipv4Addr> = consecutive.iter().chain(scattered).copied().collect();
    LB_HASH
        .check(
            "spread-chi-square",
            "chi-square of the two 300-source spreads against an even split (2 dof; 5.99 = p 0.05)",
        )
        .unscored()
        .delivery(hashed(
            net,
            from_sources(&sources, f, net),
            Routing::Report { sets },
            Vec::new(),
        ))
}

/// `stats[0]` counts balanced packets and `backend_stats[i]` those sent to backend i.
pub fn backend_stats(f: &Free, net: &Net) -> Check {
    let subnet = f.pick(9, |rng| rng.u8(..));
    let sources: Vec<Ipv4Addr> = (1..=30)
        .map(|i| Ipv4Addr::new(172, 16, subnet, i))
        .collect();
    LB_HASH.check(
        "backend-stats",
        "30 VIP packets from 30 sources: stats[0] +30, backend_stats[i] + those sent to backend i",
    )
    .delivery(hashed(
        net,
        from_sources(&sources, f, net),
        Routing::Counted,
        vec![
            BALANCED,
            Count::PerBackend {
                map: "backend_stats",
            },
        ],
    ))
}

/// Traffic the contract does not balance passes byte for byte and is not counted.
pub fn non_vip(part: PartId, f: &Free, net: &Net) -> Check {
    let mut tag = 100u16;
    let mut eth = || {
        tag += 1;
        FrameBuilder::ethernet(CLIENT, net.lb_mac).tag(Tag(tag))
    };
    let other = f.pick(Ipv4Addr::new(10, 0, 0, 9), |rng| {
        outside_lab(|| rng.u32(..))
    });
    let (sport, dport) = (|| f.sport(), || f.dport());
    let swapped = Ipv4Addr::new(100, 1, 168, 192);
    let probes = vec![
        (
            format!("tcp-to-{other}"),
            eth().ipv4(CLIENT_IP, other).tcp(sport(), TCP_PORT),
        ),
        (
            format!("udp-to-{other}"),
            eth().ipv4(CLIENT_IP, other).udp(sport(), UDP_PORT),
        ),
        (
            "tcp-from-vip".into(),
            eth().ipv4(VIP, other).tcp(TCP_PORT, sport()),
        ),
        (
            "tcp-to-100.1.168.192".into(),
            eth().ipv4(CLIENT_IP, swapped).tcp(sport(), dport()),
        ),
        (
            "icmp-to-vip".into(),
            eth().ipv4(CLIENT_IP, VIP).icmp_echo(7, 1),
        ),
        (
            "gre-to-vip".into(),
            eth().ipv4(CLIENT_IP, VIP).ip_protocol(47).payload(&[0; 8]),
        ),
        ("arp-for-vip".into(), eth().arp_request(CLIENT_IP, VIP)),
        (
            "ipv6-tcp".into(),
            eth()
                .ipv6("fd00::2".parse().unwrap(), "fd00::100".parse().unwrap())
                .tcp(sport(), dport()),
        ),
        (
            "vip-tcp-ihl-4".into(),
            eth().ipv4(CLIENT_IP, VIP).tcp(sport(), dport()).ihl(4),
        ),
        (
            "vip-cut-33-ipv4".into(),
            eth()
                .ipv4(CLIENT_IP, VIP)
                .tcp(sport(), dport())
                .truncate(33),
        ),
        (
            "vip-cut-34-no-l4".into(),
            eth()
                .ipv4(CLIENT_IP, VIP)
                .tcp(sport(), dport())
                .truncate(34),
        ),
        (
            "vip-cut-53-tcp-19".into(),
            eth()
                .ipv4(CLIENT_IP, VIP)
                .tcp(sport(), dport())
                .truncate(53),
        ),
        (
            "vip-cut-41-udp-7".into(),
            eth()
                .ipv4(CLIENT_IP, VIP)
                .udp(sport(), dport())
                .truncate(41),
        ),
    ];
    let mut frames: Vec<(String, Vec<u8>)> = probes
        .into_iter()
        .map(|(name, b)| (name, b.payload_or_keep(f).build()))
        .collect();
    // The IPv4 total length decides where the packet ends: a transport header it cuts short
    // is incomplete, whatever Ethernet padding follows.
    let mut cut = |tcp: bool, l4: usize| {
        let b = eth().ipv4(CLIENT_IP, VIP);
        let b = if tcp {
            b.tcp(sport(), dport())
        } else {
            b.udp(sport(), dport())
        };
        b.ip_datagram_len(20 + l4).pad_to(MIN_FRAME).build()
    };
    frames.push(("vip-tcp-19-padded".into(), cut(true, 19)));
    frames.push(("vip-udp-7-padded".into(), cut(false, 7)));
    // Not IPv4 (version nibble), and fragments after the first (no transport header).
    let mut edited = |name: &str, tcp: bool, edit: &dyn Fn(FrameBuilder) -> FrameBuilder| {
        let b = eth().ipv4(CLIENT_IP, VIP);
        let b = if tcp {
            b.tcp(sport(), dport())
        } else {
            b.udp(sport(), dport())
        };
        (name.to_owned(), edit(b.payload_or_keep(f)).build())
    };
    frames.extend([
        edited("vip-tcp-version-6", true, &|b| b.ip_version(6)),
        edited("vip-udp-version-5", false, &|b| b.ip_version(5)),
        edited("vip-udp-fragment-at-1480", false, &|b| {
            b.fragment(1480 / 8, false)
        }),
        edited("vip-tcp-fragment-at-8-mf", true, &|b| b.fragment(1, true)),
    ]);
    part.check(
        "non-vip-untouched",
        "non-VIP, non-TCP/UDP, non-IPv4, fragmented and truncated frames pass byte for byte, \
         uncounted",
    )
    .counting("stats")
    .probes(
        frames
            .into_iter()
            .map(|(name, frame)| Probe::new(name, frame, Verdict::Pass)),
    )
}

/// A free payload that keeps frames without one (ARP) unchanged: non-VIP probes carry a
/// payload, except where the builder has no payload area.
trait PayloadOrKeep {
    fn payload_or_keep(self, f: &Free) -> Self;
}

impl PayloadOrKeep for FrameBuilder {
    fn payload_or_keep(self, f: &Free) -> Self {
        if self.layout().payload.is_some() {
            self.payload(&f.payload())
        } else {
            self
        }
    }
}

/// How balanced frames reach the backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// XDP_TX back to the switch, which forwards by MAC to the backend's `eth0`.
    Switch,
    /// XDP_REDIRECT onto the backend's own link, arriving on its `eth1`.
    Link,
}

/// Each frame arrives at its round-robin backend (seen there) and its stack accepts it (its
/// UDP socket gets the datagram, so the checksums are right).
pub fn delivered(part: PartId, path: Path, f: &Free, net: &Net) -> Check {
    let (name, desc, link, elsewhere) = match path {
        Path::Switch => (
            "delivered",
            "6 VIP datagrams: each arrives at its round-robin backend's eth0 via the switch and \
             its UDP socket receives it",
            "eth0",
            Vec::new(),
        ),
        Path::Link => (
            "redirect-path",
            "6 VIP datagrams: each leaves on its backend's own link (eth1), not back to the \
             switch, and its UDP socket receives it",
            BACKEND_LINK,
            vec![(SWITCH_NS, SWITCH_LB_PORT)],
        ),
    };
    // From the client, whose address the backends can route to; to the port they listen on.
    let parcels = (0..6u16)
        .map(|k| {
            let spec = Spec {
                payload: f.payload(),
                ..Spec::udp(format!("udp-{k}"), k + 1, CLIENT_IP, f.sport())
            };
            Parcel::new(spec.name.clone(), spec.frame(net))
        })
        .collect();
    part.check(name, desc).delivery(delivery(
        net,
        parcels,
        Routing::Rotation,
        Vec::new(),
        Observe::Arrival(Arrival {
            link,
            watch: vec!["eth0", BACKEND_LINK],
            elsewhere,
            udp_port: UDP_PORT,
        }),
    ))
}

/// The request the client sends in the DSR check.
const REQUEST: &[u8] = b"GET / xdplab\n";

/// A real TCP connection from the client to the VIP completes through one backend, which
/// answers the client directly.
pub fn dsr_tcp(net: &Net) -> Check {
    let net = net.clone();
    Check::new(
        ID,
        "lb_dsr",
        "tcp-handshake",
        "a real TCP connection client -> VIP:80 completes, request and response, with the \
         backend answering the client directly",
    )
    .needs_veth()
    .custom(move |t| dsr(t, &net))
}

fn backend_name(b: usize) -> String {
    BACKEND_NS[b].to_owned()
}

/// The exchange through the load balancer, judged: who served it, what the client read, and
/// which MAC the replies came from.
fn dsr(t: &mut dyn Target, net: &Net) -> kernel::Result<Judgement> {
    let service = Service {
        client: "client",
        client_link: "eth0",
        servers: BACKEND_NS.to_vec(),
        addr: std::net::SocketAddrV4::new(VIP, TCP_PORT),
        request: REQUEST.to_vec(),
        replies: (0..net.backends.len())
            .map(|b| format!("hello from {}\n", backend_name(b)).into_bytes())
            .collect(),
    };
    let served = service.run(t)?;
    Ok(dsr_judgement(&served, net))
}

fn dsr_judgement(served: &Served, net: &Net) -> Judgement {
    // What reached the client from the VIP: which MACs it came from.
    let mut reply_macs: Vec<String> = served
        .client_saw
        .iter()
        .filter_map(|f| {
            let d = decode(f);
            let from_vip = d.ipv4.as_ref().is_some_and(|ip| ip.src == VIP)
                && d.tcp.as_ref().is_some_and(|tcp| tcp.sport == TCP_PORT);
            from_vip.then(|| d.eth.map(|e| e.src.to_string())).flatten()
        })
        .collect();
    reply_macs.sort();
    reply_macs.dedup();
    let b = served.server.as_ref().map(|(b, _)| *b);
    let name = b.map_or("one backend".to_owned(), backend_name);
    let established = "established, reply received".to_owned();
    let expected = vec![
        ("connection to 192.168.1.100:80", established.clone()),
        ("request reached", name.clone()),
        ("response", format!("hello from {name}")),
        (
            "replies seen by the client",
            format!(
                "from the VIP with source MAC {}",
                b.map_or("of that backend".to_owned(), |b| net.backends[b]
                    .1
                    .to_string())
            ),
        ),
    ];
    let actual = vec![
        (
            "connection to 192.168.1.100:80",
            match &served.client {
                Ok(_) => established,
                Err(kind) => format!("failed: {kind}"),
            },
        ),
        (
            "request reached",
            match &served.server {
                Some((b, Ok(req))) if req == REQUEST => backend_name(*b),
                Some((b, Ok(req))) => format!(
                    "{} but read {:?}",
                    backend_name(*b),
                    String::from_utf8_lossy(req)
                ),
                Some((b, Err(kind))) => format!("{} but read \"<{kind}>\"", backend_name(*b)),
                None => "no backend".to_owned(),
            },
        ),
        (
            "response",
            match &served.client {
                Ok(reply) => String::from_utf8_lossy(reply).trim_end().to_owned(),
                Err(_) => "none".to_owned(),
            },
        ),
        (
            "replies seen by the client",
            if reply_macs.is_empty() {
                "none".to_owned()
            } else {
                format!("from the VIP with source MAC {}", reply_macs.join(", "))
            },
        ),
    ];
    Judgement {
        expected: render(expected.into_iter(), None),
        actual: render(actual.into_iter(), None),
    }
}

/// `stats[0]` under load from two CPUs at once: every run of a VIP datagram counted once. Only
/// `lb_dsr` is checked so: a test run repeated by the kernel starts from the frame the
/// previous run left, which the DSR rewrite leaves addressed to the VIP (balanced again),
/// where a NAT rewrite leaves it addressed to a backend (passed).
pub fn counts_from_two_cpus(part: PartId, f: &Free, net: &Net) -> Check {
    let frames = (0..2)
        .map(|k| {
            f.spec(format!("udp-{k}"), 50 + k as u16, CLIENT_IP, 2 * k)
                .frame(net)
        })
        .collect();
    harness::cpus::counts_entry_from_2_cpus(
        part.lab,
        part.program,
        "two CPUs balancing VIP datagrams at once: stats[0] counts every one (an atomic add)",
        ("stats", 0),
        frames,
    )
}

/// VIP packets in `round-robin-past-16-bits`: past the wrap of a 16-bit cursor at 65,536,
/// which 3 does not divide.
const PAST_16_BITS: usize = 65_540;

/// 65,540 VIP datagrams, one test run each: every three in a row reach all three backends, so
/// a 16-bit cursor (two in a row to one backend where it wraps) fails. Test-run only: about
/// 0.1 s of separate test runs (measured, debug build), where a repeated test run would rerun
/// the rewritten frame and a veth would take far longer.
pub fn round_robin_past_16_bits(part: PartId, verdict: Verdict, f: &Free, net: &Net) -> Check {
    let frame = f.spec("udp", 2000, CLIENT_IP, 0).frame(net);
    let net = net.clone();
    part.check(
        "round-robin-past-16-bits",
        format!(
            "{PAST_16_BITS} VIP packets: every 3 in a row reach all 3 backends, past a 16-bit \
             cursor's wrap"
        ),
    )
    .test_run_only()
    .custom(move |t| {
        let frames = vec![frame.clone(); PAST_16_BITS];
        let (shot, deltas) =
            harness::counters::across_up_to(t, "stats", Some(0), |t| t.fire(&frames))?;
        // The backend a frame names, as `Delivery::backend_of` reads it (address, then MAC),
        // from the bytes: decoding 65,540 frames would cost seconds in a debug build.
        let at = |b: &[u8], range: std::ops::Range<usize>, want: &[u8]| b.get(range) == Some(want);
        let backend_of = |b: &[u8]| {
            let by =
                |m: &dyn Fn(&(Ipv4Addr, traffic::MacAddr)) -> bool| net.backends.iter().position(m);
            by(&|(ip, _)| at(b, 30..34, &ip.octets()))
                .or_else(|| by(&|(_, mac)| at(b, 0..6, &mac.octets())))
        };
        let went: Vec<Option<usize>> = shot
            .outcomes
            .iter()
            .map(|o| {
                o.bytes
                    .as_deref()
                    .filter(|_| o.verdict == verdict)
                    .and_then(backend_of)
            })
            .collect();
        let n = net.backends.len();
        let broken = went.windows(n).position(|w| {
            w.iter().any(Option::is_none) || (1..n).any(|k| w[k..].contains(&w[k - 1]))
        });
        let fine = "every 3 in a row reach all 3".to_owned();
        let actual = match broken {
            None => fine.clone(),
            Some(i) => format!(
                "packets {}-{}: {}",
                i + 1,
                i + n,
                went[i..i + n]
                    .iter()
                    .map(|b| b.map_or("not balanced", |b| BACKEND_NS[b]))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        };
        let row = format!("VIP packets 1-{PAST_16_BITS}");
        let want = BTreeMap::from([(0, PAST_16_BITS as u64)]);
        let got = harness::counters::moved(&deltas);
        let table = |rotation: String, counted: &BTreeMap<u32, u64>| {
            render(
                [(row.as_str(), rotation)].into_iter(),
                Some(("stats", counted)),
            )
        };
        Ok(Judgement {
            expected: table(fine.clone(), &want),
            actual: table(actual, &got),
        })
    })
}
