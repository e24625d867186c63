//! A graded class's folder: every student's reports and the class-level files, written the same
//! way by `grade` and by `grade merge`, so a merged folder is byte-identical to an unsharded one.
//!
//! `graded.json` keeps every submission's full result with the lab, seed and shard it belongs
//! to; `grade merge` reads it from each shard's folder and rebuilds everything from it. Those
//! folders usually come from CI artifacts, so merge trusts nothing in them: every file is read
//! bounded and without following links, every field is checked, and the shards must make one
//! whole grading, all before anything is written.

use std::{
    collections::BTreeMap,
    fs::{self, File},
    os::unix::fs::OpenOptionsExt as _,
    path::{Component, Path},
};

use serde::{Deserialize, Serialize};

use super::{
    discover::Skipped,
    graded::{Graded, TIMINGS_FILE, Timings},
    html::{self, ClassInfo},
    output,
    shard::Shard,
};
use kernel::{
    error::{Error, Result},
    input::{self, InputError, PathKind},
};

/// The file in a results folder that holds every graded submission, for `grade merge`.
pub const GRADED_FILE: &str = "graded.json";

/// The version of `graded.json`'s layout; `grade merge` reads only this one.
pub const SCHEMA_VERSION: u32 = 1;

/// The largest `graded.json` merge reads: a passing 7.1 submission takes about 20 KB, so this
/// leaves room for thousands of students with long diffs.
pub const GRADED_LIMIT: u64 = 256 << 20;

/// The file in a results folder that `grade` and `grade merge` lock while they write it.
pub const LOCK_FILE: &str = ".xdplab.lock";

/// The longest student name merge accepts: a name is a folder name, and those stop at 255 bytes.
const MAX_STUDENT_NAME: usize = 255;

/// Writes `<out>/skipped.csv`: every entry of the class folder that was not graded, and why.
pub fn write_skipped(out: &Path, skipped: &[Skipped]) -> Result<()> {
    let path = out.join("skipped.csv");
    let err = |e: csv::Error| Error::op(format!("cannot write {}", path.display()), e);
    let mut w = csv::Writer::from_path(&path).map_err(err)?;
    w.write_record(["entry", "reason"]).map_err(err)?;
    for s in skipped {
        w.write_record([&s.entry, &s.reason]).map_err(err)?;
    }
    w.flush()
        .map_err(|e| Error::op(format!("cannot write {}", path.display()), e))
}

/// What every refusal of `grade merge` ends with.
const MERGE_FIX: &str = "Pass the unchanged --out folders of one grading: those of `xdplab grade \
     LAB DIR --out X --shard K/N` for every K from 1 to N, run with one seed by this version of \
     xdplab (a grading without --shard is the one shard 1/1). Nothing was written.";

/// Why `grade merge` cannot put shards together.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A shard's folder, or a field of its `graded.json`, is not what `grade --shard` writes, or
    /// does not belong with the other shards.
    #[error("cannot merge the shard folder `{folder}`: {what}. {fix}", fix = MERGE_FIX)]
    Shard {
        /// The folder as given.
        folder: String,
        /// What is wrong, naming the field.
        what: String,
    },
    /// The shards do not add up to a whole class.
    #[error("cannot merge: {0}. {fix}", fix = MERGE_FIX)]
    Incomplete(String),
    /// Nothing to merge.
    #[error("no folders to merge: pass the --out folders of the shards' gradings")]
    NoFolders,
    /// The merged folder could not be written.
    #[error(transparent)]
    Write(#[from] Error),
}

/// The content of `graded.json`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassFile {
    /// [`SCHEMA_VERSION`].
    schema_version: u32,
    lab: String,
    seed: u64,
    shard: Shard,
    graded: Vec<Graded>,
    /// Entries of the submissions folder left out; every shard lists the same ones.
    skipped: Vec<Skipped>,
}

/// Holds a results folder for one `grade` or `grade merge` (an exclusive `flock` on
/// [`LOCK_FILE`] inside it) until dropped, so two runs never write one folder at once.
#[derive(Debug)]
pub struct OutLock {
    _file: File,
}

