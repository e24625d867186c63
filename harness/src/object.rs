//! XDP objects: reading an ELF file, finding its programs, and loading fresh copies of them.

use std::{
    fmt,
    os::fd::AsFd,
    path::{Path, PathBuf},
    sync::Arc,
};

use aya::{
    Ebpf, EbpfError, EbpfLoader,
    maps::{Map, MapData},
    programs::{
        ProgramError, TestRun, TestRunOptions, Xdp,
        xdp::{XdpLinkId, XdpMode},
    },
};

use crate::{
    error::{Error, Result},
    maps::Maps,
    verdict::Verdict,
};

/// Where pins made by the harness live (bpffs root; names start with `xdplab-<pid>-`).
pub(crate) const PIN_DIR: &str = "/sys/fs/bpf";

/// An XDP ELF object: its bytes, where they came from, and the XDP programs it declares.
///
/// The object is only parsed here; every [`XdpObject::load`] creates fresh maps and a fresh
/// program in the kernel, so one part's state never leaks into another's.
#[derive(Clone)]
pub struct XdpObject {
    origin: PathBuf,
    bytes: Arc<[u8]>,
    programs: Vec<String>,
}

impl fmt::Debug for XdpObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XdpObject")
            .field("origin", &self.origin)
            .field("programs", &self.programs)
            .finish()
    }
}

impl XdpObject {
    /// Reads and checks an object file given by a user.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(path, bytes)
    }

    /// Checks an object held in memory; `origin` names it in messages.
    pub fn from_bytes(origin: impl AsRef<Path>, bytes: impl Into<Arc<[u8]>>) -> Result<Self> {
        let origin = origin.as_ref().to_owned();
        let bytes: Arc<[u8]> = bytes.into();
        if !bytes.starts_with(b"\x7fELF") {
            let magic = bytes
                .iter()
                .take(4)
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>();
            return Err(Error::NotElf {
                path: origin,
                magic: if magic.is_empty() {
                    "nothing: it is empty".into()
                } else {
                    magic.join(" ")
                },
            });
        }
        let parsed = aya_obj::Object::parse(&bytes).map_err(|e| Error::BadObject {
            path: origin.clone(),
            reason: e.to_string(),
        })?;
        let mut programs = Vec::new();
        let mut others = Vec::new();
        for (name, program) in &parsed.programs {
            match program.section {
                aya_obj::ProgramSection::Xdp { .. } => programs.push(name.clone()),
                _ => others.push(name.clone()),
            }
        }
        programs.sort();
        others.sort();
        if programs.is_empty() {
            return Err(Error::NoXdpProgram {
                path: origin,
                others: if others.is_empty() {
                    String::new()
                } else {
                    format!(" (it has {}, which are not XDP)", others.join(", "))
                },
            });
        }
        Ok(Self {
            origin,
            bytes,
            programs,
        })
    }

    /// Where the object came from, for messages and reports.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// The XDP programs the object declares, sorted by name.
    pub fn programs(&self) -> &[String] {
        &self.programs
    }

    /// Picks a program: the one named, or the only one when no name is given.
    pub fn resolve(&self, name: Option<&str>) -> Result<String> {
        match name {
            Some(name) if self.programs.iter().any(|p| p == name) => Ok(name.to_owned()),
            None if self.programs.len() == 1 => Ok(self.programs[0].clone()),
            _ => Err(Error::ProgramNotFound {
                name: name.unwrap_or("<unnamed>").to_owned(),
                available: self.programs.join(", "),
            }),
        }
    }

    /// Loads a fresh copy of the object (new maps) and loads `program` into the kernel.
    pub fn load(&self, program: Option<&str>) -> Result<LoadedProgram> {
        let name = self.resolve(program)?;
        let mut ebpf = EbpfLoader::new().load(&self.bytes).map_err(|e| match e {
            EbpfError::MapError(e) => Error::BadObject {
                path: self.origin.clone(),
                reason: format!("a map could not be created: {e}"),
            },
            e => Error::BadObject {
                path: self.origin.clone(),
                reason: e.to_string(),
            },
        })?;
        let xdp: &mut Xdp = ebpf
            .program_mut(&name)
            .expect("listed by parse")
            .try_into()
            .map_err(|e: ProgramError| Error::env(e))?;
        xdp.load().map_err(|e| load_error(&name, e))?;
        Ok(LoadedProgram {
            name,
            inner: Inner::Object(ebpf),
        })
    }
}

