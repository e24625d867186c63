//! `syn_guard` (at most 100 SYNs per source per 1-second window) and `ddos_guard` (blocklist,
//! then token bucket, then SYN window).

use std::{
    collections::BTreeMap,
    net::Ipv4Addr,
    time::{Duration, Instant},
};

use harness::{
    Check, Error, Result,
    Verdict::{Drop, Pass},
    check::Judgement,
    target::Target,
};

use crate::{
    ID, arp,
    drive::{Table, Want, exact, fire, ms, ms_ceil, seq},
    flags::{ACK, CWR, ECE, PSH, RST, SYN},
    flood, group, ipv6, syn, tcp, udp,
};

/// Floods that must fit in one SYN window are rejected (as an environment fault) when they take
/// longer than this: the window is 1 s, and the checks need room to spare.
const WINDOW_BUDGET: Duration = Duration::from_millis(900);

fn within_window(elapsed: Duration) -> Result<()> {
    if elapsed > WINDOW_BUDGET {
        return Err(Error::env(format!(
            "a flood that must fit in one 1-second SYN window took {elapsed:?}; the machine is too \
             loaded to judge the window"
        )));
    }
    Ok(())
}

fn syn_src(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 2, n)
}

fn ddos_src(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 3, n)
}

/// A UDP packet whose byte 13 after the UDP header start (where TCP keeps its flags) reads as
/// SYN: a guard that forgets to check the protocol counts it.
fn udp_like_syn(src: Ipv4Addr) -> traffic::FrameBuilder {
    udp(src).payload(&[0, 0, 0, 0, 0, SYN, 0, 0])
}

pub(crate) fn syn_checks() -> Vec<Check> {
    let c = |name: &str, desc: &str| Check::new(ID, "syn_guard", name, desc);
    vec![
        c(
            "syn-flood-300",
            "300 SYNs from one source in well under a second: exactly 100 pass",
        )
        .custom(syn_flood),
        c(
            "synack-ack-pass",
            "SYN-ACKs, ACKs, RSTs and UDP from a flooding source pass; SYNs with ECE/CWR/PSH drop",
        )
        .custom(others_pass),
        c(
            "other-source-passes",
            "while one source floods, another's 100 SYNs all pass",
        )
        .custom(other_source),
        c(
            "new-window-after-1s",
            "1.1 s after a window opened, a source gets 100 SYNs again",
        )
        .custom(new_window),
        c(
            "cut-syns-not-counted",
            "SYNs cut inside the 20-byte TCP header pass and do not count toward the 100",
        )
        .custom(cut_syns),
        c(
            "ip-options-and-protocol",
            "SYNs behind IPv4 options count; UDP that looks like a SYN and IHL 4 frames do not",
        )
        .custom(options_and_protocol),
    ]
}

fn syn_flood(t: &mut dyn Target) -> Result<Judgement> {
    let s = syn_src(1);
    let (frames, _) = flood(&[group("", 300, move |_| syn(s))]);
    let shot = fire(t, &frames)?;
    within_window(shot.elapsed)?;
    let mut table = Table::default();
    table.input(format!("300 SYNs from {s} within {}", ms(shot.elapsed)));
    table.verdicts(
        "syn ×300",
        &seq(&[(Pass, 100), (Drop, 200)]),
        &shot.verdicts,
    );
    table.counters(2, &exact(&[(0, 200), (1, 100)]), &shot.deltas);
    Ok(table.judge())
}

fn others_pass(t: &mut dyn Target) -> Result<Judgement> {
    let s = syn_src(2);
    let groups = [
        group("syn ×150", 150, move |_| syn(s)),
        group("syn-ack ×20", 20, move |_| tcp(s, SYN | ACK)),
        group("ack ×20", 20, move |_| tcp(s, ACK)),
        group("rst ×20", 20, move |_| tcp(s, RST)),
        group("udp ×20", 20, move |_| udp(s)),
        group("syn with ece, cwr, psh ×10", 10, move |_| {
            tcp(s, SYN | ECE | CWR | PSH)
        }),
    ];
    let expected = [
        seq(&[(Pass, 100), (Drop, 50)]),
        seq(&[(Pass, 20)]),
        seq(&[(Pass, 20)]),
        seq(&[(Pass, 20)]),
        seq(&[(Pass, 20)]),
        seq(&[(Drop, 10)]),
    ];
    let (frames, ranges) = flood(&groups);
    let shot = fire(t, &frames)?;
    within_window(shot.elapsed)?;
    let mut table = Table::default();
    table.input(format!(
        "all from {s}, in this order, within {}",
        ms(shot.elapsed)
    ));
    for ((g, r), e) in groups.iter().zip(&ranges).zip(&expected) {
        table.verdicts(&g.name, e, &shot.verdicts[r.clone()]);
    }
    table.counters(2, &exact(&[(0, 60), (1, 180)]), &shot.deltas);
    Ok(table.judge())
}

