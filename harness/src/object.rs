//! XDP objects: reading an ELF file, finding its programs, and loading fresh copies of them.

use std::{
    fmt,
    os::fd::AsFd,
    path::{Path, PathBuf},
    sync::Arc,
};

use aya::{
    Ebpf, EbpfError, EbpfLoader,
    maps::Map,
    programs::{
        ProgramError, TestRun, TestRunOptions, Xdp,
        xdp::{XdpLinkId, XdpMode},
    },
};

pub use crate::source::pinned::PinnedPrograms;
use crate::{
    error::{Error, Result},
    map_role::MapBinding,
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
            bindings: Vec::new(),
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
    /// Contract map names bound to maps found by role or pin (see [`crate::map_role`]).
    bindings: Vec<MapBinding>,
}

// One value per loaded program: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum Inner {
    /// Loaded by the harness from an object: it owns the object's maps.
    Object(Ebpf),
    /// Loaded by the student (pinned, by id, attached): maps come from the program's own map
    /// references and map pins.
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

    /// The map called `name`, or bound to that name, if the program has one.
    pub(crate) fn map_mut(&mut self, name: &str) -> Option<&mut Map> {
        if let Some(i) = self
            .bindings
            .iter()
            .find(|b| b.contract == name)
            .map(|b| b.index)
        {
            return self.maps_in_order().into_iter().nth(i).map(|(_, m)| m);
        }
        match &mut self.inner {
            Inner::Object(ebpf) => ebpf.map_mut(name),
            Inner::Pinned { maps, .. } => maps.iter_mut().find(|(n, _)| n == name).map(|(_, m)| m),
        }
    }

    /// Every map (internal `.rodata`-style ones left out), in a stable order.
    pub(crate) fn maps_in_order(&mut self) -> Vec<(String, &mut Map)> {
        let mut maps: Vec<(String, &mut Map)> = match &mut self.inner {
            Inner::Object(ebpf) => ebpf.maps_mut().map(|(n, m)| (n.to_owned(), m)).collect(),
            Inner::Pinned { maps, .. } => maps.iter_mut().map(|(n, m)| (n.clone(), m)).collect(),
        };
        maps.retain(|(n, _)| !n.starts_with('.'));
        maps
    }

    /// The program's maps as the kernel describes them, for role lookups and listings.
    pub(crate) fn map_summaries(&mut self) -> Vec<crate::map_role::MapSummary> {
        let adopted = self.adopted();
        self.maps_in_order()
            .iter()
            .enumerate()
            .map(|(i, (n, m))| crate::map_role::MapSummary::of(i, n, m, adopted))
            .collect()
    }

    /// Makes a contract name refer to the map the binding names.
    pub(crate) fn bind_map(&mut self, binding: MapBinding) {
        self.bindings.retain(|b| b.contract != binding.contract);
        self.bindings.push(binding);
    }

    /// Whether someone else loaded the program (pinned, by id, attached): it may run on other
    /// traffic too, and its state is theirs.
    pub fn adopted(&self) -> bool {
        matches!(self.inner, Inner::Pinned { .. })
    }

    /// The maps that stood in for contract maps without having their names.
    pub fn map_bindings(&self) -> &[MapBinding] {
        &self.bindings
    }

    /// A program someone else loaded, with the maps found for it; see [`crate::source`].
    pub(crate) fn from_kernel(name: String, xdp: Xdp, maps: Vec<(String, Map)>) -> Self {
        Self {
            name,
            inner: Inner::Pinned { xdp, maps },
            bindings: Vec::new(),
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
    /// How to supply `program` when this source lacks it: the sentence that follows
    /// [`Error::ProgramNotFound`] in reports.
    fn supply_hint(&self, program: &str) -> String {
        format!(
            "Name the function exactly `{program}` (`SEC(\"xdp\") int {program}(struct xdp_md *ctx)` \
             in C, `#[xdp] fn {program}` in aya-ebpf); the lab's README lists the required names."
        )
    }
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
