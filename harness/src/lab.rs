//! Labs: a contract's programs (parts) and their checks, and the runner that judges an object.

use crate::{
    check::Check,
    error::{Error, FailureClass, Result},
    map_role::MapBinding,
    object::{ProgramSource, XdpObject},
    report::{CheckResult, Report, Status},
    source::foreign,
    target::{self, Mode, Target},
    topology::TopologySpec,
};

/// One program of a lab's contract and the checks that judge it.
#[derive(Debug, Clone)]
pub struct Part {
    /// The program's required name (`ip_filter`).
    pub program: &'static str,
    /// The counter map every check of this part reads before anything runs (catches a
    /// missing or mis-declared map up front), if the contract has one.
    pub counters: Option<&'static str>,
    /// The checks, run in order on one freshly loaded copy of the object.
    pub checks: Vec<Check>,
    /// The network the veth modes build for this part.
    pub topology: TopologySpec,
    /// Fills the maps the contract says the harness fills (backends, redirect ports), on every
    /// fresh load before the checks run.
    pub setup: Option<Setup>,
}

/// A part's set-up step; see [`Part::setup`].
#[derive(Clone)]
pub struct Setup(pub std::sync::Arc<SetupFn>);

/// The function behind a [`Setup`].
pub type SetupFn = dyn Fn(&mut dyn Target) -> Result<()> + Send + Sync;

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Setup(..)")
    }
}

/// A lab: its id, title, reference solution and parts.
#[derive(Debug, Clone)]
pub struct Lab {
    /// The lab's id as users type it (`7.1`).
    pub id: &'static str,
    /// A short title (`packet filter`).
    pub title: &'static str,
    /// The reference solution's object bytes.
    pub reference: fn() -> &'static [u8],
    /// The parts, in contract order.
    pub parts: Vec<Part>,
    /// The network `xdplab env up` builds for exploration (the first part's when `None`).
    pub environment: Option<fn() -> TopologySpec>,
}

/// What to run, and how.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// How the checks reach the program.
    pub mode: Mode,
    /// Only this part (program name).
    pub program: Option<String>,
    /// Only this check id. Its part still runs from a fresh load, but only this check.
    pub check: Option<String>,
    /// The seed the lab's frames were varied with (recorded in the report).
    pub seed: u64,
}

impl Lab {
    /// The reference solution as an object.
    pub fn reference_object(&self) -> XdpObject {
        XdpObject::from_bytes(
            format!("reference solution of lab {}", self.id),
            (self.reference)(),
        )
        .expect("the reference solution is a valid XDP object")
    }

    /// Every check id of the lab.
    pub fn check_ids(&self) -> Vec<&str> {
        self.parts
            .iter()
            .flat_map(|p| p.checks.iter().map(|c| c.id.as_str()))
            .collect()
    }

    /// Runs the lab's checks against `object` and collects every result; one failure never
    /// hides another. A check that the reference solution also fails in this mode is reported
    /// as an environment fault, never as the student's failure.
    pub fn run(&self, object: &dyn ProgramSource, opts: &RunOptions) -> Result<Report> {
        if let Some(id) = &opts.check
            && !self.check_ids().contains(&id.as_str())
        {
            return Err(Error::env(format!(
                "lab {} has no check `{id}`; its checks are: {}",
                self.id,
                self.check_ids().join(", ")
            )));
        }
        if let Some(p) = &opts.program
            && !self.parts.iter().any(|part| part.program == p)
        {
            let names: Vec<_> = self.parts.iter().map(|p| p.program).collect();
            return Err(Error::env(format!(
                "lab {} has no program `{p}`; its programs are: {}",
                self.id,
                names.join(", ")
            )));
        }
        let mut maps = Vec::new();
        let results = if opts.mode == Mode::Auto {
            // Everything test-run can judge there; the rest on a real path.
            let mut fast = self.run_in(object, opts, Mode::TestRun, &|_| true, &mut maps)?;
            let real = self.run_in(object, opts, Mode::Native, &|c| c.needs_veth, &mut maps)?;
            for r in fast.iter_mut().filter(|r| r.status == Status::Skip) {
                if let Some(done) = real.iter().find(|x| x.id == r.id) {
                    *r = done.clone();
                }
            }
            fast
        } else {
            self.run_in(object, opts, opts.mode, &|_| true, &mut maps)?
        };
        let mut report = Report::new(self.id, opts.mode, &object.origin(), results);
        report.seed = opts.seed;
        for m in maps {
            if !report.maps.contains(&m) {
                report.maps.push(m);
            }
        }
        Ok(report)
    }

