//! Lab 7.1 against C programs built with clang: the correct one passes everything in every
//! mode; each deliberately wrong one is flagged by exactly the checks its mistake breaks.
//! The mistakes are described in programs/filter.c.

use std::{collections::BTreeSet, path::Path};

use harness::{Report, Status, testing};
use kernel::{FailureClass, Mode, XdpObject, object::ProgramSource};

fn build(defines: &[&str]) -> XdpObject {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/filter.c");
    testing::build_c(&source, defines, Path::new(env!("CARGO_TARGET_TMPDIR")))
}

fn run(object: &dyn ProgramSource, mode: Mode) -> Report {
    testing::run(&lab_7_1::lab(0), object, mode, None)
}

fn failed(report: &Report, class: FailureClass) -> BTreeSet<&str> {
    report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail(class))
        .map(|c| c.id.as_str())
        .collect()
}

/// Asserts that the mutant fails exactly `expected` (behaviour checks) and nothing else.
fn flagged(define: &str, mode: Mode, expected: &[&str]) {
    testing::assert_flagged(&run(&build(&[define]), mode), define, expected);
}

#[test]
fn correct_c_program_passes_native() {
    let report = run(&build(&[]), Mode::Native);
    assert!(report.all_passed(), "{}", report.to_text());
}

#[test]
fn correct_c_program_passes_generic() {
    let report = run(&build(&[]), Mode::Generic);
    assert!(report.all_passed(), "{}", report.to_text());
}

#[test]
fn correct_c_program_passes_test_run() {
    let report = run(&build(&[]), Mode::TestRun);
    assert!(report.all_passed(), "{}", report.to_text());
}

#[test]
fn verifier_rejection_is_reported_with_its_log() {
    let report = run(&build(&["BUG_NO_BOUNDS_CHECK"]), Mode::TestRun);
    let rejected = failed(&report, FailureClass::Verifier);
    // Unscored checks stay unscored (info) when the program cannot load.
    let port_checks: BTreeSet<&str> = report
        .checks
        .iter()
        .filter(|c| c.part == "port_filter" && c.status != Status::Info)
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(rejected, port_checks, "{}", report.to_text());
    let message = &report
        .checks
        .iter()
        .find(|c| c.part == "port_filter")
        .unwrap()
        .message;
    assert!(
        message.contains("verifier rejected `port_filter`"),
        "{message}"
    );
    assert!(message.contains("invalid access to packet"), "{message}");
    // The other two programs of the same object still get judged, and pass.
    assert!(
        report
            .checks
            .iter()
            .filter(|c| c.part != "port_filter")
            .all(|c| c.passed)
    );
}

/// A hint shows only where its pattern is the failure: the byte-order mistakes get the
/// byte-order hints on their look-alikes, the wrong bucket the bucket hint; the correct program
/// and different wrong ones get none, although they fail the same or neighbouring checks.
#[test]
fn hints_show_only_for_the_mistake_they_name() {
    let correct = run(&build(&[]), Mode::TestRun);
    assert!(testing::hints(&correct).is_empty(), "{}", correct.to_text());
    for (define, check, says) in [
        (
            "BUG_PORT_HOST_ORDER",
            "7.1/port_filter/byte-swapped-ports",
            "ports 5632, 5888, 15629 are 22, 23, 3389 with their two bytes swapped",
        ),
        (
            "BUG_SRC_HOST_ORDER",
            "7.1/ip_filter/byte-swapped-lookalikes",
            "compare `saddr` with `bpf_htonl(0x0a000001)`",
        ),
        (
            "BUG_WRONG_BUCKET",
            "7.1/firewall/blocked-ports",
            "counted in stats[3], which counts everything else",
        ),
    ] {
        let report = run(&build(&[define]), Mode::TestRun);
        let got = testing::hints(&report);
        assert!(
            !got.is_empty() && got.iter().all(|(id, _)| *id == check),
            "{define}: {got:?}"
        );
        assert!(
            got.iter().any(|(_, h)| h.contains(says)),
            "{define}: {got:?}"
        );
        let text = report.to_text();
        assert!(text.contains("    hint: "), "{text}");
    }
    for define in [
        "BUG_SOURCE_PORT",
        "BUG_DEST_ADDR",
        "BUG_TCP_ONLY",
        "BUG_RULE_ORDER",
    ] {
        let report = run(&build(&[define]), Mode::TestRun);
        assert!(!report.all_passed(), "{define}");
        assert!(
            testing::hints(&report).is_empty(),
            "{define}: {:?}",
            testing::hints(&report)
        );
    }
}

