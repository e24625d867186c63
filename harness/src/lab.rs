//! Labs: a contract's programs (parts) and their checks, and the runner that judges an object.

use crate::{
    check::Check,
    error::{Error, FailureClass, Result},
    kernel::{self, Helper},
    object::{ProgramSource, XdpObject},
    report::{CheckResult, ReferenceUnavailable, Report, Status},
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
    /// The BPF helpers the part's programs must call; where the kernel lacks one, every check
    /// of the part is "not run" rather than judged.
    pub requires: &'static [Helper],
}

impl Part {
    /// The same part, requiring the kernel to offer `helpers` (see [`Part::requires`]).
    pub fn requires(mut self, helpers: &'static [Helper]) -> Self {
        self.requires = helpers;
        self
    }
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
        self.try_reference()
            .expect("the reference solution is a valid XDP object")
    }

    /// The reference solution as an object, or why it is not one (an empty object when the
    /// eBPF build was skipped).
    pub fn try_reference(&self) -> Result<XdpObject> {
        XdpObject::from_bytes(
            format!("reference solution of lab {}", self.id),
            (self.reference)(),
        )
    }

    /// Every check id of the lab.
    pub fn check_ids(&self) -> Vec<&str> {
        self.parts
            .iter()
            .flat_map(|p| p.checks.iter().map(|c| c.id.as_str()))
            .collect()
    }

    /// Fails with [`Error::Usage`], listing the valid values, when `opts` names a check or
    /// program the lab does not have, or a check and a program that select nothing together.
    pub fn validate(&self, opts: &RunOptions) -> Result<()> {
        let programs: Vec<_> = self.parts.iter().map(|p| p.program).collect();
        if let Some(p) = &opts.program
            && !programs.contains(&p.as_str())
        {
            return Err(Error::usage(format!(
                "lab {} has no program `{p}`; its programs are: {}. `xdplab list` shows every \
                 lab's programs and checks.",
                self.id,
                programs.join(", ")
            )));
        }
        let Some(id) = &opts.check else {
            return Ok(());
        };
        let Some(part) = self
            .parts
            .iter()
            .find(|p| p.checks.iter().any(|c| &c.id == id))
        else {
            return Err(Error::usage(format!(
                "lab {} has no check `{id}`; its checks are:\n  {}\n`xdplab list` shows them \
                 with their descriptions.",
                self.id,
                self.check_ids().join("\n  ")
            )));
        };
        if let Some(p) = &opts.program
            && p != part.program
        {
            return Err(Error::usage(format!(
                "check `{id}` belongs to program `{}`, not `{p}`, so `--program {p} --check \
                 {id}` selects nothing; give only one of them, or `--program {}`.",
                part.program, part.program
            )));
        }
        Ok(())
    }

    /// Runs the lab's checks against `object` and collects every result; one failure never
    /// hides another. A failure is blamed on the environment only when the reference solution
    /// ran that check in the same mode and failed it too; when the reference could not run, the
    /// program is judged against the contract alone and the report says so. Checks of a part
    /// whose kernel helpers are missing are "not run".
    pub fn run(&self, object: &dyn ProgramSource, opts: &RunOptions) -> Result<Report> {
        self.validate(opts)?;
        let judged = if opts.mode == Mode::Auto {
            // Everything test-run can judge there; the rest on a real path.
            let mut fast = self.run_in(object, opts, Mode::TestRun, &|_| true)?;
            let real = self.run_in(object, opts, Mode::Native, &|c| c.needs_veth)?;
            for r in fast.results.iter_mut().filter(|r| r.status == Status::Skip) {
                if let Some(done) = real.results.iter().find(|x| x.id == r.id) {
                    *r = done.clone();
                }
            }
            fast.reference_unavailable
                .extend(real.reference_unavailable);
            fast
        } else {
            self.run_in(object, opts, opts.mode, &|_| true)?
        };
        let mut report = Report::new(self.id, opts.mode, &object.origin(), judged.results);
        report.seed = opts.seed;
        report.reference_unavailable = judged.reference_unavailable;
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
    ) -> Result<Judged> {
        let mut judged = Judged::default();
        let mut reference: Option<Result<XdpObject>> = None;
        for part in self.selected_parts(opts) {
            let checks: Vec<&Check> = part
                .checks
                .iter()
                .filter(|c| filter(c) && opts.check.as_deref().is_none_or(|id| id == c.id))
                .collect();
            if checks.is_empty() {
                continue;
            }
            let missing = kernel::missing(&part.requires);
            if !missing.is_empty() {
                let reason = kernel::lacks(&missing);
                judged
                    .results
                    .extend(checks.iter().map(|c| CheckResult::not_run(c, &reason)));
                continue;
            }
            let mut part_results = run_part(part, &checks, object, mode)?;
            let behaviour = Status::Fail(FailureClass::Behaviour);
            if part_results.iter().any(|r| r.status == behaviour) {
                let reference = reference.get_or_insert_with(|| self.try_reference());
                let unconfirmed = match reference {
                    // The reference itself: nothing to compare with.
                    Ok(r) if ProgramSource::origin(r) == object.origin() => None,
                    Ok(r) => match run_part(part, &checks, r, mode) {
                        Ok(theirs) => blame_environment(&mut part_results, &theirs),
                        Err(e) => Some(e.to_string()),
                    },
                    Err(e) => Some(e.to_string()),
                };
                if let Some(reason) = unconfirmed {
                    judge_alone(&mut part_results, &reason);
                    judged.reference_unavailable.push(ReferenceUnavailable {
                        part: part.program.to_owned(),
                        mode,
                        reason,
                    });
                }
            }
            judged.results.extend(part_results);
        }
        Ok(judged)
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

/// The results of one mode's run, and the parts the reference solution could not vouch for.
#[derive(Default)]
struct Judged {
    results: Vec<CheckResult>,
    reference_unavailable: Vec<ReferenceUnavailable>,
}

/// Runs one part on a fresh load. Checks that need a real path are skipped in test-run mode
/// before anything loads. Problems that stop the whole part (missing program, verifier
/// rejection, wrong map) fail each of its other checks with that class; environment problems
/// abort.
fn run_part(
    part: &Part,
    checks: &[&Check],
    object: &dyn ProgramSource,
    mode: Mode,
) -> Result<Vec<CheckResult>> {
    let skipped = |c: &Check| c.needs_veth && mode == Mode::TestRun;
    let runnable: Vec<&Check> = checks.iter().copied().filter(|c| !skipped(c)).collect();
    let mut ran = if runnable.is_empty() {
        Vec::new()
    } else {
        load_and_judge(part, &runnable, object, mode)?
    }
    .into_iter();
    Ok(checks
        .iter()
        .map(|c| match skipped(c) {
            true => CheckResult::skipped(c),
            false => ran.next().expect("one result per runnable check"),
        })
        .collect())
}

/// Loads the part's program from `object` and judges `checks` on it, in order.
fn load_and_judge(
    part: &Part,
    checks: &[&Check],
    object: &dyn ProgramSource,
    mode: Mode,
) -> Result<Vec<CheckResult>> {
    let fail_all = |e: Error| -> Result<Vec<CheckResult>> {
        if e.class() == FailureClass::Environment {
            return Err(e);
        }
        let message = match e {
            Error::ProgramNotFound { .. } => format!("{e} {}", object.supply_hint(part.program)),
            _ => e.to_string(),
        };
        Ok(checks
            .iter()
            .map(|c| CheckResult::failed(c, e.class(), message.clone()))
            .collect())
    };
    let mut target = match target::open(object, part.program, mode, &part.topology) {
        Ok(t) => t,
        Err(e) => return fail_all(e),
    };
    if let Some(map) = part.counters
        && let Err(e) = target.program().maps().counters(map)
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
        let result = match check.judge(target.as_mut()) {
            Ok((judgement, traffic)) => CheckResult::judge(check, judgement, traffic),
            Err(e) if e.class() == FailureClass::Environment => return Err(e),
            Err(e) => CheckResult::error(check, &e),
        };
        results.push(result);
    }
    Ok(results)
}