fn other_source(t: &mut dyn Target) -> Result<Judgement> {
    let (a, b) = (syn_src(3), syn_src(4));
    let (frames, r) = flood(&[
        group("", 150, move |_| syn(a)),
        group("", 100, move |_| syn(b)),
    ]);
    let shot = fire(t, &frames)?;
    within_window(shot.elapsed)?;
    let mut table = Table::default();
    table.input(format!(
        "150 SYNs from {a}, then 100 from {b}, within {}",
        ms(shot.elapsed)
    ));
    table.verdicts(
        &format!("syn from {a} ×150"),
        &seq(&[(Pass, 100), (Drop, 50)]),
        &shot.verdicts[r[0].clone()],
    );
    table.verdicts(
        &format!("syn from {b} ×100"),
        &seq(&[(Pass, 100)]),
        &shot.verdicts[r[1].clone()],
    );
    table.counters(2, &exact(&[(0, 50), (1, 200)]), &shot.deltas);
    Ok(table.judge())
}

fn new_window(t: &mut dyn Target) -> Result<Judgement> {
    const GAP: Duration = Duration::from_millis(1100);
    let s = syn_src(5);
    let mut table = Table::default();
    let mut first_start: Option<Instant> = None;
    for round in ["first", "second"] {
        if let Some(start) = first_start {
            std::thread::sleep(GAP.saturating_sub(start.elapsed()));
            table.input(format!(
                "second flood starts {} after the first",
                ms(start.elapsed())
            ));
        }
        let start = Instant::now();
        first_start.get_or_insert(start);
        let (frames, _) = flood(&[group("", 120, move |_| syn(s))]);
        let shot = fire(t, &frames)?;
        within_window(shot.elapsed)?;
        table.input(format!(
            "{round} flood: 120 SYNs from {s} within {}",
            ms(shot.elapsed)
        ));
        table.verdicts(
            &format!("{round} flood ×120"),
            &seq(&[(Pass, 100), (Drop, 20)]),
            &shot.verdicts,
        );
        table.counters(2, &exact(&[(0, 20), (1, 100)]), &shot.deltas);
    }
    Ok(table.judge())
}

fn cut_syns(t: &mut dyn Target) -> Result<Judgement> {
    let s = syn_src(6);
    // 19 of the 20 TCP header bytes; the tag still sits in the IPv4 id.
    let (frames, r) = flood(&[
        group("", 100, move |_| syn(s).truncate(14 + 20 + 19)),
        group("", 101, move |_| syn(s)),
    ]);
    let shot = fire(t, &frames)?;
    within_window(shot.elapsed)?;
    let mut table = Table::default();
    table.input(format!("from {s}, within {}", ms(shot.elapsed)));
    table.verdicts(
        "syn cut at 19 TCP bytes ×100",
        &seq(&[(Pass, 100)]),
        &shot.verdicts[r[0].clone()],
    );
    table.verdicts(
        "complete syn ×101",
        &seq(&[(Pass, 100), (Drop, 1)]),
        &shot.verdicts[r[1].clone()],
    );
    // Whether truncated frames are counted in stats[1] is left open.
    table.some_counters(&[(0, 1)], &shot.deltas);
    Ok(table.judge())
}

fn options_and_protocol(t: &mut dyn Target) -> Result<Judgement> {
    let (a, b, c) = (syn_src(7), syn_src(8), syn_src(9));
    let groups = [
        group(format!("syn with ihl 6 from {a} ×101"), 101, move |_| {
            syn(a).ip_options(&[1, 1, 1, 1])
        }),
        group(
            format!("udp reading as syn from {b} ×150"),
            150,
            move |_| udp_like_syn(b),
        ),
        group(format!("syn with ihl 4 from {c} ×150"), 150, move |_| {
            syn(c).ihl(4)
        }),
    ];
    let expected = [
        seq(&[(Pass, 100), (Drop, 1)]),
        seq(&[(Pass, 150)]),
        seq(&[(Pass, 150)]),
    ];
    let (frames, ranges) = flood(&groups);
    let shot = fire(t, &frames)?;
    within_window(shot.elapsed)?;
    let mut table = Table::default();
    table.input(format!("within {}", ms(shot.elapsed)));
    for ((g, r), e) in groups.iter().zip(&ranges).zip(&expected) {
        table.verdicts(&g.name, e, &shot.verdicts[r.clone()]);
    }
    table.counters(2, &exact(&[(0, 1), (1, 400)]), &shot.deltas);
    Ok(table.judge())
}

