//! Finding a contract's map by its role when no map has the contract's name.
//!
//! Programs loaded by the course's Clojure library create their maps through the bpf syscall,
//! with no name unless the student passes `:map-name`. Such a program's `stats` map is still
//! recognisable: it is the one ARRAY of u32 to u64 the program uses. When exactly one map fits
//! the role, it is used and the report says which; otherwise the error lists every map.

use aya::maps::{Map, MapData};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Every map name the labs' contracts give. A map carrying one of them is that contract map and
/// never stands in for another by layout (a program with no `stats` map must not have its
/// `backend_stats` read as `stats`); a lab that adds a contract map adds its name here.
pub const CONTRACT_NAMES: &[&str] = &[
    "stats",
    "backend_stats",
    "backends",
    "tx_ports",
    "blacklist",
];

/// What a contract's map must look like: the accessor that reads or writes it decides.
#[derive(Debug, Clone, Copy)]
pub struct Role {
    /// The kinds that fit, as `map_kind` names them ("an ARRAY").
    pub kinds: &'static [&'static str],
    /// The key size in bytes, when the role fixes it.
    pub key_size: Option<u32>,
    /// The value size in bytes, when the role fixes it.
    pub value_size: Option<u32>,
}

/// Which map stood in for a contract's map, and how it was found; reports list these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapBinding {
    /// The program (part) whose map it is.
    pub program: String,
    /// The contract's name for the map (`stats`).
    pub contract: String,
    /// The map that was used, described as the error listing describes maps.
    pub used: String,
    /// How it was found: `by-layout` (the one map that fits the role) or `pin` (a map pin
    /// named after the contract's map).
    pub found: String,
    /// Where the map sits in the program's map list.
    #[serde(skip)]
    pub(crate) index: usize,
}

impl MapBinding {
    /// One line for the text report.
    pub fn line(&self) -> String {
        let how = match self.found.as_str() {
            "pin" => "its pin",
            _ => "its layout, as no map has that name",
        };
        format!(
            "map `{}` of {}: {}, found by {how}",
            self.contract, self.program, self.used
        )
    }
}

/// One of a program's maps, as the kernel describes it.
#[derive(Debug, Clone)]
pub(crate) struct MapSummary {
    /// Position in the program's map list (what a binding refers to).
    pub index: usize,
    /// The name the map goes by here: the kernel's or object's, a pin's, or empty.
    pub name: String,
    /// Its kind, as `map_kind` names it.
    pub kind: &'static str,
    /// The kernel id, shown only for maps the student created.
    pub id: Option<u32>,
    /// Key size in bytes, when the kernel says.
    pub key_size: Option<u32>,
    /// Value size in bytes, when the kernel says.
    pub value_size: Option<u32>,
    /// Capacity, when the kernel says.
    pub max_entries: Option<u32>,
}

impl MapSummary {
    /// Describes `map`; `with_id` for maps someone else created, whose ids stay the same from
    /// run to run (a fresh load's would make every report differ).
    pub(crate) fn of(index: usize, name: &str, map: &Map, with_id: bool) -> Self {
        let info = data(map).and_then(|d| d.info().ok());
        Self {
            index,
            name: name.to_owned(),
            kind: map_kind(map),
            id: info
                .as_ref()
                .map(aya::maps::MapInfo::id)
                .filter(|_| with_id),
            key_size: info.as_ref().map(aya::maps::MapInfo::key_size),
            value_size: info.as_ref().map(aya::maps::MapInfo::value_size),
            max_entries: info.as_ref().map(aya::maps::MapInfo::max_entries),
        }
    }

    /// Whether the map can stand in for contract map `name` by its layout: it fits `role` and
    /// does not carry another contract map's name.
    pub(crate) fn stands_in_for(&self, name: &str, role: &Role) -> bool {
        self.fits(role) && (self.name == name || !CONTRACT_NAMES.contains(&self.name.as_str()))
    }

    pub(crate) fn fits(&self, role: &Role) -> bool {
        role.kinds.contains(&self.kind)
            && role.key_size.is_none_or(|k| self.key_size == Some(k))
            && role.value_size.is_none_or(|v| self.value_size == Some(v))
    }

    /// `id 42: ARRAY, 4-byte keys, 8-byte values, 2 entries, (unnamed)`.
    pub(crate) fn describe(&self) -> String {
        let size = |v: Option<u32>| v.map_or("?".to_owned(), |v| v.to_string());
        let id = self.id.map(|id| format!("id {id}: ")).unwrap_or_default();
        let kind = self.kind.trim_start_matches("an ").trim_start_matches("a ");
        let name = if self.name.is_empty() {
            "(unnamed)".to_owned()
        } else {
            format!("`{}`", self.name)
        };
        format!(
            "{id}{kind}, {}-byte keys, {}-byte values, {} entries, {name}",
            size(self.key_size),
            size(self.value_size),
            size(self.max_entries)
        )
    }
}

