//! Grading outputs: per-student text, JSON, JUnit XML and Gradescope `results.json`, and the
//! class summary (CSV and a terminal table). Nothing here carries a time, a duration or another
//! figure measured during the run (those are in each student's `timings.json`), so the same
//! folder graded twice gives identical files.

use std::{fs, path::Path};

use quick_junit::{NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use super::graded::{Graded, REDACTED, TIMINGS_FILE};
use harness::report::Status;
use kernel::error::{Error, Result};

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::op(format!("cannot write {}", path.display()), e)
}

/// The folder that holds class-level files never holds a student's: theirs are under this.
pub const STUDENTS_DIR: &str = "students";

/// `<out>/students/<student>/`, where a student's reports go.
pub fn student_dir(out: &Path, g: &Graded) -> std::path::PathBuf {
    out.join(STUDENTS_DIR).join(&g.submission.student)
}

/// Writes `<out>/students/<student>/` with `report.txt`, `report.json`, `junit.xml` and
/// `results.json`, and `timings.json` when the run's measurements are at hand; under
/// `students/`, no student's name can meet a class-level file.
pub fn write_student(out: &Path, g: &Graded) -> Result<()> {
    let dir = student_dir(out, g);
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let files = [
        ("report.txt", text(g)),
        ("report.json", student_json(g)),
        ("junit.xml", junit(g)?),
        ("results.json", gradescope(g)),
    ];
    for (name, content) in files {
        let path = dir.join(name);
        fs::write(&path, content).map_err(io(&path))?;
    }
    // Only a grading run has them; a merge leaves the shards' own in their folders.
    if let Some(timings) = &g.timings {
        let path = dir.join(TIMINGS_FILE);
        let json = serde_json::to_string_pretty(timings).expect("serialises");
        fs::write(&path, json).map_err(io(&path))?;
    }
    Ok(())
}

/// The student's report in plain text: score, each part, each check, and how to replay.
pub fn text(g: &Graded) -> String {
    let s = &g.score;
    let mut out = format!(
        "{} · lab {} · seed {} · {:.2} / {:.2} points\n",
        g.submission.student, g.report.lab, g.report.seed, s.points, s.max
    );
    if !g.report.kernel.is_empty() {
        out.push_str(&format!("judged on kernel {}\n", g.report.kernel));
    }
    if let Some(e) = &g.ungraded {
        out.push_str(&format!(
            "could not be graded ({}): {}\n",
            class_name(e.class),
            e.message
        ));
    }
    if let Some(line) = incomplete_line(g) {
        out.push_str(&format!("{line}\n"));
    }
    out.push_str(&g.report.caveats());
    for m in &g.report.maps {
        out.push_str(&format!("{}\n", m.line()));
    }
    for part in &s.parts {
        let unverified = s
            .tests
            .iter()
            .filter(|t| t.part == part.program && t.max == 0.0 && t.status != Status::Pass)
            .count();
        out.push_str(&format!(
            "\n{}: {:.2} / {:.2}{}\n",
            part.program,
            part.points,
            part.max,
            if unverified > 0 {
                format!(" ({unverified} check(s) not verified here carry no points either way)")
            } else {
                String::new()
            }
        ));
        let mut previous = "";
        for t in s.tests.iter().filter(|t| t.part == part.program) {
            out.push_str(&format!(
                "  {} {} ({:.2}/{:.2})\n",
                harness::report::mark(t.status),
                t.id,
                t.points,
                t.max
            ));
            if t.message.is_empty() || g.ungraded.is_some() {
                continue;
            }
            // A load failure fails every check of the part with one message: print it once.
            if t.message == previous {
                out.push_str("      (same reason as above)\n");
            } else {
                for line in t.message.lines() {
                    out.push_str(&format!("      {line}\n"));
                }
            }
            previous = &t.message;
            for h in &t.hints {
                out.push_str(&format!("      hint: {h}\n"));
            }
        }
    }
    if s.tests.iter().any(|t| t.message.contains(REDACTED)) {
        out.push_str(&format!("\n{MEASURED_NOTE}\n"));
    }
    if !g.replay.is_empty() {
        out.push_str("\nreplay a failed check locally:\n");
        for (_, cmd) in &g.replay {
            out.push_str(&format!("  {cmd}\n"));
        }
    }
    out
}

