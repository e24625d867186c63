//! Floods: groups of frames sent as fast as the target takes them, judged by their verdicts,
//! how many of a group passed, and counter deltas. The harness times them: a flood's elapsed
//! time T runs from its first send until the program has decided every frame, and bounds that
//! depend on time (a token bucket's refill) are derived from the T measured, never assumed.
//!
//! A flood is one or more volleys, with pauses between them where the contract's clock matters
//! (a refilled bucket, a new window), and map edits before a volley where the contract's state
//! does (a blocklist entry).

use std::{
    collections::BTreeMap,
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use traffic::{FrameBuilder, Tag};

mod fresh;
pub use fresh::{FreshTarget, Move, fresh_sources};

use crate::{
    counters,
    judgement::{Frame, Judgement},
    table::{Shown, Table, ms},
};
use kernel::{
    budget::KernelTime,
    error::{Error, Result},
    maps::HashMapSummary,
    target::{Spread, Target},
    verdict::Verdict,
};

/// A flood check's body: volleys sent one after another on the same loaded program.
#[derive(Debug, Clone)]
pub struct Flood {
    counters: &'static str,
    window: Option<Window>,
    volleys: Vec<Volley>,
}

/// A time limit the contract's clock imposes on a flood: exceeded, the machine was too slow to
/// judge the contract: the check is unverified on this run, never charged to the program.
#[derive(Debug, Clone, Copy)]
pub enum Window {
    /// Each volley, from its first send until the program decided its last frame.
    EachVolley(Duration),
    /// The whole flood, from the first volley's first send until the last volley was decided.
    Whole(Duration),
    /// From volley `from`'s first send (volleys counted from 0) until the last volley was
    /// decided: a window opened by that volley, after earlier ones that must not open it.
    Since {
        /// The volley that opens the window.
        from: usize,
        /// How long the window's volleys may take, from its first send.
        limit: Duration,
    },
}

/// One burst of a flood: its groups, sent back to back, and what the counters must show.
#[derive(Clone)]
pub struct Volley {
    intro: String,
    pause: Option<Pause>,
    before: Option<Action>,
    groups: Vec<Group>,
    width: Option<usize>,
    want: BTreeMap<u32, Want>,
    entries: Option<Entries>,
    limit: Option<Duration>,
    /// Decided within this of the previous volley's start (a window that volley opened).
    in_previous: Option<Duration>,
    spread: Option<Spread>,
    next_tag: u16,
}

/// A wait before a volley, for the contract's clock.
#[derive(Debug, Clone, Copy)]
pub enum Pause {
    /// Until this long after the previous volley was decided (a bucket refills in the quiet).
    Quiet(Duration),
    /// Until this long after the previous volley started (a window opened by it has closed).
    AfterStart(Duration),
}

/// A change the harness makes to the program's maps before a volley, with the line that says
/// what it did.
#[derive(Clone)]
pub struct Action {
    line: String,
    run: Arc<ActionFn>,
}

/// The function behind an [`Action`].
pub type ActionFn = dyn Fn(&mut dyn Target) -> Result<()> + Send + Sync;

/// How many entries a volley must add to the maps that hold per-key state.
#[derive(Clone)]
struct Entries {
    what: String,
    added: i64,
    which: Arc<dyn Fn(&HashMapSummary) -> bool + Send + Sync>,
}

/// Frames like one another under one name, and what must happen to them.
#[derive(Debug, Clone)]
pub struct Group {
    name: String,
    frames: Vec<Vec<u8>>,
    expect: Expect,
}

/// What must happen to a group.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Every frame of the group gets this verdict.
    All(Verdict),
    /// Exactly these verdicts in this order: (verdict, how many) runs.
    Verdicts(Vec<(Verdict, usize)>),
    /// Between `lo` and `hi` of the group pass (inclusive); every other frame must be dropped
    /// (XDP_DROP exactly: a frame sent back, redirected or aborted fails the group).
    Passes {
        /// The least that must pass.
        lo: Bound,
        /// The most that may pass.
        hi: Bound,
    },
}

