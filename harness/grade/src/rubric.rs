//! Rubrics: how many points each part is worth and how its checks share them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::score::{PartScore, Score, TestScore, cents, distribute, from_cents, sane};
use harness::{
    lab::DEFAULT_PART_POINTS,
    lab::Lab,
    report::{Report, Status},
};
use kernel::error::{Error, FailureClass, Result};

/// A lab's rubric: every scored check with a weight, grouped by part. A part's points are
/// shared among its checks in proportion to their weights (partial credit per part).
#[derive(Debug, Clone, Serialize)]
pub struct Rubric {
    /// The parts, in lab order.
    pub parts: Vec<PartRubric>,
    /// Points for speed next to the reference, when the rubric file has a `[perf]` table.
    pub perf: Option<super::perf::PerfRule>,
}

/// One part of a [`Rubric`].
#[derive(Debug, Clone, Serialize)]
pub struct PartRubric {
    /// The program's name.
    pub program: String,
    /// What the whole part is worth.
    pub points: f64,
    /// Its graded checks.
    pub checks: Vec<CheckRubric>,
}

/// One graded check of a [`PartRubric`].
#[derive(Debug, Clone, Serialize)]
pub struct CheckRubric {
    /// The check id.
    pub id: String,
    /// Its share of the part's points, relative to the other checks' weights.
    pub weight: f64,
    /// Graded, but a student sees only that it failed, not the frames that made it fail.
    pub hidden: bool,
}