/// Re-labels as environment faults the behaviour failures that the reference solution also
/// failed, having actually run the check. Returns why the reference could not vouch for the
/// other failures when it did not run their checks (it could not load, or a check of its
/// stopped on an error); those failures stay the program's.
fn blame_environment(results: &mut [CheckResult], reference: &[CheckResult]) -> Option<String> {
    let mut unconfirmed = None;
    for r in results
        .iter_mut()
        .filter(|r| r.status == Status::Fail(FailureClass::Behaviour))
    {
        match reference.iter().find(|x| x.id == r.id) {
            Some(x) if x.status == Status::Fail(FailureClass::Behaviour) => {
                r.status = Status::Fail(FailureClass::Environment);
                r.message = format!(
                    "the reference solution fails this check in this mode too, so the harness \
                     or kernel is at fault, not the program:\n{}",
                    r.message
                );
            }
            Some(x) if x.status == Status::Pass => {}
            Some(x) => {
                unconfirmed.get_or_insert_with(|| x.message.clone());
            }
            None => {
                unconfirmed.get_or_insert_with(|| "it did not run this check".to_owned());
            }
        }
    }
    unconfirmed
}

/// Marks the behaviour failures that no reference run confirmed: they stay the program's, and
/// say that the reference could not run here.
fn judge_alone(results: &mut [CheckResult], reason: &str) {
    let first = reason.lines().next().unwrap_or("");
    for r in results
        .iter_mut()
        .filter(|r| r.status == Status::Fail(FailureClass::Behaviour))
        .filter(|r| {
            !r.message
                .starts_with("the reference solution could not run here")
        })
    {
        r.message = format!(
            "the reference solution could not run here: {first}\nso this failure is judged \
             against the contract alone:\n{}",
            r.message
        );
    }
}