/// Makes `out` ready for a grading's files before any work starts: not on a bpffs, created if
/// missing, locked against other `grade` and `grade merge` runs, and writable (a probe file is
/// created and removed).
pub fn claim_out(out: &Path) -> Result<OutLock> {
    let cannot = |e: &dyn std::fmt::Display| {
        Error::usage(format!(
            "cannot write into the output folder `{}`: {e}. Pass an --out folder you can write \
             to (it is created if missing).",
            out.display()
        ))
    };
    // Checked on the nearest folder that exists, so nothing is created on a bpffs.
    let absolute = std::path::absolute(out).map_err(|e| cannot(&e))?;
    if absolute
        .ancestors()
        .find(|a| a.exists())
        .is_some_and(input::on_bpffs)
    {
        return Err(Error::usage(format!(
            "the output folder `{}` is on a bpffs, which holds pinned programs and maps, not \
             files. Pass an --out folder on an ordinary file system, for example results/.",
            out.display()
        )));
    }
    fs::create_dir_all(out).map_err(|e| cannot(&e))?;
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(out.join(LOCK_FILE))
        .map_err(|e| cannot(&e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            return Err(Error::usage(format!(
                "the output folder `{}` is in use by another `xdplab grade` or `grade merge` \
                 (it holds the lock on {LOCK_FILE} there). Wait for it to finish, or pass \
                 another --out folder.",
                out.display()
            )));
        }
        Err(fs::TryLockError::Error(e)) => return Err(cannot(&e)),
    }
    // The lock file may exist from an earlier run in a folder that is now read-only.
    let probe = out.join(format!(".xdplab-probe-{}", std::process::id()));
    File::options()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|_| fs::remove_file(&probe))
        .map_err(|e| cannot(&e))?;
    Ok(OutLock { _file: file })
}

/// Writes every student's files and the class-level files (`summary.csv`, `gradebook.csv`,
/// `skipped.csv`, `index.html`, `graded.json`) into `out`. `graded` must be sorted by student.
pub fn write(out: &Path, info: ClassInfo, graded: &[Graded], skipped: &[Skipped]) -> Result<()> {
    fs::create_dir_all(out)
        .map_err(|e| Error::op(format!("cannot create {}", out.display()), e))?;
    for g in graded {
        output::write_student(out, g)?;
        write_file(
            &output::student_dir(out, g).join(html::STUDENT_PAGE),
            &html::student_page(g),
        )?;
    }
    output::write_class(out, graded)?;
    output::write_gradebook(out, graded)?;
    write_skipped(out, skipped)?;
    write_file(&out.join(html::CLASS_PAGE), &html::class_page(info, graded))?;
    let all = serde_json::to_string_pretty(&ClassFile {
        schema_version: SCHEMA_VERSION,
        lab: info.lab.to_owned(),
        seed: info.seed,
        shard: info.shard,
        graded: graded.to_vec(),
        skipped: skipped.to_vec(),
    })
    .expect("results serialise");
    write_file(&out.join(GRADED_FILE), &all)
}

fn write_file(path: &Path, content: &str) -> Result<()> {
    fs::write(path, content).map_err(|e| Error::op(format!("cannot write {}", path.display()), e))
}