/// What a report says when its messages hold measured values.
pub const MEASURED_NOTE: &str = "⟨…⟩ stands for a value measured during the run (a time, a count \
     within it, a checksum over the kernel's SYN cookie): it differs from run to run, so it is \
     kept in timings.json next to this report, and replaying the check shows it.";

/// Says why a score is not final, when some check stayed unverified after the retry.
fn incomplete_line(g: &Graded) -> Option<String> {
    let n = g.score.unverified();
    g.score.incomplete.then(|| {
        format!(
            "INCOMPLETE: {n} check(s) could not be verified on the grading machine, on either of \
             two runs, so these points are not a final score. The grader must grade this \
             submission again on a quieter machine."
        )
    })
}

pub(super) fn class_name(class: kernel::FailureClass) -> String {
    serde_json::to_value(class)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// One part's points in a student's `report.json`. Fields in the order the file has always
/// had them (alphabetical, as they were when written through a JSON map).
#[derive(Serialize)]
struct PartPoints<'a> {
    max: f64,
    points: f64,
    program: &'a str,
}

/// The student's report as JSON: score, parts, checks (hidden ones redacted), replay commands.
pub fn student_json(g: &Graded) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        student: &'a str,
        lab: &'a str,
        seed: u64,
        points: f64,
        max: f64,
        /// Some check stayed unverified: `points` is no final score.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        incomplete: bool,
        ungraded: &'a Option<super::child::RunError>,
        reference_unavailable: &'a [harness::report::ReferenceUnavailable],
        parts: Vec<PartPoints<'a>>,
        checks: &'a [super::score::TestScore],
        replay: Vec<&'a str>,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        maps: &'a [kernel::map_role::MapBinding],
        #[serde(skip_serializing_if = "Option::is_none")]
        perf: &'a Option<harness::report::Perf>,
    }
    let doc = Doc {
        student: &g.submission.student,
        lab: &g.report.lab,
        seed: g.report.seed,
        points: round(g.score.points),
        max: round(g.score.max),
        incomplete: g.score.incomplete,
        ungraded: &g.ungraded,
        reference_unavailable: &g.report.reference_unavailable,
        parts: g
            .score
            .parts
            .iter()
            .map(|p| PartPoints {
                max: round(p.max),
                points: round(p.points),
                program: &p.program,
            })
            .collect(),
        checks: &g.score.tests,
        replay: g.replay.iter().map(|(_, c)| c.as_str()).collect(),
        maps: &g.report.maps,
        perf: &g.report.perf,
    };
    serde_json::to_string_pretty(&doc).expect("serialises")
}

/// JUnit XML for CI systems: one test suite per part, one test case per graded check.
pub fn junit(g: &Graded) -> Result<String> {
    let mut report = JunitReport::new(format!(
        "xdplab lab {} · {}",
        g.report.lab, g.submission.student
    ));
    for part in &g.score.parts {
        let mut suite = TestSuite::new(part.program.clone());
        for t in g.score.tests.iter().filter(|t| t.part == part.program) {
            let status = match t.status {
                Status::Pass => TestCaseStatus::success(),
                Status::Skip | Status::Info | Status::NotRun => {
                    let mut s = TestCaseStatus::skipped();
                    if !t.message.is_empty() {
                        s.set_message(t.message.clone());
                    }
                    s
                }
                // Ran, but this run could not judge it: an error of the run, not a failure.
                Status::Unverified => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_type("unverified");
                    s.set_description(t.message.clone());
                    s
                }
                Status::Fail(class) => {
                    let kind = if class == kernel::FailureClass::Behaviour {
                        NonSuccessKind::Failure
                    } else {
                        NonSuccessKind::Error
                    };
                    let mut s = TestCaseStatus::non_success(kind);
                    s.set_type(class_name(class));
                    s.set_description(t.message.clone());
                    s
                }
            };
            let mut case = TestCase::new(t.id.clone(), status);
            case.set_classname(format!("lab-{}.{}", g.report.lab, t.part));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .map_err(|e| Error::op("writing the JUnit XML", e))
}

/// Gradescope's `results.json` (its format is Gradescope's: no version of ours). Fields in the
/// order the file has always had them (alphabetical, as they were when written through a JSON
/// map).
#[derive(Serialize)]
struct GradescopeResults<'a> {
    output: String,
    score: f64,
    tests: Vec<GradescopeTest<'a>>,
    visibility: &'static str,
}

