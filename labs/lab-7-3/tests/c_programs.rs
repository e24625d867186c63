//! Lab 7.3 against C programs built with clang: the correct one passes everything in every
//! mode; each deliberately wrong one is flagged by exactly the checks its mistake breaks.
//! The mistakes are described in programs/lb.c.

use std::path::Path;

use harness::{Report, testing};
use kernel::{Mode, XdpObject};

fn build(defines: &[&str]) -> XdpObject {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/lb.c");
    testing::build_c(&source, defines, Path::new(env!("CARGO_TARGET_TMPDIR")))
}

fn run(object: &XdpObject, mode: Mode) -> Report {
    testing::run(&lab_7_3::lab(0), object, mode, None)
}

/// Asserts that the mutant fails exactly `expected` (behaviour checks) and nothing else.
fn flagged(define: &str, mode: Mode, expected: &[&str]) {
    testing::assert_flagged(
        &run(&build(&[define]), mode),
        &format!("{define} in {mode} mode"),
        expected,
    );
}

fn passes(mode: Mode) {
    let report = run(&build(&[]), mode);
    assert!(report.all_passed(), "{}", report.to_text());
}

#[test]
fn correct_c_program_passes_native() {
    passes(Mode::Native);
}

#[test]
fn correct_c_program_passes_generic() {
    passes(Mode::Generic);
}

#[test]
fn correct_c_program_passes_test_run() {
    passes(Mode::TestRun);
}

const RR: &str = "7.3/lb_round_robin";
const HASH: &str = "7.3/lb_hash";
const REDIRECT: &str = "7.3/lb_redirect";
const DSR: &str = "7.3/lb_dsr";

fn ids(checks: &[(&str, &str)]) -> Vec<String> {
    checks
        .iter()
        .map(|(part, name)| format!("{part}/{name}"))
        .collect()
}

fn flagged_ids(define: &str, mode: Mode, checks: &[(&str, &str)]) {
    let ids = ids(checks);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    flagged(define, mode, &refs);
}

/// The NAT rewrite's headers in all three NAT programs; on a real path also delivery.
fn nat_headers(mode: Mode) -> Vec<(&'static str, &'static str)> {
    let mut checks = each(&NAT, "rewritten-headers");
    checks.extend(each(&NAT, "checksum-edges"));
    if mode != Mode::TestRun {
        checks.extend([(RR, "delivered"), (REDIRECT, "redirect-path")]);
    }
    checks
}

#[test]
fn ip_checksum_not_updated() {
    flagged_ids("BUG_NO_IP_CSUM", Mode::TestRun, &nat_headers(Mode::TestRun));
}

/// On a real path the backend's stack drops the datagram: its UDP socket never gets it.
#[test]
fn l4_checksum_not_updated_native() {
    flagged_ids("BUG_NO_L4_CSUM", Mode::Native, &nat_headers(Mode::Native));
}

#[test]
fn l4_checksum_not_updated_test_run() {
    flagged_ids("BUG_NO_L4_CSUM", Mode::TestRun, &nat_headers(Mode::TestRun));
}

#[test]
fn udp_zero_checksum_updated() {
    flagged_ids(
        "BUG_UDP_ZERO_CSUM",
        Mode::TestRun,
        &each(&NAT, "rewritten-headers"),
    );
}

#[test]
fn destination_mac_not_rewritten_test_run() {
    let mut checks = nat_headers(Mode::TestRun);
    checks.extend([(DSR, "rewritten-headers"), (DSR, "affinity")]);
    checks.extend(DSR_SPREAD);
    flagged_ids("BUG_NO_DST_MAC", Mode::TestRun, &checks);
}

/// On a real path the switch has nowhere to send the frame: nothing arrives, and the DSR
/// handshake never completes.
#[test]
fn destination_mac_not_rewritten_native() {
    let mut checks = nat_headers(Mode::Native);
    checks.extend([
        (DSR, "rewritten-headers"),
        (DSR, "affinity"),
        (DSR, "tcp-handshake"),
    ]);
    checks.extend(DSR_SPREAD);
    flagged_ids("BUG_NO_DST_MAC", Mode::Native, &checks);
}

