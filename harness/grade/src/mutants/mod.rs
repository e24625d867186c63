//! Mutation testing of a lab's checks: every plausible one-site mistake in a correct C
//! solution (a boundary off by one, a condition negated, an action swapped, a byte-order helper
//! left out, a statement dropped, ...) is compiled with the suite's clang line and graded as a
//! submission, each in its own time-limited child ([`crate::grade_one`]). A mutant no
//! check fails is a survivor: either equivalent to the original under the lab's contract
//! (then it belongs in the lab's [`register`]) or a gap in the checks.
//!
//! Outcomes are per program: a mutant of a helper counts for each program that calls it, and is
//! killed there only by that program's checks.

mod fingerprint;
pub mod lexer;
pub mod operators;
pub mod register;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde::Serialize;

pub use fingerprint::Fingerprint;
pub use operators::{Mutant, Operator};

use crate::{ChildRequest, ChildSource, RawPath, RunError};
use harness::{
    lab::Lab,
    report::{Report, Status},
};
use kernel::{
    clang,
    error::{Error, FailureClass, Result},
};

/// The largest C source read (the labs' solutions are a few KiB).
const SOURCE_LIMIT: u64 = 1 << 20;

/// How to run the mutants.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only the mutants this program runs, judged by its checks (the whole lab still runs).
    pub program: Option<String>,
    /// Mutants compiled and graded at once.
    pub jobs: usize,
    /// Time limit for one mutant's run.
    pub timeout: Duration,
    /// The `xdplab` binary that grades each mutant (`grade-child`).
    pub exe: PathBuf,
    /// Run only this many mutants, drawn with the seed (all when `None`).
    pub sample: Option<(usize, u64)>,
}

/// What a mutant did to one program's checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// These checks failed.
    Killed {
        /// The ids of the checks that failed.
        checks: Vec<String>,
    },
    /// Every check passed.
    Survived,
    /// It did not compile, or the kernel refused it.
    Stillborn {
        /// The compiler's or the verifier's complaint.
        reason: String,
    },
    /// Its run passed the time limit.
    Timeout,
    /// The compiler made the same program of it: equivalent, not run.
    Identical,
    /// The run could not judge it (an environment fault, a check left unverified).
    Unjudged {
        /// Why the run could not judge it.
        reason: String,
    },
}

impl Outcome {
    /// The one-word name used in tables.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Killed { .. } => "killed",
            Outcome::Survived => "survived",
            Outcome::Stillborn { .. } => "stillborn",
            Outcome::Timeout => "timeout",
            Outcome::Identical => "identical",
            Outcome::Unjudged { .. } => "unjudged",
        }
    }
}

/// One mutant and its outcome for each program it reaches.
#[derive(Debug, Clone, Serialize)]
pub struct MutantResult {
    /// The mutant.
    #[serde(flatten)]
    pub mutant: Mutant,
    /// Its outcome for each program it reaches, by program name.
    pub outcomes: BTreeMap<String, Outcome>,
}

/// The counts of one program.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// The program.
    pub program: String,
    /// Mutants that reach it.
    pub mutants: usize,
    /// Mutants one of its checks caught.
    pub killed: usize,
    /// Mutants every one of its checks passed.
    pub survived: usize,
    /// Mutants that did not compile or load.
    pub stillborn: usize,
    /// Mutants whose run passed the time limit.
    pub timeout: usize,
    /// Mutants the compiler made the same program of.
    pub identical: usize,
    /// Mutants the run could not judge.
    pub unjudged: usize,
}

/// A mutation run: the counts per program, and every mutant.
#[derive(Debug, Clone, Serialize)]
pub struct MutationReport {
    /// The lab, for example `7.1`.
    pub lab: String,
    /// The source's file name.
    pub source: String,
    /// The counts per program, in contract order.
    pub programs: Vec<Tally>,
    /// Every mutant run, with its outcomes.
    pub mutants: Vec<MutantResult>,
    /// Checks the unmutated program already fails: they kill nothing.
    pub baseline_failures: Vec<String>,
    /// Mutants left out by `--sample`.
    pub not_sampled: usize,
    /// Mutants compiled and graded at once.
    pub jobs: usize,
    /// How long the whole run took.
    pub seconds: f64,
    /// The mutants `--sample` left out, for telling a stale register entry from one not run.
    #[serde(skip)]
    pub unsampled: Vec<Mutant>,
}

