//! The differential check of lab 7.3: the correct C program matches the reference, mutants the
//! hand-written checks miss are caught with a shrunk frame naming the field, shrinking is
//! deterministic, and the reference matches itself (and the contract) on a million frames.

use std::{path::Path, time::Instant};

use harness::{
    Mode, Status, XdpObject,
    differential::{Differential, Found, Pair},
    testing,
};
use lab_7_3::differential::differential;

const PARTS: [&str; 4] = ["lb_round_robin", "lb_hash", "lb_redirect", "lb_dsr"];

fn build(defines: &[&str]) -> XdpObject {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/lb.c");
    testing::build_c(&source, defines, Path::new(env!("CARGO_TARGET_TMPDIR")))
}

/// Compares `object`'s `d.program` with the reference over `n` frames, both freshly loaded.
fn compare(d: &Differential, object: &XdpObject, n: usize) -> Found {
    let mut program = d.open(object).expect("loads");
    let mut reference = d.load_reference().expect("the reference loads");
    d.compare_n(
        &mut Pair {
            program: program.as_mut(),
            reference: reference.as_mut(),
        },
        n,
    )
    .expect("the comparison runs")
}

#[test]
#[ignore = "about 30 s in a debug build: run with --run-ignored"]
fn the_correct_c_program_matches_the_reference_on_100000_frames_per_part() {
    let object = build(&[]);
    for part in PARTS {
        let d = differential(part, 0, 100_000);
        let started = Instant::now();
        let found = compare(&d, &object, 100_000);
        eprintln!("{part}: 100000 frames in {:?}", started.elapsed());
        assert!(
            found.difference.is_none(),
            "{part}: {}",
            d.render(&found).0.actual
        );
        assert_eq!(
            found.reference_off_contract, 0,
            "{part}: reference off contract"
        );
    }
}

/// Mutants of the classes: (define, part, the field the shrunk frame must name).
const MUTANTS: [(&str, &str, &str); 3] = [
    ("BUG_CSUM_LANDS_ZERO", "lb_round_robin", "l4_csum"),
    ("BUG_CSUM_LANDS_ZERO", "lb_hash", "l4_csum"),
    ("BUG_LB_FRAGMENT", "lb_hash", "mf|frag_offset"),
];

#[test]
fn mutants_are_caught_with_a_shrunk_frame_naming_the_field() {
    for (define, part, field) in MUTANTS {
        let d = differential(part, 0, lab_7_3::differential::FRAMES);
        let found = compare(&d, &build(&[define]), d.frames);
        let diff = found
            .difference
            .unwrap_or_else(|| panic!("{define}: no difference in {} frames", d.frames));
        let changed = diff.shrunk.differences(&d.canonical);
        assert!(
            changed
                .iter()
                .any(|(name, ..)| field.split('|').any(|f| f == *name)),
            "{define}: shrunk to {changed:?}\n{}",
            d.render(&harness::differential::Found {
                frames: 0,
                reference_off_contract: 0,
                difference: Some(diff.clone())
            })
            .0
            .actual
        );
        assert!(changed.len() <= 3, "{define}: not minimal: {changed:?}");
    }
}

#[test]
fn shrinking_is_deterministic_under_a_seed() {
    let object = build(&["BUG_CSUM_LANDS_ZERO"]);
    for seed in [0, 7] {
        let d = differential("lb_round_robin", seed, 300);
        let a = compare(&d, &object, d.frames).difference.expect("caught");
        let b = compare(&d, &object, d.frames).difference.expect("caught");
        assert_eq!(
            (a.index, &a.generated, &a.shrunk),
            (b.index, &b.generated, &b.shrunk)
        );
    }
}

#[test]
fn the_reference_passes_its_differential_checks_in_test_run() {
    let report = testing::run(
        &lab_7_3::lab(0),
        &XdpObject::from_bytes("reference", reference::lab_7_3()).unwrap(),
        Mode::TestRun,
        None,
    );
    for c in report
        .checks
        .iter()
        .filter(|c| c.id.ends_with("/differential"))
    {
        assert_eq!(c.status, Status::Pass, "{}: {}", c.id, c.message);
    }
}

/// The reference against itself: 1,000,000 frames per part, no difference, and the oracle
/// agrees with the reference on every one. Prints frames per second.
#[test]
#[ignore = "about a minute: run with --run-ignored to measure"]
fn the_reference_matches_itself_on_a_million_frames() {
    let object = XdpObject::from_bytes("reference", reference::lab_7_3()).unwrap();
    for part in PARTS {
        let d = differential(part, 1, 1_000_000);
        let started = Instant::now();
        let found = compare(&d, &object, 1_000_000);
        let took = started.elapsed();
        eprintln!(
            "{part}: 1000000 frames in {took:?}, {:.0} frames/s (both programs run on each)",
            1e6 / took.as_secs_f64()
        );
        assert!(found.difference.is_none());
        assert_eq!(found.reference_off_contract, 0);
    }
}

/// How many of the project's wrong C programs the differential check catches alone.
#[test]
#[ignore = "a measurement for the README"]
fn existing_mutants_caught_by_the_differential_check_alone() {
    let source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/lb.c"))
            .unwrap();
    let mut defines: Vec<&str> = source
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("BUG_"))
        .collect();
    defines.sort_unstable();
    defines.dedup();
    let (mut caught, mut total) = (0, 0);
    for define in defines.iter().filter(|d| **d != "BUG_NO_BOUNDS_CHECK") {
        total += 1;
        let object = build(&[define]);
        let hit: Vec<&str> = PARTS
            .into_iter()
            .filter(|p| {
                let d = differential(p, 0, lab_7_3::differential::FRAMES);
                compare(&d, &object, d.frames).difference.is_some()
            })
            .collect();
        caught += usize::from(!hit.is_empty());
        eprintln!("{define}: {hit:?}");
    }
    eprintln!("caught {caught} of {total}");
}
