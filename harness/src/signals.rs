//! Clean exits on SIGINT and SIGTERM: an interrupted run stops its grading child, removes its
//! own namespaces (and with them its veths and XDP attachments) and pins, then exits with the
//! usual 130 or 143. A SIGKILL cannot be caught; the next run's sweep and `xdplab clean` remove
//! what it leaves.

use std::{
    sync::{
        RwLock, RwLockReadGuard,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use signal_hook::{
    consts::{SIGINT, SIGTERM},
    iterator::Signals,
};

use crate::error::{Error, Result};

/// Held (shared) while a namespace or pin directory is being created and named, and taken
/// for good by the signal thread, so nothing new appears while it cleans up.
static CREATION: RwLock<()> = RwLock::new(());
/// The grading child running now (0: none).
static CHILD: AtomicU32 = AtomicU32::new(0);

/// Installs the handlers; call it once, early in `main`. Tests need not call it.
pub fn install() -> Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])
        .map_err(|e| Error::env(format!("cannot install signal handlers: {e}")))?;
    std::thread::Builder::new()
        .name("xdplab-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                interrupted(signal);
            }
        })
        .map_err(|e| Error::env(format!("cannot start the signal thread: {e}")))?;
    Ok(())
}

/// Held while creating something [`interrupted`] must find; see [`CREATION`].
pub(crate) fn creating() -> RwLockReadGuard<'static, ()> {
    CREATION.read().unwrap_or_else(|e| e.into_inner())
}

/// Marks `pid` as the running grading child until the returned guard is dropped.
pub(crate) fn track_child(pid: u32) -> ChildGuard {
    CHILD.store(pid, Ordering::SeqCst);
    ChildGuard
}

/// Forgets the tracked child when dropped.
pub(crate) struct ChildGuard;

impl Drop for ChildGuard {
    fn drop(&mut self) {
        CHILD.store(0, Ordering::SeqCst);
    }
}

fn interrupted(signal: i32) -> ! {
    // Never released: the process ends below.
    std::mem::forget(CREATION.write().unwrap_or_else(|e| e.into_inner()));
    let child = CHILD.load(Ordering::SeqCst);
    if child != 0 {
        stop(child as libc::pid_t, signal);
    }
    crate::netns::sweep_own();
    // The child's namespaces, if it was killed before it could remove them.
    crate::netns::sweep();
    std::process::exit(128 + signal);
}

/// Passes `signal` on to the child and waits a little for it to clean up; kills it after that.
fn stop(pid: libc::pid_t, signal: i32) {
    // SAFETY: plain syscalls on a pid this process spawned and has not reaped.
    unsafe { libc::kill(pid, signal) };
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let mut status = 0;
        // A result other than 0 means it was reaped (here, or by the grading loop).
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } != 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}
