//! Rubrics: how many points each part is worth and how its checks share them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, FailureClass, Result},
    lab::Lab,
    report::{Report, Status},
};

/// Points for a part when the rubric file does not say.
pub const DEFAULT_PART_POINTS: f64 = 10.0;

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
    /// The lab's default: every part worth [`DEFAULT_PART_POINTS`], every scored check weight 1.
    pub fn default_for(lab: &Lab) -> Self {
        Self {
            parts: lab
                .parts
                .iter()
                .map(|p| PartRubric {
                    program: p.program.to_owned(),
                    points: DEFAULT_PART_POINTS,
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

    /// The default rubric with an instructor's TOML overrides applied. Unknown parts and check
    /// ids are errors that list the valid ones.
    pub fn from_toml(lab: &Lab, text: &str) -> Result<Self> {
        let file: RubricFile = toml::from_str(text)
            .map_err(|e| Error::env(format!("the rubric file is not valid: {e}")))?;
        let mut rubric = Self::default_for(lab);
        rubric.perf = file.perf;
        for (program, o) in &file.parts {
            let part = rubric.parts.iter_mut().find(|p| &p.program == program).ok_or_else(|| {
                let names: Vec<&str> = lab.parts.iter().map(|p| p.program).collect();
                Error::env(format!(
                    "the rubric names part `{program}`, which lab {} does not have; its parts are: {}",
                    lab.id,
                    names.join(", ")
                ))
            })?;
            part.points = o.points;
        }
        for (id, o) in &file.checks {
            let Some(part) = rubric
                .parts
                .iter_mut()
                .find(|p| p.checks.iter().any(|c| &c.id == id))
            else {
                let valid: Vec<&str> = rubric
                    .parts
                    .iter()
                    .flat_map(|p| p.checks.iter().map(|c| c.id.as_str()))
                    .collect();
                return Err(Error::env(format!(
                    "the rubric names check `{id}`, which lab {} does not grade; the valid ids \
                     are:\n  {}",
                    lab.id,
                    valid.join("\n  ")
                )));
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
                check.weight = w;
            }
            check.hidden = o.hidden;
        }
        Ok(rubric)
    }

    /// The total a perfect submission scores.
    pub fn max_points(&self) -> f64 {
        self.parts.iter().map(|p| p.points).sum::<f64>()
            + self.perf.as_ref().map_or(0.0, |r| r.points)
    }

    /// Scores a report. Environment faults are never charged: those checks leave the part's
    /// denominator, and the score says so.
    pub fn score(&self, report: &Report) -> Score {
        let mut parts = Vec::new();
        let mut tests = Vec::new();
        for part in &self.parts {
            let total_weight: f64 = part.checks.iter().map(|c| c.weight).sum();
            let mut earned = 0.0;
            let mut counted = 0.0;
            for c in &part.checks {
                let result = report.checks.iter().find(|r| r.id == c.id);
                let status = result
                    .map(|r| r.status)
                    .unwrap_or(Status::Fail(FailureClass::Environment));
                let max = if total_weight > 0.0 {
                    part.points * c.weight / total_weight
                } else {
                    0.0
                };
                let points = match status {
                    Status::Pass => max,
                    _ => 0.0,
                };
                if status != Status::Fail(FailureClass::Environment) && status != Status::Skip {
                    counted += c.weight;
                    if status == Status::Pass {
                        earned += c.weight;
                    }
                }
                let message = match (status, c.hidden) {
                    (Status::Pass, _) => String::new(),
                    (_, true) => "failed (hidden check: the frames are not shown)".into(),
                    _ => result.map(|r| r.message.clone()).unwrap_or_default(),
                };
                tests.push(TestScore {
                    id: c.id.clone(),
                    part: part.program.clone(),
                    description: result.map(|r| r.description.clone()).unwrap_or_default(),
                    status,
                    hidden: c.hidden,
                    points,
                    max,
                    message,
                });
            }
            let points = if counted > 0.0 {
                part.points * earned / counted
            } else {
                0.0
            };
            parts.push(PartScore {
                program: part.program.clone(),
                points,
                max: part.points,
            });
        }
        if let Some(rule) = &self.perf {
            let (part, perf_tests) = rule.score(report);
            parts.push(part);
            tests.extend(perf_tests);
        }
        Score {
            points: parts.iter().map(|p| p.points).sum(),
            max: self.max_points(),
            parts,
            tests,
        }
    }
}

/// What a submission scored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Score {
    /// Points earned.
    pub points: f64,
    /// Points possible.
    pub max: f64,
    /// Per part.
    pub parts: Vec<PartScore>,
    /// Per graded check.
    pub tests: Vec<TestScore>,
}

impl Score {
    /// The graded checks that failed (environment faults included, flagged by their status).
    pub fn failed(&self) -> impl Iterator<Item = &TestScore> {
        self.tests
            .iter()
            .filter(|t| t.status != Status::Pass && t.status != Status::Skip)
    }

    /// True when an environment fault kept a check from being graded.
    pub fn has_environment_fault(&self) -> bool {
        self.tests
            .iter()
            .any(|t| t.status == Status::Fail(FailureClass::Environment))
    }
}

/// A part's points.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartScore {
    /// The program.
    pub program: String,
    /// Earned.
    pub points: f64,
    /// Possible.
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
    /// Its share of the part's points.
    pub max: f64,
    /// The diff or error; only "failed" for hidden checks.
    pub message: String,
}