/// Told of progress (the CLI's progress bar).
pub trait Progress: Sync {
    /// `total` mutants are about to run.
    fn begin(&self, total: usize);
    /// One finished.
    fn done(&self, result: &MutantResult);
}

/// Generates the mutants of `source` (a correct C solution of `lab`), runs each through the
/// lab's checks and reports the outcomes per program.
pub fn run(
    lab: &Lab,
    source: &Path,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<MutationReport> {
    let started = Instant::now();
    let text = read_source(source)?;
    let programs = programs(lab, source, &text, opts.program.as_deref())?;
    let (all, functions) = operators::mutants(&text);
    let reach: BTreeMap<&str, BTreeSet<String>> = programs
        .iter()
        .map(|p| (p.as_str(), operators::reached(&functions, p)))
        .collect();
    let mut todo: Vec<(Mutant, Vec<String>)> = all
        .into_iter()
        .filter_map(|m| {
            let on: Vec<String> = programs
                .iter()
                .filter(|p| reach[p.as_str()].contains(&m.function))
                .cloned()
                .collect();
            (!on.is_empty()).then_some((m, on))
        })
        .collect();
    let mut unsampled = Vec::new();
    if let Some((n, seed)) = opts.sample
        && n < todo.len()
    {
        let mut rng = fastrand::Rng::with_seed(seed);
        rng.shuffle(&mut todo);
        unsampled = todo.split_off(n).into_iter().map(|(m, _)| m).collect();
        todo.sort_by_key(|(m, _)| (m.start, m.end));
    }
    let work = WorkDir::new()?;
    let name = source.file_name().unwrap_or_default();
    // The unmutated program: its object is what identical mutants are compared with, and a
    // check it fails already kills nothing.
    let original = work.0.join("original");
    std::fs::create_dir_all(&original).map_err(Error::during("creating a scratch folder"))?;
    let object = clang::compile(source, &[], &original).map_err(|e| {
        Error::usage(format!(
            "{} does not compile: {e}\nMutation testing starts from a correct solution that \
             builds with the suite's clang line.",
            source.display()
        ))
    })?;
    let baseline = Fingerprint::of(&read(&object)?).unwrap_or_default();
    let graded = grade_object(lab, opts, &object, None).map_err(|e| {
        Error::usage(format!(
            "the unmutated program cannot be judged ({:?}): {}\nMutation testing starts from a \
             solution the lab's checks can run.",
            e.class, e.message
        ))
    })?;
    let baseline_failures: BTreeSet<String> = graded
        .checks
        .iter()
        .filter(|c| programs.contains(&c.part) && !c.passed)
        .map(|c| c.id.clone())
        .collect();
    let trial = Trial {
        lab,
        opts,
        baseline: &baseline,
        baseline_failures: &baseline_failures,
    };
    progress.begin(todo.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<MutantResult>>> = Mutex::new(vec![None; todo.len()]);
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.clamp(1, todo.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((mutant, on)) = todo.get(i) else {
                        break;
                    };
                    let dir = work.0.join(format!("m{i}"));
                    let outcomes = judge(&trial, &mutant.apply(&text), &dir.join(name), on);
                    let _ = std::fs::remove_dir_all(&dir);
                    let result = MutantResult {
                        mutant: mutant.clone(),
                        outcomes,
                    };
                    progress.done(&result);
                    results.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(result);
                }
            });
        }
    });
    let mutants: Vec<MutantResult> = results
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect();
    Ok(MutationReport {
        lab: lab.id.to_owned(),
        source: name.to_string_lossy().into_owned(),
        programs: programs.iter().map(|p| tally(p, &mutants)).collect(),
        mutants,
        baseline_failures: baseline_failures.into_iter().collect(),
        not_sampled: unsampled.len(),
        jobs: opts.jobs,
        seconds: started.elapsed().as_secs_f64(),
        unsampled,
    })
}

