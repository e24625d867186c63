//! Seeded mutation testing of object loading: byte-mutated objects (the reference solutions
//! and a clang-built C object) must end in an `Ok` or an error, never in a panic that escapes,
//! within a bounded time. The count of panics caught at the loader boundary is printed, per
//! 1,000 mutated objects.

use std::{path::Path, sync::atomic::Ordering, time::Instant};

use super::XdpObject;

/// Mutated objects per run of the normal suite.
const MUTANTS: usize = 1000;

/// The objects to mutate: every reference solution and the lab 7.1 C program.
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = [
        reference::lab_7_1(),
        reference::lab_7_2(),
        reference::lab_7_3(),
    ]
    .into_iter()
    .filter(|o| !o.is_empty())
    .map(<[u8]>::to_vec)
    .collect();
    let c =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs/lab-7-1/tests/programs/filter.c");
    let out = std::env::temp_dir().join(format!("xdplab-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let object = crate::clang::compile(&c, &[], &out).expect("clang builds the C program");
    seeds.push(std::fs::read(object).unwrap());
    std::fs::remove_dir_all(out).unwrap();
    seeds
}

/// One mutation: a few random bytes changed, a run of bytes overwritten, or a truncation.
fn mutate(rng: &mut fastrand::Rng, seed: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    match rng.u8(0..10) {
        0 => bytes.truncate(rng.usize(4..bytes.len())),
        1 => {
            let at = rng.usize(4..bytes.len());
            let len = rng.usize(1..64).min(bytes.len() - at);
            rng.fill(&mut bytes[at..at + len]);
        }
        _ => {
            for _ in 0..rng.usize(1..9) {
                let at = rng.usize(4..bytes.len());
                bytes[at] = rng.u8(..);
            }
        }
    }
    bytes
}

#[test]
fn mutated_objects_never_panic() {
    assert!(crate::host::is_root(), "loading needs root");
    let seeds = seeds();
    let mut rng = fastrand::Rng::with_seed(0x7d1a_b5ee_d000_0001);
    let start = Instant::now();
    let caught_before = super::PANICS_CAUGHT.load(Ordering::Relaxed);
    let (mut done, mut loaded, mut refused) = (0usize, 0usize, 0usize);
    // A fixed number, not a time budget: the same mutants on every machine (3-4 s for all on 2 cores).
    while done < MUTANTS {
        let seed = &seeds[done % seeds.len()];
        let bytes = mutate(&mut rng, seed);
        let outcome = XdpObject::from_bytes(format!("mutant-{done}.o"), bytes).and_then(|o| {
            let name = o.programs()[0].clone();
            o.load(Some(&name)).map(drop)
        });
        match outcome {
            Ok(()) => loaded += 1,
            Err(_) => refused += 1,
        }
        done += 1;
    }
    // Other tests in this process may load objects too; nextest runs each test alone.
    let caught = super::PANICS_CAUGHT.load(Ordering::Relaxed) - caught_before;
    println!(
        "{done} mutated objects in {:.1} s: {loaded} loaded, {refused} refused with an error \
         ({caught} of them loader panics caught) ({:.1} per 1,000)",
        start.elapsed().as_secs_f64(),
        caught as f64 * 1000.0 / done as f64
    );
}
