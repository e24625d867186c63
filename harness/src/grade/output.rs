//! Grading outputs: per-student text, JSON, JUnit XML and Gradescope `results.json`, and the
//! class summary (CSV and a terminal table). Nothing here carries a time or a duration, so the
//! same folder graded twice gives identical files.

use std::{fs, path::Path};

use quick_junit::{NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use super::Graded;
use crate::{
    error::{Error, Result},
    report::Status,
};

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::env(format!("cannot write {}: {e}", path.display()))
}

/// Writes `<out>/<student>/` with `report.txt`, `report.json`, `junit.xml` and `results.json`.
pub fn write_student(out: &Path, g: &Graded) -> Result<()> {
    let dir = out.join(&g.submission.student);
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
    if let Some(e) = &g.ungraded {
        out.push_str(&format!(
            "could not be graded ({}): {}\n",
            class_name(e.class),
            e.message
        ));
    }
    for part in &s.parts {
        out.push_str(&format!(
            "\n{}: {:.2} / {:.2}\n",
            part.program, part.points, part.max
        ));
        let mut previous = "";
        for t in s.tests.iter().filter(|t| t.part == part.program) {
            out.push_str(&format!(
                "  {} {} ({:.2}/{:.2})\n",
                mark(t.status),
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

fn mark(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASS",
        Status::Skip => "SKIP",
        Status::Info => "INFO",
        Status::Fail(crate::FailureClass::Environment) => "ENV ",
        Status::Fail(_) => "FAIL",
    }
}

pub(super) fn class_name(class: crate::FailureClass) -> String {
    serde_json::to_value(class)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
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
        ungraded: &'a Option<super::RunError>,
        parts: Vec<serde_json::Value>,
        checks: &'a [super::rubric::TestScore],
        replay: Vec<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        perf: &'a Option<crate::bench::Perf>,
    }
    let doc = Doc {
        student: &g.submission.student,
        lab: &g.report.lab,
        seed: g.report.seed,
        points: round(g.score.points),
        max: round(g.score.max),
        ungraded: &g.ungraded,
        parts: g
            .score
            .parts
            .iter()
            .map(|p| serde_json::json!({"program": p.program, "points": round(p.points), "max": round(p.max)}))
            .collect(),
        checks: &g.score.tests,
        replay: g.replay.iter().map(|(_, c)| c.as_str()).collect(),
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
                Status::Skip | Status::Info => TestCaseStatus::skipped(),
                Status::Fail(class) => {
                    let kind = if class == crate::FailureClass::Behaviour {
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
        .map_err(|e| Error::env(format!("JUnit XML: {e}")))
}

/// Gradescope's `results.json`: the score and one test per graded check, so the harness can
/// drive a Gradescope autograder unchanged.
pub fn gradescope(g: &Graded) -> String {
    let tests: Vec<serde_json::Value> = g
        .score
        .tests
        .iter()
        .map(|t| {
            let output = match t.status {
                Status::Pass => t.description.clone(),
                _ => format!("{}\n{}", t.description, t.message),
            };
            serde_json::json!({
                "name": t.id,
                "score": round(t.points),
                "max_score": round(t.max),
                "output": output,
                "visibility": "visible",
            })
        })
        .collect();
    let output = match &g.ungraded {
        Some(e) => format!("Could not be graded: {}", e.message),
        None => format!("{:.2} / {:.2} points", g.score.points, g.score.max),
    };
    serde_json::to_string_pretty(&serde_json::json!({
        "score": round(g.score.points),
        "output": output,
        "visibility": "visible",
        "tests": tests,
    }))
    .expect("serialises")
}

/// Writes the class summary `<out>/summary.csv`: student, points, max, failure class if the
/// submission could not be graded, and the failed checks.
pub fn write_class(out: &Path, graded: &[Graded]) -> Result<()> {
    let path = out.join("summary.csv");
    let mut w = csv::Writer::from_path(&path)
        .map_err(|e| Error::env(format!("{}: {e}", path.display())))?;
    let csv_err = |e: csv::Error| Error::env(format!("{}: {e}", path.display()));
    w.write_record([
        "student",
        "points",
        "max",
        "ungraded",
        "reason",
        "failed_checks",
    ])
    .map_err(csv_err)?;
    for g in graded {
        let failed: Vec<&str> = g.score.failed().map(|t| t.id.as_str()).collect();
        w.write_record([
            g.submission.student.as_str(),
            &format!("{:.2}", g.score.points),
            &format!("{:.2}", g.score.max),
            &g.ungraded
                .as_ref()
                .map(|e| class_name(e.class))
                .unwrap_or_default(),
            g.ungraded
                .as_ref()
                .map(|e| e.message.as_str())
                .unwrap_or(""),
            &failed.join(" "),
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
        out.push_str(&format!(
            "{:<width$}  {:>15}  {detail}\n",
            g.submission.student,
            format!("{:.2} / {:.2}", g.score.points, g.score.max)
        ));
    }
    out
}

/// Failed behaviour checks by id; checks that failed for another reason (a verifier rejection,
/// a missing program or map) summed up per part, since they all share one cause.
fn failure_summary(g: &Graded) -> String {
    let mut items: Vec<String> = Vec::new();
    for t in g.score.failed() {
        match t.status {
            Status::Fail(crate::FailureClass::Behaviour) => items.push(t.id.clone()),
            Status::Fail(class) => {
                let label = format!("{} ({})", t.part, class_name(class));
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
