//! Programs a student pinned on a bpffs, and the harness's own pin directories.

use std::path::{Path, PathBuf};

use aya::{
    maps::{Map, MapData},
    programs::Xdp,
};

use super::{Inner, LoadedProgram, ProgramSource};
use crate::{
    error::{Error, Result},
    input::{InputError, PathKind},
};

/// Where pins made by the harness live (bpffs root; names start with `xdplab-<pid>-`).
pub(crate) const PIN_DIR: &str = "/sys/fs/bpf";

/// XDP programs a student loaded and pinned on a bpffs: a directory of pins named after the
/// programs (`/sys/fs/bpf/alice/ip_filter`), or one pin. Their maps are found through the
/// program's own map references, by name.
#[derive(Debug, Clone)]
pub struct PinnedPrograms {
    origin: PathBuf,
    pins: Vec<(String, PathBuf)>,
}

/// The most pins a directory of pinned programs may hold: a lab has a handful of programs.
const MAX_PINS: usize = 64;
/// `f_type` of a bpffs in statfs(2).
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

impl PinnedPrograms {
    /// Lists the pins under `path` (a directory of pins, or a single pin) on a bpffs; any
    /// other path is refused before its entries are read.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let unreadable = |source| InputError::Unreadable {
            kind: PathKind::Pins,
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(unreadable)?;
        if !on_bpffs(path) {
            return Err(InputError::WrongType {
                kind: PathKind::Pins,
                path: path.to_owned(),
                found: "not on a bpffs",
                wanted: "a pin or a folder of pins under /sys/fs/bpf",
            }
            .into());
        }
        let mut pins = Vec::new();
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).map_err(unreadable)?.flatten() {
                if pins.len() == MAX_PINS {
                    return Err(Error::BadObject {
                        path: path.to_owned(),
                        reason: format!(
                            "it holds more than {MAX_PINS} entries; a lab has a handful of programs"
                        ),
                    });
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                pins.push((name, entry.path()));
            }
        } else {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            pins.push((name, path.to_owned()));
        }
        pins.sort();
        Ok(Self {
            origin: path.to_owned(),
            pins,
        })
    }
}

/// Whether `path` lies on a bpffs (pins exist nowhere else).
fn on_bpffs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid C string and `st` a properly sized out-parameter.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && st.f_type as i64 == BPF_FS_MAGIC
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
        let ids = xdp
            .info()
            .and_then(|i| i.map_ids())
            .map_err(Error::env)?
            .unwrap_or_default();
        let mut maps = Vec::new();
        for id in ids {
            let data = MapData::from_id(id).map_err(Error::env)?;
            let name = data
                .info()
                .ok()
                .and_then(|i| i.name_as_str().map(str::to_owned))
                .unwrap_or_default();
            maps.push((name, Map::from_map_data(data).map_err(Error::env)?));
        }
        Ok(LoadedProgram {
            name: program.into(),
            inner: Inner::Pinned { xdp, maps },
        })
    }
}

/// Mounts a bpffs on /sys/fs/bpf unless one is there (a fresh machine of this kind has none).
pub fn ensure_bpffs() -> Result<()> {
    let mounts = std::fs::read_to_string("/proc/mounts").map_err(Error::env)?;
    if mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(PIN_DIR))
    {
        return Ok(());
    }
    let rc = unsafe {
        libc::mount(
            c"bpf".as_ptr(),
            c"/sys/fs/bpf".as_ptr(),
            c"bpf".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(Error::env(format!(
            "cannot mount a bpffs on {PIN_DIR}: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// A directory on the bpffs owned by this process (`/sys/fs/bpf/xdplab-<pid>-<n>`), removed
/// with everything pinned in it when dropped; `xdplab clean` removes those of killed runs.
#[derive(Debug)]
pub struct PinDir {
    path: PathBuf,
}

impl PinDir {
    /// Creates a fresh pin directory, mounting the bpffs first if needed.
    pub fn create() -> Result<Self> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        ensure_bpffs()?;
        let _creating = crate::signals::creating();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(PIN_DIR).join(format!("xdplab-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(Error::env)?;
        Ok(Self { path })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
