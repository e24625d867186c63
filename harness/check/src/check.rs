//! Checks: named scenarios made of frames in and expectations out.
//!
//! A check's body is one of four kinds ([`Body`]): probes (single frames with the verdict and
//! counter each must produce), a flood (groups of frames judged by verdict runs, pass ranges
//! and counter deltas, timed by the harness), a delivery (frames and where each must arrive),
//! or, only where a real protocol exchange is the point, a scenario function. Every kind is
//! judged by rendering what it expects and what happened into the same table
//! ([`crate::table`]); it passes when the two are equal, and their diff is what a student reads.

use std::{fmt, sync::Arc};

use crate::{
    counters,
    delivery::Delivery,
    differential::{self, Differential},
    flood::Flood,
    hint::Hint,
    judgement::{Frame, Judgement},
    table::render,
};
use kernel::{
    error::Result,
    target::Target,
    verdict::{Outcome, Verdict},
};

/// One frame of a check and what the contract says must happen to it.
#[derive(Debug, Clone)]
pub struct Probe {
    /// A short name that says what is special about the frame (shown in tables and diffs).
    pub name: String,
    /// The frame as sent.
    pub frame: Vec<u8>,
    /// The verdict the contract requires.
    pub verdict: Verdict,
    /// The counter index the contract says this frame moves, if the check counts.
    pub bucket: Option<u32>,
}

impl Probe {
    /// A frame that must get `verdict` and, when passed, reach the stack unchanged.
    pub fn new(name: impl Into<String>, frame: Vec<u8>, verdict: Verdict) -> Self {
        Self {
            name: name.into(),
            frame,
            verdict,
            bucket: None,
        }
    }

    /// The same probe, also required to add one to counter `index` (a lab's named counter, or
    /// a `u32`).
    pub fn counts(mut self, index: impl Into<u32>) -> Self {
        self.bucket = Some(index.into());
        self
    }
}

/// What a check does: the four kinds of scenario the labs need.
#[derive(Debug, Clone)]
pub enum Body {
    /// Frames sent in order, each with its verdict and counter bucket.
    Probes {
        /// The frames.
        probes: Vec<Probe>,
        /// The counter map whose deltas must match the probes' buckets exactly, if any.
        counters: Option<&'static str>,
    },
    /// Groups of frames sent as fast as the target takes them.
    Flood(Flood),
    /// Frames and where each must arrive.
    Delivery(Delivery),
    /// A real protocol exchange that frames and expectations cannot express.
    Scenario(Scenario),
    /// Generated frames compared with the reference (test-run only; see
    /// [`crate::differential`]).
    Differential(differential::Body),
}

/// A named scenario with a stable id (`7.1/firewall/icmp-dropped`).
#[derive(Debug, Clone)]
pub struct Check {
    /// Stable id: `<lab>/<program>/<name>`.
    pub id: String,
    /// The program (part) this check belongs to.
    pub part: String,
    /// One human line: what the check shows when it passes.
    pub description: String,
    /// Whether the outcome counts; unscored checks report what happened and never fail.
    pub scored: bool,
    /// What the check sends and expects.
    pub body: Body,
    /// Whether the check needs a real path (veth); test-run mode then skips it.
    pub needs_veth: bool,
    /// Whether the check runs in test-run mode only; the veth modes then skip it.
    pub test_run_only: bool,
    /// Advice for the usual mistakes, each shown under the diff of a failure that shows its
    /// pattern.
    pub hints: Vec<Hint>,
}

/// A check's own driver, for a real protocol exchange: it uses the target as it likes and
/// returns what it expected and what it saw, as two tables in the same layout.
#[derive(Clone)]
pub struct Scenario(pub Arc<ScenarioFn>);

/// The function behind a [`Scenario`].
pub type ScenarioFn = dyn Fn(&mut dyn Target) -> Result<Judgement> + Send + Sync;

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scenario(..)")
    }
}

