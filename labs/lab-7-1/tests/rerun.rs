//! The reference, loaded and pinned the way `bpftool prog loadall ... pinmaps` does, run three
//! times on its pins and then each check replayed alone: never charged, in every mode (its
//! counters keep counting from run to run, and every check reads their deltas).

use harness::{Mode, testing};

const PARTS: [&str; 3] = ["ip_filter", "port_filter", "firewall"];

fn runs_again_and_again(mode: Mode) {
    let unverified = testing::pinned_runs_again_and_again(&lab_7_1::lab(0), &PARTS, mode);
    assert_eq!(
        unverified, 0,
        "{mode}: a stateless filter needs nothing fresh"
    );
}

#[test]
fn pinned_runs_again_test_run() {
    runs_again_and_again(Mode::TestRun);
}

#[test]
fn pinned_runs_again_native() {
    runs_again_and_again(Mode::Native);
}

#[test]
fn pinned_runs_again_generic() {
    runs_again_and_again(Mode::Generic);
}
