//! The grading child: one submission judged in its own time-limited process. The parent sends
//! a [`ChildRequest`] on the child's standard input and reads a report (or a
//! [`RunErrorDocument`]) from its standard output; both sides use these types, so the two can
//! never disagree about arguments.

use std::{
    ffi::OsStr,
    io::{Read, Write},
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use harness::lab::{Lab, RunOptions};
use kernel::{
    error::{Error, FailureClass, Result},
    input::{self, InputError, Links, PathKind},
    object::ProgramSource,
    source::Programs,
    target::Mode,
};

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

/// A path as raw bytes, so non-UTF-8 file names survive the trip through JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawPath(Vec<u8>);

impl From<&Path> for RawPath {
    fn from(p: &Path) -> Self {
        Self(p.as_os_str().as_bytes().to_vec())
    }
}

impl RawPath {
    /// The path on this machine.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(OsStr::from_bytes(&self.0))
    }
}

/// Where a submission's programs come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChildSource {
    /// Object files (one or more).
    Objects(Vec<RawPath>),
    /// A `pinned` file holding the bpffs path of the student's pinned programs; read by the
    /// child, never by the parent.
    PinnedFile(RawPath),
}

/// Everything a grading child needs to judge one submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildRequest {
    /// The lab id (`7.1`).
    pub lab: String,
    /// The seed that varies frames.
    pub seed: u64,
    /// The submission's programs.
    pub source: ChildSource,
    /// Also measure each program's speed next to the reference (information, or scored by a
    /// rubric's `[perf]`).
    #[serde(default)]
    pub perf: bool,
    /// Only this program's checks (`xdplab mutants`, for a mutant only one program runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
}

/// The largest request a child reads (a request lists a few paths).
const REQUEST_LIMIT: u64 = 1 << 20;