pub(crate) fn ddos_checks() -> Vec<Check> {
    let c = |name: &str, desc: &str| Check::new(ID, "ddos_guard", name, desc);
    vec![
        c(
            "blocklist-first",
            "blocklisted sources are dropped into stats[4] and spend no tokens",
        )
        .custom(blocklist),
        c(
            "rate-limit",
            "1500 packets from one source within T ms: 1000 to 1000+T+50 pass",
        )
        .custom(rate_limit),
        c(
            "syn-window",
            "150 SYNs: 100 pass, 50 dropped into stats[3]; SYN-ACKs and UDP pass",
        )
        .custom(syn_window),
        c(
            "rate-drops-skip-syn-window",
            "SYNs dropped by the rate limit do not use up the source's 100 SYNs",
        )
        .custom(rate_then_window),
        c(
            "non-ipv4-and-truncated",
            "ARP, IPv6 and cut IPv4 frames pass; no drop counter moves",
        )
        .custom(non_ipv4),
    ]
}

/// Blocklists `src` with a value of the map's own size filled with `fill`.
fn blocklist_add(t: &mut dyn Target, src: Ipv4Addr, fill: u8) -> Result<()> {
    let maps = t.program().maps().hash_maps()?;
    // Unknown size (no such map): insert anyway, for the harness's own missing-map message.
    let size = maps
        .iter()
        .find(|m| m.name == "blacklist")
        .map_or(4, |m| m.value_size);
    t.program().maps().hash_insert(
        "blacklist",
        u32::from_ne_bytes(src.octets()),
        &vec![fill; size],
    )
}

fn blocklist(t: &mut dyn Target) -> Result<Judgement> {
    let (a, b) = (ddos_src(1), ddos_src(2));
    blocklist_add(t, a, 0)?;
    blocklist_add(t, b, 1)?;
    let mut table = Table::default();
    table.input(format!(
        "blacklist: {a} (value all zero bytes), {b} (all 0x01)"
    ));
    let (frames, r) = flood(&[
        group("", 1100, move |_| udp(a)),
        group("", 150, move |_| syn(b)),
    ]);
    let shot = fire(t, &frames)?;
    table.verdicts(
        &format!("udp from {a} ×1100"),
        &seq(&[(Drop, 1100)]),
        &shot.verdicts[r[0].clone()],
    );
    table.verdicts(
        &format!("syn from {b} ×150"),
        &seq(&[(Drop, 150)]),
        &shot.verdicts[r[1].clone()],
    );
    table.counters(5, &exact(&[(0, 1250), (4, 1250)]), &shot.deltas);

    t.program()
        .maps()
        .hash_remove("blacklist", u32::from_ne_bytes(a.octets()))?;
    table.input(format!(
        "{a} removed from the blacklist; its bucket must still be full"
    ));
    let (frames, _) = flood(&[group("", 1000, move |_| udp(a))]);
    let shot = fire(t, &frames)?;
    table.verdicts(
        &format!("udp from {a} ×1000"),
        &seq(&[(Pass, 1000)]),
        &shot.verdicts,
    );
    table.counters(5, &exact(&[(0, 1000), (1, 1000)]), &shot.deltas);
    Ok(table.judge())
}

fn rate_limit(t: &mut dyn Target) -> Result<Judgement> {
    let s = ddos_src(3);
    let (frames, _) = flood(&[group("", 1500, move |_| udp(s))]);
    let shot = fire(t, &frames)?;
    let mut table = Table::default();
    table.input(format!(
        "1500 UDP packets from {s} sent within T = {}",
        ms(shot.elapsed)
    ));
    let hi = 1000 + ms_ceil(shot.elapsed) + 50;
    let passed = shot.passed(0..1500) as u64;
    table.passed_in("udp ×1500", 1000, format!("⟨{hi}⟩"), hi, passed);
    let counters = BTreeMap::from([
        (0, Want::Exact(1500)),
        (1, Want::Seen(passed)),
        (2, Want::Seen(1500 - passed)),
    ]);
    table.counters(5, &counters, &shot.deltas);
    Ok(table.judge())
}