/// One end of a pass range.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    /// A number the contract fixes.
    Fixed(u64),
    /// `base + ⌈T⌉ms + slack`, T being this volley's elapsed time: what a bucket refilling one
    /// token per millisecond can pass on top of `base`.
    Refill {
        /// Tokens before any refill.
        base: u64,
        /// Frames the program may have seen a little after they were sent.
        slack: u64,
    },
    /// `base − (⌈T⌉ms + slack)`, T being the previous volley's elapsed time: what is left of
    /// `base` after the previous volley took up to its refill's worth.
    LessPreviousRefill {
        /// The amount before the previous volley's refill.
        base: u64,
        /// As in [`Bound::Refill`].
        slack: u64,
    },
    /// `base − k`, k being how many frames of the previous volley's last group passed: what is
    /// left of `base` after those k, as the program's own verdicts show it, whatever the time.
    /// When k reaches `base` the bound says nothing, so the check is unverified on this run
    /// (never a pass).
    LessPreviousPassed {
        /// The amount before the previous volley's passes.
        base: u64,
    },
}

/// What a counter index must have moved by in a volley.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// A number the contract fixes.
    Exact(u64),
    /// The number of the volley's frames that passed (where the contract gives a range, the
    /// counters must agree with what the program did).
    Passed,
    /// The number of the volley's frames that did not pass.
    Dropped,
}

impl Flood {
    /// A flood whose counter deltas are read from counter map `counters`.
    pub fn new(counters: &'static str) -> Self {
        Self {
            counters,
            window: None,
            volleys: Vec::new(),
        }
    }

    /// Adds a volley.
    pub fn volley(mut self, volley: Volley) -> Self {
        self.volleys.push(volley);
        self
    }

    /// Requires the flood to fit in `window` (else the environment is blamed).
    pub fn within(mut self, window: Window) -> Self {
        self.window = Some(window);
        self
    }

    /// How many frames the flood sends.
    pub fn frame_count(&self) -> usize {
        self.volleys
            .iter()
            .flat_map(|v| &v.groups)
            .map(|g| g.frames.len())
            .sum()
    }

