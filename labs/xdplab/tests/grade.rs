//! `xdplab grade` on a built-in corpus: correct and deliberately wrong C programs, the Rust
//! reference, programs pinned by the "student", a non-ELF file, a verifier rejection and a
//! misnamed program. Every score and failure class is asserted, the JUnit and Gradescope files
//! are parsed, and grading twice gives identical files.

use std::{
    collections::BTreeMap,
    ffi::OsStr,
    path::{Path, PathBuf},
};

mod common;
use common::{FILTER_C, fresh_dir as tmp};

fn filter(defines: &[&str], out: &Path) -> PathBuf {
    kernel::clang::compile(Path::new(FILTER_C), defines, out).unwrap()
}

fn put(sub: &Path, student: &str, file: &str, from: &Path) {
    let dir = sub.join(student);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(from, dir.join(file)).unwrap();
}

/// The class: (student, expected points, expected failure classes by check).
struct Corpus {
    dir: PathBuf,
    _pins: kernel::object::PinDir,
}

fn corpus() -> Corpus {
    let build = tmp("build");
    let sub = tmp("submissions");
    put(&sub, "alice", "lab-7-1.o", &filter(&[], &build));
    std::fs::copy(filter(&["BUG_RULE_ORDER"], &build), sub.join("bob.o")).unwrap();
    let carol = sub.join("carol");
    std::fs::create_dir_all(&carol).unwrap();
    std::fs::write(carol.join("lab-7-1.o"), "I forgot to compile it\n").unwrap();
    put(
        &sub,
        "dave",
        "lab-7-1.o",
        &filter(&["BUG_NO_BOUNDS_CHECK"], &build),
    );
    put(
        &sub,
        "erin",
        "lab-7-1.o",
        Path::new(reference::LAB_7_1_PATH),
    );
    put(
        &sub,
        "heidi",
        "lab-7-1.o",
        &filter(&["BUG_TCP_ONLY"], &build),
    );
    put(
        &sub,
        "ivan",
        "lab-7-1.o",
        &filter(&["BUG_HARDCODED"], &build),
    );
    let misnamed = build.join("misnamed.c");
    std::fs::write(
        &misnamed,
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
         SEC(\"xdp\") int ipfilter(struct xdp_md *ctx) { return XDP_PASS; }\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n",
    )
    .unwrap();
    put(
        &sub,
        "judy",
        "filter.o",
        &kernel::clang::compile(&misnamed, &[], &build).unwrap(),
    );
    // frank loaded and pinned his programs himself, as the course's Clojure library does.
    let pins = kernel::object::PinDir::create().unwrap();
    let mut ebpf = aya::Ebpf::load_file(filter(&[], &build)).unwrap();
    for name in ["ip_filter", "port_filter", "firewall"] {
        let p: &mut aya::programs::Xdp = ebpf.program_mut(name).unwrap().try_into().unwrap();
        p.load().unwrap();
        p.pin(pins.path().join(name)).unwrap();
    }
    drop(ebpf);
    std::fs::create_dir_all(sub.join("frank")).unwrap();
    std::fs::write(sub.join("frank/pinned"), pins.path().display().to_string()).unwrap();
    Corpus {
        dir: sub,
        _pins: pins,
    }
}

fn grade(sub: &Path, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![OsStr::new("grade"), OsStr::new("7.1"), sub.as_os_str()];
    args.extend([OsStr::new("--out"), out.as_os_str()]);
    args.extend(extra.iter().map(OsStr::new));
    common::run(&args)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Failure classes of the failed checks in a student's report.json, counted.
fn classes(report: &serde_json::Value) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for c in report["checks"].as_array().unwrap() {
        if c["status"] == "fail" {
            *out.entry(c["class"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    out
}

#[test]
fn grades_a_class() {
    let corpus = corpus();
    let out = tmp("results");
    let (code, stdout, stderr) = grade(&corpus.dir, &out, &[]);
    assert_eq!(code, 0, "{stderr}");
    // (student, points, failed checks by failure class)
    type Expected<'a> = (&'a str, f64, &'a [(&'a str, usize)]);
    let expect: &[Expected] = &[
        ("alice", 30.0, &[]),
        // BUG_FIRST_MATCH: the differential sweep catches it too.
        ("bob", 28.75, &[("behaviour", 2)]),
        ("carol", 0.0, &[("bad-object", 44)]),
        ("dave", 20.0, &[("verifier", 15)]),
        ("erin", 30.0, &[]),
        ("frank", 30.0, &[]),
        // 10 points over 15 port_filter checks are 0.67 x 10 and 0.66 x 5: she misses two of
        // each.
        ("heidi", 27.34, &[("behaviour", 4)]),
        // BUG_HARDCODED passes every hand-written check; the differential check catches it.
        ("ivan", 29.34, &[("behaviour", 1)]),
        ("judy", 0.0, &[("no-program", 44)]),
    ];
    for (student, points, failures) in expect {
        let report = json(&out.join("students").join(student).join("report.json"));
        assert_eq!(
            report["points"].as_f64().unwrap(),
            *points,
            "{student}: {report}"
        );
        let want: BTreeMap<String, usize> =
            failures.iter().map(|(c, n)| (c.to_string(), *n)).collect();
        assert_eq!(classes(&report), want, "{student}");
        assert!(
            stdout.contains(student),
            "class table lists {student}:\n{stdout}"
        );
    }
    let judy = json(&out.join("students/judy/report.json"));
    let message = judy["checks"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("program `ip_filter` not found; the programs given are: ipfilter."),
        "{message}"
    );
    let dave = std::fs::read_to_string(out.join("students/dave/report.txt")).unwrap();
    assert!(dave.contains("invalid access to packet"), "{dave}");
    let bob = std::fs::read_to_string(out.join("students/bob/report.txt")).unwrap();
    // The replay command names bob's own file, not the grader's path to it.
    assert!(
        bob.contains("xdplab run 7.1 --object bob.o --check"),
        "replay command:\n{bob}"
    );
    assert!(!bob.contains(corpus.dir.to_str().unwrap()), "{bob}");
    // So does the one in the differential check's message.
    assert!(
        bob.contains("replay: xdplab run 7.1 --object bob.o --mode "),
        "{bob}"
    );
    assert!(!bob.contains("<your object>"), "{bob}");
    assert!(
        bob.contains("--check 7.1/firewall/first-match-wins"),
        "{bob}"
    );
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + expect.len(), "{csv}");
    assert!(
        csv.lines()
            .any(|l| l.starts_with("carol,0.00,30.00,bad-object,")),
        "{csv}"
    );

    // The gradebook export: a student and a score per row.
    let gradebook = std::fs::read_to_string(out.join("gradebook.csv")).unwrap();
    assert!(
        gradebook.starts_with("student,score\nalice,30.00\nbob,28.75\ncarol,0.00\n"),
        "{gradebook}"
    );
    assert_eq!(gradebook.lines().count(), 1 + expect.len(), "{gradebook}");

    // JUnit XML: well-formed, one testcase per graded check, failures where the score says.
    let xml = std::fs::read_to_string(out.join("students/bob/junit.xml")).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures) = (0, 0);
    loop {
        match reader.read_event().expect("well-formed JUnit XML") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    b"testcase" => cases += 1,
                    b"failure" => failures += 1,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert_eq!((cases, failures), (44, 2));

    // Gradescope results.json: the fields its autograder reads.
    let gs = json(&out.join("students/heidi/results.json"));
    assert_eq!(gs["score"].as_f64().unwrap(), 27.34);
    let tests = gs["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 44);
    for t in tests {
        assert!(t["name"].is_string() && t["output"].is_string() && t["visibility"] == "visible");
        assert!(t["score"].as_f64().unwrap() <= t["max_score"].as_f64().unwrap());
    }
    // The tests' scores add up to the score exactly, to the cent.
    let cents = |v: &serde_json::Value| (v.as_f64().unwrap() * 100.0).round() as i64;
    let total: i64 = tests.iter().map(|t| cents(&t["score"])).sum();
    assert_eq!(total, 2734);
    // Each part's max_score values add up to its 10 points exactly, to the cent.
    for part in ["ip_filter", "port_filter", "firewall"] {
        let cents: i64 = tests
            .iter()
            .filter(|t| t["name"].as_str().unwrap().contains(&format!("/{part}/")))
            .map(|t| (t["max_score"].as_f64().unwrap() * 100.0).round() as i64)
            .sum();
        assert_eq!(cents, 1000, "{part}");
    }

    // Grading the same folder again gives identical files.
    let again = tmp("results-again");
    assert_eq!(grade(&corpus.dir, &again, &[]).0, 0);
    for student in expect.iter().map(|e| e.0) {
        for file in ["report.txt", "report.json", "junit.xml", "results.json"] {
            assert_eq!(
                std::fs::read_to_string(out.join("students").join(student).join(file)).unwrap(),
                std::fs::read_to_string(again.join("students").join(student).join(file)).unwrap(),
                "{student}/{file} differs between two gradings"
            );
        }
    }
}

#[test]
fn another_seed_catches_hard_coded_traffic() {
    let corpus = corpus();
    let out = tmp("seeded");
    let (code, _, stderr) = grade(&corpus.dir, &out, &["--seed", "7"]);
    assert_eq!(code, 0, "{stderr}");
    let ivan = json(&out.join("students/ivan/report.json"));
    assert!(ivan["points"].as_f64().unwrap() < 30.0, "{ivan}");
    for student in ["alice", "erin", "frank"] {
        assert_eq!(
            json(&out.join("students").join(student).join("report.json"))["points"]
                .as_f64()
                .unwrap(),
            30.0,
            "{student}"
        );
    }
}

#[test]
fn rubric_overrides_weights_and_hides_checks() {
    let corpus = corpus();
    let rubric = tmp("rubric").join("rubric.toml");
    std::fs::write(
        &rubric,
        "[parts.firewall]\npoints = 20\n\n[checks.\"7.1/firewall/first-match-wins\"]\nweight = 4\nhidden = true\n\n\
         [checks.\"7.1/firewall/ihl-below-5\"]\ndrop = true\n",
    )
    .unwrap();
    let out = tmp("rubric-results");
    let (code, _, stderr) = grade(&corpus.dir, &out, &["--rubric", rubric.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let bob = json(&out.join("students/bob/report.json"));
    // firewall: 15 checks left (differential and counts-from-2-cpus included), weights 14 x 1
    // + 4; bob misses the weight-4 one and the differential.
    assert_eq!(bob["max"].as_f64().unwrap(), 40.0);
    assert!(
        (bob["points"].as_f64().unwrap() - (20.0 + 20.0 * 13.0 / 18.0)).abs() < 0.01,
        "{bob}"
    );
    let text = std::fs::read_to_string(out.join("students/bob/report.txt")).unwrap();
    assert!(text.contains("hidden check"), "{text}");
    assert!(
        !text.contains("icmp-from-10.0.0.1"),
        "a hidden check shows no frames:\n{text}"
    );
    // ... nor a replay command, which would show them.
    assert!(
        !text.contains("--check 7.1/firewall/first-match-wins"),
        "{text}"
    );
    assert!(
        !bob["replay"]
            .to_string()
            .contains("7.1/firewall/first-match-wins"),
        "{bob}"
    );

    std::fs::write(&rubric, "[checks.\"7.1/firewall/nope\"]\nweight = 2\n").unwrap();
    let (code, _, stderr) = grade(&corpus.dir, &out, &["--rubric", rubric.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("names check `7.1/firewall/nope`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("7.1/ip_filter/blocked-10.0.0.1"),
        "lists the valid ids: {stderr}"
    );
}

/// A submission over its time limit is stopped and reported as `timeout` (the student's: the
/// reference always finishes), and leaves nothing behind.
#[test]
fn time_limit_stops_a_submission() {
    let sub = tmp("slow");
    std::fs::copy(reference::LAB_7_1_PATH, sub.join("erin.o")).unwrap();
    let out = tmp("slow-results");
    let (code, stdout, stderr) = grade(&sub, &out, &["--timeout", "0"]);
    assert_eq!(code, 0, "{stderr}");
    let erin = json(&out.join("students/erin/report.json"));
    assert_eq!(erin["ungraded"]["class"], "timeout", "{erin}");
    assert!(
        erin["ungraded"]["message"]
            .as_str()
            .unwrap()
            .contains("longer than 0 s"),
        "{erin}"
    );
    assert!(stdout.contains("NOT GRADED (timeout)"), "{stdout}");
}
