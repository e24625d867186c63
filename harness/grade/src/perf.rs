//! Scoring speed: a rubric's `[perf]` table turns `xdplab bench`'s ratio to the reference into
//! points, one check per program.
//!
//! ```toml
//! [perf]
//! max_ratio = 3.0   # no slower than 3x the reference solution (median ns per frame)
//! points = 5        # the perf part's worth (default 10)
//! ```

use serde::{Deserialize, Serialize};

use super::score::{MAX_RUBRIC_VALUE, PartScore, TestScore, cents, distribute, from_cents};
use harness::{
    report::Perf,
    report::{Report, Status},
};
use kernel::error::{Error, FailureClass, Result};

/// The part name speed is scored under.
pub const PART: &str = "perf";

/// A rubric's speed rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerfRule {
    /// A program passes when its median ns per frame is at most this many times the reference's.
    pub max_ratio: f64,
    /// What the perf part is worth, shared equally by the programs.
    #[serde(default = "default_points")]
    pub points: f64,
}

fn default_points() -> f64 {
    harness::lab::DEFAULT_PART_POINTS
}

impl PerfRule {
    /// The rule as a rubric file gives it, checked: `max_ratio` and `points` finite, above 0 and
    /// at most [`MAX_RUBRIC_VALUE`] (a NaN, zero or negative ratio would fail every program).
    pub fn checked(self) -> Result<Self> {
        let refuse = |field: &str, value: f64, meaning: &str| {
            // The grader's rubric file, not the machine, is wrong.
            Err(Error::usage(format!(
                "the rubric's `[perf] {field}` is {value}; it must be a number above 0 and at \
                 most {MAX_RUBRIC_VALUE}: {meaning}"
            )))
        };
        let sane = |v: f64| v.is_finite() && v > 0.0 && v <= MAX_RUBRIC_VALUE;
        if !sane(self.max_ratio) {
            return refuse(
                "max_ratio",
                self.max_ratio,
                "how many times the reference solution's median ns per frame a program may \
                 take (3.0 allows three times as slow)",
            );
        }
        if !sane(self.points) {
            return refuse("points", self.points, "what the perf part is worth");
        }
        Ok(self)
    }

    /// Scores the report's performance figures: one check per program measured. A program
    /// with no figure fails with the reason; with no figures at all, the part counts as an
    /// environment fault (nothing measured, nothing charged).
    pub fn score(&self, report: &Report) -> (PartScore, Vec<TestScore>) {
        let description = format!(
            "no slower than {}x the reference solution (median ns per frame, BPF_PROG_TEST_RUN)",
            self.max_ratio
        );
        let programs = report.perf.as_ref().map_or(&[][..], |p: &Perf| &p.programs);
        // Equal shares in whole cents that add up to the part's points exactly.
        let worth = distribute(cents(self.points), &vec![1.0; programs.len()]);
        let tests: Vec<TestScore> = programs
            .iter()
            .zip(worth)
            .map(|(p, share)| {
                let share = from_cents(share);
                let (status, message) = match (p.ratio, &p.error) {
                    (Some(r), _) if r <= self.max_ratio => (Status::Pass, String::new()),
                    (Some(r), _) => (
                        Status::Fail(FailureClass::Behaviour),
                        format!(
                            "⟨{r:.2}⟩x the reference: ⟨{:.0}⟩ ns per frame against ⟨{:.0}⟩ \
                             (XDP_DROP floor ⟨{:.0}⟩)",
                            p.ns.map_or(0.0, |s| s.median),
                            p.reference_ns.median,
                            p.floor_ns.median
                        ),
                    ),
                    (None, e) => (
                        Status::Fail(FailureClass::Behaviour),
                        format!("not measured: {}", e.as_deref().unwrap_or("no figure")),
                    ),
                };
                TestScore {
                    id: format!("{}/{PART}/{}", report.lab, p.program),
                    part: PART.into(),
                    description: description.clone(),
                    points: if status == Status::Pass { share } else { 0.0 },
                    status,
                    hidden: false,
                    max: share,
                    message,
                    hints: Vec::new(),
                }
            })
            .collect();
        let part = PartScore {
            program: PART.into(),
            points: from_cents(tests.iter().map(|t| cents(t.points)).sum()),
            max: self.points,
        };
        (part, tests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::report::{ProgramPerf, Spread};
    use kernel::target::Mode;

    fn program(name: &str, ratio: Option<f64>) -> ProgramPerf {
        let s = Spread {
            median: 100.0,
            min: 90.0,
            max: 110.0,
        };
        ProgramPerf {
            program: name.into(),
            frames: 10,
            ns: ratio.map(|r| Spread {
                median: 100.0 * r,
                ..s
            }),
            reference_ns: s,
            floor_ns: s,
            ratio,
            veth: None,
            error: ratio.is_none().then(|| "program `b` not found".into()),
        }
    }

    #[test]
    fn perf_numbers_must_be_finite_positive_and_bounded() {
        let lab = crate::test_lab();
        for (field, bad) in [
            ("max_ratio", "nan"),
            ("max_ratio", "0"),
            ("max_ratio", "-3"),
            ("max_ratio", "inf"),
            ("max_ratio", "1e9"),
            ("points", "nan"),
            ("points", "0"),
        ] {
            let toml = if field == "points" {
                format!("[perf]\nmax_ratio = 3.0\npoints = {bad}\n")
            } else {
                format!("[perf]\nmax_ratio = {bad}\n")
            };
            let e = crate::Rubric::from_toml(&lab, &toml).unwrap_err();
            assert_eq!(e.class(), FailureClass::Usage, "{toml}");
            assert!(
                e.to_string()
                    .starts_with(&format!("the rubric's `[perf] {field}` is ")),
                "{toml}: {e}"
            );
        }
        let r = crate::Rubric::from_toml(&lab, "[perf]\nmax_ratio = 0.5\n").unwrap();
        assert_eq!(r.perf.unwrap().max_ratio, 0.5);
    }

    #[test]
    fn each_program_within_the_ratio_earns_its_share() {
        let mut report = Report::new("7.1", Mode::Auto, "x.o", Vec::new());
        report.perf = Some(Perf {
            runs: 3,
            repeat: 10,
            programs: vec![
                program("a", Some(1.2)),
                program("b", None),
                program("c", Some(3.5)),
                program("d", Some(3.0)),
            ],
        });
        let rule = PerfRule {
            max_ratio: 3.0,
            points: 8.0,
        };
        let (part, tests) = rule.score(&report);
        assert_eq!((part.points, part.max), (4.0, 8.0));
        let passed: Vec<bool> = tests.iter().map(|t| t.status == Status::Pass).collect();
        assert_eq!(passed, [true, false, false, true]);
        assert_eq!(tests[0].id, "7.1/perf/a");
        assert!(
            tests[1].message.contains("not found"),
            "{}",
            tests[1].message
        );
        assert!(
            tests[2].message.starts_with("⟨3.50⟩x the reference"),
            "{}",
            tests[2].message
        );
    }
}
