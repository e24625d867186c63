//! A counter map too small for the indices a check compares is a map-layout error that names its
//! size, never "+0" read past its end. (The blocklist's values take the size the program
//! declared: ddos.c's are u8, and `c_programs.rs` runs it.)

use std::path::Path;

use harness::{Status, testing};
use kernel::{FailureClass, Mode, XdpObject};

fn build(defines: &[&str]) -> XdpObject {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/ddos.c");
    testing::build_c(&source, defines, Path::new(env!("CARGO_TARGET_TMPDIR")))
}

/// `stats` with 2 entries: every check that compares stats[2] or above fails as map-layout,
/// saying the map has 2 entries; the checks that read only stats[0] and stats[1] are judged.
#[test]
fn a_counter_map_too_small_is_a_layout_error_naming_its_size() {
    let report = testing::run(
        &lab_7_2::lab(0),
        &build(&["STATS_ENTRIES=2"]),
        Mode::TestRun,
        None,
    );
    let layout: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail(FailureClass::MapLayout))
        .collect();
    for part in ["ddos_guard", "syn_cookie"] {
        assert!(
            layout.iter().any(|c| c.part == part),
            "{part}: no map-layout error\n{}",
            report.to_text()
        );
    }
    for c in &layout {
        assert!(c.message.contains("2 entries"), "{}: {}", c.id, c.message);
    }
    // Nothing is charged as behaviour for reading past the map's end.
    let charged: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail(FailureClass::Behaviour))
        .map(|c| c.id.as_str())
        .collect();
    assert!(charged.is_empty(), "{charged:?}\n{}", report.to_text());
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.part == "rate_limiter" && c.status == Status::Pass),
        "{}",
        report.to_text()
    );
}
