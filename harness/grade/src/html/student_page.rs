//! Each student's `report.html`: what failed first, each failure with its diff (full width,
//! never wrapped, `-` and `+` lines coloured), its hint and the command that replays it on the
//! student's own file; then what passed.

use maud::{Markup, PreEscaped, html};

use super::{page, status_text};
use crate::{graded::Graded, output::class_name, score::TestScore};
use harness::report::Status;
use kernel::FailureClass;

/// The page's own styles, after the shared ones: a diff and a command keep their columns (no
/// wrapping, they scroll sideways; a log wraps, as prose), and expected/actual lines are told
/// apart by colour as well as sign.
const STUDENT_STYLE: &str = "section.check{border-top:1px solid #bbb;margin:1rem 0}\
section.check h3{font-size:1rem;margin:.5rem 0 .2rem}\
pre.diff,pre.replay{white-space:pre;overflow-x:auto;max-width:100%}\
pre.diff .del{background:#ffe0e0;color:#8b0000;display:inline-block;min-width:100%}\
pre.diff .add{background:#ddf4dd;color:#004d00;display:inline-block;min-width:100%}\
pre.diff .head{color:#555;font-weight:600}\
p.hint{background:#fff6d6;border-left:4px solid #c9a000;padding:.3rem .6rem}\
p.summary{font-size:1.1rem}";

/// A student's report as a page: failures first, each with its diff, hint and replay
/// command; then points per part and the checks that passed.
pub fn student_page(g: &Graded) -> String {
    let s = &g.score;
    let title = format!(
        "{} · lab {} · {:.2} / {:.2} points",
        g.submission.student, g.report.lab, s.points, s.max
    );
    let failed: Vec<&TestScore> = s.tests.iter().filter(|t| !settled(t.status)).collect();
    let passed: Vec<&TestScore> = s.tests.iter().filter(|t| settled(t.status)).collect();
    page(
        &title,
        html! {
            style { (PreEscaped(STUDENT_STYLE)) }
            p { a href="../../index.html" { "Class page" } }
            h1 { (title) }
            p.summary {
                (failed.len()) " check(s) to look at; " (passed.len()) " passed, skipped or not scored. Seed "
                (g.report.seed) "."
            }
            @if let Some(e) = &g.ungraded {
                p.fail { strong { "Could not be graded (" (class_name(e.class)) "):" } }
                pre.log { (e.message) }
            }
            @if !failed.is_empty() && g.ungraded.is_none() {
                h2 { "Failed checks" }
                @for group in groups(&failed) {
                    @match group.as_slice() {
                        [one] => (failure(g, one)),
                        many => (unloaded(g, many)),
                    }
                }
            }
            table {
                caption { "Points per part" }
                thead { tr { th scope="col" { "part" } th scope="col" { "points" } th scope="col" { "max" } } }
                tbody {
                    @for p in &s.parts {
                        tr { td { code { (p.program) } } td.n { (format!("{:.2}", p.points)) } td.n { (format!("{:.2}", p.max)) } }
                    }
                }
            }
            @if !passed.is_empty() {
                h2 { "Passed checks" }
                table {
                    caption { "Checks that passed (or report without a score)" }
                    thead { tr {
                        th scope="col" { "check" } th scope="col" { "result" } th scope="col" { "points" }
                    } }
                    tbody {
                        @for t in &passed {
                            tr {
                                td { code { (t.id) } br; (t.description) }
                                td.pass { (status_text(t.status)) }
                                td.n { (format!("{:.2} / {:.2}", t.points, t.max)) }
                            }
                        }
                    }
                }
            }
            @if let Some(perf) = &g.report.perf {
                h2 { "Performance (information, not scored)" }
                pre.log { (perf.to_text()) }
            }
        },
    )
}

/// Whether a check needs nothing from the student: passed, not scored, or skipped.
fn settled(status: Status) -> bool {
    matches!(status, Status::Pass | Status::Info | Status::Skip)
}

/// The failures in order, those of one part that could not be loaded (a verifier's
/// rejection, a missing program or map) together: they share one reason.
fn groups<'a>(failed: &[&'a TestScore]) -> Vec<Vec<&'a TestScore>> {
    let load = |t: &TestScore| match t.status {
        Status::Fail(c) => matches!(
            c,
            FailureClass::BadObject
                | FailureClass::Compile
                | FailureClass::NoProgram
                | FailureClass::Verifier
                | FailureClass::MapLayout
        ),
        _ => false,
    };
    let mut out: Vec<Vec<&TestScore>> = Vec::new();
    for &t in failed {
        match out.last_mut() {
            Some(last) if load(t) && load(last[0]) && last[0].part == t.part => last.push(t),
            _ => out.push(vec![t]),
        }
    }
    out
}

/// The heading of a failed check: its id, result and points.
fn heading(t: &TestScore) -> Markup {
    html! {
        code { (t.id) } " "
        span.fail { (status_text(t.status)) } " "
        span { (format!("{:.2} / {:.2}", t.points, t.max)) }
    }
}

/// The replay command of check `id`, beside the student's file.
fn replay(g: &Graded, id: &str) -> Markup {
    html! {
        @if let Some((_, cmd)) = g.replay.iter().find(|(r, _)| r == id) {
            p { "Replay it beside your file:" }
            pre.replay { code { (cmd) } }
        }
    }
}

/// One failure: what it shows when it passes, then the diff (or the reason it could not
/// run), the hints and how to replay it.
fn failure(g: &Graded, t: &TestScore) -> Markup {
    html! {
        section.check id=(t.id) {
            h3 { (heading(t)) }
            p { (t.description) }
            @if t.status == Status::Fail(FailureClass::Behaviour) && !t.hidden {
                (diff(&t.message))
            } @else if !t.message.is_empty() {
                pre.log { (t.message) }
            }
            @for h in &t.hints {
                p.hint { strong { "Hint: " } (h) }
            }
            (replay(g, &t.id))
        }
    }
}

/// The checks of a part that could not be loaded: the reason once (the first check carries
/// a verifier's whole log), the checks it failed listed, one replay command.
fn unloaded(g: &Graded, checks: &[&TestScore]) -> Markup {
    let first = checks[0];
    html! {
        section.check id=(first.id) {
            h3 {
                code { (first.part) } " "
                span.fail {
                    @if let Status::Fail(c) = first.status { "fail (" (class_name(c)) ")" }
                } ": " (checks.len()) " checks could not run, for one reason"
            }
            pre.log { (first.message) }
            details {
                summary { "The checks" }
                ul { @for t in checks { li { (heading(t)) } } }
            }
            // Any of them replays the reason (a hidden one has no command).
            @if let Some(t) = checks.iter().find(|t| g.replay.iter().any(|(r, _)| *r == t.id)) {
                (replay(g, &t.id))
            }
        }
    }
}

/// A diff with its `-` (expected) and `+` (actual) lines marked for colour; the signs stay, so
/// it reads the same without colour and copies as text.
fn diff(message: &str) -> Markup {
    html! {
        pre.diff {
            @for line in message.lines() {
                @if line.starts_with("--- ") || line.starts_with("+++ ") {
                    span.head { (line) } "\n"
                } @else if line.starts_with('-') {
                    span.del { (line) } "\n"
                } @else if line.starts_with('+') {
                    span.add { (line) } "\n"
                } @else {
                    (line) "\n"
                }
            }
        }
    }
}
