//! Differential testing: generated frames run through the student's program and a freshly
//! loaded reference (BPF_PROG_TEST_RUN), compared modulo the contract's freedoms; the first
//! difference is shrunk to a minimal frame and reported as a check's diff.
//!
//! A part says what must match as data ([`Compare`]): the verdict always; the output bytes
//! exactly ([`Output::Exact`]) or up to the rewrite's freedoms ([`Output::Balanced`]); the
//! counter deltas on the indices its contract fixes. Where the contract has a Rust statement of
//! its own ([`Oracle`]), the reference is held to it on every frame: a frame on which they
//! disagree is left out (the contract wins over the reference, never the student's loss) and
//! counted in the check's table.
//!
//! A stateful part (token buckets, SYN windows) compares [`Sequences`] rather than single
//! frames: each sequence starts from fresh per-source state on both sides
//! ([`kernel::maps::Maps::clear_state`]), may open with copies of the canonical frame that bring
//! a limit near (100 SYNs fill a window), and must be decided within a time in which the
//! contract's clock cannot move a decision; a slower one is left out and counted.
//!
//! On veth (native, generic) the student's attached program gets a sample of the frames
//! ([`Differential::veth_frames`]), sent over the pair one at a time, and the reference runs
//! beside it in test-run as always.

mod choice;
mod compare;
pub mod frame;
pub mod generate;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

pub use choice::Broken;
pub use compare::{Backends, Choice, Compare, Counted, Normaliser, Observation, Output};
pub use frame::{Cut, FrameSpec, L4Csum, OptFill, TotalLen};
pub use generate::{Generator, Interesting};

use crate::{
    fill::Setup,
    judgement::{Frame, Judgement},
};
use kernel::{
    error::Result,
    object::XdpObject,
    target::{self, Target},
    topology::TopologySpec,
};

/// What the contract says one frame must get, in the form [`Observation::contract_view`]
/// renders: the verdict and the fixed counter lines. `None`: the oracle has no opinion.
pub type Oracle = fn(&[u8]) -> Option<String>;

/// A differential check's body: how frames are drawn and compared, and against what.
#[derive(Clone)]
pub struct Differential {
    /// The lab's id (for the replay command).
    pub lab: &'static str,
    /// The check's id (for the replay command).
    pub check: String,
    /// The program (part) under test.
    pub program: &'static str,
    /// The reference solution's object bytes.
    pub reference: fn() -> &'static [u8],
    /// The set-up (map fills) both programs get: the part's own, or the check's.
    pub setup: Option<Setup>,
    /// The frame every generated one varies, and towards which differences shrink.
    pub canonical: FrameSpec,
    /// The values fields are drawn from more often than at random.
    pub interesting: Interesting,
    /// What must match.
    pub compare: Compare,
    /// The contract's own verdict, where written out.
    pub oracle: Option<Oracle>,
    /// Frames the contract leaves open (any outcome is right): generated, never compared.
    pub open: Option<fn(&[u8]) -> bool>,
    /// How many frames a run compares (generated ones; a sequence's opening copies are extra).
    pub frames: usize,
    /// How many of them a veth mode sends through the attached program (0: not run on veth).
    pub veth_frames: usize,
    /// Stateful parts: frames compared in sequences from fresh state.
    pub sequences: Option<Sequences>,
    /// The run's seed.
    pub seed: u64,
}

impl std::fmt::Debug for Differential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Differential")
            .field("program", &self.program)
            .field("frames", &self.frames)
            .field("seed", &self.seed)
            .finish()
    }
}

/// How a stateful part's frames are drawn and run: in sequences, each from fresh per-source
/// state, inside a time the contract's clock cannot move a decision in.
#[derive(Debug, Clone)]
pub struct Sequences {
    /// Generated frames per sequence, at most (each draws 1 to this many).
    pub length: usize,
    /// How many copies of the canonical frame may open a sequence, the first being canonical
    /// (what shrinking resets to).
    pub primes: &'static [usize],
    /// The time within which a whole sequence must be decided, on both sides, for the
    /// contract's clock to move no decision; a slower sequence is left out and counted.
    pub within: Duration,
    /// The most wall time drawing sequences may take, and shrinking one again: a program slow
    /// enough to need more is compared on fewer frames (the table says how many) and its
    /// difference shrunk as far as the time allowed.
    pub budget: Duration,
}

