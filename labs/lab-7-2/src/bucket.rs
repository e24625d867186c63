//! Token-bucket traces: one source's frames sent in timed segments (bursts, paced streams, quiet
//! in between), judged frame by frame against the contract's bucket (1000 tokens, 1000 per
//! second).
//!
//! A flood judged by how many of it passed cannot see a bucket that refills wrongly under a
//! steady stream, or over-fills while idle: the totals of a burst hide when each token came.
//! Here every frame is fired in a small batch whose start and end the harness timed on
//! CLOCK_MONOTONIC, the clock `bpf_ktime_get_ns` reads, so the program saw it inside that
//! interval. A correct bucket then obeys, for every frame j and every earlier frame k:
//!
//! - j took a token ⇒ the tokens taken from k to j are at most 1000 + the refill between k's
//!   earliest and j's latest moment (the bucket was at most full at k);
//! - j found none ⇒ for some k, the tokens taken from k up to j are at least 999 + the refill
//!   between k's latest and j's earliest moment (emptying the bucket takes that many).
//!
//! Both are checked with a tolerance of [`SLACK`] tokens and [`RATE_TOLERANCE`] of the refill,
//! which covers buckets kept in whole tokens (they lag an exact one by under a token) and
//! clocks read at slightly different points of a run.
//!
//! A stream tells a bucket that restarts its clock on every frame (and so loses the time short of
//! a whole token) only if its frames really follow each other within a token's 1 ms: a stream
//! thread the scheduler leaves waiting for milliseconds sends in lumps whose gaps earn such a
//! bucket whole tokens. Streams are therefore sent at real-time priority and each frame is waited
//! for by spinning over its last stretch ([`until`]); a trace whose streams still came out too
//! lumpy to tell that bucket, and which caught nothing, is unverified ([`Trace::unpaced`]).

use std::{
    thread,
    time::{Duration, Instant},
};

use harness::{
    counters,
    judgement::Judgement,
    table::{Shown, Table, ms, runs},
};
use kernel::{Error, Result, Verdict, budget::KernelTime, cpus::Realtime, target::Target};
use traffic::{FrameBuilder, Tag};

use crate::STATS;

/// A full bucket.
const CAPACITY: f64 = 1000.0;
/// Tokens a bucket may be off by at any moment.
pub(crate) const SLACK: f64 = 5.0;
/// How far from 1 token per millisecond the refill may be.
pub(crate) const RATE_TOLERANCE: f64 = 0.02;
/// Frames per batch in a burst: small enough that each batch's timing is tight.
const BURST_BATCH: usize = 50;
/// How long before a stream's frame is due its sender stops sleeping and spins. On a 2-core
/// machine kept busy by 6 spinning processes, a real-time thread woke from a 0.2 ms sleep 0.02 ms
/// late at the median and under 0.07 ms late 99 times in 100 (an ordinary one up to 20 ms); a
/// frame even 0.5 ms late still follows the one before it in a 2-per-ms stream within 1 ms.
/// Sleeping the rest keeps the real-time budget (the kernel throttles real-time threads past
/// 95% of a CPU-second, for 50 ms) for the rest of the suite.
const SPIN_BEFORE_DUE: Duration = Duration::from_micros(200);

/// How a segment's frames are sent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pace {
    /// As fast as the target takes them.
    Burst,
    /// A steady stream of this many frames per millisecond.
    PerMs(f64),
}

/// What a segment's frames must do.
#[derive(Debug, Clone)]
pub(crate) enum Spend {
    /// PASS means the frame took a token, DROP that it found none (any other verdict is wrong).
    ByVerdict,
    /// Exactly these verdicts, and every frame takes a token whatever its verdict (a SYN the
    /// window drops behind the bucket).
    Always(Vec<(Verdict, usize)>),
}

/// One segment of a trace.
pub(crate) struct Segment {
    name: String,
    frames: Vec<FrameBuilder>,
    pace: Pace,
    quiet: Option<Duration>,
    spend: Spend,
    within: Option<Duration>,
}

