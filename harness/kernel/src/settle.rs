//! Knowing when every frame of a batch has been decided and every outcome delivered, without
//! waiting a fixed time: barrier frames ("sentinels") sent behind the batch on each path a
//! check observes.
//!
//! Why a sentinel proves something, path by path (single-queue veths; the sending thread is
//! pinned to one CPU while it sends and settles, see [`PinnedCpu`]):
//!
//! - **PASS** (the program's interface): the sentinel is a non-IPv4 frame, which every lab's
//!   contract must pass, sent last. The interface's receive queue (the veth's ring in native
//!   mode, the CPU's backlog in generic mode) is FIFO and the program runs on each frame in
//!   order, so when the sentinel reaches the capture, the program has decided every frame before
//!   it and every passed frame has reached the capture before it.
//! - **TX and REDIRECT** (the sender's interface, watched interfaces): frames sent back or
//!   redirected leave through another queue, flushed at the end of the NAPI poll that ran the
//!   program (native) or queued to the same CPU's backlog (generic). Once the PASS sentinel is
//!   seen, a second sentinel is sent into the end of each such path (from the interface the
//!   frames leave through). On a pinned CPU the poll that ran the program has finished before
//!   the thread runs again, so its flushed frames are already queued ahead of the second
//!   sentinel in the same FIFO; when that sentinel arrives, so has everything before it.
//!
//! A sentinel that does not come back (a program that drops non-IPv4 frames, against every
//! contract) is waited for [`SENTINEL_GRACE`] after the program's run count shows it ran on
//! it, and the result says that it was settled by timeout.

use std::time::Duration;

use traffic::MacAddr;

/// How long the program may take to run on a batch before the environment is blamed.
pub const RUN_DEADLINE: Duration = Duration::from_secs(10);
/// How long to wait for a sentinel after the program ran on it before calling it lost (and
/// settling by this timeout instead).
pub const SENTINEL_GRACE: Duration = Duration::from_millis(30);
/// How long a path sentinel (which no program touches) may take before it is called lost.
pub const PATH_DEADLINE: Duration = Duration::from_secs(1);
/// The longest single wait for captured frames; between waits the run count is read.
pub const POLL_SLICE: Duration = Duration::from_millis(1);
/// Frames sent between two reads of the captures while a batch goes out, so a capture never
/// has to queue a whole flood: 1024 small frames fit a capture's 8 MiB buffer even where each
/// takes 4.4 KiB of it (Debian's 6.1 in native mode), and reading more often slows the flood.
pub const SEND_CHUNK: usize = 1024;

/// EtherType of sentinels: IEEE 802 local experimental, which no contract treats as IPv4.
const ETHERTYPE: [u8; 2] = [0x88, 0xb5];
/// Marks a sentinel's payload.
const MAGIC: &[u8; 8] = b"XDPLSENT";

/// A sentinel frame from `src` to `dst` carrying `nonce`: a barrier told apart from any frame
/// a check sends.
pub fn sentinel(src: MacAddr, dst: MacAddr, nonce: u64) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&ETHERTYPE);
    f.extend_from_slice(MAGIC);
    f.extend_from_slice(&nonce.to_be_bytes());
    // Pad to the Ethernet minimum, as a NIC would.
    f.resize(60, 0);
    f
}

/// The nonce of a sentinel, or `None` for any other frame.
pub fn sentinel_nonce(frame: &[u8]) -> Option<u64> {
    if frame.len() < 30 || frame[12..14] != ETHERTYPE || &frame[14..22] != MAGIC {
        return None;
    }
    Some(u64::from_be_bytes(frame[22..30].try_into().ok()?))
}

/// Keeps the calling thread on the CPU it runs on until dropped, so every frame it sends is
/// queued, run and flushed on that CPU, in order (see the module docs).
pub struct PinnedCpu {
    previous: Option<libc::cpu_set_t>,
}

impl PinnedCpu {
    /// Pins the calling thread to its current CPU. Where that fails (a restricted cpuset),
    /// nothing is pinned and the barriers still hold in the common case.
    pub fn here() -> Self {
        // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
        let mut previous: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: `previous` has room for `size` bytes; 0 is the calling thread.
        if unsafe { libc::sched_getaffinity(0, size, &raw mut previous) } != 0 {
            return Self { previous: None };
        }
        // SAFETY: plain syscall wrapper.
        let cpu = unsafe { libc::sched_getcpu() };
        if cpu < 0 {
            return Self { previous: None };
        }
        // SAFETY: as above; CPU_SET stays within the set for any valid CPU number.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        unsafe { libc::CPU_SET(cpu as usize, &mut one) };
        // SAFETY: `one` is a valid set of `size` bytes.
        if unsafe { libc::sched_setaffinity(0, size, &raw const one) } != 0 {
            return Self { previous: None };
        }
        Self {
            previous: Some(previous),
        }
    }
}

impl Drop for PinnedCpu {
    fn drop(&mut self) {
        if let Some(previous) = &self.previous {
            let size = std::mem::size_of::<libc::cpu_set_t>();
            // SAFETY: `previous` is the set read in `here`.
            unsafe { libc::sched_setaffinity(0, size, previous) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinels_are_recognised_and_nothing_else_is() {
        let a = MacAddr(2, 0, 0, 0, 0, 1);
        let b = MacAddr(2, 0, 0, 0, 0, 2);
        let s = sentinel(a, b, 42);
        assert_eq!(s.len(), 60);
        assert_eq!(sentinel_nonce(&s), Some(42));
        let mut other = s.clone();
        other[12] = 0x08;
        other[13] = 0x00;
        assert_eq!(sentinel_nonce(&other), None);
        assert_eq!(sentinel_nonce(&s[..20]), None);
    }

    #[test]
    fn pinning_restores_the_affinity() {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        let read = || {
            // SAFETY: as in PinnedCpu::here.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            assert_eq!(unsafe { libc::sched_getaffinity(0, size, &raw mut set) }, 0);
            // SAFETY: `set` is a valid set.
            unsafe { libc::CPU_COUNT(&set) }
        };
        let before = read();
        {
            let _pin = PinnedCpu::here();
            assert_eq!(read(), 1);
        }
        assert_eq!(read(), before);
    }
}
