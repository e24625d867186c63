//! Checks: named scenarios made of frames in and expectations out.
//!
//! A check is judged by rendering what it expects and what happened into the same text table;
//! it passes when the two are equal, and the diff between them is what a student reads.

use std::{collections::BTreeMap, fmt, sync::Arc};

use crate::{
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

    /// The same probe, also required to add one to counter `index`.
    pub fn counts(mut self, index: u32) -> Self {
        self.bucket = Some(index);
        self
    }
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
    /// The frames, sent in this order (empty for a [`Check::custom`] check).
    pub probes: Vec<Probe>,
    /// The counter map whose deltas must match the probes' buckets exactly, if any.
    pub counters: Option<&'static str>,
    /// A scenario that frames and verdicts cannot express (bursts, timing, handshakes).
    pub custom: Option<Scenario>,
    /// Whether the check needs a real path (veth); test-run mode then skips it.
    pub needs_veth: bool,
}

/// A check's own driver: it uses the target as it likes and returns what it expected and what
/// it saw, as two tables in the same layout.
#[derive(Clone)]
pub struct Scenario(pub Arc<ScenarioFn>);

/// The function behind a [`Scenario`].
pub type ScenarioFn = dyn Fn(&mut dyn Target) -> Result<Judgement> + Send + Sync;

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scenario(..)")
    }
}

/// One frame of a check's traffic, kept for pcap files.
#[derive(Debug, Clone)]
pub struct Frame {
    /// True for a frame the check sent, false for one it saw come out.
    pub sent: bool,
    /// Where an outgoing frame was seen (`ns/ifname`), when known.
    pub at: Option<String>,
    /// The frame.
    pub bytes: Vec<u8>,
}

/// What a check expected and what it saw, rendered alike; equal tables mean a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// The contract's side.
    pub expected: String,
    /// The program's side.
    pub actual: String,
}

impl Check {
    /// A scored check of `part` named `name` (the id is built from the lab id).
    pub fn new(lab: &str, part: &str, name: &str, description: impl Into<String>) -> Self {
        Self {
            id: format!("{lab}/{part}/{name}"),
            part: part.to_owned(),
            description: description.into(),
            scored: true,
            probes: Vec::new(),
            counters: None,
            custom: None,
            needs_veth: false,
        }
    }

    /// Drives the check with `scenario` instead of probes.
    pub fn custom(
        mut self,
        scenario: impl Fn(&mut dyn Target) -> Result<Judgement> + Send + Sync + 'static,
    ) -> Self {
        self.custom = Some(Scenario(Arc::new(scenario)));
        self
    }

    /// Marks the check as needing a real path: test-run mode skips it.
    pub fn needs_veth(mut self) -> Self {
        self.needs_veth = true;
        self
    }

    /// Adds a probe.
    pub fn probe(mut self, probe: Probe) -> Self {
        self.probes.push(probe);
        self
    }

    /// Adds several probes.
    pub fn probes(mut self, probes: impl IntoIterator<Item = Probe>) -> Self {
        self.probes.extend(probes);
        self
    }

    /// Requires the deltas of counter map `map` to equal the probes' buckets.
    pub fn counting(mut self, map: &'static str) -> Self {
        self.counters = Some(map);
        self
    }

    /// Marks the check as reported but not scored (outside the contract).
    pub fn unscored(mut self) -> Self {
        self.scored = false;
        self
    }

    /// The expectation as a table, in the same layout as [`Observation::table`].
    pub fn expected_table(&self) -> String {
        let rows = self
            .probes
            .iter()
            .map(|p| (p.name.as_str(), p.verdict.to_string()));
        let counters = self.counters.map(|map| {
            let mut deltas = BTreeMap::new();
            for b in self.probes.iter().filter_map(|p| p.bucket) {
                *deltas.entry(b).or_insert(0u64) += 1;
            }
            (map, deltas)
        });
        render(rows, counters.as_ref().map(|(m, d)| (*m, d)))
    }

