//! The lab's scenarios. Each renders what the contract expects and what happened as two tables
//! in one layout; the expected side comes from the contract, filled in with the choices the
//! contract leaves to the program (where the round robin starts, which backend a source hashes
//! to), read from what the program did.

use std::{
    collections::BTreeMap,
    io::{ErrorKind, Read, Write},
    net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket},
    time::{Duration, Instant},
};

use harness::{
    Check, Error, Outcome, Probe, Result, Verdict, check::Judgement, table::render, target::Target,
};
use traffic::{FrameBuilder, PacketSocket, Tag, decode, find_tag};

use crate::{
    ID,
    frames::{
        Rewrite, Spec, TCP_PORT, UDP_PORT, actual_cell, backend_name, chosen_backend, expected_cell,
    },
    net::{
        BACKEND_LINK, BACKEND_NS, BACKENDS, CLIENT, CLIENT_IP, LB_MAC, SWITCH_LB_PORT, SWITCH_NS,
        VIP,
    },
};

/// How long to keep looking for frames that have not shown up once the program has run on all
/// of them. Only a failing program waits this long: a correct one is done at its last event.
const GRACE: Duration = Duration::from_millis(100);
/// How long the program may take to see the frames before the environment is blamed.
const RUN_DEADLINE: Duration = Duration::from_secs(5);
/// Timeouts of the real TCP exchange; a working path takes milliseconds.
const TCP_TIMEOUT: Duration = Duration::from_secs(3);

/// Counter deltas of `map` across `f`, by index, only the ones that moved.
fn counting<T>(
    t: &mut dyn Target,
    map: &str,
    f: impl FnOnce(&mut dyn Target) -> Result<T>,
) -> Result<(T, BTreeMap<u32, u64>)> {
    let before = t.program().maps().counters(map)?;
    let out = f(t)?;
    let after = t.program().maps().counters(map)?;
    let deltas = after
        .iter()
        .zip(before.iter().chain(std::iter::repeat(&0)))
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| (i as u32, a.wrapping_sub(*b)))
        .collect();
    Ok((out, deltas))
}

fn balanced(n: usize) -> BTreeMap<u32, u64> {
    BTreeMap::from([(0, n as u64)])
}

/// Snapshots of rewritten TCP and UDP headers, checksums judged per layer.
pub fn rewritten_headers(part: &'static str, verdict: Verdict, rewrite: Rewrite) -> Check {
    let mut ihl6 = Spec::tcp("tcp-ihl-6", 2, 40001);
    ihl6.options = vec![1, 1, 1, 1];
    let mut no_csum = Spec::udp("udp-no-checksum", 4, CLIENT_IP, 40003);
    no_csum.udp_no_checksum = true;
    let specs = [
        Spec::tcp("tcp-syn", 1, 40000),
        ihl6,
        Spec::udp("udp", 3, CLIENT_IP, 40002),
        no_csum,
    ];
    let what = match rewrite {
        Rewrite::Nat => "destination IP and MAC become a backend's, checksums stay valid",
        Rewrite::Dsr => "only the MACs change: destination a backend's, source the LB's",
    };
    Check::new(
        ID,
        part,
        "rewritten-headers",
        format!("TCP and UDP to the VIP: {verdict}, {what}; stats[0] counts them"),
    )
    .custom(move |t| {
        let frames: Vec<Vec<u8>> = specs.iter().map(Spec::frame).collect();
        let (outcomes, deltas) = counting(t, "stats", |t| t.send(&frames))?;
        let expected = specs
            .iter()
            .zip(&outcomes)
            .map(|(s, o)| (s.name.as_str(), expected_cell(s, o, rewrite, verdict)));
        let actual = specs
            .iter()
            .zip(&outcomes)
            .map(|(s, o)| (s.name.as_str(), actual_cell(s, o, rewrite)));
        Ok(Judgement {
            expected: render(expected, Some(("stats", &balanced(specs.len())))),
            actual: render(actual, Some(("stats", &deltas))),
        })
    })
}

