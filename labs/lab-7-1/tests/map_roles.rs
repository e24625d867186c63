//! A map is bound to a contract role by its layout only if its name is not another role's
//! contract name: filter.c with its `stats` named `backend_stats` (lab 7.3's per-backend
//! counters) has the one ARRAY of u32 to u64 the `stats` role fits, and it is still not read as
//! `stats`.

use std::path::Path;

use harness::{Status, testing};
use kernel::{FailureClass, Mode};

#[test]
fn another_roles_map_is_not_bound_by_layout() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/filter.c");
    let object = testing::build_c(
        &source,
        &["stats=backend_stats"],
        Path::new(env!("CARGO_TARGET_TMPDIR")),
    );
    let report = testing::run(&lab_7_1::lab(0), &object, Mode::TestRun, None);
    assert!(report.maps.is_empty(), "{:?}", report.maps);
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert!(!failed.is_empty(), "{}", report.to_text());
    for c in failed {
        assert_eq!(c.status, Status::Fail(FailureClass::MapLayout), "{}", c.id);
        assert!(
            c.message.contains("`backend_stats`"),
            "{}: {}",
            c.id,
            c.message
        );
    }
}
