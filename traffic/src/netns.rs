//! Throw-away network namespaces for tests that need real interfaces, so they never touch the
//! host's and cannot collide with each other.
//!
//! Each test body runs on a dedicated thread that unshares its network namespace and then
//! exits; nothing else ever runs on that thread. The namespace disappears with its last socket.

use std::ffi::CString;
use std::io;
use std::mem;
use std::process::Command;

/// Runs `body` on a fresh thread inside a new, empty network namespace (only a down `lo`).
pub(crate) fn in_fresh_netns<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let thread = std::thread::Builder::new()
        .name("fresh-netns".into())
        .spawn(move || {
            // SAFETY: plain syscall; CLONE_NEWNET affects only the calling thread.
            let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
            assert_eq!(
                rc,
                0,
                "unshare(CLONE_NEWNET): {}",
                io::Error::last_os_error()
            );
            body()
        })
        .expect("spawn namespace thread");
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The index of interface `name` in the calling thread's namespace.
pub(crate) fn ifindex(name: &str) -> u32 {
    let c = CString::new(name).expect("no NUL in interface name");
    // SAFETY: `c` is a valid C string.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    assert_ne!(
        index,
        0,
        "no interface {name}: {}",
        io::Error::last_os_error()
    );
    index
}

/// Brings interface `name` up with SIOCSIFFLAGS, so loopback tests need no iproute2.
pub(crate) fn set_up(name: &str) -> io::Result<()> {
    // SAFETY: plain syscall; checked below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: ifreq is plain data; all-zero is valid.
    let mut req: libc::ifreq = unsafe { mem::zeroed() };
    for (dst, src) in req
        .ifr_name
        .iter_mut()
        .zip(name.bytes().take(libc::IFNAMSIZ - 1))
    {
        *dst = src as libc::c_char;
    }
    // SAFETY: `req` names the interface; the ioctls read and write its flags field.
    let result = unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &raw mut req) < 0 {
            Err(io::Error::last_os_error())
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &raw mut req) < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        }
    };
    // SAFETY: `fd` is ours and closed once.
    unsafe { libc::close(fd) };
    result
}

/// Whether iproute2's `ip` can be run.
pub(crate) fn has_iproute2() -> bool {
    Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Creates veth pair `a`/`b` in the calling thread's namespace (the child `ip` inherits it)
/// and brings both ends up without IPv6 link-local addresses, so the stack sends no
/// background frames (DAD, router solicitations) on them.
pub(crate) fn veth_pair(a: &str, b: &str) {
    let steps: [&[&str]; 5] = [
        &["link", "add", a, "type", "veth", "peer", "name", b],
        &["link", "set", a, "addrgenmode", "none"],
        &["link", "set", b, "addrgenmode", "none"],
        &["link", "set", a, "up"],
        &["link", "set", b, "up"],
    ];
    for args in steps {
        let out = Command::new("ip").args(args).output().expect("run ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Until the kernel's link watcher marks a veth up it still has the no-op qdisc, which drops
    // what is sent (under load that takes a while): wait for operstate UP on both ends.
    for name in [a, b] {
        wait_until_up(name);
    }
}

/// Polls `ip -o link show` until `name` reports `state UP`, for up to 10 s.
fn wait_until_up(name: &str) {
    let start = std::time::Instant::now();
    loop {
        let out = Command::new("ip")
            .args(["-o", "link", "show", name])
            .output()
            .expect("run ip");
        if String::from_utf8_lossy(&out.stdout).contains("state UP") {
            return;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{name} did not come up"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