/// Turns aya's load error into the user-facing one, trimming the verifier log.
fn load_error(program: &str, e: ProgramError) -> Error {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            let (log, insns) = trim_verifier_log(&log);
            Error::Verifier {
                program: program.to_owned(),
                errno: io_error.to_string(),
                log,
                insns,
            }
        }
        e => Error::env(format!("loading `{program}` failed: {e}")),
    }
}

/// Keeps the end of a verifier log, where the rejected instruction and the reason are, and
/// reads the "processed N insns" count.
pub fn trim_verifier_log(log: &str) -> (String, Option<u64>) {
    const KEEP: usize = 12;
    // The verification time differs run to run; leaving it out keeps reports reproducible.
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("verification time"))
        .collect();
    let insns = lines.iter().find_map(|l| {
        l.strip_prefix("processed ")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    });
    let tail = &lines[lines.len().saturating_sub(KEEP)..];
    let mut out = String::new();
    if lines.len() > KEEP {
        out.push_str(&format!("  ... ({} earlier lines)\n", lines.len() - KEEP));
    }
    for l in tail {
        out.push_str("  ");
        out.push_str(l);
        out.push('\n');
    }
    (out.trim_end().to_owned(), insns)
}

/// How an XDP program is attached to a veth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachMode {
    /// In the veth driver (XDP_FLAGS_DRV_MODE).
    Native,
    /// In the generic network stack (XDP_FLAGS_SKB_MODE).
    Generic,
}

impl From<AttachMode> for XdpMode {
    fn from(m: AttachMode) -> Self {
        match m {
            AttachMode::Native => XdpMode::Driver,
            AttachMode::Generic => XdpMode::Skb,
        }
    }
}

/// One XDP program loaded in the kernel, with the maps of its (fresh) object.
///
/// Dropping it detaches the program and frees the maps; aya attaches through bpf links, which
/// the kernel also releases when the process dies.
pub struct LoadedProgram {
    name: String,
    inner: Inner,
}

// One value per loaded program: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum Inner {
    /// Loaded by the harness from an object: it owns the object's maps.
    Object(Ebpf),
    /// Loaded and pinned by the student: maps come from the program's own map references.
    Pinned { xdp: Xdp, maps: Vec<(String, Map)> },
}

impl fmt::Debug for LoadedProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedProgram")
            .field("name", &self.name)
            .finish()
    }
}

impl LoadedProgram {
    /// The program's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn xdp(&mut self) -> &mut Xdp {
        match &mut self.inner {
            Inner::Object(ebpf) => ebpf
                .program_mut(&self.name)
                .and_then(|p| p.try_into().ok())
                .expect("loaded as XDP"),
            Inner::Pinned { xdp, .. } => xdp,
        }
    }

    /// Names of the program's maps (internal `.rodata`-style maps left out).
    pub(crate) fn map_names(&self) -> Vec<String> {
        let names: Vec<String> = match &self.inner {
            Inner::Object(ebpf) => ebpf.maps().map(|(n, _)| n.to_owned()).collect(),
            Inner::Pinned { maps, .. } => maps.iter().map(|(n, _)| n.clone()).collect(),
        };
        names.into_iter().filter(|n| !n.starts_with('.')).collect()
    }

    /// The map called `name`, if the program has one.
    pub(crate) fn map_mut(&mut self, name: &str) -> Option<&mut Map> {
        match &mut self.inner {
            Inner::Object(ebpf) => ebpf.map_mut(name),
            Inner::Pinned { maps, .. } => maps.iter_mut().find(|(n, _)| n == name).map(|(_, m)| m),
        }
    }

    /// Attaches the program to `ifindex`; call it from a thread inside the interface's namespace.
    pub fn attach(&mut self, ifindex: u32, mode: AttachMode) -> Result<XdpLinkId> {
        self.xdp().attach(ifindex, mode.into()).map_err(|e| {
            Error::env(format!(
                "attaching XDP in {mode:?} mode to ifindex {ifindex} failed: {e}"
            ))
        })
    }

    /// How many times the kernel has run the program (needs [`crate::stats::RunStats`] held).
    pub fn run_count(&mut self) -> Result<u64> {
        let xdp = self.xdp();
        let info = xdp.info().map_err(Error::env)?;
        Ok(info.run_count())
    }

    /// Runs the program once on `frame` through BPF_PROG_TEST_RUN: exact verdict and output.
    pub fn test_run(&mut self, frame: &[u8]) -> Result<(Verdict, Vec<u8>)> {
        let mut out = vec![0u8; frame.len() + 4096];
        let xdp = self.xdp();
        let result = xdp
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                ..Default::default()
            })
            .map_err(|e| Error::env(format!("BPF_PROG_TEST_RUN failed: {e}")))?;
        out.truncate(result.data_size_out as usize);
        Ok((Verdict::from_code(result.return_value), out))
    }

    /// Runs the program `repeat` times on `frame` through BPF_PROG_TEST_RUN and returns the
    /// kernel's average time per run (what `xdplab bench` measures).
    pub fn time_run(&mut self, frame: &[u8], repeat: u32) -> Result<std::time::Duration> {
        let mut out = vec![0u8; frame.len() + 4096];
        let result = self
            .xdp()
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                repeat,
                ..Default::default()
            })
            .map_err(|e| Error::env(format!("BPF_PROG_TEST_RUN failed: {e}")))?;
        Ok(result.duration)
    }

    /// The maps of this copy of the object, by name.
    pub fn maps(&mut self) -> Maps<'_> {
        Maps::new(self)
    }

    /// The raw fd of the program, for callers that pin or inspect it.
    pub fn fd(&mut self) -> Result<std::os::fd::OwnedFd> {
        let fd = self.xdp().fd().map_err(Error::env)?;
        fd.as_fd().try_clone_to_owned().map_err(Error::env)
    }
}