/// One sequence: `prime` copies of the canonical frame, then the generated frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// Copies of the canonical frame sent first.
    pub prime: usize,
    /// The generated frames.
    pub frames: Vec<FrameSpec>,
}

/// The first difference found, shrunk.
#[derive(Debug, Clone)]
pub struct Difference {
    /// Which generated frame (0-based) showed it first.
    pub index: usize,
    /// The generated frame.
    pub generated: FrameSpec,
    /// The shrunk frame.
    pub shrunk: FrameSpec,
    /// What the reference did with the shrunk frame.
    pub reference: Observation,
    /// What the program did with it.
    pub program: Observation,
    /// The program's output bytes for the shrunk frame (for the pcap).
    pub output: Option<Vec<u8>>,
    /// A stateful part's shrunk sequence up to the frame that differs (its last frame is
    /// `shrunk`, or it is a copy of the canonical frame when the prime differs), and the
    /// sequence as generated.
    pub sequence: Option<(Sequence, Sequence)>,
    /// A round robin's rotation broken at `shrunk` (then `sequence` holds the frames from the
    /// last balanced one).
    pub rotation: Option<Broken>,
}

impl Difference {
    /// The shrunk frames that are not the canonical one: the differing frame and, for a
    /// sequence, those before it.
    pub fn frames(&self) -> Vec<&FrameSpec> {
        match &self.sequence {
            Some((shrunk, _)) => shrunk.frames.iter().collect(),
            None => vec![&self.shrunk],
        }
    }
}

/// What a comparison run found.
#[derive(Debug, Clone)]
pub struct Found {
    /// Frames compared.
    pub frames: usize,
    /// Frames left out because the reference disagreed with the contract's oracle.
    pub reference_off_contract: usize,
    /// Sequences left out because they took longer than the contract's clock allows.
    pub over_time: usize,
    /// Where the program ran: test-run, or the veth mode that sent it a sample.
    pub mode: kernel::Mode,
    /// The first difference, shrunk, if any.
    pub difference: Option<Difference>,
}

/// Where a replay command names the program's files: grading puts the student's own in its
/// place (`--object ddos.o`).
pub const YOUR_OBJECT: &str = "--object <your object>";

/// Both programs, each on its own fresh load.
pub struct Pair<'a> {
    /// The program under test.
    pub program: &'a mut dyn Target,
    /// The reference.
    pub reference: &'a mut dyn Target,
}

/// Both programs on one frame.
struct Compared {
    /// They differ (and the reference keeps to the contract).
    differs: bool,
    /// The reference disagrees with the contract's oracle.
    off_contract: bool,
    reference: Observation,
    program: Observation,
    /// The program's output bytes.
    output: Option<Vec<u8>>,
    /// The reference's and the program's backends, in a balancing part.
    backends: (Option<usize>, Option<usize>),
}

/// One program and its last counter reading.
struct Side<'a> {
    target: &'a mut dyn Target,
    last: Option<Vec<Vec<u64>>>,
}

impl Side<'_> {
    /// Empties the program's per-source state.
    fn clear(&mut self) -> Result<()> {
        self.last = None;
        self.target.program().maps().clear_state()
    }
}

impl Differential {
    /// Loads a fresh copy of the reference's program, set up as the part says.
    pub fn load_reference(&self) -> Result<Box<dyn Target>> {
        let object = XdpObject::from_bytes(
            format!("reference solution of lab {}", self.lab),
            (self.reference)(),
        )?;
        self.open(&object)
    }

    /// Loads a fresh copy of the part's program from `object` for test-run, set up as the part
    /// says.
    pub fn open(&self, object: &dyn kernel::object::ProgramSource) -> Result<Box<dyn Target>> {
        let mut t = target::open(
            object,
            self.program,
            kernel::Mode::TestRun,
            &TopologySpec::pair(),
        )?;
        if let Some(Setup(setup)) = &self.setup {
            setup(t.as_mut())?;
        }
        Ok(t)
    }

