//! Reading and writing a loaded object's maps by name, checked against a lab's contract.

use aya::maps::{Array, DevMap, HashMap, Map, MapData, MapError, PerCpuArray};

use crate::{
    error::{Error, Result},
    map_role::{Role, map_kind},
    object::LoadedProgram,
};

/// The most entries a counter map may have; contracts use a handful.
pub const MAX_COUNTERS: u32 = 4096;

/// The maps of one freshly loaded object, looked up by the names the lab's contract gives.
pub struct Maps<'a> {
    program: &'a mut LoadedProgram,
}

// Here rather than in `object`, so that the loaded-program handle does not depend on this module.
impl LoadedProgram {
    /// The maps of this copy of the object, by name.
    pub fn maps(&mut self) -> Maps<'_> {
        Maps { program: self }
    }
}

impl Maps<'_> {
    /// The map called `name`, or else the one map that fits `role` (see [`crate::map_role`]).
    fn get(&mut self, name: &str, expected: &str, role: Role) -> Result<&mut Map> {
        if self.program.map_mut(name).is_none() {
            self.program.bind_by_role(name, expected, &role)?;
        }
        Ok(self.program.map_mut(name).expect("named or bound above"))
    }

    /// Reads a u32 → u64 counter map (ARRAY, or PERCPU_ARRAY summed over CPUs), every entry.
    /// A map with more than [`MAX_COUNTERS`] entries is refused before any is read: each entry
    /// costs a syscall, and no contract needs that many counters.
    pub fn counters(&mut self, name: &str) -> Result<Vec<u64>> {
        const EXPECTED: &str = "an ARRAY or PERCPU_ARRAY with u32 keys and u64 values";
        let layout = |e: MapError| layout_error(name, EXPECTED, e);
        let map = &*self.get(
            name,
            EXPECTED,
            role(&["an ARRAY", "a PERCPU_ARRAY"], Some(8)),
        )?;
        if let Map::Array(data) | Map::PerCpuArray(data) = map {
            let entries = data
                .info()
                .map_err(Error::during(format!("reading the size of map `{name}`")))?
                .max_entries();
            if entries > MAX_COUNTERS {
                return Err(Error::MapLayout {
                    name: name.into(),
                    expected: format!("{EXPECTED}, at most {MAX_COUNTERS} entries"),
                    found: format!("{entries} entries"),
                });
            }
        }
        match map {
            Map::Array(_) => {
                let array = Array::<&MapData, u64>::try_from(map).map_err(layout)?;
                (0..array.len())
                    .map(|i| array.get(&i, 0).map_err(|e| read_error(name, e)))
                    .collect()
            }
            Map::PerCpuArray(_) => {
                let array = PerCpuArray::<&MapData, u64>::try_from(map).map_err(layout)?;
                (0..array.len())
                    .map(|i| {
                        Ok(array
                            .get(&i, 0)
                            .map_err(|e| read_error(name, e))?
                            .iter()
                            .sum())
                    })
                    .collect()
            }
            other => Err(wrong_kind(name, EXPECTED, other)),
        }
    }

    /// Inserts `key → value` into a HASH or LRU_HASH map with u32 keys and values of
    /// `value.len()` bytes.
    pub fn hash_insert(&mut self, name: &str, key: u32, value: &[u8]) -> Result<()> {
        const EXPECTED: &str = "a HASH or LRU_HASH with u32 keys";
        let size = Some(value.len() as u32);
        let map = self.get(name, EXPECTED, role(&["a HASH", "an LRU_HASH"], size))?;
        if !matches!(map, Map::HashMap(_) | Map::LruHashMap(_)) {
            return Err(wrong_kind(name, EXPECTED, map));
        }
        // aya's typed maps need a Pod value type; go through a byte array of the value's size.
        macro_rules! insert_sized {
            ($($n:literal)*) => {
                match value.len() {
                    $($n => {
                        let mut m = HashMap::<&mut MapData, u32, [u8; $n]>::try_from(map)
                            .map_err(|e| layout_error(name, EXPECTED, e))?;
                        let value = <[u8; $n]>::try_from(value).expect("sized");
                        m.insert(&key, &value, 0)
                            .map_err(Error::during(format!("writing map `{name}`")))
                    })*
                    n => Err(Error::env(format!("unsupported value size {n} for map `{name}`"))),
                }
            };
        }
        insert_sized!(1 2 4 8 12 16 24 32)
    }

    /// Inserts `key` into a HASH or LRU_HASH map with u32 keys whose values the contract leaves
    /// free (a blocklist: any value counts), with a value of the map's own size, every byte
    /// `fill`. The map is found by name, or else by layout whatever its value size.
    pub fn hash_insert_fill(&mut self, name: &str, key: u32, fill: u8) -> Result<()> {
        const EXPECTED: &str = "a HASH or LRU_HASH with u32 keys";
        let map = self.get(name, EXPECTED, role(&["a HASH", "an LRU_HASH"], None))?;
        let size = match &*map {
            Map::HashMap(d) | Map::LruHashMap(d) => d
                .info()
                .map_err(Error::during(format!("reading the layout of map `{name}`")))?
                .value_size(),
            other => return Err(wrong_kind(name, EXPECTED, other)),
        };
        self.hash_insert(name, key, &vec![fill; size as usize])
    }

    /// Sets `index → ifindex` in a DEVMAP (redirect targets).
    pub fn devmap_set(&mut self, name: &str, index: u32, ifindex: u32) -> Result<()> {
        const EXPECTED: &str = "a DEVMAP";
        let map = self.get(name, EXPECTED, role(&["a DEVMAP"], None))?;
        if !matches!(map, Map::DevMap(_)) {
            return Err(wrong_kind(name, EXPECTED, map));
        }
        let mut m =
            DevMap::<&mut MapData>::try_from(map).map_err(|e| layout_error(name, EXPECTED, e))?;
        m.set(index, ifindex, None, 0)
            .map_err(Error::during(format!("writing map `{name}`")))
    }

    /// Writes raw bytes at `index` of an ARRAY map (for example a backend table).
    pub fn array_set(&mut self, name: &str, index: u32, value: &[u8]) -> Result<()> {
        const EXPECTED: &str = "an ARRAY";
        let size = Some(value.len() as u32);
        let map = self.get(name, EXPECTED, role(&["an ARRAY"], size))?;
        if !matches!(map, Map::Array(_)) {
            return Err(wrong_kind(name, EXPECTED, map));
        }
        macro_rules! set_sized {
            ($($n:literal)*) => {
                match value.len() {
                    $($n => {
                        let mut a = Array::<&mut MapData, [u8; $n]>::try_from(map)
                            .map_err(|e| layout_error(name, EXPECTED, e))?;
                        a.set(index, &<[u8; $n]>::try_from(value).expect("sized"), 0)
                            .map_err(Error::during(format!("writing map `{name}`")))
                    })*
                    n => Err(Error::env(format!("unsupported value size {n} for map `{name}`"))),
                }
            };
        }
        set_sized!(4 8 12 16 24 32)
    }

    /// Every HASH and LRU_HASH map of the object (per-CPU ones included), with its key and value
    /// sizes and how many entries it holds now; for contracts that name the kind of state a
    /// program keeps but not the map.
    pub fn hash_maps(&mut self) -> Result<Vec<HashMapSummary>> {
        let mut out = Vec::new();
        // By position, not name: maps a loader created without names all share the name "".
        for (name, map) in self.program.maps_in_order() {
            let Some(data) = hash_data(map) else {
                continue;
            };
            let info = data
                .info()
                .map_err(Error::during(format!("reading the layout of map `{name}`")))?;
            let key_size = info.key_size() as usize;
            let mut keys = std::collections::BTreeSet::new();
            walk_keys(data, key_size, |k| {
                keys.insert(k.to_vec());
            })?;
            out.push(HashMapSummary {
                kind: map_kind(map),
                key_size,
                value_size: info.value_size() as usize,
                entries: keys.len(),
                keys,
                name,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The 4-byte keys held now by the hash maps (per-CPU ones included): every address a
    /// program someone else loaded may keep state for from earlier runs, or that an earlier
    /// run left in a map the harness fills (the blocklist).
    pub fn address_keys(&mut self) -> Result<std::collections::BTreeSet<[u8; 4]>> {
        let mut keys = std::collections::BTreeSet::new();
        for (name, map) in self.program.maps_in_order() {
            let Some(data) = hash_data(map) else {
                continue;
            };
            let info = data
                .info()
                .map_err(Error::during(format!("reading the layout of map `{name}`")))?;
            if info.key_size() == 4 {
                walk_keys(data, 4, |k| {
                    keys.insert(k.try_into().expect("4-byte key"));
                })?;
            }
        }
        Ok(keys)
    }

    /// Empties every hash map (per-CPU and LRU ones included) but the contract's own maps (a
    /// blocklist the harness filled, by name or bound by layout), where a contract puts
    /// per-source state: the state starts afresh, as on a freshly loaded copy.
    pub fn clear_state(&mut self) -> Result<()> {
        self.each_state_map(|data, key_size| {
            let mut keys = Vec::new();
            walk_keys(data, key_size, |k| keys.push(k.to_vec()))?;
            for key in keys {
                match map_syscall(
                    data,
                    BPF_MAP_DELETE_ELEM,
                    key.as_ptr(),
                    std::ptr::null_mut(),
                ) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                    Err(e) => return Err(Error::op("emptying a per-source map", e)),
                }
            }
            Ok(())
        })
    }

    /// Calls `each` with the data and key size of every hash map that can hold
    /// per-source state (not a contract map).
    fn each_state_map(
        &mut self,
        mut each: impl FnMut(&MapData, usize) -> Result<()>,
    ) -> Result<()> {
        let bound = self.program.bound_indices();
        for (i, (name, map)) in self.program.maps_in_order().into_iter().enumerate() {
            let Some(data) = hash_data(map) else {
                continue;
            };
            if bound.contains(&i) || crate::map_role::CONTRACT_NAMES.contains(&name.as_str()) {
                continue;
            }
            let key_size = data
                .info()
                .map_err(Error::during(format!("reading the layout of map `{name}`")))?
                .key_size() as usize;
            each(data, key_size)?;
        }
        Ok(())
    }

    /// Removes `key` from a HASH or LRU_HASH map with u32 keys; a missing key is not an error.
    pub fn hash_remove(&mut self, name: &str, key: u32) -> Result<()> {
        const EXPECTED: &str = "a HASH or LRU_HASH with u32 keys";
        let map = self.get(name, EXPECTED, role(&["a HASH", "an LRU_HASH"], None))?;
        let data = match &*map {
            Map::HashMap(d) | Map::LruHashMap(d) => d,
            other => return Err(wrong_kind(name, EXPECTED, other)),
        };
        let key = key.to_ne_bytes();
        match map_syscall(
            data,
            BPF_MAP_DELETE_ELEM,
            key.as_ptr(),
            std::ptr::null_mut(),
        ) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            Err(e) => Err(Error::op(format!("deleting from map `{name}`"), e)),
        }
    }
}

/// The data of a hash map of any kind (plain, LRU, per-CPU), or `None` for another map.
fn hash_data(map: &Map) -> Option<&MapData> {
    match map {
        Map::HashMap(data)
        | Map::LruHashMap(data)
        | Map::PerCpuHashMap(data)
        | Map::PerCpuLruHashMap(data) => Some(data),
        _ => None,
    }
}

/// One hash map as [`Maps::hash_maps`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashMapSummary {
    /// The map's name.
    pub name: String,
    /// Its kind, as the kernel's docs spell it ("an LRU_HASH").
    pub kind: &'static str,
    /// Key size in bytes.
    pub key_size: usize,
    /// Value size in bytes.
    pub value_size: usize,
    /// Entries it held when listed.
    pub entries: usize,
    /// Those entries' keys: one key in two maps (a program keeping a source's state in
    /// several maps) is one key of the program's state.
    pub keys: std::collections::BTreeSet<Vec<u8>>,
}

