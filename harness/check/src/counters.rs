//! The one way counter maps are compared: a reading before, a reading after, their deltas
//! ([`deltas`], beside the map reader), the indexes that moved, and the layout they need.

use std::collections::BTreeMap;

use kernel::{
    error::{Error, Result},
    maps::deltas,
    target::Target,
};

/// Only the indexes that moved, by index.
pub fn moved(deltas: &[u64]) -> BTreeMap<u32, u64> {
    deltas
        .iter()
        .enumerate()
        .filter(|(_, d)| **d != 0)
        .map(|(i, d)| (i as u32, *d))
        .collect()
}

/// Fails with a map-layout error, naming the map's size, when counter map `map` (read as
/// `read`) has no entry at `index`, the highest index the contract counts into: a read past
/// its end would otherwise show as "+0".
pub fn require(map: &str, read: &[u64], index: Option<u32>) -> Result<()> {
    match index {
        Some(i) if i as usize >= read.len() => Err(Error::MapLayout {
            name: map.into(),
            expected: format!(
                "a counter map with at least {} entries (the contract counts into index {i})",
                i + 1
            ),
            found: format!("{} entries", read.len()),
        }),
        _ => Ok(()),
    }
}

/// Runs `f` on the target and returns its result with the deltas of counter map `map` across it.
pub fn across<T>(
    target: &mut dyn Target,
    map: &str,
    f: impl FnOnce(&mut dyn Target) -> Result<T>,
) -> Result<(T, Vec<u64>)> {
    across_up_to(target, map, None, f)
}

/// [`across`], first requiring the map to have index `highest`, the highest the caller will
/// compare (see [`require`]).
pub fn across_up_to<T>(
    target: &mut dyn Target,
    map: &str,
    highest: Option<u32>,
    f: impl FnOnce(&mut dyn Target) -> Result<T>,
) -> Result<(T, Vec<u64>)> {
    let before = target.counters(map)?;
    require(map, &before, highest)?;
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

    #[test]
    fn a_counter_map_too_small_for_the_contract_is_a_layout_error_naming_its_size() {
        assert!(require("stats", &[0; 4], Some(3)).is_ok());
        assert!(require("stats", &[0; 4], None).is_ok());
        let e = require("stats", &[0; 2], Some(4)).expect_err("too small");
        assert_eq!(e.class(), kernel::FailureClass::MapLayout);
        let text = e.to_string();
        assert!(
            text.contains("2 entries") && text.contains("at least 5"),
            "{text}"
        );
    }
}
