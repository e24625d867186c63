//! `rate_limiter`: a token bucket per IPv4 source, 1000 tokens, refilled at 1000 per second.
//!
//! A burst of n frames sent within T ms may pass anything from 1000 (a full bucket) to
//! 1000 + T + 50 (a full bucket plus one token per elapsed millisecond, plus 50 of slack for
//! frames the program saw a little later than they were sent).

use std::{collections::BTreeMap, net::Ipv4Addr, time::Duration, time::Instant};

use harness::{Check, Result, Verdict::Pass, target::Target};

use crate::{
    Group, ID, arp,
    drive::{Table, Want, fire, ms, ms_ceil, seq},
    flood, group, ipv6, udp,
};

const CAPACITY: u64 = 1000;
const SLACK: u64 = 50;

fn src(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 1, n)
}

/// The upper bound on passes for a flood that took `elapsed`.
fn bound(elapsed: Duration) -> u64 {
    CAPACITY + ms_ceil(elapsed) + SLACK
}

/// Adds the row for a flood group judged by the bucket's range, and returns how many passed.
fn bucket_row(t: &mut Table, name: &str, elapsed: Duration, passed: usize) -> u64 {
    let hi = bound(elapsed);
    t.passed_in(name, CAPACITY, format!("⟨{hi}⟩"), hi, passed as u64);
    passed as u64
}

fn check(name: &str, description: &str) -> Check {
    Check::new(ID, "rate_limiter", name, description)
}

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check(
            "burst-1500",
            "1500 packets from one source within T ms: 1000 to 1000+T+50 pass",
        )
        .custom(burst),
        check(
            "second-source-untouched",
            "while one source is limited, another one's 200 packets all pass",
        )
        .custom(second_source),
        check(
            "refill-after-quiet",
            "after 1.1 s of quiet a limited source has a full bucket again",
        )
        .custom(refill),
        check(
            "non-ipv4-not-limited",
            "1100 each of ARP, IPv6 and cut IPv4 frames all pass, none counted as dropped",
        )
        .custom(non_ipv4),
        check(
            "state-map-entries",
            "per-source state: 5 new sources add 5 entries to the HASH/LRU_HASH maps",
        )
        .custom(state_entries),
    ]
}

fn burst(t: &mut dyn Target) -> Result<harness::check::Judgement> {
    let a = src(1);
    let (frames, _) = flood(&[group(format!("udp from {a}"), 1500, move |_| udp(a))]);
    let shot = fire(t, &frames)?;
    let mut table = Table::default();
    table.input(format!(
        "1500 UDP packets from {a} sent within T = {} (⟨{:.0}⟩ frames/s)",
        ms(shot.elapsed),
        1500.0 / shot.elapsed.as_secs_f64()
    ));
    let passed = bucket_row(
        &mut table,
        &format!("udp from {a} ×1500"),
        shot.elapsed,
        shot.passed(0..1500),
    );
    let counters = BTreeMap::from([(0, Want::Seen(1500 - passed)), (1, Want::Seen(passed))]);
    table.counters(2, &counters, &shot.deltas);
    Ok(table.judge())
}

fn second_source(t: &mut dyn Target) -> Result<harness::check::Judgement> {
    let (a, b) = (src(2), src(3));
    let (frames, r) = flood(&[
        group("", 1200, move |_| udp(a)),
        group("", 200, move |_| udp(b)),
    ]);
    let shot = fire(t, &frames)?;
    let mut table = Table::default();
    table.input(format!(
        "1200 packets from {a}, then 200 from {b}, within T = {}",
        ms(shot.elapsed)
    ));
    let pa = bucket_row(
        &mut table,
        &format!("udp from {a} ×1200"),
        shot.elapsed,
        shot.passed(r[0].clone()),
    );
    table.verdicts(
        &format!("udp from {b} ×200"),
        &seq(&[(Pass, 200)]),
        &shot.verdicts[r[1].clone()],
    );
    let pb = shot.passed(r[1].clone()) as u64;
    let counters = BTreeMap::from([(0, Want::Seen(1400 - pa - pb)), (1, Want::Seen(pa + pb))]);
    table.counters(2, &counters, &shot.deltas);
    Ok(table.judge())
}

