//! Lab 7.2 against C programs built with clang: the correct one passes everything in every
//! mode; each deliberately wrong one is flagged by exactly the checks its mistake breaks.
//! The mistakes are described in programs/ddos.c. Most run in test-run mode (the timing checks
//! work there too, on the kernel's clock); the SYN-ACK mistakes also run natively, where a real
//! TCP client rejects the broken SYN-ACK.

use std::{collections::BTreeSet, path::Path};

use harness::{Report, Status, testing};
use kernel::{FailureClass, Mode, XdpObject};

fn build(defines: &[&str]) -> XdpObject {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/ddos.c");
    testing::build_c(&source, defines, Path::new(env!("CARGO_TARGET_TMPDIR")))
}

fn run(object: &XdpObject, mode: Mode, program: Option<&str>) -> Report {
    testing::run(&lab_7_2::lab(0), object, mode, program)
}

/// Asserts that the mutant fails exactly `expected` (ids without the `7.2/` prefix), all as
/// behaviour failures.
fn flagged(define: &str, mode: Mode, program: Option<&str>, expected: &[&str]) {
    testing::assert_flagged(&run(&build(&[define]), mode, program), define, expected);
}

/// Asserts that the mutant is charged with every check in `must` and with nothing outside
/// `must` and `may`: for timing mistakes whose other effects depend on where the run falls on
/// the clock (a flood crossing a whole second, a burst slow enough to have earned a token).
fn flagged_among(define: &str, mode: Mode, must: &[&str], may: &[&str]) {
    let object = build(&[define]);
    let id = |c: &harness::report::CheckResult| c.id.trim_start_matches("7.2/").to_owned();
    // A check this run could not judge (a machine too slow for the clock) may stand in for
    // one of `must`, as in `testing::assert_flagged`; at least one is charged. A run in which
    // every one of `must` went unjudged and nothing was charged proved nothing: run again, up
    // to three runs (the harness's own tries, for the whole report).
    let mut runs = 0;
    let (report, charged, unverified) = loop {
        runs += 1;
        let report = run(&object, mode, None);
        let with = |status: Status| -> BTreeSet<String> {
            report
                .checks
                .iter()
                .filter(|c| c.status == status)
                .map(id)
                .collect()
        };
        let charged = with(Status::Fail(FailureClass::Behaviour));
        let unverified = with(Status::Unverified);
        if runs < 3 && charged.is_empty() && must.iter().all(|m| unverified.contains(*m)) {
            continue;
        }
        break (report, charged, unverified);
    };
    let other: Vec<String> = report
        .checks
        .iter()
        .filter(|c| {
            !c.passed
                && !matches!(
                    c.status,
                    Status::Fail(FailureClass::Behaviour) | Status::Unverified
                )
        })
        .map(id)
        .collect();
    let text = report.to_text();
    assert!(
        other.is_empty(),
        "{define}: failed for other reasons: {other:?}\n{text}"
    );
    for m in must {
        assert!(
            charged.contains(*m) || unverified.contains(*m),
            "{define}: {m} not charged\n{text}"
        );
    }
    assert!(!charged.is_empty(), "{define}: nothing was charged\n{text}");
    let allowed: BTreeSet<&str> = must.iter().chain(may).copied().collect();
    let beyond: Vec<&String> = charged
        .iter()
        .filter(|c| !allowed.contains(c.as_str()))
        .collect();
    assert!(
        beyond.is_empty(),
        "{define}: also charged {beyond:?}\n{text}"
    );
}

/// Every syn_guard check: a window that never limits, or limits one SYN early, fails them all.
const SYN_GUARD: [&str; 8] = [
    "syn_guard/syn-flood-300",
    "syn_guard/synack-ack-pass",
    "syn_guard/other-source-passes",
    "syn_guard/new-window-after-1s",
    "syn_guard/window-from-first-syn",
    "syn_guard/cut-syns-not-counted",
    "syn_guard/ip-options-and-protocol",
    "syn_guard/window-opened-by-syn",
];

/// The rate_limiter checks that see which source a packet is charged to: a bucket keyed on
/// anything else (the destination, or whether it has a transport header) fails them all.
const RATE_LIMITER_PER_SOURCE: [&str; 5] = [
    "rate_limiter/burst-1500",
    "rate_limiter/second-source-untouched",
    "rate_limiter/refill-after-quiet",
    "rate_limiter/steady-stream",
    "rate_limiter/state-map-entries",
];