#[test]
fn source_address_in_host_order() {
    flagged(
        "BUG_SRC_HOST_ORDER",
        Mode::TestRun,
        &[
            "7.1/ip_filter/blocked-10.0.0.1",
            "7.1/ip_filter/blocked-192.168.1.100",
            "7.1/ip_filter/byte-swapped-lookalikes",
            "7.1/ip_filter/ip-options",
            "7.1/ip_filter/truncated-pass",
            "7.1/ip_filter/ihl-below-5",
            "7.1/ip_filter/fragments",
            "7.1/ip_filter/padded",
        ],
    );
}

#[test]
fn port_in_host_order() {
    flagged(
        "BUG_PORT_HOST_ORDER",
        Mode::TestRun,
        &[
            "7.1/port_filter/byte-swapped-ports",
            "7.1/port_filter/ip-options",
            "7.1/port_filter/tcp-blocked-ports",
            "7.1/port_filter/truncated-pass",
            "7.1/port_filter/udp-blocked-ports",
            "7.1/port_filter/udp-truncated",
            "7.1/port_filter/fragments",
            "7.1/port_filter/padded",
        ],
    );
}

#[test]
fn transport_header_at_fixed_offset() {
    flagged(
        "BUG_FIXED_IHL",
        Mode::TestRun,
        &[
            "7.1/firewall/ihl-below-5",
            "7.1/firewall/ip-options",
            "7.1/port_filter/ihl-below-5",
            "7.1/port_filter/ip-options",
        ],
    );
}

/// IHL 4 taken at its word: the "ports" are the destination address's last two bytes, which
/// the ihl-below-5 frames set to a blocked port.
#[test]
fn ihl_below_5_parsed_literally() {
    flagged(
        "BUG_IHL_LITERAL",
        Mode::TestRun,
        &["7.1/firewall/ihl-below-5", "7.1/port_filter/ihl-below-5"],
    );
}

/// A program that matched the canonical frames (their source ports are all ephemeral)
/// passes seed 0's hand-written checks; the differential check's generated frames catch it
/// there already, and a seed that draws lower source ports catches it in the others.
#[test]
fn hard_coded_traffic_needs_a_seed() {
    let object = build(&["BUG_HARDCODED"]);
    let canonical = run(&object, Mode::TestRun);
    let failed_at_seed_0 = failed(&canonical, FailureClass::Behaviour);
    assert_eq!(
        failed_at_seed_0,
        BTreeSet::from(["7.1/port_filter/differential"]),
        "{}",
        canonical.to_text()
    );
    let seeded = testing::run(&lab_7_1::lab(7), &object, Mode::TestRun, None);
    let failed = failed(&seeded, FailureClass::Behaviour);
    assert!(
        failed.iter().all(|id| id.starts_with("7.1/port_filter/")) && !failed.is_empty(),
        "{}",
        seeded.to_text()
    );
}

#[test]
fn source_port_instead_of_destination() {
    flagged(
        "BUG_SOURCE_PORT",
        Mode::TestRun,
        &[
            "7.1/port_filter/ip-options",
            "7.1/port_filter/source-port-ignored",
            "7.1/port_filter/tcp-blocked-ports",
            "7.1/port_filter/truncated-pass",
            "7.1/port_filter/udp-blocked-ports",
            "7.1/port_filter/udp-truncated",
            "7.1/port_filter/fragments",
            "7.1/port_filter/padded",
        ],
    );
}

