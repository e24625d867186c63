//! Programs a student loaded and pinned on a bpffs, as the course's Clojure library and
//! `bpftool prog loadall` leave them.

use std::path::{Path, PathBuf};

use std::os::fd::{FromRawFd as _, OwnedFd};

use aya::programs::Xdp;

use crate::{
    error::{Error, Result},
    input::{InputError, PathKind, on_bpffs},
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
        let mut map_pins = Vec::new();
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).map_err(unreadable)?.flatten() {
                if pins.len() + map_pins.len() == MAX_PINS {
                    return Err(Error::BadObject {
                        path: path.to_owned(),
                        reason: format!(
                            "it holds more than {MAX_PINS} entries; a lab has a handful of programs"
                        ),
                    });
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                match pin_kind(&entry.path()) {
                    Some(PinKind::Map) => map_pins.push((name, entry.path())),
                    // Anything else is offered as a program; loading it says what is wrong.
                    _ => pins.push((name, entry.path())),
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

/// The most pins a directory of pinned programs may hold: a lab has a handful of programs
/// and maps.
const MAX_PINS: usize = 64;
#[derive(Debug, PartialEq)]
enum PinKind {
    Program,
    Map,
}

/// What a pin holds. aya opens any pin as a program or a map alike, and reads a map's info as
/// a program's, so ask the kernel what the fd is: its anon inode is `bpf-prog` or `bpf-map`.
fn pin_kind(path: &Path) -> Option<PinKind> {
    #[repr(C)]
    struct ObjGetAttr {
        pathname: u64,
        bpf_fd: u32,
        file_flags: u32,
    }
    const BPF_OBJ_GET: libc::c_long = 7;
    let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    let attr = ObjGetAttr {
        pathname: path.as_ptr() as u64,
        bpf_fd: 0,
        file_flags: 0,
    };
    // SAFETY: `attr` is the BPF_OBJ_GET prefix of `union bpf_attr`; the path outlives the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_OBJ_GET,
            &raw const attr,
            size_of::<ObjGetAttr>(),
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    use std::os::fd::AsRawFd as _;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    let link = link.to_string_lossy();
    if link.contains("bpf-prog") {
        Some(PinKind::Program)
    } else if link.contains("bpf-map") {
        Some(PinKind::Map)
    } else {
        None
    }
}

impl ProgramSource for PinnedPrograms {
    fn origin(&self) -> String {
        format!("pinned {}", self.origin.display())
    }

    fn programs(&self) -> Vec<String> {
        self.pins.iter().map(|(n, _)| n.clone()).collect()
    }

    fn supply_hint(&self, program: &str) -> String {
        let dir = if self.pins.len() == 1 && self.pins[0].1 == self.origin {
            self.origin.parent().unwrap_or(&self.origin)
        } else {
            &self.origin
        };
        format!(
            "Load it and pin it at {}/{program} (the pin's file name is the program's name).",
            dir.display()
        )
    }

    fn load(&self, program: &str) -> Result<LoadedProgram> {
        let Some((_, pin)) = self.pins.iter().find(|(n, _)| n == program) else {
            let names: Vec<&str> = self.pins.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::ProgramNotFound {
                name: program.into(),
                available: names.join(", "),
                hint: None,
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