    /// One frame through one program: what it did, as compared, its output bytes, and the
    /// backend it sent the frame on to (balancing parts). The counters read after a frame are
    /// the next frame's "before" (half the map reads).
    fn observe(
        &self,
        side: &mut Side<'_>,
        frame: &[u8],
    ) -> Result<(Observation, Option<Vec<u8>>, Option<usize>)> {
        let before = match side.last.take() {
            Some(b) => b,
            None => self.compare.read(side.target, self.sequences.is_none())?,
        };
        // A program attached by the student may also run on other traffic of its interface,
        // which moves its counters too: then the frame cannot be judged.
        let adopted = side.target.program().adopted();
        let ran_before = if adopted {
            Some((
                side.target.program().run_count()?,
                side.target.barriers_sent(),
            ))
        } else {
            None
        };
        let outcome = side.target.exchange(frame)?;
        if let Some((runs, barriers)) = ran_before {
            let ran = side.target.program().run_count()? - runs;
            let ours = 1 + (side.target.barriers_sent() - barriers);
            if ran > ours {
                return Err(kernel::Error::env(format!(
                    "the program ran {ran} times for {ours} frames of the harness's, so it also \
                     ran on other traffic (an interface it is attached to), which moves its \
                     counters too; run it again when that interface is quiet"
                )));
            }
        }
        let after = self.compare.read(side.target, self.sequences.is_none())?;
        self.compare.require(frame, &after)?;
        let (obs, backend) = self.compare.observe(frame, &outcome, &before, &after);
        side.last = Some(after);
        Ok((obs, outcome.bytes, backend))
    }

