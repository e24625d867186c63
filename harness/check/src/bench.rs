//! Measured figures: how long a lab run and a topology set-up take and how many packets per
//! second each mode checks (for the README), and how fast a student's programs are next to the
//! reference solution's (`xdplab bench`, and `grade --perf`). Timing is measured here, never
//! asserted in tests.

use std::time::{Duration, Instant};

use crate::{
    fill::Setup,
    lab::{Lab, Part, RunOptions},
    report::{Perf, ProgramPerf, Spread, VethRates},
};
use kernel::{
    budget::KernelTime,
    error::Result,
    object::{ProgramSource, XdpObject},
    target::{Mode, Target},
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
        .filter(|c| !c.skipped_in(mode))
        .map(super::check::Check::frame_count)
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
        let target = kernel::target::open(object, program, mode, spec)?;
        times.push(start.elapsed());
        drop(target);
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// How to measure.
#[derive(Debug, Clone, Copy)]
pub struct PerfOptions {
    /// Runs; the report gives their median and spread.
    pub runs: usize,
    /// Repeats of each frame per run (the kernel averages them).
    pub repeat: u32,
    /// Frames in each native-mode veth burst; 0 skips the veth measurement.
    pub veth_frames: usize,
    /// The whole measurement's time limit: past it, no new run starts.
    pub time_limit: Duration,
}

impl PerfOptions {
    /// The measurement `run --perf` and grading add to a report: a few test-run repeats and
    /// no veth rate, so a submission stays quick.
    pub fn quick() -> Self {
        Self {
            runs: 3,
            repeat: 200,
            veth_frames: 0,
            time_limit: Duration::from_secs(60),
        }
    }
}

impl Default for PerfOptions {
    fn default() -> Self {
        Self {
            runs: 5,
            repeat: 1000,
            veth_frames: 5000,
            time_limit: Duration::from_secs(300),
        }
    }
}

/// Most distinct frames kept per program: enough to cover every branch the checks reach, few
/// enough that a run stays short.
const MIX_CAP: usize = 32;

/// A target that records every frame the checks send through it.
struct Recorder<'a> {
    inner: &'a mut dyn Target,
    frames: Vec<Vec<u8>>,
}

impl kernel::target::Layer for Recorder<'_> {
    fn inner(&self) -> &dyn Target {
        self.inner
    }
    fn inner_mut(&mut self) -> &mut dyn Target {
        self.inner
    }
    fn fire(&mut self, frames: &[Vec<u8>]) -> Result<kernel::target::Shot> {
        self.frames.extend_from_slice(frames);
        self.inner.fire(frames)
    }
    fn fire_spread(
        &mut self,
        frames: &[Vec<u8>],
        _: kernel::Spread,
    ) -> Result<kernel::target::Shot> {
        // Only the frames matter here: once each, on one CPU.
        kernel::target::Layer::fire(self, frames)
    }
    fn exchange(&mut self, frame: &[u8]) -> Result<kernel::verdict::Outcome> {
        self.frames.push(frame.to_vec());
        self.inner.exchange(frame)
    }
}

/// The lab's own frame mix for `part`: the distinct frames its test-run checks send to the
/// reference solution, evenly thinned to at most `MIX_CAP` (32).
pub fn frame_mix(lab: &Lab, part: &Part) -> Result<Vec<Vec<u8>>> {
    let reference = lab.reference_object();
    let mut target = kernel::target::open(&reference, part.program, Mode::TestRun, &part.topology)?;
    if let Some(Setup(setup)) = &part.setup {
        setup(target.as_mut())?;
    }
    let mut rec = Recorder {
        inner: target.as_mut(),
        frames: Vec::new(),
    };
    for check in part.checks.iter().filter(|c| !c.needs_veth) {
        check.judge(&mut rec)?;
    }
    let mut seen = std::collections::HashSet::new();
    let distinct: Vec<Vec<u8>> = rec
        .frames
        .into_iter()
        // The veth rate sends the mix too: frames over a 1500-byte MTU (the differential check
        // generates some) stay out.
        .filter(|f| f.len() <= 1514 && seen.insert(f.clone()))
        .collect();
    let step = distinct.len().div_ceil(MIX_CAP).max(1);
    Ok(distinct.into_iter().step_by(step).collect())
}

/// A fresh copy of `program` from `source`, set up as the part's checks would have it.
fn ready(source: &dyn ProgramSource, part: &Part, mode: Mode) -> Result<Box<dyn Target>> {
    let mut target = kernel::target::open(source, part.program, mode, &part.topology)?;
    if let Some(Setup(setup)) = &part.setup {
        setup(target.as_mut())?;
    }
    Ok(target)
}

fn floor_program() -> Result<kernel::object::LoadedProgram> {
    XdpObject::from_bytes("xdplab XDP_DROP floor", reference::harness_pass())?
        .load(Some("xdplab_drop"))
}

/// Mean ns per frame of one pass over the mix.
fn ns_per_frame(
    p: &mut kernel::object::LoadedProgram,
    mix: &[Vec<u8>],
    repeat: u32,
) -> Result<f64> {
    let mut total = 0.0;
    for f in mix {
        total += p.time_run(f, repeat)?.as_nanos() as f64;
    }
    Ok(total / mix.len().max(1) as f64)
}