/// The backend a balanced frame went to, or what happened to it instead.
fn token(o: &Outcome, verdict: Verdict) -> (Option<usize>, String) {
    if o.verdict != verdict {
        return (None, o.verdict.to_string());
    }
    match o
        .bytes
        .as_deref()
        .and_then(|b| chosen_backend(b, Rewrite::Nat))
    {
        Some(b) => (Some(b), backend_name(b)),
        None => (None, format!("{verdict}-elsewhere")),
    }
}

/// The cycle the contract allows given the first packets: the order of the first three if they
/// are three different backends, else onwards from the first one.
fn cycle(seen: &[Option<usize>]) -> [usize; 3] {
    match seen {
        [Some(a), Some(b), Some(c), ..] if a != b && b != c && a != c => [*a, *b, *c],
        [Some(a), ..] => [*a, (a + 1) % 3, (a + 2) % 3],
        _ => [0, 1, 2],
    }
}

/// Thirty VIP packets: exactly ten per backend, every three consecutive ones cover all three.
pub fn round_robin(part: &'static str, verdict: Verdict) -> Check {
    Check::new(
        ID,
        part,
        "round-robin",
        "30 VIP packets: 10 per backend, each 3 in a row reach all 3 (starting anywhere)",
    )
    .custom(move |t| {
        let specs: Vec<Spec> = (0..30u16)
            .map(|k| Spec::udp(format!("udp-{k}"), k + 1, CLIENT_IP, 41000 + k))
            .collect();
        let frames: Vec<Vec<u8>> = specs.iter().map(Spec::frame).collect();
        let (outcomes, deltas) = counting(t, "stats", |t| t.send(&frames))?;
        let tokens: Vec<(Option<usize>, String)> =
            outcomes.iter().map(|o| token(o, verdict)).collect();
        let seen: Vec<Option<usize>> = tokens.iter().map(|(b, _)| *b).collect();
        let pattern = cycle(&seen);
        let names: Vec<String> = (0..10)
            .map(|w| format!("packets {}-{}", 3 * w + 1, 3 * w + 3))
            .collect();
        let mut expected = Vec::new();
        let mut actual = Vec::new();
        for (w, name) in names.iter().enumerate() {
            let want: Vec<String> = pattern.iter().map(|&b| backend_name(b)).collect();
            let got: Vec<&str> = tokens[3 * w..3 * w + 3]
                .iter()
                .map(|(_, s)| s.as_str())
                .collect();
            expected.push((name.as_str(), want.join(" ")));
            actual.push((name.as_str(), got.join(" ")));
        }
        let labels: Vec<String> = BACKENDS
            .iter()
            .enumerate()
            .map(|(b, (ip, _))| format!("{} ({ip})", backend_name(b)))
            .collect();
        for (b, label) in labels.iter().enumerate() {
            let n = seen.iter().filter(|s| **s == Some(b)).count();
            expected.push((label.as_str(), "10 packets".to_owned()));
            actual.push((label.as_str(), format!("{n} packets")));
        }
        Ok(Judgement {
            expected: render(expected.into_iter(), Some(("stats", &balanced(30)))),
            actual: render(actual.into_iter(), Some(("stats", &deltas))),
        })
    })
}

/// Sends one VIP datagram per source, in order, and returns where each went.
fn balance_sources(
    t: &mut dyn Target,
    sources: &[Ipv4Addr],
) -> Result<Vec<(Option<usize>, String)>> {
    let frames: Vec<Vec<u8>> = sources
        .iter()
        .enumerate()
        .map(|(k, src)| Spec::udp("", k as u16 + 1, *src, 42000).frame())
        .collect();
    Ok(t.send(&frames)?
        .iter()
        .map(|o| token(o, Verdict::Tx))
        .collect())
}

