//! Results of a lab run: one line per check for people, stable JSON for machines.

use serde::{Deserialize, Serialize};

use crate::{
    check::Check,
    judgement::{Frame, Judgement},
};
use kernel::{
    error::{Error, FailureClass},
    target::Mode,
};

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "class")]
pub enum Status {
    /// The program did what the contract says.
    Pass,
    /// It did not, for the given reason.
    Fail(FailureClass),
    /// Reported but not scored (outside the contract).
    Info,
    /// Not run in this mode (it needs a real path).
    Skip,
    /// Could not run at all on this machine (the kernel lacks a helper the part needs): neither
    /// passed nor failed, and out of both the points earned and the points possible.
    NotRun,
    /// Ran, but this run could not judge the program by it: the contract's time window was
    /// missed, a capture lost frames, or other traffic ran the program meanwhile. Like an
    /// environment fault it carries no points either way; unlike one, nothing is known to be
    /// broken, and another run may verify it.
    Unverified,
}

impl Status {
    /// Whether the check was judged here, so that it carries its points either way: a pass, or
    /// a failure charged to the program (not an environment fault, nor anything unverified).
    pub fn is_verified(self) -> bool {
        match self {
            Status::Pass => true,
            Status::Fail(class) => class != FailureClass::Environment,
            Status::Info | Status::Skip | Status::NotRun | Status::Unverified => false,
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's stable id.
    pub id: String,
    /// The program (part) it belongs to.
    pub part: String,
    /// What the check shows when it passes.
    pub description: String,
    /// How it ended.
    #[serde(flatten)]
    pub status: Status,
    /// Whether it passed (false for failures and checks not run; true for passes, unscored and
    /// skipped checks).
    pub passed: bool,
    /// Empty on a pass; otherwise the diff or the error, readable as is.
    pub message: String,
    /// Advice for a usual mistake whose pattern this failure shows (none on a pass, and none
    /// guessed: a failure no hint's pattern matches has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
    /// The table of what happened (also for passes: the snapshot tests record it).
    #[serde(skip)]
    pub actual: String,
    /// The frames the check sent and saw, for `--pcap`.
    #[serde(skip)]
    pub traffic: Vec<Frame>,
}

impl CheckResult {
    /// Judges what a check saw against what it expected.
    pub fn judge(check: &Check, judgement: Judgement, traffic: Vec<Frame>) -> Self {
        let hints = if check.scored && judgement.expected != judgement.actual {
            crate::hint::matching(&check.hints, &judgement)
        } else {
            Vec::new()
        };
        let Judgement { expected, actual } = judgement;
        let (status, message) = if !check.scored {
            (
                Status::Info,
                format!("outcome (not scored):\n{}", indent(&actual)),
            )
        } else if expected == actual {
            (Status::Pass, String::new())
        } else {
            (
                Status::Fail(FailureClass::Behaviour),
                diff(&expected, &actual),
            )
        };
        Self {
            id: check.id.clone(),
            part: check.part.clone(),
            description: check.description.clone(),
            passed: status != Status::Fail(FailureClass::Behaviour),
            status,
            message,
            hints,
            actual,
            traffic,
        }
    }

    /// A check this mode cannot run (it needs a real path, or it is differential without a
    /// veth sample and the mode is a veth one).
    pub fn skipped(check: &Check) -> Self {
        Self {
            id: check.id.clone(),
            part: check.part.clone(),
            description: check.description.clone(),
            status: Status::Skip,
            passed: true,
            message: if matches!(check.body, crate::check::Body::Differential(_)) {
                "compares with the reference through BPF_PROG_TEST_RUN and has no veth sample: \
                 run it in test-run or auto mode"
            } else {
                "needs a real path: run it in native or generic mode"
            }
            .into(),
            hints: Vec::new(),
            actual: String::new(),
            traffic: Vec::new(),
        }
    }

    /// A check that could not run because of `e` (missing program, verifier, map layout).
    pub fn error(check: &Check, e: &Error) -> Self {
        Self::failed(check, e.class(), e.to_string())
    }

    /// A check that failed for `class`, with `message` as the reason. An unscored check stays
    /// unscored: it reports the reason as information and never counts as a failure.
    pub fn failed(check: &Check, class: FailureClass, message: String) -> Self {
        let (status, message) = if check.scored {
            (Status::Fail(class), message)
        } else {
            (
                Status::Info,
                format!("not scored; it could not run:\n{}", indent(&message)),
            )
        };
        Self {
            id: check.id.clone(),
            part: check.part.clone(),
            description: check.description.clone(),
            passed: status == Status::Info,
            status,
            message,
            hints: Vec::new(),
            actual: String::new(),
            traffic: Vec::new(),
        }
    }

    /// A check this run could not judge, with `reason` (a missed time window, lost frames).
    /// An unscored check stays unscored.
    pub fn unverified(check: &Check, reason: String) -> Self {
        let mut r = Self::failed(check, FailureClass::Environment, String::new());
        if r.status == Status::Info {
            r.message = format!(
                "not scored; it could not be judged on this run:\n{}",
                indent(&reason)
            );
        } else {
            r.status = Status::Unverified;
            r.message = format!("not verified on this run: {reason}");
        }
        r
    }

    /// A check that cannot run on this machine at all, with `reason` (`not run: the kernel
    /// lacks ...`).
    pub fn not_run(check: &Check, reason: &str) -> Self {
        Self {
            id: check.id.clone(),
            part: check.part.clone(),
            description: check.description.clone(),
            status: Status::NotRun,
            passed: false,
            message: reason.to_owned(),
            hints: Vec::new(),
            actual: String::new(),
            traffic: Vec::new(),
        }
    }
}

/// A part whose failures the reference solution could not confirm or excuse, because it could
/// not run here: the part was judged against the contract alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceUnavailable {
    /// The program (part).
    pub part: String,
    /// The mode the reference was tried in.
    pub mode: Mode,
    /// Why it could not run (its load error, or what stopped it).
    pub reason: String,
}

impl std::fmt::Display for ReferenceUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the reference solution could not run here ({}, {} mode): {}",
            self.part,
            self.mode,
            self.reason.lines().next().unwrap_or("")
        )
    }
}

