//! Telling the harness's frames from a program's other traffic.
//!
//! A program the student attached to their own interface keeps running on that interface's
//! traffic while the harness judges it, and those runs move its counters too. The kernel's
//! run count says when that happened: if it moved by more than the frames a check sent, the
//! check's counters cannot be judged, and the check says so instead of failing.

use crate::{
    check::{Body, Check},
    report::{CheckResult, Status},
};
use kernel::{error::FailureClass, target::Target};

/// The program's run count before `check`, when its counters could be moved by other traffic
/// (a program the harness did not load) and the check compares counters.
pub fn runs_before(target: &mut dyn Target, check: &Check) -> Option<(u64, u64)> {
    let counting = matches!(
        check.body,
        Body::Probes {
            counters: Some(_),
            ..
        }
    );
    if !target.program().adopted() || !counting {
        return None;
    }
    let barriers = target.barriers_sent();
    Some((target.program().run_count().ok()?, barriers))
}

/// Re-labels a failed counting check whose program ran on more frames than it sent: the
/// failure may be the other traffic's doing, so it is not charged to the program.
pub fn judge_runs(
    target: &mut dyn Target,
    check: &Check,
    before: Option<(u64, u64)>,
    mut result: CheckResult,
) -> CheckResult {
    let Some((before, barriers_before)) = before else {
        return result;
    };
    if result.status != Status::Fail(FailureClass::Behaviour) {
        return result;
    }
    let Ok(after) = target.program().run_count() else {
        return result;
    };
    // The harness's own barrier frames (see kernel::settle) run the program too.
    let sent = check.frame_count() as u64 + (target.barriers_sent() - barriers_before);
    let ran = after.saturating_sub(before);
    if ran > sent {
        result.status = Status::Unverified;
        result.message = foreign_message(sent, ran, &result.message);
        // Not judged: no advice about a mistake it may not be.
        result.hints.clear();
    }
    result
}

fn foreign_message(sent: u64, ran: u64, diff: &str) -> String {
    format!(
        "not judged: the check sent {sent} frames but the program ran {ran} times meanwhile, so \
         it also ran on other traffic (an interface it is attached to), which moves its \
         counters too. Run it again when that interface is quiet, or load a second copy for \
         the harness. What the harness saw:\n{diff}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_says_how_many_runs_were_foreign() {
        let m = foreign_message(3, 7, "--- expected");
        assert!(m.starts_with("not judged: the check sent 3 frames but the program ran 7"));
        assert!(m.ends_with("--- expected"));
    }
}