impl Segment {
    pub(crate) fn new(
        name: impl Into<String>,
        n: usize,
        frame: impl Fn(usize) -> FrameBuilder,
        pace: Pace,
        spend: Spend,
    ) -> Self {
        Self {
            name: name.into(),
            frames: (0..n).map(frame).collect(),
            pace,
            quiet: None,
            spend,
            within: None,
        }
    }

    /// Waits this long after the previous segment before sending.
    pub(crate) fn after_quiet(mut self, quiet: Duration) -> Self {
        self.quiet = Some(quiet);
        self
    }

    /// The segment must be decided within `limit` (a SYN window), else the run is unverified.
    pub(crate) fn within(mut self, limit: Duration) -> Self {
        self.within = Some(limit);
        self
    }

    fn intro(&self) -> String {
        let n = self.frames.len();
        match self.pace {
            Pace::Burst => format!("{}: {n} frames at once", self.name),
            Pace::PerMs(q) => format!(
                "{}: {n} frames, {q} per ms for {} ms",
                self.name,
                (n as f64 / q).round()
            ),
        }
    }
}

/// What a counter index must have moved by over the whole trace.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Count {
    Exact(u64),
    /// Frames that passed.
    Passed,
    /// Frames of [`Spend::ByVerdict`] segments that were dropped (found no token).
    BucketDropped,
}

/// A token-bucket trace of one fresh source, and the counters it must move.
pub(crate) struct Trace {
    pub(crate) segments: Vec<Segment>,
    pub(crate) width: usize,
    pub(crate) counters: Vec<(u32, Count)>,
}

/// One segment as fired: its verdicts, each frame's interval (ms since the trace's first send),
/// how long the segment took and the program's own time in it.
type Fired = (Vec<Verdict>, Vec<(f64, f64)>, Duration, KernelTime);

/// One frame as the judge sees it: when the program can have run it (ms since the trace began)
/// and whether it took a token.
#[derive(Debug, Clone, Copy)]
struct Run {
    from: f64,
    to: f64,
    spent: bool,
}

/// A frame whose verdict no correct bucket gives, with the words that say why.
#[derive(Debug, PartialEq)]
struct Misfit {
    frame: usize,
    why: String,
}

impl Trace {
    /// Sends the segments and judges them.
    pub(crate) fn judge(&self, t: &mut dyn Target) -> Result<Judgement> {
        let program = t.program().name().to_owned();
        let built: Vec<Vec<u8>> = self
            .segments
            .iter()
            .flat_map(|s| s.frames.iter().map(FrameBuilder::build))
            .collect();
        let t = &mut harness::flood::fresh_sources(t, &built)?;
        let ((fired, kernel), deltas) =
            counters::across_up_to(t, STATS, Some(self.width as u32 - 1), |t| self.fire(t))?;
        let mut table = Table::default();
        if let Some(note) = t.by().note() {
            table.input(note);
        }
        let mut runs_all = Vec::new();
        let (mut passed, mut bucket_dropped) = (0u64, 0u64);
        for (seg, (verdicts, times, took, _)) in self.segments.iter().zip(&fired) {
            if let Some(q) = seg.quiet {
                table.input(format!("quiet for at least {} ms", q.as_millis()));
            }
            table.input(format!("{}, within {}", seg.intro(), ms(*took)));
            let p = verdicts.iter().filter(|v| **v == Verdict::Pass).count();
            passed += p as u64;
            match &seg.spend {
                Spend::ByVerdict => {
                    let d = verdicts.len() - p;
                    bucket_dropped += d as u64;
                    let want = format!("PASS ⟨{p}⟩, DROP ⟨{d}⟩");
                    let exact = verdicts
                        .iter()
                        .all(|v| matches!(v, Verdict::Pass | Verdict::Drop));
                    let got = if exact { want.clone() } else { runs(verdicts) };
                    table.row(&seg.name, want, got);
                }
                Spend::Always(want) => {
                    let want: Vec<Verdict> = want
                        .iter()
                        .flat_map(|(v, n)| std::iter::repeat_n(*v, *n))
                        .collect();
                    table.verdicts(&seg.name, &want, verdicts);
                }
            }
            for (v, (from, to)) in verdicts.iter().zip(times) {
                let spent = match seg.spend {
                    Spend::ByVerdict => *v == Verdict::Pass,
                    Spend::Always(_) => true,
                };
                runs_all.push(Run {
                    from: *from,
                    to: *to,
                    spent,
                });
            }
        }
        let names: Vec<(usize, &str)> = self
            .segments
            .iter()
            .scan(0, |at, s| {
                let first = *at;
                *at += s.frames.len();
                Some((first, s.name.as_str()))
            })
            .collect();
        let verdict = match first_misfit(&runs_all) {
            None => {
                if let Some(e) = self.unpaced(&program, &runs_all, &fired) {
                    return Err(e);
                }
                "yes".to_owned()
            }
            Some(m) => {
                let (first, name) = names
                    .iter()
                    .rev()
                    .find(|(first, _)| *first <= m.frame)
                    .copied()
                    .unwrap_or((0, ""));
                // Which frame is the first to misfit depends on when each arrived: measured.
                format!("no: frame ⟨{}⟩ of `{name}` {}", m.frame - first + 1, m.why)
            }
        };
        table.row(
            "every verdict fits a 1000-token bucket refilled at 1000/s",
            "yes",
            verdict,
        );
        let want = self
            .counters
            .iter()
            .map(|(i, c)| {
                let shown = match c {
                    Count::Exact(n) => Shown::fixed(*n),
                    Count::Passed => Shown::measured(passed),
                    Count::BucketDropped => Shown::measured(bucket_dropped),
                };
                (*i, shown)
            })
            .collect();
        table.counters(STATS, Some(self.width), &want, &deltas);
        let by_verdict = self
            .segments
            .iter()
            .any(|s| matches!(s.spend, Spend::ByVerdict));
        if by_verdict && bucket_dropped == 0 && table.matches() {
            return Err(self.vacuous(&program, kernel, runs_all.len(), &fired));
        }
        Ok(table.judge())
    }