/// Reads the C source: a regular file of bounded size, as UTF-8.
fn read_source(source: &Path) -> Result<String> {
    let meta = std::fs::metadata(source).map_err(|e| {
        Error::usage(format!(
            "cannot read --source `{}`: {e}. Give the path of a C solution of the lab.",
            source.display()
        ))
    })?;
    if !meta.is_file() || meta.len() > SOURCE_LIMIT {
        return Err(Error::usage(format!(
            "--source `{}` is not a regular file of at most {SOURCE_LIMIT} bytes. Give the path \
             of a C solution of the lab.",
            source.display()
        )));
    }
    let bytes = read(source)?;
    String::from_utf8(bytes).map_err(|_| {
        Error::usage(format!(
            "--source `{}` is not UTF-8 text. Give the path of a C solution of the lab.",
            source.display()
        ))
    })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::op(format!("reading {}", path.display()), e))
}

/// The lab's programs the source defines (only `only`, when given).
fn programs(lab: &Lab, source: &Path, text: &str, only: Option<&str>) -> Result<Vec<String>> {
    let names: Vec<&str> = lab.parts.iter().map(|p| p.program).collect();
    if let Some(p) = only
        && !names.contains(&p)
    {
        return Err(Error::usage(format!(
            "lab {} has no program `{p}`; its programs are {}.",
            lab.id,
            names.join(", ")
        )));
    }
    let (_, functions) = operators::mutants(text);
    let defined: Vec<String> = names
        .iter()
        .filter(|n| only.is_none_or(|p| p == **n))
        .filter(|n| functions.iter().any(|f| f.name == **n))
        .map(|n| (*n).to_owned())
        .collect();
    if defined.is_empty() {
        return Err(Error::usage(format!(
            "`{}` defines no function named after {} of lab {}'s programs ({}). Give a C \
             solution of this lab.",
            source.display(),
            if only.is_some() {
                "the chosen one"
            } else {
                "any"
            },
            lab.id,
            names.join(", ")
        )));
    }
    Ok(defined)
}

