//! Lab 7.1 against C programs built with clang: the correct one passes everything in every
//! mode; each deliberately wrong one is flagged by exactly the checks its mistake breaks.
//! The mistakes are described in programs/filter.c.

use std::{collections::BTreeSet, path::Path};

use harness::{FailureClass, Mode, Report, RunOptions, Status, XdpObject};

fn build(defines: &[&str]) -> XdpObject {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/filter.c");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = harness::clang::compile(&source, defines, out).expect("clang builds filter.c");
    XdpObject::from_path(path).expect("an XDP object")
}

fn run(object: &XdpObject, mode: Mode) -> Report {
    lab_7_1::lab()
        .run(object, &RunOptions { mode, program: None, check: None })
        .expect("the run happens")
}

fn failed(report: &Report, class: FailureClass) -> BTreeSet<&str> {
    report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail(class))
        .map(|c| c.id.as_str())
        .collect()
}

/// Asserts that the mutant fails exactly `expected` (behaviour checks) and nothing else.
fn flagged(define: &str, mode: Mode, expected: &[&str]) {
    let report = run(&build(&[define]), mode);
    let all_failed: BTreeSet<&str> =
        report.checks.iter().filter(|c| !c.passed).map(|c| c.id.as_str()).collect();
    assert_eq!(
        failed(&report, FailureClass::Behaviour),
        expected.iter().copied().collect(),
        "{define}\n{}",
        report.to_text()
    );
    assert_eq!(all_failed.len(), expected.len(), "only behaviour failures\n{}", report.to_text());
}

#[test]
fn correct_c_program_passes_native() {
    let report = run(&build(&[]), Mode::Native);
    assert!(report.all_passed(), "{}", report.to_text());
}

#[test]
fn correct_c_program_passes_generic() {
    let report = run(&build(&[]), Mode::Generic);
    assert!(report.all_passed(), "{}", report.to_text());
}

#[test]
fn correct_c_program_passes_test_run() {
    let report = run(&build(&[]), Mode::TestRun);
    assert!(report.all_passed(), "{}", report.to_text());
}

#[test]
fn verifier_rejection_is_reported_with_its_log() {
    let report = run(&build(&["BUG_NO_BOUNDS_CHECK"]), Mode::TestRun);
    let rejected = failed(&report, FailureClass::Verifier);
    let port_checks: BTreeSet<&str> =
        report.checks.iter().filter(|c| c.part == "port_filter").map(|c| c.id.as_str()).collect();
    assert_eq!(rejected, port_checks, "{}", report.to_text());
    let message = &report.checks.iter().find(|c| c.part == "port_filter").unwrap().message;
    assert!(message.contains("verifier rejected `port_filter`"), "{message}");
    assert!(message.contains("invalid access to packet"), "{message}");
    // The other two programs of the same object still get judged, and pass.
    assert!(report.checks.iter().filter(|c| c.part != "port_filter").all(|c| c.passed));
}