    /// Whether the two programs differ on `spec`, counting a frame the reference gets wrong
    /// by the contract as no difference. Returns both observations.
    fn differs(&self, sides: &mut [Side<'_>; 2], spec: &FrameSpec) -> Result<Compared> {
        let frame = spec.build();
        let open = self.open.is_some_and(|open| open(&frame));
        let [program, reference] = sides;
        let (theirs, _, their_backend) = self.observe(reference, &frame)?;
        let (ours, output, our_backend) = self.observe(program, &frame)?;
        let off_contract = self
            .oracle
            .and_then(|o| o(&frame))
            .is_some_and(|want| want != theirs.contract_view());
        Ok(Compared {
            differs: ours != theirs && !off_contract && !open,
            off_contract,
            reference: theirs,
            program: ours,
            output,
            backends: (their_backend, our_backend),
        })
    }

    /// Compares the programs on `self.frames` generated frames and shrinks the first
    /// difference. Deterministic for a seed when both programs are (every part compared here
    /// is, modulo the freedoms).
    pub fn compare(&self, pair: &mut Pair<'_>) -> Result<Found> {
        self.compare_n(pair, self.frames)
    }

    /// Whether the program side is a veth one (then only frames a veth carries are drawn).
    fn on_veth(pair: &mut Pair<'_>) -> bool {
        pair.program.mode() != kernel::Mode::TestRun
    }

    /// The generator of this part's frames; on veth, frames over the pair's MTU (1500 bytes of
    /// IPv4) are not drawn.
    fn generator(&self, veth: bool) -> Generator {
        let mut strategy = generate::strategy(&self.canonical, &self.interesting);
        if veth {
            use proptest::strategy::Strategy as _;
            strategy = strategy
                .prop_filter("a veth carries 1514 bytes", |f| f.build().len() <= 1514)
                .boxed();
        }
        Generator::new(self.seed, self.program, strategy)
    }

    /// [`Differential::compare`] over `n` frames.
    pub fn compare_n(&self, pair: &mut Pair<'_>, n: usize) -> Result<Found> {
        let veth = Self::on_veth(pair);
        let mode = pair.program.mode();
        // Sequences start from emptied per-source state; on a program someone else loaded
        // (pins, an id, an interface), emptying it between sequences did not give the same
        // start as a fresh copy (seen with bpftool's pinned maps: a window still full), so such
        // a program's sequences are not judged rather than charged.
        if self.sequences.is_some() && !pair.program.program().loaded_by_harness() {
            return Err(kernel::Error::env(
                "this part's differential runs sequences from emptied per-source state, which \
                 the harness can only be sure of on a copy it loads itself; give the object \
                 file (`--object`) to run it",
            ));
        }
        let mut sides = [
            Side {
                target: &mut *pair.program,
                last: None,
            },
            Side {
                target: &mut *pair.reference,
                last: None,
            },
        ];
        let mut generator = self.generator(veth);
        if let Some(seq) = &self.sequences {
            let found = self.compare_sequences(&mut sides, &mut generator, seq, n, mode)?;
            // Leave no state of its own behind.
            for side in &mut sides {
                side.clear()?;
            }
            return Ok(found);
        }
        // In test-run every single-field variant of the bases first, then the drawn frames.
        let swept = if veth {
            Vec::new()
        } else {
            generate::sweep(&self.canonical, &self.interesting)
        };
        let total = swept.len() + n;
        let frames = swept
            .into_iter()
            .chain(std::iter::repeat_with(|| generator.next_frame()).take(n));
        let mut off = 0;
        let choice = self.compare.backends().map(|b| b.choice);
        let rotating = choice == Some(Choice::Rotation);
        let mut tracker = choice::Tracker::default();
        for (index, spec) in frames.enumerate() {
            // A frame the contract lets a program balance or pass would move one rotation and
            // not the other.
            if rotating && self.is_open(&spec) {
                continue;
            }
            let c = self.differs(&mut sides, &spec)?;
            off += usize::from(c.off_contract);
            if let Some(choice) = choice
                && !c.differs
            {
                if c.off_contract {
                    tracker.reset();
                } else if let Some((broken, since)) = tracker.follow(choice, &spec, c.backends) {
                    return Ok(Found {
                        frames: index + 1,
                        reference_off_contract: off,
                        over_time: 0,
                        mode,
                        difference: Some(Difference {
                            index,
                            generated: spec.clone(),
                            shrunk: spec,
                            reference: c.reference,
                            program: c.program,
                            output: c.output,
                            sequence: Some((
                                Sequence {
                                    prime: 0,
                                    frames: since.clone(),
                                },
                                Sequence {
                                    prime: 0,
                                    frames: since,
                                },
                            )),
                            rotation: Some(broken),
                        }),
                    });
                }
            }
            if c.differs {
                let difference = self.shrink(&mut sides, index, spec)?;
                return Ok(Found {
                    frames: index + 1,
                    reference_off_contract: off,
                    over_time: 0,
                    mode,
                    difference: Some(difference),
                });
            }
        }
        Ok(Found {
            frames: total,
            reference_off_contract: off,
            over_time: 0,
            mode,
            difference: None,
        })
    }

    /// Draws sequences until `n` generated frames were compared, and shrinks the first that
    /// shows a difference.
    fn compare_sequences(
        &self,
        sides: &mut [Side<'_>; 2],
        generator: &mut Generator,
        seq: &Sequences,
        n: usize,
        mode: kernel::Mode,
    ) -> Result<Found> {
        let (mut compared, mut off, mut over_time) = (0, 0, 0);
        let mut index = 0;
        let started = Instant::now();
        while compared < n && started.elapsed() < seq.budget {
            let prime = if generator.below(2) == 0 {
                seq.primes[0]
            } else {
                seq.primes[generator.below(seq.primes.len())]
            };
            let len = 1 + generator.below(seq.length.min(n - compared));
            let frames: Vec<FrameSpec> = (0..len)
                .map(|_| generator.next_frame())
                .filter(|f| !self.is_open(f))
                .collect();
            compared += len;
            let sequence = Sequence { prime, frames };
            let run = self.run_sequence(sides, &sequence, seq.within)?;
            off += run.off_contract;
            match run.outcome {
                Run::OverTime => over_time += 1,
                Run::Same => {}
                Run::Differs(at, c) => {
                    let difference = self.shrink_sequence(sides, index, sequence, (at, *c), seq)?;
                    return Ok(Found {
                        frames: compared,
                        reference_off_contract: off,
                        over_time,
                        mode,
                        difference: Some(difference),
                    });
                }
            }
            index += 1;
        }
        Ok(Found {
            frames: compared,
            reference_off_contract: off,
            over_time,
            mode,
            difference: None,
        })
    }

    fn is_open(&self, spec: &FrameSpec) -> bool {
        self.open.is_some_and(|open| open(&spec.build()))
    }

    /// Runs `sequence` on both sides from fresh state, frame by frame (the reference first on
    /// each), until the first frame on which they differ.
    fn run_sequence(
        &self,
        sides: &mut [Side<'_>; 2],
        sequence: &Sequence,
        within: Duration,
    ) -> Result<SequenceRun> {
        for side in sides.iter_mut() {
            side.clear()?;
        }
        let started = Instant::now();
        let mut off = 0;
        let mut outcome = Run::Same;
        let mut last = None;
        if sequence.prime > 0 {
            let c = self.opening(sides, sequence.prime)?;
            if c.1.differs {
                outcome = Run::Differs(c.0, Box::new(c.1));
            } else {
                last = Some(c);
            }
        }
        let all = sequence.frames.iter().filter(|f| !self.is_open(f));
        for (at, spec) in all.enumerate() {
            if matches!(outcome, Run::Differs(..)) {
                break;
            }
            let at = at + sequence.prime;
            let c = self.differs(sides, spec)?;
            off += usize::from(c.off_contract);
            if c.differs {
                outcome = Run::Differs(at, Box::new(c));
                break;
            }
            last = Some((at, c));
        }
        // The per-source keys, once the sequence is over: a difference shows on its last frame.
        if let (Run::Same, Some((at, mut c)), true) = (&outcome, last, self.compare.keys()) {
            let [program, reference] = sides;
            let theirs = Compare::keys_line(reference.target)?;
            let ours = Compare::keys_line(program.target)?;
            if theirs != ours {
                c.reference.counters.push(theirs);
                c.program.counters.push(ours);
                c.differs = true;
                outcome = Run::Differs(at, Box::new(c));
            }
        }
        if started.elapsed() > within {
            outcome = Run::OverTime;
        }
        Ok(SequenceRun {
            outcome,
            off_contract: off,
        })
    }

    /// The opening copies of the canonical frame, sent as one batch on each side (the
    /// reference first): their verdicts in order, the counters over the batch and the last
    /// one's output must match. Returns the position of the first frame whose verdict differs
    /// (else the last one's) and the comparison.
    fn opening(&self, sides: &mut [Side<'_>; 2], prime: usize) -> Result<(usize, Compared)> {
        let frame = self.canonical.build();
        let batch = vec![frame.clone(); prime];
        let mut seen = Vec::new();
        for side in sides.iter_mut().rev() {
            let before = match side.last.take() {
                Some(b) => b,
                None => self.compare.read(side.target, false)?,
            };
            let shot = side.target.fire(&batch)?;
            let after = self.compare.read(side.target, false)?;
            self.compare.require(&frame, &after)?;
            let last = shot
                .outcomes
                .last()
                .cloned()
                .unwrap_or(kernel::verdict::Outcome {
                    verdict: kernel::Verdict::Pass,
                    bytes: None,
                    at: None,
                });
            let (mut obs, _) = self.compare.observe(&frame, &last, &before, &after);
            obs.verdict = runs(&shot.outcomes);
            side.last = Some(after);
            seen.push((obs, last.bytes, shot.outcomes));
        }
        let (program, output, ours) = seen.pop().expect("two sides");
        let (reference, _, theirs) = seen.pop().expect("two sides");
        let at = ours
            .iter()
            .zip(&theirs)
            .position(|(a, b)| a.verdict != b.verdict)
            .unwrap_or(prime - 1);
        Ok((
            at,
            Compared {
                differs: program != reference,
                off_contract: false,
                reference,
                program,
                output,
                backends: (None, None),
            },
        ))
    }

    /// Shrinks a sequence that shows a difference: first cut after the frame that differs,
    /// then the prime reset, each frame dropped, and each frame's fields reset to the
    /// canonical frame's, one at a time, keeping every step under which a difference remains,
    /// until none is kept. The order is fixed, so the result depends only on the sequence and
    /// the programs.
    fn shrink_sequence(
        &self,
        sides: &mut [Side<'_>; 2],
        index: usize,
        generated: Sequence,
        first: (usize, Compared),
        seq: &Sequences,
    ) -> Result<Difference> {
        let differs =
            |s: &Sequence, sides: &mut [Side<'_>; 2]| -> Result<Option<(usize, Compared)>> {
                Ok(match self.run_sequence(sides, s, seq.within)?.outcome {
                    Run::Differs(at, c) => Some((at, *c)),
                    _ => None,
                })
            };
        // `at` counts the frames sent (opening copies included; open frames are not sent).
        let cut = |s: &mut Sequence, at: usize| {
            let keep = (at + 1).saturating_sub(s.prime);
            s.frames = s
                .frames
                .iter()
                .filter(|f| !self.is_open(f))
                .take(keep)
                .cloned()
                .collect();
        };
        let mut shrunk = generated.clone();
        cut(&mut shrunk, first.0);
        // What the shrunk sequence last showed: a program that does not repeat itself (state
        // kept outside the contract's maps) is still reported, as first seen.
        let mut shown = first;
        let started = Instant::now();
        loop {
            if started.elapsed() > seq.budget {
                break;
            }
            let mut changed = false;
            let mut tries: Vec<Sequence> = Vec::new();
            if shrunk.prime != seq.primes[0] {
                tries.push(Sequence {
                    prime: seq.primes[0],
                    ..shrunk.clone()
                });
            }
            for i in 0..shrunk.frames.len() {
                let mut t = shrunk.clone();
                t.frames.remove(i);
                tries.push(t);
            }
            for t in tries {
                if let Some((at, c)) = differs(&t, sides)? {
                    shrunk = t;
                    cut(&mut shrunk, at);
                    shown = (at, c);
                    changed = true;
                }
            }
            for i in 0..shrunk.frames.len() {
                for f in 0..frame::FIELDS.len() {
                    let Some(frame) = shrunk.frames.get(i) else {
                        break;
                    };
                    let mut reset = frame.clone();
                    reset.reset(f, &self.canonical);
                    if reset == *frame {
                        continue;
                    }
                    let mut t = shrunk.clone();
                    t.frames[i] = reset;
                    if let Some((at, c)) = differs(&t, sides)? {
                        shrunk = t;
                        cut(&mut shrunk, at);
                        shown = (at, c);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let (at, c) = shown;
        let sent: Vec<&FrameSpec> = std::iter::repeat_n(&self.canonical, shrunk.prime)
            .chain(&shrunk.frames)
            .filter(|f| !self.is_open(f))
            .collect();
        let differing = sent
            .get(at)
            .map_or_else(|| self.canonical.clone(), |f| (*f).clone());
        let generated_frame = generated
            .frames
            .iter()
            .find(|f| **f == differing)
            .cloned()
            .unwrap_or_else(|| differing.clone());
        Ok(Difference {
            index,
            generated: generated_frame,
            shrunk: differing,
            reference: c.reference,
            program: c.program,
            output: c.output,
            sequence: Some((shrunk, generated)),
            rotation: None,
        })
    }

    /// Resets the fields of `generated` to the canonical frame's, one at a time, keeping each
    /// reset under which the programs still differ, until no reset keeps the difference. Field
    /// order is fixed, so the result depends only on the frame and the programs.
    ///
    /// Written here rather than with proptest's value-tree shrinking: that one moves numbers
    /// towards 0 by bisection, which would leave fields at values (port 0, IHL 0) unrelated to
    /// the difference; a reset to the canonical frame leaves only the fields that matter.
    fn shrink(
        &self,
        sides: &mut [Side<'_>; 2],
        index: usize,
        generated: FrameSpec,
    ) -> Result<Difference> {
        let mut shrunk = generated.clone();
        loop {
            let mut changed = false;
            for i in 0..frame::FIELDS.len() {
                let mut t = shrunk.clone();
                t.reset(i, &self.canonical);
                if t != shrunk && self.differs(sides, &t)?.differs {
                    shrunk = t;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let c = self.differs(sides, &shrunk)?;
        Ok(Difference {
            index,
            generated,
            shrunk,
            reference: c.reference,
            program: c.program,
            output: c.output,
            sequence: None,
            rotation: None,
        })
    }

    /// How many frames a run on `target` compares: all of them in test-run, the veth sample
    /// on a veth.
    pub fn frames_in(&self, mode: kernel::Mode) -> usize {
        if mode == kernel::Mode::TestRun {
            self.frames
        } else {
            self.veth_frames
        }
    }

    /// Runs the check on `target` (the student's program, set up by its part) against a fresh
    /// reference: the judgement and, on a difference, the shrunk and generated frames and the
    /// program's output for the pcap.
    pub fn judge(&self, target: &mut dyn Target) -> Result<(Judgement, Vec<Frame>)> {
        // The set-up may be the check's own (a blocklist the part's other checks do not
        // keep); the fills are idempotent, so a part's own set-up applied twice is the same.
        if let Some(Setup(setup)) = &self.setup {
            setup(target)?;
        }
        let mut reference = self.load_reference()?;
        let n = self.frames_in(target.mode());
        let mut recording = crate::record::Recording::new(target);
        let found = self.compare_n(
            &mut Pair {
                program: &mut recording,
                reference: reference.as_mut(),
            },
            n,
        )?;
        let (judgement, difference) = self.render(&found);
        // A difference's pcap holds its frames; without one, every frame the program got.
        let traffic = if difference.is_empty() {
            recording.finish()
        } else {
            difference
        };
        Ok((judgement, traffic))
    }

    /// The judgement: equal sides when no difference was found, else the shrunk frame field by
    /// field on both sides and what each program did.
    pub fn render(&self, found: &Found) -> (Judgement, Vec<Frame>) {
        let mut head = if found.mode == kernel::Mode::TestRun {
            format!(
                "{} generated frames (seed {}) against the reference, modulo: {}\n",
                found.frames,
                self.seed,
                self.compare.freedoms()
            )
        } else {
            format!(
                "a sample of {} generated frames (seed {}) sent through the attached program \
                 ({}), against the reference in test-run, modulo: {}\n",
                found.frames,
                self.seed,
                found.mode,
                self.compare.freedoms()
            )
        };
        if let Some(seq) = &self.sequences {
            head.push_str(&format!(
                "in sequences of up to {} frames from fresh per-source state, opened by {} \
                 copies of the canonical frame, each decided within {:?}\n",
                seq.length,
                seq.primes
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(" or "),
                seq.within
            ));
        }
        if found.reference_off_contract > 0 {
            head.push_str(&format!(
                "{} frame(s) left out: the reference disagrees with the contract on them\n",
                found.reference_off_contract
            ));
        }
        if found.over_time > 0 {
            head.push_str(&format!(
                "{} sequence(s) left out: they took longer than the contract's clock allows\n",
                found.over_time
            ));
        }
        let Some(d) = &found.difference else {
            let same = head + "no difference\n";
            return (
                Judgement {
                    expected: same.clone(),
                    actual: same,
                },
                Vec::new(),
            );
        };
        let mut frame = String::new();
        let mut traffic = Vec::new();
        let mut backends = None;
        if let (Some(broken), Some((since, _)), Some(b)) =
            (&d.rotation, &d.sequence, self.compare.backends())
        {
            let name = |k: usize| {
                b.list
                    .get(k)
                    .map_or_else(|| k.to_string(), |(a, _)| a.to_string())
            };
            frame.push_str(&match b.choice {
                Choice::Rotation => format!(
                    "frame #{} breaks the round robin's rotation: until then the program's \
                     backend of every balanced frame was the reference's under one mapping \
                     ({}); a rotation may start anywhere and go round in any order, but frames \
                     the contract passes must not move it. The last balanced frame and the \
                     frames since:\n",
                    d.index,
                    broken
                        .mapping
                        .iter()
                        .map(|(r, p)| format!("{} -> {}", name(*r), name(*p)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Choice::BySource => format!(
                    "frame #{} reaches another backend than an earlier frame from its source: \
                     the backend must be a function of the source address. The earlier frame \
                     and this one:\n",
                    d.index,
                ),
            });
            for (k, f) in since.frames.iter().enumerate() {
                frame.push_str(&format!("  frame {}:\n", k + 1));
                self.changed_fields(&mut frame, f, "    ");
            }
            frame.push_str("the frame that broke it");
            traffic.extend(since.frames.iter().map(|f| Frame {
                sent: true,
                at: None,
                bytes: f.build(),
            }));
            backends = Some((
                broken.expected.map_or_else(
                    || "a backend the mapping does not give to another of the reference's".into(),
                    name,
                ),
                name(broken.actual),
            ));
        } else if let Some((shrunk, generated)) = &d.sequence {
            frame.push_str(&format!(
                "sequence #{} differs; shrunk to {} copies of the canonical frame, then {} \
                 frame(s):\n",
                d.index,
                shrunk.prime,
                shrunk.frames.len()
            ));
            for (k, f) in shrunk.frames.iter().enumerate() {
                frame.push_str(&format!("  frame {}:\n", k + 1));
                self.changed_fields(&mut frame, f, "    ");
            }
            frame.push_str("the frame that differs");
            traffic.extend(
                std::iter::repeat_n(&self.canonical, shrunk.prime)
                    .chain(&shrunk.frames)
                    .chain(&generated.frames)
                    .map(|f| Frame {
                        sent: true,
                        at: None,
                        bytes: f.build(),
                    }),
            );
        } else {
            frame.push_str(&format!(
                "frame #{} differs; shrunk to the canonical frame with these fields changed:\n",
                d.index
            ));
            self.changed_fields(&mut frame, &d.shrunk, "  ");
            traffic.extend([&d.shrunk, &d.generated].map(|f| Frame {
                sent: true,
                at: None,
                bytes: f.build(),
            }));
            frame.push_str("decoded");
        }
        frame.push_str(":\n");
        for line in d.shrunk.to_string().lines() {
            frame.push_str(&format!("  {line}\n"));
        }
        let bytes = d.shrunk.build();
        frame.push_str(&format!("bytes ({}): {}\n", bytes.len(), hex(&bytes)));
        frame.push_str(&format!(
            "replay: xdplab run {} {YOUR_OBJECT} --mode {} --check {} --seed {}\n",
            self.lab, found.mode, self.check, self.seed
        ));
        let side = |label: &str, obs: &Observation, backend: Option<&String>| {
            let mut text = format!("{head}{frame}{label}:\n{}", indent(&obs.to_string()));
            if let Some(b) = backend {
                text.push_str(&format!("  backend   {b}\n"));
            }
            text
        };
        if let Some(out) = &d.output {
            traffic.push(Frame {
                sent: false,
                at: None,
                bytes: out.clone(),
            });
        }
        (
            Judgement {
                expected: side("outcome", &d.reference, backends.as_ref().map(|b| &b.0)),
                actual: side("outcome", &d.program, backends.as_ref().map(|b| &b.1)),
            },
            traffic,
        )
    }

    /// The fields of `f` that are not the canonical frame's, one line each.
    fn changed_fields(&self, out: &mut String, f: &FrameSpec, pad: &str) {
        let changed = f.differences(&self.canonical);
        if changed.is_empty() {
            out.push_str(&format!("{pad}(none: the canonical frame itself)\n"));
        }
        for (name, value, canonical) in changed {
            out.push_str(&format!(
                "{pad}{name:<16} {value}   (canonical {canonical})\n"
            ));
        }
    }
}

/// Verdicts as runs: `PASS ×99, DROP ×1`.
fn runs(outcomes: &[kernel::verdict::Outcome]) -> String {
    let mut out: Vec<(String, usize)> = Vec::new();
    for o in outcomes {
        let v = o.verdict.to_string();
        match out.last_mut() {
            Some((last, n)) if *last == v => *n += 1,
            _ => out.push((v, 1)),
        }
    }
    out.iter()
        .map(|(v, n)| format!("{v} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a sequence ran.
enum Run {
    /// No difference.
    Same,
    /// The `n`th frame sent (copies of the canonical frame included) differs.
    Differs(usize, Box<Compared>),
    /// It took longer than the contract's clock allows: left out.
    OverTime,
}

struct SequenceRun {
    outcome: Run,
    off_contract: usize,
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A differential body as a check's body holds it.
#[derive(Debug, Clone)]
pub struct Body(pub Arc<Differential>);