/// The ddos_guard checks whose floods fill a SYN window.
const DDOS_WINDOWS: [&str; 4] = [
    "ddos_guard/syn-window",
    "ddos_guard/rate-drops-skip-syn-window",
    "ddos_guard/window-drops-spend-tokens",
    "ddos_guard/after-quiet",
];

#[test]
fn correct_c_program_passes_native() {
    let report = run(&build(&[]), Mode::Native, None);
    // The contract's 1 ms token clock: a slow machine (a VM) may leave a flood unverified.
    testing::assert_nothing_charged(&report);
}

#[test]
fn correct_c_program_passes_generic() {
    let report = run(&build(&[]), Mode::Generic, None);
    // The contract's 1 ms token clock: a slow machine (a VM) may leave a flood unverified.
    testing::assert_nothing_charged(&report);
}

#[test]
fn correct_c_program_passes_test_run() {
    let report = run(&build(&[]), Mode::TestRun, None);
    // In a VM one test run costs ~0.5 ms: a 1500-frame flood can outlast the token clock too.
    testing::assert_nothing_charged(&report);
}

#[test]
fn bucket_never_refills() {
    flagged_among(
        "BUG_NO_REFILL",
        Mode::TestRun,
        &[
            "rate_limiter/refill-after-quiet",
            "rate_limiter/steady-stream",
            "ddos_guard/rate-drops-skip-syn-window",
            "ddos_guard/after-quiet",
        ],
        // A burst slow enough to earn a token loses it.
        &["ddos_guard/window-drops-spend-tokens"],
    );
}

#[test]
fn capacity_off_by_ten() {
    flagged(
        "BUG_CAPACITY_X10",
        Mode::TestRun,
        None,
        &[
            "rate_limiter/burst-1500",
            "rate_limiter/second-source-untouched",
            "rate_limiter/refill-after-quiet",
            "rate_limiter/steady-stream",
            "ddos_guard/rate-limit",
            "ddos_guard/rate-drops-skip-syn-window",
            "ddos_guard/window-drops-spend-tokens",
            "ddos_guard/after-quiet",
        ],
    );
}

#[test]
fn one_global_bucket() {
    flagged(
        "BUG_GLOBAL_BUCKET",
        Mode::TestRun,
        None,
        &[
            "rate_limiter/second-source-untouched",
            "rate_limiter/refill-after-quiet",
            "rate_limiter/steady-stream",
            "rate_limiter/state-map-entries",
            "ddos_guard/rate-limit",
            "ddos_guard/syn-window",
            "ddos_guard/rate-drops-skip-syn-window",
            "ddos_guard/window-drops-spend-tokens",
            "ddos_guard/after-quiet",
            // The one bucket is spent by the checks before it.
            "ddos_guard/own-state",
        ],
    );
}

/// A bucket per destination: one source's flood, spread over several destinations, is never
/// limited.
#[test]
fn bucket_per_destination() {
    flagged(
        "BUG_RATE_KEY_DST",
        Mode::TestRun,
        None,
        &RATE_LIMITER_PER_SOURCE,
    );
}

/// A SYN window per source and destination port: a flood to several ports is never limited.
#[test]
fn syn_window_per_port() {
    flagged("BUG_SYN_KEY_PORT", Mode::TestRun, None, &SYN_GUARD);
}

#[test]
fn syn_acks_counted_as_syns() {
    flagged(
        "BUG_SYNACK_AS_SYN",
        Mode::TestRun,
        None,
        // Also the SYN-ACKs before a source's SYNs in other-source-passes.
        &[
            "syn_guard/synack-ack-pass",
            "syn_guard/other-source-passes",
            "ddos_guard/syn-window",
        ],
    );
}

#[test]
fn window_never_resets() {
    flagged(
        "BUG_WINDOW_NEVER_RESETS",
        Mode::TestRun,
        None,
        &[
            "syn_guard/new-window-after-1s",
            "syn_guard/window-ends-at-1s",
            "ddos_guard/after-quiet",
        ],
    );
}

