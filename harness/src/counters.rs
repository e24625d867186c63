//! The one way counter maps are compared: a reading before, a reading after, their deltas.

use std::collections::BTreeMap;

use crate::{error::Result, target::Target};

/// How much each index of a counter map moved between two readings (wrapping, so a counter
/// that overflowed still gives its true delta). Indexes missing from `before` count from zero.
pub fn deltas(before: &[u64], after: &[u64]) -> Vec<u64> {
    after
        .iter()
        .zip(before.iter().chain(std::iter::repeat(&0)))
        .map(|(a, b)| a.wrapping_sub(*b))
        .collect()
}

/// Only the indexes that moved, by index.
pub fn moved(deltas: &[u64]) -> BTreeMap<u32, u64> {
    deltas
        .iter()
        .enumerate()
        .filter(|(_, d)| **d != 0)
        .map(|(i, d)| (i as u32, *d))
        .collect()
}

/// Runs `f` on the target and returns its result with the deltas of counter map `map` across it.
pub fn across<T>(
    target: &mut dyn Target,
    map: &str,
    f: impl FnOnce(&mut dyn Target) -> Result<T>,
) -> Result<(T, Vec<u64>)> {
    let before = target.counters(map)?;
    let out = f(target)?;
    let after = target.counters(map)?;
    Ok((out, deltas(&before, &after)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_wrap_and_count_new_indexes_from_zero() {
        assert_eq!(deltas(&[u64::MAX, 5], &[1, 5, 7]), vec![2, 0, 7]);
        assert_eq!(moved(&[2, 0, 7]), BTreeMap::from([(0, 2), (2, 7)]));
    }
}
