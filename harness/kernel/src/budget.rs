//! How long a program may take per frame, and who is to blame when a check runs out of time.
//!
//! Some checks are judged against a clock (a token bucket's refill, a window that must hold a
//! whole flood); when the clock runs out the check cannot be judged. A slow machine is not the
//! student's fault, so such a check is `unverified`. But a program can make itself slow on
//! purpose (a `bpf_loop` per frame) to turn its failures into exemptions. The kernel times the
//! program itself (BPF_PROG_TEST_RUN's duration, the run statistics on a veth), so the harness
//! can tell the two apart: a program whose own time alone breaks the clock is to blame.

use std::time::Duration;

use crate::error::{Error, FailureClass, fmt_duration};

/// The most kernel time a program may take on every frame it is given. The labs' reference
/// programs take well under a microsecond on the host and up to about a millisecond under
/// software emulation (a syncookie in a VM); ten milliseconds is far past both, and a loop that
/// long per frame is no packet filter.
pub const FRAME_BUDGET: Duration = Duration::from_millis(10);

/// How many runs, every one over [`FRAME_BUDGET`], it takes to call a program too slow. A
/// machine can stall a run or two (seen in a VM under software emulation on a loaded host: one
/// run of a reference program timed at 12 ms), never five in a row; a program slow on purpose
/// is slow on every frame, so the checks with fewer frames lose nothing to it (their verdicts
/// are judged as usual, and the part's larger batches catch it).
pub const SLOW_RUNS: u64 = 5;

/// Two runs, both over this, are enough: ten times [`FRAME_BUDGET`], far past any stall seen,
/// so a program that spins for a second per frame is stopped after its second frame.
pub const FAR_OVER: Duration = Duration::from_millis(100);

/// The program's own time in the kernel over some frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelTime {
    /// How many times the program ran.
    pub runs: u64,
    /// Its total run time.
    pub time: Duration,
    /// Its fastest single run, where runs were timed one by one (BPF_PROG_TEST_RUN); `None`
    /// for totals only (the run statistics on a veth).
    pub fastest: Option<Duration>,
}