    /// Sends the volleys and renders what the contract expects and what happened.
    pub fn judge(&self, target: &mut dyn Target) -> Result<(Judgement, Vec<Frame>)> {
        let mut table = Table::default();
        let mut traffic = Vec::new();
        let mut first_start: Option<Instant> = None;
        // (started, decided, elapsed) of the previous volley.
        let mut previous: Option<(Instant, Instant, Duration)> = None;
        // How many frames of the previous volley's last group passed.
        let mut previous_passed: Option<u64> = None;
        let program = target.program().name().to_owned();
        // The program's own time in the kernel, over the flood so far and the previous volley:
        // what tells a program that ran out the contract's clock from a slow machine.
        let (mut spent, mut previous_kernel) = (KernelTime::default(), KernelTime::default());
        // When each volley started, and the program's time since the `Window::Since` volley.
        let mut starts: Vec<Instant> = Vec::new();
        let mut spent_since = KernelTime::default();
        let mut fresh = self.fresh_sources(target)?;
        let by = fresh.by();
        if let Some(note) = by.note() {
            table.input(note);
        }
        let target: &mut dyn Target = &mut fresh;
        for volley in &self.volleys {
            if let (Some(pause), Some((started, decided, _))) = (volley.pause, previous) {
                table.input(pause.wait(started, decided));
            }
            if let Some(action) = &volley.before {
                (action.run)(target)?;
                table.input(&action.line);
            }
            let entries_before = volley.entries_now(target)?;
            let frames: Vec<Vec<u8>> = volley
                .groups
                .iter()
                .flat_map(|g| g.frames.iter().cloned())
                .collect();
            let started = Instant::now();
            first_start.get_or_insert(started);
            starts.push(started);
            let highest = volley
                .want
                .keys()
                .copied()
                .chain(volley.width.map(|w| w.saturating_sub(1) as u32))
                .max();
            let (shot, deltas) =
                counters::across_up_to(target, self.counters, highest, |t| match volley.spread {
                    None => t.fire(&frames),
                    Some(spread) => t.fire_spread(&frames, spread),
                })?;
            let decided = Instant::now();
            let kernel = shot.kernel.unwrap_or_default();
            spent += kernel;
            if let Some(Window::Since { from, .. }) = self.window
                && starts.len() > from
            {
                spent_since += kernel;
            }
            let blame = Blame {
                program: &program,
                volley: kernel,
                previous: previous_kernel,
            };
            previous_kernel = kernel;
            self.check_window(shot.elapsed, first_start.unwrap_or(started), &starts)
                .map_err(|e| match self.window {
                    Some(Window::Whole(limit)) => spent.blame(&program, |t| t <= limit, e),
                    Some(Window::Since { limit, .. }) => {
                        spent_since.blame(&program, |t| t <= limit, e)
                    }
                    Some(Window::EachVolley(limit)) => kernel.blame(&program, |t| t <= limit, e),
                    None => e,
                })?;
            if let (Some(limit), Some((previous_start, _, _))) = (volley.in_previous, previous)
                && decided - previous_start > limit
            {
                return Err(Error::env(format!(
                    "a volley that must be decided within {limit:?} of the previous one's start \
                     (inside the window it opened) was decided after {:?}; the machine woke too \
                     late to judge it",
                    decided - previous_start
                )));
            }
            if let Some(limit) = volley.limit
                && shot.elapsed > limit
            {
                return Err(kernel.blame(
                    &program,
                    |t| t <= limit,
                    Error::env(format!(
                        "a volley that must be decided within {limit:?} for the contract to say \
                         what happens took {:?}; the machine is too loaded to judge it",
                        shot.elapsed
                    )),
                ));
            }
            let prev_elapsed = previous.map(|(_, _, e)| e);
            let prev = Previous {
                elapsed: prev_elapsed,
                last_group_passed: previous_passed,
            };
            previous = Some((started, decided, shot.elapsed));

            let verdicts: Vec<Verdict> = shot.outcomes.iter().map(|o| o.verdict).collect();
            table.input(format!("{}, within T = {}", volley.intro, ms(shot.elapsed)));
            if let Some(spread) = volley.spread {
                table.input(format!(
                    "sent {}",
                    crate::table::spread_line(spread, target.mode())
                ));
            }
            if let Some(note) = &shot.note {
                table.input(note);
            }
            let mut at = 0;
            for g in &volley.groups {
                let got = &verdicts[at..at + g.frames.len()];
                at += g.frames.len();
                g.row(&mut table, got, shot.elapsed, prev, &blame)?;
                previous_passed = Some(got.iter().filter(|v| **v == Verdict::Pass).count() as u64);
            }
            let passed = verdicts.iter().filter(|v| **v == Verdict::Pass).count() as u64;
            // Counters move once per run: a spread may run each frame several times.
            let k = volley.spread.map_or(1, |s| s.runs_per_frame(target.mode()));
            let want: BTreeMap<u32, Shown> = volley
                .want
                .iter()
                .map(|(i, w)| {
                    let shown = match w {
                        Want::Exact(n) => Shown::fixed(n * k),
                        Want::Passed => Shown::measured(passed * k),
                        Want::Dropped => Shown::measured((frames.len() as u64 - passed) * k),
                    };
                    (*i, shown)
                })
                .collect();
            if !want.is_empty() || volley.width.is_some() {
                table.counters(self.counters, volley.width, &want, &deltas);
            }
            if let (Some(e), Some(before)) = (&volley.entries, entries_before) {
                e.rows(
                    &mut table,
                    &before,
                    &volley.entries_now(target)?.unwrap_or_default(),
                );
            }
            traffic.extend(Frame::traffic(&by.rewrite(&frames), &shot.outcomes));
        }
        Ok((table.judge(), traffic))
    }

