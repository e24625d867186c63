//! Each student's `report.html`: what failed first, each failure with its diff (full width,
//! never wrapped, `-` and `+` lines coloured), its hint and the command that replays it on the
//! student's own file; then what passed.

use maud::{Markup, PreEscaped, html};

use super::{page, status_text};
use crate::{graded::Graded, output::class_name, score::TestScore};
use harness::report::Status;
use kernel::FailureClass;

/// The page's own styles, after the shared ones: a diff keeps its columns (no wrapping,
/// scrolls sideways), and expected/actual lines are told apart by colour as well as sign.
const STUDENT_STYLE: &str = "section.check{border-top:1px solid #bbb;margin:1rem 0}\
section.check h3{font-size:1rem;margin:.5rem 0 .2rem}\
pre.diff,pre.log,pre.replay{white-space:pre;overflow-x:auto;max-width:100%}\
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
                (failed.len()) " check(s) to look at, " (passed.len()) " passed or not scored. Seed "
                (g.report.seed) "."
            }
            @if let Some(e) = &g.ungraded {
                p.fail { strong { "Could not be graded (" (class_name(e.class)) "):" } }
                pre.log { (e.message) }
            }
            @if !failed.is_empty() && g.ungraded.is_none() {
                h2 { "Failed checks" }
                @for (i, t) in failed.iter().enumerate() {
                    (failure(g, t, i.checked_sub(1).map(|j| failed[j])))
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

/// One failure: its id and points, what it shows when it passes, then the diff (or the
/// reason it could not run), the hints and how to replay it. A reason the previous failure of
/// the same part already gave (a verifier's log) is not printed again.
fn failure(g: &Graded, t: &TestScore, previous: Option<&TestScore>) -> Markup {
    let replay = g.replay.iter().find(|(id, _)| *id == t.id).map(|(_, c)| c);
    let repeated = previous.is_some_and(|p| p.part == t.part && p.message == t.message);
    html! {
        section.check id=(t.id) {
            h3 {
                code { (t.id) } " "
                span.fail { (status_text(t.status)) } " "
                span { (format!("{:.2} / {:.2}", t.points, t.max)) }
            }
            p { (t.description) }
            @if repeated {
                p { "Same reason as the check above." }
            } @else if t.status == Status::Fail(FailureClass::Behaviour) && !t.hidden {
                (diff(&t.message))
            } @else if !t.message.is_empty() {
                pre.log { (t.message) }
            }
            @for h in &t.hints {
                p.hint { strong { "Hint: " } (h) }
            }
            @if let Some(cmd) = replay {
                p { "Replay it beside your file:" }
                pre.replay { code { (cmd) } }
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