/// One run of each frame of the mix, stopped as soon as the program is over the per-frame
/// budget (see [`kernel::budget`]).
fn within_budget(p: &mut kernel::object::LoadedProgram, mix: &[Vec<u8>]) -> Result<()> {
    let mut spent = KernelTime::default();
    for f in mix {
        spent.add(p.time_run(f, 1)?);
        spent.within_budget(p.name())?;
    }
    spent.within_budget(p.name())
}

/// Frames per second `target`'s program takes from a burst of `n` frames of the mix on its
/// veth: from the first send until the program's run count shows it saw the last frame.
fn veth_rate(target: &mut dyn Target, mix: &[Vec<u8>], n: usize) -> Result<f64> {
    let burst: Vec<Vec<u8>> = mix.iter().cycle().take(n).cloned().collect();
    let before = target.program().run_count()?;
    let start = Instant::now();
    let veth = target
        .veth()
        .ok_or_else(|| kernel::Error::env("veth rate needs a veth target"))?;
    let sent = veth
        .sender()
        .send_burst(&burst)
        .map_err(|e| kernel::Error::op("sending a burst", e))?
        .sent as u64;
    let (mut seen, mut last) = (0, start.elapsed());
    // The kernel may drop a few frames before XDP (a full queue): stop once the count has not
    // moved for a while rather than wait for frames that will never come.
    while seen < sent && start.elapsed().checked_sub(last).unwrap() < Duration::from_millis(200) {
        let now = target.program().run_count()? - before;
        if now != seen {
            (seen, last) = (now, start.elapsed());
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    Ok(seen as f64 / last.as_secs_f64().max(1e-9))
}

/// Measures every program of `lab` in `source` next to the reference solution and an XDP_DROP
/// floor: ns per frame through BPF_PROG_TEST_RUN on the lab's own frame mix (the three
/// interleaved run by run, so load on the machine hits them alike), and native veth rates.
pub fn perf(lab: &Lab, source: &dyn ProgramSource, opts: PerfOptions) -> Result<Perf> {
    let reference = lab.reference_object();
    let runs = opts.runs.max(1);
    let started = Instant::now();
    let mut programs = Vec::new();
    for part in &lab.parts {
        let mix = frame_mix(lab, part)?;
        let mut theirs = match ready(source, part, Mode::TestRun) {
            // One pass over the mix first: a program over the per-frame budget would take
            // `repeat` times as long per run, so it is reported, not measured.
            Ok(mut t) => within_budget(t.program(), &mix)
                .map(|()| t)
                .map_err(|e| e.to_string()),
            Err(e) if e.class() == kernel::FailureClass::Environment => return Err(e),
            Err(e) => Err(e.to_string()),
        };
        let mut refs = ready(&reference, part, Mode::TestRun)?;
        let mut floor = floor_program()?;
        let (mut mine, mut r, mut fl) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            if started.elapsed() > opts.time_limit {
                return Err(kernel::Error::usage(format!(
                    "the measurement passed its time limit of {} s before it was done; measure \
                     fewer runs (--runs) or repeats (--repeat), or allow more (--timeout)",
                    opts.time_limit.as_secs()
                )));
            }
            if let Ok(t) = &mut theirs {
                mine.push(ns_per_frame(t.program(), &mix, opts.repeat)?);
            }
            r.push(ns_per_frame(refs.program(), &mix, opts.repeat)?);
            fl.push(ns_per_frame(&mut floor, &mix, opts.repeat)?);
        }
        let ns = (!mine.is_empty()).then(|| Spread::of(mine));
        let reference_ns = Spread::of(r);
        let veth = if opts.veth_frames > 0 {
            Some(veth_rates(
                source,
                &reference,
                part,
                &mix,
                runs,
                opts.veth_frames,
                theirs.is_ok(),
            )?)
        } else {
            None
        };
        programs.push(ProgramPerf {
            program: part.program.to_owned(),
            frames: mix.len(),
            ratio: ns.map(|s| s.median / reference_ns.median.max(f64::MIN_POSITIVE)),
            ns,
            reference_ns,
            floor_ns: Spread::of(fl),
            veth,
            error: theirs.err(),
        });
    }
    Ok(Perf {
        runs,
        repeat: opts.repeat,
        programs,
    })
}

fn veth_rates(
    source: &dyn ProgramSource,
    reference: &XdpObject,
    part: &Part,
    mix: &[Vec<u8>],
    runs: usize,
    n: usize,
    measure_theirs: bool,
) -> Result<VethRates> {
    let mut theirs = if measure_theirs {
        Some(ready(source, part, Mode::Native)?)
    } else {
        None
    };
    let mut refs = ready(reference, part, Mode::Native)?;
    let mut floor = kernel::target::VethTarget::new(
        floor_program()?,
        &part.topology,
        kernel::object::AttachMode::Native,
    )?;
    let (mut mine, mut r, mut fl) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        if let Some(t) = &mut theirs {
            mine.push(veth_rate(t.as_mut(), mix, n)?);
        }
        r.push(veth_rate(refs.as_mut(), mix, n)?);
        fl.push(veth_rate(&mut floor, mix, n)?);
    }
    Ok(VethRates {
        program: (!mine.is_empty()).then(|| Spread::of(mine)),
        reference: Spread::of(r),
        floor: Spread::of(fl),
    })
}