/// One graded check in Gradescope's `results.json`.
#[derive(Serialize)]
struct GradescopeTest<'a> {
    max_score: f64,
    name: &'a str,
    output: String,
    score: f64,
    visibility: &'static str,
}

/// Everything the harness reports to Gradescope is shown to the student (hidden checks say
/// only that they failed).
const VISIBLE: &str = "visible";

/// Gradescope's `results.json`: the score and one test per graded check, so the harness can
/// drive a Gradescope autograder unchanged. Scores are whole cents ([`Rubric::score`](crate::Rubric::score)),
/// so each part's `max_score` values add up exactly to the part's points possible and the
/// tests' scores to the total; a check not verified here has a `max_score` of 0 and says why.
pub fn gradescope(g: &Graded) -> String {
    let tests: Vec<GradescopeTest> = g
        .score
        .tests
        .iter()
        .map(|t| {
            let output = match t.status {
                Status::Pass => t.description.clone(),
                _ => t
                    .hints
                    .iter()
                    .fold(format!("{}\n{}", t.description, t.message), |out, h| {
                        format!("{out}\nhint: {h}")
                    }),
            };
            GradescopeTest {
                max_score: round(t.max),
                name: &t.id,
                output,
                score: round(t.points),
                visibility: VISIBLE,
            }
        })
        .collect();
    let mut output = match &g.ungraded {
        Some(e) => format!("Could not be graded: {}", e.message),
        None => format!("{:.2} / {:.2} points", g.score.points, g.score.max),
    };
    if let Some(line) = incomplete_line(g) {
        output = format!("{line}\n{output}");
    }
    let caveats = g.report.caveats();
    if !caveats.is_empty() {
        output = format!("{output}\n{}", caveats.trim_end());
    }
    if !g.report.kernel.is_empty() {
        output = format!("{output}\njudged on kernel {}", g.report.kernel);
    }
    serde_json::to_string_pretty(&GradescopeResults {
        output,
        score: round(g.score.points),
        tests,
        visibility: VISIBLE,
    })
    .expect("serialises")
}

