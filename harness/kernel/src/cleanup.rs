//! Clean-up: the names the harness gives what it creates in the kernel (namespaces, bpffs pin
//! directories), the lock held while creating them, and the sweeps that remove what a killed
//! run left behind. [`crate::netns`] and the pin directories create under its lock;
//! [`crate::signals`] takes the lock for good, so nothing new appears, and sweeps.
//!
//! Namespaces are named `xdplab-<pid>_<pidns>-<n>-<role>` so that `ip netns` shows them to a
//! curious student, and so that a later run can tell which ones belong to a process that no
//! longer lives. `<pidns>` is the inode of the creator's PID namespace (`/proc/self/ns/pid`):
//! a pid means nothing outside its PID namespace, and a sweeper in another one (a container
//! sharing /run/netns, `unshare -p`) must not judge it by its own /proc.
//!
//! Why a name and not a lock held by the live run: a sweeper that shares only the /run/netns
//! directory may not see the namespace mount on the file (mounts propagate only into shared or
//! slave copies), so a lock taken on the namespace would be invisible to it, and one on the bare
//! file leaves a window between creating the file and locking it. The name is there, complete,
//! from the moment the entry exists, wherever the directory is seen from.

use std::{
    fs,
    path::Path,
    sync::{OnceLock, RwLock, RwLockReadGuard},
};

use netns_rs::NetNs;

/// Where pins made by the harness live (bpffs root; names start with [`own_prefix`],
/// `xdplab-<pid>_<pidns>-`).
pub(crate) const PIN_DIR: &str = "/sys/fs/bpf";
/// Prefix of every namespace this harness creates.
pub const PREFIX: &str = "xdplab-";
/// Prefix of the namespaces of an interactive environment (`xdplab env up`).
pub const ENV_PREFIX: &str = "xdplab-env-";
/// Where `xdplab env up` pins the program it attaches and its link (no dots: bpffs reserves
/// them); `env down` removes it. Its name carries no pid, so sweeps leave it alone.
pub const ENV_PIN_DIR: &str = "/sys/fs/bpf/xdplab-env";
/// The link's pin in [`ENV_PIN_DIR`], beside the program's (named after the program).
pub const ENV_LINK_PIN: &str = "link";
/// Where named namespaces live (the `ip netns` convention, which netns-rs follows).
pub(crate) const NETNS_DIR: &str = "/var/run/netns";

/// Held (shared) while a namespace or pin directory is being created and named, and taken
/// for good by the signal thread, so nothing new appears while it cleans up.
static CREATION: RwLock<()> = RwLock::new(());

/// Held while creating something a sweep must find; see [`CREATION`].
pub(crate) fn creating() -> RwLockReadGuard<'static, ()> {
    CREATION
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes the creation lock for good (never released: the process is on its way out), so that
/// nothing new appears while the sweeps run.
pub(crate) fn stop_creating() {
    std::mem::forget(
        CREATION
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
}

/// What [`sweep`] removed, and what it left in place.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Swept {
    /// Namespaces whose creating process is gone.
    pub namespaces: Vec<String>,
    /// bpffs pins whose creating process is gone.
    pub pins: Vec<String>,
    /// Leftovers whose owner may still run, or cannot be judged from here, with the reason.
    pub left_alone: Vec<LeftAlone>,
}

/// A namespace or pin directory a sweep did not remove, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LeftAlone {
    /// Its name, as `ip netns` or `ls /sys/fs/bpf` shows it.
    pub name: String,
    /// Why it stays: its run is going, or this process cannot tell.
    pub reason: String,
}

/// Removes namespaces and pins left by xdplab processes that no longer run (a SIGKILL skips
/// every Drop). Those of live processes, including parallel tests, and those whose owner this
/// process cannot see (another PID namespace) are left alone.
pub fn sweep() -> Swept {
    let view = View::here();
    sweep_where(|owner| view.judge(owner))
}

/// Removes this process's own namespaces and pins (an interrupted run, on its way out).
pub fn sweep_own() -> Swept {
    let me = Owner::me();
    sweep_where(|owner| {
        if owner == me {
            Verdict::Gone
        } else {
            Verdict::Running
        }
    })
}

/// The leftovers [`sweep`] would remove now, and those it would leave alone with the reason
/// (live runs' are not listed); removes nothing (`xdplab doctor`).
pub fn survey() -> Swept {
    let view = View::here();
    let mut found = Swept::default();
    for (dir, name, owner) in entries() {
        match view.judge(owner) {
            Verdict::Gone if dir == NETNS_DIR => found.namespaces.push(name),
            Verdict::Gone => found.pins.push(name),
            Verdict::Unknown(reason) => found.left_alone.push(LeftAlone { name, reason }),
            Verdict::Running => {}
        }
    }
    found
}

