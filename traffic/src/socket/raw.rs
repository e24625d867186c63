//! The libc calls pnet does not make for us: creating the packet socket bound to one interface
//! from the start, waiting on it with a per-call timeout, and reading its counters.

use std::io;
use std::mem;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Receive buffer asked for (the kernel doubles it), so a capture can queue a flood's worth of
/// small frames (several thousand) rather than the default ~200 KiB (a few hundred).
const RCVBUF: libc::c_int = 4 << 20;

/// Opens an AF_PACKET socket that captures every protocol on `ifindex` and nothing else, never
/// sees its own transmissions, and reports stripped VLAN tags.
///
/// Protocol 0 at creation means nothing is queued until the second bind, which happens only
/// after the first has narrowed the socket to `ifindex`; so no frame from another interface
/// can slip in.
pub(super) fn bound_socket(ifindex: u32) -> io::Result<OwnedFd> {
    let flags = libc::SOCK_RAW | libc::SOCK_CLOEXEC;
    // SAFETY: plain syscall; the result is checked before use.
    let raw = cvt(unsafe { libc::socket(libc::AF_PACKET, flags, 0) })?;
    // SAFETY: `raw` was just returned by socket() and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    bind(raw, ifindex, 0)?;
    bind(raw, ifindex, libc::ETH_P_ALL as u16)?;
    set_int(raw, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1)?;
    // Delivers the VLAN tags the kernel strips from frames (see `capture`).
    set_int(raw, libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)?;
    // FORCE needs CAP_NET_ADMIN; without it the plain option still gets up to rmem_max.
    if set_int(raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RCVBUF).is_err() {
        set_int(raw, libc::SOL_SOCKET, libc::SO_RCVBUF, RCVBUF)?;
    }
    Ok(fd)
}

fn bind(fd: RawFd, ifindex: u32, protocol: u16) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = protocol.to_be();
    addr.sll_ifindex = ifindex as i32;
    let len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `addr` is a valid sockaddr_ll of `len` bytes.
    cvt(unsafe { libc::bind(fd, (&raw const addr).cast(), len) }).map(drop)
}

/// The interface index and protocol (host order) the socket is bound to.
pub(super) fn binding(fd: RawFd) -> io::Result<(u32, u16)> {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `addr` has room for `len` bytes, which getsockname updates.
    cvt(unsafe { libc::getsockname(fd, (&raw mut addr).cast(), &raw mut len) })?;
    Ok((addr.sll_ifindex as u32, u16::from_be(addr.sll_protocol)))
}

fn set_int(fd: RawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    let len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` is a c_int of `len` bytes that outlives the call.
    cvt(unsafe { libc::setsockopt(fd, level, name, (&raw const value).cast(), len) }).map(drop)
}

/// Counters the kernel keeps per packet socket (PACKET_STATISTICS); reading resets them.
pub(super) fn take_stats(fd: RawFd) -> io::Result<libc::tpacket_stats> {
    // SAFETY: tpacket_stats is plain data; all-zero is a valid value.
    let mut stats: libc::tpacket_stats = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: `stats` has room for `len` bytes.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&raw mut stats).cast(),
            &raw mut len,
        )
    })?;
    Ok(stats)
}

/// Waits until `fd` has `events` pending or `timeout` passes; false on timeout.
///
/// The timeout is rounded up to whole milliseconds (poll's unit) so a short wait is never
/// zero. An interrupted wait counts as woken: callers loop on their own deadline.
pub(super) fn wait(fd: RawFd, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
    wait_any(&[fd], events, timeout)
}

/// Waits until any of `fds` has `events` pending or `timeout` passes; false on timeout. Rounding
/// and interruptions as in [`wait`].
pub(super) fn wait_any(
    fds: &[RawFd],
    events: libc::c_short,
    timeout: Duration,
) -> io::Result<bool> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    let ms = timeout
        .as_nanos()
        .div_ceil(1_000_000)
        .min(libc::c_int::MAX as u128) as libc::c_int;
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfds.
    match unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) } {
        -1 => {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                Ok(true)
            } else {
                Err(err)
            }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}

/// Sets the receive buffer to `bytes` (the kernel doubles it, and enforces a minimum).
pub(super) fn set_rcvbuf(fd: RawFd, bytes: libc::c_int) -> io::Result<()> {
    set_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, bytes)
}

/// Turns a libc -1 into the thread's errno.
pub(super) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}