fn syn_window(t: &mut dyn Target) -> Result<Judgement> {
    let s = ddos_src(4);
    let groups = [
        group("syn ×150", 150, move |_| syn(s)),
        group("syn-ack ×20", 20, move |_| tcp(s, SYN | ACK)),
        group("udp ×20", 20, move |_| udp(s)),
    ];
    let expected = [
        seq(&[(Pass, 100), (Drop, 50)]),
        seq(&[(Pass, 20)]),
        seq(&[(Pass, 20)]),
    ];
    let (frames, ranges) = flood(&groups);
    let shot = fire(t, &frames)?;
    within_window(shot.elapsed)?;
    let mut table = Table::default();
    table.input(format!("all from {s}, within {}", ms(shot.elapsed)));
    for ((g, r), e) in groups.iter().zip(&ranges).zip(&expected) {
        table.verdicts(&g.name, e, &shot.verdicts[r.clone()]);
    }
    table.counters(5, &exact(&[(0, 190), (1, 140), (3, 50)]), &shot.deltas);
    Ok(table.judge())
}

/// 1000 UDP packets empty the bucket, so the 400 SYNs right behind them are rate-limited, bar
/// the k ≤ T+50 that find a refilled token. 200 ms later the bucket holds enough for 100 more
/// SYNs, and the window has seen only those k: at least 100 − (T+50) of them pass. A program
/// that counts rate-limited SYNs in the window has used up the 100 already and drops them all.
fn rate_then_window(t: &mut dyn Target) -> Result<Judgement> {
    const REST: Duration = Duration::from_millis(200);
    let s = ddos_src(5);
    let (frames, r) = flood(&[
        group("", 1000, move |_| udp(s)),
        group("", 400, move |_| syn(s)),
    ]);
    let start = Instant::now();
    let first = fire(t, &frames)?;
    let ended = Instant::now();
    std::thread::sleep(REST);
    let rest = ended.elapsed();
    let (frames, _) = flood(&[group("", 100, move |_| syn(s))]);
    let second = fire(t, &frames)?;
    within_window(start.elapsed())?;

    let k_max = ms_ceil(first.elapsed) + 50;
    let mut table = Table::default();
    table.input(format!(
        "from {s}: 1000 UDP then 400 SYNs within T = {}",
        ms(first.elapsed)
    ));
    table.verdicts(
        "udp ×1000",
        &seq(&[(Pass, 1000)]),
        &first.verdicts[r[0].clone()],
    );
    let k = first.passed(r[1].clone()) as u64;
    table.passed_in(
        "syn ×400 (a token each only by refill)",
        0,
        format!("⟨{k_max}⟩"),
        k_max,
        k,
    );
    table.counters(
        5,
        &BTreeMap::from([
            (0, Want::Exact(1400)),
            (1, Want::Seen(1000 + k)),
            (2, Want::Seen(400 - k)),
        ]),
        &first.deltas,
    );
    table.input(format!(
        "then, {} later, 100 more SYNs within {}",
        ms(rest),
        ms(second.elapsed)
    ));
    let lo = 100u64.saturating_sub(k_max);
    let passed = second.passed(0..100) as u64;
    let bounds = format!("PASS ⟨{lo}⟩..=100");
    let got = if passed >= lo {
        format!("{bounds}: yes")
    } else {
        format!("{bounds}: no, {passed} passed")
    };
    table.row("syn ×100", format!("{bounds}: yes"), got);
    table.counters(
        5,
        &BTreeMap::from([
            (0, Want::Exact(100)),
            (1, Want::Seen(passed)),
            (3, Want::Seen(100 - passed)),
        ]),
        &second.deltas,
    );
    Ok(table.judge())
}

fn non_ipv4(t: &mut dyn Target) -> Result<Judgement> {
    let s = ddos_src(6);
    let groups = [
        group("arp ×20", 20, arp),
        group("ipv6 ×20", 20, |_| ipv6()),
        group(
            format!("ipv4 from {s} cut at 24 bytes ×20"),
            20,
            move |_| udp(s).truncate(24),
        ),
    ];
    let (frames, ranges) = flood(&groups);
    let shot = fire(t, &frames)?;
    let mut table = Table::default();
    for (g, r) in groups.iter().zip(&ranges) {
        table.verdicts(&g.name, &seq(&[(Pass, 20)]), &shot.verdicts[r.clone()]);
    }
    table.some_counters(&[(2, 0), (3, 0), (4, 0)], &shot.deltas);
    Ok(table.judge())
}
