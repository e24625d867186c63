//! What the labs' differential tests share: comparing a C program with the reference, asserting
//! a mutant is caught with a shrunk frame naming a field, and the measurements for the README.

use std::{path::Path, time::Instant};

use crate::differential::{Differential, Found, Pair};
use kernel::XdpObject;

/// Compares `object`'s program with the reference over `n` frames, both freshly loaded and set
/// up.
pub fn compare(d: &Differential, object: &XdpObject, n: usize) -> Found {
    let mut program = d.open(object).expect("the program loads");
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

/// Asserts that `object` matches the reference on `n` frames of every part in `parts`, the
/// reference keeping to the contract on each; prints the time per part.
pub fn assert_no_difference(parts: &[Differential], object: &XdpObject, n: usize) {
    for d in parts {
        let started = Instant::now();
        let found = compare(d, object, n);
        let took = started.elapsed();
        eprintln!(
            "{}: {n} frames in {took:?}, {:.0} frames/s (both programs run on each), {} \
             sequence(s) left out over time",
            d.program,
            n as f64 / took.as_secs_f64(),
            found.over_time
        );
        assert!(found.difference.is_none(), "{}: {}", d.program, {
            let j = d.render(&found).0;
            crate::report::diff(&j.expected, &j.actual)
        });
        assert_eq!(found.reference_off_contract, 0, "{}", d.program);
        assert!(
            found.frames >= n,
            "{}: {} frames only",
            d.program,
            found.frames
        );
    }
}

/// Asserts that `object` differs from the reference within the check's frames, shrunk to at
/// most three fields (over a sequence's frames, for a stateful part), one of them named in
/// `fields` (`a|b`).
pub fn assert_caught(d: &Differential, object: &XdpObject, what: &str, fields: &str) {
    let found = compare(d, object, d.frames);
    let diff = found
        .difference
        .clone()
        .unwrap_or_else(|| panic!("{what}: no difference in {} frames", d.frames));
    let changed: Vec<_> = diff
        .frames()
        .into_iter()
        .flat_map(|f| f.differences(&d.canonical))
        .collect();
    assert!(
        changed
            .iter()
            .any(|(name, ..)| fields.split('|').any(|f| f == *name))
            && changed.len() <= 3,
        "{what}: shrunk to {changed:?}\n{}",
        d.render(&found).0.actual
    );
}

/// [`assert_caught`] for each `(flag, part, fields)`: the part's differential from `part`, the
/// program built with that one `-D` flag by `build`.
pub fn assert_each_caught(
    cases: &[(&str, &'static str, &str)],
    part: impl Fn(&'static str) -> Differential,
    build: impl Fn(&str) -> XdpObject,
) {
    for (define, program, fields) in cases {
        assert_caught(&part(program), &build(define), define, fields);
    }
}

/// Asserts that two runs under each seed find the same difference and shrink it alike.
pub fn assert_deterministic(d: impl Fn(u64) -> Differential, object: &XdpObject) {
    for seed in [0, 7] {
        let d = d(seed);
        let a = compare(&d, object, d.frames).difference.expect("caught");
        let b = compare(&d, object, d.frames).difference.expect("caught");
        assert_eq!(
            (a.index, &a.generated, &a.shrunk, &a.sequence),
            (b.index, &b.generated, &b.shrunk, &b.sequence)
        );
    }
}

/// Prints which parts' differential checks catch each `BUG_` flag of `source` (built by
/// `build`), and how many flags are caught at all; asserts that every flag not in `missed` is
/// caught. A flag of `missed` caught after all is printed, not failed: lab 7.2's sequences
/// left out over time change, from run to run, which frames are compared. `skip`: flags that
/// do not load.
pub fn count_caught(
    source: &Path,
    skip: &[&str],
    build: impl Fn(&str) -> XdpObject,
    parts: &[Differential],
    missed: &[&str],
) {
    let text = std::fs::read_to_string(source).unwrap();
    let mut defines: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("BUG_") && !skip.contains(w))
        .collect();
    defines.sort_unstable();
    defines.dedup();
    let mut uncaught = Vec::new();
    for define in &defines {
        let object = build(define);
        let hit: Vec<&str> = parts
            .iter()
            .filter(|d| compare(d, &object, d.frames).difference.is_some())
            .map(|d| d.program)
            .collect();
        if hit.is_empty() {
            uncaught.push(*define);
        }
        eprintln!("{define}: {hit:?}");
    }
    eprintln!(
        "caught {} of {}",
        defines.len() - uncaught.len(),
        defines.len()
    );
    let surprising: Vec<&&str> = uncaught.iter().filter(|d| !missed.contains(d)).collect();
    assert!(
        surprising.is_empty(),
        "no differential check catches {surprising:?} any more"
    );
    let caught_now: Vec<&&str> = missed.iter().filter(|d| !uncaught.contains(d)).collect();
    if !caught_now.is_empty() {
        eprintln!("caught this time, though listed as missed: {caught_now:?}");
    }
}
