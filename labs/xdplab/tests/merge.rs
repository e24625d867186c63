//! `grade merge` trusts nothing: shards of one real grading, tampered with one way at a time,
//! are each refused at once (exit 2) with a message naming the shard's folder and the field,
//! and nothing is written. `--out` is locked against a second run, and a bpffs or read-only
//! `--out`, or a rubric with a senseless `[perf]` number, is refused before any submission is
//! graded.

use std::{
    ffi::OsStr,
    fs::File,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

mod common;
use common::{files, fresh_dir};

const SPIN_C: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/spin.c");

/// Runs `xdplab` under `timeout(1)`, so a run that hangs (on a FIFO, say) ends as exit 124
/// instead of hanging the suite; returns the exit code and standard error.
fn bounded<S: AsRef<OsStr>>(args: &[S]) -> (i32, String) {
    let out = Command::new("timeout")
        .args(["--kill-after=5", "60", env!("CARGO_BIN_EXE_xdplab")])
        .args(args)
        .output()
        .expect("timeout runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The arguments of `xdplab grade 7.1 SUBS --out OUT EXTRA...`.
fn grade_args<'a>(subs: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a OsStr> {
    let mut args: Vec<&OsStr> = vec!["grade".as_ref(), "7.1".as_ref(), subs.as_os_str()];
    args.extend(["--out".as_ref(), out.as_os_str()]);
    args.extend(extra.iter().map(|e| OsStr::new(*e)));
    args
}

/// The arguments of `xdplab grade merge FOLDERS... --out OUT`.
fn merge_args<'a>(folders: &[&'a Path], out: &'a Path) -> Vec<&'a OsStr> {
    let mut args: Vec<&OsStr> = vec!["grade".as_ref(), "merge".as_ref()];
    args.extend(folders.iter().map(|f| f.as_os_str()));
    args.extend(["--out".as_ref(), out.as_os_str()]);
    args
}

/// Two students with the reference solution, graded as shards 1/2 and 2/2 (seed 0), and
/// shard 2/2 graded again with seed 7.
struct Shards {
    subs: PathBuf,
    one: PathBuf,
    two: PathBuf,
    two_seed_7: PathBuf,
}

fn shards(name: &str) -> Shards {
    let subs = fresh_dir(&format!("{name}-subs"));
    for student in ["amy", "ben"] {
        std::fs::create_dir_all(subs.join(student)).unwrap();
        std::fs::copy(
            reference::LAB_7_1_PATH,
            subs.join(student).join("lab-7-1.o"),
        )
        .unwrap();
    }
    let grade = |shard: &str, seed: &str| {
        let out = fresh_dir(&format!("{name}-{}-{seed}", shard.replace('/', "of")));
        let (code, stderr) = bounded(&grade_args(
            &subs,
            &out,
            &["--shard", shard, "--seed", seed],
        ));
        assert_eq!(code, 0, "grading shard {shard}: {stderr}");
        out
    };
    Shards {
        one: grade("1/2", "0"),
        two: grade("2/2", "0"),
        two_seed_7: grade("2/2", "7"),
        subs,
    }
}

/// A copy of a shard's folder (only what merge reads, and one report), to tamper with.
fn copy(from: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(from.join("graded.json"), to.join("graded.json")).unwrap();
    to.to_owned()
}

fn edit(folder: &Path, change: impl FnOnce(&mut Value)) {
    let path = folder.join("graded.json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    change(&mut doc);
    std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

fn student(name: &'static str) -> impl FnOnce(&mut Value) {
    move |doc| doc["graded"][0]["submission"]["student"] = json!(name)
}

fn set_lab(lab: &'static str) -> impl FnOnce(&mut Value) {
    move |doc| {
        doc["lab"] = json!(lab);
        for g in doc["graded"].as_array_mut().unwrap() {
            g["report"]["lab"] = json!(lab);
        }
    }
}

fn replace_with(path: &Path, make: impl FnOnce(&Path)) {
    std::fs::remove_file(path).unwrap();
    make(path);
}

/// The folders a case works on: copies of shard 1/2, of shard 2/2, of shard 2/2 graded with
/// seed 7, and a second copy of shard 1/2.
const FOLDERS: [&str; 4] = ["one", "two", "two-seed-7", "one-again"];
const BOTH: &[usize] = &[0, 1];

/// One way to spoil a merge: its name, the folders given (indexes into [`FOLDERS`]), the folder
/// tampered with, which the message must name, how, and what the message must say about the
/// field.
type Case = (
    &'static str,
    &'static [usize],
    usize,
    fn(&Path),
    &'static str,
);

const NOT_A_NAME: &str =
    "`graded[0].submission.student` in its graded.json is not a student's folder name";

#[rustfmt::skip] // a table: one case a row
const CASES: &[Case] = &[
    ("a score that is not a number", BOTH, 1,
     |f| edit(f, |d| d["graded"][0]["score"]["points"] = json!("30")),
     "`graded[0].score.points` in its graded.json is not what `grade` writes"),
    ("an unknown field", BOTH, 0, |f| edit(f, |d| d["graded"][0]["bonus"] = json!(5)),
     "`graded[0].bonus`"),
    ("a missing field", BOTH, 1, |f| edit(f, |d| { d.as_object_mut().unwrap().remove("seed"); }),
     "missing field `seed`"),
    ("a report of another seed than its file", BOTH, 1,
     |f| edit(f, |d| d["graded"][0]["report"]["seed"] = json!(3)),
     "`graded[0].report.seed` in its graded.json differs from `seed`"),
    ("truncated JSON", BOTH, 0, |f| {
        let bytes = std::fs::read(f.join("graded.json")).unwrap();
        std::fs::write(f.join("graded.json"), &bytes[..bytes.len() / 2]).unwrap();
    }, "its graded.json is not complete JSON: it breaks in `graded"),
    // Sparse: the size is refused before a byte is read.
    ("an oversized file", BOTH, 1, |f| {
        let file = File::options().write(true).open(f.join("graded.json")).unwrap();
        file.set_len(grade::class::GRADED_LIMIT + 1).unwrap();
    }, "its graded.json is larger than the limit of 256 MiB"),
    ("a FIFO", BOTH, 1, |f| replace_with(&f.join("graded.json"), |p| {
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }), "its graded.json is a FIFO, not a regular file"),
    ("a link to /dev/zero", BOTH, 0,
     |f| replace_with(&f.join("graded.json"), |p| std::os::unix::fs::symlink("/dev/zero", p).unwrap()),
     "its graded.json is a symbolic link, not a regular file"),
    ("a link to a good graded.json", BOTH, 0, |f| {
        let real = f.with_file_name("elsewhere.json");
        std::fs::rename(f.join("graded.json"), &real).unwrap();
        std::os::unix::fs::symlink(&real, f.join("graded.json")).unwrap();
    }, "its graded.json is a symbolic link, not a regular file"),
    ("no graded.json", BOTH, 1, |f| std::fs::remove_file(f.join("graded.json")).unwrap(),
     "it has no graded.json"),
    ("a student `../x`", BOTH, 0, |f| edit(f, student("../x")), NOT_A_NAME),
    ("a student `/abs`", BOTH, 1, |f| edit(f, student("/tmp/xdplab-merge-abs")), NOT_A_NAME),
    ("an empty student", BOTH, 0, |f| edit(f, student("")), NOT_A_NAME),
    ("a student `..`", BOTH, 1, |f| edit(f, student("..")), NOT_A_NAME),
    // Nothing holds the missing share: the message names it and the field.
    ("a missing shard", &[0], 0, |_| {},
     "no folder given holds shard 2/2 (by the `shard` in each graded.json)"),
    ("a shard given twice", &[0, 3, 1], 3, |_| {}, "`shard` in its graded.json is 1/2, as in"),
    ("shards of another split", BOTH, 1, |f| edit(f, |d| d["shard"] = json!("2/3")),
     "`shard` in its graded.json is 2/3, but it is 1/2 in"),
    ("a shard that is no shard", BOTH, 1, |f| edit(f, |d| d["shard"] = json!("0/2")),
     "`shard` in its graded.json is not what `grade` writes"),
    ("mixed seeds", &[0, 2], 2, |_| {}, "`seed` in its graded.json is 7, but it is 0 in"),
    ("mixed labs", BOTH, 1, |f| edit(f, set_lab("7.2")),
     "`lab` in its graded.json is 7.2, but it is 7.1 in"),
    ("a lab `../../etc`", BOTH, 0, |f| edit(f, set_lab("../../etc")),
     "`lab` in its graded.json is not a lab of this xdplab"),
    ("another schema version", BOTH, 1, |f| edit(f, |d| d["schema_version"] = json!(2)),
     "`schema_version` in its graded.json is 2, but this xdplab reads version 1"),
    ("no schema version", BOTH, 0,
     |f| edit(f, |d| { d.as_object_mut().unwrap().remove("schema_version"); }),
     "its graded.json has no `schema_version`"),
    ("a student in two shards", BOTH, 1, |f| {
        let one = std::fs::read(f.with_file_name("one").join("graded.json")).unwrap();
        let amy = serde_json::from_slice::<Value>(&one).unwrap()["graded"][0].clone();
        edit(f, |d| d["graded"].as_array_mut().unwrap().push(amy));
    }, "`graded[1].submission.student` in its graded.json, `amy`, is graded in"),
    ("students in the wrong shards", BOTH, 0, |f| {
        edit(f, |d| d["shard"] = json!("2/2"));
        edit(&f.with_file_name("two"), |d| d["shard"] = json!("1/2"));
    }, "`graded[0].submission.student` in its graded.json, `amy`, falls in shard 1/2 of the whole class, not 2/2"),
    ("a timings.json that is not what grade writes", BOTH, 0, |f| {
        std::fs::create_dir_all(f.join("students/amy")).unwrap();
        std::fs::write(f.join("students/amy/timings.json"), "{\"checks\": 5}").unwrap();
    }, "its students/amy/timings.json is not what `grade` writes"),
    ("a timings.json that is a link to /dev/zero", BOTH, 0, |f| {
        std::fs::create_dir_all(f.join("students/amy")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", f.join("students/amy/timings.json")).unwrap();
    }, "its students/amy/timings.json is not a regular file of at most 16 MiB"),
    ("different skipped entries", BOTH, 1,
     |f| edit(f, |d| d["skipped"] = json!([{"entry": ".git", "reason": "hidden"}])),
     "`skipped` in its graded.json differs from"),
];

/// `grade merge FOLDERS... --out OUT` under a time limit.
fn merge(folders: &[&Path], out: &Path) -> (i32, String) {
    bounded(&merge_args(folders, out))
}

#[test]
fn merge_refuses_every_tampered_shard_and_writes_nothing() {
    let shards = shards("tamper");
    let base = fresh_dir("tamper-cases");
    let sources = [&shards.one, &shards.two, &shards.two_seed_7, &shards.one];
    let copies = |dir: &Path| -> Vec<PathBuf> {
        FOLDERS
            .iter()
            .zip(sources)
            .map(|(f, from)| copy(from, &dir.join(f)))
            .collect()
    };
    // Untampered copies merge: the refusals below are the tampering's doing.
    let good = copies(&base.join("good"));
    let (code, stderr) = merge(&[&good[0], &good[1]], &base.join("good/out"));
    assert_eq!(code, 0, "{stderr}");
    for student in ["amy", "ben"] {
        assert!(
            base.join("good/out/students")
                .join(student)
                .join("report.txt")
                .exists()
        );
    }

    for (n, &(name, given, named, tamper, field)) in CASES.iter().enumerate() {
        let dir = base.join(format!("case-{n}"));
        let folders = copies(&dir);
        tamper(&folders[named]);
        // Half the cases merge into an existing folder, half into one that does not exist.
        let out = dir.join("out");
        if n % 2 == 0 {
            std::fs::create_dir_all(out.join("students")).unwrap();
            std::fs::write(out.join("keep.txt"), "earlier results\n").unwrap();
        }
        let before = out.exists().then(|| files(&out));
        let given: Vec<&Path> = given.iter().map(|&i| folders[i].as_path()).collect();
        let start = Instant::now();
        let (code, stderr) = merge(&given, &out);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{name}: took {:?}",
            start.elapsed()
        );
        let shard = format!("the shard folder `{}`", folders[named].display());
        // A missing share is in no folder: the message names the share and the field.
        let shard = if name == "a missing shard" {
            "cannot merge: "
        } else {
            &shard
        };
        assert!(
            stderr.contains(shard) && stderr.contains(field),
            "{name}: {stderr}"
        );
        let stderr = stderr.trim_end();
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.ends_with("Nothing was written."), "{name}: {stderr}");
        assert_eq!(
            out.exists().then(|| files(&out)),
            before,
            "{name}: --out changed"
        );
    }
    assert!(!Path::new("/tmp/xdplab-merge-abs").exists());
}

/// Takes the lock `grade` and `grade merge` take on `out`, as a running one would hold it.
fn hold_lock(out: &Path) -> File {
    std::fs::create_dir_all(out).unwrap();
    let f = File::create(out.join(".xdplab.lock")).unwrap();
    f.try_lock().unwrap();
    f
}

#[test]
fn a_second_run_into_a_locked_out_fails_at_once() {
    let shards = shards("lock");
    let out = fresh_dir("lock-out");
    let lock = hold_lock(&out);
    let before = files(&out);
    let in_use = format!(
        "the output folder `{}` is in use by another `xdplab grade` or `grade merge`",
        out.display()
    );
    let (code, stderr) = bounded(&grade_args(&shards.subs, &out, &[]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&in_use), "{stderr}");
    let (code, stderr) = merge(&[&shards.one, &shards.two], &out);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&in_use), "{stderr}");
    assert_eq!(files(&out), before, "a refused run wrote into --out");
    // Once the holder is gone, the folder is free again.
    drop(lock);
    let (code, stderr) = merge(&[&shards.one, &shards.two], &out);
    assert_eq!(code, 0, "{stderr}");
}

