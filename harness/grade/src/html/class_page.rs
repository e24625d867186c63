//! The class page `index.html`, built for triage: who needs help and with what. Students come
//! sorted by score, lowest first, with each part's points and what went wrong; a student ×
//! check matrix shows every outcome at a glance; each check lists who failed it; the charts and
//! tables speak in points only. Sorting without scripts: each order is its own table behind an
//! anchor, shown by CSS `:target`.

use maud::{Markup, PreEscaped, html};

use super::{ClassInfo, STUDENT_PAGE, fmt, page_with, short, student_href};
use crate::{
    graded::Graded,
    output::class_name,
    score::{TestScore, cents},
};
use harness::report::Status;
use kernel::FailureClass;

/// What one cell of the matrix shows: how a check ended for one student.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Pass,
    Behaviour,
    Verifier,
    MapLayout,
    NoProgram,
    Timeout,
    Unverified,
    Environment,
    NotRun,
    NotGraded,
}

impl Outcome {
    const ALL: [Outcome; 10] = [
        Outcome::Pass,
        Outcome::Behaviour,
        Outcome::Verifier,
        Outcome::MapLayout,
        Outcome::NoProgram,
        Outcome::Timeout,
        Outcome::Unverified,
        Outcome::Environment,
        Outcome::NotRun,
        Outcome::NotGraded,
    ];

    fn of(g: &Graded, t: &TestScore) -> Self {
        if g.ungraded.is_some() {
            return Outcome::NotGraded;
        }
        match t.status {
            Status::Pass => Outcome::Pass,
            Status::Fail(FailureClass::Behaviour) => Outcome::Behaviour,
            Status::Fail(FailureClass::Verifier) => Outcome::Verifier,
            Status::Fail(FailureClass::MapLayout) => Outcome::MapLayout,
            Status::Fail(
                FailureClass::NoProgram | FailureClass::BadObject | FailureClass::Compile,
            ) => Outcome::NoProgram,
            Status::Fail(FailureClass::Timeout | FailureClass::Crash) => Outcome::Timeout,
            Status::Unverified => Outcome::Unverified,
            Status::Fail(FailureClass::Environment | FailureClass::Usage) => Outcome::Environment,
            Status::NotRun | Status::Skip | Status::Info => Outcome::NotRun,
        }
    }

    /// The CSS class (`o-...`), the letter printed in the cell (so colour is never the only
    /// sign) and the legend's words.
    fn look(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Outcome::Pass => ("o-pass", "✓", "pass"),
            Outcome::Behaviour => ("o-behaviour", "✗", "behaviour: wrong output"),
            Outcome::Verifier => ("o-verifier", "V", "verifier rejected the program"),
            Outcome::MapLayout => ("o-map", "M", "map-layout: a map missing or wrong"),
            Outcome::NoProgram => (
                "o-noprog",
                "P",
                "program missing, not an object, or not compiled",
            ),
            Outcome::Timeout => ("o-timeout", "T", "timeout: too slow, or crashed"),
            Outcome::Unverified => ("o-unverified", "?", "unverified: grade again"),
            Outcome::Environment => ("o-env", "E", "environment fault: not charged"),
            Outcome::NotRun => ("o-notrun", "–", "not run on this kernel"),
            Outcome::NotGraded => ("o-ungraded", "N", "not graded: the submission never ran"),
        }
    }

    /// Whether the student is charged for it.
    fn charged(self) -> bool {
        !matches!(
            self,
            Outcome::Pass | Outcome::Unverified | Outcome::Environment | Outcome::NotRun
        )
    }
}

