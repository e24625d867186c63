//! XDP objects: reading an ELF file, finding its programs, and loading fresh copies of them.
//!
//! - this module: ELF sources ([`XdpObject`], [`ObjectSet`]) and the [`ProgramSource`] they share;
//! - `loaded`: a program in the kernel ([`LoadedProgram`]);
//! - `pins`: the harness's own pin directories ([`PinDir`]); programs a student pinned are
//!   [`crate::source`]'s;
//! - `verifier`: what the verifier said, trimmed ([`trim_verifier_log`]).
//!
//! Nothing a student hands in can panic the harness: aya is called behind a `catch_unwind`, and a
//! panic inside it becomes a `bad-object` error naming the file.

#[cfg(test)]
mod fuzz;
mod loaded;
mod pins;
mod verifier;

use std::{
    fmt,
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
    sync::Arc,
};

use aya::{EbpfError, EbpfLoader, VerifierLogLevel, programs::Xdp};

use crate::{
    error::{Error, Result},
    input::{self, Links, PathKind},
};
use loaded::Inner;
pub use loaded::{AttachMode, LoadedProgram};
pub use pins::{PinDir, ensure_bpffs};
pub use verifier::trim_verifier_log;

/// The most kernel memory one map of a handed-in object may ask for (key and value bytes
/// times entries); the labs' maps need a few MiB at most.
pub const MAP_BYTES_LIMIT: u64 = 64 << 20;

/// A rejected program is loaded again with a verbose log only if the verifier walked at most
/// this many instructions (a few MiB of log).
const VERBOSE_LOG_MAX_INSNS: u64 = 20_000;

