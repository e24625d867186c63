//! Sending many frames fast, for flood checks.
//!
//! This bypasses pnet: its sender makes a poll() and a sendto() per frame, two syscalls where
//! sendmmsg() needs one per batch of [`BATCH`] frames. No destination address is given, so the
//! kernel sends on the interface the socket is bound to.

use std::io;
use std::mem;
use std::time::{Duration, Instant};

use super::raw::{self, cvt};
use super::{PacketSocket, SEND_TIMEOUT};

/// Frames per sendmmsg() call; beyond a few dozen the per-call saving is already gone.
const BATCH: usize = 256;

/// How a [`PacketSocket::send_burst`] went.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurstReport {
    /// Frames the kernel accepted (all of them, when the call succeeds).
    pub sent: usize,
    /// Wall-clock time from the first to the last send.
    pub elapsed: Duration,
    /// `sent / elapsed`, in frames per second (0 when nothing was sent).
    pub rate_pps: f64,
}

impl PacketSocket {
    /// Sends `frames` back to back, as fast as the kernel takes them.
    ///
    /// A full send buffer or device queue is waited out, for up to a second without progress;
    /// any other error stops the burst, with the frames before the failing one already sent.
    pub fn send_burst(&mut self, frames: &[Vec<u8>]) -> io::Result<BurstReport> {
        let start = Instant::now();
        let mut sent = 0;
        for batch in frames.chunks(BATCH) {
            let mut iovs: Vec<libc::iovec> = batch
                .iter()
                .map(|f| libc::iovec {
                    iov_base: f.as_ptr() as *mut libc::c_void,
                    iov_len: f.len(),
                })
                .collect();
            let mut msgs: Vec<libc::mmsghdr> = iovs
                .iter_mut()
                .map(|iov| {
                    // SAFETY: mmsghdr is plain data; all-zero is a valid value (no name, no
                    // control data), and some libcs give msghdr private padding fields.
                    let mut m: libc::mmsghdr = unsafe { mem::zeroed() };
                    m.msg_hdr.msg_iov = iov;
                    m.msg_hdr.msg_iovlen = 1;
                    m
                })
                .collect();
            let mut done = 0;
            let mut stalled_since = None;
            while done < msgs.len() {
                let rest = &mut msgs[done..];
                // SAFETY: each header points at one iovec in `iovs`, which points into a frame
                // of `frames`; all outlive the call, and sendmmsg only reads them.
                let ret = cvt(unsafe {
                    libc::sendmmsg(self.fd, rest.as_mut_ptr(), rest.len() as libc::c_uint, 0)
                });
                match ret {
                    Ok(n) => {
                        done += n as usize;
                        stalled_since = None;
                    }
                    Err(e) => {
                        let since = *stalled_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > SEND_TIMEOUT {
                            let msg = format!("no progress for {SEND_TIMEOUT:?}: {e}");
                            return Err(io::Error::new(io::ErrorKind::TimedOut, msg));
                        }
                        self.wait_for_room(e)?;
                    }
                }
            }
            sent += done;
        }
        let elapsed = start.elapsed();
        let rate_pps = if sent == 0 {
            0.0
        } else {
            sent as f64 / elapsed.as_secs_f64()
        };
        Ok(BurstReport {
            sent,
            elapsed,
            rate_pps,
        })
    }

    /// Handles a failed sendmmsg: returns once a retry makes sense, or the error if it is not
    /// about a full buffer (the caller gives up if retries make no progress).
    fn wait_for_room(&self, err: io::Error) -> io::Result<()> {
        match err.kind() {
            io::ErrorKind::Interrupted => Ok(()),
            io::ErrorKind::WouldBlock => raw::wait(self.fd, libc::POLLOUT, SEND_TIMEOUT).map(drop),
            // A device queue that is momentarily full; nothing to poll for.
            _ if err.raw_os_error() == Some(libc::ENOBUFS) => {
                std::thread::yield_now();
                Ok(())
            }
            _ => Err(err),
        }
    }
}