/// Styles of this page only (the student's page keeps the shared ones): the width of a laptop
/// screen, charts side by side, the matrix's cells and the sort orders behind anchors.
const CLASS_STYLE: &str = "body{max-width:110rem}\
.row{display:flex;flex-wrap:wrap;gap:1rem 2.5rem;align-items:flex-start}\
.scroll{overflow-x:auto;max-width:100%}\
table.matrix{border-collapse:collapse}\
table.matrix td.c{width:1.35rem;height:1.35rem;padding:0;text-align:center;font-size:.8rem;\
line-height:1.35rem;border:1px solid #fff}\
table.matrix th.v{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal;\
font-size:.75rem;padding:.2rem 0;white-space:nowrap;border:1px solid #fff;max-height:14rem}\
table.matrix th.part{text-align:center;border-left:2px solid #555}\
table.matrix .first{border-left:2px solid #555}\
table.matrix td.who{white-space:nowrap;padding:0 .4rem}\
.o-pass{background:#b7e1b0;color:#1e5020}.o-behaviour{background:#e04b3f;color:#fff}\
.o-verifier{background:#7b3fa0;color:#fff}.o-map{background:#e8902a;color:#1b1b1b}\
.o-noprog{background:#8a5a2b;color:#fff}.o-timeout{background:#3b2a20;color:#fff}\
.o-unverified{background:#f3df6c;color:#1b1b1b}.o-env{background:#9db8d9;color:#1b1b1b}\
.o-notrun{background:#e4e4e4;color:#555}.o-ungraded{background:#6b6b6b;color:#fff}\
ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3rem 1.2rem}\
ul.legend span.c{display:inline-block;width:1.1rem;text-align:center;margin-right:.3rem}\
.order{display:none}.order:target{display:block}\
.orders:not(:has(.order:target)) .order.default{display:block}\
td.id{white-space:nowrap}td.who{min-width:10rem}table.wide{width:100%}";

/// One bar of a chart: its label, value and colour.
struct Bar {
    label: String,
    value: f64,
    /// What the value label above the bar says.
    text: String,
    fill: &'static str,
    /// The most it could be, drawn as an outline behind the bar.
    outline: Option<f64>,
}

/// A vertical bar chart as SVG, with axis titles, and `title` and `desc` for assistive
/// technology.
fn bar_chart(
    id: &str,
    title: &str,
    desc: &str,
    axes: (&str, &str),
    bars: &[Bar],
    max: f64,
) -> Markup {
    let (w, h, left, bottom, top) = (640.0, 240.0, 46.0, 52.0, 18.0);
    let slot = (w - left - 8.0) / bars.len().max(1) as f64;
    let scale = (h - bottom - top) / max.max(f64::MIN_POSITIVE);
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(w) height=(h) viewBox={"0 0 " (w) " " (h)}
            role="img" aria-labelledby={(id) "-title " (id) "-desc"} {
            title id={(id) "-title"} { (title) }
            desc id={(id) "-desc"} { (desc) }
            line x1=(left) y1=(h - bottom) x2=(w) y2=(h - bottom) stroke="#555" {}
            line x1=(left) y1=(top) x2=(left) y2=(h - bottom) stroke="#555" {}
            text x=(fmt(left - 4.0)) y=(fmt(h - bottom + 4.0)) text-anchor="end" { "0" }
            text x=(fmt(left - 4.0)) y=(fmt(top + 4.0)) text-anchor="end" { (short(max)) }
            @for (i, b) in bars.iter().enumerate() {
                @let x = left + i as f64 * slot + slot * 0.1;
                @let bh = b.value * scale;
                @if let Some(o) = b.outline {
                    rect x=(fmt(x)) y=(fmt(h - bottom - o * scale)) width=(fmt(slot * 0.8))
                        height=(fmt(o * scale)) fill="none" stroke="#3465a4" stroke-dasharray="4 3" {}
                }
                rect x=(fmt(x)) y=(fmt(h - bottom - bh)) width=(fmt(slot * 0.8)) height=(fmt(bh))
                    fill=(b.fill) {}
                @let above = bh.max(b.outline.unwrap_or(0.0) * scale);
                text x=(fmt(x + slot * 0.4)) y=(fmt(h - bottom - above - 3.0)) text-anchor="middle" {
                    (b.text)
                }
                text x=(fmt(x + slot * 0.4)) y=(fmt(h - bottom + 15.0)) text-anchor="middle" {
                    (b.label)
                }
            }
            text.axis x=(fmt(left + (w - left) / 2.0)) y=(fmt(h - 8.0)) text-anchor="middle" { (axes.0) }
            text.axis x=(fmt(-(top + (h - bottom - top) / 2.0))) y="14" text-anchor="middle"
                transform="rotate(-90)" { (axes.1) }
        }
    }
}

