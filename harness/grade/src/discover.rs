//! Finding the submissions in a class folder by listing names only: nothing a student handed in
//! is opened here (the time-limited child does that), so a FIFO, a device or a huge file cannot
//! stall the grader. No link is followed: a symbolic link anywhere in the class (a student's
//! folder, an object, a `pinned` file) makes that student's row a `bad-object` naming the link.

use std::{
    collections::BTreeMap,
    ffi::OsStr,
    fs,
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::child::RunError;
use kernel::{
    error::{FailureClass, Result},
    input::{self, InputError, PathKind},
};

/// Name of a file in a student's folder that holds the bpffs path of their pinned programs.
pub const PINNED_FILE: &str = "pinned";

/// The most entries a student's folder may hold; more is reported, not listed further.
pub const MAX_FILES_PER_STUDENT: usize = 64;

/// One student's submission: their objects, or the `pinned` file naming their bpffs pins.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submission {
    /// The student, from the folder or file name; non-UTF-8 bytes are written `\xNN`.
    pub student: String,
    /// Their object files (every file in their folder, sorted), as the file system names them.
    #[serde(serialize_with = "lossy_paths")]
    pub objects: Vec<PathBuf>,
    /// Their `pinned` file (it holds the bpffs path of programs they pinned themselves); the
    /// grading child reads it.
    #[serde(serialize_with = "lossy_path")]
    pub pinned: Option<PathBuf>,
    /// Why the submission cannot be graded before anything runs (an empty folder, two entries
    /// naming the same student, too many files).
    pub problem: Option<RunError>,
}

/// An entry of the class folder that is not graded, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The entry, relative to the class folder (escaped like student names).
    pub entry: String,
    /// Why it was left out.
    pub reason: String,
}

/// What [`discover`] found.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// The submissions, sorted by student.
    pub submissions: Vec<Submission>,
    /// Entries that are not submissions (hidden files, folders inside a student's folder).
    pub skipped: Vec<Skipped>,
}