    /// Why a trace in which every frame found a token verified nothing: its frames came so
    /// slowly that the contract's bucket refilled for all of them. The machine's fault
    /// (unverified) unless the program's own time alone, with the trace's deliberate waits,
    /// refills the bucket for every frame: then the program is too slow (see kernel::budget).
    fn vacuous(&self, program: &str, kernel: KernelTime, frames: usize, fired: &[Fired]) -> Error {
        let took: Duration = fired.iter().map(|(_, _, took, _)| *took).sum();
        let e = Error::env(format!(
            "all {frames} frames found a token: sent over {} besides the quiet, long enough for \
             the contract's bucket to refill for each, so the trace verifies nothing; the \
             machine delivered the frames too slowly",
            ms(took)
        ));
        let refilled = self.refilled_by_design(fired);
        kernel.blame(program, |_| !refilled, e)
    }

    /// Whether the contract's bucket, given no time but the trace's deliberate waits (quiet,
    /// pacing) and the program's own time in each segment, holds a token for every frame. A
    /// quiet refills it to 1000 at most, so a long quiet before a segment bigger than the bucket
    /// explains nothing.
    fn refilled_by_design(&self, fired: &[Fired]) -> bool {
        let mut level = CAPACITY;
        for (seg, (.., own)) in self.segments.iter().zip(fired) {
            let n = seg.frames.len() as f64;
            if let Some(q) = seg.quiet {
                level = (level + q.as_secs_f64() * 1e3).min(CAPACITY);
            }
            let paced = match seg.pace {
                Pace::Burst => 0.0,
                Pace::PerMs(q) => n / q,
            };
            let refill = paced + own.time.as_secs_f64() * 1e3;
            if level + refill + SLACK < n {
                return false;
            }
            level = (level + refill - n).clamp(0.0, CAPACITY);
        }
        true
    }