/// A unified diff of expected against actual, with `-` for expected and `+` for actual.
pub fn diff(expected: &str, actual: &str) -> String {
    let d = similar::TextDiff::from_lines(expected, actual);
    let mut out = String::from("--- expected\n+++ actual\n");
    for change in d.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => ' ',
        };
        out.push(sign);
        out.push_str(change.value());
        if !change.value().ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// The four-letter mark of a status in text reports.
pub fn mark(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASS",
        Status::Info => "INFO",
        Status::Skip => "SKIP",
        Status::NotRun => "NRUN",
        Status::Unverified => "UNVR",
        Status::Fail(FailureClass::Environment) => "ENV ",
        Status::Fail(_) => "FAIL",
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

/// Counts over a report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Scored checks that passed.
    pub passed: usize,
    /// Scored checks that failed because of the program.
    pub failed: usize,
    /// Checks that failed because of the harness or kernel.
    pub environment: usize,
    /// Unscored checks.
    pub info: usize,
    /// Checks the chosen mode does not run (they need a real path: use native or generic).
    pub skipped: usize,
    /// Checks that could not run on this machine at all (the kernel lacks a helper).
    #[serde(default)]
    pub not_run: usize,
    /// Checks that ran but that this run could not judge (a missed time window, lost frames).
    #[serde(default)]
    pub unverified: usize,
}

impl Totals {
    /// The checks counted by outcome.
    pub fn of(checks: &[CheckResult]) -> Self {
        let mut totals = Totals::default();
        for c in checks {
            match c.status {
                Status::Pass => totals.passed += 1,
                Status::Info => totals.info += 1,
                Status::Skip => totals.skipped += 1,
                Status::NotRun => totals.not_run += 1,
                Status::Unverified => totals.unverified += 1,
                Status::Fail(FailureClass::Environment) => totals.environment += 1,
                Status::Fail(_) => totals.failed += 1,
            }
        }
        totals
    }
}

/// Everything one run of a lab found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The lab id.
    pub lab: String,
    /// The mode the checks ran in.
    pub mode: Mode,
    /// The object judged.
    pub object: String,
    /// The kernel that judged it (`6.1.0-25-amd64 (VM, emulated)`; [`kernel::host::judge`]).
    #[serde(default)]
    pub kernel: String,
    /// One entry per check, in lab order.
    pub checks: Vec<CheckResult>,
    /// Counts.
    pub totals: Totals,
    /// The seed that varied the frames (0: the canonical ones).
    #[serde(default)]
    pub seed: u64,
    /// Parts whose failures were judged without the reference solution, which could not run.
    #[serde(default)]
    pub reference_unavailable: Vec<ReferenceUnavailable>,
    /// Maps that stood in for the contract's maps without having their names (found by
    /// layout, or by a map pin).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maps: Vec<kernel::map_role::MapBinding>,
    /// How fast the programs are next to the reference solution (`run --perf`; information).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perf: Option<Perf>,
}

