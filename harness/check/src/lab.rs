//! Labs: a contract's programs (parts) and their checks, and the runner that judges an object.

use crate::{
    check::Check,
    fill::Setup,
    foreign,
    report::{CheckResult, ReferenceUnavailable, Report, Status},
};
use kernel::{
    error::{Error, FailureClass, Result},
    host::{self, Helper},
    map_role::MapBinding,
    object::{ProgramSource, XdpObject},
    target::{self, Mode},
    topology::TopologySpec,
};

/// Points for a part when neither the lab nor the rubric file says.
pub const DEFAULT_PART_POINTS: f64 = 10.0;

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
    /// What the part is worth in the lab's default rubric; `None`:
    /// [`DEFAULT_PART_POINTS`].
    pub points: Option<f64>,
}

impl Part {
    /// The same part, requiring the kernel to offer `helpers` (see [`Part::requires`]).
    pub fn requires(mut self, helpers: &'static [Helper]) -> Self {
        self.requires = helpers;
        self
    }
}

/// A lab: its id, title, reference solution and parts.
#[derive(Debug, Clone)]
pub struct Lab {
    /// The lab's id as users type it (`7.1`).
    pub id: &'static str,
    /// A short title (`packet filter`).
    pub title: &'static str,
    /// The lab's contract, its README.md (`include_str!`), quoted next to each check on the
    /// class page.
    pub contract: &'static str,
    /// The reference solution's object bytes.
    pub reference: fn() -> &'static [u8],
    /// The parts, in contract order.
    pub parts: Vec<Part>,
    /// The network `xdplab env up` builds for exploration (the first part's when `None`).
    pub environment: Option<fn() -> TopologySpec>,
}

/// One part of a lab while its checks are written: the lab's id and the part's program, named
/// once, so each check gives only its own name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartId {
    /// The lab's id (`7.1`).
    pub lab: &'static str,
    /// The part's program (`ip_filter`).
    pub program: &'static str,
}

impl PartId {
    /// Part `program` of lab `lab`.
    pub const fn new(lab: &'static str, program: &'static str) -> Self {
        Self { lab, program }
    }