/// Puts the results of several shards' folders together into `out`, rebuilding every file, and
/// returns the class. `contract` gives a lab's contract text by lab id, and `None` for an id
/// that is no lab. Everything is read and checked before `out` is touched.
pub fn merge(
    folders: &[impl AsRef<Path>],
    out: &Path,
    contract: fn(&str) -> Option<&'static str>,
) -> std::result::Result<Vec<Graded>, MergeError> {
    let shards = folders
        .iter()
        .map(|f| {
            let folder = f.as_ref().display().to_string();
            read_shard(f.as_ref(), contract)
                .map_err(|what| MergeError::Shard {
                    folder: folder.clone(),
                    what,
                })
                .map(|file| (folder, file))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let (lab, seed, mut graded, skipped) = join(shards)?;
    for g in &mut graded {
        g.timings = folders
            .iter()
            .map(|f| read_timings(f.as_ref(), &g.submission.student))
            .find_map(std::result::Result::transpose)
            .transpose()?;
    }
    let info = ClassInfo {
        lab: &lab,
        contract: contract(&lab).unwrap_or_default(),
        seed,
        shard: Shard::WHOLE,
    };
    let _lock = claim_out(out)?;
    write(out, info, &graded, &skipped)?;
    Ok(graded)
}

/// The largest `timings.json` merge reads.
const TIMINGS_LIMIT: u64 = 16 << 20;

/// A student's `timings.json` in a shard's folder, if it has one: read bounded and without
/// following links (the student's folder must be a real folder), and parsed, so merge copies
/// only what `grade` writes.
fn read_timings(folder: &Path, student: &str) -> std::result::Result<Option<Timings>, MergeError> {
    let dir = folder.join(output::STUDENTS_DIR).join(student);
    let real_dir = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    if !real_dir(&folder.join(output::STUDENTS_DIR)) || !real_dir(&dir) {
        return Ok(None);
    }
    let refuse = |what: String| MergeError::Shard {
        folder: folder.display().to_string(),
        what,
    };
    let name = format!("{}/{student}/{TIMINGS_FILE}", output::STUDENTS_DIR);
    match input::read_bounded_no_follow(&dir.join(TIMINGS_FILE), PathKind::Out, TIMINGS_LIMIT) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| refuse(format!("its {name} is not what `grade` writes"))),
        Err(InputError::Unreadable { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        Err(_) => Err(refuse(format!(
            "its {name} is not a regular file of at most {} MiB that can be read",
            TIMINGS_LIMIT >> 20
        ))),
    }
}

/// The class already graded into `out`, read back from its `graded.json` for `grade --only`:
/// checked as `grade merge` checks a shard, and it must be a whole grading of `lab` with `seed`.
/// The error says what is wrong and how to get a folder `--only` can add to.
pub fn previous(
    out: &Path,
    lab: &str,
    seed: u64,
    contract: fn(&str) -> Option<&'static str>,
) -> Result<Vec<Graded>> {
    let refuse = |what: String| {
        Error::usage(format!(
            "cannot re-grade into `{}`: {what}. `--only` adds to a folder that a whole `xdplab \
             grade {lab} ... --seed {seed}` (or `grade merge`) wrote; grade the whole class into \
             it first.",
            out.display()
        ))
    };
    let file = read_shard(out, contract).map_err(refuse)?;
    if file.lab != lab {
        return Err(refuse(format!("its {GRADED_FILE} is of lab {}", file.lab)));
    }
    if file.seed != seed {
        return Err(refuse(format!(
            "its {GRADED_FILE} was graded with seed {}",
            file.seed
        )));
    }
    if file.shard != Shard::WHOLE {
        return Err(refuse(format!(
            "its {GRADED_FILE} holds shard {} only",
            file.shard
        )));
    }
    Ok(file.graded)
}

/// Reads and checks one shard's `graded.json` on its own; the error says what is wrong, naming
/// the field.
fn read_shard(
    folder: &Path,
    contract: fn(&str) -> Option<&'static str>,
) -> std::result::Result<ClassFile, String> {
    if !fs::metadata(folder).is_ok_and(|m| m.is_dir()) {
        return Err("it is not a folder".into());
    }
    // The kind only shapes InputError's own message, which is not used here.
    let bytes =
        input::read_bounded_no_follow(&folder.join(GRADED_FILE), PathKind::Out, GRADED_LIMIT)
            .map_err(|e| match e {
                InputError::Unreadable { source, .. }
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    format!("it has no {GRADED_FILE}")
                }
                InputError::Unreadable { source, .. } => {
                    format!("its {GRADED_FILE} cannot be read ({source})")
                }
                InputError::WrongType { found, .. } => {
                    format!("its {GRADED_FILE} is {found}, not a regular file")
                }
                InputError::TooLarge { limit, .. } => format!(
                    "its {GRADED_FILE} is larger than the limit of {} MiB",
                    limit >> 20
                ),
                other => other.to_string(),
            })?;
    // The version first, so a file of another layout is named as such rather than by the first
    // field that differs.
    #[derive(Deserialize)]
    struct Versioned {
        schema_version: Option<u64>,
    }
    let version: Versioned = parse(&bytes)?;
    match version.schema_version {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "`schema_version` in its {GRADED_FILE} is {v}, but this xdplab reads version \
                 {SCHEMA_VERSION}; grade that shard again with this version"
            ));
        }
        None => {
            return Err(format!(
                "its {GRADED_FILE} has no `schema_version`: an older xdplab wrote it; grade that \
                 shard again with this version"
            ));
        }
    }
    let file: ClassFile = parse(&bytes)?;
    let field = |name: &str, problem: &str| format!("`{name}` in its {GRADED_FILE} {problem}");
    if contract(&file.lab).is_none() {
        return Err(field(
            "lab",
            "is not a lab of this xdplab (`xdplab list` shows them)",
        ));
    }
    let mut seen = BTreeMap::new();
    for (i, g) in file.graded.iter().enumerate() {
        let student = &g.submission.student;
        if !is_student_name(student) {
            return Err(field(
                &format!("graded[{i}].submission.student"),
                &format!(
                    "is not a student's folder name: it must be one non-empty path component of \
                     at most {MAX_STUDENT_NAME} bytes, without `/` or NUL, not starting with a dot"
                ),
            ));
        }
        if g.report.lab != file.lab {
            return Err(field(
                &format!("graded[{i}].report.lab"),
                "differs from `lab`",
            ));
        }
        if g.report.seed != file.seed {
            return Err(field(
                &format!("graded[{i}].report.seed"),
                "differs from `seed`",
            ));
        }
        if let Some(first) = seen.insert(student.as_str(), i) {
            return Err(field(
                &format!("graded[{i}].submission.student"),
                &format!("names the student of graded[{first}] again"),
            ));
        }
    }
    Ok(file)
}

