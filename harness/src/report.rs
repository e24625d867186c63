//! Results of a lab run: one line per check for people, stable JSON for machines.

use serde::{Deserialize, Serialize};

use crate::{
    check::{Check, Judgement},
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
    /// Whether it passed (false for failures; true for passes and unscored checks).
    pub passed: bool,
    /// Empty on a pass; otherwise the diff or the error, readable as is.
    pub message: String,
    /// The table of what happened (also for passes: the snapshot tests record it).
    #[serde(skip)]
    pub actual: String,
    /// The frames the check sent and saw, for `--pcap`.
    #[serde(skip)]
    pub traffic: Vec<crate::check::Frame>,
}

impl CheckResult {
    /// Judges what a check saw against what it expected.
    pub fn judge(check: &Check, judgement: Judgement, traffic: Vec<crate::check::Frame>) -> Self {
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
            actual,
            traffic,
        }
    }

    /// A check this mode cannot run (it needs a real path).
    pub fn skipped(check: &Check) -> Self {
        Self {
            id: check.id.clone(),
            part: check.part.clone(),
            description: check.description.clone(),
            status: Status::Skip,
            passed: true,
            message: "needs a real path: run it in native or generic mode".into(),
            actual: String::new(),
            traffic: Vec::new(),
        }
    }

    /// A check that could not run because of `e` (missing program, verifier, map layout).
    pub fn error(check: &Check, e: &Error) -> Self {
        Self::failed(check, e.class(), e.to_string())
    }

    /// A check that failed for `class`, with `message` as the reason.
    pub fn failed(check: &Check, class: FailureClass, message: String) -> Self {
        Self {
            id: check.id.clone(),
            part: check.part.clone(),
            description: check.description.clone(),
            status: Status::Fail(class),
            passed: false,
            message,
            actual: String::new(),
            traffic: Vec::new(),
        }
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
    /// Checks this mode cannot run.
    pub skipped: usize,
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
    /// One entry per check, in lab order.
    pub checks: Vec<CheckResult>,
    /// Counts.
    pub totals: Totals,
    /// The seed that varied the frames (0: the canonical ones).
    #[serde(default)]
    pub seed: u64,
    /// How fast the programs are next to the reference solution (`run --perf`; information).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perf: Option<crate::bench::Perf>,
}

impl Report {
    /// Collects results and counts them.
    pub fn new(lab: &str, mode: Mode, object: &str, checks: Vec<CheckResult>) -> Self {
        let mut totals = Totals::default();
        for c in &checks {
            match c.status {
                Status::Pass => totals.passed += 1,
                Status::Info => totals.info += 1,
                Status::Skip => totals.skipped += 1,
                Status::Fail(FailureClass::Environment) => totals.environment += 1,
                Status::Fail(_) => totals.failed += 1,
            }
        }
        Self {
            lab: lab.into(),
            mode,
            object: object.to_owned(),
            checks,
            totals,
            seed: 0,
            perf: None,
        }
    }

    /// True when no check failed for any reason.
    pub fn all_passed(&self) -> bool {
        self.totals.failed == 0 && self.totals.environment == 0
    }

    /// The process exit code the CLI uses: 0 all passed, 1 a check failed, 2 environment.
    pub fn exit_code(&self) -> i32 {
        if self.totals.environment > 0 {
            2
        } else if self.totals.failed > 0 {
            1
        } else {
            0
        }
    }

    /// One line per check with a pass/fail mark, the diff under each failure, then totals.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "lab {} · mode {} · object {}\n",
            self.lab, self.mode, self.object
        );
        for c in &self.checks {
            let mark = match c.status {
                Status::Pass => "PASS",
                Status::Info => "INFO",
                Status::Skip => "SKIP",
                Status::Fail(FailureClass::Environment) => "ENV ",
                Status::Fail(_) => "FAIL",
            };
            out.push_str(&format!("{mark} {:<48} {}\n", c.id, c.description));
            if !c.message.is_empty() {
                out.push_str(&indent(&c.message));
            }
        }
        let t = &self.totals;
        out.push_str(&format!(
            "{} passed, {} failed, {} environment faults, {} not scored, {} skipped\n",
            t.passed, t.failed, t.environment, t.info, t.skipped
        ));
        out
    }

    /// The documented, stable JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises")
    }

    /// The verdict table of one part: every check's observed table, for snapshot tests.
    pub fn verdict_table(&self, part: &str) -> String {
        let mut out = String::new();
        for c in self.checks.iter().filter(|c| c.part == part) {
            out.push_str(&format!("## {}\n{}\n", c.id, c.actual));
        }
        out
    }
}

/// Writes each check's traffic as two pcap files in `dir` (`<check>.sent.pcap` and
/// `<check>.observed.pcap`, `/` in ids replaced by `_`) that open in Wireshark. Returns how
/// many files were written. Timestamps are frame numbers in milliseconds, so the files are
/// reproducible.
pub fn write_pcaps(dir: &std::path::Path, report: &Report) -> crate::Result<usize> {
    use pcap_file::pcap::{PcapPacket, PcapWriter};
    std::fs::create_dir_all(dir).map_err(Error::env)?;
    let mut written = 0;
    for c in report.checks.iter().filter(|c| !c.traffic.is_empty()) {
        for (suffix, sent) in [("sent", true), ("observed", false)] {
            let path = dir.join(format!("{}.{suffix}.pcap", c.id.replace('/', "_")));
            let file = std::fs::File::create(&path).map_err(Error::env)?;
            let mut w = PcapWriter::new(file).map_err(Error::env)?;
            for (i, f) in c.traffic.iter().filter(|f| f.sent == sent).enumerate() {
                let ts = std::time::Duration::from_millis(i as u64);
                w.write_packet(&PcapPacket::new(ts, f.bytes.len() as u32, &f.bytes))
                    .map_err(Error::env)?;
            }
            written += 1;
        }
    }
    Ok(written)
}