/// A file name as text that never merges two names: valid UTF-8 as is, except that a backslash
/// is written `\\`, and bytes that are not UTF-8 as `\xNN`. Every `\` in the result starts one
/// of those two escapes, so the name can be read back: two names never share a text.
pub fn display_name(name: &OsStr) -> String {
    let mut out = String::new();
    for chunk in name.as_bytes().utf8_chunks() {
        out.push_str(&chunk.valid().replace('\\', "\\\\"));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The row of a submission that is, or holds, a symbolic link: `links` are the links as the
/// class names them (`alice`, `bob/pinned`). Where they point is never read.
fn links_problem(links: &[String]) -> RunError {
    let first = InputError::Link {
        kind: PathKind::Object,
        path: PathBuf::from(&links[0]),
    };
    let others = match links.len() {
        1 => String::new(),
        n => format!(
            " The other links: {}.",
            links[1..n]
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    RunError {
        class: FailureClass::BadObject,
        message: format!("{first}{others}"),
    }
}

/// The longest student name kept whole; reports go into a folder of that name, and file names
/// stop at 255 bytes (escapes make a name up to four times longer).
const MAX_NAME: usize = 120;

/// A student's name from a file name: [`display_name`], shortened past [`MAX_NAME`] bytes with
/// a hash of the raw bytes appended, so long names still stay distinct.
fn student_name(raw: &OsStr) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let name = display_name(raw);
    if name.len() <= MAX_NAME {
        return name;
    }
    let mut cut = MAX_NAME;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut h = DefaultHasher::new();
    raw.as_bytes().hash(&mut h);
    format!("{}...{:016x}", &name[..cut], h.finish())
}

/// Finds the submissions in `dir`: each sub-folder is a student holding one or more objects
/// (`alice/lab-7-1.o`) or a `pinned` file, and each other entry directly in `dir` is a
/// student's single object (`bob.o`, the student being the name without its extension).
/// Two entries naming one student (`bob.o` and `bob/`) give that student an error row.
pub fn discover(dir: &Path) -> Result<Discovery> {
    input::require_dir(dir, PathKind::Submissions)?;
    let unreadable = |source| InputError::Unreadable {
        kind: PathKind::Submissions,
        path: dir.to_owned(),
        source,
    };
    let mut found = Discovery::default();
    // Student → the entries that name them, each with what it holds.
    let mut by_student: BTreeMap<String, Vec<(String, Submission)>> = BTreeMap::new();
    let mut entries: Vec<_> = fs::read_dir(dir).map_err(unreadable)?.flatten().collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        let shown = display_name(&name);
        if name.as_bytes().starts_with(b".") {
            found.skipped.push(Skipped {
                entry: shown,
                reason: "hidden (its name starts with a dot)".into(),
            });
            continue;
        }
        let path = entry.path();
        // The entry's own type (lstat, or the directory listing's): a link is not followed.
        let file_type = entry.file_type().ok();
        let is_dir = file_type.is_some_and(|t| t.is_dir());
        let stem = Path::new(&name).file_stem().unwrap_or(&name);
        let submission = if is_dir {
            student_folder(&path, &student_name(&name), &mut found.skipped)
        } else if file_type.is_some_and(|t| t.is_symlink()) {
            Submission {
                student: student_name(stem),
                objects: Vec::new(),
                pinned: None,
                problem: Some(links_problem(std::slice::from_ref(&shown))),
            }
        } else {
            Submission {
                student: student_name(stem),
                objects: vec![path],
                pinned: None,
                problem: None,
            }
        };
        let shown = if is_dir { format!("{shown}/") } else { shown };
        by_student
            .entry(submission.student.clone())
            .or_default()
            .push((shown, submission));
    }
    for (student, mut claims) in by_student {
        if claims.len() == 1 {
            found.submissions.push(claims.pop().expect("one").1);
            continue;
        }
        let names: Vec<String> = claims.iter().map(|(n, _)| format!("`{n}`")).collect();
        found.submissions.push(Submission {
            student: student.clone(),
            objects: Vec::new(),
            pinned: None,
            problem: Some(RunError {
                class: FailureClass::BadObject,
                message: format!(
                    "{} all name student {student}, so none was graded. Keep one of them \
                     (a folder, or one object file) and grade again.",
                    names.join(" and ")
                ),
            }),
        });
    }
    Ok(found)
}

/// A student's folder: every entry is an object, except a `pinned` file; hidden entries and
/// sub-folders are skipped and listed.
fn student_folder(path: &Path, student: &str, skipped: &mut Vec<Skipped>) -> Submission {
    let mut sub = Submission {
        student: student.to_owned(),
        objects: Vec::new(),
        pinned: None,
        problem: None,
    };
    let entries = match fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) => {
            sub.problem = Some(RunError {
                class: FailureClass::BadObject,
                message: format!("the folder `{}` cannot be listed: {e}", path.display()),
            });
            return sub;
        }
    };
    let mut count = 0;
    let mut links = Vec::new();
    for f in entries.flatten() {
        count += 1;
        if count > MAX_FILES_PER_STUDENT {
            sub.problem = Some(RunError {
                class: FailureClass::BadObject,
                message: format!(
                    "the folder `{}` holds more than {MAX_FILES_PER_STUDENT} entries; hand in \
                     only the compiled objects",
                    path.display()
                ),
            });
            return sub;
        }
        let name = f.file_name();
        let entry = format!("{student}/{}", display_name(&name));
        let file_type = f.file_type();
        if name.as_bytes().starts_with(b".") {
            skipped.push(Skipped {
                entry,
                reason: "hidden (its name starts with a dot)".into(),
            });
        } else if file_type.as_ref().is_ok_and(fs::FileType::is_symlink) {
            links.push(entry);
        } else if file_type.as_ref().is_ok_and(fs::FileType::is_dir) {
            skipped.push(Skipped {
                entry,
                reason: "a folder inside a student's folder is not read".into(),
            });
        } else if name == PINNED_FILE {
            sub.pinned = Some(f.path());
        } else {
            sub.objects.push(f.path());
        }
    }
    sub.objects.sort();
    if !links.is_empty() {
        // Nothing of a submission that holds a link is graded.
        links.sort();
        sub.objects.clear();
        sub.pinned = None;
        sub.problem = Some(links_problem(&links));
    } else if sub.objects.is_empty() && sub.pinned.is_none() {
        sub.problem = Some(RunError {
            class: FailureClass::BadObject,
            message: "the submission folder is empty".into(),
        });
    }
    sub
}

