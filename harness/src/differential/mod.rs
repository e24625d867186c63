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

mod compare;
pub mod frame;
pub mod generate;

use std::sync::Arc;

pub use compare::{Backends, Compare, Counted, Observation, Output};
pub use frame::{Cut, FrameSpec, L4Csum, OptFill};
pub use generate::{Generator, Interesting};

use crate::{
    check::{Frame, Judgement},
    error::Result,
    lab::Setup,
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
    /// The part's set-up (map fills), applied to the reference's fresh load too.
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
    /// How many frames a run compares.
    pub frames: usize,
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
}

/// What a comparison run found.
#[derive(Debug, Clone)]
pub struct Found {
    /// Frames compared.
    pub frames: usize,
    /// Frames left out because the reference disagreed with the contract's oracle.
    pub reference_off_contract: usize,
    /// The first difference, shrunk, if any.
    pub difference: Option<Difference>,
}

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
}

/// One program and its last counter reading.
struct Side<'a> {
    target: &'a mut dyn Target,
    last: Option<Vec<Vec<u64>>>,
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
    pub fn open(&self, object: &dyn crate::object::ProgramSource) -> Result<Box<dyn Target>> {
        let mut t = target::open(
            object,
            self.program,
            crate::Mode::TestRun,
            &TopologySpec::pair(),
        )?;
        if let Some(Setup(setup)) = &self.setup {
            setup(t.as_mut())?;
        }
        Ok(t)
    }

    /// One frame through one program: what it did, as compared, and its output bytes. The
    /// counters read after a frame are the next frame's "before" (half the map reads).
    fn observe(&self, side: &mut Side<'_>, frame: &[u8]) -> Result<(Observation, Option<Vec<u8>>)> {
        let before = match side.last.take() {
            Some(b) => b,
            None => self.compare.read(side.target)?,
        };
        let outcome = side.target.exchange(frame)?;
        let after = self.compare.read(side.target)?;
        let obs = self.compare.observe(frame, &outcome, &before, &after);
        side.last = Some(after);
        Ok((obs, outcome.bytes))
    }

    /// Whether the two programs differ on `spec`, counting a frame the reference gets wrong
    /// by the contract as no difference. Returns both observations.
    fn differs(&self, sides: &mut [Side<'_>; 2], spec: &FrameSpec) -> Result<Compared> {
        let frame = spec.build();
        let open = self.open.is_some_and(|open| open(&frame));
        let [program, reference] = sides;
        let (theirs, _) = self.observe(reference, &frame)?;
        let (ours, output) = self.observe(program, &frame)?;
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
        })
    }

    /// Compares the programs on `self.frames` generated frames and shrinks the first
    /// difference. Deterministic for a seed when both programs are (every part compared here
    /// is, modulo the freedoms).
    pub fn compare(&self, pair: &mut Pair<'_>) -> Result<Found> {
        self.compare_n(pair, self.frames)
    }

    /// [`Differential::compare`] over `n` frames.
    pub fn compare_n(&self, pair: &mut Pair<'_>, n: usize) -> Result<Found> {
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
        let mut generator = Generator::new(
            self.seed,
            self.program,
            generate::strategy(&self.canonical, &self.interesting),
        );
        let mut off = 0;
        for index in 0..n {
            let spec = generator.next_frame();
            let c = self.differs(&mut sides, &spec)?;
            off += usize::from(c.off_contract);
            if c.differs {
                let difference = self.shrink(&mut sides, index, spec)?;
                return Ok(Found {
                    frames: index + 1,
                    reference_off_contract: off,
                    difference: Some(difference),
                });
            }
        }
        Ok(Found {
            frames: n,
            reference_off_contract: off,
            difference: None,
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
        })
    }

    /// Runs the check on `target` (the student's program, already set up) against a fresh
    /// reference: the judgement and, on a difference, the shrunk and generated frames and the
    /// program's output for the pcap.
    pub fn judge(&self, target: &mut dyn Target) -> Result<(Judgement, Vec<Frame>)> {
        let mut reference = self.load_reference()?;
        let found = self.compare(&mut Pair {
            program: target,
            reference: reference.as_mut(),
        })?;
        Ok(self.render(&found))
    }

    /// The judgement: equal sides when no difference was found, else the shrunk frame field by
    /// field on both sides and what each program did.
    pub fn render(&self, found: &Found) -> (Judgement, Vec<Frame>) {
        let mut head = format!(
            "{} generated frames (seed {}) against the reference, modulo: {}\n",
            self.frames,
            self.seed,
            self.compare.freedoms()
        );
        if found.reference_off_contract > 0 {
            head.push_str(&format!(
                "{} frame(s) left out: the reference disagrees with the contract on them\n",
                found.reference_off_contract
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
        let mut frame = format!(
            "frame #{} differs; shrunk to the canonical frame with these fields changed:\n",
            d.index
        );
        let changed = d.shrunk.differences(&self.canonical);
        if changed.is_empty() {
            frame.push_str("  (none: the canonical frame itself)\n");
        }
        for (name, value, canonical) in changed {
            frame.push_str(&format!("  {name:<16} {value}   (canonical {canonical})\n"));
        }
        frame.push_str("decoded:\n");
        for line in d.shrunk.to_string().lines() {
            frame.push_str(&format!("  {line}\n"));
        }
        let bytes = d.shrunk.build();
        frame.push_str(&format!("bytes ({}): {}\n", bytes.len(), hex(&bytes)));
        frame.push_str(&format!(
            "replay: xdplab run {} --object <your object> --mode test-run --check {} --seed {}\n",
            self.lab, self.check, self.seed
        ));
        let side = |label: &str, obs: &Observation| {
            format!("{head}{frame}{label}:\n{}", indent(&obs.to_string()))
        };
        let mut traffic = vec![
            Frame {
                sent: true,
                at: None,
                bytes,
            },
            Frame {
                sent: true,
                at: None,
                bytes: d.generated.build(),
            },
        ];
        if let Some(out) = &d.output {
            traffic.push(Frame {
                sent: false,
                at: None,
                bytes: out.clone(),
            });
        }
        (
            Judgement {
                expected: side("outcome", &d.reference),
                actual: side("outcome", &d.program),
            },
            traffic,
        )
    }
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

impl Differential {
    /// The part's scored check `<lab>/<program>/differential` with this body.
    pub fn into_check(mut self) -> crate::Check {
        let mut check = crate::Check::new(
            self.lab,
            self.program,
            "differential",
            format!(
                "{} generated frames (Ethernet, IPv4, TCP/UDP/ICMP/other; odd fields, cuts, \
                 padding) get what the reference gives them, modulo the contract's freedoms \
                 (test-run)",
                self.frames
            ),
        );
        self.check.clone_from(&check.id);
        check.body = crate::check::Body::Differential(Body(Arc::new(self)));
        check
    }
}