impl Report {
    /// Collects results and counts them.
    pub fn new(lab: &str, mode: Mode, object: &str, checks: Vec<CheckResult>) -> Self {
        let totals = Totals::of(&checks);
        Self {
            lab: lab.into(),
            mode,
            object: object.to_owned(),
            kernel: kernel::host::judge(),
            checks,
            totals,
            seed: 0,
            reference_unavailable: Vec::new(),
            maps: Vec::new(),
            perf: None,
        }
    }

    /// True when every check that should run here ran and none failed for any reason.
    pub fn all_passed(&self) -> bool {
        let t = &self.totals;
        t.failed == 0 && t.environment == 0 && t.not_run == 0 && t.unverified == 0
    }

    /// The process exit code the CLI uses: 0 all passed, 1 a check failed, 2 environment (a
    /// fault, checks this machine cannot run, or checks this run could not judge).
    pub fn exit_code(&self) -> i32 {
        let t = &self.totals;
        if t.environment > 0 || t.not_run > 0 || t.unverified > 0 {
            2
        } else {
            i32::from(self.totals.failed > 0)
        }
    }

    /// One line per check with a pass/fail mark, the diff under each failure, then totals.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "lab {} · mode {} · object {} · kernel {}\n",
            self.lab, self.mode, self.object, self.kernel
        );
        let caveats = self.caveats();
        out.push_str(&caveats);
        for m in &self.maps {
            out.push_str(&format!("{}\n", m.line()));
        }
        for c in &self.checks {
            out.push_str(&format!(
                "{} {:<48} {}\n",
                mark(c.status),
                c.id,
                c.description
            ));
            if !c.message.is_empty() {
                out.push_str(&indent(&c.message));
            }
            for h in &c.hints {
                out.push_str(&indent(&format!("hint: {h}")));
            }
        }
        let t = &self.totals;
        out.push_str(&format!(
            "{} passed, {} failed, {} environment faults, {} not verified, {} not run, {} not scored, {} skipped\n",
            t.passed, t.failed, t.environment, t.unverified, t.not_run, t.info, t.skipped
        ));
        // Repeated under the totals: a long report's first lines scroll away.
        out.push_str(&caveats);
        out
    }

    /// What limits this report's verdicts, one line each: checks that could not run here, and
    /// parts judged without the reference solution. Empty when nothing does.
    pub fn caveats(&self) -> String {
        let mut out = String::new();
        let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
        for c in self.checks.iter().filter(|c| c.status == Status::NotRun) {
            match reasons.iter_mut().find(|(r, _)| *r == c.message) {
                Some((_, parts)) if parts.contains(&c.part.as_str()) => {}
                Some((_, parts)) => parts.push(&c.part),
                None => reasons.push((&c.message, vec![&c.part])),
            }
        }
        for (reason, parts) in reasons {
            let n = self
                .checks
                .iter()
                .filter(|c| c.status == Status::NotRun && c.message == reason)
                .count();
            out.push_str(&format!(
                "NOT RUN  {n} check(s) of {} ({reason}); they are neither passed nor failed, and \
                 no points either way\n",
                parts.join(", ")
            ));
        }
        let unverified: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Unverified)
            .map(|c| c.id.as_str())
            .collect();
        if !unverified.is_empty() {
            out.push_str(&format!(
                "NOTE     {} check(s) could not be judged on this run ({}); no points either \
                 way: run again, on a quieter machine\n",
                unverified.len(),
                unverified.join(", ")
            ));
        }
        for r in &self.reference_unavailable {
            out.push_str(&format!(
                "NOTE     {r}; failures of {} are judged against the contract alone\n",
                r.part
            ));
        }
        out
    }

    /// The documented, stable JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises")
    }

    /// The verdict table of one part: every check's observed table, for snapshot tests.
    pub fn verdict_table(&self, part: &str) -> String {
        let mut out = String::new();
        // A differential check's table names its mode and frame count: not the same in every
        // mode.
        for c in self
            .checks
            .iter()
            .filter(|c| c.part == part && !c.id.ends_with("/differential"))
        {
            out.push_str(&format!("## {}\n{}\n", c.id, c.actual));
        }
        out
    }
}

