//! Driving floods and single exchanges through any target, and rendering what a scenario
//! expected and saw as two tables in the same layout.
//!
//! Values measured during a run (elapsed times, and bounds derived from them) are written
//! inside ⟨ ⟩ on both sides: they are inputs of the check, identical in both tables, and the
//! snapshot tests redact them.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use harness::{
    Error, Outcome, Result, Verdict,
    check::Judgement,
    target::{Target, VethTarget},
};
use traffic::{Tag, find_tag};

/// How long the program may take to see a flood before the environment is blamed.
const RUN_DEADLINE: Duration = Duration::from_secs(10);
/// How long to keep watching after the program ran on every frame: passed frames are delivered
/// in the same softirq, so this only covers scheduling jitter.
const GRACE: Duration = Duration::from_millis(30);
/// How long [`exchange`] waits for a single frame's outcome before calling it dropped. A frame
/// sent back in generic mode crosses a second receive queue, which a loaded machine may defer
/// to ksoftirqd; single exchanges are few, so waiting longer is cheap.
const EXCHANGE_GRACE: Duration = Duration::from_millis(100);

/// The counter map every lab 7.2 program has.
pub const STATS: &str = "stats";

/// What a flood did.
pub struct Shot {
    /// One verdict per frame, in order.
    pub verdicts: Vec<Verdict>,
    /// From the first send until the program had run on every frame: an upper bound on the
    /// time the program could have seen pass between the first and the last frame.
    pub elapsed: Duration,
    /// Counter changes, by index (every index of the map).
    pub deltas: Vec<u64>,
}

impl Shot {
    /// How many of `range` passed.
    pub fn passed(&self, range: std::ops::Range<usize>) -> usize {
        self.verdicts[range]
            .iter()
            .filter(|v| **v == Verdict::Pass)
            .count()
    }
}

/// Sends `frames` as fast as the target takes them and records each one's verdict (PASS, DROP
/// or TX) and the counter changes. Frames are told apart by their tags, or by their bytes when
/// they carry none (ARP, truncated frames), so both must be unique within one flood.
pub fn fire(target: &mut dyn Target, frames: &[Vec<u8>]) -> Result<Shot> {
    let before = target.program().maps().counters(STATS)?;
    let (verdicts, elapsed) = match target.veth() {
        Some(veth) => fire_veth(veth, frames)?,
        None => {
            let start = Instant::now();
            let outcomes = target.send(frames)?;
            (
                outcomes.iter().map(|o| o.verdict).collect(),
                start.elapsed(),
            )
        }
    };
    let after = target.program().maps().counters(STATS)?;
    let deltas = after
        .iter()
        .zip(before.iter().chain(std::iter::repeat(&0)))
        .map(|(a, b)| a.wrapping_sub(*b))
        .collect();
    Ok(Shot {
        verdicts,
        elapsed,
        deltas,
    })
}

fn fire_veth(veth: &mut VethTarget, frames: &[Vec<u8>]) -> Result<(Vec<Verdict>, Duration)> {
    veth.drain_all()?;
    let runs = Target::program(veth).run_count()?;
    let start = Instant::now();
    veth.sender()
        .send_burst(frames)
        .map_err(|e| Error::env(format!("sending a burst: {e}")))?;
    let elapsed = wait_runs(veth, runs + frames.len() as u64, start)?;
    std::thread::sleep(GRACE);
    let mut by_tag: HashMap<Tag, usize> = HashMap::new();
    let mut by_bytes: HashMap<&[u8], usize> = HashMap::new();
    for (i, f) in frames.iter().enumerate() {
        match find_tag(f) {
            Some(tag) => by_tag.insert(tag, i),
            None => by_bytes.insert(f.as_slice(), i),
        };
    }
    let mut verdicts = vec![Verdict::Drop; frames.len()];
    for (verdict, _, bytes) in veth.drain_all()? {
        let slot = match find_tag(&bytes) {
            Some(tag) => by_tag.get(&tag),
            None => by_bytes.get(bytes.as_slice()),
        };
        // Anything unmatched is background traffic.
        if let Some(&i) = slot {
            verdicts[i] = verdict;
        }
    }
    Ok((verdicts, elapsed))
}