/// Where a lab's programs come from: one object, several objects, or programs a student loaded
/// and pinned themselves. Each [`ProgramSource::load`] gives a fresh copy where the source
/// allows it (objects); pinned programs keep their state between parts.
pub trait ProgramSource {
    /// A name for reports and messages (a path, or several).
    fn origin(&self) -> String;
    /// The XDP programs on offer, sorted.
    fn programs(&self) -> Vec<String>;
    /// Loads `program`, failing with [`Error::ProgramNotFound`] when the source lacks it.
    fn load(&self, program: &str) -> Result<LoadedProgram>;
}

impl ProgramSource for XdpObject {
    fn origin(&self) -> String {
        self.origin.display().to_string()
    }

    fn programs(&self) -> Vec<String> {
        self.programs.clone()
    }

    fn load(&self, program: &str) -> Result<LoadedProgram> {
        XdpObject::load(self, Some(program))
    }
}

/// Several objects handed in together (one per program, or any mix): a program is loaded from
/// the first object that declares it.
#[derive(Debug, Clone)]
pub struct ObjectSet {
    objects: Vec<XdpObject>,
}

impl ObjectSet {
    /// Reads every object; fails on the first unusable one (not ELF, no XDP program, ...).
    pub fn from_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Self> {
        let objects = paths
            .iter()
            .map(XdpObject::from_path)
            .collect::<Result<Vec<_>>>()?;
        if objects.is_empty() {
            return Err(Error::env("no object given"));
        }
        Ok(Self { objects })
    }
}

impl ProgramSource for ObjectSet {
    fn origin(&self) -> String {
        let paths: Vec<String> = self
            .objects
            .iter()
            .map(|o| o.origin.display().to_string())
            .collect();
        paths.join(", ")
    }

    fn programs(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .objects
            .iter()
            .flat_map(|o| o.programs.clone())
            .collect();
        all.sort();
        all
    }

    fn load(&self, program: &str) -> Result<LoadedProgram> {
        match self
            .objects
            .iter()
            .find(|o| o.programs.iter().any(|p| p == program))
        {
            Some(object) => object.load(Some(program)),
            None => Err(Error::ProgramNotFound {
                name: program.into(),
                available: self.programs().join(", "),
            }),
        }
    }
}

/// XDP programs a student loaded and pinned on a bpffs: a directory of pins named after the
/// programs (`/sys/fs/bpf/alice/ip_filter`), or one pin. Their maps are found through the
/// program's own map references, by name.
#[derive(Debug, Clone)]
pub struct PinnedPrograms {
    origin: PathBuf,
    pins: Vec<(String, PathBuf)>,
}

impl PinnedPrograms {
    /// Lists the pins under `path` (a directory of pins, or a single pin).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let unreadable = |source| Error::Unreadable {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(unreadable)?;
        let mut pins = Vec::new();
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).map_err(unreadable)?.flatten() {
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