#[test]
fn off_by_one_at_the_threshold() {
    flagged(
        "BUG_SYN_OFF_BY_ONE",
        Mode::TestRun,
        None,
        // rate-drops-skip-syn-window's bound, 100 − k, is exact: 99 per window fall short of it.
        &[
            SYN_GUARD.as_slice(),
            &[
                "syn_guard/window-ends-at-1s",
                "ddos_guard/syn-window",
                "ddos_guard/rate-drops-skip-syn-window",
                "ddos_guard/window-drops-spend-tokens",
                "ddos_guard/after-quiet",
                "ddos_guard/own-state",
            ],
        ]
        .concat(),
    );
}

#[test]
fn blocklist_key_in_host_order() {
    flagged(
        "BUG_BLACKLIST_HOST_ORDER",
        Mode::TestRun,
        None,
        &["ddos_guard/blocklist-first"],
    );
}

#[test]
fn blocklisted_packets_spend_tokens() {
    flagged(
        "BUG_RATE_BEFORE_BLOCKLIST",
        Mode::TestRun,
        None,
        &["ddos_guard/blocklist-first"],
    );
}

#[test]
fn rate_limited_syns_enter_the_window() {
    flagged(
        "BUG_RATE_DROP_IN_WINDOW",
        Mode::TestRun,
        None,
        &[
            "ddos_guard/blocklist-first",
            "ddos_guard/rate-drops-skip-syn-window",
        ],
    );
}

#[test]
fn syn_ack_tcp_checksum_not_fixed() {
    flagged(
        "BUG_SYNACK_NO_TCP_CSUM",
        Mode::TestRun,
        None,
        &["syn_cookie/syn-ack-checksums"],
    );
}

/// A real client drops a SYN-ACK with a bad checksum and never connects.
#[test]
fn syn_ack_tcp_checksum_not_fixed_native() {
    flagged(
        "BUG_SYNACK_NO_TCP_CSUM",
        Mode::Native,
        Some("syn_cookie"),
        &["syn_cookie/syn-ack-checksums", "syn_cookie/real-client"],
    );
}

#[test]
fn ack_set_to_seq() {
    flagged(
        "BUG_ACK_EQUALS_SEQ",
        Mode::TestRun,
        None,
        // A SYN-ACK that does not acknowledge the SYN answers nothing: no checksum or cookie
        // check credits it.
        &[
            "syn_cookie/syn-ack-rewrite",
            "syn_cookie/syn-ack-checksums",
            "syn_cookie/cookie-handshake",
            "syn_cookie/forged-acks-dropped",
        ],
    );
}

/// A real client rejects a SYN-ACK that does not acknowledge its SYN.
#[test]
fn ack_set_to_seq_generic() {
    flagged(
        "BUG_ACK_EQUALS_SEQ",
        Mode::Generic,
        Some("syn_cookie"),
        &[
            "syn_cookie/syn-ack-rewrite",
            "syn_cookie/syn-ack-checksums",
            "syn_cookie/cookie-handshake",
            "syn_cookie/forged-acks-dropped",
            "syn_cookie/real-client",
        ],
    );
}

#[test]
fn syn_ack_not_trimmed() {
    flagged(
        "BUG_NO_TRIM",
        Mode::TestRun,
        None,
        &["syn_cookie/syn-ack-rewrite"],
    );
}

#[test]
fn any_bare_ack_accepted() {
    flagged(
        "BUG_ACCEPT_ANY_ACK",
        Mode::TestRun,
        None,
        &["syn_cookie/forged-acks-dropped"],
    );
}

/// A program that sends the SYN back unchanged gets valid checksums and a TX verdict, but no
/// SYN-ACK answers the SYN: the checksum and cookie checks must not credit the echo.
#[test]
fn syn_echoed_back() {
    flagged(
        "BUG_ECHO_SYN",
        Mode::TestRun,
        Some("syn_cookie"),
        &[
            "syn_cookie/syn-ack-rewrite",
            "syn_cookie/syn-ack-checksums",
            "syn_cookie/cookie-handshake",
            "syn_cookie/forged-acks-dropped",
            // It also echoes the cut SYNs, which must pass.
            "syn_cookie/other-traffic-passes",
        ],
    );
}

/// A SYN-ACK whose seq is no cookie: the kernel rejects it, and so does the program's own check
/// of the ACK that returns it.
#[test]
fn constant_cookie() {
    flagged(
        "BUG_CONSTANT_COOKIE",
        Mode::TestRun,
        Some("syn_cookie"),
        &["syn_cookie/syn-ack-rewrite", "syn_cookie/cookie-handshake"],
    );
}

