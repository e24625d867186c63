//! Counter deltas across a step: what a program's counter maps say it counted.

use std::collections::BTreeMap;

use crate::{error::Result, target::Target};

/// Runs `f` and returns its result with the deltas of each counter map in `maps` (by index,
/// only the entries that moved), in the order given.
pub fn across<T>(
    t: &mut dyn Target,
    maps: &[&str],
    f: impl FnOnce(&mut dyn Target) -> Result<T>,
) -> Result<(T, Vec<BTreeMap<u32, u64>>)> {
    let mut before = Vec::new();
    for map in maps {
        before.push(t.program().maps().counters(map)?);
    }
    let out = f(t)?;
    let mut deltas = Vec::new();
    for (map, before) in maps.iter().zip(before) {
        let after = t.program().maps().counters(map)?;
        deltas.push(
            after
                .iter()
                .zip(before.iter().chain(std::iter::repeat(&0)))
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .map(|(i, (a, b))| (i as u32, a.wrapping_sub(*b)))
                .collect(),
        );
    }
    Ok((out, deltas))
}
