//! Helpers the labs' test suites share: the object under test, C programs built with clang,
//! running a lab, and asserting exactly which checks a deliberately wrong program fails.

use std::{collections::BTreeSet, path::Path};

use crate::{Lab, Report, RunOptions};
use kernel::{FailureClass, Mode, XdpObject, clang, object::ProgramSource};

pub mod differential;
pub mod student_loader;

/// The object the reference tests judge: the one named by `XDPLAB_OBJECT`, else the lab's
/// reference solution.
pub fn object_under_test(lab: &Lab) -> XdpObject {
    match std::env::var_os("XDPLAB_OBJECT") {
        Some(path) => XdpObject::from_path(path).expect("XDPLAB_OBJECT is a usable object"),
        None => lab.reference_object(),
    }
}

/// Builds `source` with clang and `-D` for each define into `out_dir`, as an object.
pub fn build_c(source: &Path, defines: &[&str], out_dir: &Path) -> XdpObject {
    let path = clang::compile(source, defines, out_dir).expect("clang builds the program");
    XdpObject::from_path(path).expect("an XDP object")
}

/// Runs `lab` (or only `program`) on `object` in `mode`, with the canonical frames.
pub fn run(lab: &Lab, object: &dyn ProgramSource, mode: Mode, program: Option<&str>) -> Report {
    let opts = RunOptions {
        mode,
        program: program.map(str::to_owned),
        ..Default::default()
    };
    lab.run(object, &opts).expect("the run happens")
}

/// Asserts that the report charges exactly the `expected` checks (behaviour failures), except
/// that one the machine could not verify (environment) may stand in for an expected one; at
/// least one must be charged. Ids may be given with or without the `<lab>/` prefix.
pub fn assert_flagged(report: &Report, what: &str, expected: &[&str]) {
    let prefix = format!("{}/", report.lab);
    // The differential checks catch most mutants too; their own tests (tests/differential.rs)
    // say which, so here only the hand-written checks are counted.
    let with = |status: crate::Status| -> BTreeSet<&str> {
        report
            .checks
            .iter()
            .filter(|c| c.status == status && !c.id.ends_with("/differential"))
            .map(|c| c.id.strip_prefix(&prefix).unwrap_or(&c.id))
            .collect()
    };
    let behaviour = with(crate::Status::Fail(FailureClass::Behaviour));
    // A check this run could not judge (a VM too slow for a contract's clock) is neither a
    // pass nor a charge: it may stand in for an expected one, never add to them.
    let unverified = with(crate::Status::Unverified);
    let expected: BTreeSet<&str> = expected
        .iter()
        .map(|id| id.strip_prefix(&prefix).unwrap_or(id))
        .collect();
    let other: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.passed && !c.id.ends_with("/differential"))
        .filter(|c| {
            !matches!(
                c.status,
                crate::Status::Fail(FailureClass::Behaviour) | crate::Status::Unverified
            )
        })
        .map(|c| c.id.as_str())
        .collect();
    assert!(
        other.is_empty(),
        "{what}: failed for other reasons: {other:?}\n{}",
        report.to_text()
    );
    assert!(
        behaviour.is_subset(&expected),
        "{what}: charged beyond the expected checks {expected:?}\n{}",
        report.to_text()
    );
    let covered: BTreeSet<&str> = behaviour.union(&unverified).copied().collect();
    assert!(
        expected.is_subset(&covered),
        "{what}: expected {expected:?} to be flagged\n{}",
        report.to_text()
    );
    assert!(
        !behaviour.is_empty() || expected.is_empty(),
        "{what}: nothing was charged (every expected check went unverified)\n{}",
        report.to_text()
    );
}

/// Every hint of `report`, with the id of the check it was shown under.
pub fn hints(report: &Report) -> BTreeSet<(&str, &str)> {
    report
        .checks
        .iter()
        .flat_map(|c| c.hints.iter().map(|h| (c.id.as_str(), h.as_str())))
        .collect()
}

/// Asserts that the reference solution passes `lab` built with seeds 1, 7 and 4242 in test-run
/// mode, and that those seeds really change the first part's frames (a seed that changed
/// nothing would let hard-coded programs through).
pub fn assert_seeds_vary_and_pass(lab: fn(u64) -> Lab) {
    let canonical = lab(0);
    for seed in [1, 7, 4242] {
        let seeded = lab(seed);
        let report = run(&seeded, &object_under_test(&seeded), Mode::TestRun, None);
        assert!(report.all_passed(), "seed {seed}\n{}", report.to_text());
        assert_ne!(
            format!("{:?}", seeded.parts[0].checks),
            format!("{:?}", canonical.parts[0].checks),
            "seed {seed} sends the canonical frames"
        );
    }
}