fn refill(t: &mut dyn Target) -> Result<harness::check::Judgement> {
    const QUIET: Duration = Duration::from_millis(1100);
    let a = src(4);
    let mut table = Table::default();
    let mut end_of_first = None;
    for round in ["first", "second"] {
        if let Some(end) = end_of_first {
            std::thread::sleep(QUIET.saturating_sub(Instant::now() - end));
            table.input(format!("quiet for {}", ms(Instant::now() - end)));
        }
        let (frames, _) = flood(&[group("", 1200, move |_| udp(a))]);
        let shot = fire(t, &frames)?;
        end_of_first = Some(Instant::now());
        table.input(format!(
            "{round} burst: 1200 packets from {a} within T = {}",
            ms(shot.elapsed)
        ));
        bucket_row(
            &mut table,
            &format!("{round} burst ×1200"),
            shot.elapsed,
            shot.passed(0..1200),
        );
        let counters = BTreeMap::from([
            (0, Want::Seen(1200 - (shot.passed(0..1200) as u64))),
            (1, Want::Seen(shot.passed(0..1200) as u64)),
        ]);
        table.counters(2, &counters, &shot.deltas);
    }
    Ok(table.judge())
}

fn non_ipv4(t: &mut dyn Target) -> Result<harness::check::Judgement> {
    const N: usize = 1100;
    let cut_src = src(5);
    let groups: Vec<Group> = vec![
        group("arp", N, arp),
        group("ipv6", N, |_| ipv6()),
        // Cut inside the IPv4 header: truncated, not IPv4 in the contract's sense.
        group(
            format!("ipv4 from {cut_src} cut at 24 bytes"),
            N,
            move |_| udp(cut_src).truncate(24),
        ),
    ];
    let (frames, ranges) = flood(&groups);
    let shot = fire(t, &frames)?;
    let mut table = Table::default();
    table.input(format!(
        "{} frames within T = {}",
        frames.len(),
        ms(shot.elapsed)
    ));
    for (g, r) in groups.iter().zip(&ranges) {
        table.verdicts(
            &format!("{} ×{N}", g.name),
            &seq(&[(Pass, N)]),
            &shot.verdicts[r.clone()],
        );
    }
    table.some_counters(&[(0, 0)], &shot.deltas);
    Ok(table.judge())
}

fn state_entries(t: &mut dyn Target) -> Result<harness::check::Judgement> {
    const NEW: usize = 5;
    let before = per_source_maps(t)?;
    let sources: Vec<Ipv4Addr> = (0..NEW).map(|i| src(10 + i as u8)).collect();
    let s2 = sources.clone();
    let (frames, _) = flood(&[group("", NEW, move |i| udp(s2[i]))]);
    let shot = fire(t, &frames)?;
    let after = per_source_maps(t)?;
    let mut table = Table::default();
    let names: Vec<String> = after
        .iter()
        .map(|m| format!("{} ({}, {}-byte values)", m.name, m.kind, m.value_size))
        .collect();
    table.input(format!(
        "maps with 4-byte keys: {}",
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    ));
    let count =
        |maps: &[harness::maps::HashMapSummary]| maps.iter().map(|m| m.entries).sum::<usize>();
    table.input(format!(
        "entries before: ⟨{}⟩, after: ⟨{}⟩",
        count(&before),
        count(&after)
    ));
    table.input(format!(
        "one packet each from {}",
        sources
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    table.verdicts("packets", &seq(&[(Pass, NEW)]), &shot.verdicts);
    let added = count(&after) as i64 - count(&before) as i64;
    table.row("entries added", format!("+{NEW}"), format!("{added:+}"));
    Ok(table.judge())
}

/// The maps that can hold per-source state: HASH or LRU_HASH (plain or per-CPU) with 4-byte keys,
/// except the `blacklist` the harness fills for `ddos_guard`.
fn per_source_maps(t: &mut dyn Target) -> Result<Vec<harness::maps::HashMapSummary>> {
    let maps = t.program().maps().hash_maps()?;
    let found: Vec<_> = maps
        .into_iter()
        .filter(|m| m.key_size == 4 && m.name != "blacklist")
        .collect();
    Ok(found)
}
