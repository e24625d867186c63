//! Only the harness can excuse a check. A program cannot shrink its own maximum or make its
//! failures unjudgeable: a program in a devmap section, or one that burns time per frame, scores
//! no better than the same bugs in a plain program, over the same maximum; and a program that
//! holds its grading child inside the kernel is decided at its time limit plus the kill grace.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

mod common;
use common::{FILTER_C, fresh_dir};

const DDOS_C: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../lab-7-2/tests/programs/ddos.c"
);
const NESTED_C: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/nested_loop.c");

fn compile(source: &str, defines: &[&str], build: &Path) -> PathBuf {
    kernel::clang::compile(Path::new(source), defines, build).unwrap()
}

/// Grades `class` (student → object) for `lab`; returns each student's report.json.
fn grade(
    lab: &str,
    name: &str,
    class: &[(&str, PathBuf)],
    extra: &[&str],
) -> Vec<serde_json::Value> {
    let subs = fresh_dir(&format!("{name}-subs"));
    let out = fresh_dir(&format!("{name}-out"));
    for (student, object) in class {
        std::fs::copy(object, subs.join(format!("{student}.o"))).unwrap();
    }
    let mut args = vec![
        "grade".to_owned(),
        lab.to_owned(),
        subs.display().to_string(),
        "--out".to_owned(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let (code, stdout, stderr) = common::run(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    class
        .iter()
        .map(|(student, _)| {
            let text = std::fs::read_to_string(out.join(format!("students/{student}/report.json")))
                .unwrap();
            serde_json::from_str(&text).unwrap()
        })
        .collect()
}

fn points(r: &serde_json::Value) -> (f64, f64) {
    (r["points"].as_f64().unwrap(), r["max"].as_f64().unwrap())
}

/// No check of `r` was excused: nothing unverified, no environment fault, nothing not run.
fn nothing_excused(r: &serde_json::Value) {
    let text = r.to_string();
    for excuse in ["\"unverified\"", "\"environment\"", "\"not-run\""] {
        assert!(!text.contains(excuse), "{excuse} in {r:#}");
    }
}

#[test]
fn a_devmap_section_earns_no_exemption() {
    let build = fresh_dir("devmap-build");
    let bug = "BUG_PORT_HOST_ORDER";
    let class = [
        ("plain", compile(FILTER_C, &[bug], &build)),
        (
            "devmap",
            compile(FILTER_C, &[bug, "XDP_SECTION=\"xdp/devmap\""], &build),
        ),
        (
            "cpumap",
            compile(FILTER_C, &[bug, "XDP_SECTION=\"xdp/cpumap\""], &build),
        ),
    ];
    let reports = grade("7.1", "devmap", &class, &[]);
    let (plain, plain_max) = points(&reports[0]);
    assert!(plain < plain_max, "the bug costs points: {:#}", reports[0]);
    for r in &reports[1..] {
        let (p, max) = points(r);
        assert_eq!(max, plain_max, "the maximum is the plain program's: {r:#}");
        assert!(p <= plain, "{p} > {plain}: {r:#}");
        nothing_excused(r);
        assert!(
            r.to_string().contains("cannot run on an interface"),
            "{r:#}"
        );
    }
}

/// A rate limiter that passes everything (a bucket ten times too large), and the same program
/// spending about half a millisecond per frame in `bpf_loop`: slow enough that the contract's
/// 1 ms token clock refills the bucket during a flood, which once turned its failures into
/// unverified checks over a smaller maximum. Now where the program's own time breaks the clock
/// the failure is its own (`timeout`), and nothing shrinks its maximum.
#[test]
fn a_slow_program_earns_no_exemption() {
    let build = fresh_dir("slow-build");
    let bug = "BUG_CAPACITY_X10";
    let class = [
        ("plain", compile(DDOS_C, &[bug], &build)),
        ("slow", compile(DDOS_C, &[bug, "SLOW_LOOPS=300000"], &build)),
    ];
    let reports = grade("7.2", "slow", &class, &[]);
    let (plain, plain_max) = points(&reports[0]);
    let (slow, slow_max) = points(&reports[1]);
    assert!(plain < plain_max, "{:#}", reports[0]);
    assert_eq!(slow_max, plain_max, "{:#}", reports[1]);
    assert!(slow <= plain, "{slow} > {plain}: {:#}", reports[1]);
    assert!(
        reports[1].to_string().contains("is too slow"),
        "{:#}",
        reports[1]
    );
    // What the plain program fails, the slow one never passes. On a loaded machine a window
    // that the program's own time does not break alone may stay unverified: then the score is
    // incomplete, never a grade over a smaller maximum.
    let status = |r: &serde_json::Value, id: &str| -> String {
        let c = r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap();
        c["status"].as_str().unwrap().to_owned()
    };
    for c in reports[0]["checks"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        if c["status"] == "fail" {
            assert_ne!(status(&reports[1], id), "pass", "{id}");
        }
        if status(&reports[1], id) == "unverified" {
            assert_eq!(reports[1]["incomplete"], true, "{:#}", reports[1]);
        }
    }
}

/// Processes running `xdplab grade-reap` for a child of this test's grading.
fn reapers() -> Vec<u32> {
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_xdplab")).unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.first()
                .is_some_and(|a| Path::new(std::ffi::OsStr::from_bytes(a)) == exe)
                && args.get(1) == Some(&&b"grade-reap"[..])
        })
        .collect()
}

use std::os::unix::ffi::OsStrExt as _;

/// One frame of this program keeps its grading child inside the kernel for about six seconds,
/// where SIGKILL cannot reach it. The grader still decides it at its limit plus the kill grace,
/// and a reaper it leaves behind ends once the child is gone.
#[test]
fn a_child_stuck_in_the_kernel_is_decided_at_its_limit() {
    let build = fresh_dir("stuck-build");
    let class = [("stuck", compile(NESTED_C, &["OUTER=400"], &build))];
    let limit = 2;
    let start = Instant::now();
    let reports = grade("7.1", "stuck", &class, &["--timeout", &limit.to_string()]);
    let took = start.elapsed();
    let bound = Duration::from_secs(limit) + grade::KILL_GRACE + Duration::from_secs(3);
    assert!(took < bound, "grading took {took:?}, over {bound:?}");
    let text = reports[0].to_string();
    assert!(text.contains("longer than 2 s"), "{:#}", reports[0]);
    assert_eq!(points(&reports[0]), (0.0, 30.0));
    // The reaper exits once the child has left the kernel (a few seconds).
    let deadline = Instant::now() + Duration::from_secs(60);
    while !reapers().is_empty() {
        assert!(Instant::now() < deadline, "reapers left: {:?}", reapers());
        std::thread::sleep(Duration::from_millis(100));
    }
}