/// Writes each check's traffic as two pcap files in `dir` (`<check>.sent.pcap` and
/// `<check>.observed.pcap`, `/` in ids replaced by `_`) that open in Wireshark. Returns how
/// many files were written. Timestamps are frame numbers in milliseconds, so the files are
/// reproducible.
pub fn write_pcaps(dir: &std::path::Path, report: &Report) -> kernel::Result<usize> {
    use pcap_file::pcap::{PcapPacket, PcapWriter};
    std::fs::create_dir_all(dir).map_err(Error::during(format!("creating {}", dir.display())))?;
    let mut written = 0;
    for c in report.checks.iter().filter(|c| !c.traffic.is_empty()) {
        for (suffix, sent) in [("sent", true), ("observed", false)] {
            let path = dir.join(format!("{}.{suffix}.pcap", c.id.replace('/', "_")));
            let file = std::fs::File::create(&path)
                .map_err(Error::during(format!("creating {}", path.display())))?;
            let mut w = PcapWriter::new(file)
                .map_err(Error::during(format!("writing {}", path.display())))?;
            for (i, f) in c.traffic.iter().filter(|f| f.sent == sent).enumerate() {
                let ts = std::time::Duration::from_millis(i as u64);
                w.write_packet(&PcapPacket::new(ts, f.bytes.len() as u32, &f.bytes))
                    .map_err(Error::during(format!("writing {}", path.display())))?;
            }
            written += 1;
        }
    }
    Ok(written)
}

/// The checks that left no frames for pcap files, each with why: skipped in this mode, could
/// not run (a load failure, a missing kernel feature), or sent none.
pub fn without_traffic(report: &Report) -> Vec<(&str, String)> {
    report
        .checks
        .iter()
        .filter(|c| c.traffic.is_empty())
        .map(|c| {
            let why = match c.status {
                Status::Skip => format!("skipped in {} mode", report.mode),
                Status::NotRun => "not run on this machine".to_owned(),
                Status::Fail(class) if class != FailureClass::Behaviour => {
                    "it could not run (its result says why)".to_owned()
                }
                _ => "it sent no frames".to_owned(),
            };
            (c.id.as_str(), why)
        })
        .collect()
}

/// The median of several runs and their spread.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Spread {
    /// The median run.
    pub median: f64,
    /// The fastest run.
    pub min: f64,
    /// The slowest run.
    pub max: f64,
}

impl Spread {
    pub(crate) fn of(mut xs: Vec<f64>) -> Self {
        xs.sort_by(f64::total_cmp);
        Self {
            median: xs[xs.len() / 2],
            min: xs[0],
            max: xs[xs.len() - 1],
        }
    }
}

/// Native-mode veth throughput: frames per second each program took from a burst on its veth.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VethRates {
    /// The program under test (None when it could not be measured).
    pub program: Option<Spread>,
    /// The reference solution's program.
    pub reference: Spread,
    /// The bare XDP_DROP program.
    pub floor: Spread,
}

/// One program measured side by side with the reference solution's and an XDP_DROP floor.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProgramPerf {
    /// The program's name.
    pub program: String,
    /// Distinct frames in the lab's frame mix for this program.
    pub frames: usize,
    /// ns per frame through BPF_PROG_TEST_RUN, averaged over the mix (None when it could not
    /// be measured: see `error`).
    pub ns: Option<Spread>,
    /// The reference solution's ns per frame on the same mix, in the same run.
    pub reference_ns: Spread,
    /// A bare XDP_DROP program's ns per frame: what the test run itself costs.
    pub floor_ns: Spread,
    /// Median ns per frame of the program over the reference's (1.0 = as fast).
    pub ratio: Option<f64>,
    /// Native-mode veth frames per second, when measured.
    pub veth: Option<VethRates>,
    /// Why the program could not be measured.
    pub error: Option<String>,
}

/// A performance report: every program of a lab next to the reference solution.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Perf {
    /// Runs per measurement (the median and spread are over these).
    pub runs: usize,
    /// BPF_PROG_TEST_RUN repeats of each frame in one run.
    pub repeat: u32,
    /// Per program, in contract order.
    pub programs: Vec<ProgramPerf>,
}