/// Every entry of the namespace and pin directories named by this harness: (directory, name,
/// owner).
fn entries() -> Vec<(&'static str, String, Owner)> {
    let mut found = Vec::new();
    for dir in [NETNS_DIR, PIN_DIR] {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(owner) = Owner::of(&name) {
                found.push((dir, name, owner));
            }
        }
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found
}

/// Removes the namespaces and pins that `judge` finds [`Verdict::Gone`].
fn sweep_where(judge: impl Fn(Owner) -> Verdict) -> Swept {
    let mut swept = Swept::default();
    for (dir, name, owner) in entries() {
        let reason = match judge(owner) {
            Verdict::Gone => None,
            Verdict::Running => Some(format!("its run (pid {}) is still going", owner.pid)),
            Verdict::Unknown(reason) => Some(reason),
        };
        if let Some(reason) = reason {
            swept.left_alone.push(LeftAlone { name, reason });
            continue;
        }
        let path = Path::new(dir).join(&name);
        let removed = if dir == NETNS_DIR {
            // A run killed between creating the mount point and mounting the namespace
            // leaves a plain file; unmounting that fails, so remove the file either way.
            let _ = NetNs::get(&name).and_then(netns_rs::NetNs::remove);
            fs::remove_file(&path).is_ok() || !path.exists()
        } else {
            fs::remove_dir_all(&path)
                .or_else(|_| fs::remove_file(&path))
                .is_ok()
        };
        if removed && dir == NETNS_DIR {
            swept.namespaces.push(name);
        } else if removed {
            swept.pins.push(name);
        }
    }
    swept
}

/// Removes every namespace of an interactive environment and the pins of the program it
/// attached; returns their names.
pub fn remove_environment() -> Vec<String> {
    let Ok(entries) = fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(ENV_PREFIX) {
            let _ = NetNs::get(&name).and_then(netns_rs::NetNs::remove);
            let _ = fs::remove_file(entry.path());
            removed.push(name);
        }
    }
    removed.sort();
    // The link's pin last: the namespaces' interfaces are gone, so nothing is attached.
    if fs::remove_dir_all(ENV_PIN_DIR).is_ok() {
        removed.push(ENV_PIN_DIR.to_owned());
    }
    removed
}

/// Names of namespaces this harness created that still exist, whoever owns them.
pub fn leftovers() -> Vec<String> {
    entries()
        .into_iter()
        .filter(|(dir, ..)| *dir == NETNS_DIR)
        .map(|(_, name, _)| name)
        .collect()
}

/// The start of every name this process gives a namespace or pin directory:
/// `xdplab-<pid>_<pidns>-`.
pub fn own_prefix() -> &'static str {
    static PREFIX_OF_ME: OnceLock<String> = OnceLock::new();
    PREFIX_OF_ME.get_or_init(|| owner_prefix(std::process::id()))
}

/// The start of the names made by process `pid` of this process's PID namespace (a child
/// this process started, in tests).
pub fn owner_prefix(pid: u32) -> String {
    match own_pidns() {
        Some(ns) => format!("{PREFIX}{pid}_{ns}-"),
        // Without /proc nothing better can be recorded; sweeps judge it like earlier
        // versions' names.
        None => format!("{PREFIX}{pid}-"),
    }
}

/// The inode of the initial PID namespace (`PROC_PID_INIT_INO`, fixed in the kernel since
/// 3.8): a process in it sees every process of the machine.
const INITIAL_PIDNS: u64 = 0xEFFF_FFFC;

