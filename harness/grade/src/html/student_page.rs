//! Each student's `report.html`.

use maud::html;

use super::{page, status_text};
use crate::{graded::Graded, output::class_name};
use harness::report::Status;

/// A student's report as a page: score per part, each check with its diff, how to replay.
pub fn student_page(g: &Graded) -> String {
    let s = &g.score;
    let title = format!(
        "{} · lab {} · {:.2} / {:.2} points",
        g.submission.student, g.report.lab, s.points, s.max
    );
    page(
        &title,
        html! {
            p { a href="../../index.html" { "Class page" } }
            h1 { (title) }
            p { "Seed " (g.report.seed) "." }
            @if let Some(e) = &g.ungraded {
                p.fail { strong { "Could not be graded (" (class_name(e.class)) "):" } }
                pre { (e.message) }
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
            @for p in &s.parts {
                h2 { code { (p.program) } }
                table {
                    caption { "Checks of " (p.program) }
                    thead { tr {
                        th scope="col" { "check" } th scope="col" { "result" }
                        th scope="col" { "points" } th scope="col" { "details" }
                    } }
                    tbody {
                        @for t in s.tests.iter().filter(|t| t.part == p.program) {
                            tr {
                                td { code { (t.id) } br; (t.description) }
                                td class=(if t.status == Status::Pass { "pass" } else { "fail" }) { (status_text(t.status)) }
                                td.n { (format!("{:.2} / {:.2}", t.points, t.max)) }
                                td { @if !t.message.is_empty() && g.ungraded.is_none() { pre { (t.message) } } }
                            }
                        }
                    }
                }
            }
            @if let Some(perf) = &g.report.perf {
                h2 { "Performance (information, not scored)" }
                pre { (perf.to_text()) }
            }
            @if !g.replay.is_empty() {
                h2 { "Replay a failed check locally" }
                pre { @for (_, cmd) in &g.replay { (cmd) "\n" } }
            }
        },
    )
}
