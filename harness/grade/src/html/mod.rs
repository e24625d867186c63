//! The class page `index.html` and each student's `report.html`: self-contained files (inline
//! CSS and SVG, no scripts, nothing fetched) that an instructor opens after a deadline.
//!
//! Charts are small generated SVG bar charts; each has a title and a description, and the same
//! numbers are in a real table next to it, so screen readers and text browsers lose nothing.

use maud::{DOCTYPE, Markup, PreEscaped, html};

mod class_page;
mod student_page;

pub use class_page::class_page;
pub use student_page::student_page;

use super::{graded::Graded, shard::Shard};
use harness::report::Status;

/// What the class files say beyond the results.
#[derive(Debug, Clone, Copy)]
pub struct ClassInfo<'a> {
    /// The lab, for example `7.1`.
    pub lab: &'a str,
    /// The lab's contract (its README, Markdown), quoted next to each check on the class page.
    pub contract: &'a str,
    /// The seed the class was graded with.
    pub seed: u64,
    /// The share of the class graded ([`Shard::WHOLE`] without `--shard`, and after a merge).
    pub shard: Shard,
}

/// The class page's file name, in the results folder.
pub const CLASS_PAGE: &str = "index.html";
/// A student's HTML report's file name, in their folder.
pub const STUDENT_PAGE: &str = "report.html";

/// The link from the class page to `file` in a student's folder (`students/<name>/file`). The
/// name is percent-encoded: escaped names hold `\`, which browsers read as `/`.
fn student_href(g: &Graded, file: &str) -> String {
    let mut name = String::new();
    for b in g.submission.student.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            name.push(b as char);
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{}/{name}/{file}", super::output::STUDENTS_DIR)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:62rem;margin:1rem auto;\
padding:0 1rem;color:#1b1b1b}table{border-collapse:collapse;margin:.5rem 0 1rem}\
th,td{border:1px solid #bbb;padding:.2rem .5rem;text-align:left;vertical-align:top}\
td.n{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left;font-weight:600}\
pre{white-space:pre-wrap;background:#f4f4f4;padding:.5rem;margin:.2rem 0}\
.fail{color:#a00000}.pass{color:#006400}svg text{font-size:12px;fill:#1b1b1b}\
svg text.axis{font-size:13px;font-weight:600}";

fn fmt(x: f64) -> String {
    format!("{x:.1}")
}

/// A count or a score with at most two decimals and no trailing zeros.
fn short(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn page(title: &str, body: Markup) -> String {
    page_with(title, "", body)
}

/// A page with `extra` CSS after the shared style.
fn page_with(title: &str, extra: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) (PreEscaped(extra)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

fn status_text(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Skip => "skipped",
        Status::Info => "info",
        Status::NotRun => "not run",
        Status::Fail(kernel::FailureClass::Environment) => "environment fault",
        Status::Unverified => "not verified",
        Status::Fail(_) => "fail",
    }
}
