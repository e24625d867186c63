//! The reference, loaded by `bpftool prog loadall ... pinmaps`, run three times on the same
//! maps and then each check replayed alone: every check passes. The round-robin position
//! carries over from run to run (the checks judge the rotation, wherever it starts), and the
//! counters keep counting (the checks read their deltas).

use harness::{Mode, testing};

const PARTS: [&str; 4] = ["lb_round_robin", "lb_hash", "lb_redirect", "lb_dsr"];

#[test]
fn pinned_runs_again_in_every_mode() {
    for mode in Mode::ALL {
        let seen = testing::pinned_runs_again_and_again(&lab_7_3::lab(0), &PARTS, mode);
        eprintln!("{mode}: {seen:?}");
        assert!(seen.judged > 0);
    }
}
