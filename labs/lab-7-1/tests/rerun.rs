//! The reference, loaded and pinned the way `bpftool prog loadall ... pinmaps` does, run three
//! times on its pins and then each check replayed alone: never charged, in every mode (its
//! counters keep counting from run to run, and every check reads their deltas).

use harness::{Mode, testing};

const PARTS: [&str; 3] = ["ip_filter", "port_filter", "firewall"];

#[test]
fn pinned_runs_again_in_every_mode() {
    for mode in Mode::ALL {
        let unverified = testing::pinned_runs_again_and_again(&lab_7_1::lab(0), &PARTS, mode);
        assert_eq!(
            unverified, 0,
            "{mode}: a stateless filter needs nothing fresh"
        );
    }
}