#[test]
fn udp_ignored() {
    flagged(
        "BUG_TCP_ONLY",
        Mode::TestRun,
        &[
            "7.1/port_filter/ip-options",
            "7.1/port_filter/udp-blocked-ports",
            "7.1/port_filter/udp-truncated",
        ],
    );
}

#[test]
fn firewall_rules_in_wrong_order() {
    flagged(
        "BUG_RULE_ORDER",
        Mode::TestRun,
        &["7.1/firewall/first-match-wins"],
    );
}

#[test]
fn firewall_port_drops_in_wrong_bucket() {
    flagged(
        "BUG_WRONG_BUCKET",
        Mode::TestRun,
        &[
            "7.1/firewall/blocked-ports",
            "7.1/firewall/ip-options",
            "7.1/firewall/truncated",
            "7.1/firewall/fragments",
            "7.1/firewall/padded",
        ],
    );
}

#[test]
fn destination_address_instead_of_source() {
    flagged(
        "BUG_DEST_ADDR",
        Mode::TestRun,
        &[
            "7.1/ip_filter/blocked-10.0.0.1",
            "7.1/ip_filter/blocked-192.168.1.100",
            "7.1/ip_filter/blocked-as-destination",
            "7.1/ip_filter/ip-options",
            "7.1/ip_filter/truncated-pass",
            "7.1/ip_filter/ihl-below-5",
            "7.1/ip_filter/fragments",
            "7.1/ip_filter/padded",
        ],
    );
}

#[test]
fn non_ipv4_dropped() {
    flagged(
        "BUG_DROP_NON_IPV4",
        Mode::TestRun,
        &[
            "7.1/firewall/non-ipv4-pass",
            "7.1/ip_filter/non-ipv4-pass",
            "7.1/port_filter/non-ipv4-pass",
        ],
    );
}

/// Ports read up to the frame's end: the Ethernet padding after a short datagram reads as a
/// blocked port. Native too: on a veth the padded frame arrives as built.
#[test]
fn padding_read_as_a_header() {
    for mode in [Mode::TestRun, Mode::Native] {
        flagged(
            "BUG_FRAME_END_ONLY",
            mode,
            &["7.1/port_filter/padded", "7.1/firewall/padded"],
        );
    }
}

/// Ports read from any protocol: GRE's first bytes become ports.
#[test]
fn ports_read_whatever_the_protocol() {
    flagged(
        "BUG_ANY_PROTOCOL",
        Mode::TestRun,
        &[
            "7.1/port_filter/other-protocols-pass",
            "7.1/firewall/others-pass",
        ],
    );
}

#[test]
fn ports_read_from_later_fragments() {
    flagged(
        "BUG_FRAGMENT_PORTS",
        Mode::TestRun,
        &["7.1/port_filter/fragments", "7.1/firewall/fragments"],
    );
}

/// An IHL below 5 taken as "not IPv4": the source and protocol rules stop applying.
#[test]
fn ihl_below_5_not_ipv4() {
    flagged(
        "BUG_IHL_BELOW_5_NOT_IPV4",
        Mode::TestRun,
        &[
            "7.1/ip_filter/ihl-below-5",
            "7.1/firewall/icmp-dropped",
            "7.1/firewall/ihl-below-5",
        ],
    );
}

/// UDP and ICMP cut short: the firewall's port rule needs 4 bytes of either header, its ICMP
/// rule none.
#[test]
fn udp_and_icmp_cut_short() {
    flagged(
        "BUG_UDP_FULL_HEADER",
        Mode::TestRun,
        &["7.1/firewall/truncated", "7.1/firewall/padded"],
    );
    flagged(
        "BUG_ICMP_NEEDS_HEADER",
        Mode::TestRun,
        &["7.1/firewall/icmp-dropped"],
    );
}

