//! Lab 7.1 against the reference solution (or the object named by `XDPLAB_OBJECT`), in each
//! mode. The verdict tables are insta snapshots under expected/lab-7-1/, shared by all modes:
//! a mode that disagrees with the others fails its snapshot.

use harness::testing;
use kernel::Mode;

fn passes_everything(mode: Mode) {
    let lab = lab_7_1::lab(0);
    let report = testing::run(&lab, &testing::object_under_test(&lab), mode, None);
    assert!(report.all_passed(), "{}", report.to_text());
    assert_eq!(report.checks.len(), lab.check_ids().len());
    for part in &lab.parts {
        insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../../expected/lab-7-1"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(format!("{}-verdicts", part.program), testing::redact(&report.verdict_table(part.program)));
        });
    }
}

#[test]
fn native() {
    passes_everything(Mode::Native);
}

#[test]
fn generic() {
    passes_everything(Mode::Generic);
}

#[test]
fn test_run() {
    passes_everything(Mode::TestRun);
}

/// Other seeds draw the free fields at random: the reference passes them too, and they
/// change the frames.
#[test]
fn seeded_frames_pass() {
    testing::assert_seeds_vary_and_pass(lab_7_1::lab);
}