/// A bucket whose clock restarts on every packet refills nothing under a stream of one packet
/// every half millisecond.
#[test]
fn bucket_clock_restarts() {
    flagged_among(
        "BUG_CLOCK_RESET",
        Mode::TestRun,
        &["rate_limiter/steady-stream"],
        // A burst slow enough to earn a token loses it as well.
        &[
            "ddos_guard/window-drops-spend-tokens",
            "ddos_guard/after-quiet",
        ],
    );
}

/// Refilled only once empty, a half-drained bucket left idle holds more than 1000 tokens.
#[test]
fn bucket_refills_only_when_empty() {
    flagged_among(
        "BUG_REFILL_WHEN_EMPTY",
        Mode::TestRun,
        &["rate_limiter/steady-stream"],
        &[
            "ddos_guard/window-drops-spend-tokens",
            "ddos_guard/after-quiet",
        ],
    );
}

#[test]
fn window_aligned_to_whole_seconds() {
    flagged_among(
        "BUG_WINDOW_WALL_CLOCK",
        Mode::TestRun,
        &["syn_guard/window-from-first-syn"],
        // Any other flood, or window check, may happen to cross a whole second.
        &[
            SYN_GUARD.as_slice(),
            &DDOS_WINDOWS,
            &["syn_guard/window-ends-at-1s"],
        ]
        .concat(),
    );
}

#[test]
fn window_restarted_by_each_syn() {
    flagged_among(
        "BUG_WINDOW_SLIDES",
        Mode::TestRun,
        &["syn_guard/new-window-after-1s"],
        // Its last SYN comes 1.01 s after the first was decided: less than 1 s after the 100th
        // when the 99 took over 10 ms.
        &["syn_guard/window-ends-at-1s"],
    );
}

#[test]
fn token_given_back_on_window_drop() {
    flagged(
        "BUG_TOKEN_REFUND",
        Mode::TestRun,
        None,
        &[
            "ddos_guard/window-drops-spend-tokens",
            "ddos_guard/after-quiet",
        ],
    );
}

/// ACKs and RSTs before a source's SYNs use up its window.
#[test]
fn window_counts_every_segment() {
    flagged(
        "BUG_WINDOW_COUNTS_ALL_TCP",
        Mode::TestRun,
        None,
        &[
            "syn_guard/other-source-passes",
            "syn_guard/window-opened-by-syn",
        ],
    );
}

/// 198.18.1.2 and 198.19.1.2 share a bucket, 198.18.2.3 and 198.19.2.3 a window.
#[test]
fn state_keyed_on_the_last_octet() {
    flagged(
        "BUG_KEY_LAST_OCTET",
        Mode::TestRun,
        None,
        &[
            "rate_limiter/second-source-untouched",
            "syn_guard/other-source-passes",
        ],
    );
}

#[test]
fn ihl_below_5_spends_no_token() {
    flagged(
        "BUG_IHL_CHECK_FIRST",
        Mode::TestRun,
        None,
        &RATE_LIMITER_PER_SOURCE,
    );
}

#[test]
fn fragments_read_as_tcp() {
    flagged(
        "BUG_FRAGMENTS_READ_AS_TCP",
        Mode::TestRun,
        None,
        &[
            "syn_guard/ip-options-and-protocol",
            "ddos_guard/syn-window",
            "syn_cookie/other-traffic-passes",
        ],
    );
}

#[test]
fn syn_fin_and_syn_rst_not_syns() {
    flagged(
        "BUG_SYN_EXCLUDES_FIN_RST",
        Mode::TestRun,
        None,
        &["syn_guard/synack-ack-pass"],
    );
}

/// Ethernet padding read as payload: a padded bare ACK is not checked.
#[test]
fn bare_ack_by_frame_end() {
    flagged(
        "BUG_BARE_ACK_BY_FRAME_END",
        Mode::TestRun,
        Some("syn_cookie"),
        &[
            "syn_cookie/cookie-handshake",
            "syn_cookie/forged-acks-dropped",
        ],
    );
}

#[test]
fn bare_ack_needs_exact_flags() {
    flagged(
        "BUG_BARE_ACK_EXACT_FLAGS",
        Mode::TestRun,
        Some("syn_cookie"),
        &[
            "syn_cookie/cookie-handshake",
            "syn_cookie/forged-acks-dropped",
        ],
    );
}