impl Check {
    /// A scored check of `part` named `name` (the id is built from the lab id), with no probes
    /// yet.
    pub fn new(lab: &str, part: &str, name: &str, description: impl Into<String>) -> Self {
        Self {
            id: format!("{lab}/{part}/{name}"),
            part: part.to_owned(),
            description: description.into(),
            scored: true,
            body: Body::Probes {
                probes: Vec::new(),
                counters: None,
            },
            needs_veth: false,
            test_run_only: false,
            hints: Vec::new(),
        }
    }

    /// Adds a hint for a usual mistake, shown when a failure shows its pattern.
    pub fn hint(mut self, hint: Hint) -> Self {
        self.hints.push(hint);
        self
    }

    /// Drives the check with `scenario`, for a real protocol exchange.
    pub fn custom(
        mut self,
        scenario: impl Fn(&mut dyn Target) -> Result<Judgement> + Send + Sync + 'static,
    ) -> Self {
        self.body = Body::Scenario(Scenario(Arc::new(scenario)));
        self
    }

    /// Makes the check a flood.
    pub fn flood(mut self, flood: Flood) -> Self {
        self.body = Body::Flood(flood);
        self
    }

    /// Makes the check a delivery (one observed by real arrival needs a real path).
    pub fn delivery(mut self, delivery: Delivery) -> Self {
        self.needs_veth |= delivery.needs_veth();
        self.body = Body::Delivery(delivery);
        self
    }

    /// Marks the check as needing a real path: test-run mode skips it.
    pub fn needs_veth(mut self) -> Self {
        self.needs_veth = true;
        self
    }

    /// Marks the check as test-run only (tens of thousands of runs, cheap as test runs and
    /// slow as frames on a veth): the veth modes skip it.
    pub fn test_run_only(mut self) -> Self {
        self.test_run_only = true;
        self
    }

    /// Adds a probe.
    pub fn probe(self, probe: Probe) -> Self {
        self.probes([probe])
    }

    /// Adds several probes.
    ///
    /// # Panics
    /// If the check's body is not probes (a lab that mixes kinds in one check is a bug).
    pub fn probes(mut self, more: impl IntoIterator<Item = Probe>) -> Self {
        match &mut self.body {
            Body::Probes { probes, .. } => probes.extend(more),
            _ => panic!("check {}: probes added to a non-probe check", self.id),
        }
        self
    }

    /// Requires the deltas of counter map `map` to equal the probes' buckets.
    ///
    /// # Panics
    /// If the check's body is not probes.
    pub fn counting(mut self, map: &'static str) -> Self {
        match &mut self.body {
            Body::Probes { counters, .. } => *counters = Some(map),
            _ => panic!("check {}: counting() applies to probe checks", self.id),
        }
        self
    }

    /// The probes, for a probe check (labs shuffle them by seed).
    pub fn probes_mut(&mut self) -> Option<&mut Vec<Probe>> {
        match &mut self.body {
            Body::Probes { probes, .. } => Some(probes),
            _ => None,
        }
    }

    /// How many frames the check sends, where that is known before it runs.
    pub fn frame_count(&self) -> usize {
        match &self.body {
            Body::Probes { probes, .. } => probes.len(),
            Body::Flood(flood) => flood.frame_count(),
            Body::Delivery(delivery) => delivery.parcels.len(),
            Body::Scenario(_) => 0,
            Body::Differential(d) => d.0.frames,
        }
    }

    /// Marks the check as reported but not scored (outside the contract).
    pub fn unscored(mut self) -> Self {
        self.scored = false;
        self
    }

    /// Runs the check on `target`. Also returns its traffic (sent and seen frames) for pcap
    /// files; a scenario's is recorded as it goes (see [`crate::record`]).
    pub fn judge(&self, target: &mut dyn Target) -> Result<(Judgement, Vec<Frame>)> {
        match &self.body {
            Body::Probes { probes, counters } => judge_probes(probes, *counters, target),
            Body::Flood(flood) => flood.judge(target),
            Body::Delivery(delivery) => delivery.judge(target),
            Body::Scenario(Scenario(run)) => {
                let mut recording = crate::record::Recording::new(target);
                let judgement = run(&mut recording)?;
                Ok((judgement, recording.finish()))
            }
            Body::Differential(d) => d.0.judge(target),
        }
    }

