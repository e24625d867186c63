//! Grading one lab 7.2 class twice gives byte-identical files: what a run measures (times,
//! counts within them, checksums over the kernel's cookies) goes to each student's
//! `timings.json` only. Lab 7.2 is the lab whose checks measure the most: token buckets,
//! 1-second windows, SYN cookies.

use std::path::{Path, PathBuf};

mod common;
use common::{files, fresh_dir, grade};

const DDOS_C: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../lab-7-2/tests/programs/ddos.c"
);

/// Lab 7.2's C solution, or one of its deliberate mistakes.
fn ddos(defines: &[&str], build: &Path) -> PathBuf {
    kernel::clang::compile(Path::new(DDOS_C), defines, build).unwrap()
}

fn put(subs: &Path, student: &str, file: &str, object: &Path) {
    std::fs::create_dir_all(subs.join(student)).unwrap();
    std::fs::copy(object, subs.join(student).join(file)).unwrap();
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The students whose report has a check this run could not verify (a loaded machine misses a
/// contract's clock), or notes that the reference solution could not run for the same reason
/// (their failures are then judged against the contract alone, and say so): the harness
/// excuses itself there, and the next run may verify it.
fn unverified(out: &Path) -> Vec<String> {
    std::fs::read_dir(out.join("students"))
        .unwrap()
        .flatten()
        .filter(|e| {
            let unverified = json(&e.path().join("report.json"))["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["status"] == "unverified");
            let text = std::fs::read_to_string(e.path().join("report.txt")).unwrap_or_default();
            unverified || text.contains("the reference solution could not run here")
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn grading_lab_7_2_twice_gives_identical_files() {
    let build = fresh_dir("repro-build");
    let subs = fresh_dir("repro-subs");
    let correct = ddos(&[], &build);
    put(&subs, "amy", "ddos.o", &correct);
    // Wrong programs that the checks flag the same way on every run (those `flagged`, not
    // `flagged_among`, in labs/lab-7-2/tests/c_programs.rs): a mistake whose effect depends on
    // where a run falls on the clock (`BUG_NO_REFILL`) fails other checks on other runs, by
    // its nature. A bucket ten times too big: messages full of measured times and counts.
    put(&subs, "bo", "ddos.o", &ddos(&["BUG_CAPACITY_X10"], &build));
    // SYN-ACKs without a TCP checksum: the right one covers the kernel's cookie.
    put(
        &subs,
        "cy",
        "ddos.o",
        &ddos(&["BUG_SYNACK_NO_TCP_CSUM"], &build),
    );
    // 1-second SYN windows that never start again.
    put(
        &subs,
        "di",
        "ddos.o",
        &ddos(&["BUG_WINDOW_NEVER_RESETS"], &build),
    );
    // Every program twice, in two objects.
    put(&subs, "judy", "a.o", &correct);
    put(&subs, "judy", "b.o", &correct);
    std::fs::write(subs.join("ken.o"), "int main() {}\n").unwrap();

    let graded = |name: &str| {
        let out = fresh_dir(name);
        grade("7.2", &subs, &out, &[]);
        out
    };
    let (one, two) = (graded("repro-1"), graded("repro-2"));

    // What was measured is kept, outside the graded files.
    for student in ["bo", "cy"] {
        let timings = json(&one.join("students").join(student).join("timings.json"));
        assert!(
            !timings["checks"].as_array().unwrap().is_empty(),
            "{student}: {timings}"
        );
        let text =
            std::fs::read_to_string(one.join("students").join(student).join("report.txt")).unwrap();
        assert!(
            text.contains("⟨…⟩") && text.contains("timings.json"),
            "{text}"
        );
    }
    let cy = std::fs::read_to_string(one.join("students/cy/report.txt")).unwrap();
    assert!(cy.contains("tcp checksum BAD (⟨…⟩, want ⟨…⟩)"), "{cy}");

    // The duplicated programs: every one is named, and both objects.
    let judy = json(&one.join("students/judy/report.json"));
    let message = judy["ungraded"]["message"].as_str().unwrap();
    for name in [
        "rate_limiter",
        "syn_guard",
        "syn_cookie",
        "ddos_guard",
        "a.o`",
        "b.o`",
    ] {
        assert!(message.contains(name), "{name}: {message}");
    }

    // Every file the same, byte for byte (files() leaves out timings.json). Only a check the
    // harness could not verify on one of the runs may make its student's files, and so the
    // class's, differ: that is the machine, not the grading.
    let excused: Vec<String> = [unverified(&one), unverified(&two)].concat();
    let (a, b) = (files(&one), files(&two));
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let differ: Vec<&PathBuf> = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x.1 != y.1)
        .map(|(x, _)| &x.0)
        .collect();
    let unexcused: Vec<&&PathBuf> = differ
        .iter()
        .filter(|p| {
            let student = p
                .strip_prefix("students")
                .ok()
                .and_then(|s| s.iter().next());
            match student {
                Some(s) => !excused.iter().any(|e| s == e.as_str()),
                None => excused.is_empty(),
            }
        })
        .collect();
    assert!(
        unexcused.is_empty(),
        "{} files differ between two gradings: {unexcused:?}",
        unexcused.len()
    );
    eprintln!(
        "{} files compared, {} differ (students with unverified checks: {excused:?})",
        a.len(),
        differ.len()
    );
}
