//! `grade --only NAME...`: one student graded again (a late submission, a regrade request) into
//! the class's results folder leaves it byte-identical to a whole grading of the class as it is
//! now; a name that is no submission, or a folder that holds no whole grading, is refused before
//! anything is graded or written.

use std::path::Path;

mod common;
use common::{FILTER_C, class, files, fresh_dir, run};

fn grade(subs: &Path, out: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec![
        "grade",
        "7.1",
        subs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let (code, _, stderr) = run(&args);
    (code, stderr)
}

fn graded_ok((code, stderr): (i32, String)) {
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn only_regrades_named_students_as_a_whole_grading_would() {
    let subs = class("only");
    let partly = fresh_dir("only-partly");
    graded_ok(grade(&subs, &partly, &[]));
    let before = files(&partly);
    let ben = |out: &Path| std::fs::read_to_string(out.join("students/ben/report.json")).unwrap();
    assert!(
        ben(&partly).contains("\"points\": 28.75"),
        "{}",
        ben(&partly)
    );

    // Refused before anything is graded or written: a name that is no submission, another
    // seed, a folder without a grading.
    let (code, stderr) = grade(&subs, &partly, &["--only", "ben", "nobody"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--only names `nobody`, which is no submission in"),
        "{stderr}"
    );
    let (code, stderr) = grade(&subs, &partly, &["--only", "ben", "--seed", "7"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("was graded with seed 0"), "{stderr}");
    assert_eq!(files(&partly), before, "a refused --only wrote into --out");
    let (code, stderr) = grade(&subs, &fresh_dir("only-empty"), &["--only", "ben"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("it has no graded.json"), "{stderr}");

    // Ben hands in a fixed program late: only he is graded again.
    let fixed = kernel::clang::compile(Path::new(FILTER_C), &[], &fresh_dir("only-build")).unwrap();
    std::fs::copy(fixed, subs.join("ben/lab-7-1.o")).unwrap();
    let amy_timings = std::fs::read(partly.join("students/amy/timings.json")).unwrap();
    graded_ok(grade(&subs, &partly, &["--only", "ben"]));
    assert!(
        ben(&partly).contains("\"points\": 30.0"),
        "{}",
        ben(&partly)
    );
    assert_eq!(
        std::fs::read(partly.join("students/amy/timings.json")).unwrap(),
        amy_timings,
        "students not named keep their run's timings"
    );
    let whole = fresh_dir("only-whole");
    graded_ok(grade(&subs, &whole, &[]));
    let (a, b) = (files(&partly), files(&whole));
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{} differs from a whole grading", name.display());
    }
}
