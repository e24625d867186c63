//! A program the student loaded once and runs many times keeps its maps' state from run to
//! run: the reference, loaded and pinned the way `bpftool prog loadall ... pinmaps` does, run
//! three times on its pins and then each check replayed alone, is never charged. A check that
//! needs sources the maps already know says so (unverified), and the rest pass.

use harness::{Mode, testing};

/// The parts whose maps keep per-source state.
const STATEFUL: [&str; 3] = ["rate_limiter", "syn_guard", "ddos_guard"];

#[test]
fn pinned_runs_again_in_every_mode() {
    for mode in Mode::ALL {
        let unverified = testing::pinned_runs_again_and_again(&lab_7_2::lab(0), &STATEFUL, mode);
        // The later runs find their sources known: some checks say so instead of being judged.
        assert!(
            unverified > 0,
            "{mode}: state from earlier runs was never noticed"
        );
    }
}
