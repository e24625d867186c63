//! Grading a class: finding submissions, judging each in its own process with a time limit,
//! scoring with a rubric and writing the reports.
//!
//! Each submission runs as a child `xdplab run ... --format json`, so a submission that crashes,
//! hangs or exhausts something takes only its own process down; its namespaces are swept when
//! it is killed.

pub mod class;
pub mod html;
pub mod jobs;
pub mod output;
pub mod perf;
pub mod rubric;
pub mod shard;

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, FailureClass, Result},
    lab::Lab,
    report::{CheckResult, Report},
    target::Mode,
};
pub use rubric::{Rubric, Score};

/// Name of a file in a student's folder that holds the bpffs path of their pinned programs.
pub const PINNED_FILE: &str = "pinned";

/// One student's submission: their objects, or the bpffs path of programs they pinned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submission {
    /// The student, from the folder or file name.
    pub student: String,
    /// Their object files (every file in their folder, sorted).
    pub objects: Vec<PathBuf>,
    /// Programs they loaded and pinned themselves, when their folder has a `pinned` file.
    pub pinned: Option<PathBuf>,
}

/// Finds the submissions in `dir`: each sub-folder is a student holding one or more objects
/// (`submissions/alice/lab-7-1.o`), and each file directly in `dir` is a student's single
/// object (`submissions/bob.o`). Sorted by student.
pub fn discover(dir: &Path) -> Result<Vec<Submission>> {
    let unreadable = |source| Error::Unreadable {
        path: dir.to_owned(),
        source,
    };
    let mut subs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)?.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            let mut objects = Vec::new();
            let mut pinned = None;
            for f in std::fs::read_dir(&path).map_err(unreadable)?.flatten() {
                if f.file_name() == PINNED_FILE {
                    let text = std::fs::read_to_string(f.path()).unwrap_or_default();
                    pinned = Some(PathBuf::from(text.trim()));
                } else if f.path().is_file() {
                    objects.push(f.path());
                }
            }
            objects.sort();
            subs.push(Submission {
                student: name,
                objects,
                pinned,
            });
        } else if path.is_file() {
            let student = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or(name);
            subs.push(Submission {
                student,
                objects: vec![path],
                pinned: None,
            });
        }
    }
    subs.sort_by(|a, b| a.student.cmp(&b.student));
    Ok(subs)
}

/// How to grade.
#[derive(Debug, Clone)]
pub struct GradeOptions {
    /// The `xdplab` binary the children run (normally the current executable).
    pub exe: PathBuf,
    /// The seed that varies frames.
    pub seed: u64,
    /// Wall-clock limit for one submission.
    pub timeout: Duration,
    /// Also measure each program's speed next to the reference (`run --perf`).
    pub perf: bool,
}

/// The machine-readable error a child prints with `--format json` when the run cannot happen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunError {
    /// The failure class.
    pub class: FailureClass,
    /// The one-paragraph message.
    pub message: String,
}

/// What a child prints with `--format json` when the run cannot happen at all.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunErrorDocument {
    /// The error.
    pub error: RunError,
}

impl From<&Error> for RunErrorDocument {
    fn from(e: &Error) -> Self {
        Self {
            error: RunError {
                class: e.class(),
                message: e.to_string(),
            },
        }
    }
}

/// One graded submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Graded {
    /// The submission.
    pub submission: Submission,
    /// The child's report (every check), even when the submission could not be run: then each
    /// check carries the reason.
    pub report: Report,
    /// Why the submission as a whole could not be judged, if so.
    pub ungraded: Option<RunError>,
    /// The score.
    pub score: Score,
    /// How to replay a failed check locally: `xdplab run ... --check ID` for each.
    pub replay: Vec<(String, String)>,
}

/// Grades one submission in its own process.
pub fn grade_one(lab: &Lab, rubric: &Rubric, sub: &Submission, opts: &GradeOptions) -> Graded {
    let mut args: Vec<String> = vec!["run".into(), lab.id.into()];
    let mut source_args: Vec<String> = Vec::new();
    match &sub.pinned {
        Some(p) => source_args.extend(["--pinned".into(), p.display().to_string()]),
        None => {
            for o in &sub.objects {
                source_args.extend(["--object".into(), o.display().to_string()]);
            }
        }
    }
    args.extend(source_args.iter().cloned());
    args.extend([
        "--mode".into(),
        "auto".into(),
        "--format".into(),
        "json".into(),
    ]);
    args.extend(["--seed".into(), opts.seed.to_string()]);
    if opts.perf {
        args.push("--perf".into());
    }
    let (report, ungraded) = if sub.objects.is_empty() && sub.pinned.is_none() {
        let e = RunError {
            class: FailureClass::BadObject,
            message: "the submission folder is empty".into(),
        };
        (failed_report(lab, &e, opts.seed), Some(e))
    } else {
        match run_child(&opts.exe, &args, opts.timeout) {
            Ok(Ok(report)) => (report, None),
            Ok(Err(e)) => (failed_report(lab, &e, opts.seed), Some(e)),
            Err(e) => {
                let e = RunError {
                    class: FailureClass::Environment,
                    message: e.to_string(),
                };
                (failed_report(lab, &e, opts.seed), Some(e))
            }
        }
    };
    let score = rubric.score(&report);
    let replay = score
        .failed()
        // Speed is replayed with `xdplab bench`, not a check.
        .filter(|t| t.part != perf::PART)
        .map(|t| {
            let cmd = format!(
                "xdplab run {} {} --check {}{}",
                lab.id,
                source_args.join(" "),
                t.id,
                if opts.seed != 0 {
                    format!(" --seed {}", opts.seed)
                } else {
                    String::new()
                }
            );
            (t.id.clone(), cmd)
        })
        .collect();
    Graded {
        submission: sub.clone(),
        report,
        ungraded,
        score,
        replay,
    }
}

/// Runs a child `xdplab run` and reads its JSON: a report, or the reason there is none.
fn run_child(
    exe: &Path,
    args: &[String],
    timeout: Duration,
) -> Result<std::result::Result<Report, RunError>> {
    let start = Instant::now();
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::env(format!("cannot start {}: {e}", exe.display())))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    // Read both pipes on threads so a chatty child never blocks on a full pipe.
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = loop {
        // The deadline is checked first, so a limit of 0 always stops the child.
        if start.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            crate::netns::sweep();
            return Err(Error::env(format!(
                "grading this submission took longer than {} s and was stopped",
                timeout.as_secs()
            )));
        }
        if let Some(status) = child.try_wait().map_err(Error::env)? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if let Ok(report) = serde_json::from_str::<Report>(&out) {
        return Ok(Ok(report));
    }
    if let Ok(doc) = serde_json::from_str::<RunErrorDocument>(&out) {
        return Ok(Err(doc.error));
    }
    Err(Error::env(format!(
        "the grading run ended with {status} and no report: {}",
        err.trim()
    )))
}

/// A report in which every check failed for the same reason.
fn failed_report(lab: &Lab, e: &RunError, seed: u64) -> Report {
    let checks = lab
        .parts
        .iter()
        .flat_map(|p| &p.checks)
        .map(|c| CheckResult::failed(c, e.class, e.message.clone()))
        .collect();
    let mut report = Report::new(lab.id, Mode::Auto, "", checks);
    report.seed = seed;
    report
}
