//! Lab 7.3 against the reference solution (or the object named by `XDPLAB_OBJECT`), in each
//! mode. The tables that the contract fixes whatever the program's free choices (rewritten
//! headers, untouched non-VIP frames) are insta snapshots under expected/lab-7-3/, shared by
//! all modes: a mode that disagrees with the others fails its snapshot. Tables that name
//! backends (where the round robin started, where a source hashes to) are left out, since the
//! contract lets those differ between correct programs.

use harness::{Report, Status, testing};
use kernel::{Mode, XdpObject};

fn object() -> XdpObject {
    testing::object_under_test(&lab_7_3::lab(0))
}

fn run(mode: Mode) -> Report {
    let lab = lab_7_3::lab(0);
    let report = testing::run(&lab, &object(), mode, None);
    println!("{}", report.to_text());
    assert!(report.all_passed(), "{}", report.to_text());
    assert_eq!(report.checks.len(), lab.check_ids().len());
    report
}

/// The snapshotted tables of `part`.
fn tables(report: &Report, part: &str) -> String {
    let mut out = String::new();
    for c in report.checks.iter().filter(|c| c.part == part) {
        if [
            "/rewritten-headers",
            "/checksum-edges",
            "/non-vip-untouched",
        ]
        .iter()
        .any(|name| c.id.ends_with(name))
        {
            out.push_str(&format!("## {}\n{}\n", c.id, c.actual));
        }
    }
    out
}

fn snapshots(report: &Report) {
    for part in &lab_7_3::lab(0).parts {
        insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../../expected/lab-7-3"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(part.program, tables(report, part.program));
        });
    }
}

#[test]
fn native() {
    snapshots(&run(Mode::Native));
}

#[test]
fn generic() {
    snapshots(&run(Mode::Generic));
}

#[test]
fn test_run() {
    let report = run(Mode::TestRun);
    assert!(
        report
            .checks
            .iter()
            .filter(|c| c.status == Status::Skip)
            .all(|c| c.id.ends_with("/delivered")
                || c.id.ends_with("/redirect-path")
                || c.id.ends_with("/tcp-handshake")),
        "only the real-path checks are skipped"
    );
    snapshots(&report);
}

/// Other seeds draw the free fields at random: the reference passes them too, and they
/// change the frames.
#[test]
fn seeded_frames_pass() {
    testing::assert_seeds_vary_and_pass(lab_7_3::lab);
}