/// Panics `no_panic` caught, for the mutation test's count.
#[cfg(test)]
static PANICS_CAUGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs `f`, turning a panic inside it (aya has panicked on malformed ELF sections and on
/// non-UTF-8 logs) into a `bad-object` error for `origin`.
fn no_panic<T>(origin: &Path, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let outcome = quietly(|| catch_unwind(AssertUnwindSafe(f)));
    outcome.unwrap_or_else(|panic| {
        #[cfg(test)]
        PANICS_CAUGHT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let detail = panic_detail(panic.as_ref());
        let reason = match non_utf8_log(detail) {
            Some(log) => format!(
                "the kernel refused it while {what} it, and aya 0.16 crashed reading the \
                 kernel's log, which quotes text from the object's BTF (a name, or a source \
                 line saved in another encoding than UTF-8); save the sources as UTF-8 and \
                 build it again. The log ends:\n{}",
                verifier::trim_verifier_log(&log).0
            ),
            None => format!(
                "the loader crashed while {what} it ({})",
                detail.chars().take(300).collect::<String>()
            ),
        };
        Err(Error::BadObject {
            path: origin.to_owned(),
            reason,
        })
    })
}

thread_local! {
    /// Set while this thread runs aya behind `no_panic`: its panics are caught and reported.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the panic hook silent on this thread, so a panic inside aya prints nothing
/// raw (its message can hold a whole kernel log as numbers); `no_panic` reports it instead.
/// The hook is installed once and defers to the previous one everywhere else.
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let out = f();
    QUIET.with(|q| q.set(was));
    out
}

/// The log aya 0.16 panicked on when the kernel's log held bytes that are not UTF-8: its
/// `unwrap` prints them as `FromUtf8Error { bytes: [..], .. }`, the only place they survive.
fn non_utf8_log(detail: &str) -> Option<String> {
    let list = detail
        .split_once("FromUtf8Error { bytes: [")?
        .1
        .split_once(']')?
        .0;
    let bytes: Vec<u8> = list
        .split(", ")
        .map(str::parse)
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The message a caught panic carried, for error messages.
pub fn panic_detail(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("no detail")
}

/// Refuses a function symbol that reaches outside its section. aya-obj 0.6.0 slices the section
/// by a function's offset and size without checking them (`parse_program` and
/// `parse_text_section` in its obj.rs) and panics on a damaged object; checked here first, the
/// message names the function. An ELF file `object` cannot read is left to aya's own error.
fn check_function_bounds(origin: &Path, bytes: &[u8]) -> Result<()> {
    use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
    let Ok(file) = object::File::parse(bytes) else {
        return Ok(());
    };
    for symbol in file.symbols().filter(|s| s.kind() == SymbolKind::Text) {
        let Some(section) = symbol
            .section_index()
            .and_then(|i| file.section_by_index(i).ok())
        else {
            continue;
        };
        let len = section.data().map_or(0, <[u8]>::len) as u64;
        let start = symbol.address().checked_sub(section.address());
        if start
            .and_then(|s| s.checked_add(symbol.size()))
            .is_none_or(|end| end > len)
        {
            return Err(Error::BadObject {
                path: origin.to_owned(),
                reason: format!(
                    "function `{}` (at {:#x}, {} bytes) reaches outside its section `{}` ({len} \
                     bytes): the file is damaged; build it again",
                    symbol.name().unwrap_or("?"),
                    symbol.address(),
                    symbol.size(),
                    section.name().unwrap_or("?"),
                ),
            });
        }
    }
    Ok(())
}

/// What a file that is not ELF starts with, for [`Error::NotElf`]: its first bytes in hex when
/// they are the file's own, else only its size.
fn magic(bytes: &[u8], quotable: bool) -> String {
    if bytes.is_empty() {
        "nothing: it is empty".into()
    } else if quotable {
        let hex: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
        hex.join(" ")
    } else {
        format!(
            "bytes that are not shown: the {}-byte file is reached through a link or has more \
             than one hard link",
            bytes.len()
        )
    }
}

/// An XDP ELF object: its bytes, where they came from, and the XDP programs it declares.
///
/// The object is only parsed here; every [`XdpObject::load`] creates fresh maps and a fresh
/// program in the kernel, so one part's state never leaks into another's.
#[derive(Clone)]
pub struct XdpObject {
    origin: PathBuf,
    bytes: Arc<[u8]>,
    programs: Vec<String>,
    /// Programs among `programs` built for a devmap or cpumap, with their section: an interface
    /// cannot run them, so loading one is the program's failure.
    map_only: Vec<(String, &'static str)>,
    /// Programs that call GPL-only helpers under a missing or non-GPL license: refused before
    /// loading.
    license: Vec<verifier::License>,
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
    /// Reads and checks an object file given by a user on the command line: a link is
    /// followed (it is the user's own path), but what it points at is never quoted.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        Self::open(path, Links::Follow)
    }

    /// Reads and checks an object file; `links` says whether a link is followed
    /// ([`Links::Refuse`] for a submission's file).
    ///
    /// A user's C source (named `.c`, links followed) is compiled first, with the line
    /// [`crate::clang::command`] gives; the object keeps the source's path as its origin. A
    /// submission's source ([`Links::Refuse`]) is never compiled here: clang would run as root
    /// on a student's file, and its diagnostics quote whatever the file includes.
    pub fn open(path: impl AsRef<Path>, links: Links) -> Result<Self> {
        let path = path.as_ref();
        let read = input::read_bounded(path, PathKind::Object, input::OBJECT_LIMIT, links)?;
        if links == Links::Follow
            && crate::clang::is_c_source(path)
            && !read.bytes.starts_with(b"\x7fELF")
        {
            return Self::checked(path, crate::clang::compile_to_bytes(path)?.into(), true);
        }
        Self::checked(path, read.bytes.into(), read.quotable)
    }

    /// Checks an object held in memory; `origin` names it in messages.
    pub fn from_bytes(origin: impl AsRef<Path>, bytes: impl Into<Arc<[u8]>>) -> Result<Self> {
        Self::checked(origin.as_ref(), bytes.into(), true)
    }

    /// Checks an object's bytes; the first ones are quoted in a message only if `quotable`.
    fn checked(origin: &Path, bytes: Arc<[u8]>, quotable: bool) -> Result<Self> {
        let origin = origin.to_owned();
        if !bytes.starts_with(b"\x7fELF") {
            return Err(Error::NotElf {
                magic: magic(&bytes, quotable),
                build: crate::clang::command(
                    Path::new("prog.c"),
                    &crate::clang::default_object(Path::new("prog.c")),
                ),
                path: origin,
            });
        }
        check_function_bounds(&origin, &bytes)?;
        let parsed = no_panic(&origin, "parsing", || {
            aya_obj::Object::parse(&bytes).map_err(|e| Error::BadObject {
                path: origin.clone(),
                reason: e.to_string(),
            })
        })?;
        let mut programs = Vec::new();
        let mut others = Vec::new();
        let mut map_only = Vec::new();
        for (name, program) in &parsed.programs {
            use aya_obj::programs::XdpAttachType;
            match program.section {
                aya_obj::ProgramSection::Xdp { attach_type, .. } => {
                    programs.push(name.clone());
                    match attach_type {
                        XdpAttachType::Interface => {}
                        XdpAttachType::DevMap => map_only.push((name.clone(), "xdp/devmap")),
                        XdpAttachType::CpuMap => map_only.push((name.clone(), "xdp/cpumap")),
                    }
                }
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
        for (name, map) in &parsed.maps {
            let entry = u64::from(map.key_size()) + u64::from(map.value_size());
            let bytes = u64::from(map.max_entries()).saturating_mul(entry.max(1));
            if bytes > MAP_BYTES_LIMIT {
                return Err(Error::MapLayout {
                    name: name.clone(),
                    expected: format!("at most {} MiB of entries", MAP_BYTES_LIMIT >> 20),
                    found: format!("{} entries of {entry} bytes", map.max_entries()),
                });
            }
        }
        let license = verifier::license_problems(&bytes, &parsed);
        Ok(Self {
            origin,
            bytes,
            programs,
            map_only,
            license,
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

    /// Picks a program: the one named, or the only one when no name is given. A program built
    /// for a devmap or cpumap is refused here, before the kernel would refuse to attach or
    /// test-run it (an error the harness would otherwise have to excuse).
    pub fn resolve(&self, name: Option<&str>) -> Result<String> {
        let name = self.pick(name)?;
        if let Some((_, section)) = self.map_only.iter().find(|(n, _)| *n == name) {
            return Err(Error::ProgramType {
                program: name,
                found: format!(
                    "an XDP program for a {} (section `{section}`)",
                    section.trim_start_matches("xdp/")
                ),
            });
        }
        Ok(name)
    }

    fn pick(&self, name: Option<&str>) -> Result<String> {
        match name {
            Some(name) if self.programs.iter().any(|p| p == name) => Ok(name.to_owned()),
            None if self.programs.len() == 1 => Ok(self.programs[0].clone()),
            _ => Err(Error::ProgramNotFound {
                name: name.unwrap_or("<unnamed>").to_owned(),
                available: self.programs.join(", "),
                hint: None,
            }),
        }
    }

    /// Loads a fresh copy of the object (new maps) and loads `program` into the kernel.
    ///
    /// The first load asks the verifier for its statistics and error lines only, so a program
    /// at the verifier's limits is walked once (a verbose log of a million instructions would
    /// overflow every buffer, and aya would retry ten times). Only a plain rejection is loaded
    /// again with the verbose log that shows the offending instructions.
    pub fn load(&self, program: Option<&str>) -> Result<LoadedProgram> {
        let name = self.resolve(program)?;
        if let Some(problem) = self.license.iter().find(|l| l.program() == name) {
            return Err(problem.error());
        }
        no_panic(&self.origin, "loading", || {
            match self.load_with(&name, VerifierLogLevel::STATS) {
                // A limit (`VerifierLimit`) or a long walk is not repeated: the verbose log of
                // a long walk overflows aya's buffer, and aya retries with ten times the size.
                Err(e @ Error::Verifier { insns, .. })
                    if insns.is_none_or(|n| u64::from(n) <= VERBOSE_LOG_MAX_INSNS) =>
                {
                    match self.load_with(&name, VerifierLogLevel::DEBUG | VerifierLogLevel::STATS) {
                        // The verbose log can only add to a rejection; keep the first if the
                        // second load behaves differently.
                        Err(verbose @ Error::Verifier { .. }) => Err(verbose),
                        _ => Err(e),
                    }
                }
                other => other,
            }
        })
    }

    fn load_with(&self, name: &str, level: VerifierLogLevel) -> Result<LoadedProgram> {
        let mut ebpf = EbpfLoader::new()
            .verifier_log_level(level)
            .load(&self.bytes)
            .map_err(|e| Error::BadObject {
                path: self.origin.clone(),
                reason: match e {
                    EbpfError::MapError(e) => format!("a map could not be created: {e}"),
                    e => e.to_string(),
                },
            })?;
        let not_xdp = || Error::BadObject {
            path: self.origin.clone(),
            reason: format!("`{name}` is not an XDP program once loaded"),
        };
        let xdp: &mut Xdp = ebpf
            .program_mut(name)
            .ok_or_else(not_xdp)?
            .try_into()
            .map_err(|_| not_xdp())?;
        // A panic here is aya 0.16 unwrapping a verifier log that is not UTF-8: with the log
        // recovered, it is the rejection it stands for. Any other panic goes on to `no_panic`.
        match quietly(|| catch_unwind(AssertUnwindSafe(|| xdp.load()))) {
            Ok(loaded) => loaded.map_err(|e| verifier::load_error(name, e))?,
            Err(panic) => match non_utf8_log(panic_detail(panic.as_ref())) {
                Some(log) => return Err(verifier::unreadable_log_error(name, &log)),
                None => std::panic::resume_unwind(panic),
            },
        }
        Ok(LoadedProgram {
            name: name.to_owned(),
            inner: Inner::Object(ebpf),
            bindings: Vec::new(),
        })
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

    /// `e` with, when it is [`Error::ProgramNotFound`], the sentence on how to supply the
    /// program from this source; any other error unchanged.
    fn with_supply_hint(&self, e: Error) -> Error {
        match e {
            Error::ProgramNotFound {
                name,
                available,
                hint: None,
            } => {
                let hint = Some(self.supply_hint(&name));
                Error::ProgramNotFound {
                    name,
                    available,
                    hint,
                }
            }
            other => other,
        }
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

/// Several objects handed in together (one per program, or any mix); each program may be
/// defined in only one of them.
#[derive(Debug, Clone)]
pub struct ObjectSet {
    objects: Vec<XdpObject>,
}

impl ObjectSet {
    /// Reads every object given by a user (links followed, as [`XdpObject::from_path`]);
    /// fails on the first unusable one (not ELF, no XDP program, ...).
    pub fn from_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Self> {
        Self::open(paths, Links::Follow)
    }

    /// Reads every object, following links or not as `links` says ([`XdpObject::open`]).
    pub fn open<P: AsRef<Path>>(paths: &[P], links: Links) -> Result<Self> {
        let objects = paths
            .iter()
            .map(|p| XdpObject::open(p, links))
            .collect::<Result<Vec<_>>>()?;
        if objects.is_empty() {
            return Err(Error::env("no object given"));
        }
        for (i, later) in objects.iter().enumerate() {
            for earlier in &objects[..i] {
                let both: Vec<String> = earlier
                    .programs
                    .iter()
                    .filter(|p| later.programs.contains(p))
                    .cloned()
                    .collect();
                if !both.is_empty() {
                    return Err(Error::DuplicateProgram {
                        program: both,
                        first: earlier.origin.clone(),
                        second: later.origin.clone(),
                    });
                }
            }
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
                hint: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_in_two_objects_names_both() {
        let dir = std::env::temp_dir().join(format!("xdplab-dup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.o"), dir.join("b.o"));
        std::fs::write(&a, reference::lab_7_1()).unwrap();
        std::fs::write(&b, reference::lab_7_1()).unwrap();
        let e = ObjectSet::from_paths(&[&a, &b]).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("a.o`") && text.contains("b.o`"), "{text}");
        // Every program both define, not only the first found.
        assert!(
            text.starts_with(
                "programs `firewall`, `ip_filter` and `port_filter` are defined in both"
            ),
            "{text}"
        );
        assert!(text.contains("remove them from one"), "{text}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A function whose size runs past its section (a panic inside aya-obj 0.6.0) is refused
    /// as a damaged object naming the function.
    #[test]
    fn a_function_reaching_outside_its_section_is_refused_by_name() {
        use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
        let mut bytes = reference::lab_7_1().to_vec();
        let file = object::File::parse(&*bytes).unwrap();
        let symbol = file
            .symbols()
            .find(|s| s.kind() == SymbolKind::Text && s.name() == Ok("firewall"))
            .unwrap();
        let (symtab, _) = file
            .section_by_name(".symtab")
            .unwrap()
            .file_range()
            .unwrap();
        // An ELF64 symbol is 24 bytes; its size is the last 8.
        let at = usize::try_from(symtab).unwrap() + symbol.index().0 * 24 + 16;
        drop(file);
        bytes[at..at + 8].copy_from_slice(&0x10_0000u64.to_le_bytes());
        let e = XdpObject::from_bytes("damaged.o", bytes).unwrap_err();
        assert!(matches!(e, Error::BadObject { .. }), "{e}");
        assert!(
            e.to_string().contains("function `firewall`")
                && e.to_string().contains("reaches outside its section"),
            "{e}"
        );
    }

    /// A rejected program whose source is not UTF-8 crashes aya 0.16 (it unwraps the
    /// verifier's log, which quotes the source line): still the verifier rejection it is, with
    /// the log and what to do.
    #[test]
    fn a_rejected_program_with_a_latin1_source_is_a_verifier_rejection() {
        assert!(crate::host::is_root(), "loading needs root");
        let dir = std::env::temp_dir().join(format!("xdplab-latin1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let source = dir.join("latin1.c");
        let mut text = b"#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
            SEC(\"xdp\") int firewall(struct xdp_md *ctx) {\n\
            unsigned char *p = (void *)(long)ctx->data;\n\
            return p[0] ? XDP_DROP : XDP_PASS; /* caf"
            .to_vec();
        text.extend(b"\xe9: no bounds check */\n}\nchar _license[] SEC(\"license\") = \"GPL\";\n");
        std::fs::write(&source, text).unwrap();
        let object = crate::clang::compile(&source, &[], &dir).expect("clang builds it");
        let e = XdpObject::from_path(&object)
            .and_then(|o| o.load(Some("firewall")).map(drop))
            .unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        let text = e.to_string();
        assert!(
            matches!(e, Error::Verifier { .. })
                && text.contains("saving the source as UTF-8")
                && text.contains("caf\u{fffd}")
                && text.contains("invalid access to packet"),
            "{text}"
        );
        assert!(
            text.len() < 4000,
            "the message quotes the log's end only: {text}"
        );
    }
}
