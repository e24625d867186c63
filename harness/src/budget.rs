//! How long a program may take per frame, and who is to blame when a check runs out of time.
//!
//! Some checks are judged against a clock (a token bucket's refill, a window that must hold a
//! whole flood); when the clock runs out the check cannot be judged. A slow machine is not the
//! student's fault, so such a check is `unverified`. But a program can make itself slow on
//! purpose (a `bpf_loop` per frame) to turn its failures into exemptions. The kernel times the
//! program itself (BPF_PROG_TEST_RUN's duration, the run statistics on a veth), so the harness
//! can tell the two apart: a program that spent most of the time itself is to blame.

use std::time::Duration;

use crate::error::{Error, FailureClass, fmt_duration};

/// The most kernel time a program may take on one frame. The labs' reference programs take
/// well under a microsecond on the host and a few microseconds under software emulation; a
/// millisecond is a thousand times that, and as long as lab 7.2's whole token clock tick.
pub const FRAME_BUDGET: Duration = Duration::from_millis(1);

/// How many frames' budget a batch may use up before [`KernelTime::within_budget_so_far`] gives
/// up on it.
pub const EARLY_FRAMES: u64 = 16;

/// The program's own time in the kernel over some frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelTime {
    /// How many times the program ran.
    pub runs: u64,
    /// Its total run time.
    pub time: Duration,
}

impl std::ops::AddAssign for KernelTime {
    fn add_assign(&mut self, other: KernelTime) {
        self.runs += other.runs;
        self.time += other.time;
    }
}

impl KernelTime {
    /// What happened between two readings of the same program's statistics.
    pub fn since(self, earlier: KernelTime) -> KernelTime {
        KernelTime {
            runs: self.runs.saturating_sub(earlier.runs),
            time: self.time.saturating_sub(earlier.time),
        }
    }

    /// Adds one run of `time`.
    pub fn add(&mut self, time: Duration) {
        self.runs += 1;
        self.time += time;
    }

    /// The mean time per run.
    pub fn per_frame(self) -> Duration {
        match u32::try_from(self.runs) {
            Ok(0) => Duration::ZERO,
            Ok(n) => self.time / n,
            Err(_) => Duration::from_secs_f64(self.time.as_secs_f64() / self.runs as f64),
        }
    }

    /// Fails with [`Error::TooSlow`] when the program took more than [`FRAME_BUDGET`] per
    /// frame.
    pub fn within_budget(self, program: &str) -> Result<(), Error> {
        if self.per_frame() > FRAME_BUDGET {
            return Err(self.over_budget(program));
        }
        Ok(())
    }

    fn over_budget(self, program: &str) -> Error {
        Error::TooSlow {
            program: program.to_owned(),
            per_frame: self.per_frame(),
            budget: format!(
                "more than the {} a frame may take",
                fmt_duration(FRAME_BUDGET)
            ),
        }
    }

    /// [`KernelTime::within_budget`] for a batch still running: fails as soon as the frames so
    /// far took more than the budget of at least [`EARLY_FRAMES`] frames, so a program that
    /// loops for seconds per frame is stopped after its first frame, not after the whole batch,
    /// while one frame slowed by an interrupt never fails a batch alone.
    pub fn within_budget_so_far(self, program: &str) -> Result<(), Error> {
        let allowed = FRAME_BUDGET.saturating_mul(self.runs.max(EARLY_FRAMES) as u32);
        if self.time > allowed {
            return Err(self.over_budget(program));
        }
        Ok(())
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
        };
        let e = k.blame("p", |_| false, Error::usage("no such check"));
        assert_eq!(e.class(), FailureClass::Usage);
    }

    #[test]
    fn the_budget_is_per_frame() {
        let mut k = KernelTime::default();
        k.add(Duration::from_micros(900));
        k.add(Duration::from_micros(1000));
        assert!(k.within_budget("p").is_ok());
        k.add(Duration::from_micros(1500));
        let e = k.within_budget("p").unwrap_err();
        assert_eq!(e.class(), FailureClass::Timeout);
        assert!(e.to_string().contains("1.1 ms per frame"), "{e}");
        assert!(e.to_string().contains("more than the 1.0 ms"), "{e}");
    }

    #[test]
    fn a_batch_stops_early_only_past_sixteen_frames_worth() {
        let mut k = KernelTime::default();
        // One frame slowed by an interrupt: not alone a failure.
        k.add(Duration::from_millis(5));
        assert!(k.within_budget_so_far("p").is_ok());
        // A frame that loops for a while: stopped at once.
        k.add(Duration::from_millis(20));
        assert_eq!(
            k.within_budget_so_far("p").unwrap_err().class(),
            FailureClass::Timeout
        );
    }
}