/// Deserialises `bytes`, naming the field that does not fit. The parser's message is cut short
/// and stripped of control characters: it may quote the file.
fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let refused = |field: Option<String>, e: &serde_json::Error| {
        let message = quotable(&e.to_string(), 200);
        match field {
            Some(f) if f == "." => {
                format!("its {GRADED_FILE} is not what `grade` writes ({message})")
            }
            Some(f) if e.is_data() => format!(
                "`{}` in its {GRADED_FILE} is not what `grade` writes ({message})",
                quotable(&f, 100)
            ),
            // Broken JSON: where it broke is still the best pointer to what was cut or changed.
            Some(f) => format!(
                "its {GRADED_FILE} is not complete JSON: it breaks in `{}` ({message})",
                quotable(&f, 100)
            ),
            None => format!("its {GRADED_FILE} is not what `grade` writes ({message})"),
        }
    };
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| refused(Some(e.path().to_string()), e.inner()))?;
    de.end().map_err(|e| refused(None, &e))?;
    Ok(value)
}

/// `text` cut to `max` characters, control characters made spaces: a parser's message and a
/// field's path may quote the file, which can hold anything.
fn quotable(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push_str("...");
    }
    out
}

/// Whether `name` can be a student's folder under `students/`: exactly one normal path
/// component, so it can never reach outside that folder or replace a class file.
fn is_student_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_STUDENT_NAME
        && !name.starts_with('.')
        && !name.contains(['/', '\0'])
        && matches!(
            Path::new(name).components().collect::<Vec<_>>()[..],
            [Component::Normal(_)]
        )
}

