//! Measured figures for the README: how long a lab run and a topology set-up take, and how many
//! packets per second each mode checks. Timing is measured here, never asserted in tests.

use std::time::{Duration, Instant};

use crate::{
    error::Result,
    lab::{Lab, RunOptions},
    object::XdpObject,
    target::Mode,
    topology::{Topology, TopologySpec},
};

/// Timings of one mode over several full runs of a lab.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModeFigures {
    /// The mode.
    pub mode: Mode,
    /// Median wall time of a full lab run.
    pub run_median: Duration,
    /// Slowest full run.
    pub run_max: Duration,
    /// Frames sent by probe checks in one run.
    pub frames: usize,
    /// Frames checked per second (frames / median run time), set-up included.
    pub frames_per_second: f64,
}

/// Runs the whole lab `runs` times in `mode` against `object` and times it.
pub fn lab_run(lab: &Lab, object: &XdpObject, mode: Mode, runs: usize) -> Result<ModeFigures> {
    let opts = RunOptions {
        mode,
        ..Default::default()
    };
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        lab.run(object, &opts)?;
        times.push(start.elapsed());
    }
    times.sort();
    let frames = lab
        .parts
        .iter()
        .flat_map(|p| &p.checks)
        .filter(|c| !(c.needs_veth && mode == Mode::TestRun))
        .map(|c| c.frame_count())
        .sum();
    let median = times[times.len() / 2];
    Ok(ModeFigures {
        mode,
        run_median: median,
        run_max: *times.last().expect("at least one run"),
        frames,
        frames_per_second: frames as f64 / median.as_secs_f64(),
    })
}

/// Median time to create and tear down `spec` (namespaces, veths, offloads, addresses, up).
pub fn topology_setup(spec: &TopologySpec, runs: usize) -> Result<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        drop(Topology::create(spec)?);
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// Median time to get a part ready in `mode`: fresh load, and in the veth modes the topology,
/// the attach and the sockets (the set-up every part of every run pays).
pub fn part_setup(
    object: &XdpObject,
    program: &str,
    mode: Mode,
    spec: &TopologySpec,
    runs: usize,
) -> Result<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let target = crate::target::open(object, program, mode, spec)?;
        times.push(start.elapsed());
        drop(target);
    }
    times.sort();
    Ok(times[times.len() / 2])
}