/// A scratch folder for the objects, removed with everything in it when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> Result<Self> {
        const PREFIX: &str = "xdplab-mutants-";
        let tmp = std::env::temp_dir();
        // Folders of runs that were killed (a signal ends the process without a Drop).
        for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let pid = name.to_str().and_then(|n| n.strip_prefix(PREFIX));
            if pid.is_some_and(|p| !Path::new("/proc").join(p).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = tmp.join(format!("{PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(Error::during("creating a scratch folder"))?;
        Ok(Self(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What every mutant is judged against.
struct Trial<'a> {
    lab: &'a Lab,
    opts: &'a Options,
    baseline: &'a Fingerprint,
    baseline_failures: &'a BTreeSet<String>,
}

/// Compiles one mutant at `path` and grades it: its outcome for each program in `on`.
fn judge(trial: &Trial, text: &str, path: &Path, on: &[String]) -> BTreeMap<String, Outcome> {
    let every = |o: Outcome| on.iter().map(|p| (p.clone(), o.clone())).collect();
    let dir = path.parent().expect("a file in the scratch folder");
    if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(path, text)) {
        return every(Outcome::Unjudged {
            reason: format!("cannot write the mutant: {e}"),
        });
    }
    let object = match clang::compile(path, &[], dir) {
        Ok(o) => o,
        Err(e) => {
            let text = e.to_string();
            let first = text
                .lines()
                .find(|l| l.contains("error:"))
                .unwrap_or("clang failed");
            let reason = first.split_once("error:").map_or(first, |(_, r)| r.trim());
            return every(Outcome::Stillborn {
                reason: format!("does not compile: {reason}"),
            });
        }
    };
    let print = std::fs::read(&object)
        .ok()
        .and_then(|b| Fingerprint::of(&b))
        .unwrap_or_default();
    let (same, run): (Vec<&String>, Vec<&String>) = on
        .iter()
        .partition(|p| trial.baseline.same_program(&print, p));
    let mut outcomes: BTreeMap<String, Outcome> = same
        .into_iter()
        .map(|p| (p.clone(), Outcome::Identical))
        .collect();
    if !run.is_empty() {
        // A mutant only one program runs is judged by that program's part alone: the others'
        // checks (and their contract's pauses) cannot kill it there.
        let only = match run.as_slice() {
            [one] => Some((*one).clone()),
            _ => None,
        };
        let graded = grade_object(trial.lab, trial.opts, &object, only);
        for p in run {
            let o = classify(&graded, p, trial.baseline_failures);
            outcomes.insert(p.clone(), o);
        }
    }
    outcomes
}

/// Grades one object as the grader does (auto mode, in a time-limited child, checks left
/// unverified run once more), all of the lab or only `program`.
fn grade_object(
    lab: &Lab,
    opts: &Options,
    object: &Path,
    program: Option<String>,
) -> std::result::Result<Report, RunError> {
    let request = ChildRequest {
        lab: lab.id.into(),
        seed: 0,
        source: ChildSource::Objects(vec![RawPath::from(object)]),
        perf: false,
        program,
    };
    let report = crate::run_child(&opts.exe, &request, opts.timeout).and_then(|r| r)?;
    Ok(crate::retry_unverified(
        report,
        &opts.exe,
        &request,
        opts.timeout,
    ))
}

/// What the graded mutant did to `program`'s checks.
fn classify(
    graded: &std::result::Result<Report, RunError>,
    program: &str,
    baseline_failures: &BTreeSet<String>,
) -> Outcome {
    // The first sentence: the verifier's log and the like stay in the JSON report's source,
    // the child's own report.
    let first_line = |s: &str| {
        let line = s.lines().next().unwrap_or_default();
        line.split_once(". ")
            .map_or(line, |(first, _)| first)
            .to_owned()
    };
    let refused = |c: FailureClass| {
        matches!(
            c,
            FailureClass::Verifier
                | FailureClass::BadObject
                | FailureClass::MapLayout
                | FailureClass::NoProgram
        )
    };
    let report = match graded {
        Ok(report) => report,
        Err(RunError { class, message }) => {
            return match class {
                FailureClass::Timeout => Outcome::Timeout,
                c if refused(*c) => Outcome::Stillborn {
                    reason: first_line(message),
                },
                c => Outcome::Unjudged {
                    reason: format!("{c:?}: {}", first_line(message)),
                },
            };
        }
    };
    let checks: Vec<_> = report.checks.iter().filter(|c| c.part == program).collect();
    if let Some(c) = checks
        .iter()
        .find(|c| matches!(c.status, Status::Fail(f) if refused(f)))
    {
        return Outcome::Stillborn {
            reason: first_line(&c.message),
        };
    }
    let killers: Vec<String> = checks
        .iter()
        .filter(|c| !baseline_failures.contains(&c.id))
        .filter(|c| matches!(c.status, Status::Fail(f) if f != FailureClass::Environment))
        .map(|c| c.id.clone())
        .collect();
    if !killers.is_empty() {
        return Outcome::Killed { checks: killers };
    }
    let open: Vec<&str> = checks
        .iter()
        .filter(|c| !baseline_failures.contains(&c.id) && !c.status.is_verified())
        .filter(|c| matches!(c.status, Status::Unverified | Status::Fail(_)))
        .map(|c| c.id.as_str())
        .collect();
    if open.is_empty() {
        Outcome::Survived
    } else {
        Outcome::Unjudged {
            reason: format!("not verified: {}", open.join(", ")),
        }
    }
}

fn tally(program: &str, mutants: &[MutantResult]) -> Tally {
    let mut t = Tally {
        program: program.to_owned(),
        ..Tally::default()
    };
    for o in mutants.iter().filter_map(|m| m.outcomes.get(program)) {
        t.mutants += 1;
        *match o {
            Outcome::Killed { .. } => &mut t.killed,
            Outcome::Survived => &mut t.survived,
            Outcome::Stillborn { .. } => &mut t.stillborn,
            Outcome::Timeout => &mut t.timeout,
            Outcome::Identical => &mut t.identical,
            Outcome::Unjudged { .. } => &mut t.unjudged,
        } += 1;
    }
    t
}

impl MutationReport {
    /// The report for people: per program, each mutant that was not killed with its line as a
    /// one-line diff, then the killed ones and their checks, then the counts.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for t in &self.programs {
            let mine = || {
                self.mutants
                    .iter()
                    .filter_map(|m| m.outcomes.get(&t.program).map(|o| (m, o)))
            };
            out.push_str(&format!("== {} ==\n", t.program));
            for (m, o) in mine() {
                let at = format!(
                    "{}:{} {} · {}",
                    self.source,
                    m.mutant.line,
                    m.mutant.function,
                    m.mutant.operator.name()
                );
                match o {
                    Outcome::Killed { checks } => {
                        let more = match checks.len() {
                            0..=3 => String::new(),
                            n => format!(" and {} more", n - 3),
                        };
                        let first: Vec<&str> = checks.iter().take(3).map(String::as_str).collect();
                        out.push_str(&format!(
                            "killed     {at} · by {}{more}\n",
                            first.join(", ")
                        ));
                    }
                    Outcome::Stillborn { reason } | Outcome::Unjudged { reason } => {
                        out.push_str(&format!("{:<10} {at} · {reason}\n", o.name()));
                    }
                    Outcome::Timeout => out.push_str(&format!("timeout    {at}\n")),
                    // Survivors come last, with their diffs.
                    Outcome::Identical | Outcome::Survived => {}
                }
            }
            for (m, _) in mine().filter(|(_, o)| **o == Outcome::Survived) {
                out.push_str(&format!(
                    "survived   {}:{} {} · {}\n  - {}\n  + {}\n",
                    self.source,
                    m.mutant.line,
                    m.mutant.function,
                    m.mutant.operator.name(),
                    m.mutant.original,
                    m.mutant.mutated
                ));
            }
        }
        if !self.baseline_failures.is_empty() {
            out.push_str(&format!(
                "the unmutated program fails {}: these kill no mutant\n",
                self.baseline_failures.join(", ")
            ));
        }
        out.push_str(&format!(
            "\nlab {} · {} · {} mutants{} · {} jobs · {:.0} s\n",
            self.lab,
            self.source,
            self.mutants.len(),
            if self.not_sampled > 0 {
                format!(" (a sample; {} not run)", self.not_sampled)
            } else {
                String::new()
            },
            self.jobs,
            self.seconds
        ));
        out.push_str(&format!(
            "{:<16} {:>7} {:>7} {:>9} {:>10} {:>8} {:>10} {:>9}\n",
            "program",
            "mutants",
            "killed",
            "survived",
            "stillborn",
            "timeout",
            "identical",
            "unjudged"
        ));
        for t in &self.programs {
            out.push_str(&format!(
                "{:<16} {:>7} {:>7} {:>9} {:>10} {:>8} {:>10} {:>9}\n",
                t.program,
                t.mutants,
                t.killed,
                t.survived,
                t.stillborn,
                t.timeout,
                t.identical,
                t.unjudged
            ));
        }
        out
    }

    /// The report for machines.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("serialises")
    }

    /// The survivors: (program, mutant) for each program a mutant survived in.
    pub fn survivors(&self) -> impl Iterator<Item = (&str, &Mutant)> {
        self.with(|o| *o == Outcome::Survived)
    }

    /// Each (program, mutant) pair the run could not judge (an environment fault, a check
    /// still unverified after the retry).
    pub fn unjudged(&self) -> impl Iterator<Item = (&str, &Mutant)> {
        self.with(|o| matches!(o, Outcome::Unjudged { .. }))
    }

    fn with(&self, keep: fn(&Outcome) -> bool) -> impl Iterator<Item = (&str, &Mutant)> {
        self.mutants.iter().flat_map(move |m| {
            m.outcomes
                .iter()
                .filter(move |(_, o)| keep(o))
                .map(move |(p, _)| (p.as_str(), &m.mutant))
        })
    }
}