    /// Whether `mode` skips the check: one that needs a real path in test-run mode, a
    /// differential one without a veth sample on veth.
    pub fn skipped_in(&self, mode: kernel::Mode) -> bool {
        match &self.body {
            Body::Differential(d) => {
                d.0.veth_frames == 0 && matches!(mode, kernel::Mode::Native | kernel::Mode::Generic)
            }
            _ if self.test_run_only => matches!(mode, kernel::Mode::Native | kernel::Mode::Generic),
            _ => self.needs_veth && mode == kernel::Mode::TestRun,
        }
    }
}

/// Sends the probes through `target` and renders what the contract expects and what happened.
fn judge_probes(
    probes: &[Probe],
    counters: Option<&'static str>,
    target: &mut dyn Target,
) -> Result<(Judgement, Vec<Frame>)> {
    let frames: Vec<Vec<u8>> = probes.iter().map(|p| p.frame.clone()).collect();
    let (shot, deltas) = match counters {
        Some(map) => {
            let highest = probes.iter().filter_map(|p| p.bucket).max();
            let (shot, d) = counters::across_up_to(target, map, highest, |t| t.fire(&frames))?;
            (shot, Some(counters::moved(&d)))
        }
        None => (target.fire(&frames)?, None),
    };
    let outcomes = shot.outcomes;
    let mut expected_deltas = std::collections::BTreeMap::new();
    for b in probes.iter().filter_map(|p| p.bucket) {
        *expected_deltas.entry(b).or_insert(0u64) += 1;
    }
    // A settling note is an input of the check: the same on both sides.
    let note = shot.note.map(|n| n + "\n").unwrap_or_default();
    let expected = note.clone()
        + &render(
            probes
                .iter()
                .map(|p| (p.name.as_str(), p.verdict.to_string())),
            counters.map(|map| (map, &expected_deltas)),
        );
    let actual = note
        + &render(
            probes
                .iter()
                .zip(&outcomes)
                .map(|(p, o)| (p.name.as_str(), outcome_cell(p, o))),
            counters.zip(deltas.as_ref()),
        );
    let traffic = Frame::traffic(&frames, &outcomes);
    Ok((Judgement { expected, actual }, traffic))
}

/// An outcome as its table cell: the verdict, where a redirected frame went, and any rewrite
/// (probe contracts never rewrite, so a change is shown to explain the diff).
fn outcome_cell(probe: &Probe, o: &Outcome) -> String {
    let mut cell = o.verdict.to_string();
    if let (Verdict::Redirect, Some(at)) = (o.verdict, &o.at) {
        cell.push_str(&format!(" to {at}"));
    }
    if let Some(bytes) = &o.bytes
        && *bytes != probe.frame
    {
        cell.push_str(", rewritten to:");
        for line in traffic::decode(bytes).to_string().lines() {
            cell.push_str("\n      ");
            cell.push_str(line);
        }
    }
    cell
}

impl Differential {
    /// The part's scored check `<lab>/<program>/differential` with this body.
    pub fn into_check(mut self) -> Check {
        let mut check = Check::new(
            self.lab,
            self.program,
            "differential",
            format!(
                "{} get what the reference gives them, modulo the contract's freedoms \
                 (test-run; a sample of {} generated frames on veth)",
                if self.sequences.is_some() {
                    format!(
                        "{} generated frames (Ethernet, IPv4, TCP/UDP/ICMP/other; odd fields, \
                         cuts, padding), in sequences from fresh state,",
                        self.frames
                    )
                } else {
                    format!(
                        "The canonical frame as TCP, UDP, ICMP, SCTP, with IPv4 options and with IHL 4, \
                         each with every field varied alone, then {} generated frames (odd \
                         fields together, cuts, padding),",
                        self.frames
                    )
                },
                self.veth_frames
            ),
        );
        self.check.clone_from(&check.id);
        check.body = Body::Differential(differential::Body(Arc::new(self)));
        check
    }
}