    /// `target`, sending from sources its maps do not know yet (see [`fresh_sources`]).
    fn fresh_sources<'t>(&self, target: &'t mut dyn Target) -> Result<FreshTarget<'t>> {
        let frames = self
            .volleys
            .iter()
            .flat_map(|v| &v.groups)
            .flat_map(|g| &g.frames);
        fresh_sources(target, frames)
    }

    fn check_window(
        &self,
        volley: Duration,
        first_start: Instant,
        starts: &[Instant],
    ) -> Result<()> {
        let (took, limit, what) = match self.window {
            None => return Ok(()),
            Some(Window::EachVolley(limit)) => (volley, limit, "a volley"),
            Some(Window::Whole(limit)) => (first_start.elapsed(), limit, "the flood"),
            Some(Window::Since { from, limit }) => match starts.get(from) {
                Some(opened) => (opened.elapsed(), limit, "the volleys of one window"),
                None => return Ok(()),
            },
        };
        if took > limit {
            return Err(Error::env(format!(
                "{what} that must fit in {limit:?} took {took:?}; the machine is too loaded to \
                 judge the contract's time window"
            )));
        }
        Ok(())
    }
}

impl Pause {
    /// Waits out the pause (deliberately: the contract's clock must move) and returns the
    /// line that says how long it was.
    fn wait(self, started: Instant, decided: Instant) -> String {
        match self {
            Pause::Quiet(d) => {
                std::thread::sleep(d.saturating_sub(decided.elapsed()));
                format!("quiet for {}", ms(decided.elapsed()))
            }
            Pause::AfterStart(d) => {
                std::thread::sleep(d.saturating_sub(started.elapsed()));
                format!(
                    "starts {} after the previous volley started",
                    ms(started.elapsed())
                )
            }
        }
    }
}

impl Volley {
    /// A volley described by `intro` (what is sent, for the table's input line).
    pub fn new(intro: impl Into<String>) -> Self {
        Self {
            intro: intro.into(),
            pause: None,
            before: None,
            groups: Vec::new(),
            width: None,
            want: BTreeMap::new(),
            entries: None,
            limit: None,
            in_previous: None,
            spread: None,
            next_tag: 1,
        }
    }

    /// Adds a group of `count` frames built by `frame(i)`, each tagged uniquely within the
    /// volley; shown as `name ×count`. Frames that cannot carry a tag (ARP, cut frames) are
    /// told apart by their bytes, so `frame` must make them unique.
    ///
    /// # Panics
    /// Past 65535 frames in one volley (tags are 16 bits).
    pub fn group(
        mut self,
        name: impl fmt::Display,
        count: usize,
        frame: impl Fn(usize) -> FrameBuilder,
        expect: Expect,
    ) -> Self {
        let frames = (0..count)
            .map(|i| {
                let tag = self.next_tag;
                self.next_tag = tag.checked_add(1).expect("at most 65535 frames per volley");
                frame(i).tag(Tag(tag)).build()
            })
            .collect();
        self.groups.push(Group {
            name: format!("{name} ×{count}"),
            frames,
            expect,
        });
        self
    }

    /// Requires the program to decide this volley within `limit`, where the contract says what
    /// happens only for a fast enough flood (beyond it, the environment is blamed).
    pub fn decided_within(mut self, limit: Duration) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Requires the program to decide this volley within `limit` of the previous volley's
    /// start: inside a window that volley opened. A machine that woke too late for it (the
    /// pause overslept) cannot judge the volley, which is then unverified.
    pub fn decided_within_previous_start(mut self, limit: Duration) -> Self {
        self.in_previous = Some(limit);
        self
    }

    /// Sends this volley's frames spread over several CPUs (see [`Spread`]). Counter
    /// expectations stay per run of the frames: with a spread that runs each frame k times,
    /// they are multiplied by k.
    pub fn spread(mut self, spread: Spread) -> Self {
        self.spread = Some(spread);
        self
    }

    /// Waits before this volley (not for the first).
    pub fn after(mut self, pause: Pause) -> Self {
        self.pause = Some(pause);
        self
    }

    /// Changes the program's maps before this volley; `line` says what was done.
    pub fn before(
        mut self,
        line: impl Into<String>,
        run: impl Fn(&mut dyn Target) -> Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.before = Some(Action {
            line: line.into(),
            run: Arc::new(run),
        });
        self
    }

    /// Requires counter `index` to move by `want`; indexes below `width` with no expectation
    /// must not move (see [`Volley::counter_width`]). A lab names its counters with an enum
    /// that converts to the index, as its contract names them.
    pub fn counter(mut self, index: impl Into<u32>, want: Want) -> Self {
        self.want.insert(index.into(), want);
        self
    }

