//! Throw-away network namespaces, and the sweep that removes those a killed run left behind.
//!
//! Namespaces are named `xdplab-<pid>-<n>-<role>` so that `ip netns` shows them to a curious
//! student, and so that a later run can tell which ones belong to a process that no longer lives.

use std::{
    fs,
    os::fd::{AsFd, BorrowedFd},
    path::Path,
    sync::atomic::{AtomicU32, Ordering},
};

use netns_rs::NetNs;

use crate::error::{Error, Result};

/// Prefix of every namespace this harness creates.
pub const PREFIX: &str = "xdplab-";
/// Prefix of the namespaces of an interactive environment (`xdplab env up`).
pub const ENV_PREFIX: &str = "xdplab-env-";
/// Where named namespaces live (the `ip netns` convention, which netns-rs follows).
const NETNS_DIR: &str = "/var/run/netns";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A named network namespace that is deleted when dropped.
///
/// Work inside it runs on a short-lived dedicated thread ([`Namespace::run`]) so that no pooled
/// thread is ever left in the wrong namespace.
#[derive(Debug)]
pub struct Namespace {
    name: String,
    ns: Option<NetNs>,
}

impl Namespace {
    /// Creates a fresh namespace whose name carries this process's pid and `role`.
    pub fn create(role: &str) -> Result<Self> {
        let _creating = crate::signals::creating();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{n}-{role}", std::process::id());
        let ns = NetNs::new(&name)
            .map_err(|e| Error::op(format!("cannot create network namespace {name}"), e))?;
        Ok(Self { name, ns: Some(ns) })
    }

    /// Creates a namespace for an interactive environment, `xdplab-env-<role>`. Its name carries
    /// no pid, so sweeps leave it alone; [`remove_environment`] removes it.
    pub fn create_environment(role: &str) -> Result<Self> {
        let name = format!("{ENV_PREFIX}{role}");
        if Path::new(NETNS_DIR).join(&name).exists() {
            return Err(Error::env(format!(
                "namespace {name} exists already: an environment is up; `xdplab env down` first"
            )));
        }
        let ns = NetNs::new(&name)
            .map_err(|e| Error::op(format!("cannot create network namespace {name}"), e))?;
        Ok(Self { name, ns: Some(ns) })
    }

    /// Leaves the namespace in place when this value goes away (interactive environments).
    pub fn keep(mut self) -> String {
        self.ns = None;
        std::mem::take(&mut self.name)
    }

    /// The namespace's name, as `ip netns` shows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace's file descriptor, for netlink messages that move links into it.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.ns.as_ref().expect("namespace is alive").file().as_fd()
    }

    /// Runs `f` on a new thread that has entered this namespace, and returns its result.
    ///
    /// Interface lookups, netlink connections, packet sockets and XDP attachment all follow the
    /// calling thread's namespace; sockets created here keep working from any thread afterwards.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let ns = self.ns.as_ref().expect("namespace is alive");
        std::thread::scope(|s| {
            s.spawn(|| {
                ns.enter()
                    .map_err(|e| Error::op(format!("cannot enter namespace {}", self.name), e))?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Some(ns) = self.ns.take() {
            // Removal can only fail if someone else already removed it; nothing to do then.
            let _ = ns.remove();
        }
    }
}

/// What [`sweep`] removed.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Swept {
    /// Namespaces whose creating process is gone.
    pub namespaces: Vec<String>,
    /// bpffs pins whose creating process is gone.
    pub pins: Vec<String>,
}

/// Removes namespaces and pins left by xdplab processes that no longer run (a SIGKILL skips
/// every Drop). Namespaces of live processes, including parallel tests, are left alone.
pub fn sweep() -> Swept {
    sweep_where(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}

/// Removes this process's own namespaces and pins (an interrupted run, on its way out).
pub fn sweep_own() -> Swept {
    let me = std::process::id();
    sweep_where(|pid| pid == me)
}

/// Removes the namespaces and pins whose owner pid `remove` selects.
fn sweep_where(remove: impl Fn(u32) -> bool) -> Swept {
    let mut swept = Swept::default();
    for (dir, out) in [
        (NETNS_DIR, &mut swept.namespaces),
        (crate::object::PIN_DIR, &mut swept.pins),
    ] {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = owner_pid(&name) else {
                continue;
            };
            if !remove(pid) {
                continue;
            }
            let removed = if dir == NETNS_DIR {
                // A run killed between creating the mount point and mounting the namespace
                // leaves a plain file; unmounting that fails, so remove the file either way.
                let _ = NetNs::get(&name).and_then(netns_rs::NetNs::remove);
                fs::remove_file(entry.path()).is_ok() || !entry.path().exists()
            } else {
                fs::remove_dir_all(entry.path())
                    .or_else(|_| fs::remove_file(entry.path()))
                    .is_ok()
            };
            if removed {
                out.push(name);
            }
        }
    }
    swept
}

/// Removes every namespace of an interactive environment; returns their names.
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
    removed
}

/// Names of namespaces this harness created that still exist, whoever owns them.
pub fn leftovers() -> Vec<String> {
    let Ok(entries) = fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| owner_pid(n).is_some())
        .collect();
    names.sort();
    names
}

/// The pid embedded in a name made by this harness (`xdplab-<pid>-...`).
fn owner_pid(name: &str) -> Option<u32> {
    name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_reads_only_our_names() {
        assert_eq!(owner_pid("xdplab-1234-0-dut"), Some(1234));
        assert_eq!(owner_pid("xdplab-x-0-dut"), None);
        assert_eq!(owner_pid("other-1234"), None);
    }
}