impl Perf {
    /// The report as a text table (ns per frame: median, and min-max over the runs).
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "performance (information; {} runs, each frame {} times through BPF_PROG_TEST_RUN; \
             median [min-max])\n",
            self.runs, self.repeat
        );
        let ns = |s: &Spread| format!("{:.0} [{:.0}-{:.0}]", s.median, s.min, s.max);
        let fps = |s: &Spread| format!("{:.0}k", s.median / 1e3);
        for p in &self.programs {
            out.push_str(&format!(
                "  {} ({} frames in the mix)\n",
                p.program, p.frames
            ));
            match (&p.ns, &p.error) {
                (Some(s), _) => out.push_str(&format!(
                    "    ns/frame: this program {}, reference {}, XDP_DROP floor {}; ratio {:.2}\n",
                    ns(s),
                    ns(&p.reference_ns),
                    ns(&p.floor_ns),
                    p.ratio.unwrap_or_default()
                )),
                (None, e) => out.push_str(&format!(
                    "    not measured: {}\n    ns/frame: reference {}, XDP_DROP floor {}\n",
                    e.as_deref().unwrap_or("no result"),
                    ns(&p.reference_ns),
                    ns(&p.floor_ns)
                )),
            }
            if let Some(v) = &p.veth {
                out.push_str(&format!(
                    "    native veth frames/s: this program {}, reference {}, XDP_DROP floor {}\n",
                    v.program.as_ref().map_or("-".into(), fps),
                    fps(&v.reference),
                    fps(&v.floor)
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, status: Status, message: &str) -> CheckResult {
        let check = Check::new("0.0", "p", id, id);
        let mut r = CheckResult::not_run(&check, message);
        r.passed = matches!(status, Status::Pass | Status::Info | Status::Skip);
        r.status = status;
        r
    }

    #[test]
    fn totals_count_each_status_once_and_not_run_is_never_a_pass() {
        let report = Report::new(
            "0.0",
            Mode::Auto,
            "o.o",
            vec![
                result("a", Status::Pass, ""),
                result("b", Status::Fail(FailureClass::Behaviour), "diff"),
                result("c", Status::Fail(FailureClass::Environment), "env"),
                result("d", Status::Info, "info"),
                result("e", Status::Skip, "skip"),
                result("f", Status::NotRun, "not run: the kernel lacks bpf_x"),
                result("g", Status::NotRun, "not run: the kernel lacks bpf_x"),
                result(
                    "h",
                    Status::Unverified,
                    "not verified on this run: too slow",
                ),
            ],
        );
        let t = &report.totals;
        assert_eq!(
            (
                t.passed,
                t.failed,
                t.environment,
                t.info,
                t.skipped,
                t.not_run,
                t.unverified
            ),
            (1, 1, 1, 1, 1, 2, 1)
        );
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["totals"]["not_run"], 2);
        assert_eq!(json["checks"][5]["status"], "not-run");
        assert_eq!(json["checks"][5]["passed"], false);
        assert_eq!(json["totals"]["unverified"], 1);
        assert_eq!(json["checks"][7]["status"], "unverified");
        assert_eq!(
            report.caveats(),
            "NOT RUN  2 check(s) of p (not run: the kernel lacks bpf_x); they are neither \
             passed nor failed, and no points either way\n\
             NOTE     1 check(s) could not be judged on this run (0.0/p/h); no points either \
             way: run again, on a quieter machine\n"
        );
        for tail in [5, 7] {
            let alone = Report::new("0.0", Mode::Auto, "o.o", report.checks[tail..].to_vec());
            assert!(!alone.all_passed());
            assert_eq!(alone.exit_code(), 2);
        }
        assert!(!Status::Unverified.is_verified());
        assert!(!Status::Fail(FailureClass::Environment).is_verified());
        assert!(Status::Fail(FailureClass::Behaviour).is_verified());
        assert!(Status::Pass.is_verified());
    }

    #[test]
    fn an_unscored_check_that_cannot_run_stays_unscored() {
        let check = Check::new("0.0", "p", "i", "i").unscored();
        let r = CheckResult::failed(
            &check,
            FailureClass::MapLayout,
            "map `stats` not found".into(),
        );
        assert_eq!(r.status, Status::Info);
        assert!(r.passed);
        assert!(r.message.contains("map `stats` not found"));
    }
}