/// Checks that the shards make one whole grading (one lab, one seed, every share of one split
/// once, the same entries skipped, each student in the share the class order gives them) and
/// returns the lab, the seed, the class sorted by student, and the entries left out.
fn join(
    shards: Vec<(String, ClassFile)>,
) -> std::result::Result<(String, u64, Vec<Graded>, Vec<Skipped>), MergeError> {
    let Some((first_folder, first)) = shards.first() else {
        return Err(MergeError::NoFolders);
    };
    let refuse = |folder: &str, what: String| MergeError::Shard {
        folder: folder.to_owned(),
        what,
    };
    let count = first.shard.count;
    let mut holder: BTreeMap<usize, &str> = BTreeMap::new();
    for (folder, file) in &shards {
        let differs = |name: &str, this: &dyn std::fmt::Display, that: &dyn std::fmt::Display| {
            refuse(
                folder,
                format!(
                    "`{name}` in its {GRADED_FILE} is {this}, but it is {that} in \
                     `{first_folder}`: they are not shards of one grading"
                ),
            )
        };
        if file.lab != first.lab {
            return Err(differs("lab", &file.lab, &first.lab));
        }
        if file.seed != first.seed {
            return Err(differs("seed", &file.seed, &first.seed));
        }
        if file.shard.count != count {
            return Err(differs("shard", &file.shard, &first.shard));
        }
        if file.skipped != first.skipped {
            return Err(refuse(
                folder,
                format!(
                    "`skipped` in its {GRADED_FILE} differs from `{first_folder}`'s: the shards \
                     were graded from different submissions folders"
                ),
            ));
        }
        if let Some(other) = holder.insert(file.shard.index, folder) {
            return Err(refuse(
                folder,
                format!(
                    "`shard` in its {GRADED_FILE} is {}, as in `{other}`: that share was given \
                     twice",
                    file.shard
                ),
            ));
        }
    }
    // Every present share is counted once above, so at most `shards.len()` are skipped here
    // before ten missing ones are found, whatever N says.
    let missing: Vec<String> = (1..=count)
        .filter(|k| !holder.contains_key(k))
        .take(10)
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Incomplete(format!(
            "no folder given holds shard {} (by the `shard` in each {GRADED_FILE}); all {count} \
             shares are needed",
            missing.join(", ")
        )));
    }
    let (lab, seed, skipped) = (first.lab.clone(), first.seed, first.skipped.clone());
    // (student, shard, folder, index in its file), sorted as the class is.
    let mut all: Vec<(Graded, Shard, String, usize)> = shards
        .into_iter()
        .flat_map(|(folder, file)| {
            let shard = file.shard;
            file.graded
                .into_iter()
                .enumerate()
                .map(move |(i, g)| (g, shard, folder.clone(), i))
        })
        .collect();
    all.sort_by(|a, b| a.0.submission.student.cmp(&b.0.submission.student));
    for pair in all.windows(2) {
        let ((a, _, a_folder, _), (b, _, b_folder, i)) = (&pair[0], &pair[1]);
        if a.submission.student == b.submission.student {
            return Err(refuse(
                b_folder,
                format!(
                    "`graded[{i}].submission.student` in its {GRADED_FILE}, `{}`, is graded in \
                     `{a_folder}` too: each student belongs to one shard",
                    b.submission.student
                ),
            ));
        }
    }
    for (position, (g, shard, folder, i)) in all.iter().enumerate() {
        let belongs = position % count + 1;
        if belongs != shard.index {
            return Err(refuse(
                folder,
                format!(
                    "`graded[{i}].submission.student` in its {GRADED_FILE}, `{}`, falls in shard \
                     {belongs}/{count} of the whole class, not {shard}: the shards were graded \
                     from different submissions folders",
                    g.submission.student
                ),
            ));
        }
    }
    Ok((lab, seed, all.into_iter().map(|x| x.0).collect(), skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn student_names_are_one_safe_component() {
        for good in ["amy", "a b", "x..y", "émile", &"n".repeat(255)] {
            assert!(is_student_name(good), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "/abs",
            "a/b",
            ".hidden",
            "a\0b",
            &"n".repeat(256),
        ] {
            assert!(!is_student_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_field_that_does_not_fit_is_named_and_not_quoted_raw() {
        let head = r#"{"schema_version": 1, "lab": "7.1", "seed": 0, "#;
        let e =
            parse::<ClassFile>(format!(r#"{head}"shard": "1/2", "graded": [{{"sub"#).as_bytes())
                .err()
                .unwrap();
        assert!(
            e.starts_with("its graded.json is not complete JSON: it breaks in `graded[0].?` (EOF"),
            "{e}"
        );
        let e = parse::<ClassFile>(
            format!(r#"{head}"shard": "3/2", "graded": [], "skipped": []}}"#).as_bytes(),
        )
        .err()
        .unwrap();
        assert!(e.starts_with("`shard` in its graded.json"), "{e}");
        let e = parse::<ClassFile>(
            format!(r#"{head}"shard": "1/1", "graded": [], "skipped": [], "x\u0001y": 1}}"#)
                .as_bytes(),
        )
        .err()
        .unwrap();
        assert!(e.contains("unknown field"), "{e}");
        assert!(!e.contains('\u{1}'), "{e}");
        let e =
            parse::<ClassFile>(format!("{head}\"shard\": \"{}\"}}", "9".repeat(500)).as_bytes())
                .err()
                .unwrap();
        assert!(e.len() < 400 && e.contains("..."), "{e}");
    }
}
