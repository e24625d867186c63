//! The differential check of lab 7.1: the correct C program matches the reference, mutants the
//! hand-written checks miss are caught with a shrunk frame naming the field, shrinking is
//! deterministic, and the reference matches itself (and the contract) on a million frames.

use std::path::{Path, PathBuf};

use harness::{
    Status,
    differential::Differential,
    testing::{self, differential as diff},
};
use kernel::{FailureClass, Mode, XdpObject};
use lab_7_1::differential::{FRAMES, differential};

/// Frames these tests compare: a mutant whose difference needs a rare combination of fields
/// (UDP to a blocked port with 6 or 7 header bytes) is found within them under every seed
/// tried, where the check's own budget of [`FRAMES`] finds it under some seeds only.
const CAUGHT_WITHIN: usize = 3000;

fn source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/filter.c")
}

fn build(defines: &[&str]) -> XdpObject {
    testing::build_c(&source(), defines, Path::new(env!("CARGO_TARGET_TMPDIR")))
}

fn parts(seed: u64, frames: usize) -> Vec<Differential> {
    ["ip_filter", "port_filter", "firewall"]
        .map(|p| differential(p, seed, frames))
        .into()
}

#[test]
#[ignore = "about 20 s in a debug build: run with --run-ignored"]
fn the_correct_c_program_matches_the_reference_on_100000_frames_per_part() {
    diff::assert_no_difference(&parts(0, 100_000), &build(&[]), 100_000);
}

#[test]
fn mutants_are_caught_with_a_shrunk_frame_naming_the_field() {
    diff::assert_each_caught(
        &[
            ("BUG_IHL4_SRC", "ip_filter", "ihl"),
            ("BUG_FRAGMENT_PASS", "port_filter", "mf|frag_offset"),
            ("BUG_PAD_60", "port_filter", "padding|total_len"),
            ("BUG_UDP_CUT_6", "port_filter", "cut|total_len"),
            ("BUG_SYN_FIN", "port_filter", "tcp_flags"),
            // Fields no rule reads, varied one at a time from the part's bases.
            ("BUG_SCTP_PORTS", "port_filter", "protocol"),
            ("BUG_UDP_LENGTH_MIN", "port_filter", "udp_len"),
            ("BUG_TCP_DOFF_MIN", "firewall", "tcp_doff"),
            ("BUG_ICMP_ECHO_ONLY", "firewall", "icmp_type|ihl"),
            ("BUG_TOTLEN_20", "firewall", "total_len|ihl"),
        ],
        |part| differential(part, 0, CAUGHT_WITHIN),
        |define| build(&[define]),
    );
}

#[test]
fn shrinking_is_deterministic_under_a_seed() {
    diff::assert_deterministic(
        |seed| differential("port_filter", seed, CAUGHT_WITHIN),
        &build(&["BUG_SYN_FIN"]),
    );
}

#[test]
fn a_caught_mutant_fails_the_scored_check_with_its_frame_decoded_and_a_pcap() {
    let report = testing::run(
        &lab_7_1::lab(0),
        &build(&["BUG_SYN_FIN"]),
        Mode::TestRun,
        None,
    );
    let c = report
        .checks
        .iter()
        .find(|c| c.id == "7.1/port_filter/differential")
        .expect("the check ran");
    assert_eq!(
        c.status,
        Status::Fail(FailureClass::Behaviour),
        "{}",
        c.message
    );
    for needle in [
        "tcp_flags",
        "decoded:",
        "tcp 40000 > 22",
        "replay: xdplab run 7.1",
        "+  verdict   PASS",
        "-  verdict   DROP",
    ] {
        assert!(
            c.message.contains(needle),
            "{needle} missing from:\n{}",
            c.message
        );
    }
    assert!(
        c.traffic.iter().any(|f| f.sent),
        "the shrunk frame goes to the pcap"
    );
    // Only the differential check sees this mutant.
    let others: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.passed && c.id != "7.1/port_filter/differential")
        .map(|c| c.id.as_str())
        .collect();
    assert!(others.is_empty(), "{others:?}");
    // On veth a sample of the frames goes through the attached program, and catches it too.
    for (object, status) in [
        (build(&[]), Status::Pass),
        (
            build(&["BUG_SYN_FIN"]),
            Status::Fail(FailureClass::Behaviour),
        ),
    ] {
        let native = testing::run(&lab_7_1::lab(0), &object, Mode::Native, Some("port_filter"));
        let sampled = native
            .checks
            .iter()
            .find(|c| c.id.ends_with("/differential"))
            .unwrap();
        assert_eq!(sampled.status, status, "{}", sampled.message);
        assert!(
            sampled
                .message
                .contains("sent through the attached program")
                || status == Status::Pass,
            "{}",
            sampled.message
        );
    }
}

#[test]
#[ignore = "about three minutes in a debug build: a measurement for the README"]
fn the_reference_matches_itself_on_a_million_frames() {
    let object = XdpObject::from_bytes("reference", reference::lab_7_1()).unwrap();
    diff::assert_no_difference(&parts(1, 1_000_000), &object, 1_000_000);
}

#[test]
#[ignore = "half a minute in a debug build: `just differential-long` runs it"]
fn existing_mutants_caught_by_the_differential_check_alone() {
    diff::count_caught(
        &source(),
        &["BUG_NO_BOUNDS_CHECK"],
        |d| build(&[d]),
        &parts(0, FRAMES),
        // Shows only with two CPUs at once (`counts-from-2-cpus`).
        &["BUG_NONATOMIC_COUNTER"],
    );
}
