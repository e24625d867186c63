//! The class page opened in a real headless browser (Debian's chromium, installed by
//! `scripts/bootstrap.sh --test`): what it shows after the browser has parsed and laid it out.
//!
//! With `XDPLAB_SCREENSHOT=PATH` set, the test also writes a screenshot of the page there
//! (`just class-page-screenshot`).

mod common;
use common::{class, dump_dom, fresh_dir, screenshot, section, xdplab};

#[test]
fn class_page_shows_the_class() {
    let subs = class("page");
    let out = fresh_dir("page-results");
    xdplab(&[
        "grade",
        "7.1",
        subs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
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

    // The histogram: a chart with a text alternative, and the same numbers in a table.
    let scores = section(&dom, "scores");
    assert!(scores.contains("role=\"img\""), "{scores}");
    assert!(
        scores.contains("<title id=\"histogram-title\">Score histogram</title>"),
        "{scores}"
    );
    assert!(
        scores.contains("1 scored 60-69%; 6 scored 90-100%"),
        "hal (20 of 30), and the six others: {scores}"
    );
    assert!(
        scores.contains("<td>90-100%</td><td class=\"n\">6</td>"),
        "{scores}"
    );
    assert!(
        scores.contains("<td>60-69%</td><td class=\"n\">1</td>"),
        "{scores}"
    );

    // Checks, most failed first: first-match-wins (ben, eve) among the top.
    let checks = section(&dom, "checks");
    let failed: Vec<(&str, usize)> = checks
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
            (id, n.parse().unwrap())
        })
        .collect();
    assert_eq!(failed.len(), 44, "{checks}");
    assert!(failed.windows(2).all(|w| w[0].1 >= w[1].1), "{failed:?}");
    assert_eq!(failed[0].1, 2, "{failed:?}");
    assert!(
        failed.contains(&("7.1/firewall/first-match-wins", 2)),
        "{failed:?}"
    );
    assert_eq!(failed.last().unwrap().1, 0, "{failed:?}");
    // ... each linking to the contract's text for it.
    assert!(checks.contains("href=\"#contract-7-1-firewall-first-match-wins\""));
    let contract = section(&dom, "contract");
    assert!(
        contract.contains("id=\"contract-7-1-firewall-first-match-wins\""),
        "{contract}"
    );
    assert!(
        contract.contains("the first matching rule wins"),
        "{contract}"
    );

    // Per-part averages as a table.
    let parts = section(&dom, "parts");
    assert!(parts.contains("<td><code>firewall</code></td>"), "{parts}");

    // Who could not be graded, and why; every student's report one click away.
    let not_graded = section(&dom, "not-graded");
    assert!(
        not_graded.contains("href=\"students/gus/report.html\""),
        "{not_graded}"
    );
    assert!(not_graded.contains("is not an ELF object"), "{not_graded}");
    let students = section(&dom, "students");
    for s in ["amy", "ben", "cho", "dan", "eve", "fay", "gus"] {
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
        screenshot(&page, std::path::Path::new(&shot), (1100, 1500));
    }
}
