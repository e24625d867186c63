//! How xdplab ends: the exit-code policy, in one place.

use std::process::ExitCode;

use harness::{Report, Status};
use kernel::FailureClass;

/// The exit status of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: every check passed, or the command did what it was asked.
    Passed,
    /// 1: a check failed (`mutants`: the register disagrees with the survivors).
    Failed,
    /// 2: the run could not happen (bad input, a rejected program, no root, an environment
    /// fault, a check the harness could not judge), with a message saying why.
    CouldNotRun,
}

impl Exit {
    /// 0 when `ok`, else 1.
    pub(crate) fn passed_if(ok: bool) -> Self {
        if ok { Exit::Passed } else { Exit::Failed }
    }

    /// A report's status. A load or map failure (bad object, verifier rejection, wrong map)
    /// means the run could not happen for that program: 2, with the reason already in the
    /// report. Otherwise the report's own policy ([`Report::exit_code`]).
    pub(crate) fn of_report(report: &Report) -> Self {
        let rejected = report.checks.iter().any(|c| {
            matches!(
                c.status,
                Status::Fail(
                    FailureClass::Verifier | FailureClass::BadObject | FailureClass::MapLayout
                )
            )
        });
        match report.exit_code() {
            _ if rejected => Exit::CouldNotRun,
            0 => Exit::Passed,
            1 => Exit::Failed,
            _ => Exit::CouldNotRun,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(match exit {
            Exit::Passed => 0,
            Exit::Failed => 1,
            Exit::CouldNotRun => 2,
        })
    }
}

/// A command's exit status; when it could not run, says why on standard error first.
pub(crate) fn finish(result: Result<Exit, impl std::fmt::Display>) -> ExitCode {
    result
        .unwrap_or_else(|e| {
            eprintln!("xdplab: {e}");
            Exit::CouldNotRun
        })
        .into()
}