/// Waits until the program's run count reaches `target_runs`; returns the time since `start`.
fn wait_runs(veth: &mut VethTarget, target_runs: u64, start: Instant) -> Result<Duration> {
    loop {
        let now = Target::program(veth).run_count()?;
        if now >= target_runs {
            return Ok(start.elapsed());
        }
        if start.elapsed() > RUN_DEADLINE {
            return Err(Error::env(format!(
                "the program ran on {} fewer frames than were sent within {RUN_DEADLINE:?}",
                target_runs - now
            )));
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Sends one frame and returns what became of it, with the bytes of a passed or returned frame.
/// Unlike [`Target::send`] it needs no tag, so it suits frames whose payload must stay empty
/// (bare ACKs) and frames a program rebuilds (SYN → SYN-ACK).
pub fn exchange(target: &mut dyn Target, frame: &[u8]) -> Result<Outcome> {
    let Some(veth) = target.veth() else {
        let mut outcomes = target.send(&[frame.to_vec()])?;
        return Ok(outcomes.remove(0));
    };
    veth.drain_all()?;
    let runs = Target::program(veth).run_count()?;
    let start = Instant::now();
    veth.sender()
        .send(frame)
        .map_err(|e| Error::env(format!("sending a frame: {e}")))?;
    wait_runs(veth, runs + 1, start)?;
    let ran = Instant::now();
    loop {
        // Only the frame under test travels, so whatever shows up is its outcome.
        if let Some((verdict, at, bytes)) = veth.drain_all()?.into_iter().next() {
            return Ok(Outcome {
                verdict,
                bytes: Some(bytes),
                at: Some(at),
            });
        }
        if ran.elapsed() > EXCHANGE_GRACE {
            return Ok(Outcome::bare(Verdict::Drop));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// `d` in milliseconds, as a measured value.
pub fn ms(d: Duration) -> String {
    format!("⟨{:.1} ms⟩", d.as_secs_f64() * 1e3)
}

/// Whole milliseconds, rounded up: the tolerance a token bucket refilling 1 per ms needs.
pub fn ms_ceil(d: Duration) -> u64 {
    d.as_micros().div_ceil(1000) as u64
}

/// Two tables built line by line: what the contract expects and what happened.
#[derive(Default)]
pub struct Table {
    expected: String,
    actual: String,
}

impl Table {
    /// A line that is the same on both sides: an input of the check (what was sent, measured
    /// times).
    pub fn input(&mut self, line: impl AsRef<str>) -> &mut Self {
        self.both(line.as_ref(), line.as_ref())
    }

    /// A row `name  expected` / `name  actual`.
    pub fn row(
        &mut self,
        name: &str,
        expected: impl AsRef<str>,
        actual: impl AsRef<str>,
    ) -> &mut Self {
        let e = format!("{name:<44} {}", expected.as_ref());
        let a = format!("{name:<44} {}", actual.as_ref());
        self.both(&e, &a)
    }

    /// The verdicts of a group of frames, run-length encoded (`PASS ×100, DROP ×50`), against
    /// the exact sequence the contract gives.
    pub fn verdicts(&mut self, name: &str, expected: &[Verdict], actual: &[Verdict]) -> &mut Self {
        self.row(name, runs(expected), runs(actual))
    }

    /// How many of a group passed, against an inclusive range; identical text when inside it.
    pub fn passed_in(
        &mut self,
        name: &str,
        lo: u64,
        hi: String,
        hi_value: u64,
        passed: u64,
    ) -> &mut Self {
        let bounds = format!("PASS {lo}..={hi}");
        let got = if (lo..=hi_value).contains(&passed) {
            format!("{bounds}: yes")
        } else {
            format!("{bounds}: no, {passed} passed")
        };
        self.row(name, format!("{bounds}: yes"), got)
    }

    /// Counter changes against expectations by index; every index below `width` is shown, so a
    /// wrong bucket stands out, and indexes with no expectation must not move.
    pub fn counters(
        &mut self,
        width: usize,
        expected: &BTreeMap<u32, Want>,
        deltas: &[u64],
    ) -> &mut Self {
        for i in 0..width.max(deltas.len()) {
            let got = deltas.get(i).copied().unwrap_or(0);
            let (want, seen) = match expected.get(&(i as u32)) {
                Some(Want::Exact(n)) => (*n, false),
                Some(Want::Seen(n)) => (*n, true),
                None => (0, false),
            };
            if i >= width && got == 0 {
                continue;
            }
            let show = |n: u64| {
                if seen {
                    format!("⟨{n}⟩")
                } else {
                    n.to_string()
                }
            };
            self.both(
                &format!("{STATS}[{i}] +{}", show(want)),
                &format!("{STATS}[{i}] +{}", show(got)),
            );
        }
        self
    }

    /// Counter changes for only the listed indexes (the others are left open by the contract).
    pub fn some_counters(&mut self, expected: &[(u32, u64)], deltas: &[u64]) -> &mut Self {
        for &(i, want) in expected {
            let got = deltas.get(i as usize).copied().unwrap_or(0);
            self.both(
                &format!("{STATS}[{i}] +{want}"),
                &format!("{STATS}[{i}] +{got}"),
            );
        }
        self
    }

    fn both(&mut self, expected: &str, actual: &str) -> &mut Self {
        self.expected.push_str(expected);
        self.expected.push('\n');
        self.actual.push_str(actual);
        self.actual.push('\n');
        self
    }

    /// The judgement: a pass when both tables are equal.
    pub fn judge(&self) -> Judgement {
        Judgement {
            expected: self.expected.clone(),
            actual: self.actual.clone(),
        }
    }
}

/// What a counter must have moved by.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// A number the contract fixes.
    Exact(u64),
    /// A number taken from the verdicts seen (where the contract gives a range, the counters
    /// must agree with what the program did); shown as a measured value.
    Seen(u64),
}

/// Exact expectations, by index.
pub fn exact(pairs: &[(u32, u64)]) -> BTreeMap<u32, Want> {
    pairs.iter().map(|&(i, n)| (i, Want::Exact(n))).collect()
}

/// `PASS ×100, DROP ×50`.
pub fn runs(verdicts: &[Verdict]) -> String {
    let mut out: Vec<(Verdict, usize)> = Vec::new();
    for v in verdicts {
        match out.last_mut() {
            Some((last, n)) if last == v => *n += 1,
            _ => out.push((*v, 1)),
        }
    }
    if out.is_empty() {
        return "nothing".into();
    }
    out.iter()
        .map(|(v, n)| format!("{v} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `n` copies of `v`, then `m` of `w`: an expected verdict sequence.
pub fn seq(parts: &[(Verdict, usize)]) -> Vec<Verdict> {
    parts
        .iter()
        .flat_map(|(v, n)| std::iter::repeat_n(*v, *n))
        .collect()
}
