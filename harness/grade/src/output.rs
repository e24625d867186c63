//! Grading outputs: per-student text, JSON, JUnit XML and Gradescope `results.json`, and the
//! class summary (CSV and a terminal table). Nothing here carries a time or a duration, so the
//! same folder graded twice gives identical files.

use std::{fs, path::Path};

use quick_junit::{NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use super::graded::Graded;
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
/// `results.json`; under `students/`, no student's name can meet a class-level file.
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
        }
    }
    if let Some(perf) = &g.report.perf {
        out.push('\n');
        out.push_str(&perf.to_text());
    }
    if !g.replay.is_empty() {
        out.push_str("\nreplay a failed check locally:\n");
        for (_, cmd) in &g.replay {
            out.push_str(&format!("  {cmd}\n"));
        }
    }
    out
}

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
/// drive a Gradescope autograder unchanged. Each part's `max_score` values add up exactly to
/// the part's points possible (rounding to cents is spread over its checks); a check not
/// verified here has a `max_score` of 0 and says why.
pub fn gradescope(g: &Graded) -> String {
    let mut cents = vec![0i64; g.score.tests.len()];
    for part in &g.score.parts {
        let idx: Vec<usize> = (0..g.score.tests.len())
            .filter(|&i| g.score.tests[i].part == part.program)
            .collect();
        let shares: Vec<f64> = idx.iter().map(|&i| g.score.tests[i].max).collect();
        let total = (part.max * 100.0).round() as i64;
        for (i, c) in idx.into_iter().zip(distribute(total, &shares)) {
            cents[i] = c;
        }
    }
    let tests: Vec<GradescopeTest> = g
        .score
        .tests
        .iter()
        .zip(cents)
        .map(|(t, max)| {
            let output = match t.status {
                Status::Pass => t.description.clone(),
                _ => format!("{}\n{}", t.description, t.message),
            };
            let max = max as f64 / 100.0;
            GradescopeTest {
                max_score: max,
                name: &t.id,
                output,
                score: if t.status == Status::Pass { max } else { 0.0 },
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

/// Splits `total` cents over `shares` in proportion, each rounded down, then the cents left
/// over to the largest remainders (ties to the first): the parts add up exactly to `total`.
fn distribute(total: i64, shares: &[f64]) -> Vec<i64> {
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

    fn lab() -> Lab {
        let part = |program: &'static str, n: usize| Part {
            program,
            counters: None,
            checks: (0..n)
                .map(|i| Check::new("0.0", program, &format!("c{i}"), "a check"))
                .collect(),
            topology: TopologySpec::pair(),
            setup: None,
            requires: &[],
            points: None,
        };
        Lab {
            id: "0.0",
            title: "output test",
            contract: "",
            reference: reference::harness_pass,
            parts: vec![part("twelve", 12), part("seven", 7), part("three", 3)],
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
        }
    }

    #[test]
    fn distribute_adds_up_exactly() {
        assert_eq!(distribute(1000, &[1.0; 3]), [334, 333, 333]);
        assert_eq!(distribute(1000, &[1.0; 12]).iter().sum::<i64>(), 1000);
        assert_eq!(distribute(500, &[0.0, 0.0]), [0, 0]);
        assert_eq!(distribute(1000, &[4.0, 1.0, 0.0]), [800, 200, 0]);
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
        assert_eq!(doc["score"].as_f64().unwrap(), 19.17);
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
                "sam · lab 0.0 · seed 0 · 19.17 / 20.00 points\njudged on kernel {}\nNOT RUN",
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
             sam,19.17,20.00,,,0.0/twelve/c0,3 (not run: the kernel lacks bpf_x),,\n"
        );
    }
}