#[test]
fn acks_with_ip_options_unchecked() {
    flagged(
        "BUG_ACK_IHL_5_ONLY",
        Mode::TestRun,
        Some("syn_cookie"),
        &[
            "syn_cookie/cookie-handshake",
            "syn_cookie/forged-acks-dropped",
        ],
    );
}

#[test]
fn syns_with_data_passed() {
    flagged(
        "BUG_SYN_DATA_PASSES",
        Mode::TestRun,
        Some("syn_cookie"),
        &["syn_cookie/syn-ack-rewrite", "syn_cookie/syn-ack-checksums"],
    );
}

/// A padded SYN's reply keeps its padding: 64 bytes, not 58.
#[test]
fn syn_ack_sized_by_total_length() {
    flagged(
        "BUG_TRIM_BY_TOT_LEN",
        Mode::TestRun,
        Some("syn_cookie"),
        &["syn_cookie/syn-ack-rewrite"],
    );
}

/// Per-CPU buckets and windows are not the one per-source state the contract asks for. On one
/// CPU they behave like shared ones; a test-run thread that moves between CPUs may see two.
#[test]
fn per_cpu_state() {
    let stateful: Vec<String> = lab_7_2::lab(0)
        .check_ids()
        .into_iter()
        .map(|id| id.trim_start_matches("7.2/").to_owned())
        .filter(|id| !id.starts_with("syn_cookie/"))
        .collect();
    let may: Vec<&str> = stateful.iter().map(String::as_str).collect();
    flagged_among(
        "BUG_PERCPU_STATE",
        Mode::TestRun,
        &["rate_limiter/state-map-entries"],
        &may,
    );
}

/// A real client's ACK returns the constant, which the program's own check rejects: the
/// connection is never accepted.
#[test]
fn constant_cookie_native() {
    flagged(
        "BUG_CONSTANT_COOKIE",
        Mode::Native,
        Some("syn_cookie"),
        &[
            "syn_cookie/syn-ack-rewrite",
            "syn_cookie/cookie-handshake",
            "syn_cookie/real-client",
        ],
    );
}

/// The rate limiter's checks, which a limiter that answers frames over the limit with anything
/// but DROP fails.
const RATE_LIMITER_FLOODS: [&str; 4] = [
    "rate_limiter/burst-1500",
    "rate_limiter/second-source-untouched",
    "rate_limiter/refill-after-quiet",
    "rate_limiter/steady-stream",
];

/// Frames over the limit sent back at their source (XDP_TX) or aborted: the contract says DROP,
/// and every mode tells those apart (on a veth a TX'd frame comes back to the sender and an
/// abort fires the `xdp:xdp_exception` tracepoint).
fn over_limit(define: &str, mode: Mode, shown: &str) {
    let report = run(&build(&[define]), mode, Some("rate_limiter"));
    testing::assert_flagged(&report, define, &RATE_LIMITER_FLOODS);
    let burst = report
        .checks
        .iter()
        .find(|c| c.id == "7.2/rate_limiter/burst-1500")
        .expect("burst-1500");
    // Unless a slow machine left it unverified (assert_flagged allows that).
    assert!(
        burst.status == harness::Status::Unverified
            || burst.message.contains(&format!("the rest {shown}")),
        "{mode}: {}",
        burst.message
    );
    // The hint names this mistake and not the other one.
    let (mine, other) = match shown {
        "TX" => ("(XDP_TX)", "XDP_ABORTED"),
        _ => ("XDP_ABORTED", "(XDP_TX)"),
    };
    if burst.status != harness::Status::Unverified {
        assert!(
            burst.hints.iter().any(|h| h.contains(mine)),
            "{define}: {:?}",
            burst.hints
        );
    }
    for c in &report.checks {
        assert!(
            c.hints.iter().all(|h| !h.contains(other)),
            "{}: {:?}",
            c.id,
            c.hints
        );
    }
}

#[test]
fn over_limit_sent_back_test_run() {
    over_limit("BUG_OVER_LIMIT_TX", Mode::TestRun, "TX");
}

#[test]
fn over_limit_sent_back_native() {
    over_limit("BUG_OVER_LIMIT_TX", Mode::Native, "TX");
}

#[test]
fn over_limit_sent_back_generic() {
    over_limit("BUG_OVER_LIMIT_TX", Mode::Generic, "TX");
}