/// A class whose one submission spins in its programs: grading it would take the whole
/// `--timeout` (60 s here), so a refusal that comes sooner came before grading.
fn slow_class() -> PathBuf {
    let build = fresh_dir("slow-build");
    let subs = fresh_dir("slow-subs");
    std::fs::copy(
        kernel::clang::compile(Path::new(SPIN_C), &[], &build).unwrap(),
        subs.join("spinner.o"),
    )
    .unwrap();
    subs
}

/// Runs `xdplab ARGS...` in a mount namespace of its own after `mount -t FS -o OPTIONS none
/// DIR`, so the mount vanishes with the process, whatever happens to the test.
fn with_mount(fs: &str, options: &str, dir: &Path, args: &[&OsStr]) -> (i32, String) {
    let out = Command::new("timeout")
        .args([
            "--kill-after=5",
            "60",
            "unshare",
            "--mount",
            "--propagation",
            "private",
        ])
        .args([
            "sh",
            "-c",
            r#"mount -t "$1" -o "$2" none "$3" && shift 3 && exec "$@""#,
            "sh",
        ])
        .args([fs, options])
        .arg(dir)
        .arg(env!("CARGO_BIN_EXE_xdplab"))
        .args(args)
        .output()
        .expect("unshare runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bpffs_or_read_only_out_is_refused_before_grading() {
    let subs = slow_class();
    let shards = shards("mounts");
    for (fs, options, out, expect) in [
        ("bpf", "rw", "results", "is on a bpffs"),
        ("tmpfs", "ro", "", "cannot write into the output folder"),
        (
            "tmpfs",
            "ro",
            "results",
            "cannot write into the output folder",
        ),
    ] {
        let dir = fresh_dir("mount-point");
        let out = dir.join(out);
        let grade = grade_args(&subs, &out, &["--timeout", "60"]);
        let start = Instant::now();
        let (code, stderr) = with_mount(fs, options, &dir, &grade);
        assert_eq!(code, 2, "{fs} {options}: {stderr}");
        assert!(stderr.contains(expect), "{fs} {options}: {stderr}");
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{fs} {options}: refused only after {:?}",
            start.elapsed()
        );
        let merge = merge_args(&[&shards.one, &shards.two], &out);
        let (code, stderr) = with_mount(fs, options, &dir, &merge);
        assert_eq!(code, 2, "merge {fs} {options}: {stderr}");
        assert!(stderr.contains(expect), "merge {fs} {options}: {stderr}");
    }
}

#[test]
fn a_senseless_perf_number_in_a_rubric_is_refused_before_grading() {
    let subs = slow_class();
    let dir = fresh_dir("perf-rubric");
    for (field, value) in [
        ("max_ratio", "nan"),
        ("max_ratio", "0"),
        ("max_ratio", "-3"),
        ("points", "inf"),
    ] {
        let rubric = dir.join("rubric.toml");
        let (ratio, points) = if field == "points" {
            ("3.0", value)
        } else {
            (value, "5")
        };
        std::fs::write(
            &rubric,
            format!("[perf]\nmax_ratio = {ratio}\npoints = {points}\n"),
        )
        .unwrap();
        let out = dir.join("out");
        let start = Instant::now();
        let rubric = rubric.to_str().unwrap();
        let (code, stderr) = bounded(&grade_args(&subs, &out, &["--rubric", rubric]));
        assert_eq!(code, 2, "{field} = {value}: {stderr}");
        assert!(
            stderr.contains(&format!("the rubric's `[perf] {field}` is ")),
            "{field} = {value}: {stderr}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{field} = {value}"
        );
        assert!(!out.exists(), "{field} = {value}: --out was created");
    }
}
