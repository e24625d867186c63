//! Clean exits on the signals that end a run: SIGINT (Ctrl-C), SIGTERM (`timeout`, CI runners),
//! SIGHUP (a closed terminal or SSH session), SIGALRM (a caller's alarm) and SIGXCPU (a CPU
//! time limit, `ulimit -t`). An interrupted run stops its grading child, removes its own
//! namespaces (and with them its veths and XDP attachments) and pins, then exits with 128 plus
//! the signal's number (130, 143, 129, 142, 152). A SIGKILL cannot be caught; the next run's
//! sweep and `xdplab clean` remove what it leaves.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use signal_hook::{
    consts::{SIGALRM, SIGHUP, SIGINT, SIGTERM, SIGXCPU},
    iterator::Signals,
};

use crate::{
    cleanup,
    error::{Error, Result},
};

/// Set once one of [`HANDLED`] arrived: the signal thread is cleaning up and will exit.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Blocks for good if the run was interrupted, so that the signal thread's clean-up ends the
/// process (with 130 or 143) rather than a normal return that raced it; otherwise returns at
/// once. Call it before writing results and before exiting.
pub fn hold_if_interrupted() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::park();
    }
}

/// The grading children running now (`grade --jobs` runs several).
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn children() -> std::sync::MutexGuard<'static, Vec<u32>> {
    CHILDREN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The signals that end a run cleanly. Each one's default action would end the process
/// without a Drop, leaving its namespaces behind.
pub const HANDLED: [i32; 5] = [SIGINT, SIGTERM, SIGHUP, SIGALRM, SIGXCPU];

/// Installs the handlers; call it once, early in `main`. Tests need not call it.
pub fn install() -> Result<()> {
    let mut signals =
        Signals::new(HANDLED).map_err(|e| Error::op("cannot install signal handlers", e))?;
    std::thread::Builder::new()
        .name("xdplab-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                interrupted(signal);
            }
        })
        .map_err(|e| Error::op("cannot start the signal thread", e))?;
    Ok(())
}

/// Marks `pid` as a running grading child until the returned guard is dropped.
pub fn track_child(pid: u32) -> ChildGuard {
    children().push(pid);
    ChildGuard(pid)
}

/// Forgets the tracked child when dropped.
pub struct ChildGuard(u32);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        children().retain(|&p| p != self.0);
    }
}

fn interrupted(signal: i32) -> ! {
    INTERRUPTED.store(true, Ordering::SeqCst);
    // Never released: the process ends below.
    cleanup::stop_creating();
    let pids = children().clone();
    // Signal them all first, so they clean up side by side; then wait for each.
    for &pid in &pids {
        // SAFETY: a plain syscall on a pid this process spawned and has not reaped.
        unsafe { libc::kill(pid as libc::pid_t, signal) };
    }
    for pid in pids {
        stop(pid as libc::pid_t, signal);
    }
    cleanup::sweep_own();
    // The child's namespaces, if it was killed before it could remove them.
    cleanup::sweep();
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
        if unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) } != 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}
