//! The class page `index.html`.

use maud::{Markup, html};

use super::{ClassInfo, STUDENT_PAGE, fmt, page, percent, short, student_href};
use crate::{graded::Graded, output::class_name};
use harness::report::Status;

/// One bar of a chart: its label and value.
struct Bar {
    label: String,
    value: f64,
}

/// A horizontal-axis bar chart as SVG, with `title` and `desc` for assistive technology.
fn bar_chart(id: &str, title: &str, desc: &str, bars: &[Bar], max: f64) -> Markup {
    let (w, h, left, bottom, top) = (640.0, 220.0, 40.0, 40.0, 20.0);
    let slot = (w - left) / bars.len().max(1) as f64;
    let scale = (h - bottom - top) / max.max(f64::MIN_POSITIVE);
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(w) height=(h) viewBox={"0 0 " (w) " " (h)}
            role="img" aria-labelledby={(id) "-title " (id) "-desc"} {
            title id={(id) "-title"} { (title) }
            desc id={(id) "-desc"} { (desc) }
            line x1=(left) y1=(h - bottom) x2=(w) y2=(h - bottom) stroke="#555" {}
            @for (i, b) in bars.iter().enumerate() {
                @let x = left + i as f64 * slot + slot * 0.1;
                @let bh = b.value * scale;
                rect x=(fmt(x)) y=(fmt(h - bottom - bh)) width=(fmt(slot * 0.8)) height=(fmt(bh))
                    fill="#3465a4" {}
                text x=(fmt(x + slot * 0.4)) y=(fmt(h - bottom - bh - 3.0)) text-anchor="middle" {
                    (short(b.value))
                }
                text x=(fmt(x + slot * 0.4)) y=(fmt(h - bottom + 15.0)) text-anchor="middle" {
                    (b.label)
                }
            }
        }
    }
}

/// How many students failed each graded check, among those who could be graded.
struct CheckFailures<'a> {
    id: &'a str,
    part: &'a str,
    description: &'a str,
    failed: usize,
    environment: usize,
}

fn check_failures<'a>(graded: &[&'a Graded]) -> Vec<CheckFailures<'a>> {
    let mut rows: Vec<CheckFailures> = Vec::new();
    for g in graded {
        for t in &g.score.tests {
            let i = if let Some(i) = rows.iter().position(|r| r.id == t.id) {
                i
            } else {
                rows.push(CheckFailures {
                    id: &t.id,
                    part: &t.part,
                    description: &t.description,
                    failed: 0,
                    environment: 0,
                });
                rows.len() - 1
            };
            match t.status {
                Status::Fail(kernel::FailureClass::Environment) | Status::Unverified => {
                    rows[i].environment += 1;
                }
                Status::Fail(_) => rows[i].failed += 1,
                _ => {}
            }
        }
    }
    // Most failed first; the sort is stable, so ties keep the contract's order.
    rows.sort_by_key(|r| std::cmp::Reverse(r.failed));
    rows
}

/// The contract's text for `program`: its block in the README's Contract section (a bullet or
/// paragraph that opens with the program's name, up to the next program's), or the whole
/// section when no block names it.
fn contract_for(contract: &str, program: &str, programs: &[&str]) -> String {
    let section: Vec<&str> = contract
        .lines()
        .skip_while(|l| l.trim() != "## Contract")
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .collect();
    let opens = |line: &str, name: &str| {
        let l = line.trim_start_matches(['-', ' ', '*']);
        l.starts_with(&format!("`{name}`"))
    };
    let Some(start) = section.iter().position(|l| opens(l, program)) else {
        return section.join("\n").trim().to_owned();
    };
    let end = section[start + 1..]
        .iter()
        .position(|l| programs.iter().any(|p| opens(l, p)))
        .map_or(section.len(), |n| start + 1 + n);
    section[start..end].join("\n").trim().to_owned()
}

fn anchor(check_id: &str) -> String {
    format!("contract-{}", check_id.replace(['/', '.'], "-"))
}