/// Repeated packets from one source always reach the same backend.
pub fn affinity() -> Check {
    const SOURCES: [Ipv4Addr; 6] = [
        Ipv4Addr::new(172, 16, 0, 1),
        Ipv4Addr::new(172, 16, 0, 2),
        Ipv4Addr::new(192, 0, 2, 7),
        Ipv4Addr::new(198, 51, 100, 20),
        Ipv4Addr::new(203, 0, 113, 99),
        Ipv4Addr::new(100, 64, 1, 1),
    ];
    const ROUNDS: usize = 5;
    Check::new(
        ID,
        "lb_hash",
        "affinity",
        "6 sources, 5 packets each (interleaved): each source always reaches the same backend",
    )
    .custom(|t| {
        let sources: Vec<Ipv4Addr> = (0..ROUNDS).flat_map(|_| SOURCES).collect();
        let seen = balance_sources(t, &sources)?;
        let names: Vec<String> = SOURCES.iter().map(|s| format!("from {s}")).collect();
        let mut expected = Vec::new();
        let mut actual = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let mine: Vec<&(Option<usize>, String)> =
                seen.iter().skip(i).step_by(SOURCES.len()).collect();
            let first = mine
                .iter()
                .find_map(|(b, _)| *b)
                .map_or("b?".to_owned(), backend_name);
            expected.push((name.as_str(), vec![first; ROUNDS].join(" ")));
            let got: Vec<&str> = mine.iter().map(|(_, s)| s.as_str()).collect();
            actual.push((name.as_str(), got.join(" ")));
        }
        Ok(Judgement {
            expected: render(expected.into_iter(), None),
            actual: render(actual.into_iter(), None),
        })
    })
}

/// 300 consecutive source addresses from 172.16.0.0.
pub fn consecutive_sources() -> Vec<Ipv4Addr> {
    (0..300u32)
        .map(|i| Ipv4Addr::from(u32::from(Ipv4Addr::new(172, 16, 0, 0)) + i))
        .collect()
}

/// 300 source addresses spread over the whole IPv4 space (golden-ratio steps), leaving out
/// the lab's own 10.0.0.0/16, which the backends would try to answer on the wire.
pub fn scattered_sources() -> Vec<Ipv4Addr> {
    (1u32..)
        .map(|i| Ipv4Addr::from(i.wrapping_mul(0x9e37_79b9)))
        .filter(|a| !matches!(a.octets(), [10, 0, ..]))
        .take(300)
        .collect()
}

fn per_backend(seen: &[(Option<usize>, String)]) -> [usize; 3] {
    let mut n = [0; 3];
    for b in seen.iter().filter_map(|(b, _)| *b) {
        n[b] += 1;
    }
    n
}

/// Over 300 sources, every backend gets at least 20% of them.
pub fn spread(name: &str, what: &str, sources: fn() -> Vec<Ipv4Addr>) -> Check {
    Check::new(
        ID,
        "lb_hash",
        name,
        format!("300 sources {what}: every backend gets at least 20% of them"),
    )
    .custom(move |t| {
        let sources = sources();
        let seen = balance_sources(t, &sources)?;
        let n = per_backend(&seen);
        let total = sources.len();
        let labels: Vec<String> = BACKENDS
            .iter()
            .enumerate()
            .map(|(b, (ip, _))| format!("{} ({ip})", backend_name(b)))
            .collect();
        let mut expected = vec![("balanced", format!("{total} of {total}"))];
        let mut actual = vec![(
            "balanced",
            format!("{} of {total}", n.iter().sum::<usize>()),
        )];
        for (b, label) in labels.iter().enumerate() {
            expected.push((label.as_str(), "at least 20% of the sources".to_owned()));
            actual.push((
                label.as_str(),
                if n[b] * 5 >= total {
                    "at least 20% of the sources".to_owned()
                } else {
                    format!(
                        "{}% of the sources ({} of {total})",
                        n[b] * 100 / total,
                        n[b]
                    )
                },
            ));
        }
        Ok(Judgement {
            expected: render(expected.into_iter(), None),
            actual: render(actual.into_iter(), None),
        })
    })
}

/// Pearson's chi-square of `n` against an even split, 2 degrees of freedom.
pub fn chi_square(n: [usize; 3]) -> f64 {
    let total: usize = n.iter().sum();
    let e = total as f64 / 3.0;
    if e == 0.0 {
        return f64::INFINITY;
    }
    n.iter().map(|&x| (x as f64 - e).powi(2) / e).sum()
}

