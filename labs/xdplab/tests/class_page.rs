//! The class page opened in a real headless browser (Debian's chromium, installed by
//! `scripts/bootstrap.sh --test`): what it shows after the browser has parsed and laid it out.
//!
//! With `XDPLAB_SCREENSHOT=PATH` set, the test also writes a screenshot of the page there
//! (`just class-page-screenshot`).

mod common;
use common::{class, dump_dom, fresh_dir, grade, screenshot, section};

/// The students named by the row links (`students/NAME/report.html`) in `html`, in order.
fn row_names(html: &str) -> Vec<&str> {
    html.split("href=\"students/")
        .skip(1)
        .map(|s| s.split('/').next().unwrap())
        .collect()
}

#[test]
fn class_page_shows_the_class() {
    let subs = class("page");
    let out = fresh_dir("page-results");
    grade("7.1", &subs, &out, &[]);
    let page = out.join("index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing to fetch (the only URL is the SVG namespace).
    for fetch in ["src=", "<link", "<script", "@import", "url("] {
        assert!(!html.contains(fetch), "the page fetches something: {fetch}");
    }
    assert_eq!(
        html.matches("http").count(),
        html.matches("http://www.w3.org/2000/svg").count()
    );

    let dom = dump_dom(&page);
    assert!(dom.contains("<h1>Lab 7.1 · class results</h1>"), "{dom}");
    assert!(
        dom.contains("8 submissions: 7 graded, 1 could not be graded."),
        "{dom}"
    );

    // Students by score, lowest first (gus could not be graded, hal's port_filter was
    // rejected, cho filters only TCP, ben and eve have the rule-order bug), with each part's
    // points and what went wrong; by name behind its anchor.
    let by_score = ["gus", "hal", "cho", "ben", "eve", "amy", "dan", "fay"];
    let students = section(&dom, "students");
    let table = |id: &str| {
        let start = students.find(&format!("id=\"{id}\"")).unwrap();
        &students[start..students[start..].find("</table>").unwrap() + start]
    };
    assert_eq!(row_names(table("by-score")), by_score, "{students}");
    let mut by_name = by_score;
    by_name.sort_unstable();
    assert_eq!(row_names(table("by-name")), by_name, "{students}");
    assert!(
        students.contains("<a href=\"#by-name\">name</a>"),
        "{students}"
    );
    for header in [
        "points (of 30)",
        "<code>ip_filter</code> (of 10)",
        "<code>firewall</code> (of 10)",
    ] {
        assert!(table("by-score").contains(header), "{header}: {students}");
    }
    let row = |name: &str| {
        let t = table("by-score");
        let start = t.find(&format!(">{name}</a>")).unwrap();
        &t[start..t[start..].find("</tr>").unwrap() + start]
    };
    assert!(
        row("hal").contains("<td class=\"n\">20.00</td><td class=\"n\">10.00</td><td class=\"n\">0.00</td><td class=\"n\">10.00</td><td>verifier rejected the program: port_filter</td>"),
        "{}",
        row("hal")
    );
    assert!(
        row("ben").contains("<td>behaviour: 2 checks</td>"),
        "{}",
        row("ben")
    );
    assert!(
        row("gus").contains("<td>not graded: bad-object</td>"),
        "{}",
        row("gus")
    );
    assert!(
        !students.contains("incomplete") && !students.contains(">max<"),
        "empty columns are left out: {students}"
    );

    // The matrix: a row per student in the same order, a cell per check grouped by part, each
    // coloured by its outcome and saying it in a letter and a tooltip; a legend for all.
    let matrix = section(&dom, "matrix");
    assert_eq!(row_names(matrix), by_score, "{matrix}");
    for part in ["ip_filter", "port_filter", "firewall"] {
        assert!(
            matrix.contains(&format!("scope=\"colgroup\"><code>{part}</code>")),
            "{matrix}"
        );
    }
    let cell = |student: &str, check: &str| -> &str {
        let title = format!("title=\"{student} · 7.1/{check}: ");
        let at = matrix
            .find(&title)
            .unwrap_or_else(|| panic!("{title} in {matrix}"));
        let open = matrix[..at].rfind("<td").unwrap();
        let class = &matrix[open..at];
        class
            .split("class=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
    };
    assert_eq!(cell("ben", "firewall/first-match-wins"), "c o-behaviour");
    assert_eq!(cell("ben", "ip_filter/fragments"), "c o-pass");
    assert_eq!(cell("hal", "port_filter/padded"), "c o-verifier");
    assert_eq!(cell("gus", "firewall/padded"), "c o-ungraded");
    assert_eq!(matrix.matches("<td class=\"c ").count(), 8 * 44, "{matrix}");
    for words in [
        "pass",
        "behaviour: wrong output",
        "verifier rejected the program",
        "map-layout: a map missing or wrong",
        "timeout: too slow, or crashed",
        "unverified: grade again",
        "not run on this kernel",
        "not graded: the submission never ran",
    ] {
        assert!(
            matrix.contains(&format!("</span>{words}</li>")),
            "legend: {words}: {matrix}"
        );
    }

    // Who failed what: the checks someone failed, most failed first, with who failed them
    // (in the students table's order), each linked to the contract's text for it.
    let checks = section(&dom, "checks");
    let failed: Vec<(&str, usize, Vec<&str>)> = checks
        .split("<tr>")
        .skip(2)
        .map(|row| {
            let id = row
                .split("<code>")
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap();
            let n = row
                .split("<td class=\"n\">")
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap();
            (id, n.parse().unwrap(), row_names(row))
        })
        .collect();
    assert_eq!(failed.len(), 17, "{checks}");
    assert!(failed.windows(2).all(|w| w[0].1 >= w[1].1), "{failed:?}");
    assert!(
        failed.contains(&("7.1/firewall/first-match-wins", 2, vec!["ben", "eve"])),
        "{failed:?}"
    );
    assert!(
        failed.contains(&("7.1/port_filter/udp-truncated", 2, vec!["hal", "cho"])),
        "{failed:?}"
    );
    assert!(
        checks.contains("Passed by every student graded (27)"),
        "{checks}"
    );
    assert!(checks.contains("href=\"#contract-7-1-firewall-first-match-wins\""));

    // The histogram, in points, with its axes named and the student who could not be graded
    // in a bar of their own; the same numbers in a table.
    let scores = section(&dom, "scores");
    assert!(scores.contains("role=\"img\""), "{scores}");
    assert!(
        scores.contains("<title id=\"histogram-title\">Score histogram</title>"),
        "{scores}"
    );
    assert!(
        scores.contains("1 scored 18 to under 21 points; 6 scored 27 to 30 points; 1 not graded."),
        "hal (20 of 30), the six others and gus: {scores}"
    );
    for axis in ["points (of 30)", "students", "average points"] {
        assert!(
            scores.contains(&format!("text-anchor=\"middle\">{axis}</text>"))
                || scores.contains(&format!("rotate(-90)\">{axis}</text>")),
            "axis {axis}: {scores}"
        );
    }
    assert!(scores.contains(">ungraded</text>"), "{scores}");
    for (bin, n) in [("27 to 30", 6), ("18 to under 21", 1), ("not graded", 1)] {
        assert!(
            scores.contains(&format!("<td>{bin}</td><td class=\"n\">{n}</td>")),
            "{bin}: {scores}"
        );
    }
    // One unit: points, never a percentage.
    for text in [students, matrix, checks, scores] {
        assert!(!text.contains('%'), "{text}");
    }
    assert!(scores.contains("<td><code>port_filter</code></td><td class=\"n\">8.19</td>"));

    // The contract, rendered from its Markdown: code spans, no backticks left.
    let contract = section(&dom, "contract");
    assert!(
        contract.contains("id=\"contract-7-1-firewall-first-match-wins\""),
        "{contract}"
    );
    assert!(
        contract.contains("the first matching rule wins"),
        "{contract}"
    );
    assert!(
        contract.contains("<li><code>ip_filter</code>:"),
        "{contract}"
    );
    assert!(!contract.contains('`'), "raw Markdown: {contract}");

    // Who could not be graded, and why; every student's report one click away.
    let not_graded = section(&dom, "not-graded");
    assert!(
        not_graded.contains("href=\"students/gus/report.html\""),
        "{not_graded}"
    );
    assert!(not_graded.contains("is not an ELF object"), "{not_graded}");
    for s in by_score {
        assert!(
            students.contains(&format!("href=\"students/{s}/report.html\"")),
            "{s}"
        );
        assert!(
            out.join("students").join(s).join("report.html").is_file(),
            "{s}"
        );
    }
    let ben = dump_dom(&out.join("students/ben/report.html"));
    assert!(ben.contains("28.75 / 30.00 points"), "{ben}");
    assert!(
        ben.contains("--check 7.1/firewall/first-match-wins"),
        "{ben}"
    );

    if let Ok(shot) = std::env::var("XDPLAB_SCREENSHOT") {
        screenshot(&page, std::path::Path::new(&shot), (1440, 1700));
    }
}