#[test]
fn over_limit_aborted_test_run() {
    over_limit("BUG_OVER_LIMIT_ABORTED", Mode::TestRun, "ABORTED");
}

#[test]
fn over_limit_aborted_native() {
    over_limit("BUG_OVER_LIMIT_ABORTED", Mode::Native, "ABORTED");
}

#[test]
fn over_limit_aborted_generic() {
    over_limit("BUG_OVER_LIMIT_ABORTED", Mode::Generic, "ABORTED");
}

/// Without a cap, a half-drained bucket left idle holds more than 1000 tokens.
#[test]
fn bucket_without_cap() {
    flagged_among(
        "BUG_NO_CAP",
        Mode::TestRun,
        &["rate_limiter/steady-stream", "ddos_guard/after-quiet"],
        // A limited source's 1100 tokens after its 1.1 s overrun 1000+T+50 when T < 50 ms.
        &["rate_limiter/refill-after-quiet"],
    );
}

/// 198.18.1.2 and 199.18.1.2 share a bucket.
#[test]
fn bucket_keyed_on_the_last_three_octets() {
    flagged(
        "BUG_KEY_LAST_3_OCTETS",
        Mode::TestRun,
        None,
        &["rate_limiter/second-source-untouched"],
    );
}

/// The fragment offset read without byte order takes DF (set on every other segment) for an
/// offset: those SYNs are never counted.
#[test]
fn dont_fragment_read_as_a_fragment() {
    flagged(
        "BUG_DF_AS_FRAGMENT",
        Mode::TestRun,
        None,
        &[
            SYN_GUARD.as_slice(),
            &[
                "ddos_guard/syn-window",
                "ddos_guard/window-drops-spend-tokens",
                "ddos_guard/after-quiet",
            ],
        ]
        .concat(),
    );
}

/// A first fragment (offset 0, more fragments set) carries its TCP header: its SYN counts.
#[test]
fn first_fragments_skipped() {
    flagged(
        "BUG_FIRST_FRAGMENT_SKIPPED",
        Mode::TestRun,
        None,
        &["syn_guard/cut-syns-not-counted", "ddos_guard/syn-window"],
    );
}

/// The 34-byte IPv4 packet (a header alone) is IPv4: it costs a token and is counted.
#[test]
fn ipv4_header_alone_not_ipv4() {
    flagged_among(
        "BUG_IPV4_ONE_MORE",
        Mode::TestRun,
        &[
            "rate_limiter/state-map-entries",
            "ddos_guard/blocklist-first",
            "ddos_guard/rate-limit",
        ],
        // Whether a burst's free packets overrun its bound depends on how long it took; the
        // differential checks stop drawing at their time budget.
        &[
            "rate_limiter/differential",
            "ddos_guard/differential",
            "ddos_guard/own-state",
            "rate_limiter/burst-1500",
            "rate_limiter/second-source-untouched",
            "rate_limiter/refill-after-quiet",
            "rate_limiter/steady-stream",
        ],
    );
}

/// A segment of exactly its 20-byte header (a 54-byte SYN, a bare ACK) is complete.
#[test]
fn tcp_header_alone_not_tcp() {
    flagged_among(
        "BUG_TCP_ONE_MORE",
        Mode::TestRun,
        &[
            "syn_guard/cut-syns-not-counted",
            "ddos_guard/syn-window",
            "syn_cookie/syn-ack-rewrite",
            "syn_cookie/syn-ack-checksums",
            "syn_cookie/cookie-handshake",
            "syn_cookie/forged-acks-dropped",
            // Its bare ACKs are forged ones of exactly 20 TCP bytes.
            "syn_cookie/counts-from-2-cpus",
        ],
        // The differential checks stop drawing at their time budget: on a loaded machine they
        // may compare too few frames to meet a complete 20-byte header.
        &[
            "syn_guard/differential",
            "ddos_guard/differential",
            "syn_cookie/differential",
        ],
    );
}

/// A correct bucket whose tokens and clock live in two HASH maps keyed by source: two entries
/// per source, but one source's state (state-map-entries counts distinct keys).
#[test]
fn split_state_passes_test_run() {
    let report = run(&build(&["SPLIT_STATE"]), Mode::TestRun, None);
    testing::assert_nothing_charged(&report);
}