/// Reports the chi-square figure of both source sets (not scored).
pub fn chi_square_report() -> Check {
    Check::new(
        ID,
        "lb_hash",
        "spread-chi-square",
        "chi-square of the two 300-source spreads against an even split (2 dof; 5.99 = p 0.05)",
    )
    .unscored()
    .custom(|t| {
        let mut rows = Vec::new();
        for (name, sources) in [
            ("consecutive", consecutive_sources()),
            ("scattered", scattered_sources()),
        ] {
            let n = per_backend(&balance_sources(t, &sources)?);
            rows.push((
                name,
                format!(
                    "b1 {} b2 {} b3 {}  chi-square {:.2}",
                    n[0],
                    n[1],
                    n[2],
                    chi_square(n)
                ),
            ));
        }
        let table = render(rows.into_iter(), None);
        Ok(Judgement {
            expected: table.clone(),
            actual: table,
        })
    })
}

/// stats[0] counts balanced packets and backend_stats[i] those sent to backend i.
pub fn backend_stats() -> Check {
    Check::new(
        ID,
        "lb_hash",
        "backend-stats",
        "30 VIP packets from 30 sources: stats[0] +30, backend_stats[i] + those sent to backend i",
    )
    .custom(|t| {
        let sources: Vec<Ipv4Addr> = (1..=30).map(|i| Ipv4Addr::new(172, 16, 9, i)).collect();
        let ((seen, stats), per) = counting(t, "backend_stats", |t| {
            counting(t, "stats", |t| balance_sources(t, &sources))
        })?;
        let mut want = BTreeMap::new();
        for b in seen.iter().filter_map(|(b, _)| *b) {
            *want.entry(b as u32).or_insert(0u64) += 1;
        }
        let table = |stats: &BTreeMap<u32, u64>, per: &BTreeMap<u32, u64>| {
            render(std::iter::empty(), Some(("stats", stats)))
                + &render(std::iter::empty(), Some(("backend_stats", per)))
        };
        Ok(Judgement {
            expected: table(&balanced(sources.len()), &want),
            actual: table(&stats, &per),
        })
    })
}

/// Traffic the contract does not balance passes byte for byte and is not counted.
pub fn non_vip(part: &'static str) -> Check {
    let mut tag = 100u16;
    let mut eth = || {
        tag += 1;
        FrameBuilder::ethernet(CLIENT, LB_MAC).tag(Tag(tag))
    };
    let other = Ipv4Addr::new(10, 0, 0, 9);
    let swapped = Ipv4Addr::new(100, 1, 168, 192);
    let probes = vec![
        (
            "tcp-to-10.0.0.9",
            eth().ipv4(CLIENT_IP, other).tcp(40000, 80),
        ),
        (
            "udp-to-10.0.0.9",
            eth().ipv4(CLIENT_IP, other).udp(40000, 7000),
        ),
        ("tcp-from-vip", eth().ipv4(VIP, other).tcp(80, 40000)),
        (
            "tcp-to-100.1.168.192",
            eth().ipv4(CLIENT_IP, swapped).tcp(40000, 80),
        ),
        ("icmp-to-vip", eth().ipv4(CLIENT_IP, VIP).icmp_echo(7, 1)),
        (
            "gre-to-vip",
            eth().ipv4(CLIENT_IP, VIP).ip_protocol(47).payload(&[0; 8]),
        ),
        ("arp-for-vip", eth().arp_request(CLIENT_IP, VIP)),
        (
            "ipv6-tcp",
            eth()
                .ipv6("fd00::2".parse().unwrap(), "fd00::100".parse().unwrap())
                .tcp(40000, 80),
        ),
        (
            "vip-tcp-ihl-4",
            eth().ipv4(CLIENT_IP, VIP).tcp(40000, 80).ihl(4),
        ),
        (
            "vip-cut-33-ipv4",
            eth().ipv4(CLIENT_IP, VIP).tcp(40000, 80).truncate(33),
        ),
        (
            "vip-cut-34-no-l4",
            eth().ipv4(CLIENT_IP, VIP).tcp(40000, 80).truncate(34),
        ),
        (
            "vip-cut-53-tcp-19",
            eth().ipv4(CLIENT_IP, VIP).tcp(40000, 80).truncate(53),
        ),
        (
            "vip-cut-41-udp-7",
            eth().ipv4(CLIENT_IP, VIP).udp(40000, 7000).truncate(41),
        ),
    ];
    Check::new(
        ID,
        part,
        "non-vip-untouched",
        "non-VIP, non-TCP/UDP and truncated frames pass byte for byte, uncounted",
    )
    .counting("stats")
    .probes(
        probes
            .into_iter()
            .map(|(name, b)| Probe::new(name, b.payload_or_keep().build(), Verdict::Pass)),
    )
}