    /// Shows every counter index below `width`, so one that should not move stands out.
    /// Without it only the indexes given to [`Volley::counter`] are compared.
    pub fn counter_width(mut self, width: usize) -> Self {
        self.width = Some(width);
        self
    }

    /// Requires the volley to add exactly `added` keys to the hash maps `which` selects
    /// (described as `what`), counting a key held by several of them once.
    pub fn adds_entries(
        mut self,
        what: impl Into<String>,
        added: i64,
        which: impl Fn(&HashMapSummary) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.entries = Some(Entries {
            what: what.into(),
            added,
            which: Arc::new(which),
        });
        self
    }

    fn entries_now(&self, target: &mut dyn Target) -> Result<Option<Vec<HashMapSummary>>> {
        let Some(e) = &self.entries else {
            return Ok(None);
        };
        let maps = target.program().maps().hash_maps()?;
        Ok(Some(maps.into_iter().filter(|m| (e.which)(m)).collect()))
    }
}

impl Entries {
    fn rows(&self, table: &mut Table, before: &[HashMapSummary], after: &[HashMapSummary]) {
        let names: Vec<String> = after
            .iter()
            .map(|m| format!("{} ({}, {}-byte values)", m.name, m.kind, m.value_size))
            .collect();
        let names = if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        };
        table.input(format!("{}: {names}", self.what));
        // Distinct keys over all the maps: a program may keep one source's state in several.
        let count = |maps: &[HashMapSummary]| {
            maps.iter()
                .flat_map(|m| &m.keys)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        };
        let (b, a) = (count(before), count(after));
        table.input(format!("distinct keys before: ⟨{b}⟩, after: ⟨{a}⟩"));
        table.row(
            "entries added",
            format!("{:+}", self.added),
            format!("{:+}", a as i64 - b as i64),
        );
    }
}

impl Group {
    fn row(
        &self,
        table: &mut Table,
        got: &[Verdict],
        t: Duration,
        prev: Previous,
        blame: &Blame,
    ) -> Result<()> {
        match &self.expect {
            Expect::All(v) => {
                table.verdicts(&self.name, &vec![*v; self.frames.len()], got);
            }
            Expect::Verdicts(runs) => {
                let want: Vec<Verdict> = runs
                    .iter()
                    .flat_map(|(v, n)| std::iter::repeat_n(*v, *n))
                    .collect();
                table.verdicts(&self.name, &want, got);
            }
            Expect::Passes { lo, hi } => {
                let passed = got.iter().filter(|v| **v == Verdict::Pass).count() as u64;
                let lo_value = lo.value(t, prev);
                // Unless the earlier volleys already show the program wrong (then that stands).
                let so_far_right = table.matches();
                if let (Bound::LessPreviousPassed { base }, Some(k)) = (lo, prev.last_group_passed)
                    && k >= *base
                    && so_far_right
                {
                    // The previous volley's refill (1 token a ms) gave those k tokens.
                    return Err(blame.previous.blame(
                        blame.program,
                        |t| ms_ceil(t) < *base,
                        Error::env(format!(
                            "{k} frames of the previous volley passed, so the contract's {base} \
                             leaves no lower bound for `{}` and nothing would be verified; the \
                             machine delivered the flood too slowly",
                            self.name
                        )),
                    ));
                }
                // A bound from the clock that lets the whole group through tells a limiting
                // program from one that limits nothing only if something was limited.
                let sent = self.frames.len() as u64;
                if let Bound::Refill { base, slack } = hi
                    && base + ms_ceil(t) + slack >= sent
                    && passed == sent
                    && so_far_right
                {
                    return Err(blame.volley.blame(
                        blame.program,
                        |t| base + ms_ceil(t) + slack < sent,
                        Error::env(format!(
                            "`{}` took {} ms, long enough for the contract's bucket to refill \
                             and pass all {sent} frames, so passing them all verifies nothing; \
                             the machine delivered the flood too slowly",
                            self.name,
                            ms_ceil(t)
                        )),
                    ));
                }
                table.passed_in(&self.name, lo_value, hi.value(t, prev), got);
            }
        }
        Ok(())
    }
}