/// Runs the child side: reads a [`ChildRequest`] from standard input, judges the submission in
/// `auto` mode and prints exactly one JSON document, a report or a [`RunErrorDocument`].
/// `find_lab` maps a lab id and seed to the lab. Returns the process's exit code.
pub fn serve(find_lab: impl Fn(&str, u64) -> Option<Lab>) -> u8 {
    let result = read_request().and_then(|req| {
        // A panic still ends in one document, classed `crash`.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| judge(&req, &find_lab)))
            .unwrap_or_else(|panic| {
                Err(Error::Crashed(
                    kernel::object::panic_detail(panic.as_ref()).to_owned(),
                ))
            })
    });
    let doc = match result {
        Ok(report) => report.to_json(),
        Err(e) => serde_json::to_string(&RunErrorDocument::from(&e)).expect("serialises"),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{doc}");
    let _ = out.flush();
    0
}

fn read_request() -> Result<ChildRequest> {
    let mut text = String::new();
    std::io::stdin()
        .take(REQUEST_LIMIT)
        .read_to_string(&mut text)
        .map_err(|e| Error::op("reading the grading request", e))?;
    serde_json::from_str(&text).map_err(|e| Error::op("parsing the grading request", e))
}

fn judge(
    req: &ChildRequest,
    find_lab: &dyn Fn(&str, u64) -> Option<Lab>,
) -> Result<harness::Report> {
    let lab = find_lab(&req.lab, req.seed)
        .ok_or_else(|| Error::env(format!("the grading child knows no lab `{}`", req.lab)))?;
    harness::doctor::require_root()?;
    let source = open_source(&req.source)?;
    let opts = RunOptions {
        mode: Mode::Auto,
        program: req.program.clone(),
        check: None,
        seed: req.seed,
    };
    let mut report = lab.run(source.as_ref(), &opts)?;
    if req.perf {
        let quick = harness::bench::PerfOptions::quick();
        report.perf = Some(harness::bench::perf(&lab, source.as_ref(), quick)?);
    }
    Ok(report)
}

/// The longest bpffs path a `pinned` file may hold (PATH_MAX).
const PINS_PATH_LIMIT: usize = 4096;

/// Opens a submission's programs with bounded reads. Nothing is followed: each file is opened
/// with `O_NOFOLLOW` ([`Links::Refuse`]), so a link in a submission is a `bad-object` naming
/// the link, and what it points at is never read or quoted.
pub fn open_source(source: &ChildSource) -> Result<Box<dyn ProgramSource>> {
    let programs = match source {
        ChildSource::Objects(paths) => Programs::Files {
            paths: paths.iter().map(RawPath::path).collect(),
            links: Links::Refuse,
        },
        ChildSource::PinnedFile(file) => Programs::Pinned(pins_path(&file.path())?.into()),
    };
    programs.open()
}

/// The bpffs path a `pinned` file holds: one absolute path on one line. What is wrong with it
/// is said in xdplab's words; the file's text is only quoted (as the pins' path) once it is
/// one plausible path.
fn pins_path(file: &Path) -> Result<String> {
    let text = input::read_text(file, PathKind::PinnedFile, Links::Refuse)?;
    let problem = |problem: String| {
        Error::from(InputError::Content {
            kind: PathKind::PinnedFile,
            path: file.to_owned(),
            problem,
        })
    };
    let pins = text.trim();
    if pins.is_empty() {
        let what = if text.is_empty() {
            "is empty"
        } else {
            "holds only white space"
        };
        return Err(problem(what.into()));
    }
    if pins.lines().count() > 1 {
        return Err(problem(format!(
            "holds {} lines, not one path",
            pins.lines().count()
        )));
    }
    if pins.len() > PINS_PATH_LIMIT || pins.chars().any(char::is_control) {
        return Err(problem(format!(
            "holds {} bytes that are not one path",
            pins.len()
        )));
    }
    if !pins.starts_with('/') {
        return Err(problem("does not hold an absolute path".into()));
    }
    Ok(pins.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::error::FailureClass;

    #[test]
    fn requests_round_trip_with_non_utf8_paths() {
        let req = ChildRequest {
            lab: "7.1".into(),
            seed: 7,
            source: ChildSource::Objects(vec![RawPath::from(Path::new(OsStr::from_bytes(
                b"/class/b\xffb.o",
            )))]),
            perf: true,
            program: None,
        };
        let json = serde_json::to_string(&req).unwrap();
        let back: ChildRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, req);
        let ChildSource::Objects(paths) = back.source else {
            panic!("objects")
        };
        assert_eq!(paths[0].path().as_os_str().as_bytes(), b"/class/b\xffb.o");
    }

    /// An empty scratch folder for one test.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xdplab-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn pinned_error(file: &Path) -> Error {
        open_source(&ChildSource::PinnedFile(RawPath::from(file)))
            .err()
            .unwrap()
    }

    #[test]
    fn an_empty_pinned_file_is_the_students_fault() {
        let dir = scratch("child");
        let file = dir.join("pinned");
        std::fs::write(&file, "").unwrap();
        let e = pinned_error(&file);
        assert_eq!(e.class(), FailureClass::BadObject, "{e}");
        let text = e.to_string();
        assert!(text.contains("pinned` is empty."), "{text}");
        assert!(text.contains("for example /sys/fs/bpf/alice"), "{text}");
        assert!(!text.contains("ELF"), "not blamed on an object: {text}");
        for (content, says) in [
            ("\n \n", "holds only white space"),
            ("/sys/fs/bpf/a\n/sys/fs/bpf/b\n", "holds 2 lines"),
            ("sys/fs/bpf/a", "does not hold an absolute path"),
        ] {
            std::fs::write(&file, content).unwrap();
            let e = pinned_error(&file);
            assert!(e.to_string().contains(says), "{content:?}: {e}");
            assert_eq!(e.class(), FailureClass::BadObject, "{e}");
        }
        std::fs::write(&file, "/etc").unwrap();
        let e = pinned_error(&file);
        assert!(e.to_string().contains("not on a bpffs"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A submission's links are refused by name, never followed: the child opens nothing
    /// behind them, and the message quotes nothing from the target.
    #[test]
    fn the_child_follows_no_link() {
        let dir = scratch("child-links");
        let secret = dir.join("secret");
        std::fs::write(&secret, "/sys/fs/bpf/SECRET-MARKER").unwrap();
        let pinned = dir.join("pinned");
        std::os::unix::fs::symlink("/proc/self/environ", &pinned).unwrap();
        let object = dir.join("lab.o");
        std::os::unix::fs::symlink(&secret, &object).unwrap();
        let e = pinned_error(&pinned);
        assert!(e.to_string().contains("pinned` is a symbolic link"), "{e}");
        assert_eq!(e.class(), FailureClass::BadObject);
        let e = open_source(&ChildSource::Objects(vec![RawPath::from(object.as_path())]))
            .err()
            .unwrap();
        let text = e.to_string();
        assert!(text.contains("lab.o` is a symbolic link"), "{text}");
        assert!(
            !text.contains("SECRET") && !text.contains("2f 73 79 73"),
            "{text}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