/// The PASS-for-TX hint shows under each part's `rewritten-headers` (where a named frame was
/// expected TX and got PASS), and for no other wrong program that fails those checks.
#[test]
fn pass_instead_of_tx() {
    let report = run(&build(&["BUG_PASS"]), Mode::TestRun);
    let got = testing::hints(&report);
    let want: std::collections::BTreeSet<String> = ids(&[
        (RR, "rewritten-headers"),
        (HASH, "rewritten-headers"),
        (DSR, "rewritten-headers"),
    ])
    .into_iter()
    .collect();
    assert_eq!(
        got.iter()
            .map(|(id, _)| id.to_string())
            .collect::<std::collections::BTreeSet<_>>(),
        want,
        "{got:?}"
    );
    assert!(
        got.iter()
            .all(|(_, h)| h.contains("(XDP_PASS)") && h.contains("return XDP_TX")),
        "{got:?}"
    );
    let other = run(&build(&["BUG_NO_IP_CSUM"]), Mode::TestRun);
    assert!(!other.all_passed());
    assert!(
        testing::hints(&other).is_empty(),
        "{:?}",
        testing::hints(&other)
    );
    let expected = ids(&[
        (RR, "rewritten-headers"),
        (RR, "checksum-edges"),
        (RR, "round-robin"),
        (RR, "round-robin-long"),
        (RR, "round-robin-past-16-bits"),
        (RR, "round-robin-across-cpus"),
        (HASH, "rewritten-headers"),
        (HASH, "checksum-edges"),
        (HASH, "affinity"),
        (HASH, "spread-consecutive"),
        (HASH, "spread-scattered"),
        (HASH, "backend-stats"),
        (DSR, "rewritten-headers"),
        (DSR, "affinity"),
        DSR_SPREAD[0],
        DSR_SPREAD[1],
    ]);
    let refs: Vec<&str> = expected.iter().map(String::as_str).collect();
    testing::assert_flagged(&report, "BUG_PASS in test-run mode", &refs);
}

#[test]
fn always_backend_0_test_run() {
    flagged_ids(
        "BUG_ALWAYS_0",
        Mode::TestRun,
        &[
            (RR, "round-robin"),
            (RR, "round-robin-long"),
            (RR, "round-robin-past-16-bits"),
            (REDIRECT, "round-robin"),
            (REDIRECT, "round-robin-long"),
            (REDIRECT, "round-robin-past-16-bits"),
            (RR, "round-robin-across-cpus"),
            (REDIRECT, "round-robin"),
            (REDIRECT, "round-robin-across-cpus"),
        ],
    );
}

#[test]
fn always_backend_0_generic() {
    flagged_ids(
        "BUG_ALWAYS_0",
        Mode::Generic,
        &[
            (RR, "round-robin"),
            (RR, "round-robin-long"),
            (RR, "delivered"),
            (REDIRECT, "round-robin"),
            (REDIRECT, "round-robin-long"),
            (RR, "round-robin-across-cpus"),
            (RR, "delivered"),
            (REDIRECT, "round-robin"),
            (REDIRECT, "round-robin-across-cpus"),
            (REDIRECT, "redirect-path"),
        ],
    );
}

#[test]
fn hash_on_destination() {
    flagged_ids(
        "BUG_HASH_DST",
        Mode::TestRun,
        &[
            (HASH, "spread-consecutive"),
            (HASH, "spread-scattered"),
            DSR_SPREAD[0],
            DSR_SPREAD[1],
        ],
    );
}

/// A checksum update whose sum carries again after the first fold (one segment crafted per
/// backend) comes out wrong folded once.
#[test]
fn checksum_update_folded_once() {
    flagged_ids(
        "BUG_FOLD_ONCE",
        Mode::TestRun,
        &each(&NAT, "checksum-edges"),
    );
}

/// A hash over the source and the ports: one source's packets, sent with varied ports,
/// reach different backends.
#[test]
fn hash_over_the_ports() {
    flagged_ids(
        "BUG_HASH_PORTS",
        Mode::TestRun,
        &[(HASH, "affinity"), (DSR, "affinity")],
    );
}

