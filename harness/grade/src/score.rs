//! Scores: what a submission earned, per part and per check, and the bounds every rubric
//! number must keep. The rubric and its `[perf]` rule both produce them.

use serde::{Deserialize, Serialize};

use harness::report::Status;
use kernel::error::{Error, FailureClass, Result};

/// The largest points or weight a rubric may give; anything above is a typo.
pub const MAX_RUBRIC_VALUE: f64 = 1000.0;

/// Checks a rubric number: finite, positive and at most [`MAX_RUBRIC_VALUE`] (NaN, infinite or
/// negative values would give nonsense scores). Drop a check with `drop = true` instead of 0.
pub(super) fn sane(what: &str, name: &str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 && value <= MAX_RUBRIC_VALUE {
        Ok(value)
    } else {
        // The grader's rubric file, not the machine, is wrong.
        Err(Error::usage(format!(
            "the rubric gives the {what} `{name}` the value {value}; points and weights must be \
             numbers above 0 and at most {MAX_RUBRIC_VALUE} (leave a check out with `drop = true`)"
        )))
    }
}

/// `x` in whole cents. Every score is a whole number of cents, summed as integers, so the
/// figures printed at two decimals add up exactly: a part's points are the sum of its checks',
/// the total the sum of its parts'.
pub(crate) fn cents(x: f64) -> i64 {
    (x * 100.0).round() as i64
}

/// Whole cents as points.
pub(crate) fn from_cents(c: i64) -> f64 {
    c as f64 / 100.0
}

/// Splits `total` cents over `shares` in proportion, each rounded down, then the cents left
/// over to the largest remainders (ties to the first): the parts add up exactly to `total`.
pub(crate) fn distribute(total: i64, shares: &[f64]) -> Vec<i64> {
    let sum: f64 = shares.iter().sum();
    if sum <= 0.0 {
        return vec![0; shares.len()];
    }
    let exact: Vec<f64> = shares.iter().map(|s| total as f64 * s / sum).collect();
    let mut out: Vec<i64> = exact.iter().map(|x| x.floor() as i64).collect();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let left = total - out.iter().sum::<i64>();
    for &i in order.iter().cycle().take(left.max(0) as usize) {
        out[i] += 1;
    }
    out
}

/// What a submission scored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Score {
    /// Points earned.
    pub points: f64,
    /// Points possible: the shares of the checks that were verified or that this run could
    /// not verify.
    pub max: f64,
    /// Some check could not be verified on this run (after the grader's retry): `points` is
    /// what the verified checks earned, not a final score, and the submission must be graded
    /// again.
    #[serde(default)]
    pub incomplete: bool,
    /// Per part.
    pub parts: Vec<PartScore>,
    /// Per graded check.
    pub tests: Vec<TestScore>,
}

impl Score {
    /// The score of `parts` and `tests`, whose points are whole cents: the totals are their
    /// sums, taken in cents.
    pub(crate) fn of(parts: Vec<PartScore>, tests: Vec<TestScore>) -> Self {
        Self {
            points: from_cents(parts.iter().map(|p| cents(p.points)).sum()),
            max: from_cents(parts.iter().map(|p| cents(p.max)).sum()),
            incomplete: tests.iter().any(|t| t.status == Status::Unverified),
            parts,
            tests,
        }
    }

    /// The graded checks that failed (environment faults and unverified checks included,
    /// flagged by their status).
    pub fn failed(&self) -> impl Iterator<Item = &TestScore> {
        self.tests
            .iter()
            .filter(|t| matches!(t.status, Status::Fail(_) | Status::Unverified))
    }

    /// How many graded checks stayed unverified (what makes the score incomplete).
    pub fn unverified(&self) -> usize {
        self.tests
            .iter()
            .filter(|t| t.status == Status::Unverified)
            .count()
    }

    /// The graded checks that could not run on the grading machine.
    pub fn not_run(&self) -> impl Iterator<Item = &TestScore> {
        self.tests.iter().filter(|t| t.status == Status::NotRun)
    }

    /// True when an environment fault, or a run that could not judge a check, kept a check
    /// from being graded.
    pub fn has_environment_fault(&self) -> bool {
        self.tests.iter().any(|t| {
            matches!(
                t.status,
                Status::Fail(FailureClass::Environment) | Status::Unverified
            )
        })
    }
}

/// A part's points.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartScore {
    /// The program.
    pub program: String,
    /// Earned.
    pub points: f64,
    /// Possible: the rubric's points for the part, less the shares of checks not judged for
    /// the whole class (not run, environment faults).
    pub max: f64,
}

/// One graded check's points, as a student sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestScore {
    /// The check id.
    pub id: String,
    /// Its part.
    pub part: String,
    /// What it shows when it passes.
    pub description: String,
    /// How it ended.
    #[serde(flatten)]
    pub status: Status,
    /// Whether it is hidden from students.
    pub hidden: bool,
    /// Points earned (its full share on a pass).
    pub points: f64,
    /// Its share of the part's points; 0 when it was not judged for the whole class (not run,
    /// environment fault).
    pub max: f64,
    /// The diff or error; only "failed" for hidden checks.
    pub message: String,
    /// Advice for the usual mistake this failure shows; none for hidden checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}