/// The class page: score histogram, per-part averages, checks by how many failed them (linked to
/// the contract's text), students who could not be graded and why, and every student's report.
pub fn class_page(info: ClassInfo, graded: &[Graded]) -> String {
    // An incomplete score is no grade: it stays out of the class's figures.
    let judged: Vec<&Graded> = graded
        .iter()
        .filter(|g| g.ungraded.is_none() && !g.score.incomplete)
        .collect();
    let not_graded: Vec<&Graded> = graded.iter().filter(|g| g.ungraded.is_some()).collect();
    let mut bins = [0usize; 10];
    for g in &judged {
        let p = percent(g.score.points, g.score.max);
        bins[((p / 10.0).floor() as usize).min(9)] += 1;
    }
    let bin_label = |i: usize| {
        if i == 9 {
            "90-100%".to_owned()
        } else {
            format!("{}-{}%", i * 10, i * 10 + 9)
        }
    };
    let hist: Vec<Bar> = bins
        .iter()
        .enumerate()
        .map(|(i, n)| Bar {
            label: format!("{}", i * 10),
            value: *n as f64,
        })
        .collect();
    let hist_desc = bins
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| format!("{n} scored {}", bin_label(i)))
        .collect::<Vec<_>>()
        .join("; ");
    let parts: Vec<(String, f64, f64)> = graded
        .first()
        .map(|g| {
            g.score
                .parts
                .iter()
                .map(|p| p.program.clone())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .map(|program| {
            let scores: Vec<(f64, f64)> = judged
                .iter()
                .filter_map(|g| g.score.parts.iter().find(|p| p.program == program))
                .map(|p| (p.points, p.max))
                .collect();
            let n = scores.len().max(1) as f64;
            let avg = scores.iter().map(|s| s.0).sum::<f64>() / n;
            let max = scores.iter().map(|s| s.1).fold(0.0, f64::max);
            (program, avg, max)
        })
        .collect();
    let part_bars: Vec<Bar> = parts
        .iter()
        .map(|(p, avg, max)| Bar {
            label: p.clone(),
            value: percent(*avg, *max),
        })
        .collect();
    let parts_desc = parts
        .iter()
        .map(|(p, avg, max)| format!("{p}: {:.0}% on average", percent(*avg, *max)))
        .collect::<Vec<_>>()
        .join("; ");
    let checks = check_failures(&judged);
    let programs: Vec<&str> = parts.iter().map(|p| p.0.as_str()).collect();
    let mean = judged.iter().map(|g| g.score.points).sum::<f64>() / judged.len().max(1) as f64;
    let title = format!("Lab {} · class results", info.lab);
    page(
        &title,
        html! {
            h1 { (title) }
            p {
                (graded.len()) " submissions: " (judged.len()) " graded, "
                (not_graded.len()) " could not be graded"
                @let incomplete = graded.iter().filter(|g| g.score.incomplete).count();
                @if incomplete > 0 {
                    ", " strong { (incomplete) " incomplete" }
                    " (some check could not be verified on two runs: grade them again)"
                }
                ". Mean score of those graded: "
                (format!("{mean:.2}"))
                @if let Some(g) = graded.first() { " / " (format!("{:.2}", g.score.max)) }
                " points."
            }
            nav aria-label="Sections" {
                ul {
                    li { a href="#scores" { "Scores" } }
                    li { a href="#parts" { "Per-part averages" } }
                    li { a href="#checks" { "Checks by failures" } }
                    li { a href="#not-graded" { "Could not be graded" } }
                    li { a href="#students" { "Students" } }
                    li { a href="#contract" { "Contract" } }
                }
            }
            section id="scores" {
                h2 { "Scores" }
                (bar_chart("histogram", "Score histogram",
                    &format!("Students graded, by score as a share of the maximum: {hist_desc}."),
                    &hist, *bins.iter().max().unwrap_or(&0) as f64))
                table {
                    caption { "Students by score (share of the maximum)" }
                    thead { tr { th scope="col" { "score" } th scope="col" { "students" } } }
                    tbody {
                        @for (i, n) in bins.iter().enumerate() {
                            tr { td { (bin_label(i)) } td.n { (n) } }
                        }
                    }
                }
            }
            section id="parts" {
                h2 { "Per-part averages" }
                (bar_chart("parts-chart", "Average score per part",
                    &format!("Average share of each part's points: {parts_desc}."), &part_bars, 100.0))
                table {
                    caption { "Average points per part, over the students graded" }
                    thead { tr {
                        th scope="col" { "part" } th scope="col" { "average" }
                        th scope="col" { "max" } th scope="col" { "share" }
                    } }
                    tbody {
                        @for (p, avg, max) in &parts {
                            tr {
                                td { code { (p) } } td.n { (format!("{avg:.2}")) }
                                td.n { (format!("{max:.2}")) }
                                td.n { (format!("{:.0}%", percent(*avg, *max))) }
                            }
                        }
                    }
                }
            }
            section id="checks" {
                h2 { "Checks by failures" }
                p { "What most of the class got wrong comes first. Each check links to the contract's text for it." }
                table {
                    caption { "Graded checks, most failed first" }
                    thead { tr {
                        th scope="col" { "check" } th scope="col" { "failed" }
                        th scope="col" { "share" } th scope="col" { "not verified (environment)" }
                        th scope="col" { "what it shows when it passes" }
                    } }
                    tbody {
                        @for c in &checks {
                            tr {
                                td { a href={"#" (anchor(c.id))} { code { (c.id) } } }
                                td.n { (c.failed) }
                                td.n { (format!("{:.0}%", percent(c.failed as f64, judged.len() as f64))) }
                                td.n { (c.environment) }
                                td { (c.description) }
                            }
                        }
                    }
                }
            }
            section id="not-graded" {
                h2 { "Could not be graded" }
                @if not_graded.is_empty() {
                    p { "Every submission was graded." }
                } @else {
                    table {
                        caption { "Submissions that could not be graded, and why" }
                        thead { tr {
                            th scope="col" { "student" } th scope="col" { "class" }
                            th scope="col" { "reason" }
                        } }
                        tbody {
                            @for g in &not_graded {
                                @let e = g.ungraded.as_ref().expect("filtered");
                                tr {
                                    td { a href={(student_href(g, STUDENT_PAGE))} { (g.submission.student) } }
                                    td { (class_name(e.class)) }
                                    td { pre { (e.message) } }
                                }
                            }
                        }
                    }
                }
            }
            section id="students" {
                h2 { "Students" }
                table {
                    caption { "Every submission, with its report" }
                    thead { tr {
                        th scope="col" { "student" } th scope="col" { "points" }
                        th scope="col" { "max" } th scope="col" { "failed checks" }
                        th scope="col" { "report" }
                    } }
                    tbody {
                        @for g in graded {
                            tr {
                                td { (g.submission.student) }
                                td.n {
                                    @if g.score.incomplete { strong { "incomplete" } }
                                    @else { (format!("{:.2}", g.score.points)) }
                                }
                                td.n { (format!("{:.2}", g.score.max)) }
                                td.n {
                                    @if g.ungraded.is_some() { "not graded" }
                                    @else { (g.score.failed().count()) }
                                }
                                td {
                                    a href={(student_href(g, STUDENT_PAGE))} { "report" }
                                    " (" a href={(student_href(g, "report.txt"))} { "text" } ")"
                                }
                            }
                        }
                    }
                }
            }
            section id="contract" {
                h2 { "Contract" }
                @for p in &programs {
                    h3 { code { (p) } }
                    pre { (contract_for(info.contract, p, &programs)) }
                    ul {
                        @for c in checks.iter().filter(|c| c.part == *p) {
                            li id=(anchor(c.id)) { code { (c.id) } ": " (c.description) }
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT: &str = "# Lab\n\n## Contract\n\nCommon rules.\n\n- `a`: drop x.\n  more of a.\n- `b`: drop y.\n\n## What is checked\n";

    #[test]
    fn contract_block_per_program() {
        assert_eq!(
            contract_for(CONTRACT, "a", &["a", "b"]),
            "- `a`: drop x.\n  more of a."
        );
        assert_eq!(contract_for(CONTRACT, "b", &["a", "b"]), "- `b`: drop y.");
        assert!(contract_for(CONTRACT, "c", &["a", "b", "c"]).starts_with("Common rules."));
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(short(3.0), "3");
        assert_eq!(short(29.17), "29.17");
        assert_eq!(short(2.5), "2.5");
    }
}
