//! The reference, loaded by `bpftool prog loadall ... pinmaps`, run three times on the same
//! maps and then each check replayed alone: every check passes in every mode. Its counters
//! keep counting from run to run, and every check reads their deltas.

use harness::{Mode, testing};

const PARTS: [&str; 3] = ["ip_filter", "port_filter", "firewall"];

#[test]
fn pinned_runs_again_in_every_mode() {
    for mode in Mode::ALL {
        let seen = testing::pinned_runs_again_and_again(&lab_7_1::lab(0), &PARTS, mode);
        eprintln!("{mode}: {seen:?}");
        assert!(seen.judged > 0);
        assert_eq!(seen.moved, 0, "{mode}: a stateless filter needs nothing fresh");
    }
}