/// Asserts that nothing in the report failed: every check passed, except checks this run could
/// not judge (a VM too slow for a contract's clock), which are neither a pass nor a charge. At
/// least one check must have passed.
pub fn assert_nothing_charged(report: &Report) {
    assert_none_charged(report);
    assert_ne!(
        report.totals.passed,
        0,
        "nothing passed\n{}",
        report.to_text()
    );
}

/// Asserts that no check was charged (failed other than as unverified).
fn assert_none_charged(report: &Report) {
    let charged: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.passed && c.status != crate::Status::Unverified)
        .map(|c| c.id.as_str())
        .collect();
    assert!(
        charged.is_empty(),
        "{}: charged: {charged:?}\n{}",
        report.mode,
        report.to_text()
    );
}

/// Replaces everything inside ⟨ ⟩ (values measured during a run) with `…`, for snapshots that
/// must read the same on every run and in every mode.
pub fn redact(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('⟨') {
        out.push_str(&rest[..open]);
        out.push_str("⟨…⟩");
        rest = match rest[open..].find('⟩') {
            Some(close) => &rest[open + close + '⟩'.len_utf8()..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// What the later runs of [`pinned_runs_again_and_again`] met.
#[derive(Debug, Default)]
pub struct Reruns {
    /// Checks judged.
    pub judged: usize,
    /// Checks that found state from earlier runs for their sources, and sent from others.
    pub moved: usize,
    /// Checks the machine could not verify (too loaded for a contract's clock): neither a pass
    /// nor a charge, and never for state from earlier runs.
    pub unverified: Vec<String>,
}

/// Loads `lab`'s reference with `bpftool prog loadall OBJ DIR pinmaps DIR`, runs each of
/// `parts` three times in `mode` (on its pins, then on its id, then on its pins again: every
/// run on the same maps), then replays each of their checks alone, and asserts that nothing
/// was ever charged and that no check was left unverified for the state the maps kept.
///
/// # Panics
/// When bpftool is missing (`scripts/bootstrap.sh --test` installs it) or cannot load the
/// object.
pub fn pinned_runs_again_and_again(lab: &Lab, parts: &[&str], mode: Mode) -> Reruns {
    let pins = kernel::object::PinDir::create().expect("a bpffs pin directory");
    let object = std::env::temp_dir().join(format!(
        "xdplab-rerun-{}-{}-{mode}.o",
        std::process::id(),
        lab.id
    ));
    std::fs::write(&object, (lab.reference)()).expect("the object written");
    let dir = pins.path().to_str().expect("a UTF-8 path");
    bpftool(&[
        "prog",
        "loadall",
        object.to_str().expect("a UTF-8 path"),
        dir,
        "pinmaps",
        dir,
    ]);
    let _ = std::fs::remove_file(&object);
    let pinned = kernel::source::PinnedPrograms::open(pins.path()).expect("the pins");
    let mut seen = Reruns::default();
    let mut judge = |source: &dyn ProgramSource, program: &str, check: Option<&str>| {
        let opts = RunOptions {
            mode,
            program: Some(program.to_owned()),
            check: check.map(str::to_owned),
            ..Default::default()
        };
        let report = lab.run(source, &opts).expect("the run happens");
        assert_none_charged(&report);
        for c in &report.checks {
            seen.judged += 1;
            seen.moved += usize::from(c.actual.contains("already held state"));
            if c.status == crate::Status::Unverified {
                assert!(
                    !c.message.contains("earlier run"),
                    "{mode}: {} was not judged for the state earlier runs left\n{}",
                    c.id,
                    report.to_text()
                );
                seen.unverified.push(format!("{}: {}", c.id, c.message));
            }
        }
    };
    for program in parts {
        let shown = bpftool(&["-j", "prog", "show", "pinned", &format!("{dir}/{program}")]);
        let id = serde_json::from_str::<serde_json::Value>(&shown).expect("bpftool's JSON")["id"]
            .as_u64()
            .expect("an id") as u32;
        let by_id = kernel::source::ProgramIds::open(vec![(program.to_string(), id)])
            .expect("the pinned program's id");
        judge(&pinned, program, None);
        judge(&by_id, program, None);
        judge(&pinned, program, None);
    }
    for check in lab.check_ids() {
        if let Some(program) = parts
            .iter()
            .find(|p| check.starts_with(&format!("{}/{p}/", lab.id)))
        {
            judge(&pinned, program, Some(check));
        }
    }
    seen
}

/// Runs bpftool with `args` and returns what it printed.
fn bpftool(args: &[&str]) -> String {
    // Debian installs it in /usr/sbin, which a non-login shell's PATH may lack.
    let out = ["bpftool", "/usr/sbin/bpftool"]
        .iter()
        .find_map(|b| std::process::Command::new(b).args(args).output().ok())
        .expect("bpftool runs (scripts/bootstrap.sh --test installs it)");
    assert!(
        out.status.success(),
        "bpftool {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
