//! A student's `report.html` opened in headless Chromium: failures first, each diff in a
//! `<pre>` of its own with `-` and `+` lines marked for colour, a verifier's log once per
//! program, the hints, and replay commands that name the student's own file; a hidden check
//! shows no frames, no hint and no replay.
//!
//! With `XDPLAB_SCREENSHOTS=DIR` set, the test also writes `student-report-behaviour.png` and
//! `student-report-verifier.png` there (`just student-page-screenshots`).

use std::path::Path;

mod common;
use common::{FILTER_C, dump_dom, fresh_dir, grade, screenshot, section};

#[test]
fn a_students_page_puts_failures_first_with_diff_hint_and_replay() {
    let build = fresh_dir("student-page-build");
    let subs = fresh_dir("student-page-subs");
    let c =
        |defines: &[&str]| kernel::clang::compile(Path::new(FILTER_C), defines, &build).unwrap();
    for (student, file, object) in [
        ("kim", "filter.o", c(&["BUG_PORT_HOST_ORDER"])),
        ("hal", "lab-7-1.o", c(&["BUG_NO_BOUNDS_CHECK"])),
    ] {
        std::fs::create_dir_all(subs.join(student)).unwrap();
        std::fs::copy(object, subs.join(student).join(file)).unwrap();
    }
    let rubric = build.join("rubric.toml");
    std::fs::write(
        &rubric,
        "[checks.\"7.1/port_filter/tcp-blocked-ports\"]\nhidden = true\n",
    )
    .unwrap();
    let out = fresh_dir("student-page-results");
    grade("7.1", &subs, &out, &["--rubric", rubric.to_str().unwrap()]);
    let kim_page = out.join("students/kim/report.html");
    let kim = dump_dom(&kim_page);
    // Failures first.
    let (failed, passed) = (
        kim.find("<h2>Failed checks</h2>").expect("failures"),
        kim.find("<h2>Passed checks</h2>").expect("passes"),
    );
    assert!(failed < passed);
    assert!(
        !kim[passed..].contains("byte-swapped-ports"),
        "a failure is not among the passes"
    );
    // The diff: its own block, signs kept, lines marked for colour; never wrapped.
    let swapped = section(&kim, "7.1/port_filter/byte-swapped-ports");
    assert!(swapped.contains("<pre class=\"diff\">"), "{swapped}");
    assert!(
        swapped.contains("<span class=\"del\">-tcp-dport-5632"),
        "{swapped}"
    );
    assert!(
        swapped.contains("<span class=\"add\">+tcp-dport-5632"),
        "{swapped}"
    );
    let html = std::fs::read_to_string(&kim_page).unwrap();
    assert!(html.contains("pre.diff,pre.replay{white-space:pre;overflow-x:auto"));
    // The hint for this mistake, under this check only.
    assert!(
        swapped.contains("<p class=\"hint\"><strong>Hint: </strong>ports 5632, 5888, 15629 are 22"),
        "{swapped}"
    );
    assert!(swapped.contains("bpf_htons(22)"), "{swapped}");
    assert_eq!(kim.matches("class=\"hint\"").count(), 1, "{kim}");
    // The replay command names kim's own file, not where the grader keeps it.
    assert!(
        swapped.contains(
            "xdplab run 7.1 --object filter.o --check 7.1/port_filter/byte-swapped-ports"
        ),
        "{swapped}"
    );
    assert!(
        !kim.contains(subs.to_str().unwrap()),
        "the grader's path: {kim}"
    );
    // The hidden check: failed, and nothing more.
    let hidden = section(&kim, "7.1/port_filter/tcp-blocked-ports");
    assert!(
        hidden.contains("failed (hidden check: the frames are not shown)"),
        "{hidden}"
    );
    for shown in [
        "tcp-dport-22",
        "class=\"hint\"",
        "xdplab run",
        "<pre class=\"diff\">",
    ] {
        assert!(!hidden.contains(shown), "{shown} in {hidden}");
    }
    assert!(!kim.contains("--check 7.1/port_filter/tcp-blocked-ports"));

    // A verifier rejection: its log once for the program, not once per check.
    let hal_page = out.join("students/hal/report.html");
    let hal = dump_dom(&hal_page);
    assert_eq!(hal.matches("invalid access to packet").count(), 1, "{hal}");
    assert!(
        hal.contains("fail (verifier)</span>: 15 checks could not run, for one reason"),
        "{hal}"
    );
    assert!(
        hal.contains("<li><code>7.1/port_filter/udp-blocked-ports</code>"),
        "{hal}"
    );
    assert_eq!(hal.matches("<pre class=\"replay\">").count(), 1, "{hal}");
    assert!(
        hal.contains("--object lab-7-1.o --check 7.1/port_filter/"),
        "{hal}"
    );

    if let Ok(dir) = std::env::var("XDPLAB_SCREENSHOTS") {
        let dir = Path::new(&dir);
        screenshot(
            &kim_page,
            &dir.join("student-report-behaviour.png"),
            (1000, 1200),
        );
        screenshot(
            &hal_page,
            &dir.join("student-report-verifier.png"),
            (1000, 1000),
        );
    }
}
