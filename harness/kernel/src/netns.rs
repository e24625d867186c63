//! Throw-away network namespaces. Each is named by [`crate::cleanup`] (the pid of its
//! run, so a later run can tell a killed run's leftovers), created under its lock, and removed
//! when dropped.

use std::{
    os::fd::{AsFd, BorrowedFd},
    path::Path,
    sync::atomic::{AtomicU32, Ordering},
};

use netns_rs::NetNs;

use crate::{
    cleanup::{self, ENV_PREFIX, NETNS_DIR},
    error::{Error, Result},
};

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
        let _creating = cleanup::creating();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}{n}-{role}", cleanup::own_prefix());
        let ns = NetNs::new(&name)
            .map_err(|e| Error::op(format!("cannot create network namespace {name}"), e))?;
        Ok(Self { name, ns: Some(ns) })
    }

    /// Creates a namespace for an interactive environment, `xdplab-env-<role>`. Its name carries
    /// no pid, so sweeps leave it alone; [`cleanup::remove_environment`] removes it.
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