/// An ECN-setup SYN (SYN|ECE|CWR) is a SYN: it must be answered.
#[test]
fn cookie_answers_only_plain_syn_flags() {
    flagged(
        "BUG_COOKIE_EXACT_SYN",
        Mode::TestRun,
        Some("syn_cookie"),
        &["syn_cookie/syn-ack-rewrite", "syn_cookie/syn-ack-checksums"],
    );
}

/// ACK|ECE is a bare ACK: its cookie is checked, right or forged.
#[test]
fn bare_ack_ack_or_psh_only() {
    flagged(
        "BUG_BARE_ACK_PSH_ONLY",
        Mode::TestRun,
        Some("syn_cookie"),
        &[
            "syn_cookie/cookie-handshake",
            "syn_cookie/forged-acks-dropped",
        ],
    );
}

#[test]
fn syn_guard_drops_non_ipv4() {
    flagged(
        "BUG_SYN_GUARD_DROPS_NON_IPV4",
        Mode::TestRun,
        None,
        &["syn_guard/non-ipv4-passes"],
    );
}

/// A reply whose IPv4 header sum carries after the first fold.
#[test]
fn checksum_folded_once() {
    flagged(
        "BUG_FOLD_ONCE",
        Mode::TestRun,
        None,
        &["syn_cookie/syn-ack-checksums"],
    );
}

/// A SYN with 40 bytes of options, the MSS last: a copy of 40 header bytes misses the MSS.
#[test]
fn options_copied_short() {
    flagged(
        "BUG_OPTIONS_40",
        Mode::TestRun,
        None,
        &["syn_cookie/syn-ack-rewrite"],
    );
}

/// TCP options are header, not payload: an ACK with timestamps is still bare.
#[test]
fn bare_ack_without_options_only() {
    flagged(
        "BUG_BARE_ACK_DOFF5",
        Mode::TestRun,
        Some("syn_cookie"),
        &[
            "syn_cookie/cookie-handshake",
            "syn_cookie/forged-acks-dropped",
        ],
    );
}

/// Every fragment is an IPv4 packet and costs a token; a limiter that lets later fragments
/// through free passes a fifth of every flood unlimited.
#[test]
fn fragments_spend_no_token() {
    flagged_among(
        "BUG_FRAGMENTS_FREE",
        Mode::TestRun,
        // Not state-map-entries: its five sources send the first five kinds of packet.
        &[
            "rate_limiter/burst-1500",
            "rate_limiter/second-source-untouched",
            "rate_limiter/refill-after-quiet",
            "rate_limiter/steady-stream",
        ],
        // The differential check stops drawing at its time budget: on a loaded machine it may
        // compare too few frames to meet a fragment.
        &["rate_limiter/differential"],
    );
}

/// An ACK 0.7 s before a source's SYNs opened its window: the window ends 1 s after the ACK,
/// and a SYN 0.45 s after the 100th starts a new one instead of dropping.
#[test]
fn window_opened_by_any_segment() {
    flagged(
        "BUG_WINDOW_ANY_SEGMENT",
        Mode::TestRun,
        None,
        &["syn_guard/window-opened-by-syn"],
    );
}

/// ddos_guard on rate_limiter's and syn_guard's maps: a source the one spent is limited in the
/// other, which every part run on its own fresh load hides.
#[test]
fn state_shared_between_programs() {
    flagged(
        "BUG_SHARED_STATE",
        Mode::TestRun,
        None,
        &["ddos_guard/own-state"],
    );
}

/// A plain `+= 1` on the ARRAY `stats`: two CPUs at once lose counts, in every part.
#[test]
fn stats_not_atomic() {
    flagged(
        "BUG_NONATOMIC_STATS",
        Mode::TestRun,
        None,
        &[
            "rate_limiter/counts-from-2-cpus",
            "syn_guard/counts-from-2-cpus",
            "ddos_guard/counts-from-2-cpus",
            "syn_cookie/counts-from-2-cpus",
        ],
    );
}

/// A 1.074 s window still holds a SYN 1.01 s after the first: dropped, where a new window
/// passes it.
#[test]
fn window_of_2_pow_30_ns() {
    flagged(
        "BUG_WINDOW_2POW30",
        Mode::TestRun,
        None,
        &["syn_guard/window-ends-at-1s"],
    );
}

#[test]
fn split_state_passes_native() {
    let report = run(&build(&["SPLIT_STATE"]), Mode::Native, None);
    testing::assert_nothing_charged(&report);
}