    /// Why a trace that caught nothing could not have caught a bucket that restarts its clock
    /// on every frame, if it could not: its streams left too few gaps surely under a token's
    /// 1 ms. Such a bucket loses each of those gaps (at least its shortest measure); the judge
    /// sees the loss once it exceeds what it forgives ([`SLACK`], a token kept whole and
    /// [`RATE_TOLERANCE`] of the refill over the whole trace), and the streams must have lost
    /// twice that. The machine's fault (unverified), unless the program's own time in the
    /// streams alone left no room for the gaps: then it is too slow.
    fn unpaced(&self, program: &str, runs: &[Run], fired: &[Fired]) -> Option<Error> {
        let (mut lost, mut designed, mut kernel) = (0.0, 0.0, KernelTime::default());
        let mut at = 0;
        for (seg, (.., seg_kernel)) in self.segments.iter().zip(fired) {
            let mine = &runs[at..at + seg.frames.len()];
            at += seg.frames.len();
            let Pace::PerMs(q) = seg.pace else { continue };
            designed += seg.frames.len() as f64 / q;
            kernel += *seg_kernel;
            lost += mine
                .windows(2)
                .filter(|w| w[1].to - w[0].from < 1.0)
                .map(|w| (w[1].from - w[0].to).max(0.0))
                .sum::<f64>();
        }
        let span = match (runs.first(), runs.last()) {
            (Some(first), Some(last)) => last.to - first.from,
            _ => return None,
        };
        let needed = 2.0 * (SLACK + 1.0 + RATE_TOLERANCE * span);
        if designed == 0.0 || lost >= needed {
            return None;
        }
        let e = Error::env(format!(
            "the streams were sent too unevenly to tell a bucket that restarts its clock on \
             every frame: their frames surely under 1 ms apart were only {lost:.0} ms apart in \
             all, and telling it needs {needed:.0} ms; the machine held the sender up"
        ));
        Some(kernel.blame(program, |t| t.as_secs_f64() * 1e3 + needed <= designed, e))
    }

    /// Fires every segment; per segment its verdicts, each frame's interval (ms since the
    /// trace's first send), how long the segment took and the program's own time in it.
    fn fire(&self, t: &mut dyn Target) -> Result<(Vec<Fired>, KernelTime)> {
        let mut out = Vec::new();
        let mut kernel = KernelTime::default();
        let program = t.program().name().to_owned();
        let mut next_tag = 1u16;
        let mut last_done: Option<Instant> = None;
        let zero = Instant::now();
        let since = |i: Instant| i.duration_since(zero).as_secs_f64() * 1e3;
        for seg in &self.segments {
            if let (Some(q), Some(done)) = (seg.quiet, last_done) {
                // Deliberate: the contract's clock must move.
                thread::sleep(q.saturating_sub(done.elapsed()));
            }
            let frames: Vec<Vec<u8>> = seg
                .frames
                .iter()
                .map(|f| {
                    let tag = next_tag;
                    next_tag = next_tag
                        .checked_add(1)
                        .expect("at most 65535 frames a trace");
                    f.clone().tag(Tag(tag)).build()
                })
                .collect();
            let (mut verdicts, mut times) = (Vec::new(), Vec::new());
            let mut seg_kernel = KernelTime::default();
            // A stream's sender runs ahead of every ordinary process, so it is on time however
            // loaded the machine; only for the stream (it spins).
            let _rt = matches!(seg.pace, Pace::PerMs(_)).then(Realtime::raise);
            let start = Instant::now();
            let mut sent = 0;
            while sent < frames.len() {
                let due = match seg.pace {
                    Pace::Burst => (sent + BURST_BATCH).min(frames.len()),
                    Pace::PerMs(q) => {
                        let due = (start.elapsed().as_secs_f64() * 1e3 * q) as usize + 1;
                        if due <= sent {
                            until(start + Duration::from_secs_f64((sent as f64 / q) / 1e3));
                            continue;
                        }
                        due.min(frames.len())
                    }
                };
                let a = Instant::now();
                let shot = t.fire(&frames[sent..due])?;
                let b = Instant::now();
                if let Some(note) = shot.note {
                    return Err(Error::env(format!(
                        "a frame of `{}` was not settled by its barrier {note}, so when the \
                         program ran it is unknown",
                        seg.name
                    )));
                }
                seg_kernel += shot.kernel.unwrap_or_default();
                verdicts.extend(shot.outcomes.iter().map(|o| o.verdict));
                times.extend(std::iter::repeat_n((since(a), since(b)), due - sent));
                sent = due;
            }
            let took = start.elapsed();
            if let Some(limit) = seg.within
                && took > limit
            {
                let e = Error::env(format!(
                    "`{}` must be decided within {limit:?} for the contract to say what \
                     happens, and took {took:?}; the machine is too loaded to judge it",
                    seg.name
                ));
                return Err(seg_kernel.blame(&program, |t| t <= limit, e));
            }
            kernel += seg_kernel;
            last_done = Some(Instant::now());
            out.push((verdicts, times, took, seg_kernel));
        }
        Ok((out, kernel))
    }
}

