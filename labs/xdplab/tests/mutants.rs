//! `xdplab mutants` end to end: a small correct ip_filter whose mutants include one known to
//! survive (equivalent under the contract) and one known to be killed, checked against a
//! register that names the survivor and carries one stale entry.

mod common;

use std::path::Path;

const TINY_C: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/mutants_tiny.c");

/// The outcome of the mutant with these lines, for ip_filter.
fn outcome<'a>(
    report: &'a serde_json::Value,
    original: &str,
    mutated: &str,
) -> &'a serde_json::Value {
    report["mutants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["original"] == original && m["mutated"] == mutated)
        .unwrap_or_else(|| panic!("no mutant `{original}` -> `{mutated}`"))
        .get("outcomes")
        .and_then(|o| o.get("ip_filter"))
        .unwrap()
}

#[test]
fn mutants_finds_the_survivor_and_the_killed_and_checks_the_register() {
    let dir = common::fresh_dir("mutants");
    let register = dir.join("mutants.toml");
    std::fs::write(
        &register,
        r#"
[[equivalent]]
program = "ip_filter"
function = "ip_filter"
operator = "relational"
original = "if ((void *)(eth + 1) > end)"
mutated = "if ((void *)(eth + 1) >= end)"
reason = "Non-IPv4 and truncated frames PASS (a 14-byte frame is either), counted in stats[1]."

[[equivalent]]
program = "ip_filter"
function = "ip_filter"
operator = "action"
original = "return COUNTED(0, XDP_DROP);"
mutated = "return COUNTED(0, XDP_PASS);"
reason = "Stale on purpose: this mutant is killed."
"#,
    )
    .unwrap();
    let args = [
        "mutants",
        "7.1",
        "--source",
        TINY_C,
        "--program",
        "ip_filter",
        "--jobs",
        "2",
        "--format",
        "json",
        "--register",
    ];
    let (code, stdout, stderr) = common::run(
        &args
            .iter()
            .map(Path::new)
            .chain([register.as_path()])
            .collect::<Vec<_>>(),
    );
    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let survivor = outcome(
        &report,
        "if ((void *)(eth + 1) > end)",
        "if ((void *)(eth + 1) >= end)",
    );
    assert_eq!(survivor["outcome"], "survived", "{survivor}");
    let killed = outcome(
        &report,
        "return COUNTED(0, XDP_DROP);",
        "return COUNTED(0, XDP_PASS);",
    );
    assert_eq!(killed["outcome"], "killed", "{killed}");
    let checks: Vec<&str> = killed["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        checks.contains(&"7.1/ip_filter/blocked-10.0.0.1"),
        "{checks:?}"
    );
    // Only ip_filter was asked for; the other programs are no part of the counts.
    let programs = report["programs"].as_array().unwrap();
    assert_eq!(programs.len(), 1);
    assert_eq!(programs[0]["program"], "ip_filter");
    // The killed mutant's entry is stale; the survivor's is not reported.
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("1 stale register entry(s)"), "{stderr}");
    assert!(
        stderr.contains("`return COUNTED(0, XDP_DROP);` -> `return COUNTED(0, XDP_PASS);`"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("`if ((void *)(eth + 1) > end)` -> `if ((void *)(eth + 1) >= end)`"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Each lab's register reads, and every entry carries its reason (what `just mutants` checks
/// without running a mutant).
#[test]
fn every_register_reads_and_every_entry_has_a_reason() {
    use grade::mutants::register::{Register, TODO};
    for lab in ["lab-7-1", "lab-7-2", "lab-7-3"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../")
            .join(lab)
            .join("mutants.toml");
        assert!(path.is_file(), "{}", path.display());
        let register = Register::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!register.equivalent.is_empty(), "{lab}");
        for e in &register.equivalent {
            assert!(
                !e.reason.trim().is_empty() && !e.reason.starts_with(TODO),
                "{lab}: {e:?}"
            );
        }
    }
}