#[test]
fn source_rewritten_instead_of_destination() {
    flagged_ids(
        "BUG_REWRITE_SRC",
        Mode::TestRun,
        &nat_headers(Mode::TestRun),
    );
}

#[test]
fn non_vip_balanced_too() {
    flagged_ids(
        "BUG_BALANCE_ALL",
        Mode::TestRun,
        &[
            (RR, "round-robin-long"),
            (RR, "non-vip-untouched"),
            (HASH, "non-vip-untouched"),
            (REDIRECT, "round-robin-long"),
            (REDIRECT, "non-vip-untouched"),
            (DSR, "non-vip-untouched"),
        ],
    );
}

#[test]
fn dsr_keeps_client_source_mac() {
    flagged_ids(
        "BUG_DSR_KEEP_SRC_MAC",
        Mode::TestRun,
        &[(DSR, "rewritten-headers")],
    );
}

/// `check` in each of `parts`.
fn each(parts: &[&'static str], check: &'static str) -> Vec<(&'static str, &'static str)> {
    parts.iter().map(|p| (*p, check)).collect()
}

const ALL: [&str; 4] = [RR, HASH, REDIRECT, DSR];
const NAT: [&str; 3] = [RR, HASH, REDIRECT];

/// lb_dsr's spread checks, which see no backend in a frame that was not sent to one.
const DSR_SPREAD: [(&str, &str); 2] = [(DSR, "spread-consecutive"), (DSR, "spread-scattered")];

/// A bare ACK (exactly 20 TCP bytes) and an empty datagram (8 UDP bytes) are passed by a
/// program that wants one byte more.
#[test]
fn header_one_byte_more() {
    flagged_ids(
        "BUG_HEADER_PLUS_ONE",
        Mode::TestRun,
        &each(&ALL, "rewritten-headers"),
    );
}

/// Headers cut short by the IPv4 total length, padded to 60 bytes, are balanced by a program
/// that only looks at the frame's end.
#[test]
fn frame_end_instead_of_total_length() {
    flagged_ids(
        "BUG_FRAME_END_ONLY",
        Mode::TestRun,
        &each(&ALL, "non-vip-untouched"),
    );
}

/// Padded bare ACKs and datagrams are passed by a program that wants no padding.
#[test]
fn padding_refused() {
    flagged_ids(
        "BUG_STRICT_LENGTH",
        Mode::TestRun,
        &each(&ALL, "rewritten-headers"),
    );
}

#[test]
fn ihl_below_5_balanced() {
    flagged_ids(
        "BUG_NO_IHL_CHECK",
        Mode::TestRun,
        &each(&ALL, "non-vip-untouched"),
    );
}

#[test]
fn version_not_read() {
    flagged_ids(
        "BUG_NO_VERSION_CHECK",
        Mode::TestRun,
        &each(&ALL, "non-vip-untouched"),
    );
}

#[test]
fn later_fragments_balanced() {
    flagged_ids(
        "BUG_NO_FRAG_CHECK",
        Mode::TestRun,
        &each(&ALL, "non-vip-untouched"),
    );
}

/// More than 256 VIP packets in one load.
#[test]
fn cursor_of_8_bits() {
    let mut checks = each(&[RR, REDIRECT], "round-robin-long");
    checks.extend(each(&[RR, REDIRECT], "round-robin-past-16-bits"));
    flagged_ids("BUG_CURSOR_U8", Mode::TestRun, &checks);
}

/// Non-VIP frames between VIP packets, on a real path too.
#[test]
fn cursor_moved_by_every_frame() {
    flagged_ids(
        "BUG_CURSOR_EVERY_FRAME",
        Mode::Generic,
        &each(&[RR, REDIRECT], "round-robin-long"),
    );
}

#[test]
fn rewritten_udp_checksum_0_sent_as_0() {
    flagged_ids(
        "BUG_UDP_CSUM_ZERO_OUT",
        Mode::TestRun,
        &each(&NAT, "checksum-edges"),
    );
}

#[test]
fn tcp_checksum_0000_left_alone() {
    flagged_ids(
        "BUG_TCP_ZERO_CSUM_SKIPPED",
        Mode::TestRun,
        &each(&NAT, "checksum-edges"),
    );
}

/// Seed 0 fills other backends for lb_hash and lb_dsr than the README's.
#[test]
fn backends_written_in() {
    let mut checks = each(&[HASH, DSR], "rewritten-headers");
    checks.extend([
        (HASH, "checksum-edges"),
        (HASH, "affinity"),
        (HASH, "spread-consecutive"),
        (HASH, "spread-scattered"),
        (HASH, "backend-stats"),
        (DSR, "affinity"),
    ]);
    checks.extend(DSR_SPREAD);
    flagged_ids("BUG_FIXED_BACKENDS", Mode::TestRun, &checks);
}

/// Seed 0 gives lb_dsr another LB MAC than the README's.
#[test]
fn lb_mac_written_in() {
    flagged_ids(
        "BUG_FIXED_LB_MAC",
        Mode::TestRun,
        &[(DSR, "rewritten-headers")],
    );
}

/// What a student reads: the failing table names the backend and says "not accepted".
#[test]
fn l4_checksum_diff_is_readable() {
    let report = run(&build(&["BUG_NO_L4_CSUM"]), Mode::Native);
    let msg = |id: &str| {
        report
            .checks
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.message.clone())
            .unwrap()
    };
    let delivered = msg("7.3/lb_round_robin/delivered");
    assert!(
        delivered.contains("-udp-0") && delivered.contains("not accepted"),
        "{delivered}"
    );
    let headers = msg("7.3/lb_round_robin/rewritten-headers");
    assert!(headers.contains("csum BAD"), "{headers}");
}