/// Waits until `at`: asleep while it is far, then spinning, so that a thread the scheduler
/// runs at once is on time to microseconds.
fn until(at: Instant) {
    let asleep = at
        .saturating_duration_since(Instant::now())
        .saturating_sub(SPIN_BEFORE_DUE);
    if !asleep.is_zero() {
        thread::sleep(asleep);
    }
    while Instant::now() < at {
        std::hint::spin_loop();
    }
}

/// The first frame whose verdict no bucket of the contract gives, within the tolerance.
fn first_misfit(runs: &[Run]) -> Option<Misfit> {
    let (fast, slow) = (1.0 + RATE_TOLERANCE, 1.0 - RATE_TOLERANCE);
    // spent[k]: tokens taken before frame k. For frame j the bounds need, over k ≤ j, the least
    // spent[k] − rate·(a moment of k), kept as running minima with the k they came from.
    let mut spent = 0.0;
    let mut hi: Option<(f64, usize)> = None;
    let mut lo: Option<(f64, usize)> = None;
    for (j, r) in runs.iter().enumerate() {
        let cand_hi = spent - fast * r.from;
        if hi.is_none_or(|(m, _)| cand_hi < m) {
            hi = Some((cand_hi, j));
        }
        let cand_lo = spent - slow * r.to;
        if lo.is_none_or(|(m, _)| cand_lo < m) {
            lo = Some((cand_lo, j));
        }
        let ((m_hi, k_hi), (m_lo, k_lo)) = (hi?, lo?);
        if r.spent {
            // Tokens taken from some k through j, beyond what a full bucket and the refill
            // since then hold.
            let taken = spent + 1.0 - fast * r.to - m_hi;
            if taken > CAPACITY + SLACK {
                let k = &runs[k_hi];
                let refill = (r.to - k.from).max(0.0);
                return Some(Misfit {
                    frame: j,
                    why: format!(
                        "passed at ⟨{:.1} ms⟩ with the bucket empty: from ⟨{:.1} ms⟩ on, ⟨{:.0}⟩ \
                         tokens were taken, more than 1000 plus ⟨{refill:.0}⟩ ms of refill",
                        r.to,
                        k.from,
                        taken + fast * refill,
                    ),
                });
            }
            spent += 1.0;
        } else {
            // The most that any stretch ending at j took beyond its refill.
            let deficit = spent - slow * r.from - m_lo;
            if deficit < CAPACITY - 1.0 - SLACK {
                return Some(Misfit {
                    frame: j,
                    why: format!(
                        "dropped at ⟨{:.1} ms⟩ with tokens left: no stretch before it took more \
                         than ⟨{:.0}⟩ tokens beyond its refill, and emptying a full bucket \
                         takes 1000 (the nearest: from ⟨{:.1} ms⟩ on)",
                        r.from,
                        deficit.max(0.0).floor(),
                        runs[k_lo].to,
                    ),
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames every `gap` ms from 0, each seen exactly at its time, with the verdicts an exact
    /// bucket of `capacity` refilled at `per_ms` gives.
    fn simulate(n: usize, gap: f64, capacity: f64, per_ms: f64) -> Vec<Run> {
        let mut credit = capacity;
        let mut last = 0.0;
        (0..n)
            .map(|i| {
                let at = i as f64 * gap;
                credit = (credit + (at - last) * per_ms).min(capacity);
                last = at;
                let spent = credit >= 1.0;
                if spent {
                    credit -= 1.0;
                }
                Run {
                    from: at,
                    to: at + 0.01,
                    spent,
                }
            })
            .collect()
    }

    #[test]
    fn the_contracts_bucket_fits() {
        // A burst, then a stream at twice the refill rate.
        assert_eq!(first_misfit(&simulate(3000, 0.5, 1000.0, 1.0)), None);
        assert_eq!(first_misfit(&simulate(3000, 0.01, 1000.0, 1.0)), None);
    }

    #[test]
    fn a_bucket_that_never_refills_under_a_stream_does_not() {
        let m = first_misfit(&simulate(3000, 0.5, 1000.0, 0.0)).expect("a misfit");
        assert!(m.why.contains("dropped"), "{}", m.why);
    }

    #[test]
    fn a_bucket_too_big_or_refilling_too_fast_does_not() {
        let m = first_misfit(&simulate(3000, 0.5, 1100.0, 1.0)).expect("a misfit");
        assert!(m.why.contains("passed"), "{}", m.why);
        assert!(first_misfit(&simulate(3000, 0.5, 1000.0, 1.2)).is_some());
        // Within the tolerance: 1% fast.
        assert_eq!(first_misfit(&simulate(3000, 0.5, 1000.0, 1.01)), None);
    }

    /// `steady-stream`'s shape: 500, 600 ms of quiet, 1500, then 600 at 2 per ms and 200 at 1.
    fn stream_trace() -> Trace {
        let seg = |n, pace| {
            Segment::new(
                "s",
                n,
                |_| FrameBuilder::ethernet(kernel::topology::CLIENT_MAC, kernel::topology::DUT_MAC),
                pace,
                Spend::ByVerdict,
            )
        };
        Trace {
            segments: vec![
                seg(500, Pace::Burst),
                seg(1500, Pace::Burst).after_quiet(Duration::from_millis(600)),
                seg(600, Pace::PerMs(2.0)),
                seg(200, Pace::PerMs(1.0)),
            ],
            width: 2,
            counters: vec![],
        }
    }

    /// The trace fired with the program's own time `own_ms` in each segment.
    fn fired(trace: &Trace, own_ms: [f64; 4]) -> Vec<Fired> {
        trace
            .segments
            .iter()
            .zip(own_ms)
            .map(|(s, own)| {
                let n = s.frames.len();
                let kernel = KernelTime {
                    runs: n as u64,
                    time: Duration::from_secs_f64(own / 1e3),
                    fastest: None,
                };
                (vec![Verdict::Pass; n], vec![], Duration::ZERO, kernel)
            })
            .collect()
    }

    #[test]
    fn a_quiet_refills_the_bucket_to_capacity_only() {
        let trace = stream_trace();
        // 600 ms of quiet and 500 ms of streams do not pass 2800 frames through a bucket of
        // 1000: a program fast or not, the machine made every frame find a token.
        assert!(!trace.refilled_by_design(&fired(&trace, [0.1, 0.3, 400.0, 0.1])));
        // The program's own 600 ms inside the burst of 1500 and 300 ms inside the 2-per-ms
        // stream would.
        assert!(trace.refilled_by_design(&fired(&trace, [0.1, 600.0, 300.0, 0.1])));
        assert!(!trace.refilled_by_design(&fired(&trace, [0.1, 600.0, 0.1, 0.1])));
    }

    /// The streams' frames of `stream_trace`, after 2000 frames at once, sent in lumps of
    /// `lump` every `lump / 2` ms (each lump within 0.01 ms).
    fn stream_runs(lump: usize) -> Vec<Run> {
        let at_once = (0..2000).map(|_| Run {
            from: 0.0,
            to: 1.0,
            spent: true,
        });
        let stream = (0..800).map(|i| {
            let at = 1.0 + (i / lump * lump) as f64 * 0.5;
            Run {
                from: at,
                to: at + 0.01,
                spent: true,
            }
        });
        at_once.chain(stream).collect()
    }

    #[test]
    fn a_stream_sent_in_lumps_cannot_tell_a_clock_restarted_by_each_frame() {
        let trace = stream_trace();
        let fired = fired(&trace, [0.1; 4]);
        assert!(trace.unpaced("p", &stream_runs(1), &fired).is_none());
        let e = trace
            .unpaced("p", &stream_runs(4), &fired)
            .expect("unverified");
        assert_eq!(e.class(), kernel::FailureClass::Environment, "{e}");
    }
}
