//! Sending and capturing frames on one interface through an AF_PACKET socket.
//!
//! The socket is created here rather than by pnet, because pnet's own socket listens on every
//! interface until it is bound; see [`PacketSocket::open`] for the exact sequence. pnet's
//! datalink channel then finishes the set-up and sends single frames; bursts use sendmmsg()
//! ([`PacketSocket::send_burst`]) and capture uses recvmsg() to recover VLAN tags (see the
//! `capture` module).

mod burst;
mod capture;
mod raw;

use std::io;
use std::os::fd::{IntoRawFd, RawFd};
use std::time::{Duration, Instant};

use pnet::datalink::linux::{self, Config};
use pnet::datalink::{Channel, DataLinkSender, NetworkInterface};

pub use burst::BurstReport;

/// How long a send may wait for room in the socket's send buffer before failing.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Capture buffer size; larger frames are cut to it. 64 KiB covers GRO/GSO super-frames on
/// veth as well as jumbo frames.
const READ_BUFFER: usize = 64 * 1024 + 64;

/// Upper bound on frames one [`PacketSocket::drain`] returns, so a continuing flood cannot keep
/// it reading forever; call it again for the rest.
pub const DRAIN_LIMIT: usize = 1 << 20;

/// A raw Ethernet socket on one interface: sends frames as given and captures every frame the
/// interface receives, as it was on the wire (VLAN tags included).
///
/// Frames going out of the interface are not captured, so a socket never sees its own
/// transmissions (nor anyone else's outgoing frames on that interface).
///
/// It can be moved to and used from any thread once opened.
pub struct PacketSocket {
    tx: Box<dyn DataLinkSender>,
    /// Owned by pnet (closed when `tx` is dropped); borrowed for capture, poll, sendmmsg and
    /// the statistics.
    fd: RawFd,
    ifindex: u32,
    buf: Vec<u8>,
}

/// Capture counters since the previous [`PacketSocket::take_stats`] (or since opening).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CaptureStats {
    /// Frames queued for reading.
    pub queued: u32,
    /// Frames lost because the receive buffer was full.
    pub dropped: u32,
}

impl PacketSocket {
    /// Opens a socket on the interface with index `ifindex`.
    ///
    /// Must be called from a thread that is inside the interface's network namespace.
    ///
    /// The socket is created with protocol 0 (captures nothing), bound to `ifindex`, bound
    /// again with `ETH_P_ALL`, and given `PACKET_IGNORE_OUTGOING`, `PACKET_AUXDATA` and a large
    /// receive buffer before pnet takes it over. pnet binds once more (same interface, same
    /// protocol) and makes the fd non-blocking; the binding is checked afterwards. Promiscuous
    /// mode is left off because veth never filters by MAC address, so frames for any
    /// destination reach the socket anyway.
    pub fn open(ifindex: u32) -> io::Result<Self> {
        if ifindex == 0 {
            // Binding to index 0 would capture on every interface.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "ifindex 0 is not an interface",
            ));
        }
        let fd = raw::bound_socket(ifindex)?.into_raw_fd();
        let interface = NetworkInterface {
            name: String::new(),
            description: String::new(),
            index: ifindex,
            mac: None,
            ips: Vec::new(),
            flags: 0,
        };
        let config = Config {
            write_timeout: Some(SEND_TIMEOUT),
            promiscuous: false,
            socket_fd: Some(fd),
            ..Config::default()
        };
        // From here pnet owns the fd: it closes it itself when `channel` fails.
        // Its receiver goes unused: capture needs recvmsg() (see `capture`).
        let Channel::Ethernet(tx, _rx) = linux::channel(&interface, config)? else {
            return Err(io::Error::other("pnet returned a non-Ethernet channel"));
        };
        let buf = vec![0; READ_BUFFER];
        let socket = PacketSocket {
            tx,
            fd,
            ifindex,
            buf,
        };
        let (bound, protocol) = raw::binding(fd)?;
        if (bound, protocol) != (ifindex, libc::ETH_P_ALL as u16) {
            return Err(io::Error::other(format!(
                "socket ended up bound to ifindex {bound} protocol 0x{protocol:04x}"
            )));
        }
        Ok(socket)
    }

    /// The interface this socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Transmits one complete Ethernet frame on the interface.
    pub fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.tx
            .send_to(frame, None)
            .unwrap_or_else(|| Err(io::Error::other("pnet did not send the frame")))
    }

    /// The next captured frame, waiting up to `timeout`; `None` if none arrived in time.
    pub fn recv(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(frame) = self.try_recv()? {
                return Ok(Some(frame));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !raw::wait(self.fd, libc::POLLIN, left)? {
                return Ok(None);
            }
        }
    }

    /// Every frame queued right now, oldest first, without waiting (at most [`DRAIN_LIMIT`]).
    pub fn drain(&mut self) -> io::Result<Vec<Vec<u8>>> {
        let mut frames = Vec::new();
        while frames.len() < DRAIN_LIMIT {
            match self.try_recv()? {
                Some(frame) => frames.push(frame),
                None => break,
            }
        }
        Ok(frames)
    }

    /// Reads and resets the kernel's capture counters, to tell "not sent" from "dropped
    /// because the capture fell behind".
    pub fn take_stats(&mut self) -> io::Result<CaptureStats> {
        let stats = raw::take_stats(self.fd)?;
        // The kernel's tp_packets includes the drops.
        Ok(CaptureStats {
            queued: stats.tp_packets - stats.tp_drops,
            dropped: stats.tp_drops,
        })
    }

    /// Sets the capture's receive buffer to about `bytes` (the kernel doubles the value and
    /// enforces a minimum of a few KiB). Tests use a tiny one to force a capture overflow.
    pub fn set_receive_buffer(&mut self, bytes: usize) -> io::Result<()> {
        let bytes = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        raw::set_rcvbuf(self.fd, bytes)
    }

    /// Waits until any of `sockets` has a frame queued, or `timeout` passes; false on timeout.
    /// One poll() over all of them, so a check watching several interfaces wakes at the first
    /// frame on any.
    pub fn wait_any(sockets: &[&PacketSocket], timeout: Duration) -> io::Result<bool> {
        let fds: Vec<RawFd> = sockets.iter().map(|s| s.fd).collect();
        raw::wait_any(&fds, libc::POLLIN, timeout)
    }

    /// One queued frame, or `None` if the queue is empty.
    fn try_recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        capture::recv_frame(self.fd, &mut self.buf)
    }
}

impl std::fmt::Debug for PacketSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketSocket")
            .field("fd", &self.fd)
            .field("ifindex", &self.ifindex)
            .finish()
    }
}

#[cfg(test)]
mod tests;
