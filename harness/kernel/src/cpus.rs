//! Traffic from several CPUs. Frames sent from one thread, and test runs from one thread, all
//! run the program on one CPU, where per-CPU state (a per-CPU round-robin cursor) and a
//! non-atomic `+=` on a shared ARRAY look right. A check spreads a batch over CPUs in one of two
//! ways ([`Spread`](crate::target::Spread)); the targets do it with what this module offers:
//! pinning the threads that send or test-run, raising their priority, starting them together
//! and checking that they did run at the same time.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The first `n` CPUs this process may run on; fewer is an environment fault (the check
/// cannot be judged on this machine).
pub fn usable(n: usize) -> Result<Vec<usize>> {
    let set = affinity()?;
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

/// The CPUs the calling thread may run on.
fn affinity() -> Result<libc::cpu_set_t> {
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
    Ok(set)
}

/// Keeps the calling thread on one CPU until dropped (then restores its affinity).
pub struct OnCpu {
    previous: libc::cpu_set_t,
}

impl OnCpu {
    /// Moves the calling thread to `cpu` and keeps it there.
    pub fn pin(cpu: usize) -> Result<Self> {
        let size = size_of::<libc::cpu_set_t>();
        let previous = affinity()?;
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

/// The lowest real-time priority for the calling thread while this lives, so the CPU it is
/// pinned to runs it without sharing it with other processes: on a loaded machine two CPUs then
/// still run the program at the same time. Where that is not allowed the thread stays as it was
/// (and [`overlapped`] says when that was not enough).
pub struct Realtime {
    previous: Option<(libc::c_int, libc::sched_param)>,
}

impl Realtime {
    /// Raises the calling thread to SCHED_FIFO priority 1.
    pub fn raise() -> Self {
        // SAFETY: 0 is the calling thread; the param is plain data the kernel fills in.
        let policy = unsafe { libc::sched_getscheduler(0) };
        let mut param = libc::sched_param { sched_priority: 0 };
        if policy < 0 || unsafe { libc::sched_getparam(0, &raw mut param) } != 0 {
            return Self { previous: None };
        }
        let rt = libc::sched_param { sched_priority: 1 };
        // SAFETY: as above; `rt` is a valid sched_param.
        let raised = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &raw const rt) } == 0;
        Self {
            previous: raised.then_some((policy, param)),
        }
    }
}

impl Drop for Realtime {
    fn drop(&mut self) {
        if let Some((policy, param)) = &self.previous {
            // SAFETY: restores what `raise` read for this thread.
            unsafe { libc::sched_setscheduler(0, *policy, param) };
        }
    }
}

/// A barrier whose threads wait spinning, on their CPUs: released together, they start at
/// once, where threads asleep in `std::sync::Barrier` wake one by one, each after its CPU's
/// scheduler gets round to it (milliseconds on a loaded machine). A thread that fails
/// abandons it, and a wait gives up after [`SpinBarrier::PATIENCE`], so no thread spins
/// forever for one that is gone.
pub struct SpinBarrier {
    threads: usize,
    arrived: std::sync::atomic::AtomicUsize,
    abandoned: std::sync::atomic::AtomicBool,
}

impl SpinBarrier {
    /// The longest a thread waits for the others.
    pub const PATIENCE: Duration = Duration::from_secs(5);

    /// A barrier for `threads` threads, reusable round after round.
    pub fn new(threads: usize) -> Self {
        Self {
            threads,
            arrived: std::sync::atomic::AtomicUsize::new(0),
            abandoned: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Waits until every thread has arrived in this round; fails when one abandoned the
    /// barrier or did not come within [`SpinBarrier::PATIENCE`].
    pub fn wait(&self) -> Result<()> {
        use std::sync::atomic::Ordering::{AcqRel, Acquire};
        let ticket = self.arrived.fetch_add(1, AcqRel);
        let round_end = (ticket / self.threads + 1) * self.threads;
        let start = Instant::now();
        while self.arrived.load(Acquire) < round_end {
            if self.abandoned.load(Acquire) || start.elapsed() > Self::PATIENCE {
                self.abandon();
                return Err(Error::env(
                    "a thread running the program on another CPU did not come: the batch was \
                     not run on several CPUs at once",
                ));
            }
            std::hint::spin_loop();
        }
        Ok(())
    }

    /// Releases every thread waiting now or later (with an error): this one will not come.
    pub fn abandon(&self) {
        self.abandoned
            .store(true, std::sync::atomic::Ordering::Release);
    }
}

/// Runs at once that judge a contended batch whatever share of its loops they are: a quarter of
/// the 100 000-run loops the host uses.
pub const AT_ONCE: f64 = 25_000.0;

/// When a thread of a [`Spread::Concurrent`](crate::target::Spread::Concurrent) batch started and finished its share.
pub type Span = (Instant, Instant);

/// Fails (with why, for an environment fault) unless the threads' spans overlap for at least a quarter of the
/// shortest: a contended batch whose threads took turns tested nothing. The threads run their
/// share at real-time priority ([`Realtime`]), so no ordinary process takes their CPUs
/// meanwhile and a common span is time both spent running the program. (A quarter of a loop of
/// 100 000 runs is thousands of runs at once; two CPUs at once lost 0.01-50 % of a plain `+=`'s
/// updates in every run measured.)
///
/// Inside a VM that priority is the guest's: the host may take a vCPU off while the guest's
/// clock runs on, so a span can be mostly time the thread did not run. `paused` then bounds,
/// thread by thread, how long each was off during its span (from the host's own account,
/// [`crate::vcpus`], or from the runs' own time at their fastest pace); the common span less
/// every thread's pauses must still make the quarter. That bound errs towards unverified,
/// never towards a pass.
///
/// A quarter of a loop of `runs` runs is `runs / 4` runs at once: a longer loop may instead show
/// [`AT_ONCE`] runs at once in a smaller share of it (which a VM's longer loops do, see
/// `harness::cpus`).
pub fn overlapped(
    spans: &[Span],
    paused: Option<&[Duration]>,
    runs: u32,
) -> std::result::Result<Duration, String> {
    let start = spans.iter().map(|s| s.0).max();
    let end = spans.iter().map(|s| s.1).min();
    let shortest = spans.iter().map(|s| s.1 - s.0).min().unwrap_or_default();
    let common = match (start, end) {
        (Some(s), Some(e)) if e > s => e - s,
        _ => Duration::ZERO,
    };
    let in_vm = paused.is_some();
    let paused: Duration = paused.map(|p| p.iter().sum()).unwrap_or_default();
    let together = common.saturating_sub(paused);
    let at_once = f64::from(runs) * together.as_secs_f64() / shortest.as_secs_f64().max(1e-9);
    if spans.len() > 1 && together < shortest / 4 && at_once < AT_ONCE {
        let host = if in_vm {
            format!(
                " (in this VM, where the host may pause a vCPU: {common:?} in common, of \
                 which up to {paused:?} one of them was paused)"
            )
        } else {
            String::new()
        };
        return Err(format!(
            "the {} CPUs that had to run the program at the same time did so for {together:?} \
             of the {shortest:?} the shortest of them took{host}; the machine is too loaded to \
             judge what several CPUs at once do",
            spans.len()
        ));
    }
    Ok(together)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_must_overlap_for_a_quarter_of_the_shortest() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        assert!(overlapped(&[(t, t + ms(10)), (t + ms(7), t + ms(17))], None, 1000).is_ok());
        assert!(overlapped(&[(t, t + ms(10)), (t + ms(8), t + ms(18))], None, 1000).is_err());
        assert!(overlapped(&[(t, t + ms(10))], None, 1000).is_ok());
    }

    #[test]
    fn in_a_vm_only_the_time_each_thread_ran_counts() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let same = [(t, t + ms(10)), (t, t + ms(10))];
        // Both ran throughout: all in common.
        assert_eq!(
            overlapped(&same, Some(&[ms(0); 2]), 1000).ok(),
            Some(ms(10))
        );
        // Each off 2 of its 10 ms: they may have taken turns for 4 of the 10 in common.
        assert_eq!(overlapped(&same, Some(&[ms(2); 2]), 1000).ok(), Some(ms(6)));
        // Each off 4: at least 2 ms together, under a quarter of the 10.
        assert!(overlapped(&same, Some(&[ms(4); 2]), 1000).is_err());
        // The same 2 ms in common, in loops of 200 000 runs: 40 000 runs at once.
        assert!(overlapped(&same, Some(&[ms(4); 2]), 200_000).is_ok());
    }

    #[test]
    fn a_spin_barrier_releases_each_round_together() {
        let b = SpinBarrier::new(2);
        let hits = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for round in 1..=3 {
                        hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        b.wait().expect("both come");
                        assert!(hits.load(std::sync::atomic::Ordering::SeqCst) >= 2 * round);
                        b.wait().expect("both come");
                    }
                });
            }
        });
    }

    #[test]
    fn an_abandoned_spin_barrier_releases_the_others() {
        let b = SpinBarrier::new(2);
        b.abandon();
        assert!(b.wait().is_err());
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
