//! The reference, loaded by `bpftool prog loadall ... pinmaps`, run three times on the same
//! maps (pins, id, pins) and then each check replayed alone: every check passes. The
//! round-robin position carries over from run to run (the checks judge the rotation, wherever
//! it starts), and the counters keep counting (the checks read their deltas).
//!
//! Native mode only, which also runs the checks that need a real path: what carries over does
//! not depend on the mode, and lab 7.2's test runs all three. All three here took 35 s.

use harness::testing;
use kernel::Mode;

const PARTS: [&str; 4] = ["lb_round_robin", "lb_hash", "lb_redirect", "lb_dsr"];

#[test]
fn pinned_runs_again() {
    let seen = testing::pinned_runs_again_and_again(&lab_7_3::lab(0), &PARTS, Mode::Native);
    eprintln!("{seen:?}");
    assert!(seen.judged > 0);
    assert_eq!(seen.moved, 0, "no check of lab 7.3 needs fresh sources");
}