/// What went wrong for a student, in a few words: not graded and why, or each kind of failure
/// with the parts it hit (a load failure fails a whole part for one reason) or how many checks.
fn what_went_wrong(g: &Graded) -> String {
    if let Some(e) = &g.ungraded {
        return format!("not graded: {}", class_name(e.class));
    }
    let mut kinds: Vec<(Outcome, Vec<&str>, usize)> = Vec::new();
    for t in &g.score.tests {
        let o = Outcome::of(g, t);
        if !o.charged() && o != Outcome::Unverified {
            continue;
        }
        match kinds.iter_mut().find(|k| k.0 == o) {
            Some(k) => {
                k.2 += 1;
                if !k.1.contains(&t.part.as_str()) {
                    k.1.push(&t.part);
                }
            }
            None => kinds.push((o, vec![&t.part], 1)),
        }
    }
    kinds.sort_by_key(|k| k.0);
    if kinds.is_empty() {
        return String::new();
    }
    kinds
        .iter()
        .map(|(o, parts, n)| match o {
            Outcome::Behaviour => format!("behaviour: {n} check{}", if *n == 1 { "" } else { "s" }),
            Outcome::Unverified => format!("unverified: {n} (grade again)"),
            _ => format!(
                "{}: {}",
                o.look().2.split(':').next().unwrap_or(""),
                parts.join(", ")
            ),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A graded check and who failed it, among the students who could be graded.
struct CheckRow<'a> {
    id: &'a str,
    part: &'a str,
    description: &'a str,
    /// Charged to these students, in the order of the students table.
    failed: Vec<&'a Graded>,
    /// Left unverified or excused (environment) for this many.
    excused: usize,
}

/// The graded checks in the rubric's order, each with who failed it.
fn check_rows<'a>(judged: &[&'a Graded]) -> Vec<CheckRow<'a>> {
    let mut rows: Vec<CheckRow> = Vec::new();
    for g in judged {
        for t in &g.score.tests {
            let i = if let Some(i) = rows.iter().position(|r| r.id == t.id) {
                i
            } else {
                rows.push(CheckRow {
                    id: &t.id,
                    part: &t.part,
                    description: &t.description,
                    failed: Vec::new(),
                    excused: 0,
                });
                rows.len() - 1
            };
            match Outcome::of(g, t) {
                Outcome::Unverified | Outcome::Environment => rows[i].excused += 1,
                o if o.charged() => rows[i].failed.push(g),
                _ => {}
            }
        }
    }
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

