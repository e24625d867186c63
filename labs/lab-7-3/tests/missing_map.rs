//! A map the harness cannot find fails only the checks that read it: lb.c with its `stats`
//! map renamed leaves three ARRAYs of u32 to u64 (`counters`, `backend_stats`, `rr`), so the
//! role lookup cannot tell which is `stats`.

use std::path::Path;

use harness::{Status, testing};
use kernel::{FailureClass, Mode};

#[test]
fn an_unfound_map_fails_only_the_checks_that_read_it() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/lb.c");
    let object = testing::build_c(
        &source,
        &["stats=counters"],
        Path::new(env!("CARGO_TARGET_TMPDIR")),
    );
    let report = testing::run(&lab_7_3::lab(0), &object, Mode::Native, None);
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert!(!failed.is_empty(), "{}", report.to_text());
    for c in &failed {
        assert_eq!(
            c.status,
            Status::Fail(FailureClass::MapLayout),
            "{}",
            report.to_text()
        );
        for needle in [
            "map `stats` not found",
            "`counters`",
            "`backend_stats`",
            "`rr`",
        ] {
            assert!(c.message.contains(needle), "{needle}: {}", c.message);
        }
    }
    let passed = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Pass)
        .count();
    assert!(
        passed > 0,
        "checks that do not read `stats` still pass\n{}",
        report.to_text()
    );
}