/// The data behind a map of the kinds contracts use (others are listed without sizes).
fn data(map: &Map) -> Option<&MapData> {
    match map {
        Map::Array(d)
        | Map::PerCpuArray(d)
        | Map::HashMap(d)
        | Map::LruHashMap(d)
        | Map::PerCpuHashMap(d)
        | Map::PerCpuLruHashMap(d)
        | Map::DevMap(d)
        | Map::DevMapHash(d)
        | Map::LpmTrie(d)
        | Map::RingBuf(d)
        | Map::PerfEventArray(d)
        | Map::ProgramArray(d)
        | Map::Queue(d)
        | Map::Stack(d)
        | Map::XskMap(d)
        | Map::CpuMap(d)
        | Map::BloomFilter(d)
        | Map::Unsupported(d) => Some(d),
        _ => None,
    }
}

pub(crate) fn missing(name: &str, expected: &str, why: &str, maps: &[MapSummary]) -> Error {
    let listing = if maps.is_empty() {
        "it uses no maps. ".to_owned()
    } else {
        let mut lines: Vec<String> = maps.iter().map(|m| format!("  {}", m.describe())).collect();
        lines.sort();
        format!("it uses:\n{}\n", lines.join("\n"))
    };
    Error::MapMissing {
        name: name.into(),
        expected: expected.into(),
        available: format!("no map the program uses is named `{name}`, and {why}; {listing}"),
    }
}

/// A short name for a map's type, as the kernel's docs spell it.
pub(crate) fn map_kind(map: &Map) -> &'static str {
    match map {
        Map::Array(_) => "an ARRAY",
        Map::PerCpuArray(_) => "a PERCPU_ARRAY",
        Map::HashMap(_) => "a HASH",
        Map::LruHashMap(_) => "an LRU_HASH",
        Map::PerCpuHashMap(_) => "a PERCPU_HASH",
        Map::PerCpuLruHashMap(_) => "a PERCPU_LRU_HASH",
        Map::DevMap(_) => "a DEVMAP",
        Map::DevMapHash(_) => "a DEVMAP_HASH",
        Map::RingBuf(_) => "a RINGBUF",
        Map::PerfEventArray(_) => "a PERF_EVENT_ARRAY",
        Map::LpmTrie(_) => "an LPM_TRIE",
        _ => "another map type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(kind: &'static str, key: u32, value: u32, name: &str) -> MapSummary {
        MapSummary {
            index: 0,
            name: name.into(),
            kind,
            id: Some(7),
            key_size: Some(key),
            value_size: Some(value),
            max_entries: Some(4),
        }
    }

    const COUNTERS: Role = Role {
        kinds: &["an ARRAY", "a PERCPU_ARRAY"],
        key_size: Some(4),
        value_size: Some(8),
    };

    #[test]
    fn a_counter_role_takes_arrays_of_u32_to_u64_only() {
        assert!(summary("an ARRAY", 4, 8, "").fits(&COUNTERS));
        assert!(summary("a PERCPU_ARRAY", 4, 8, "x").fits(&COUNTERS));
        assert!(!summary("an ARRAY", 4, 4, "").fits(&COUNTERS));
        assert!(!summary("a HASH", 4, 8, "").fits(&COUNTERS));
    }

    #[test]
    fn another_contract_map_never_stands_in_by_layout() {
        assert!(!summary("an ARRAY", 4, 8, "backend_stats").stands_in_for("stats", &COUNTERS));
        assert!(summary("an ARRAY", 4, 8, "counts").stands_in_for("stats", &COUNTERS));
        assert!(summary("an ARRAY", 4, 8, "").stands_in_for("stats", &COUNTERS));
        assert!(summary("an ARRAY", 4, 8, "stats").stands_in_for("stats", &COUNTERS));
    }

    #[test]
    fn unnamed_maps_are_described_as_unnamed() {
        assert_eq!(
            summary("an ARRAY", 4, 8, "").describe(),
            "id 7: ARRAY, 4-byte keys, 8-byte values, 4 entries, (unnamed)"
        );
        assert!(
            summary("a HASH", 4, 8, "blocked")
                .describe()
                .ends_with("`blocked`")
        );
        let fresh = MapSummary {
            id: None,
            ..summary("a PERCPU_ARRAY", 4, 8, "stats")
        };
        assert_eq!(
            fresh.describe(),
            "PERCPU_ARRAY, 4-byte keys, 8-byte values, 4 entries, `stats`"
        );
    }
}