/// ABORTED, told from a drop on a veth by the `xdp:xdp_exception` tracepoint: the same checks
/// catch it there as in test-run mode.
#[test]
fn truncated_frames_aborted_native() {
    flagged(
        "BUG_ABORT_TRUNCATED",
        Mode::Native,
        &[
            "7.1/firewall/truncated",
            "7.1/ip_filter/truncated-pass",
            "7.1/port_filter/truncated-pass",
        ],
    );
}

#[test]
fn truncated_frames_aborted_test_run() {
    let report = run(&build(&["BUG_ABORT_TRUNCATED"]), Mode::TestRun);
    let check = report
        .checks
        .iter()
        .find(|c| c.id == "7.1/firewall/truncated")
        .unwrap();
    assert!(
        check.message.contains("+cut-14-ethernet-only") && check.message.contains("ABORTED"),
        "{}",
        check.message
    );
}

/// Students of the course's Clojure library load and pin their programs themselves: the lab
/// runs on the pins, finding maps through the programs' own map references.
#[test]
fn pinned_programs_pass() {
    let object = build(&[]);
    let pins = kernel::object::PinDir::create().expect("a bpffs pin directory");
    let mut ebpf = aya::Ebpf::load_file(object.origin()).expect("aya loads the C object");
    for name in ["ip_filter", "port_filter", "firewall"] {
        let program: &mut aya::programs::Xdp = ebpf.program_mut(name).unwrap().try_into().unwrap();
        program.load().unwrap();
        program.pin(pins.path().join(name)).unwrap();
    }
    drop(ebpf); // the pins keep the programs, and the programs keep their maps
    let source = kernel::source::PinnedPrograms::open(pins.path()).unwrap();
    for mode in [Mode::TestRun, Mode::Native] {
        let report = run(&source, mode);
        assert!(report.all_passed(), "{}", report.to_text());
    }
}

/// The checks that run the program on two CPUs at once, one per part.
const FROM_TWO_CPUS: [&str; 3] = [
    "7.1/ip_filter/counts-from-2-cpus",
    "7.1/port_filter/counts-from-2-cpus",
    "7.1/firewall/counts-from-2-cpus",
];

/// `stats[i] += 1` on an ARRAY is right on one CPU and loses counts on two. Test-run mode
/// (what grading uses for these checks) runs the program on two CPUs at once, where a lost
/// update is practically certain; on a veth lost updates are rare (see the lab's README).
#[test]
fn nonatomic_counter_test_run() {
    let start = std::time::Instant::now();
    flagged("BUG_NONATOMIC_COUNTER", Mode::TestRun, &FROM_TWO_CPUS);
    eprintln!("took {:?}", start.elapsed());
}

/// Mistakes on fields the rules ignore (the protocols that carry ports where TCP does, the UDP
/// length field, the TCP data offset, the ICMP type, the IHL in the total-length test), each
/// flagged by exactly the checks that send such a frame.
#[test]
fn fields_the_rules_ignore() {
    for (define, expected) in [
        (
            "BUG_SCTP_PORTS",
            &[
                "7.1/port_filter/other-protocols-pass",
                "7.1/firewall/others-pass",
            ][..],
        ),
        (
            "BUG_UDP_LENGTH_MIN",
            // Also a length field read from padding (4 UDP bytes padded to 60).
            &[
                "7.1/port_filter/udp-blocked-ports",
                "7.1/firewall/blocked-ports",
                "7.1/firewall/padded",
            ][..],
        ),
        (
            "BUG_TCP_DOFF_MIN",
            // Also a data offset read from padding (8 TCP bytes padded to 60).
            &[
                "7.1/port_filter/tcp-blocked-ports",
                "7.1/firewall/blocked-ports",
                "7.1/port_filter/padded",
            ][..],
        ),
        ("BUG_ICMP_ECHO_ONLY", &["7.1/firewall/icmp-dropped"][..]),
        (
            "BUG_TOTLEN_20",
            &["7.1/port_filter/padded", "7.1/firewall/padded"][..],
        ),
    ] {
        flagged(define, Mode::TestRun, expected);
    }
}