/// A `payload` that keeps frames without one (ARP) unchanged: non-VIP probes carry a payload
/// so their tag trailer survives, except where the builder has no payload area.
trait PayloadOrKeep {
    fn payload_or_keep(self) -> Self;
}

impl PayloadOrKeep for FrameBuilder {
    fn payload_or_keep(self) -> Self {
        if self.layout().payload.is_some() {
            self.payload(b"xdplab")
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

/// Each frame arrives at the intended backend (seen there) and its stack accepts it (its UDP
/// socket gets the datagram, so the checksums are right).
pub fn delivery(part: &'static str, path: Path) -> Check {
    let (name, desc) = match path {
        Path::Switch => (
            "delivered",
            "6 VIP datagrams: each arrives at its round-robin backend's eth0 via the switch and \
             its UDP socket receives it",
        ),
        Path::Link => (
            "redirect-path",
            "6 VIP datagrams: each leaves on its backend's own link (eth1), not back to the \
             switch, and its UDP socket receives it",
        ),
    };
    Check::new(ID, part, name, desc)
        .needs_veth()
        .custom(move |t| deliver(t, path))
}

fn deliver(t: &mut dyn Target, path: Path) -> Result<Judgement> {
    let Some(vt) = t.veth() else {
        return Err(Error::env("the delivery check needs a veth topology"));
    };
    let specs: Vec<Spec> = (0..6u16)
        .map(|k| Spec::udp(format!("udp-{k}"), k + 1, CLIENT_IP, 43000 + k))
        .collect();
    // Where frames can show up: each backend's two interfaces, and its UDP socket.
    let mut captures: Vec<(usize, String, PacketSocket)> = Vec::new();
    let mut sockets = Vec::new();
    {
        let topo = vt.topology();
        for (b, ns) in BACKEND_NS.iter().enumerate() {
            for ifname in ["eth0", BACKEND_LINK] {
                let ifindex = topo.iface(ns, ifname)?.ifindex;
                let socket = topo
                    .ns(ns)?
                    .run(|| PacketSocket::open(ifindex))?
                    .map_err(|e| Error::env(format!("packet socket in {ns}: {e}")))?;
                captures.push((b, format!("{ns}/{ifname}"), socket));
            }
            let udp = topo
                .ns(ns)?
                .run(|| UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, UDP_PORT)))?
                .and_then(|s| s.set_nonblocking(true).map(|()| s))
                .map_err(|e| Error::env(format!("UDP socket in {ns}: {e}")))?;
            sockets.push(udp);
        }
    }
    let n = specs.len();
    let mut seen_at: Vec<Vec<(usize, String)>> = vec![Vec::new(); n];
    let mut accepted: Vec<Vec<usize>> = vec![Vec::new(); n];
    let slot = |bytes: &[u8]| {
        find_tag(bytes)
            .map(|t| usize::from(t.0))
            .filter(|t| (1..=n).contains(t))
            .map(|t| t - 1)
    };
    vt.sender().drain().map_err(Error::env)?;
    let before = vt.program().run_count()?;
    for s in &specs {
        vt.sender()
            .send(&s.frame())
            .map_err(|e| Error::env(format!("sending a frame: {e}")))?;
    }
    let start = Instant::now();
    let mut ran_all: Option<Instant> = None;
    let mut buf = [0u8; 2048];
    loop {
        for (b, at, socket) in &mut captures {
            for frame in socket.drain().map_err(Error::env)? {
                if let Some(i) = slot(&frame) {
                    seen_at[i].push((*b, at.clone()));
                }
            }
        }
        if path == Path::Link {
            for frame in vt.sender().drain().map_err(Error::env)? {
                if let Some(i) = slot(&frame) {
                    seen_at[i].push((usize::MAX, format!("{SWITCH_NS}/{SWITCH_LB_PORT}")));
                }
            }
        }
        for (b, socket) in sockets.iter().enumerate() {
            loop {
                match socket.recv(&mut buf) {
                    Ok(len) => {
                        if let Some(i) = slot(&buf[..len]) {
                            accepted[i].push(b);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(Error::env(format!("UDP receive: {e}"))),
                }
            }
        }
        let want = expected_backends(&seen_at);
        let done = (0..n).all(|i| {
            seen_at[i]
                .iter()
                .any(|(b, at)| *b == want[i] && at.ends_with(iface(path)))
                && accepted[i].contains(&want[i])
        });
        if done {
            break;
        }
        match ran_all {
            None => {
                let ran = vt.program().run_count()? - before;
                if ran >= n as u64 {
                    ran_all = Some(Instant::now());
                } else if start.elapsed() > RUN_DEADLINE {
                    return Err(Error::env(format!(
                        "the program ran on {ran} of {n} frames within {RUN_DEADLINE:?}"
                    )));
                }
            }
            Some(at) if at.elapsed() > GRACE => break,
            Some(_) => {}
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let want = expected_backends(&seen_at);
    let mut expected = Vec::new();
    let mut actual = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let b = want[i];
        let ip = BACKENDS[b].0;
        expected.push((
            s.name.as_str(),
            format!(
                "{}/{}, accepted by {ip}:{UDP_PORT}",
                BACKEND_NS[b],
                iface(path)
            ),
        ));
        let mut places: Vec<String> = seen_at[i].iter().map(|(_, at)| at.clone()).collect();
        places.sort();
        places.dedup();
        let mut cell = if places.is_empty() {
            "nowhere".to_owned()
        } else {
            places.join(", ")
        };
        let mut by: Vec<usize> = accepted[i].clone();
        by.sort();
        by.dedup();
        if by.is_empty() {
            cell.push_str(", not accepted");
        }
        for b in by {
            cell.push_str(&format!(", accepted by {}:{UDP_PORT}", BACKENDS[b].0));
        }
        actual.push((s.name.as_str(), cell));
    }
    Ok(Judgement {
        expected: render(expected.into_iter(), None),
        actual: render(actual.into_iter(), None),
    })
}

fn iface(path: Path) -> &'static str {
    match path {
        Path::Switch => "eth0",
        Path::Link => BACKEND_LINK,
    }
}

/// The round-robin backend of each frame, the cycle read from where the first three went.
fn expected_backends(seen_at: &[Vec<(usize, String)>]) -> Vec<usize> {
    let first: Vec<Option<usize>> = seen_at
        .iter()
        .map(|places| places.iter().map(|(b, _)| *b).find(|b| *b < 3))
        .collect();
    let pattern = cycle(&first);
    (0..seen_at.len()).map(|i| pattern[i % 3]).collect()
}

/// A real TCP connection from the client to the VIP completes through one backend, which
/// answers the client directly.
pub fn dsr_tcp() -> Check {
    Check::new(
        ID,
        "lb_dsr",
        "tcp-handshake",
        "a real TCP connection client -> VIP:80 completes, request and response, with the \
         backend answering the client directly",
    )
    .needs_veth()
    .custom(dsr)
}

fn dsr(t: &mut dyn Target) -> Result<Judgement> {
    let Some(vt) = t.veth() else {
        return Err(Error::env("the DSR check needs a veth topology"));
    };
    let topo = vt.topology();
    let mut listeners = Vec::new();
    for ns in BACKEND_NS {
        let l = topo
            .ns(ns)?
            .run(|| TcpListener::bind(SocketAddrV4::new(VIP, TCP_PORT)))?
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| Error::env(format!("TCP listener in {ns}: {e}")))?;
        listeners.push(l);
    }
    let client_if = topo.iface("client", "eth0")?.ifindex;
    let mut capture = topo
        .ns("client")?
        .run(|| PacketSocket::open(client_if))?
        .map_err(|e| Error::env(format!("packet socket in client: {e}")))?;
    let request = b"GET / xdplab\n";
    let (client, served) = std::thread::scope(|s| {
        let client = s.spawn(|| {
            topo.ns("client")?.run(|| -> std::io::Result<String> {
                let mut c = TcpStream::connect_timeout(
                    &SocketAddrV4::new(VIP, TCP_PORT).into(),
                    TCP_TIMEOUT,
                )?;
                c.set_read_timeout(Some(TCP_TIMEOUT))?;
                c.write_all(request)?;
                let mut reply = String::new();
                c.read_to_string(&mut reply)?;
                Ok(reply)
            })
        });
        let served = serve(&listeners, request, &client);
        (client.join().expect("client thread"), served)
    });
    let client: Result<std::io::Result<String>> = client;
    let served = served?;
    // What reached the client from the VIP: which MACs it came from.
    let mut reply_macs: Vec<String> = capture
        .drain()
        .map_err(Error::env)?
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
    let b = served.as_ref().map(|(b, _)| *b);
    let name = b.map_or("one backend".to_owned(), backend_name);
    let expected = vec![
        (
            "connection to 192.168.1.100:80",
            "established, reply received".to_owned(),
        ),
        ("request reached", name.clone()),
        ("response", format!("hello from {name}")),
        (
            "replies seen by the client",
            format!(
                "from the VIP with source MAC {}",
                b.map_or("of that backend".to_owned(), |b| BACKENDS[b].1.to_string())
            ),
        ),
    ];
    let actual = vec![
        (
            "connection to 192.168.1.100:80",
            match &client {
                Ok(Ok(_)) => "established, reply received".to_owned(),
                Ok(Err(e)) => format!("failed: {}", e.kind()),
                Err(e) => format!("failed: {e}"),
            },
        ),
        (
            "request reached",
            match &served {
                Some((b, req)) if req.as_bytes() == request => backend_name(*b),
                Some((b, req)) => format!("{} but read {req:?}", backend_name(*b)),
                None => "no backend".to_owned(),
            },
        ),
        (
            "response",
            match &client {
                Ok(Ok(reply)) => reply.trim_end().to_owned(),
                _ => "none".to_owned(),
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
    Ok(Judgement {
        expected: render(expected.into_iter(), None),
        actual: render(actual.into_iter(), None),
    })
}

/// Accepts the first connection on any backend's listener, reads the request line and answers
/// "hello from bN". Gives up when the client is done without one reaching a backend.
fn serve<T>(
    listeners: &[TcpListener],
    request: &[u8],
    client: &std::thread::ScopedJoinHandle<'_, T>,
) -> Result<Option<(usize, String)>> {
    let deadline = Instant::now() + TCP_TIMEOUT;
    loop {
        for (b, l) in listeners.iter().enumerate() {
            match l.accept() {
                Ok((mut conn, _)) => {
                    let io = (|| -> std::io::Result<String> {
                        conn.set_nonblocking(false)?;
                        conn.set_read_timeout(Some(TCP_TIMEOUT))?;
                        let mut got = vec![0u8; request.len()];
                        conn.read_exact(&mut got)?;
                        conn.write_all(format!("hello from {}\n", backend_name(b)).as_bytes())?;
                        Ok(String::from_utf8_lossy(&got).into_owned())
                    })();
                    return Ok(Some((b, io.unwrap_or_else(|e| format!("<{}>", e.kind())))));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(Error::env(format!("accept: {e}"))),
            }
        }
        if client.is_finished() || Instant::now() > deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}