/// Writes the class summary `<out>/summary.csv`: student, points, max, failure class if the
/// submission could not be graded, and the failed checks.
pub fn write_class(out: &Path, graded: &[Graded]) -> Result<()> {
    let path = out.join("summary.csv");
    let mut w = csv::Writer::from_path(&path)
        .map_err(|e| Error::op(format!("cannot write {}", path.display()), e))?;
    let csv_err = |e: csv::Error| Error::op(format!("cannot write {}", path.display()), e);
    w.write_record([
        "student",
        "points",
        "max",
        "ungraded",
        "reason",
        "failed_checks",
        "not_run",
        "notes",
        "incomplete",
    ])
    .map_err(csv_err)?;
    for g in graded {
        let failed: Vec<&str> = g.score.failed().map(|t| t.id.as_str()).collect();
        // An incomplete score is no grade: its points cell stays empty for gradebook imports.
        let points = if g.score.incomplete {
            String::new()
        } else {
            format!("{:.2}", g.score.points)
        };
        let unverified = g.score.unverified();
        w.write_record([
            g.submission.student.as_str(),
            &points,
            &format!("{:.2}", g.score.max),
            &g.ungraded
                .as_ref()
                .map(|e| class_name(e.class))
                .unwrap_or_default(),
            g.ungraded.as_ref().map_or("", |e| e.message.as_str()),
            &failed.join(" "),
            &not_run_summary(g),
            &g.report
                .reference_unavailable
                .iter()
                .map(std::string::ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            &if g.score.incomplete {
                format!("{unverified} unverified")
            } else {
                String::new()
            },
        ])
        .map_err(csv_err)?;
    }
    w.flush().map_err(io(&path))
}

/// Writes `<out>/gradebook.csv` for a learning platform's grade import (Canvas, Moodle): the
/// student (their folder's name, which the instructor maps to the platform's login or id
/// column) and the score in points. An incomplete score is left empty: it is no grade yet.
pub fn write_gradebook(out: &Path, graded: &[Graded]) -> Result<()> {
    let path = out.join(GRADEBOOK_FILE);
    let csv_err = |e: csv::Error| Error::op(format!("cannot write {}", path.display()), e);
    let mut w = csv::Writer::from_path(&path).map_err(csv_err)?;
    w.write_record(["student", "score"]).map_err(csv_err)?;
    for g in graded {
        let score = if g.score.incomplete {
            String::new()
        } else {
            format!("{:.2}", g.score.points)
        };
        w.write_record([g.submission.student.as_str(), &score])
            .map_err(csv_err)?;
    }
    w.flush().map_err(io(&path))
}

/// The gradebook export's file name, in the results folder.
pub const GRADEBOOK_FILE: &str = "gradebook.csv";

/// The class table for the terminal: each student's score, failed checks, or why they could
/// not be graded.
pub fn class_table(graded: &[Graded]) -> String {
    let width = graded
        .iter()
        .map(|g| g.submission.student.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut out = format!(
        "{:<width$}  {:>15}  failed checks / reason\n",
        "student", "points"
    );
    for g in graded {
        let detail = match &g.ungraded {
            Some(e) => {
                let first = e.message.lines().next().unwrap_or("");
                format!("NOT GRADED ({}): {first}", class_name(e.class))
            }
            None => failure_summary(g),
        };
        let not_run = not_run_summary(g);
        let detail = if not_run.is_empty() {
            detail
        } else {
            format!("{detail}; NOT RUN {not_run}")
        };
        let points = if g.score.incomplete {
            format!("INCOMPLETE / {:.2}", g.score.max)
        } else {
            format!("{:.2} / {:.2}", g.score.points, g.score.max)
        };
        out.push_str(&format!(
            "{:<width$}  {:>15}  {detail}\n",
            g.submission.student, points
        ));
    }
    out
}

/// The checks not run, counted per reason: `5 (not run: the kernel lacks ...)`; empty when
/// every check ran.
fn not_run_summary(g: &Graded) -> String {
    let mut reasons: Vec<(&str, usize)> = Vec::new();
    for t in g.score.not_run() {
        match reasons.iter_mut().find(|(r, _)| *r == t.message) {
            Some((_, n)) => *n += 1,
            None => reasons.push((&t.message, 1)),
        }
    }
    reasons
        .iter()
        .map(|(r, n)| format!("{n} ({r})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Failed behaviour checks by id; checks that failed for another reason (a verifier rejection,
/// a missing program or map) summed up per part, since they all share one cause.
fn failure_summary(g: &Graded) -> String {
    let mut items: Vec<String> = Vec::new();
    for t in g.score.failed() {
        match t.status {
            Status::Fail(kernel::FailureClass::Behaviour) => items.push(t.id.clone()),
            Status::Fail(class) => {
                let label = format!("{} ({})", t.part, class_name(class));
                if !items.contains(&label) {
                    items.push(label);
                }
            }
            Status::Unverified => {
                let label = format!("{} (unverified)", t.part);
                if !items.contains(&label) {
                    items.push(label);
                }
            }
            _ => {}
        }
    }
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Graded, Rubric, Submission};
    use harness::{
        check::Check,
        lab::{Lab, Part},
        report::{CheckResult, Report},
    };
    use kernel::{target::Mode, topology::TopologySpec};

    /// A part of `n` checks, worth `points` (the default when `None`).
    fn part(program: &'static str, n: usize, points: Option<f64>) -> Part {
        Part {
            program,
            counters: None,
            checks: (0..n)
                .map(|i| Check::new("0.0", program, &format!("c{i}"), "a check"))
                .collect(),
            topology: TopologySpec::pair(),
            setup: None,
            requires: &[],
            points,
        }
    }

    fn lab() -> Lab {
        Lab {
            id: "0.0",
            title: "output test",
            contract: "",
            reference: reference::harness_pass,
            parts: vec![
                part("twelve", 12, None),
                part("seven", 7, None),
                part("three", 3, None),
            ],
            environment: None,
        }
    }

    /// Every check passes but the first, and the part `three` is not run.
    fn graded() -> Graded {
        let lab = lab();
        let checks = lab
            .parts
            .iter()
            .flat_map(|p| &p.checks)
            .enumerate()
            .map(|(i, c)| {
                if c.part == "three" {
                    CheckResult::not_run(c, "not run: the kernel lacks bpf_x")
                } else if i == 0 {
                    CheckResult::failed(c, kernel::FailureClass::Behaviour, "diff".into())
                } else {
                    let mut r = CheckResult::not_run(c, "");
                    r.status = Status::Pass;
                    r.passed = true;
                    r
                }
            })
            .collect();
        let report = Report::new("0.0", Mode::Auto, "s.o", checks);
        Graded {
            submission: Submission {
                student: "sam".into(),
                objects: vec![],
                pinned: None,
                problem: None,
            },
            score: Rubric::default_for(&lab).score(&report),
            report,
            ungraded: None,
            replay: vec![],
            timings: None,
        }
    }

    #[test]
    fn gradescope_max_scores_add_up_to_each_parts_points() {
        let g = graded();
        let doc: serde_json::Value = serde_json::from_str(&gradescope(&g)).unwrap();
        let tests = doc["tests"].as_array().unwrap();
        let cents = |prefix: &str| -> i64 {
            tests
                .iter()
                .filter(|t| t["name"].as_str().unwrap().starts_with(prefix))
                .map(|t| (t["max_score"].as_f64().unwrap() * 100.0).round() as i64)
                .sum()
        };
        assert_eq!(cents("0.0/twelve/"), 1000);
        assert_eq!(cents("0.0/seven/"), 1000);
        assert_eq!(
            cents("0.0/three/"),
            0,
            "not run: out of the points possible"
        );
        // twelve: 0.84 x 4 + 0.83 x 8, its first check (0.84) failed; seven: 10 of 10.
        assert_eq!(doc["score"].as_f64().unwrap(), 19.16);
        assert!(
            doc["output"]
                .as_str()
                .unwrap()
                .contains("NOT RUN  3 check(s) of three")
        );
    }

    #[test]
    fn not_run_is_shown_in_every_output_and_never_scored() {
        let g = graded();
        assert_eq!((g.score.max, g.score.parts[2].max), (20.0, 0.0));
        let text = text(&g);
        assert!(
            text.starts_with(&format!(
                "sam · lab 0.0 · seed 0 · 19.16 / 20.00 points\njudged on kernel {}\nNOT RUN",
                g.report.kernel
            )),
            "{text}"
        );
        assert!(
            text.contains("  NRUN 0.0/three/c0 (0.00/0.00)\n      not run: the kernel lacks bpf_x"),
            "{text}"
        );
        let xml = junit(&g).unwrap();
        assert_eq!(
            xml.matches("<skipped message=\"not run: the kernel lacks bpf_x\"")
                .count(),
            3,
            "{xml}"
        );
        let table = class_table(std::slice::from_ref(&g));
        assert!(
            table.contains("0.0/twelve/c0; NOT RUN 3 (not run: the kernel lacks bpf_x)"),
            "{table}"
        );
        let dir = std::env::temp_dir().join(format!("xdplab-output-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_class(&dir, &[g]).unwrap();
        let csv = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            csv,
            "student,points,max,ungraded,reason,failed_checks,not_run,notes,incomplete\n\
             sam,19.16,20.00,,,0.0/twelve/c0,3 (not run: the kernel lacks bpf_x),,\n"
        );
        let dir =
            std::env::temp_dir().join(format!("xdplab-gradebook-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut incomplete = graded();
        incomplete.submission.student = "tom, jr".into();
        incomplete.score.incomplete = true;
        write_gradebook(&dir, &[graded(), incomplete]).unwrap();
        let csv = std::fs::read_to_string(dir.join(GRADEBOOK_FILE)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(csv, "student,score\nsam,19.16\n\"tom, jr\",\n");
    }

    /// Cents in a printed figure.
    fn c(x: &serde_json::Value) -> i64 {
        (x.as_f64().unwrap() * 100.0).round() as i64
    }

    /// A class of parts of 3, 5, 6 and 7 checks (worth 10, 10, 7 and 10 points, so no share is
    /// whole cents), each student passing another pattern of checks, some not run: in every
    /// output the checks' figures add up exactly to the part's, and the parts' to the total.
    #[test]
    fn every_output_adds_up_exactly_over_parts_of_3_5_6_and_7_checks() {
        let lab = Lab {
            id: "0.0",
            title: "sums",
            contract: "",
            reference: reference::harness_pass,
            parts: vec![
                part("three", 3, None),
                part("five", 5, None),
                part("six", 6, Some(7.0)),
                part("seven", 7, None),
            ],
            environment: None,
        };
        let rubric = Rubric::default_for(&lab);
        let mut rng = fastrand::Rng::with_seed(18);
        for student in 0..200 {
            let checks = lab
                .parts
                .iter()
                .flat_map(|p| &p.checks)
                .map(|check| {
                    let mut r = CheckResult::not_run(check, "not run: no bpf_x");
                    r.status = match rng.u8(0..10) {
                        0..5 => Status::Pass,
                        5..8 => Status::Fail(kernel::FailureClass::Behaviour),
                        8 => Status::Unverified,
                        _ if student % 3 == 0 => Status::NotRun,
                        _ => Status::Pass,
                    };
                    r.passed = r.status == Status::Pass;
                    r
                })
                .collect();
            let report = Report::new("0.0", Mode::Auto, "s.o", checks);
            let g = Graded {
                submission: Submission {
                    student: format!("s{student}"),
                    objects: vec![],
                    pinned: None,
                    problem: None,
                },
                score: rubric.score(&report),
                report,
                ungraded: None,
                replay: vec![],
                timings: None,
            };
            // Gradescope: tests against the total; report.json: tests against parts, parts
            // against the total.
            let gs: serde_json::Value = serde_json::from_str(&gradescope(&g)).unwrap();
            let json: serde_json::Value = serde_json::from_str(&student_json(&g)).unwrap();
            let tests = gs["tests"].as_array().unwrap();
            let sum = |key: &str| tests.iter().map(|t| c(&t[key])).sum::<i64>();
            assert_eq!(sum("score"), c(&gs["score"]), "s{student}");
            assert_eq!(sum("max_score"), c(&json["max"]), "s{student}");
            let parts = json["parts"].as_array().unwrap();
            assert_eq!(
                parts.iter().map(|p| c(&p["points"])).sum::<i64>(),
                c(&json["points"])
            );
            assert_eq!(
                parts.iter().map(|p| c(&p["max"])).sum::<i64>(),
                c(&json["max"])
            );
            for p in parts {
                let of_part = |key: &str| {
                    json["checks"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|t| t["part"] == p["program"])
                        .map(|t| c(&t[key]))
                        .sum::<i64>()
                };
                assert_eq!(of_part("points"), c(&p["points"]), "s{student} {p}");
                assert_eq!(of_part("max"), c(&p["max"]), "s{student} {p}");
            }
            // report.txt prints the same figures: each check's `(points/max)` sums to its part's
            // line, and the parts' lines to the first.
            let text = text(&g);
            let figures = |s: &str| -> (i64, i64) {
                let (a, b) = s.split_once('/').unwrap();
                let cents = |x: &str| (x.trim().parse::<f64>().unwrap() * 100.0).round() as i64;
                (cents(a), cents(b))
            };
            let head = text.lines().next().unwrap();
            let total = figures(
                head.rsplit(" · ")
                    .next()
                    .unwrap()
                    .trim_end_matches(" points"),
            );
            let (mut part_sum, mut check_sum) = ((0, 0), (0, 0));
            for line in text.lines() {
                let check = line.strip_prefix("  ").filter(|l| !l.starts_with(' '));
                if let Some((_, f)) = check.and_then(|l| l.rsplit_once(" (")) {
                    let (p, m) = figures(f.trim_end_matches(')'));
                    check_sum = (check_sum.0 + p, check_sum.1 + m);
                } else if let Some((_, f)) = ["three", "five", "six", "seven"]
                    .iter()
                    .find_map(|p| line.split_once(&format!("{p}: ")))
                    .filter(|(before, _)| before.is_empty())
                {
                    let (p, m) = figures(f.split(" (").next().unwrap());
                    part_sum = (part_sum.0 + p, part_sum.1 + m);
                }
            }
            assert_eq!(part_sum, total, "{text}");
            assert_eq!(check_sum, total, "{text}");
            // A check is worth the same for everyone (largest remainder: 10 points over 3 checks
            // are 3.34, 3.33 and 3.33), whatever else passed.
            for t in &g.score.tests {
                if t.max > 0.0 {
                    let want = match t.id.as_str() {
                        "0.0/three/c0" => 3.34,
                        "0.0/three/c1" | "0.0/three/c2" => 3.33,
                        "0.0/six/c4" | "0.0/six/c5" => 1.16,
                        id if id.starts_with("0.0/six/") => 1.17,
                        id if id.starts_with("0.0/five/") => 2.0,
                        "0.0/seven/c6" => 1.42,
                        _ => 1.43,
                    };
                    assert_eq!(t.max, want, "{}", t.id);
                }
            }
        }
    }
}
