//! A program the student loaded once and runs many times keeps its maps' state from run to
//! run: the reference, loaded by `bpftool prog loadall ... pinmaps`, run three times on the same
//! maps (pins, id, pins) and then each check replayed alone, passes every check in every mode.
//! Checks that need sources the maps do not know yet send from another /24. One test per mode,
//! so that they run side by side (each takes about 35 s).

use harness::testing;
use kernel::Mode;

const PARTS: [&str; 4] = ["rate_limiter", "syn_guard", "ddos_guard", "syn_cookie"];

fn runs_again(mode: Mode) {
    let seen = testing::pinned_runs_again_and_again(&lab_7_2::lab(0), &PARTS, mode);
    eprintln!("{mode}: {seen:?}");
    // The later runs find their sources known, and move them.
    assert!(
        seen.moved > 0,
        "{mode}: state from earlier runs was never met"
    );
}

#[test]
fn pinned_runs_again_native() {
    runs_again(Mode::Native);
}

#[test]
fn pinned_runs_again_generic() {
    runs_again(Mode::Generic);
}

#[test]
fn pinned_runs_again_test_run() {
    runs_again(Mode::TestRun);
}