/// Markdown as HTML (pulldown-cmark). The contract is the lab's own README, yet any raw HTML in
/// it is shown as text, never passed through.
fn markdown(text: &str) -> Markup {
    use pulldown_cmark::{Event, Options, Parser};
    let events = Parser::new_ext(text, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        e => e,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    PreEscaped(out)
}

fn anchor(check_id: &str) -> String {
    format!("contract-{}", check_id.replace(['/', '.'], "-"))
}

/// A check's id without the lab and part: `7.1/firewall/first-match-wins` → `first-match-wins`.
fn short_id(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// The students table in one order, under `id`.
fn students_table(
    id: &str,
    default: bool,
    rows: &[&Graded],
    parts: &[PartInfo],
    same_max: bool,
) -> Markup {
    let incomplete = rows.iter().any(|g| g.score.incomplete);
    html! {
        div.order.default[default] id=(id) {
            table.wide {
                caption {
                    @if default { "By score, lowest first (" a href="#by-name" { "sort by name" } ")" }
                    @else { "By name (" a href="#by-score" { "sort by score" } ")" }
                }
                thead { tr {
                    th scope="col" { "student" }
                    th scope="col" {
                        "points"
                        @if same_max { " (of " (short(parts.iter().map(|p| p.max).sum())) ")" }
                    }
                    @if !same_max { th scope="col" { "max" } }
                    @for p in parts {
                        th scope="col" { code { (p.program) } " (of " (short(p.max)) ")" }
                    }
                    th scope="col" { "what went wrong" }
                } }
                tbody {
                    @for g in rows {
                        tr {
                            td { a href={(student_href(g, STUDENT_PAGE))} { (g.submission.student) } }
                            td.n {
                                (format!("{:.2}", g.score.points))
                                @if incomplete && g.score.incomplete { " " strong { "incomplete" } }
                            }
                            @if !same_max { td.n { (format!("{:.2}", g.score.max)) } }
                            @for p in parts {
                                td.n {
                                    @match g.score.parts.iter().find(|s| s.program == p.program) {
                                        Some(s) => (format!("{:.2}", s.points)),
                                        None => "",
                                    }
                                }
                            }
                            td { (what_went_wrong(g)) }
                        }
                    }
                }
            }
        }
    }
}

/// A part's name and its most points possible in the class.
struct PartInfo {
    program: String,
    max: f64,
    /// Its average points over the students graded.
    average: f64,
}

/// The class page: who needs help first (students by score, what went wrong, each part's
/// points), the matrix of every outcome, each check with who failed it, the score histogram
/// and per-part averages in points, who could not be graded and why, and the contract.
pub fn class_page(info: ClassInfo, graded: &[Graded]) -> String {
    // An incomplete score is no grade: it stays out of the class's figures.
    let judged: Vec<&Graded> = graded
        .iter()
        .filter(|g| g.ungraded.is_none() && !g.score.incomplete)
        .collect();
    let not_graded: Vec<&Graded> = graded.iter().filter(|g| g.ungraded.is_some()).collect();
    let class_max = graded.iter().map(|g| g.score.max).fold(0.0, f64::max);
    let same_max = graded
        .iter()
        .all(|g| cents(g.score.max) == cents(class_max));
    // Lowest score first: who needs help comes first. Ties by name.
    let mut by_score: Vec<&Graded> = graded.iter().collect();
    by_score.sort_by(|a, b| {
        a.score
            .points
            .total_cmp(&b.score.points)
            .then_with(|| a.submission.student.cmp(&b.submission.student))
    });
    let by_name: Vec<&Graded> = graded.iter().collect();

    let parts: Vec<PartInfo> = graded
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
            let scores: Vec<(f64, f64)> = graded
                .iter()
                .filter_map(|g| g.score.parts.iter().find(|p| p.program == program))
                .map(|p| (p.points, p.max))
                .collect();
            let judged_points: Vec<f64> = judged
                .iter()
                .filter_map(|g| g.score.parts.iter().find(|p| p.program == program))
                .map(|p| p.points)
                .collect();
            PartInfo {
                average: judged_points.iter().sum::<f64>() / judged_points.len().max(1) as f64,
                max: scores.iter().map(|s| s.1).fold(0.0, f64::max),
                program,
            }
        })
        .collect();

    // The histogram: ten bins of a tenth of the maximum each, in points, and the students who
    // could not be graded in a bar of their own.
    let mut bins = [0usize; 10];
    for g in &judged {
        let i = if class_max > 0.0 {
            ((g.score.points / class_max * 10.0).floor() as usize).min(9)
        } else {
            0
        };
        bins[i] += 1;
    }
    let bin_label = |i: usize| {
        format!(
            "{}–{}",
            short(class_max * i as f64 / 10.0),
            short(class_max * (i + 1) as f64 / 10.0)
        )
    };
    // Each bin holds its lower bound and not its upper one; the last holds the maximum too.
    let bin_words = |i: usize| {
        let (low, high) = (
            class_max * i as f64 / 10.0,
            class_max * (i + 1) as f64 / 10.0,
        );
        if i == 9 {
            format!("{} to {}", short(low), short(high))
        } else {
            format!("{} to under {}", short(low), short(high))
        }
    };
    let mut hist: Vec<Bar> = bins
        .iter()
        .enumerate()
        .map(|(i, n)| Bar {
            label: bin_label(i),
            value: *n as f64,
            text: n.to_string(),
            fill: "#3465a4",
            outline: None,
        })
        .collect();
    if !not_graded.is_empty() {
        hist.push(Bar {
            label: "ungraded".into(),
            value: not_graded.len() as f64,
            text: not_graded.len().to_string(),
            fill: "#6b6b6b",
            outline: None,
        });
    }
    let hist_desc = bins
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| format!("{n} scored {} points", bin_words(i)))
        .chain((!not_graded.is_empty()).then(|| format!("{} not graded", not_graded.len())))
        .collect::<Vec<_>>()
        .join("; ");
    let hist_max = hist.iter().map(|b| b.value).fold(0.0, f64::max);
    // Per part: the average in points, the part's maximum outlined behind it.
    let part_bars: Vec<Bar> = parts
        .iter()
        .map(|p| Bar {
            label: p.program.clone(),
            value: p.average,
            text: format!("{:.2} of {}", p.average, short(p.max)),
            fill: "#3465a4",
            outline: Some(p.max),
        })
        .collect();
    let part_max = parts.iter().map(|p| p.max).fold(0.0, f64::max);
    let parts_desc = parts
        .iter()
        .map(|p| {
            format!(
                "{}: {:.2} of {} points on average",
                p.program,
                p.average,
                short(p.max)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");

    let mut checks = check_rows(&judged);
    // The matrix's columns: every graded check, grouped by part in the rubric's order.
    let columns: Vec<(&str, &str)> = graded
        .first()
        .map(|g| {
            g.score
                .tests
                .iter()
                .map(|t| (t.part.as_str(), t.id.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let groups: Vec<(&str, usize)> = columns.iter().fold(Vec::new(), |mut acc, (part, _)| {
        match acc.last_mut() {
            Some((p, n)) if p == part => *n += 1,
            _ => acc.push((part, 1)),
        }
        acc
    });
    // Who failed a check, listed in the students table's order.
    for c in &mut checks {
        c.failed.sort_by_key(|g| {
            by_score
                .iter()
                .position(|x| x.submission.student == g.submission.student)
        });
    }
    let excused_any = checks.iter().any(|c| c.excused > 0);
    let mut by_failures: Vec<&CheckRow> = checks.iter().collect();
    // Most failed first; the sort is stable, so ties keep the rubric's order.
    by_failures.sort_by_key(|c| std::cmp::Reverse(c.failed.len()));
    let programs: Vec<&str> = parts.iter().map(|p| p.program.as_str()).collect();
    let mean = judged.iter().map(|g| g.score.points).sum::<f64>() / judged.len().max(1) as f64;
    let incomplete = graded.iter().filter(|g| g.score.incomplete).count();
    let title = format!("Lab {} · class results", info.lab);
    page_with(
        &title,
        CLASS_STYLE,
        html! {
            h1 { (title) }
            p {
                (graded.len()) " submissions: " (judged.len()) " graded, "
                (not_graded.len()) " could not be graded"
                @if incomplete > 0 {
                    ", " strong { (incomplete) " incomplete" }
                    " (some check could not be verified on two runs: grade them again)"
                }
                ". Mean score of those graded: "
                (format!("{mean:.2}")) " of " (short(class_max)) " points. Seed " (info.seed) "."
            }
            nav aria-label="Sections" {
                ul.legend {
                    li { a href="#students" { "Students" } }
                    li { a href="#matrix" { "Every check" } }
                    li { a href="#checks" { "Who failed what" } }
                    li { a href="#scores" { "Scores" } }
                    @if !not_graded.is_empty() { li { a href="#not-graded" { "Could not be graded" } } }
                    li { a href="#contract" { "Contract" } }
                }
            }
            section id="students" {
                h2 { "Students" }
                p {
                    "Sorted by " a href="#by-score" { "score, lowest first" } " or by "
                    a href="#by-name" { "name" } ". All figures are points."
                }
                div.orders {
                    (students_table("by-score", true, &by_score, &parts, same_max))
                    (students_table("by-name", false, &by_name, &parts, same_max))
                }
            }
            section id="matrix" {
                h2 { "Every check, every student" }
                p { "Students by score, lowest first; checks grouped by part. Each cell is one check's outcome; hover for its name." }
                ul.legend aria-label="Legend" {
                    @for o in Outcome::ALL {
                        @let (class, letter, words) = o.look();
                        li { span class={"c " (class)} { (letter) } (words) }
                    }
                }
                div.scroll {
                    table.matrix {
                        thead {
                            tr {
                                th {}
                                @for (part, n) in &groups {
                                    th.part colspan=(n) scope="colgroup" { code { (part) } }
                                }
                            }
                            tr {
                                th scope="col" { "student" }
                                @for (i, (part, id)) in columns.iter().enumerate() {
                                    @let first = i == 0 || columns[i - 1].0 != *part;
                                    th.v.first[first] scope="col" title=(id) { (short_id(id)) }
                                }
                            }
                        }
                        tbody {
                            @for g in &by_score {
                                tr {
                                    th.who scope="row" {
                                        a href={(student_href(g, STUDENT_PAGE))} { (g.submission.student) }
                                    }
                                    @for (i, (part, id)) in columns.iter().enumerate() {
                                        @let first = i == 0 || columns[i - 1].0 != *part;
                                        @match g.score.tests.iter().find(|t| t.id == *id) {
                                            Some(t) => {
                                                @let (class, letter, words) = Outcome::of(g, t).look();
                                                @let classes = if first { format!("c {class} first") } else { format!("c {class}") };
                                                td class=(classes)
                                                    title={(g.submission.student) " · " (id) ": " (words)} { (letter) }
                                            }
                                            None => { td.c.first[first] {} }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section id="checks" {
                h2 { "Who failed what" }
                p {
                    "The checks someone was charged for, most failed first, among the "
                    (judged.len()) " students graded; each links to the contract's text for it."
                }
                table.wide {
                    thead { tr {
                        th scope="col" { "check" } th scope="col" { "failed" }
                        th scope="col" { "who" }
                        @if excused_any { th scope="col" { "unverified or excused" } }
                        th scope="col" { "what it shows when it passes" }
                    } }
                    tbody {
                        @for c in by_failures.iter().filter(|c| !c.failed.is_empty() || c.excused > 0) {
                            tr {
                                td.id { a href={"#" (anchor(c.id))} { code { (c.id) } } }
                                td.n { (c.failed.len()) }
                                td.who {
                                    @for (i, g) in c.failed.iter().enumerate() {
                                        @if i > 0 { ", " }
                                        a href={(student_href(g, STUDENT_PAGE))} { (g.submission.student) }
                                    }
                                }
                                @if excused_any { td.n { (c.excused) } }
                                td { (c.description) }
                            }
                        }
                    }
                }
                @let passed: Vec<&&CheckRow> = by_failures.iter().filter(|c| c.failed.is_empty() && c.excused == 0).collect();
                @if !passed.is_empty() {
                    p id="all-passed" {
                        "Passed by every student graded (" (passed.len()) "): "
                        @for (i, c) in passed.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href={"#" (anchor(c.id))} { code { (c.id.split_once('/').map_or(c.id, |x| x.1)) } }
                        }
                        "."
                    }
                }
            }
            section id="scores" {
                h2 { "Scores" }
                div.row {
                    div {
                        (bar_chart("histogram", "Score histogram",
                            &format!("Students by points, of {}: {hist_desc}.", short(class_max)),
                            (&format!("points (of {})", short(class_max)), "students"),
                            &hist, hist_max))
                        table {
                            caption { "Students by points" }
                            thead { tr { th scope="col" { "points" } th scope="col" { "students" } } }
                            tbody {
                                @for (i, n) in bins.iter().enumerate() {
                                    tr { td { (bin_words(i)) } td.n { (n) } }
                                }
                                @if !not_graded.is_empty() {
                                    tr { td { "not graded" } td.n { (not_graded.len()) } }
                                }
                            }
                        }
                    }
                    div {
                        (bar_chart("parts-chart", "Average points per part",
                            &format!("Average points of each part: {parts_desc}."),
                            ("part (its maximum dashed)", "average points"), &part_bars, part_max))
                        table {
                            caption { "Average points per part, over the students graded" }
                            thead { tr {
                                th scope="col" { "part" } th scope="col" { "average points" }
                                th scope="col" { "of" }
                            } }
                            tbody {
                                @for p in &parts {
                                    tr {
                                        td { code { (p.program) } }
                                        td.n { (format!("{:.2}", p.average)) }
                                        td.n { (short(p.max)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !not_graded.is_empty() {
                section id="not-graded" {
                    h2 { "Could not be graded" }
                    table.wide {
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
            section id="contract" {
                h2 { "Contract" }
                @for p in &programs {
                    h3 { code { (p) } }
                    div.contract { (markdown(&contract_for(info.contract, p, &programs))) }
                    p { strong { "Its checks" } }
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
    fn the_contract_is_rendered_and_its_html_shown_as_text() {
        let html = markdown("**`rate_limiter`.** drops <script>x</script>").into_string();
        assert!(
            html.contains("<strong><code>rate_limiter</code>.</strong>"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(short(3.0), "3");
        assert_eq!(short(29.17), "29.17");
        assert_eq!(short(2.5), "2.5");
    }
}