fn lossy_paths<S: serde::Serializer>(paths: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter().map(|p| display_name(p.as_os_str())))
}

#[allow(
    clippy::ref_option,
    reason = "serde's serialize_with passes the field by reference"
)]
fn lossy_path<S: serde::Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match path {
        Some(p) => s.serialize_some(&display_name(p.as_os_str())),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xdplab-discover-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn names_from_raw_bytes_stay_distinct() {
        assert_eq!(display_name(OsStr::from_bytes(b"b\xffob")), "b\\xffob");
        assert_eq!(display_name(OsStr::new("zoë")), "zoë");
        assert_ne!(
            display_name(OsStr::from_bytes(b"\xfe")),
            display_name(OsStr::from_bytes(b"\xff"))
        );
    }

    /// Reads a [`display_name`] back to the raw bytes: possible only because every name has one
    /// text.
    fn undo(shown: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = shown;
        while let Some(at) = rest.find('\\') {
            out.extend(&rest.as_bytes()[..at]);
            let esc = &rest[at..];
            if let Some(after) = esc.strip_prefix("\\\\") {
                out.push(b'\\');
                rest = after;
            } else {
                let hex = esc
                    .strip_prefix("\\x")
                    .expect("a backslash starts an escape");
                out.push(u8::from_str_radix(&hex[..2], 16).unwrap());
                rest = &hex[2..];
            }
        }
        out.extend(rest.as_bytes());
        out
    }

    /// A file literally named `x\xff.o` and one whose name holds the byte 0xff used to share a
    /// name (and knock each other out as a collision).
    #[test]
    fn a_literal_escape_and_the_byte_it_spells_stay_distinct() {
        let literal = display_name(OsStr::from_bytes(b"x\\xff.o"));
        let byte = display_name(OsStr::from_bytes(b"x\xff.o"));
        assert_eq!(literal, "x\\\\xff.o");
        assert_eq!(byte, "x\\xff.o");
        assert_ne!(literal, byte);
        assert_eq!(display_name(OsStr::new("a\\b")), "a\\\\b");
    }

    /// Random names of bytes that escaping cares about (backslashes, `x`, hex digits, invalid
    /// and multi-byte UTF-8) always read back to themselves, so no two share a text.
    #[test]
    fn display_names_read_back_to_the_raw_bytes() {
        const ALPHABET: &[u8] = b"\\xXf0a.\xff\xfe\xc3\xa9\xe2\x82";
        let mut rng = fastrand::Rng::with_seed(16);
        let mut seen = std::collections::HashMap::new();
        for _ in 0..20_000 {
            let len = rng.usize(0..12);
            let raw: Vec<u8> = (0..len)
                .map(|_| ALPHABET[rng.usize(..ALPHABET.len())])
                .collect();
            let shown = display_name(OsStr::from_bytes(&raw));
            assert_eq!(undo(&shown), raw, "{shown:?}");
            if let Some(other) = seen.insert(shown.clone(), raw.clone()) {
                assert_eq!(other, raw, "two names share {shown:?}");
            }
        }
    }

    /// Links are never followed: a student folder, an object or a `pinned` file that is a link
    /// is that student's `bad-object` row naming the link, and nothing behind it is listed.
    #[test]
    fn links_are_rows_naming_the_link() {
        use std::os::unix::fs::symlink;
        let dir = class("links");
        symlink("/etc", dir.join("alice")).unwrap();
        symlink("/proc/self/environ", dir.join("bob.o")).unwrap();
        fs::create_dir_all(dir.join("carol")).unwrap();
        symlink("/proc/self/environ", dir.join("carol/pinned")).unwrap();
        fs::create_dir_all(dir.join("dave")).unwrap();
        fs::write(dir.join("dave/lab.o"), "x").unwrap();
        symlink("/etc", dir.join("dave/sub")).unwrap();
        symlink("/etc/passwd", dir.join("dave/b.o")).unwrap();
        let found = discover(&dir).unwrap();
        let rows: Vec<(&str, &str)> = found
            .submissions
            .iter()
            .map(|s| {
                assert!(s.objects.is_empty() && s.pinned.is_none(), "{s:?}");
                let p = s.problem.as_ref().unwrap();
                assert_eq!(p.class, FailureClass::BadObject);
                (s.student.as_str(), p.message.as_str())
            })
            .collect();
        assert_eq!(rows.len(), 4, "{rows:?}");
        for ((student, message), link) in
            rows.iter()
                .zip(["alice", "bob.o", "carol/pinned", "dave/b.o"])
        {
            assert!(
                message.starts_with(&format!("`{link}` is a symbolic link")),
                "{student}: {message}"
            );
            assert!(
                !message.contains("/etc") && !message.contains("environ"),
                "{message}"
            );
        }
        assert!(
            rows[3].1.contains("The other links: `dave/sub`."),
            "{}",
            rows[3].1
        );
        assert!(found.skipped.is_empty(), "{:?}", found.skipped);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn long_names_are_shortened_and_stay_distinct() {
        let a = student_name(OsStr::from_bytes(&[0xff; 300]));
        let b = student_name(OsStr::from_bytes(&[[0xff; 299].as_slice(), b"x"].concat()));
        assert!(a.len() < 200 && b.len() < 200, "{a}");
        assert_ne!(a, b);
        assert_eq!(student_name(OsStr::new("alice")), "alice");
    }

    #[test]
    fn a_collision_is_one_error_row_and_hidden_entries_are_listed() {
        let dir = class("collision");
        fs::write(dir.join("bob.o"), "x").unwrap();
        fs::create_dir_all(dir.join("bob")).unwrap();
        fs::write(dir.join("bob/lab.o"), "x").unwrap();
        fs::write(dir.join(".DS_Store"), "x").unwrap();
        fs::create_dir_all(dir.join("carol/sub")).unwrap();
        fs::write(dir.join("carol/pinned"), "/sys/fs/bpf/carol").unwrap();
        fs::write(dir.join(OsStr::from_bytes(b"d\xffve.o")), "x").unwrap();
        let found = discover(&dir).unwrap();
        let students: Vec<&str> = found
            .submissions
            .iter()
            .map(|s| s.student.as_str())
            .collect();
        assert_eq!(students, ["bob", "carol", "d\\xffve"]);
        let bob = &found.submissions[0].problem.as_ref().unwrap().message;
        assert!(
            bob.contains("`bob/` and `bob.o`") || bob.contains("`bob.o` and `bob/`"),
            "{bob}"
        );
        assert!(found.submissions[1].pinned.is_some());
        assert!(
            found.submissions[2].objects[0].exists(),
            "the raw name is kept"
        );
        let skipped: Vec<&str> = found.skipped.iter().map(|s| s.entry.as_str()).collect();
        assert_eq!(skipped, [".DS_Store", "carol/sub"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_folder_of_too_many_files_is_an_error_row() {
        let dir = class("many");
        fs::create_dir_all(dir.join("zed")).unwrap();
        for i in 0..=MAX_FILES_PER_STUDENT {
            fs::write(dir.join(format!("zed/{i}.o")), "x").unwrap();
        }
        let found = discover(&dir).unwrap();
        let problem = found.submissions[0].problem.as_ref().unwrap();
        assert!(
            problem.message.contains("more than 64 entries"),
            "{}",
            problem.message
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_folder_is_named_as_the_submissions_folder() {
        let e = discover(Path::new("/nonexistent/class")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read the submissions folder"),
            "{e}"
        );
    }
}
