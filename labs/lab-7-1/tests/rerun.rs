//! The reference, loaded by `bpftool prog loadall ... pinmaps`, run three times on the same
//! maps (pins, id, pins) and then each check replayed alone: every check passes. Its counters
//! keep counting from run to run, and every check reads their deltas.
//!
//! Native mode only: nothing a filter keeps depends on the mode (the counters are read the same
//! way in all three), and lab 7.2's test, whose programs keep per-source state, runs all three.
//! All three here took 35 s.

use harness::testing;
use kernel::Mode;

const PARTS: [&str; 3] = ["ip_filter", "port_filter", "firewall"];

#[test]
fn pinned_runs_again() {
    let seen = testing::pinned_runs_again_and_again(&lab_7_1::lab(0), &PARTS, Mode::Native);
    eprintln!("{seen:?}");
    assert!(seen.judged > 0);
    assert_eq!(seen.moved, 0, "a stateless filter needs nothing fresh");
}