    /// A check of this part, `<lab>/<program>/<name>` ([`Check::new`]).
    pub fn check(self, name: &str, description: impl Into<String>) -> Check {
        Check::new(self.lab, self.program, name, description)
    }
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
        let mut maps = Vec::new();
        let judged = if opts.mode == Mode::Auto {
            // Everything test-run can judge there; the rest on a real path.
            let mut fast = self.run_in(object, opts, Mode::TestRun, &|_| true, &mut maps)?;
            let real = self.run_in(object, opts, Mode::Native, &|c| c.needs_veth, &mut maps)?;
            for r in fast.results.iter_mut().filter(|r| r.status == Status::Skip) {
                if let Some(done) = real.results.iter().find(|x| x.id == r.id) {
                    *r = done.clone();
                }
            }
            fast.reference_unavailable
                .extend(real.reference_unavailable);
            fast
        } else {
            self.run_in(object, opts, opts.mode, &|_| true, &mut maps)?
        };
        let mut report = Report::new(self.id, opts.mode, &object.origin(), judged.results);
        report.seed = opts.seed;
        report.reference_unavailable = judged.reference_unavailable;
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
            let missing = host::missing(part.requires);
            if !missing.is_empty() {
                let reason = host::lacks(&missing);
                judged
                    .results
                    .extend(checks.iter().map(|c| CheckResult::not_run(c, &reason)));
                continue;
            }
            let mut part_results = run_part(part, &checks, object, mode, maps)?;
            let behaviour = Status::Fail(FailureClass::Behaviour);
            if part_results.iter().any(|r| r.status == behaviour) {
                let reference = reference.get_or_insert_with(|| self.try_reference());
                let unconfirmed = match reference {
                    // The reference itself: nothing to compare with.
                    Ok(r) if ProgramSource::origin(r) == object.origin() => None,
                    Ok(r) => match run_part(part, &checks, r, mode, &mut Vec::new()) {
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
    maps: &mut Vec<MapBinding>,
) -> Result<Vec<CheckResult>> {
    let skipped = |c: &Check| c.skipped_in(mode);
    let runnable: Vec<&Check> = checks.iter().copied().filter(|c| !skipped(c)).collect();
    let mut ran = if runnable.is_empty() {
        Vec::new()
    } else {
        load_and_judge(part, &runnable, object, mode, maps)?
    }
    .into_iter();
    Ok(checks
        .iter()
        .map(|c| {
            if skipped(c) {
                CheckResult::skipped(c)
            } else {
                ran.next().expect("one result per runnable check")
            }
        })
        .collect())
}

/// Loads the part's program from `object` and judges `checks` on it, in order.
fn load_and_judge(
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
        let class = e.class();
        let message = object.with_supply_hint(e).to_string();
        // A long message (a verifier's log, a license's fix in three languages) is given whole
        // once, under the part's first check; the others name its first sentence and where
        // the rest is.
        const LONG: usize = 200;
        let first = message.lines().next().unwrap_or_default();
        let short = match checks.first() {
            Some(c) if first.len() < message.len() || message.len() > LONG => {
                let head = first.split_once(". ").map_or(first, |(h, _)| h);
                format!("{head}; the whole message is under {}", c.id)
            }
            _ => message.clone(),
        };
        Ok(checks
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let text = if k == 0 { &message } else { &short };
                CheckResult::failed(c, class, text.clone())
            })
            .collect())
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
    // A program over the per-frame budget would be as slow on every check: the rest of the
    // part fails with the same reason instead of spending seconds per check on it.
    let mut over_budget: Option<String> = None;
    for check in checks {
        if let Some(message) = &over_budget {
            results.push(CheckResult::failed(
                check,
                FailureClass::Timeout,
                message.clone(),
            ));
            continue;
        }
        let runs = foreign::runs_before(target.as_mut(), check);
        let result = match check.judge(target.as_mut()) {
            Ok((judgement, traffic)) => CheckResult::judge(check, judgement, traffic),
            // The machine could not judge this check (a contract's time window missed, a
            // capture that lost frames): it earns and costs nothing, and the part's other
            // checks still run.
            Err(e) if e.class() == FailureClass::Environment => {
                CheckResult::unverified(check, unverified_reason(&e))
            }
            Err(e @ Error::TooSlow { per_frame, .. })
                if per_frame > kernel::budget::FRAME_BUDGET =>
            {
                over_budget = Some(e.to_string());
                CheckResult::error(check, &e)
            }
            Err(e) => CheckResult::error(check, &e),
        };
        results.push(foreign::judge_runs(target.as_mut(), check, runs, result));
    }
    maps.extend(target.program().map_bindings().iter().cloned());
    Ok(results)
}

/// Why a check could not be judged, from the environment error that stopped it: what went
/// wrong and what to do, without the advice for a broken machine (`doctor`, `clean`) that the
/// error's own message gives.
fn unverified_reason(e: &Error) -> String {
    match e {
        Error::Environment { operation, source } => format!(
            "{operation}{}. Run it again; on a quieter machine it is verified",
            source
                .as_ref()
                .map(|s| format!(": {s}"))
                .unwrap_or_default()
        ),
        e => e.to_string(),
    }
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

#[cfg(test)]
pub(crate) mod tests {
    use traffic::{FrameBuilder, Tag};

    use super::*;
    use crate::check::Probe;
    use kernel::{
        topology::{CLIENT_MAC, DUT_MAC},
        verdict::Verdict,
    };

    /// The harness's XDP_PASS program plays the program under test: it passes everything.
    const PROGRAM: &str = "xdplab_pass";

    fn frame(tag: u16) -> Vec<u8> {
        FrameBuilder::ethernet(CLIENT_MAC, DUT_MAC)
            .ipv4([192, 0, 2, 1].into(), [192, 0, 2, 2].into())
            .udp(40000, 9)
            .payload(b"xdplab")
            .tag(Tag(tag))
            .build()
    }

    /// A check the pass program fails (it wants the frame dropped) or passes.
    fn check(name: &str, verdict: Verdict) -> Check {
        Check::new("0.0", PROGRAM, name, format!("the frame gets {verdict}")).probe(Probe::new(
            "udp",
            frame(1),
            verdict,
        ))
    }

    fn lab(reference: fn() -> &'static [u8], checks: Vec<Check>) -> Lab {
        Lab {
            id: "0.0",
            title: "blame test",
            contract: "",
            reference,
            parts: vec![Part {
                program: PROGRAM,
                counters: None,
                checks,
                topology: TopologySpec::pair(),
                setup: None,
                requires: &[],
                points: None,
            }],
            environment: None,
        }
    }

    /// An object whose `xdplab_pass` the verifier rejects (it reads the packet without a
    /// bounds check), as a kernel rejects a reference it cannot verify; built once per process.
    pub(crate) fn rejected() -> &'static [u8] {
        static OBJECT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        OBJECT.get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("xdplab-rejected-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let src = dir.join("rejected.c");
            std::fs::write(
                &src,
                "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
                 SEC(\"xdp\") int xdplab_pass(struct xdp_md *ctx) {\n\
                 return *(volatile char *)(long)ctx->data ? XDP_PASS : XDP_DROP; }\n\
                 char LICENSE[] SEC(\"license\") = \"GPL\";\n",
            )
            .unwrap();
            let object = kernel::clang::compile(&src, &[], &dir).expect("clang builds it");
            let bytes = std::fs::read(object).unwrap();
            std::fs::remove_dir_all(&dir).unwrap();
            bytes
        })
    }

    fn student() -> XdpObject {
        XdpObject::from_bytes("student.o", reference::harness_pass()).unwrap()
    }

    fn run(lab: &Lab, object: &XdpObject) -> Report {
        let opts = RunOptions {
            mode: Mode::TestRun,
            ..Default::default()
        };
        lab.run(object, &opts).expect("the run happens")
    }

    fn result(status: Status, id: &str) -> CheckResult {
        let c = check(id, Verdict::Drop);
        let mut r = CheckResult::failed(&c, FailureClass::Behaviour, format!("{id} differs"));
        r.status = status;
        r.passed = status == Status::Pass;
        r
    }

    #[test]
    fn an_unjudged_check_says_what_happened_and_to_run_it_again() {
        let check = Check::new("0.0", PROGRAM, "c", "c");
        let e = Error::env("`flood` took 900 ms, past the contract's window");
        let r = CheckResult::unverified(&check, unverified_reason(&e));
        assert_eq!(r.status, Status::Unverified);
        assert_eq!(
            r.message,
            "not verified on this run: `flood` took 900 ms, past the contract's window. Run it \
             again; on a quieter machine it is verified"
        );
    }

    #[test]
    fn only_failures_the_reference_ran_and_failed_are_blamed_on_the_environment() {
        let behaviour = Status::Fail(FailureClass::Behaviour);
        let mut ours: Vec<CheckResult> = ["a", "b", "c"]
            .iter()
            .map(|id| result(behaviour, &format!("0.0/{PROGRAM}/{id}")))
            .collect();
        let mut theirs = vec![
            result(behaviour, &format!("0.0/{PROGRAM}/a")),
            result(Status::Pass, &format!("0.0/{PROGRAM}/b")),
            result(
                Status::Fail(FailureClass::Verifier),
                &format!("0.0/{PROGRAM}/c"),
            ),
        ];
        theirs[2].message = "the kernel verifier rejected it".into();
        let unconfirmed = blame_environment(&mut ours, &theirs);
        assert_eq!(ours[0].status, Status::Fail(FailureClass::Environment));
        assert_eq!(
            ours[1].status, behaviour,
            "the reference passed: the program's fault"
        );
        assert_eq!(
            ours[2].status, behaviour,
            "the reference never ran it: not blamed"
        );
        assert_eq!(
            unconfirmed.as_deref(),
            Some("the kernel verifier rejected it")
        );
    }

    #[test]
    fn a_reference_that_did_not_load_excuses_nothing() {
        let behaviour = Status::Fail(FailureClass::Behaviour);
        let mut ours = vec![result(behaviour, "0.0/p/a")];
        let theirs = vec![result(Status::Fail(FailureClass::NoProgram), "0.0/p/a")];
        let reason = blame_environment(&mut ours, &theirs).expect("unconfirmed");
        judge_alone(&mut ours, &reason);
        assert_eq!(ours[0].status, behaviour);
        assert!(
            ours[0]
                .message
                .starts_with("the reference solution could not run here: 0.0/p/a differs"),
            "{}",
            ours[0].message
        );
    }

    /// Needs no root: the program is missing before anything reaches the kernel.
    #[test]
    fn a_missing_program_leaves_unscored_checks_unscored_and_veth_checks_skipped() {
        let checks = vec![
            Check::new("0.0", "absent", "scored", "scored"),
            Check::new("0.0", "absent", "info", "info").unscored(),
            Check::new("0.0", "absent", "veth", "veth").needs_veth(),
        ];
        let mut lab = lab(reference::harness_pass, checks);
        lab.parts[0].program = "absent";
        let report = run(&lab, &student());
        let statuses: Vec<Status> = report.checks.iter().map(|c| c.status).collect();
        assert_eq!(
            statuses,
            [
                Status::Fail(FailureClass::NoProgram),
                Status::Info,
                Status::Skip
            ]
        );
        assert!(
            report.checks[0]
                .message
                .contains("Name the function exactly `absent`"),
            "{}",
            report.checks[0].message
        );
        let t = &report.totals;
        assert_eq!(
            (t.failed, t.info, t.skipped),
            (1, 1, 1),
            "{}",
            report.to_text()
        );
    }

    #[test]
    fn a_failure_the_reference_cannot_run_is_charged_to_the_program() {
        // The lab 7.1 reference has no `xdplab_pass`: it cannot run this part at all.
        let lab = lab(reference::lab_7_1, vec![check("planted", Verdict::Drop)]);
        let report = run(&lab, &student());
        let c = &report.checks[0];
        assert_eq!(
            c.status,
            Status::Fail(FailureClass::Behaviour),
            "{}",
            report.to_text()
        );
        assert!(
            c.message
                .contains("the reference solution could not run here")
        );
        assert_eq!(report.reference_unavailable.len(), 1);
        assert!(
            report.reference_unavailable[0]
                .reason
                .contains("program `xdplab_pass` not found"),
            "{:?}",
            report.reference_unavailable
        );
        assert!(
            report
                .to_text()
                .contains("judged against the contract alone")
        );
    }

    #[test]
    fn a_failure_against_a_rejected_reference_is_charged_to_the_program() {
        let lab = lab(rejected, vec![check("planted", Verdict::Drop)]);
        let report = run(&lab, &student());
        assert_eq!(
            report.checks[0].status,
            Status::Fail(FailureClass::Behaviour),
            "{}",
            report.to_text()
        );
        let reason = &report.reference_unavailable[0].reason;
        assert!(
            reason.contains("the kernel verifier rejected `xdplab_pass`"),
            "{reason}"
        );
        assert!(
            report.checks[0]
                .message
                .starts_with("the reference solution could not run here: the kernel verifier"),
            "{}",
            report.checks[0].message
        );
    }

    #[test]
    fn a_failure_the_reference_shares_is_the_environments() {
        let lab = lab(
            reference::harness_pass,
            vec![check("planted", Verdict::Drop)],
        );
        let report = run(&lab, &student());
        assert_eq!(
            report.checks[0].status,
            Status::Fail(FailureClass::Environment),
            "{}",
            report.to_text()
        );
        assert_eq!(report.reference_unavailable.len(), 0);
    }

    #[test]
    fn checks_needing_a_helper_the_kernel_lacks_are_not_run_and_carry_no_points() {
        // A helper XDP programs may never call stands in for one the kernel lacks.
        const SOCK_OPS_ONLY: &[Helper] = &[Helper {
            name: "bpf_sock_ops_cb_flags_set",
            id: aya::sys::BpfHelper::BPF_FUNC_sock_ops_cb_flags_set,
        }];
        let mut lab = lab(
            reference::harness_pass,
            vec![
                check("passes", Verdict::Pass),
                check("fails", Verdict::Drop),
            ],
        );
        lab.parts.push(Part {
            program: PROGRAM,
            ..lab.parts[0].clone()
        });
        lab.parts[1].requires = SOCK_OPS_ONLY;
        for c in &mut lab.parts[1].checks {
            c.id =
                c.id.replace("passes", "other-passes")
                    .replace("fails", "other-fails");
        }
        let report = run(&lab, &student());
        let not_run: Vec<&CheckResult> = report
            .checks
            .iter()
            .filter(|c| c.status == Status::NotRun)
            .collect();
        assert_eq!(not_run.len(), 2, "{}", report.to_text());
        assert_eq!(
            not_run[0].message,
            "not run: the kernel lacks bpf_sock_ops_cb_flags_set"
        );
        assert_eq!(report.totals.not_run, 2);
        assert_eq!(report.exit_code(), 2);
        assert!(!report.all_passed());
        let text = report.to_text();
        let (header, rest) = text.split_once('\n').expect("lines");
        assert!(header.starts_with("lab 0.0 · mode test-run · object student.o · kernel "));
        assert!(rest.starts_with(&format!("NOT RUN  2 check(s) of {PROGRAM}")));
    }
}