const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
const BPF_MAP_GET_NEXT_KEY: libc::c_long = 4;

/// The bpf_attr layout of the map element commands: fd, key, value or next key, flags.
#[repr(C)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

/// Runs a map element command directly: aya's typed maps need the value type at compile time,
/// and these calls must work whatever a student's value looks like.
fn map_syscall(
    data: &MapData,
    cmd: libc::c_long,
    key: *const u8,
    value: *mut u8,
) -> std::io::Result<()> {
    use std::os::fd::{AsFd as _, AsRawFd as _};
    let attr = MapElemAttr {
        map_fd: data.fd().as_fd().as_raw_fd() as u32,
        _pad: 0,
        key: key as u64,
        value: value as u64,
        flags: 0,
    };
    // SAFETY: `attr` is a valid bpf_attr prefix for the command; key and value point at buffers
    // of the map's key size (or are null where the command allows it) that outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            &raw const attr,
            size_of::<MapElemAttr>(),
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Calls `each` with every key of a hash map, walking them with BPF_MAP_GET_NEXT_KEY.
fn walk_keys(data: &MapData, key_size: usize, mut each: impl FnMut(&[u8])) -> Result<()> {
    let mut key: Option<Vec<u8>> = None;
    let mut next = vec![0u8; key_size];
    loop {
        let from = key.as_ref().map_or(std::ptr::null(), std::vec::Vec::as_ptr);
        match map_syscall(data, BPF_MAP_GET_NEXT_KEY, from, next.as_mut_ptr()) {
            Ok(()) => {
                each(&next);
                key = Some(next.clone());
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Err(e) => return Err(Error::op("walking a map's keys", e)),
        }
    }
}

fn wrong_kind(name: &str, expected: &str, found: &Map) -> Error {
    Error::MapLayout {
        name: name.into(),
        expected: expected.into(),
        found: map_kind(found).into(),
    }
}

/// A failed read of map `name`, keeping aya's error as the cause.
fn read_error(name: &str, e: MapError) -> Error {
    Error::op(format!("reading map `{name}`"), e)
}

fn layout_error(name: &str, expected: &str, e: MapError) -> Error {
    // aya names the harness's type size `size` and the map's own size `expected`.
    let found = match e {
        MapError::InvalidKeySize {
            size: ours,
            expected: theirs,
        } => format!("{theirs}-byte keys where {ours}-byte ones were expected"),
        MapError::InvalidValueSize {
            size: ours,
            expected: theirs,
        } => format!("{theirs}-byte values where {ours}-byte ones were expected"),
        e => e.to_string(),
    };
    Error::MapLayout {
        name: name.into(),
        expected: expected.into(),
        found,
    }
}

/// A role with u32 keys (every contract map has them).
fn role(kinds: &'static [&'static str], value_size: Option<u32>) -> Role {
    Role {
        kinds,
        key_size: Some(4),
        value_size,
    }
}

/// How much each index of a counter map moved between two readings (wrapping, so a counter
/// that overflowed still gives its true delta). Indexes missing from `before` count from zero.
pub fn deltas(before: &[u64], after: &[u64]) -> Vec<u64> {
    after
        .iter()
        .zip(before.iter().chain(std::iter::repeat(&0)))
        .map(|(a, b)| a.wrapping_sub(*b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_messages_name_what_was_found_and_what_was_expected() {
        // aya: `size` is the harness's value type, `expected` the map's own value size.
        let e = layout_error(
            "stats",
            "u64 values",
            MapError::InvalidValueSize {
                size: 8,
                expected: 4,
            },
        );
        let text = e.to_string();
        assert!(
            text.contains("4-byte values where 8-byte ones were expected"),
            "{text}"
        );
    }
}

#[cfg(test)]
mod role_tests {
    use std::path::Path;

    use crate::{FailureClass, object::XdpObject};

    fn object(defines: &[&str]) -> XdpObject {
        let dir = std::env::temp_dir().join(format!("xdplab-roles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/testdata/roles.c");
        XdpObject::from_path(crate::clang::compile(&source, defines, &dir).expect("clang"))
            .expect("object")
    }

    fn program(defines: &[&str]) -> crate::object::LoadedProgram {
        object(defines).load(Some("roles")).expect("load")
    }

    /// A program with no `stats` map: its `backend_stats` (the only u32 → u64 ARRAY) carries
    /// another contract map's name, so it is not read as `stats`.
    #[test]
    fn another_contract_map_is_not_bound_by_layout() {
        let mut p = program(&[]);
        let e = p.maps().counters("stats").expect_err("no stats map");
        assert_eq!(e.class(), FailureClass::MapLayout);
        assert!(e.to_string().contains("`backend_stats`"), "{e}");
        assert_eq!(p.map_bindings(), &[]);
        assert_eq!(
            p.maps().counters("backend_stats").expect("by name").len(),
            3
        );
    }

    /// A blocklist whose values the contract leaves free is found by layout whatever its value
    /// size, and written with values of that size.
    #[test]
    fn an_any_value_map_takes_the_value_size_of_the_map_found() {
        let mut p = program(&[]);
        p.maps()
            .hash_insert_fill("blacklist", 0, 1)
            .expect("1-byte values");
        let [m] = p
            .maps()
            .hash_maps()
            .expect("hash maps")
            .try_into()
            .expect("one");
        assert_eq!(
            (m.name.as_str(), m.value_size, m.entries),
            ("blocked", 1, 1)
        );
        assert_eq!(p.map_bindings()[0].contract, "blacklist");
    }
}