    /// Runs the selected checks that pass `filter` in `mode`, blaming the environment for
    /// failures the reference solution shares.
    fn run_in(
        &self,
        object: &dyn ProgramSource,
        opts: &RunOptions,
        mode: Mode,
        filter: &dyn Fn(&Check) -> bool,
        maps: &mut Vec<MapBinding>,
    ) -> Result<Vec<CheckResult>> {
        let mut results = Vec::new();
        let mut reference: Option<XdpObject> = None;
        for part in self.selected_parts(opts) {
            let checks: Vec<&Check> = part
                .checks
                .iter()
                .filter(|c| filter(c) && opts.check.as_deref().is_none_or(|id| id == c.id))
                .collect();
            if checks.is_empty() {
                continue;
            }
            let mut part_results = run_part(part, &checks, object, mode, maps)?;
            if part_results
                .iter()
                .any(|r| r.status == Status::Fail(FailureClass::Behaviour))
            {
                let reference = reference.get_or_insert_with(|| self.reference_object());
                if ProgramSource::origin(reference) != object.origin() {
                    let theirs = run_part(part, &checks, reference, mode, &mut Vec::new())?;
                    blame_environment(&mut part_results, &theirs);
                }
            }
            results.extend(part_results);
        }
        Ok(results)
    }

    fn selected_parts<'a>(&'a self, opts: &'a RunOptions) -> impl Iterator<Item = &'a Part> {
        self.parts.iter().filter(move |p| {
            opts.program.as_deref().is_none_or(|n| n == p.program)
                && opts
                    .check
                    .as_deref()
                    .is_none_or(|id| p.checks.iter().any(|c| c.id == id))
        })
    }
}

/// Runs one part on a fresh load. Problems that stop the whole part (missing program, verifier
/// rejection, wrong map) fail each of its checks with that class; environment problems abort.
fn run_part(
    part: &Part,
    checks: &[&Check],
    object: &dyn ProgramSource,
    mode: Mode,
    maps: &mut Vec<MapBinding>,
) -> Result<Vec<CheckResult>> {
    let fail_all = |e: Error| -> Result<Vec<CheckResult>> {
        if e.class() == FailureClass::Environment {
            return Err(e);
        }
        Ok(checks.iter().map(|c| CheckResult::error(c, &e)).collect())
    };
    let mut target = match target::open(object, part.program, mode, &part.topology) {
        Ok(t) => t,
        Err(e) => return fail_all(e),
    };
    // A missing or mis-declared map fails only the checks that read it.
    if let Some(map) = part.counters
        && let Err(e) = target.program().maps().counters(map)
        && e.class() != FailureClass::MapLayout
    {
        return fail_all(e);
    }
    if let Some(Setup(setup)) = &part.setup
        && let Err(e) = setup(target.as_mut())
    {
        return fail_all(e);
    }
    let mut results = Vec::new();
    for check in checks {
        if check.needs_veth && mode == Mode::TestRun {
            results.push(CheckResult::skipped(check));
            continue;
        }
        let runs = foreign::runs_before(target.as_mut(), check);
        let result = match check.judge(target.as_mut()) {
            Ok((judgement, traffic)) => CheckResult::judge(check, judgement, traffic),
            Err(e) if e.class() == FailureClass::Environment => return Err(e),
            Err(e) => CheckResult::error(check, &e),
        };
        results.push(foreign::judge_runs(target.as_mut(), check, runs, result));
    }
    maps.extend(target.program().map_bindings().iter().cloned());
    Ok(results)
}

/// Re-labels failures that the reference solution shares as environment faults.
fn blame_environment(results: &mut [CheckResult], reference: &[CheckResult]) {
    for r in results
        .iter_mut()
        .filter(|r| r.status == Status::Fail(FailureClass::Behaviour))
    {
        if reference
            .iter()
            .any(|x| x.id == r.id && x.status != Status::Pass)
        {
            r.status = Status::Fail(FailureClass::Environment);
            r.message = format!(
                "the reference solution fails this check in this mode too, so the harness or \
                 kernel is at fault, not the program:\n{}",
                r.message
            );
        }
    }
}
