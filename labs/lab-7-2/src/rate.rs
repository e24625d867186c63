//! `rate_limiter`: a token bucket per IPv4 source, 1000 tokens, refilled at 1000 per second.
//!
//! A burst of n frames sent within T ms may pass anything from 1000 (a full bucket) to
//! 1000 + T + 50 (a full bucket plus one token per elapsed millisecond, plus 50 of slack for
//! frames the program saw a little later than they were sent).

use std::{net::Ipv4Addr, time::Duration};

use harness::{
    Bound, Check, Expect, Flood, Hint, Pause, Volley,
    Want::{Dropped, Exact, Passed},
};
use kernel::Verdict::{Aborted, Drop, Pass, Tx};

use crate::{
    Free, RATE_LIMITER, STATS, Stat,
    bucket::{Count, Pace, Segment, Spend, Trace},
    twins,
};

const CAPACITY: u64 = 1000;
const SLACK: u64 = 50;

/// What a full bucket passes of a flood: its capacity, plus the refill while the flood lasted.
pub(crate) fn bucket() -> Expect {
    bucket_holding(CAPACITY)
}

/// What a bucket holding `tokens` passes of a flood: those, plus the refill while it lasted.
pub(crate) fn bucket_holding(tokens: u64) -> Expect {
    Expect::Passes {
        lo: Bound::Fixed(tokens),
        hi: Bound::refill(tokens, SLACK),
    }
}

/// Every frame either passed into stats[1] or was dropped into stats[0].
fn counted(volley: Volley) -> Volley {
    volley
        .counter_width(2)
        .counter(Stat::Dropped, Dropped)
        .counter(Stat::Passed, Passed)
}

fn check(name: &str, description: &str) -> Check {
    RATE_LIMITER
        .check(name, description)
        .hint(Hint::any_row(
            Drop,
            Tx,
            "frames over the limit were sent back out (XDP_TX): the contract drops them, \
             return XDP_DROP",
        ))
        .hint(Hint::any_row(
            Drop,
            Aborted,
            "frames over the limit got XDP_ABORTED, which reports a program error: the \
             contract drops them, return XDP_DROP",
        ))
}

pub(crate) fn checks(f: &Free) -> Vec<Check> {
    let net = f.net(1);
    let src = |n| Ipv4Addr::new(198, 18, net, n);
    let (a, b, c) = (src(1), src(2), src(3));
    // Another network, with the same last octet as `b`: a bucket keyed on part of the address
    // mixes them up.
    let far = Ipv4Addr::new(198, 19, net, 2);
    // And one that differs from `b` in the first octet only.
    let first_octet = Ipv4Addr::new(199, 18, net, 2);
    let refilled = src(4);
    let streamed = src(6);
    let new: Vec<Ipv4Addr> = (0..5).map(|i| src(10 + i)).collect();
    let listed = new
        .iter()
        .map(Ipv4Addr::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        check(
            "burst-1500",
            "1500 packets from one source within T ms: 1000 to 1000+T+50 pass",
        )
        .flood(
            Flood::new(STATS).volley(counted(
                Volley::new(format!(
                    "1500 packets from {a} (UDP, TCP, ICMP; to varied addresses and ports)"
                ))
                .group(format!("from {a}"), 1500, |i| f.packet(a, i), bucket()),
            )),
        ),
        check(
            "second-source-untouched",
            "while one source is limited, others' 200 packets each all pass",
        )
        .flood(
            Flood::new(STATS).volley(counted(
                Volley::new(format!(
                    "1200 packets from {b}, then 200 each from {c}, {far} and {first_octet}"
                ))
                .group(format!("from {b}"), 1200, |i| f.packet(b, i), bucket())
                .group(
                    format!("from {c}"),
                    200,
                    |i| f.packet(c, i),
                    Expect::All(Pass),
                )
                .group(
                    format!("from {far}"),
                    200,
                    |i| f.packet(far, i),
                    Expect::All(Pass),
                )
                .group(
                    format!("from {first_octet}"),
                    200,
                    |i| f.packet(first_octet, i),
                    Expect::All(Pass),
                ),
            )),
        ),
        check(
            "refill-after-quiet",
            "after 1.1 s of quiet a limited source has a full bucket again",
        )
        .flood(
            Flood::new(STATS)
                .volley(counted(
                    Volley::new(format!("first burst: 1200 packets from {refilled}")).group(
                        "first burst",
                        1200,
                        |i| f.packet(refilled, i),
                        bucket(),
                    ),
                ))
                .volley(counted(
                    Volley::new(format!("second burst: 1200 packets from {refilled}"))
                        .after(Pause::Quiet(Duration::from_millis(1100)))
                        .group("second burst", 1200, |i| f.packet(refilled, i), bucket()),
                )),
        ),
        check(
            "steady-stream",
            "half drained and left idle, then streams at and above the refill rate: every \
             verdict fits the bucket",
        )
        .custom({
            let trace = stream(f, streamed);
            move |t| trace.judge(t)
        }),
        check(
            "non-ipv4-not-limited",
            "1100 each of ARP, IPv6 and cut IPv4 frames all pass, none counted as dropped",
        )
        .flood(
            Flood::new(STATS).volley(
                f.non_ipv4_groups(Volley::new("3300 frames"), 1100, src(5))
                    .counter(Stat::Dropped, Exact(0)),
            ),
        ),
        check(
            "state-map-entries",
            "per-source state: 5 new sources add 5 entries to the HASH/LRU_HASH maps (not per-CPU)",
        )
        .flood(
            Flood::new(STATS).volley(
                Volley::new(format!("one packet each from {listed}"))
                    .group("packets", 5, |i| f.packet(new[i], i), Expect::All(Pass))
                    // The maps that can hold per-source state: HASH or LRU_HASH with 4-byte
                    // keys, except the blocklist the harness fills. Not per-CPU: a source's
                    // bucket is one for all CPUs.
                    .adds_entries(
                        "HASH/LRU_HASH maps (not per-CPU) with 4-byte keys",
                        5,
                        |m| m.key_size == 4 && m.name != "blacklist" && !m.kind.contains("PERCPU"),
                    ),
            ),
        ),
        // Passed or dropped, every run counted once; each CPU on its own source's bucket.
        harness::cpus::counts_from_2_cpus_apart(
            RATE_LIMITER.lab,
            RATE_LIMITER.program,
            STATS,
            twins((0..4).map(|i| f.packet(src(30), i)).collect(), src(31)),
            (1, Some(Stat::Passed.into())),
        ),
    ]
}

/// A fresh source half drains its bucket, stays quiet long enough to fill it again (but no
/// more than full), empties it, and then streams at twice and at once the refill rate.
fn stream(f: &Free, src: Ipv4Addr) -> Trace {
    let by_verdict = |name: &str, n: usize, pace: Pace| {
        Segment::new(
            format!("{name} from {src}"),
            n,
            |i| f.packet(src, i),
            pace,
            Spend::ByVerdict,
        )
    };
    Trace {
        segments: vec![
            by_verdict("half a bucket", 500, Pace::Burst),
            by_verdict("after the quiet, a burst", 1500, Pace::Burst)
                .after_quiet(Duration::from_millis(600)),
            by_verdict("twice the refill rate", 600, Pace::PerMs(2.0)),
            by_verdict("at the refill rate", 200, Pace::PerMs(1.0)),
        ],
        width: 2,
        counters: vec![(0, Count::BucketDropped), (1, Count::Passed)],
    }
}