/// The PID namespace of the process (`/proc/<pid>/ns/pid`, `pid:[4026531836]`).
fn pidns_of(proc_entry: &Path) -> Option<u64> {
    let link = fs::read_link(proc_entry.join("ns/pid")).ok()?;
    link.to_str()?
        .strip_prefix("pid:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

fn own_pidns() -> Option<u64> {
    static OWN: OnceLock<Option<u64>> = OnceLock::new();
    *OWN.get_or_init(|| pidns_of(Path::new("/proc/self")))
}

/// Who made a namespace or pin directory, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Owner {
    /// Its pid, in its own PID namespace.
    pid: u32,
    /// Its PID namespace; `None` in names made by versions before it was recorded.
    pidns: Option<u64>,
}

impl Owner {
    /// Reads `xdplab-<pid>_<pidns>-...` and the older `xdplab-<pid>-...`; nothing else (an
    /// environment's `xdplab-env-...`, other tools' names) is ours to judge.
    fn of(name: &str) -> Option<Self> {
        let tag = name.strip_prefix(PREFIX)?.split('-').next()?;
        let (pid, pidns) = match tag.split_once('_') {
            Some((pid, ns)) => (pid, Some(ns.parse().ok()?)),
            None => (tag, None),
        };
        let pid: u32 = pid.parse().ok()?;
        // kill(2) reads 0 and negative pids as process groups.
        (1..=i32::MAX.unsigned_abs())
            .contains(&pid)
            .then_some(Self { pid, pidns })
    }

    fn me() -> Self {
        Self {
            pid: std::process::id(),
            pidns: own_pidns(),
        }
    }
}

/// What a sweeper concluded about an owner.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// It no longer runs: what it made may go.
    Gone,
    /// It runs (or may: a pid that is taken, perhaps by another process).
    Running,
    /// This process cannot tell; the reason says where to sweep instead.
    Unknown(String),
}

/// A visible process: its PID namespace (`None` where it cannot be read), its pid there, and
/// how many PID namespaces deep it is below this /proc's (`NSpid` entries).
#[derive(Debug, Clone, Copy)]
struct Process {
    pidns: Option<u64>,
    pid: u32,
    depth: usize,
}

/// What this process can know about owners.
struct View {
    own: Option<u64>,
    /// This process's `NSpid` depth: 1 when /proc belongs to its own PID namespace.
    own_depth: usize,
    /// Every process this /proc shows, read on first need (only foreign names need it).
    processes: OnceLock<Vec<Process>>,
}

impl View {
    fn here() -> Self {
        Self {
            own: own_pidns(),
            own_depth: nspid(Path::new("/proc/self")).map_or(1, |p| p.len()),
            processes: OnceLock::new(),
        }
    }

    fn processes(&self) -> &[Process] {
        self.processes.get_or_init(|| {
            let Ok(entries) = fs::read_dir("/proc") else {
                return Vec::new();
            };
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .filter_map(|e| {
                    let ids = nspid(&e.path())?;
                    Some(Process {
                        pidns: pidns_of(&e.path()),
                        pid: *ids.last()?,
                        depth: ids.len(),
                    })
                })
                .collect()
        })
    }

    fn judge(&self, owner: Owner) -> Verdict {
        let sees_all = self.own == Some(INITIAL_PIDNS);
        match owner.pidns {
            Some(ns) if Some(ns) == self.own => alive_here(owner.pid),
            Some(ns) => {
                let procs = self.processes();
                // A process whose namespace cannot be read could be the owner, unless it sits
                // in this process's own namespace (a VM's init, here).
                let maybe_owner = procs.iter().any(|p| {
                    p.pid == owner.pid
                        && match p.pidns {
                            Some(theirs) => theirs == ns,
                            None => !(p.depth == 1 && self.own_depth == 1),
                        }
                });
                // Seeing one process of a PID namespace means seeing all of them (it is
                // nested below this one), so an owner missing from it is gone.
                let visible = procs.iter().any(|p| p.pidns == Some(ns));
                if maybe_owner {
                    Verdict::Running
                } else if visible || sees_all {
                    Verdict::Gone
                } else {
                    Verdict::Unknown(format!(
                        "made by a run in another PID namespace (pid:[{ns}]), which this one \
                         cannot see; `xdplab clean` there or on the host judges it"
                    ))
                }
            }
            // Names of earlier versions: their pid is from an unknown PID namespace, which only
            // the initial one is sure to share (it is the one every such run saw as well).
            None if sees_all => alive_here(owner.pid),
            None => Verdict::Unknown(
                "made by an earlier xdplab, which did not record its PID namespace; \
                 `xdplab clean` on the host judges it"
                    .into(),
            ),
        }
    }
}

/// Whether `pid` of this process's own PID namespace runs. kill(2) rather than /proc: /proc
/// may belong to another PID namespace (`unshare -p` without `--mount-proc`).
fn alive_here(pid: u32) -> Verdict {
    // SAFETY: signal 0 only checks that the process exists; pid is positive (see Owner::of).
    let rc = unsafe { libc::kill(pid.cast_signed(), 0) };
    if rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH) {
        Verdict::Running
    } else {
        Verdict::Gone
    }
}