    /// Runs the check on `target`: its scenario, or its probes. Also returns the probes'
    /// traffic (sent and seen frames) for pcap files.
    pub fn judge(&self, target: &mut dyn Target) -> Result<(Judgement, Vec<Frame>)> {
        match &self.custom {
            Some(Scenario(run)) => Ok((run(target)?, Vec::new())),
            None => {
                let obs = self.observe(target)?;
                let mut traffic: Vec<Frame> = self
                    .probes
                    .iter()
                    .map(|p| Frame {
                        sent: true,
                        at: None,
                        bytes: p.frame.clone(),
                    })
                    .collect();
                for o in &obs.outcomes {
                    if let Some(bytes) = &o.bytes {
                        traffic.push(Frame {
                            sent: false,
                            at: o.at.clone(),
                            bytes: bytes.clone(),
                        });
                    }
                }
                let judgement = Judgement {
                    expected: self.expected_table(),
                    actual: obs.table(self),
                };
                Ok((judgement, traffic))
            }
        }
    }

    /// Sends the probes through `target` and records what happened.
    pub fn observe(&self, target: &mut dyn Target) -> Result<Observation> {
        let before = match self.counters {
            Some(map) => Some(target.program().maps().counters(map)?),
            None => None,
        };
        let frames: Vec<Vec<u8>> = self.probes.iter().map(|p| p.frame.clone()).collect();
        let outcomes = target.send(&frames)?;
        let deltas = match (self.counters, before) {
            (Some(map), Some(before)) => {
                let after = target.program().maps().counters(map)?;
                Some(
                    after
                        .iter()
                        .zip(before.iter().chain(std::iter::repeat(&0)))
                        .enumerate()
                        .filter(|(_, (a, b))| a != b)
                        .map(|(i, (a, b))| (i as u32, a.wrapping_sub(*b)))
                        .collect(),
                )
            }
            _ => None,
        };
        Ok(Observation { outcomes, deltas })
    }
}

/// What happened to a check's probes.
#[derive(Debug, Clone)]
pub struct Observation {
    /// One outcome per probe, in order.
    pub outcomes: Vec<Outcome>,
    /// Counter deltas by index (only the ones that moved), when the check counts.
    pub deltas: Option<BTreeMap<u32, u64>>,
}

impl Observation {
    /// What happened, as a table in the same layout as [`Check::expected_table`].
    pub fn table(&self, check: &Check) -> String {
        let rows = check.probes.iter().zip(&self.outcomes).map(|(p, o)| {
            let mut cell = o.verdict.to_string();
            if let (Verdict::Redirect, Some(at)) = (o.verdict, &o.at) {
                cell.push_str(&format!(" to {at}"));
            }
            // The 7.1 contract never rewrites; show any change so the diff explains it.
            if let Some(bytes) = &o.bytes
                && *bytes != p.frame
            {
                cell.push_str(", rewritten to:");
                for line in traffic::decode(bytes).to_string().lines() {
                    cell.push_str("\n      ");
                    cell.push_str(line);
                }
            }
            (p.name.as_str(), cell)
        });
        render(rows, check.counters.zip(self.deltas.as_ref()))
    }
}

/// Renders rows of `name  cell` and counter deltas as one table.
pub fn render<'a>(
    rows: impl Iterator<Item = (&'a str, String)>,
    counters: Option<(&str, &BTreeMap<u32, u64>)>,
) -> String {
    let mut out = String::new();
    for (name, cell) in rows {
        out.push_str(&format!("{name:<44} {cell}\n"));
    }
    if let Some((map, deltas)) = counters {
        if deltas.is_empty() {
            out.push_str(&format!("{map}: no change\n"));
        }
        for (i, d) in deltas {
            out.push_str(&format!("{map}[{i}] +{d}\n"));
        }
    }
    out
}