/// The instructor's TOML file: overrides on top of the lab's default rubric.
///
/// ```toml
/// [parts.port_filter]
/// points = 20
///
/// [checks."7.1/port_filter/ip-options"]
/// weight = 3
/// hidden = true
///
/// [checks."7.1/firewall/ihl-below-5"]
/// drop = true
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RubricFile {
    #[serde(default)]
    parts: BTreeMap<String, PartOverride>,
    #[serde(default)]
    checks: BTreeMap<String, CheckOverride>,
    perf: Option<super::perf::PerfRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartOverride {
    points: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckOverride {
    weight: Option<f64>,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    drop: bool,
}

impl Rubric {
    /// The lab's default: every part worth its [`Part::points`](harness::lab::Part::points)
    /// ([`DEFAULT_PART_POINTS`] unless the lab says), every scored check weight 1.
    pub fn default_for(lab: &Lab) -> Self {
        Self {
            parts: lab
                .parts
                .iter()
                .map(|p| PartRubric {
                    program: p.program.to_owned(),
                    points: p.points.unwrap_or(DEFAULT_PART_POINTS),
                    checks: p
                        .checks
                        .iter()
                        .filter(|c| c.scored)
                        .map(|c| CheckRubric {
                            id: c.id.clone(),
                            weight: 1.0,
                            hidden: false,
                        })
                        .collect(),
                })
                .collect(),
            perf: None,
        }
    }

    /// The default rubric with an instructor's TOML overrides applied. Every problem of the
    /// file is reported at once, one paragraph each (unknown parts and check ids list the valid
    /// ones), so one round of fixes makes it valid.
    pub fn from_toml(lab: &Lab, text: &str) -> Result<Self> {
        let file: RubricFile = toml::from_str(text)
            .map_err(|e| Error::usage(format!("the rubric file is not valid: {e}")))?;
        let mut rubric = Self::default_for(lab);
        let mut problems: Vec<String> = Vec::new();
        match file.perf.map(super::perf::PerfRule::checked).transpose() {
            Ok(perf) => rubric.perf = perf,
            Err(e) => problems.push(e.to_string()),
        }
        for (program, o) in &file.parts {
            let Some(part) = rubric.parts.iter_mut().find(|p| &p.program == program) else {
                let names: Vec<&str> = lab.parts.iter().map(|p| p.program).collect();
                problems.push(format!(
                    "the rubric names part `{program}`, which lab {} does not have; its parts are: {}",
                    lab.id,
                    names.join(", ")
                ));
                continue;
            };
            match sane("points of part", program, o.points) {
                Ok(points) => part.points = points,
                Err(e) => problems.push(e.to_string()),
            }
        }
        let mut unknown = Vec::new();
        for (id, o) in &file.checks {
            let Some(part) = rubric
                .parts
                .iter_mut()
                .find(|p| p.checks.iter().any(|c| &c.id == id))
            else {
                unknown.push(format!("`{id}`"));
                continue;
            };
            if o.drop {
                part.checks.retain(|c| &c.id != id);
                continue;
            }
            let check = part
                .checks
                .iter_mut()
                .find(|c| &c.id == id)
                .expect("found above");
            if let Some(w) = o.weight {
                match sane("weight of check", id, w) {
                    Ok(w) => check.weight = w,
                    Err(e) => problems.push(e.to_string()),
                }
            }
            check.hidden = o.hidden;
        }
        if !unknown.is_empty() {
            let valid: Vec<String> = Self::default_for(lab)
                .parts
                .into_iter()
                .flat_map(|p| p.checks.into_iter().map(|c| c.id))
                .collect();
            let valid = valid.join("\n  ");
            problems.push(format!(
                "the rubric names check {}, which lab {} does not grade; the valid ids are:\n  {valid}",
                unknown.join(", "),
                lab.id,
            ));
        }
        match problems.len() {
            0 => Ok(rubric),
            1 => Err(Error::usage(problems.remove(0))),
            n => Err(Error::usage(format!(
                "the rubric file has {n} problems; nothing was graded:\n\n{}",
                problems.join("\n\n")
            ))),
        }
    }

    /// The total a perfect submission scores.
    pub fn max_points(&self) -> f64 {
        self.parts.iter().map(|p| p.points).sum::<f64>()
            + self.perf.as_ref().map_or(0.0, |r| r.points)
    }

    /// Scores a report. A check that passed or failed counts its share of the part's points
    /// in both the points earned and the points possible. A check the harness could not judge
    /// for reasons that hold for the whole class (an environment fault the reference shares,
    /// a check this kernel cannot run, one missing from the report) counts in neither. A check
    /// this run could not verify (`unverified`) keeps its share in the points possible, so a
    /// maximum never shrinks for one student, and makes the score
    /// [incomplete](Score::incomplete): no final score until it is graded again.
    pub fn score(&self, report: &Report) -> Score {
        let mut parts = Vec::new();
        let mut tests = Vec::new();
        for part in &self.parts {
            // Each check's worth in whole cents, fixed by the rubric (not by which checks this
            // student's run judged), so a check is worth the same for everyone and the part's
            // figures add up exactly.
            let weights: Vec<f64> = part.checks.iter().map(|c| c.weight).collect();
            let worth = distribute(cents(part.points), &weights);
            let (mut earned, mut possible) = (0, 0);
            for (c, share) in part.checks.iter().zip(worth) {
                let result = report.checks.iter().find(|r| r.id == c.id);
                let status = result.map_or(Status::Fail(FailureClass::Environment), |r| r.status);
                let max = if status.is_verified() || status == Status::Unverified {
                    share
                } else {
                    0
                };
                let points = if status == Status::Pass { share } else { 0 };
                possible += max;
                earned += points;
                let message = match (status, c.hidden) {
                    (Status::Pass, _) => String::new(),
                    // A hidden check hides its frames; a program that did not load (a
                    // verifier's log, a missing program) has none, and the runner gives such a
                    // message whole under a part's first check only.
                    (Status::Fail(FailureClass::Behaviour), true) => {
                        "failed (hidden check: the frames are not shown)".into()
                    }
                    _ => result.map_or_else(
                        || "the report has no result for this check (an environment fault)".into(),
                        |r| r.message.clone(),
                    ),
                };
                let hints = match (status, c.hidden, result) {
                    (Status::Fail(FailureClass::Behaviour), false, Some(r)) => r.hints.clone(),
                    _ => Vec::new(),
                };
                tests.push(TestScore {
                    id: c.id.clone(),
                    part: part.program.clone(),
                    description: result.map(|r| r.description.clone()).unwrap_or_default(),
                    status,
                    hidden: c.hidden,
                    points: from_cents(points),
                    max: from_cents(max),
                    message,
                    hints,
                });
            }
            parts.push(PartScore {
                program: part.program.clone(),
                points: from_cents(earned),
                max: from_cents(possible),
            });
        }
        if let Some(rule) = &self.perf {
            let (part, perf_tests) = rule.score(report);
            parts.push(part);
            tests.extend(perf_tests);
        }
        Score::of(parts, tests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> Lab {
        crate::test_lab()
    }

    #[test]
    fn rubric_numbers_must_be_finite_positive_and_bounded() {
        for bad in ["nan", "inf", "-10", "0", "1e9"] {
            let e = Rubric::from_toml(&lab(), &format!("[parts.p]\npoints = {bad}\n")).unwrap_err();
            assert!(
                e.to_string().contains("must be numbers above 0"),
                "{bad}: {e}"
            );
            assert_eq!(e.class(), FailureClass::Usage, "{bad}");
        }
        let r = Rubric::from_toml(&lab(), "[parts.p]\npoints = 20\n").unwrap();
        assert_eq!(r.max_points(), 20.0);
    }

    #[test]
    fn unknown_parts_and_checks_are_usage_errors_that_list_the_valid_names() {
        let e = Rubric::from_toml(&lab(), "[parts.q]\npoints = 5\n").unwrap_err();
        assert_eq!(e.class(), FailureClass::Usage);
        assert!(e.to_string().contains("its parts are: p"), "{e}");
        let e = Rubric::from_toml(&lab(), "[checks.\"0.0/p/x\"]\nweight = 2\n").unwrap_err();
        assert_eq!(e.class(), FailureClass::Usage);
        assert!(e.to_string().contains("does not grade"), "{e}");
        let e = Rubric::from_toml(&lab(), "[parts.p]\npoints = 5\nbonus = 1\n").unwrap_err();
        assert_eq!(e.class(), FailureClass::Usage);
    }

    #[test]
    fn every_problem_of_a_rubric_is_reported_at_once() {
        let e = Rubric::from_toml(
            &lab(),
            "[parts.q]\npoints = 5\n[parts.p]\npoints = -1\n[checks.\"0.0/p/x\"]\nweight = 2\n\
             [checks.\"0.0/p/y\"]\nweight = 2\n[perf]\nmax_ratio = 0\n",
        )
        .unwrap_err();
        assert_eq!(e.class(), FailureClass::Usage);
        let text = e.to_string();
        assert!(
            text.starts_with("the rubric file has 4 problems; nothing was graded:"),
            "{text}"
        );
        for problem in [
            "[perf] max_ratio` is 0",
            "names part `q`",
            "points of part `p` the value -1",
            "names check `0.0/p/x`, `0.0/p/y`, which lab 0.0 does not grade",
        ] {
            assert!(text.contains(problem), "{problem}: {text}");
        }
    }

    fn result(id: &str, status: Status) -> harness::report::CheckResult {
        harness::report::CheckResult {
            id: id.into(),
            part: "p".into(),
            description: format!("{id} holds"),
            status,
            passed: status == Status::Pass,
            message: if status == Status::Pass {
                String::new()
            } else {
                format!("{id}: diff")
            },
            hints: Vec::new(),
            actual: String::new(),
            traffic: Vec::new(),
        }
    }

    /// One part worth 22 points over six checks of weight 1 (2 points each), and a seventh
    /// of weight 5 that is hidden.
    fn rubric() -> Rubric {
        let check = |id: &str, weight, hidden| CheckRubric {
            id: id.into(),
            weight,
            hidden,
        };
        Rubric {
            parts: vec![PartRubric {
                program: "p".into(),
                points: 22.0,
                checks: vec![
                    check("pass", 1.0, false),
                    check("wrong", 1.0, false),
                    check("env", 1.0, false),
                    check("unverified", 1.0, false),
                    check("not-run", 1.0, false),
                    check("missing", 1.0, false),
                    check("secret", 5.0, true),
                ],
            }],
            perf: None,
        }
    }

    #[test]
    fn only_class_wide_excuses_shrink_the_maximum_and_unverified_makes_it_incomplete() {
        let report = Report::new(
            "0.0",
            kernel::Mode::TestRun,
            "x.o",
            vec![
                result("pass", Status::Pass),
                result("wrong", Status::Fail(FailureClass::Behaviour)),
                result("env", Status::Fail(FailureClass::Environment)),
                result("unverified", Status::Unverified),
                result("not-run", Status::NotRun),
                result("secret", Status::Fail(FailureClass::Behaviour)),
            ],
        );
        let score = rubric().score(&report);
        // Shares: 2 points per weight-1 check, 10 for the hidden one.
        let by_id = |id: &str| score.tests.iter().find(|t| t.id == id).unwrap();
        assert_eq!((by_id("pass").points, by_id("pass").max), (2.0, 2.0));
        assert_eq!((by_id("wrong").points, by_id("wrong").max), (0.0, 2.0));
        for excused in ["env", "not-run", "missing"] {
            assert_eq!(by_id(excused).max, 0.0, "{excused}");
            assert_eq!(by_id(excused).points, 0.0, "{excused}");
        }
        // This run's own miss keeps its share in the maximum: no final score, no smaller one.
        assert_eq!(
            (by_id("unverified").points, by_id("unverified").max),
            (0.0, 2.0)
        );
        assert!(score.incomplete);
        assert_eq!((score.points, score.max), (2.0, 16.0));
        assert_eq!((score.parts[0].points, score.parts[0].max), (2.0, 16.0));
        assert!(score.has_environment_fault());
        let not_run: Vec<&str> = score.not_run().map(|t| t.id.as_str()).collect();
        assert_eq!(not_run, ["not-run"]);
        let failed: Vec<&str> = score.failed().map(|t| t.id.as_str()).collect();
        assert_eq!(failed, ["wrong", "env", "unverified", "missing", "secret"]);
        assert!(
            by_id("missing")
                .message
                .contains("no result for this check")
        );
        // A hidden check says only that it failed, never the frames.
        assert_eq!(
            by_id("secret").message,
            "failed (hidden check: the frames are not shown)"
        );
        assert_eq!(by_id("wrong").message, "wrong: diff");
    }

    #[test]
    fn a_clean_run_scores_the_whole_part() {
        let ids = [
            "pass",
            "wrong",
            "env",
            "unverified",
            "not-run",
            "missing",
            "secret",
        ];
        let report = Report::new(
            "0.0",
            kernel::Mode::TestRun,
            "x.o",
            ids.iter().map(|id| result(id, Status::Pass)).collect(),
        );
        let score = rubric().score(&report);
        assert_eq!((score.points, score.max), (22.0, 22.0));
        assert!(!score.has_environment_fault());
        assert_eq!(score.failed().count(), 0);
    }

    /// Two parts of one program (a lab may judge a program twice, say once per kernel helper
    /// it needs): each part's points go to its own checks, by check, not by program name.
    #[test]
    fn two_parts_of_one_program_score_by_their_own_checks() {
        let mut lab = lab();
        lab.parts[0].checks = ["passes", "fails"]
            .map(|n| harness::Check::new("0.0", "p", n, n))
            .to_vec();
        lab.parts.push(lab.parts[0].clone());
        lab.parts[1].checks = ["other-passes", "other-fails"]
            .map(|n| harness::Check::new("0.0", "p", n, n))
            .to_vec();
        let report = Report::new(
            "0.0",
            kernel::Mode::TestRun,
            "x.o",
            vec![
                result("0.0/p/passes", Status::Pass),
                result("0.0/p/fails", Status::Fail(FailureClass::Environment)),
                result("0.0/p/other-passes", Status::NotRun),
                result("0.0/p/other-fails", Status::NotRun),
            ],
        );
        let score = Rubric::default_for(&lab).score(&report);
        let possible: Vec<f64> = score.tests.iter().map(|t| t.max).collect();
        assert_eq!(possible, [5.0, 0.0, 0.0, 0.0], "{:?}", score.tests);
        assert_eq!((score.points, score.max), (5.0, 5.0));
    }
}
