//! The differential check of lab 7.3: the correct C program matches the reference, mutants the
//! hand-written checks miss are caught with a shrunk frame naming the field, shrinking is
//! deterministic, and the reference matches itself (and the contract) on a million frames.

use std::path::{Path, PathBuf};

use harness::{
    Status,
    differential::Differential,
    testing::{self, differential as diff},
};
use kernel::{Mode, XdpObject};
use lab_7_3::differential::{FRAMES, differential, seed0_net};

/// Frames these tests compare: a mutant whose difference needs a rare combination of fields
/// (a datagram whose rewritten checksum lands on 0, a later fragment to the VIP) is found
/// within them under every seed tried, where the check's own budget of [`FRAMES`] finds it
/// under some seeds only.
const CAUGHT_WITHIN: usize = 3000;

fn source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/lb.c")
}

fn build(defines: &[&str]) -> XdpObject {
    testing::build_c(&source(), defines, Path::new(env!("CARGO_TARGET_TMPDIR")))
}

fn parts(seed: u64, frames: usize) -> Vec<Differential> {
    ["lb_round_robin", "lb_hash", "lb_redirect", "lb_dsr"]
        .map(|p| differential(p, &seed0_net(p), seed, frames))
        .into()
}

#[test]
#[ignore = "about a minute in a debug build: run with --run-ignored"]
fn the_correct_c_program_matches_the_reference_on_100000_frames_per_part() {
    diff::assert_no_difference(&parts(0, 100_000), &build(&[]), 100_000);
}

#[test]
fn mutants_are_caught_with_a_shrunk_frame_naming_the_field() {
    diff::assert_each_caught(
        &[
            ("BUG_UDP_CSUM_ZERO_OUT", "lb_round_robin", "l4_csum"),
            ("BUG_UDP_CSUM_ZERO_OUT", "lb_hash", "l4_csum"),
            ("BUG_NO_FRAG_CHECK", "lb_hash", "frag_offset"),
            // Checksums the lab names (an update that carries twice), fields no rule reads.
            ("BUG_FOLD_ONCE", "lb_hash", "l4_csum"),
            ("BUG_TCP_DOFF_MIN", "lb_round_robin", "tcp_doff"),
            ("BUG_UDP_LENGTH_MIN", "lb_dsr", "udp_len"),
        ],
        |part| differential(part, &seed0_net(part), 0, CAUGHT_WITHIN),
        |define| build(&[define]),
    );
}

#[test]
fn a_cursor_moved_by_passed_frames_breaks_the_rotation() {
    for part in ["lb_round_robin", "lb_redirect"] {
        let d = differential(part, &seed0_net(part), 0, FRAMES);
        let found = diff::compare(&d, &build(&["BUG_CURSOR_EVERY_FRAME"]), FRAMES);
        let report = d.render(&found).0;
        let difference = found.difference.expect("caught");
        let broken = difference.rotation.expect("by the rotation");
        assert_ne!(broken.expected, Some(broken.actual));
        assert!(
            report.actual.contains("breaks the round robin's rotation")
                && report.expected.contains("backend   10.0.1.")
                && report.actual.contains("backend   10.0.1."),
            "{}",
            report.actual
        );
    }
}

#[test]
fn a_hash_of_more_than_the_source_is_caught_by_two_frames_from_one_source() {
    for part in ["lb_hash", "lb_dsr"] {
        let d = differential(part, &seed0_net(part), 0, FRAMES);
        let found = diff::compare(&d, &build(&["BUG_HASH_PORTS"]), FRAMES);
        let report = d.render(&found).0;
        let difference = found.difference.expect("caught");
        assert!(difference.rotation.is_some());
        assert!(
            report
                .actual
                .contains("must be a function of the source address"),
            "{}",
            report.actual
        );
    }
}

#[test]
fn shrinking_is_deterministic_under_a_seed() {
    diff::assert_deterministic(
        |seed| {
            differential(
                "lb_round_robin",
                &seed0_net("lb_round_robin"),
                seed,
                CAUGHT_WITHIN,
            )
        },
        &build(&["BUG_UDP_CSUM_ZERO_OUT"]),
    );
}

#[test]
fn the_reference_passes_its_differential_checks_in_test_run() {
    let object = XdpObject::from_bytes("reference", reference::lab_7_3()).unwrap();
    let report = testing::run(&lab_7_3::lab(0), &object, Mode::TestRun, None);
    for c in report
        .checks
        .iter()
        .filter(|c| c.id.ends_with("/differential"))
    {
        assert_eq!(c.status, Status::Pass, "{}: {}", c.id, c.message);
    }
}

#[test]
#[ignore = "about ten minutes in a debug build: a measurement for the README"]
fn the_reference_matches_itself_on_a_million_frames() {
    let object = XdpObject::from_bytes("reference", reference::lab_7_3()).unwrap();
    diff::assert_no_difference(&parts(1, 1_000_000), &object, 1_000_000);
}

#[test]
#[ignore = "half a minute in a debug build: `just differential-long` runs it"]
fn existing_mutants_caught_by_the_differential_check_alone() {
    diff::count_caught(
        &source(),
        &[],
        |d| build(&[d]),
        &parts(0, FRAMES),
        &[
            // Wraps after 65,536 packets (`round-robin-past-16-bits`).
            "BUG_CURSOR_U16",
            // The destination is always the VIP: a function of the source too (the spreads).
            "BUG_HASH_DST",
            // Show only with two CPUs at once.
            "BUG_NONATOMIC_COUNTER",
            "BUG_PERCPU_CURSOR",
        ],
    );
}

/// Correct variants the differential check once charged: a source MAC taken from the frame's
/// destination (generated frames are not all addressed to the configured LB MAC), and an IPv4
/// checksum recomputed where the reference carries a wrong one along.
#[test]
fn correct_variants_match_the_reference() {
    for define in ["SRC_MAC_FROM_FRAME", "IP_CSUM_RECOMPUTED"] {
        diff::assert_no_difference(&parts(0, CAUGHT_WITHIN), &build(&[define]), CAUGHT_WITHIN);
    }
}
