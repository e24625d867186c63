//! Telling XDP_ABORTED from XDP_DROP on a veth: both make the frame vanish, but the kernel
//! fires the `xdp:xdp_exception` tracepoint for an abort (and for a return code outside the XDP
//! actions), never for a drop. A counting perf event on that tracepoint, one per CPU and
//! filtered to the program and the interface, read before and after a batch, says how many
//! of the batch's vanished frames were aborted.
//!
//! Written by hand over `perf_event_open`: aya attaches BPF programs to perf events but has no
//! counting events, and a counter needs no program of ours in the kernel.

use std::{
    ffi::CString,
    fs,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    sync::OnceLock,
};

use crate::error::{Error, Result};

/// The tracepoint's directory below a tracefs mount.
const EVENT: &str = "events/xdp/xdp_exception/id";
/// Where a tracefs is usually mounted.
const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `_IOW('$', 6, char *)`.
const PERF_EVENT_IOC_SET_FILTER: libc::c_ulong = 0x4008_2406;

/// The first 64 bytes of `struct perf_event_attr` (PERF_ATTR_SIZE_VER0): all a counting
/// tracepoint event needs.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

/// Counts the aborts of one program on one interface, over every CPU.
#[derive(Debug)]
pub struct Exceptions {
    per_cpu: Vec<OwnedFd>,
}

impl Exceptions {
    /// Starts counting the aborts (and invalid return codes) of program `prog_id` on the
    /// interface `ifindex`. Fails where the machine offers no tracepoint counter (no tracefs
    /// can be found or mounted, perf events refused).
    pub fn open(prog_id: u32, ifindex: u32) -> Result<Self> {
        let id = tracepoint_id().map_err(|e| Error::env(e.clone()))?;
        // TX and REDIRECT failures (act 3, 4) fire the tracepoint too: not the program's doing.
        let filter = CString::new(format!(
            "prog_id == {prog_id} && ifindex == {ifindex} && (act == 0 || act > 4)"
        ))
        .expect("no NUL");
        let mut per_cpu = Vec::new();
        for cpu in 0..possible_cpus() {
            let attr = PerfEventAttr {
                kind: PERF_TYPE_TRACEPOINT,
                size: size_of::<PerfEventAttr>() as u32,
                config: id,
                ..Default::default()
            };
            // SAFETY: `attr` is a valid PERF_ATTR_SIZE_VER0 attribute block; pid -1 with a CPU
            // counts every task on that CPU.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_perf_event_open,
                    &raw const attr,
                    -1,
                    cpu as libc::c_int,
                    -1,
                    PERF_FLAG_FD_CLOEXEC,
                )
            };
            if fd < 0 {
                let e = std::io::Error::last_os_error();
                // A possible CPU that is offline has no counter, and needs none.
                if e.raw_os_error() == Some(libc::ENODEV) {
                    continue;
                }
                return Err(Error::op(
                    "cannot count xdp:xdp_exception events (perf_event_open)",
                    e,
                ));
            }
            // SAFETY: a fresh fd the kernel just returned, owned by nobody else.
            let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
            // SAFETY: the filter is a NUL-terminated string that outlives the call.
            if unsafe { libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_SET_FILTER, filter.as_ptr()) }
                != 0
            {
                return Err(Error::op(
                    "cannot filter xdp:xdp_exception events to the program",
                    std::io::Error::last_os_error(),
                ));
            }
            per_cpu.push(fd);
        }
        Ok(Self { per_cpu })
    }

    /// How many aborts have been counted since [`Exceptions::open`].
    pub fn count(&self) -> Result<u64> {
        let mut total = 0;
        for fd in &self.per_cpu {
            let mut value = 0u64;
            // SAFETY: a counting event without read_format flags reads as one u64.
            let n = unsafe { libc::read(fd.as_raw_fd(), (&raw mut value).cast(), 8) };
            if n != 8 {
                return Err(Error::op(
                    "reading the xdp:xdp_exception count",
                    std::io::Error::last_os_error(),
                ));
            }
            total += value;
        }
        Ok(total)
    }
}

/// The CPUs the kernel may ever bring online: counters are opened on each.
fn possible_cpus() -> usize {
    // SAFETY: plain libc query.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// The tracepoint's id, read once per process: from a mounted tracefs, or else from one
/// mounted for a moment in a private mount namespace (nothing is left mounted).
fn tracepoint_id() -> std::result::Result<u64, &'static String> {
    static ID: OnceLock<std::result::Result<u64, String>> = OnceLock::new();
    ID.get_or_init(|| {
        for dir in TRACEFS {
            if let Ok(text) = fs::read_to_string(format!("{dir}/{EVENT}")) {
                return parse_id(&text);
            }
        }
        std::thread::scope(|s| {
            s.spawn(read_in_private_mount)
                .join()
                .unwrap_or_else(|_| Err("reading the tracepoint id panicked".into()))
        })
    })
    .as_ref()
    .copied()
}

fn parse_id(text: &str) -> std::result::Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| "the xdp:xdp_exception tracepoint id is unreadable".to_owned())
}

/// Runs on a thread of its own, which leaves the process's mount namespace for a private copy,
/// mounts a tracefs there and reads the id; the copy goes away with the thread.
fn read_in_private_mount() -> std::result::Result<u64, String> {
    let fail = |what: &str| format!("{what}: {}", std::io::Error::last_os_error());
    // SAFETY: unshare affects only this thread (CLONE_NEWNS implies CLONE_FS).
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(fail(
            "cannot make a private mount namespace to mount a tracefs",
        ));
    }
    let root = c"/";
    // SAFETY: valid C strings; makes every mount of the copy private, so the tracefs mounted
    // below never propagates back to the host's namespace.
    if unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    } != 0
    {
        return Err(fail("cannot make the private mount namespace private"));
    }
    let target = c"/sys/kernel/tracing";
    // SAFETY: valid C strings; the mount lives in this thread's private namespace only.
    if unsafe {
        libc::mount(
            c"tracefs".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    } != 0
    {
        return Err(fail("cannot mount a tracefs on /sys/kernel/tracing"));
    }
    let text = fs::read_to_string(format!("/sys/kernel/tracing/{EVENT}"))
        .map_err(|e| format!("the kernel has no xdp:xdp_exception tracepoint: {e}"))?;
    parse_id(&text)
}
