//! Grading at scale: submissions graded side by side (`--jobs`) and in shards on several
//! machines (`--shard K/N`, then `grade merge`) give byte-for-byte the files of a serial run, and
//! a hostile submission that spins in its programs fails as too slow without holding up anyone
//! else.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
    time::Duration,
};

use grade::{self, GradeOptions, Rubric};
use harness::Status;
use kernel::FailureClass;

const SPIN_C: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/spin.c");

mod common;
use common::{class, files, fresh_dir, xdplab};

fn assert_same(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    let names = |f: &[(PathBuf, Vec<u8>)]| f.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&fa),
        names(&fb),
        "{} and {} hold different files",
        a.display(),
        b.display()
    );
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(
            x == y,
            "{} differs between {} and {}",
            name.display(),
            a.display(),
            b.display()
        );
    }
}

#[test]
fn parallel_grading_matches_serial() {
    let subs = class("jobs");
    let (serial, parallel) = (fresh_dir("jobs-1"), fresh_dir("jobs-4"));
    let s = subs.to_str().unwrap();
    xdplab(&[
        "grade",
        "7.1",
        s,
        "--out",
        serial.to_str().unwrap(),
        "--jobs",
        "1",
    ]);
    xdplab(&[
        "grade",
        "7.1",
        s,
        "--out",
        parallel.to_str().unwrap(),
        "--jobs",
        "4",
    ]);
    // 8 students x 5 files (and timings.json, which files() leaves out), plus summary.csv,
    // gradebook.csv, skipped.csv, index.html, graded.json and the folder's lock file.
    assert_eq!(files(&serial).len(), 8 * 5 + 6);
    assert_same(&serial, &parallel);
    let csv = std::fs::read_to_string(serial.join("summary.csv")).unwrap();
    assert!(
        csv.contains(
            "\nben,28.75,30.00,,,7.1/firewall/first-match-wins 7.1/firewall/differential,,,\n"
        ),
        "{csv}"
    );
    assert!(csv.contains("\ngus,0.00,30.00,bad-object,"), "{csv}");
}

#[test]
fn three_shards_merge_into_the_unsharded_result() {
    let subs = class("shards");
    let s = subs.to_str().unwrap();
    let whole = fresh_dir("shards-whole");
    xdplab(&["grade", "7.1", s, "--out", whole.to_str().unwrap()]);
    let mut parts = Vec::new();
    for k in 1..=3 {
        let out = fresh_dir(&format!("shard-{k}"));
        let shard = format!("{k}/3");
        xdplab(&[
            "grade",
            "7.1",
            s,
            "--out",
            out.to_str().unwrap(),
            "--shard",
            &shard,
        ]);
        // Each shard grades only its own share: 8 students split 3, 3, 2.
        let students = std::fs::read_dir(out.join("students"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .count();
        assert_eq!(students, if k < 3 { 3 } else { 2 }, "shard {shard}");
        parts.push(out);
    }
    let merged = fresh_dir("shards-merged");
    let mut args = vec!["grade", "merge"];
    args.extend(parts.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--out", merged.to_str().unwrap()]);
    xdplab(&args);
    assert_same(&whole, &merged);

    // Giving one shard twice is refused with the reason (labs/xdplab/tests/merge.rs refuses
    // every other mismatch).
    let out = Command::new(env!("CARGO_BIN_EXE_xdplab"))
        .args(["grade", "merge"])
        .args([&parts[0], &parts[0]])
        .arg("--out")
        .arg(fresh_dir("shards-twice"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("that share was given twice"));
}

/// A submission whose programs spin for a second per frame is over the per-frame budget on its
/// first frame: every check of each part fails as `timeout` ("too slow") after one frame per
/// part, well inside its time limit, and with two workers it holds up no one.
#[test]
fn a_hostile_submission_fails_as_too_slow_without_holding_anyone_up() {
    let build = fresh_dir("hostile-build");
    let subs = fresh_dir("hostile-subs");
    // "aaa" sorts first, so it is started first and occupies one worker from the start.
    std::fs::copy(
        kernel::clang::compile(Path::new(SPIN_C), &[], &build).unwrap(),
        subs.join("aaa.o"),
    )
    .unwrap();
    for s in ["bo", "cy", "di"] {
        std::fs::copy(reference::LAB_7_1_PATH, subs.join(format!("{s}.o"))).unwrap();
    }
    let lab = lab_7_1::lab(0);
    let opts = GradeOptions {
        exe: env!("CARGO_BIN_EXE_xdplab").into(),
        seed: 0,
        timeout: Duration::from_secs(60),
        perf: false,
    };
    let finished = Mutex::new(Vec::new());
    let graded = grade::jobs::grade_all(
        &lab,
        &Rubric::default_for(&lab),
        &grade::discover(&subs).unwrap().submissions,
        &opts,
        2,
        &|g| finished.lock().unwrap().push(g.submission.student.clone()),
    );
    assert_eq!(finished.into_inner().unwrap().len(), 4);
    let hostile = &graded[0];
    assert!(hostile.ungraded.is_none(), "{:?}", hostile.ungraded);
    assert_eq!((hostile.score.points, hostile.score.max), (0.0, 30.0));
    for t in &hostile.score.tests {
        assert_eq!(t.status, Status::Fail(FailureClass::Timeout), "{}", t.id);
        assert!(t.message.contains("is too slow"), "{}", t.message);
    }
    for g in &graded[1..] {
        assert!(
            g.ungraded.is_none(),
            "{}: {:?}",
            g.submission.student,
            g.ungraded
        );
        // The spinner holds one of the 2 CPUs: a check that needs both at once may stay
        // unverified (an incomplete score over the full maximum), never charged.
        let charged: Vec<&str> = g
            .score
            .failed()
            .filter(|t| t.status != Status::Unverified)
            .map(|t| t.id.as_str())
            .collect();
        assert!(charged.is_empty(), "{}: {charged:?}", g.submission.student);
        assert_eq!(g.score.max, 30.0, "{}", g.submission.student);
        assert!(
            (g.score.points - 30.0).abs() < 1e-9 || g.score.incomplete,
            "{}",
            g.submission.student
        );
    }
}