/// A round-robin cursor kept per CPU rotates right on one CPU: only traffic that runs on two
/// CPUs in turn shows it, in every mode.
fn percpu_cursor(mode: Mode) {
    flagged_ids(
        "BUG_PERCPU_CURSOR",
        mode,
        &[
            (RR, "round-robin-across-cpus"),
            (REDIRECT, "round-robin-across-cpus"),
        ],
    );
}

#[test]
fn percpu_cursor_test_run() {
    percpu_cursor(Mode::TestRun);
}

#[test]
fn percpu_cursor_native() {
    percpu_cursor(Mode::Native);
}

#[test]
fn percpu_cursor_generic() {
    percpu_cursor(Mode::Generic);
}

/// Correct variants of lb.c (choices the contract leaves open) pass everything in `mode`.
fn variants_pass(mode: Mode) {
    for define in ["SRC_MAC_FROM_FRAME", "IP_CSUM_RECOMPUTED"] {
        let report = run(&build(&[define]), mode);
        assert!(report.all_passed(), "{define}: {}", report.to_text());
    }
}

#[test]
fn correct_variants_pass_test_run() {
    variants_pass(Mode::TestRun);
}

#[test]
fn correct_variants_pass_native() {
    variants_pass(Mode::Native);
}

#[test]
fn correct_variants_pass_generic() {
    variants_pass(Mode::Generic);
}

/// Fields no rule reads, in VIP frames: the whole 20 (8) header bytes make a header.
#[test]
fn header_fields_no_rule_reads() {
    for define in ["BUG_TCP_DOFF_MIN", "BUG_UDP_LENGTH_MIN"] {
        flagged_ids(define, Mode::TestRun, &each(&ALL, "rewritten-headers"));
    }
}

/// Two CPUs balancing at once lose counts of a plain `+= 1` (checked on lb_dsr, whose
/// rewritten frame a repeated test run balances again).
#[test]
fn nonatomic_counter_test_run() {
    flagged_ids(
        "BUG_NONATOMIC_COUNTER",
        Mode::TestRun,
        &[(DSR, "counts-from-2-cpus")],
    );
}

/// More than 65536 VIP packets in one load, one test run each.
#[test]
fn cursor_of_16_bits() {
    flagged_ids(
        "BUG_CURSOR_U16",
        Mode::TestRun,
        &each(&[RR, REDIRECT], "round-robin-past-16-bits"),
    );
}
