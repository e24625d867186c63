//! Traffic from several CPUs. Frames sent from one thread, and test runs from one thread, all
//! run the program on one CPU, where per-CPU state (a per-CPU round-robin cursor) and a
//! non-atomic `+=` on a shared ARRAY look right. A check spreads a batch over CPUs in one of two
//! ways ([`Spread`]); the targets do it by pinning the threads that send or test-run.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How a batch of frames is spread over CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// The frames one at a time, in order, in turn on `n` CPUs (frame i on CPU i mod n), each
    /// decided before the next is sent: state a program keeps per CPU shows as a break in a
    /// sequence (a per-CPU cursor restarts on each CPU). Deterministic.
    Alternate(usize),
    /// `cpus` threads on as many CPUs, all at once, each running every frame `repeat` times:
    /// a shared counter updated without an atomic add loses counts. Each frame's outcome is
    /// the first thread's; counters must move by `cpus × repeat` per frame.
    Concurrent {
        /// How many CPUs.
        cpus: usize,
        /// How many times each thread runs each frame.
        repeat: u32,
    },
}

impl Spread {
    /// How many times the program runs each frame of the batch.
    pub fn runs_per_frame(self) -> u64 {
        match self {
            Spread::Alternate(_) => 1,
            Spread::Concurrent { cpus, repeat } => cpus as u64 * u64::from(repeat),
        }
    }

    /// How many CPUs it needs.
    pub fn cpus(self) -> usize {
        match self {
            Spread::Alternate(n) | Spread::Concurrent { cpus: n, .. } => n,
        }
    }

    /// A line for a table's inputs.
    pub fn line(self) -> String {
        match self {
            Spread::Alternate(n) => {
                format!("one at a time, in turn on {n} CPUs (frame i on CPU i mod {n})")
            }
            Spread::Concurrent { cpus, repeat } => format!(
                "from {cpus} CPUs at once, each running every frame {repeat} times"
            ),
        }
    }
}

/// The first `n` CPUs this process may run on; fewer is an environment fault (the check
/// cannot be judged on this machine).
pub fn usable(n: usize) -> Result<Vec<usize>> {
    let size = size_of::<libc::cpu_set_t>();
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` has room for `size` bytes; 0 is the calling thread.
    if unsafe { libc::sched_getaffinity(0, size, &raw mut set) } != 0 {
        return Err(Error::op(
            "reading the CPUs the harness may use",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: CPU_ISSET reads within the set for any index below CPU_SETSIZE.
    let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .take(n)
        .collect();
    if cpus.len() < n {
        return Err(Error::env(format!(
            "the check runs the program on {n} CPUs at once, and this machine lets the harness \
             use {}; run it where at least {n} CPUs are available",
            cpus.len()
        )));
    }
    Ok(cpus)
}

/// Keeps the calling thread on one CPU until dropped (then restores its affinity).
pub struct OnCpu {
    previous: libc::cpu_set_t,
}

impl OnCpu {
    /// Moves the calling thread to `cpu` and keeps it there.
    pub fn pin(cpu: usize) -> Result<Self> {
        let size = size_of::<libc::cpu_set_t>();
        // SAFETY: as in `usable`.
        let mut previous: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: as in `usable`.
        if unsafe { libc::sched_getaffinity(0, size, &raw mut previous) } != 0 {
            return Err(Error::op(
                "reading the thread's CPUs",
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: plain data; CPU_SET stays within the set for a CPU below CPU_SETSIZE.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        unsafe { libc::CPU_SET(cpu, &mut one) };
        // SAFETY: `one` is a valid set of `size` bytes; the kernel moves the thread before
        // returning, so what it runs next runs on `cpu`.
        if unsafe { libc::sched_setaffinity(0, size, &raw const one) } != 0 {
            return Err(Error::op(
                format!("moving a thread to CPU {cpu}"),
                std::io::Error::last_os_error(),
            ));
        }
        Ok(Self { previous })
    }
}

impl Drop for OnCpu {
    fn drop(&mut self) {
        let size = size_of::<libc::cpu_set_t>();
        // SAFETY: `previous` is the set read in `pin`.
        unsafe { libc::sched_setaffinity(0, size, &raw const self.previous) };
    }
}

/// When each thread of a [`Spread::Concurrent`] batch started and finished its share.
pub type Span = (Instant, Instant);

/// Fails (an environment fault) unless the threads' spans overlap for at least half of the
/// shortest: a contended batch whose threads ran one after the other tested nothing.
pub fn overlapped(spans: &[Span]) -> Result<Duration> {
    let start = spans.iter().map(|s| s.0).max();
    let end = spans.iter().map(|s| s.1).min();
    let shortest = spans.iter().map(|s| s.1 - s.0).min().unwrap_or_default();
    let common = match (start, end) {
        (Some(s), Some(e)) if e > s => e - s,
        _ => Duration::ZERO,
    };
    if spans.len() > 1 && common < shortest / 2 {
        return Err(Error::env(format!(
            "the {} CPUs that had to run the program at the same time did so for {common:?} of \
             the {shortest:?} the shortest of them took; the machine is too loaded to judge \
             what several CPUs at once do",
            spans.len()
        )));
    }
    Ok(common)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_must_overlap_for_half_the_shortest() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        assert!(overlapped(&[(t, t + ms(10)), (t + ms(2), t + ms(12))]).is_ok());
        assert!(overlapped(&[(t, t + ms(10)), (t + ms(8), t + ms(18))]).is_err());
        assert!(overlapped(&[(t, t + ms(10))]).is_ok());
    }

    #[test]
    fn pinning_moves_the_thread_and_restores_it() {
        let cpus = usable(1).expect("one CPU");
        {
            let _on = OnCpu::pin(cpus[0]).expect("pin");
            // SAFETY: plain libc query.
            assert_eq!(unsafe { libc::sched_getcpu() } as usize, cpus[0]);
        }
    }
}