impl std::ops::AddAssign for KernelTime {
    fn add_assign(&mut self, other: KernelTime) {
        self.runs += other.runs;
        self.time += other.time;
        self.fastest = match (self.fastest, other.fastest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

impl KernelTime {
    /// What happened between two readings of the same program's statistics (totals only).
    pub fn since(self, earlier: KernelTime) -> KernelTime {
        KernelTime {
            runs: self.runs.saturating_sub(earlier.runs),
            time: self.time.saturating_sub(earlier.time),
            fastest: None,
        }
    }

    /// Adds one run of `time`.
    pub fn add(&mut self, time: Duration) {
        *self += KernelTime {
            runs: 1,
            time,
            fastest: Some(time),
        };
    }

    /// The mean time per run.
    pub fn per_frame(self) -> Duration {
        match u32::try_from(self.runs) {
            Ok(0) => Duration::ZERO,
            Ok(n) => self.time / n,
            Err(_) => Duration::from_secs_f64(self.time.as_secs_f64() / self.runs as f64),
        }
    }

    /// Fails with [`Error::TooSlow`] when even the program's fastest of at least [`SLOW_RUNS`]
    /// runs took more than [`FRAME_BUDGET`]. The fastest, not the mean: a run can take far longer
    /// than the program needs when the machine stalls the CPU under it (a virtual machine's host
    /// scheduling it out), and no stall can make every run slow. Fewer runs, or totals without
    /// single runs, are not judged; two runs both over [`FAR_OVER`] are. Called after each run
    /// of a batch, it stops a program that loops for a second per frame after its second frame.
    pub fn within_budget(self, program: &str) -> Result<(), Error> {
        match self.fastest {
            Some(fastest)
                if (fastest > FRAME_BUDGET && self.runs >= SLOW_RUNS)
                    || (fastest > FAR_OVER && self.runs >= 2) =>
            {
                Err(self.over_budget(program, fastest))
            }
            _ => Ok(()),
        }
    }

    fn over_budget(self, program: &str, fastest: Duration) -> Error {
        Error::TooSlow {
            program: program.to_owned(),
            per_frame: fastest,
            budget: format!(
                "on every one of {} frames, more than the {} a frame may take",
                self.runs,
                fmt_duration(FRAME_BUDGET)
            ),
        }
    }

    /// Decides who ran out a check's clock. `e` (an environment error: a window missed, a
    /// refill clock that let every frame through) stays the machine's unless the program's own
    /// time in the kernel alone breaks the clock: `within` says whether a duration keeps it.
    /// Then it is the program's [`Error::TooSlow`]. No threshold is guessed: a correct program's
    /// own time is far inside every clock of the contracts, however slow the machine, and a
    /// program slow enough to break one by itself cannot blame the machine. Other errors are
    /// returned as they are.
    pub fn blame(self, program: &str, within: impl FnOnce(Duration) -> bool, e: Error) -> Error {
        if e.class() != FailureClass::Environment || self.runs == 0 || within(self.time) {
            return e;
        }
        Error::TooSlow {
            program: program.to_owned(),
            per_frame: self.per_frame(),
            budget: format!(
                "{} over {} frames, which alone is more than the contract's clock allows for \
                 them: the check's clock ran out inside the program, not the machine",
                fmt_duration(self.time),
                self.runs
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window of `window_ms` missed, with the program's own time at `time_ms`.
    fn error(runs: u64, time_ms: u64, window_ms: u64) -> Error {
        let k = KernelTime {
            runs,
            time: Duration::from_millis(time_ms),
            fastest: None,
        };
        k.blame(
            "p",
            |t| t <= Duration::from_millis(window_ms),
            Error::env("a window missed"),
        )
    }

    #[test]
    fn the_machine_is_blamed_unless_the_program_alone_broke_the_clock() {
        assert_eq!(error(1500, 10, 900).class(), FailureClass::Environment);
        assert_eq!(error(1500, 900, 900).class(), FailureClass::Environment);
        let e = error(1500, 901, 900);
        assert_eq!(e.class(), FailureClass::Timeout);
        assert!(e.to_string().contains("600.7 µs per frame"), "{e}");
        assert!(e.to_string().contains("901.0 ms over 1500 frames"), "{e}");
        // No runs measured: nothing to blame the program for.
        assert_eq!(error(0, 0, 900).class(), FailureClass::Environment);
    }

    #[test]
    fn only_environment_errors_are_reassigned() {
        let k = KernelTime {
            runs: 1,
            time: Duration::from_secs(1),
            fastest: None,
        };
        let e = k.blame("p", |_| false, Error::usage("no such check"));
        assert_eq!(e.class(), FailureClass::Usage);
    }

    #[test]
    fn the_budget_holds_the_fastest_run() {
        let mut k = KernelTime::default();
        k.add(Duration::from_millis(9));
        // A run stalled by the machine: the fastest still fits.
        k.add(Duration::from_millis(500));
        assert!(k.within_budget("p").is_ok());
        let mut slow = KernelTime::default();
        for ms in [12, 11, 13, 12] {
            slow.add(Duration::from_millis(ms));
        }
        // Four slow runs may all be stalls (a loaded VM): not judged yet.
        assert!(slow.within_budget("p").is_ok());
        slow.add(Duration::from_millis(14));
        let e = slow.within_budget("p").unwrap_err();
        assert_eq!(e.class(), FailureClass::Timeout);
        assert!(e.to_string().contains("11.0 ms per frame"), "{e}");
        assert!(e.to_string().contains("every one of 5 frames"), "{e}");
        // Totals only (a veth): never judged.
        let totals = KernelTime {
            runs: 3,
            time: Duration::from_secs(3),
            fastest: None,
        };
        assert!(totals.within_budget("p").is_ok());
    }

    #[test]
    fn a_batch_stops_after_two_runs_far_over_or_five_over() {
        let mut far = KernelTime::default();
        far.add(Duration::from_secs(1));
        assert!(far.within_budget("p").is_ok(), "one run may be a stall");
        far.add(Duration::from_secs(1));
        assert_eq!(
            far.within_budget("p").unwrap_err().class(),
            FailureClass::Timeout
        );
        let mut k = KernelTime::default();
        for _ in 1..SLOW_RUNS {
            k.add(Duration::from_millis(50));
            assert!(
                k.within_budget("p").is_ok(),
                "{} runs may be stalls",
                k.runs
            );
        }
        k.add(Duration::from_millis(50));
        assert_eq!(
            k.within_budget("p").unwrap_err().class(),
            FailureClass::Timeout
        );
    }
}
