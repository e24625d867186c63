//! Programs a student loaded and pinned on a bpffs, as the course's Clojure library and
//! `bpftool prog loadall` leave them.

use std::path::{Path, PathBuf};

use aya::programs::{ProgramInfo, Xdp};

use crate::{
    error::{Error, Result},
    object::{LoadedProgram, ProgramSource},
    source::adopt::adopt,
};

/// XDP programs pinned on a bpffs: a directory of pins named after the programs
/// (`/sys/fs/bpf/alice/ip_filter`), or one pin. Map pins in the directory named after the
/// contract's maps (`/sys/fs/bpf/alice/stats`) say which map is which; otherwise maps are
/// found through the program's own map references, by name or by role.
#[derive(Debug, Clone)]
pub struct PinnedPrograms {
    origin: PathBuf,
    pins: Vec<(String, PathBuf)>,
    map_pins: Vec<(String, PathBuf)>,
}

impl PinnedPrograms {
    /// Lists the pins under `path` (a directory of pins, or a single pin), telling programs
    /// from maps.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let unreadable = |source| Error::Unreadable {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(unreadable)?;
        let mut pins = Vec::new();
        let mut map_pins = Vec::new();
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).map_err(unreadable)?.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                // Program info can only be read from a program: that tells the pins apart.
                if ProgramInfo::from_pin(entry.path()).is_ok() {
                    pins.push((name, entry.path()));
                } else {
                    map_pins.push((name, entry.path()));
                }
            }
        } else {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            pins.push((name, path.to_owned()));
        }
        pins.sort();
        map_pins.sort();
        Ok(Self {
            origin: path.to_owned(),
            pins,
            map_pins,
        })
    }
}

impl ProgramSource for PinnedPrograms {
    fn origin(&self) -> String {
        format!("pinned {}", self.origin.display())
    }

    fn programs(&self) -> Vec<String> {
        self.pins.iter().map(|(n, _)| n.clone()).collect()
    }

    fn load(&self, program: &str) -> Result<LoadedProgram> {
        let Some((_, pin)) = self.pins.iter().find(|(n, _)| n == program) else {
            let names: Vec<&str> = self.pins.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::ProgramNotFound {
                name: program.into(),
                available: names.join(", "),
            });
        };
        let xdp = Xdp::from_pin(pin, aya_obj::programs::XdpAttachType::Interface).map_err(|e| {
            Error::BadObject {
                path: pin.clone(),
                reason: format!("not a pinned XDP program: {e}"),
            }
        })?;
        adopt(program, xdp, &self.map_pins)
    }
}
