//! Adding a lab: `xdplab new-lab` writes a crate from the template, and the template is a lab
//! that compiles (it is compiled here, as the new crate's src/lib.rs will be) and passes its
//! check against its stand-in reference through the same runner as every lab.

use std::path::Path;

use harness::testing;
use kernel::Mode;

// Compiled here as a module, so what is public for the new crate is unreachable in this test.
#[allow(unreachable_pub)]
#[path = "../templates/lab/src/lib.rs"]
mod template;

mod common;

#[test]
fn the_template_is_a_lab_that_runs() {
    let lab = template::lab(0);
    assert_eq!(lab.id, "0.0");
    assert_eq!(
        lab.contract,
        include_str!("../templates/lab/README.md"),
        "its contract is its README"
    );
    let report = testing::run(&lab, &lab.reference_object(), Mode::TestRun, None);
    assert!(report.all_passed(), "{}", report.to_text());
    assert_eq!(report.checks.len(), 1);
}

#[test]
fn new_lab_writes_the_template_for_the_new_id_and_says_how_to_register_it() {
    let into = common::fresh_dir("new-lab");
    let (code, stdout, stderr) = common::run(&[
        "new-lab",
        "9.9",
        "--title",
        "port knocking",
        "--into",
        into.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let crate_dir = into.join("lab-9-9");
    let read = |path: &str| std::fs::read_to_string(crate_dir.join(path)).unwrap();
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/lab");
    for (path, from) in [
        ("Cargo.toml", "Cargo.toml.in"),
        ("README.md", "README.md"),
        ("src/lib.rs", "src/lib.rs"),
    ] {
        let text = read(path);
        let original = std::fs::read_to_string(template.join(from)).unwrap();
        assert_eq!(
            text.lines().count(),
            original.lines().count(),
            "{path} is the template, line for line"
        );
        for leftover in ["0.0", "0-0", "0_0", "TITLE"] {
            assert!(
                !text.contains(leftover),
                "{path} still has `{leftover}`:\n{text}"
            );
        }
    }
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    assert_eq!(manifest["package"]["name"].as_str(), Some("xdplab-lab-9-9"));
    assert_eq!(manifest["lib"]["name"].as_str(), Some("lab_9_9"));
    let lib = read("src/lib.rs");
    assert!(lib.contains("pub const ID: &str = \"9.9\";"), "{lib}");
    assert!(lib.contains("title: \"port knocking\","), "{lib}");
    assert!(read("README.md").starts_with("# Lab 9.9: port knocking\n"));
    for step in [
        "xdplab-lab-9-9 = { path = \"../lab-9-9\" }",
        "lab(lab_9_9::lab, \"tests/programs/SOLUTION.c\"),",
        "ebpf/programs/src/bin/lab-9-9.rs",
    ] {
        assert!(stdout.contains(step), "the steps name `{step}`:\n{stdout}");
    }

    // Once written, never overwritten; an existing lab or a malformed id is refused.
    for args in [
        vec!["new-lab", "9.9", "--title", "again"],
        vec!["new-lab", "7.1", "--title", "twice"],
        vec!["new-lab", "nine", "--title", "t"],
        vec!["new-lab", "9.8", "--title", "a \"quoted\" title"],
    ] {
        let mut args = args.clone();
        args.extend(["--into", into.to_str().unwrap()]);
        let (code, _, stderr) = common::run(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
    }
    assert_eq!(
        read("README.md").lines().next(),
        Some("# Lab 9.9: port knocking")
    );
    assert!(!into.join("lab-9-8").exists());
}