/// The process's pids from this /proc's PID namespace down to its own (`NSpid`).
fn nspid(proc_entry: &Path) -> Option<Vec<u32>> {
    let status = fs::read_to_string(proc_entry.join("status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    line.split_whitespace().map(|p| p.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OTHER_NS: u64 = 4_026_532_999;

    #[test]
    fn owners_are_read_only_from_our_names() {
        let owner = |pid, pidns| Some(Owner { pid, pidns });
        assert_eq!(
            Owner::of("xdplab-1234_4026531836-0-dut"),
            owner(1234, Some(INITIAL_PIDNS))
        );
        assert_eq!(
            Owner::of("xdplab-1234_4026531836-7"),
            owner(1234, Some(INITIAL_PIDNS))
        );
        assert_eq!(Owner::of("xdplab-1234-0-dut"), owner(1234, None));
        for not_ours in [
            "xdplab-x-0-dut",
            "other-1234",
            "xdplab-env-client",
            "xdplab-0-0-dut",
            "xdplab-4294967295-0-dut",
            "xdplab-12_x-0-dut",
        ] {
            assert_eq!(Owner::of(not_ours), None, "{not_ours}");
        }
    }

    #[test]
    fn names_stay_within_file_name_limits() {
        let longest = format!(
            "{PREFIX}{}_{}-{}-{}",
            i32::MAX,
            u64::MAX,
            u32::MAX,
            "client"
        );
        assert!(longest.len() <= 255, "{longest}");
        assert!(own_prefix().starts_with(&format!("{PREFIX}{}_", std::process::id())));
    }

    /// A pid of this PID namespace that no process holds: a reaped child's.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        child.id()
    }

    fn view(own: u64, own_depth: usize, processes: Vec<Process>) -> View {
        View {
            own: Some(own),
            own_depth,
            processes: OnceLock::from(processes),
        }
    }

    #[test]
    fn owners_in_this_pid_namespace_are_judged_by_their_pid() {
        let here = View::here();
        let own = here.own.unwrap();
        let me = Owner::me();
        assert_eq!(here.judge(me), Verdict::Running);
        let dead = Owner {
            pid: dead_pid(),
            pidns: Some(own),
        };
        assert_eq!(here.judge(dead), Verdict::Gone);
    }

    #[test]
    fn owners_in_a_pid_namespace_nobody_here_sees_are_left_alone() {
        let nested = view(OTHER_NS + 1, 1, Vec::new());
        let foreign = Owner {
            pid: 42,
            pidns: Some(INITIAL_PIDNS),
        };
        assert!(
            matches!(nested.judge(foreign), Verdict::Unknown(r) if r.contains("pid:[4026531836]"))
        );
        // Earlier versions' names say nothing about their PID namespace.
        let old = Owner {
            pid: 42,
            pidns: None,
        };
        assert!(matches!(nested.judge(old), Verdict::Unknown(r) if r.contains("earlier xdplab")));
    }

    #[test]
    fn owners_in_a_visible_pid_namespace_are_judged_by_its_processes() {
        let inner = |pid| Process {
            pidns: Some(OTHER_NS),
            pid,
            depth: 2,
        };
        let owner = Owner {
            pid: 7,
            pidns: Some(OTHER_NS),
        };
        // From a nested PID namespace that sees OTHER_NS (its child): found or not.
        let parent = |procs| view(OTHER_NS + 1, 1, procs);
        assert_eq!(
            parent(vec![inner(1), inner(7)]).judge(owner),
            Verdict::Running
        );
        assert_eq!(parent(vec![inner(1)]).judge(owner), Verdict::Gone);
        // The initial PID namespace sees every process: no process left there means gone.
        assert_eq!(
            view(INITIAL_PIDNS, 1, Vec::new()).judge(owner),
            Verdict::Gone
        );
        // A process whose namespace cannot be read may be the owner, unless it is one of ours.
        let unreadable = |depth| Process {
            pidns: None,
            pid: 7,
            depth,
        };
        let host = |p| view(INITIAL_PIDNS, 1, vec![p]);
        assert_eq!(host(unreadable(2)).judge(owner), Verdict::Running);
        assert_eq!(host(unreadable(1)).judge(owner), Verdict::Gone);
    }

    #[test]
    fn earlier_versions_names_are_judged_by_pid_from_the_initial_pid_namespace() {
        let host = view(INITIAL_PIDNS, 1, Vec::new());
        let old = |pid| Owner { pid, pidns: None };
        assert_eq!(host.judge(old(std::process::id())), Verdict::Running);
        assert_eq!(host.judge(old(dead_pid())), Verdict::Gone);
    }
}