/// The program's own time in the kernel, in this volley and the one before, for deciding who
/// ran out the contract's clock (see [`kernel::budget`]).
struct Blame<'a> {
    program: &'a str,
    volley: KernelTime,
    previous: KernelTime,
}

/// What a volley's expectations may depend on from the volley before it.
#[derive(Debug, Clone, Copy, Default)]
struct Previous {
    /// Its elapsed time.
    elapsed: Option<Duration>,
    /// How many frames of its last group passed.
    last_group_passed: Option<u64>,
}

impl Bound {
    /// A bucket that starts with `base` tokens and refills one per millisecond, with `slack`.
    pub fn refill(base: u64, slack: u64) -> Self {
        Bound::Refill { base, slack }
    }

    fn value(self, t: Duration, prev: Previous) -> Shown {
        match self {
            Bound::Fixed(n) => Shown::fixed(n),
            Bound::Refill { base, slack } => Shown::measured(base + ms_ceil(t) + slack),
            Bound::LessPreviousRefill { base, slack } => {
                let took = prev.elapsed.map_or(0, ms_ceil) + slack;
                Shown::measured(base.saturating_sub(took))
            }
            Bound::LessPreviousPassed { base } => {
                Shown::measured(base.saturating_sub(prev.last_group_passed.unwrap_or(0)))
            }
        }
    }
}

/// Whole milliseconds, rounded up: the tolerance a token bucket refilling 1 per ms needs.
fn ms_ceil(d: Duration) -> u64 {
    d.as_micros().div_ceil(1000) as u64
}

impl fmt::Debug for Volley {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Volley")
            .field("intro", &self.intro)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::{FailureClass, Mode, target, topology::TopologySpec};

    use crate::Check;

    /// The kernel layer's map-role test program (`roles.c`), built with `defines`.
    fn roles_object(defines: &[&str]) -> kernel::XdpObject {
        let dir = std::env::temp_dir().join(format!("xdplab-flood-roles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let source =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernel/src/testdata/roles.c");
        kernel::XdpObject::from_path(kernel::clang::compile(&source, defines, &dir).expect("clang"))
            .expect("object")
    }

    /// A `stats` map smaller than the indices a check counts into is a map-layout error that
    /// names its size, never a "+0" read past its end.
    #[test]
    fn a_counter_map_too_small_for_the_check_is_a_layout_error() {
        let check = Check::new("t", "roles", "small", "counts into stats[3]").flood(
            Flood::new("stats").volley(
                Volley::new("one frame")
                    .group(
                        "ipv4",
                        1,
                        |_| {
                            traffic::FrameBuilder::ethernet(
                                kernel::topology::CLIENT_MAC,
                                kernel::topology::DUT_MAC,
                            )
                            .ipv4("10.0.0.2".parse().unwrap(), "10.0.0.9".parse().unwrap())
                            .udp(1, 2)
                        },
                        Expect::All(Verdict::Pass),
                    )
                    .counter(3u32, Want::Exact(1)),
            ),
        );
        let mut t = target::open(
            &roles_object(&["SMALL_STATS"]),
            "roles",
            Mode::TestRun,
            &TopologySpec::pair(),
        )
        .expect("target");
        let e = check.judge(&mut *t).expect_err("too small");
        assert_eq!(e.class(), FailureClass::MapLayout);
        assert!(e.to_string().contains("2 entries"), "{e}");
    }

    #[test]
    fn bounds_follow_the_measured_time() {
        let t = Duration::from_micros(12_300);
        assert_eq!(
            Bound::refill(1000, 50).value(t, Previous::default()),
            Shown::measured(1063)
        );
        let prev = Previous {
            elapsed: Some(Duration::from_millis(20)),
            last_group_passed: Some(37),
        };
        let lo = Bound::LessPreviousRefill {
            base: 100,
            slack: 50,
        };
        assert_eq!(lo.value(t, prev), Shown::measured(30));
        assert_eq!(Bound::Fixed(7).value(t, prev), Shown::fixed(7));
        // Read from the verdicts, not the clock: the same whatever the previous volley took.
        let left = Bound::LessPreviousPassed { base: 100 };
        assert_eq!(left.value(t, prev), Shown::measured(63));
    }
}
