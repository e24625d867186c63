//! Where checks send their frames: a veth topology (native or generic XDP) or the kernel's
//! BPF_PROG_TEST_RUN. Both answer the same question: what happened to each frame?

use std::{
    collections::HashMap,
    fmt,
    time::{Duration, Instant},
};

use traffic::{MacAddr, PacketSocket, find_tag};

use crate::{
    budget::KernelTime,
    cpus::{self, OnCpu},
    error::{Error, Result},
    exception::Exceptions,
    host,
    object::{AttachMode, LoadedProgram, ProgramSource, XdpObject},
    settle::{self, PinnedCpu},
    topology::{Iface, Topology, TopologySpec},
    verdict::{Outcome, Verdict},
};

/// How a lab's checks reach the program.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Real frames over veth, program attached in the veth driver.
    #[default]
    Native,
    /// Real frames over veth, program attached in the generic (skb) path.
    Generic,
    /// BPF_PROG_TEST_RUN: exact verdict and output bytes, no interfaces.
    TestRun,
    /// Test-run for every check that allows it, native veth for the checks that need a real
    /// path (what grading uses).
    Auto,
}

impl Mode {
    /// The three ways a frame can reach a program, in the order reports list them.
    pub const ALL: [Mode; 3] = [Mode::Native, Mode::Generic, Mode::TestRun];
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Native => "native",
            Mode::Generic => "generic",
            Mode::TestRun => "test-run",
            Mode::Auto => "auto",
        })
    }
}

/// How a batch of frames is spread over CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// The frames one at a time, in order, `each` in a row on one CPU, then `each` on the
    /// next, round `cpus` CPUs; each frame decided before the next is sent. State a program
    /// keeps per CPU shows as a break in a sequence (a per-CPU round-robin cursor restarts on
    /// each CPU). Deterministic.
    InTurn {
        /// How many CPUs.
        cpus: usize,
        /// How many frames in a row run on one CPU.
        each: usize,
    },
    /// `cpus` threads on as many CPUs, all at once, each running every frame many times: a
    /// shared counter updated without an atomic add loses counts. Test runs and veth sends
    /// differ about a hundredfold in cost and in how often two CPUs collide, so each has its
    /// own count. Each frame's outcome is the first thread's; counters must move by
    /// [`Spread::runs_per_frame`] per frame.
    Concurrent {
        /// How many CPUs.
        cpus: usize,
        /// How many times each thread runs each frame in test-run mode.
        test_runs: u32,
        /// How many times each thread sends each frame on a veth.
        sends: u32,
        /// Each CPU starts its pass at its own share of the frames (CPU `c` of `n` at frame
        /// `c * len / n`, wrapping), rather than every CPU running the same frame at once. A
        /// batch whose halves differ only in what the program keeps state by (one source each)
        /// keeps the CPUs off each other's state while they still update the same counters:
        /// inside an emulated VM two vCPUs writing one bucket ran half as fast, as slow as
        /// taking turns, so their overlap could not be shown.
        staggered: bool,
    },
}

/// In test-run mode a [`Spread::Concurrent`] batch first runs each frame [`ALONE_LOOPS`] times
/// [`ALONE_LOOP`] times in a row on one CPU alone (fewer for a program slow enough to get fewer
/// contended runs: a tenth of those, at least 100). The fastest loop's pace bounds from below how
/// long each contended loop really ran (contention only slows runs), which matters inside a VM,
/// whose guest clock runs on while the host has a vCPU off (see [`cpus::overlapped`]). Single
/// runs would not do: each carries the kernel's timing overhead (450 ns a run where a loop ran
/// 70-150 ns a run, in an emulated VM). Enough runs in all that the program's state reaches the
/// steady path the contended loops take (an emptied bucket, a full SYN window).
pub const ALONE_LOOPS: u32 = 5;
/// See [`ALONE_LOOPS`].
pub const ALONE_LOOP: u32 = 2000;

impl Spread {
    /// How many times the program runs each frame of the batch in `mode`.
    pub fn runs_per_frame(self, mode: Mode) -> u64 {
        match self {
            Spread::InTurn { .. } => 1,
            Spread::Concurrent { cpus, .. } => {
                let alone = match mode {
                    Mode::TestRun | Mode::Auto => ALONE_LOOPS * self.alone_loop(),
                    Mode::Native | Mode::Generic => 0,
                };
                cpus as u64 * u64::from(self.repeat(mode)) + u64::from(alone)
            }
        }
    }

    /// How many runs each loop alone takes (see [`ALONE_LOOPS`]).
    fn alone_loop(self) -> u32 {
        match self {
            Spread::InTurn { .. } => 0,
            Spread::Concurrent { test_runs, .. } => (test_runs / 10).clamp(100, ALONE_LOOP),
        }
    }

    /// How many times each CPU runs (or sends) each frame in `mode`.
    pub fn repeat(self, mode: Mode) -> u32 {
        match (self, mode) {
            (Spread::InTurn { .. }, _) => 1,
            (Spread::Concurrent { test_runs, .. }, Mode::TestRun | Mode::Auto) => test_runs,
            (Spread::Concurrent { sends, .. }, _) => sends,
        }
    }

    /// How many CPUs it needs.
    pub fn cpus(self) -> usize {
        match self {
            Spread::InTurn { cpus, .. } | Spread::Concurrent { cpus, .. } => cpus,
        }
    }
}

impl Spread {
    /// The index of the frame that CPU `cpu` (an index into the spread's CPUs) runs at step
    /// `step` of a [`Spread::Concurrent`] batch of `len` frames.
    pub fn frame_at(self, cpu: usize, step: usize, len: usize) -> usize {
        match self {
            Spread::Concurrent {
                cpus,
                staggered: true,
                ..
            } => (step + cpu * len / cpus.max(1)) % len.max(1),
            _ => step,
        }
    }

    /// Which of the spread's CPUs (an index into them) frame `i` runs on.
    pub fn cpu_of(self, i: usize) -> usize {
        match self {
            Spread::InTurn { cpus, each } => (i / each.max(1)) % cpus,
            Spread::Concurrent { .. } => 0,
        }
    }
}

/// What a batch of frames did, and how long the program took to decide them.
#[derive(Debug, Clone)]
pub struct Shot {
    /// One outcome per frame, in order.
    pub outcomes: Vec<Outcome>,
    /// From the first send until the program had decided every frame: an upper bound on the
    /// time the program could have seen pass between the first and the last frame.
    pub elapsed: Duration,
    /// Set when the outcomes were settled by a timeout rather than by the barrier frames
    /// (see [`crate::settle`]): says which barrier was lost.
    pub note: Option<String>,
    /// The program's own time in the kernel meanwhile, when measured: it tells a program that
    /// ran out a check's clock from a slow machine (see [`crate::budget`]).
    pub kernel: Option<KernelTime>,
    /// Set when the CPUs of a [`Spread::Concurrent`] batch in test-run mode could not be shown
    /// to have run the program at the same time (see [`cpus::overlapped`]): why. The runs
    /// happened all the same, so counts that do not add up still tell.
    pub apart: Option<String>,
}

/// A loaded program ready to receive frames in one [`Mode`].
pub trait Target {
    /// The mode this target runs in.
    fn mode(&self) -> Mode;
    /// The program under test, for its maps.
    fn program(&mut self) -> &mut LoadedProgram;
    /// Sends `frames` back to back, as fast as the target takes them, and returns one outcome
    /// per frame, in order. Frames are told apart by their tags, or by their bytes when they
    /// carry none (ARP, cut frames), so both must be unique within one call.
    fn fire(&mut self, frames: &[Vec<u8>]) -> Result<Shot>;
    /// [`Target::fire`] with the batch spread over several CPUs (see [`crate::cpus`]).
    fn fire_spread(&mut self, frames: &[Vec<u8>], spread: Spread) -> Result<Shot>;
    /// [`Target::fire`] without the timing.
    fn send(&mut self, frames: &[Vec<u8>]) -> Result<Vec<Outcome>> {
        Ok(self.fire(frames)?.outcomes)
    }
    /// Sends one frame and returns what became of it, with the bytes of a passed or returned
    /// frame. Unlike [`Target::send`] it needs no tag: whatever comes out is its outcome, so it
    /// suits frames whose payload must stay empty (bare ACKs) and frames a program rebuilds
    /// (SYN → SYN-ACK).
    fn exchange(&mut self, frame: &[u8]) -> Result<Outcome>;
    /// Counter map `map` as the check's own frames left it. On veth the barrier frames the
    /// harness sends (see [`crate::settle`]) are non-IPv4 frames a program may count; their
    /// share is taken out.
    fn counters(&mut self, map: &str) -> Result<Vec<u64>> {
        self.program().maps().counters(map)
    }
    /// The veth target, for scenarios that need the real path (bursts, real TCP).
    fn veth(&mut self) -> Option<&mut VethTarget> {
        None
    }
    /// How many barrier frames (see [`crate::settle`]) the harness has sent so far: they run
    /// the program too, which matters when its run count is compared with the frames sent.
    fn barriers_sent(&self) -> u64 {
        0
    }
    /// The address a check's source `addr` is sent from: itself, unless the harness moved the
    /// check's sources to ones the program's maps do not know yet (the check model's
    /// `flood::fresh_sources`). A check that puts a source in a map uses this.
    fn source(&self, addr: std::net::Ipv4Addr) -> std::net::Ipv4Addr {
        addr
    }
}

/// A target wrapped around another that changes part of what passes through (frames spread
/// over CPUs, sources moved, traffic recorded). A layer writes only what it changes; every other
/// [`Target`] method goes to the inner target.
pub trait Layer {
    /// The wrapped target.
    fn inner(&self) -> &dyn Target;
    /// The wrapped target, to send through.
    fn inner_mut(&mut self) -> &mut dyn Target;
    /// [`Target::fire`]; the inner target's unless the layer changes it.
    fn fire(&mut self, frames: &[Vec<u8>]) -> Result<Shot> {
        self.inner_mut().fire(frames)
    }
    /// [`Target::fire_spread`].
    fn fire_spread(&mut self, frames: &[Vec<u8>], spread: Spread) -> Result<Shot> {
        self.inner_mut().fire_spread(frames, spread)
    }
    /// [`Target::exchange`].
    fn exchange(&mut self, frame: &[u8]) -> Result<Outcome> {
        self.inner_mut().exchange(frame)
    }
    /// [`Target::source`].
    fn source(&self, addr: std::net::Ipv4Addr) -> std::net::Ipv4Addr {
        self.inner().source(addr)
    }
}

impl<L: Layer> Target for L {
    fn mode(&self) -> Mode {
        self.inner().mode()
    }
    fn program(&mut self) -> &mut LoadedProgram {
        self.inner_mut().program()
    }
    fn fire(&mut self, frames: &[Vec<u8>]) -> Result<Shot> {
        Layer::fire(self, frames)
    }
    fn fire_spread(&mut self, frames: &[Vec<u8>], spread: Spread) -> Result<Shot> {
        Layer::fire_spread(self, frames, spread)
    }
    fn exchange(&mut self, frame: &[u8]) -> Result<Outcome> {
        Layer::exchange(self, frame)
    }
    fn counters(&mut self, map: &str) -> Result<Vec<u64>> {
        self.inner_mut().counters(map)
    }
    fn veth(&mut self) -> Option<&mut VethTarget> {
        self.inner_mut().veth()
    }
    fn barriers_sent(&self) -> u64 {
        self.inner().barriers_sent()
    }
    fn source(&self, addr: std::net::Ipv4Addr) -> std::net::Ipv4Addr {
        Layer::source(self, addr)
    }
}

/// Creates a target: loads a fresh copy of `program` from `object` and, in the veth modes,
/// builds `topology` and attaches the program where the topology says.
pub fn open(
    object: &dyn ProgramSource,
    program: &str,
    mode: Mode,
    topology: &TopologySpec,
) -> Result<Box<dyn Target>> {
    let loaded = object.load(program)?;
    Ok(match mode {
        Mode::TestRun | Mode::Auto => Box::new(TestRunTarget {
            program: loaded,
            scratch: Vec::new(),
        }),
        Mode::Native => Box::new(VethTarget::new(loaded, topology, AttachMode::Native)?),
        Mode::Generic => Box::new(VethTarget::new(loaded, topology, AttachMode::Generic)?),
    })
}

/// Runs each frame through BPF_PROG_TEST_RUN.
pub struct TestRunTarget {
    program: LoadedProgram,
    /// The output buffer every run writes into (see [`LoadedProgram::test_run_in`]).
    scratch: Vec<u8>,
}

impl Target for TestRunTarget {
    fn mode(&self) -> Mode {
        Mode::TestRun
    }

    fn program(&mut self) -> &mut LoadedProgram {
        &mut self.program
    }

    fn fire(&mut self, frames: &[Vec<u8>]) -> Result<Shot> {
        // One batch, one CPU: state kept per CPU stays whole within it (as on a veth).
        let _pin = PinnedCpu::here();
        let start = Instant::now();
        let mut kernel = KernelTime::default();
        let outcomes = frames
            .iter()
            .map(|f| self.run(f, &mut kernel))
            .collect::<Result<Vec<_>>>()?;
        self.shot(outcomes, start, kernel)
    }

    fn exchange(&mut self, frame: &[u8]) -> Result<Outcome> {
        let mut kernel = KernelTime::default();
        let outcome = self.run(frame, &mut kernel)?;
        kernel.within_budget(self.program.name())?;
        Ok(outcome)
    }

    fn fire_spread(&mut self, frames: &[Vec<u8>], spread: Spread) -> Result<Shot> {
        let on = cpus::usable(spread.cpus())?;
        let start = Instant::now();
        let mut kernel = KernelTime::default();
        let mut apart = None;
        let outcomes = match spread {
            Spread::InTurn { .. } => frames
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    // BPF_PROG_TEST_RUN runs the program on the calling thread's CPU.
                    let _on = OnCpu::pin(on[spread.cpu_of(i)])?;
                    self.run(f, &mut kernel)
                })
                .collect::<Result<Vec<_>>>()?,
            Spread::Concurrent {
                test_runs: repeat, ..
            } => {
                let _installed = Dispatched::hold(&mut self.program)?;
                let program = &self.program;
                // Each frame's fastest pace alone, a run's time, on the first CPU.
                let alone = {
                    let _on = OnCpu::pin(on[0])?;
                    frames
                        .iter()
                        .map(|f| {
                            let mut fastest = Duration::MAX;
                            for _ in 0..ALONE_LOOPS {
                                let loop_runs = spread.alone_loop();
                                let (_, took) = program.test_run_shared(f, loop_runs)?;
                                fastest = fastest.min(took / loop_runs);
                            }
                            Ok(fastest)
                        })
                        .collect::<Result<Vec<Duration>>>()?
                };
                let in_vm = crate::host::in_vm();
                // Inside a VM, the first CPU's thread asks the host between frames how long each
                // vCPU really ran (see crate::vcpus).
                let asking = in_vm && crate::vcpus::offered();
                let together = cpus::SpinBarrier::new(on.len());
                let together = &together;
                let (mut verdicts, spans, time, host) = std::thread::scope(|s| {
                    let threads: Vec<_> = on
                        .iter()
                        .enumerate()
                        .map(|(c, &cpu)| {
                            let order: Vec<&[u8]> = (0..frames.len())
                                .map(|step| &frames[spread.frame_at(c, step, frames.len())][..])
                                .collect();
                            let asks = asking.then_some(c == 0);
                            s.spawn(move || {
                                let run = run_on(program, cpu, &order, repeat, (together, asks));
                                if run.is_err() {
                                    together.abandon();
                                }
                                run
                            })
                        })
                        .collect();
                    let mut verdicts = Vec::new();
                    let (mut spans, mut time, mut host) = (Vec::new(), Duration::ZERO, Vec::new());
                    for t in threads {
                        let (v, span, took, asked) =
                            t.join().expect("a test-run thread panicked")?;
                        verdicts.push(v);
                        spans.push(span);
                        time += took;
                        host.extend(asked);
                    }
                    Ok::<_, Error>((verdicts, spans, time, host))
                })?;
                // Frame by frame: the CPUs must have run each one at the same time. In a VM a
                // span is guest time, which runs on while the host has the vCPU off. What bounds
                // each vCPU's pauses: the host's account of the frame where there is one; else
                // the span less the runs at the fastest pace alone of the step's frames
                // (contention only slows runs), which errs far towards pauses when contention
                // slows runs much (two vCPUs adding to one counter: twice as slow).
                for step in 0..frames.len() {
                    let each: Vec<cpus::Span> = spans.iter().map(|s| s[step]).collect();
                    let host_paused: Option<Vec<Duration>> =
                        match (host.get(step), host.get(step + 1)) {
                            (Some(Some(before)), Some(Some(after))) => on
                                .iter()
                                .map(|&cpu| crate::vcpus::paused(before, after, cpu))
                                .collect(),
                            _ => None,
                        };
                    let paused: Vec<Duration> = host_paused.unwrap_or_else(|| {
                        let alone = (0..on.len())
                            .map(|c| alone[spread.frame_at(c, step, frames.len())])
                            .min()
                            .unwrap_or_default();
                        each.iter()
                            .map(|span| (span.1 - span.0).saturating_sub(alone * repeat))
                            .collect()
                    });
                    if let Err(why) = cpus::overlapped(&each, in_vm.then_some(&paused[..]), repeat)
                    {
                        apart.get_or_insert(why);
                    }
                }
                // Contended runs: their times include waiting for each other, so only totals.
                kernel = KernelTime {
                    runs: frames.len() as u64 * spread.runs_per_frame(Mode::TestRun),
                    time,
                    fastest: None,
                };
                verdicts
                    .swap_remove(0)
                    .into_iter()
                    .map(Outcome::bare)
                    .collect()
            }
        };
        let mut shot = self.shot(outcomes, start, kernel)?;
        shot.apart = apart;
        Ok(shot)
    }
}

/// The program attached in native mode to a veth of a throw-away pair, for as long as this
/// lives: the kernel's XDP dispatcher then holds it, and test runs with a repeat count skip the
/// dispatcher swap (they only take a reference under its mutex).
struct Dispatched {
    _topology: Topology,
}

impl Dispatched {
    fn hold(program: &mut LoadedProgram) -> Result<Self> {
        let topology = Topology::create(&TopologySpec::pair())?;
        let dut = topology.iface("dut", "eth0")?.clone();
        topology
            .ns(dut.ns)?
            .run(|| program.attach(dut.ifindex, AttachMode::Native))??;
        Ok(Self {
            _topology: topology,
        })
    }
}

/// One thread's share of a [`Spread::Concurrent`] test-run batch: every frame `repeat` times on
/// `cpu`; its verdicts, when it ran each, and the kernel's time. The threads start each frame
/// `together`, so all CPUs run the same frame (and update the same entries) at once, each in
/// the kernel's own loop (one call per frame). The caller keeps the program attached in
/// native mode meanwhile: otherwise each such call swaps it into the XDP dispatcher under a
/// mutex (about 24 ms, see [`LoadedProgram::time_run`]), which serialises the threads.
/// The host's account of the vCPUs, asked before each frame and after the last (see
/// [`crate::vcpus`]); `None` where it gave none.
type Asked = Vec<Option<crate::vcpus::Sample>>;

/// One thread of a contended batch: on `cpu`, each of `frames` run `repeat` times, all threads
/// starting each frame together. With `asks` (`Some` in every thread when the host is asked),
/// the thread given `Some(true)` asks the host before each frame and after the last while the
/// others spin at the barrier, so every vCPU stays busy. Returns the verdicts, each frame's span,
/// the kernel's time and what the host said.
fn run_on(
    program: &LoadedProgram,
    cpu: usize,
    frames: &[&[u8]],
    repeat: u32,
    (together, asks): (&cpus::SpinBarrier, Option<bool>),
) -> Result<(Vec<Verdict>, Vec<cpus::Span>, Duration, Asked)> {
    let _on = OnCpu::pin(cpu)?;
    let mut time = Duration::ZERO;
    let (mut verdicts, mut spans, mut asked) = (Vec::new(), Vec::new(), Vec::new());
    let mut ask = || -> Result<()> {
        if let Some(asker) = asks {
            together.wait()?;
            if asker {
                asked.push(crate::vcpus::sample());
            }
        }
        Ok(())
    };
    for f in frames {
        ask()?;
        together.wait()?;
        // Real-time for the kernel's loop only: spinning at that priority in the barrier would
        // spend the real-time budget other batches need (the kernel throttles past it).
        let _rt = cpus::Realtime::raise();
        let start = Instant::now();
        let (v, took) = program.test_run_shared(f, repeat)?;
        spans.push((start, Instant::now()));
        verdicts.push(v);
        time += took;
    }
    ask()?;
    Ok((verdicts, spans, time, asked))
}

impl TestRunTarget {
    /// A batch's shot, its kernel time held to the per-frame budget (its fastest run: one
    /// frame's time can include an interrupt taken mid-run).
    fn shot(&self, outcomes: Vec<Outcome>, start: Instant, kernel: KernelTime) -> Result<Shot> {
        kernel.within_budget(self.program.name())?;
        Ok(Shot {
            outcomes,
            elapsed: start.elapsed(),
            note: None,
            kernel: Some(kernel),
            apart: None,
        })
    }

    /// Runs one frame, adding the kernel's time for it to `kernel` (which the caller holds to
    /// the per-frame budget).
    fn run(&mut self, frame: &[u8], kernel: &mut KernelTime) -> Result<Outcome> {
        let (verdict, out, took) = self.program.test_run_in(frame, &mut self.scratch)?;
        let bytes = matches!(verdict, Verdict::Pass | Verdict::Tx | Verdict::Redirect)
            .then(|| out.to_vec());
        kernel.add(took);
        kernel.within_budget(self.program.name())?;
        Ok(Outcome {
            verdict,
            bytes,
            at: None,
        })
    }
}

/// One socket of a veth target: where it sits and the MAC frames from it carry.
struct Socket {
    at: String,
    mac: MacAddr,
    socket: PacketSocket,
}

/// A path outcomes arrive on: the socket that watches it, what a frame seen there means, and
/// the socket its barrier is sent from (`None`: the batch itself carries it, on the PASS path).
/// Barriers go out stage by stage: a path of stage 2 lies beyond one of stage 1 (a switch's
/// far port behind the port frames come back on), so its barrier waits until stage 1 settled.
struct Path {
    means: Verdict,
    watch: usize,
    barrier_from: Option<usize>,
    stage: u8,
}

/// Real frames over a veth topology, sent from the peer of the program's interface.
pub struct VethTarget {
    program: LoadedProgram,
    mode: AttachMode,
    /// `sockets[SENDER]` sends the frames (and sees what comes back: TX); `sockets[DUT]` sits
    /// on the program's interface (PASS); then watched interfaces and their peers.
    sockets: Vec<Socket>,
    paths: Vec<Path>,
    /// Barriers sent through the program so far, and per counter map what one adds.
    barriers: u64,
    footprints: HashMap<String, Vec<u64>>,
    next_nonce: u64,
    /// Sentinels [`VethTarget::drain_all`] took out of the captures: (nonce, socket index).
    sentinels: Vec<(u64, usize)>,
    /// The program's aborts on its interface, or why they cannot be counted here.
    aborts: std::result::Result<Exceptions, String>,
    // Held for their Drop: the peers' XDP_PASS program and the namespaces.
    _peer_pass: Option<LoadedProgram>,
    topology: Topology,
}

const SENDER: usize = 0;
const DUT: usize = 1;

/// How a batch settled: see [`VethTarget::send_and_watch`].
#[derive(Debug, Clone)]
pub struct Settled {
    /// From the first send until the program had decided every frame.
    pub elapsed: Duration,
    /// Set when a barrier was lost and a timeout settled the batch instead; says which.
    pub note: Option<String>,
    /// The program's own time in the kernel over the batch (its barrier included).
    pub kernel: KernelTime,
}

impl VethTarget {
    /// Builds `spec`, attaches `program` to `dut/eth0` in `mode` and opens the sockets.
    pub fn new(mut program: LoadedProgram, spec: &TopologySpec, mode: AttachMode) -> Result<Self> {
        host::run_stats()?;
        let topology = Topology::create(spec)?;
        let dut = topology.iface(spec.xdp.0, spec.xdp.1)?.clone();
        topology
            .ns(dut.ns)?
            .run(|| program.attach(dut.ifindex, mode))??;
        let aborts = Exceptions::open(program.prog_id()?, dut.ifindex).map_err(|e| e.to_string());
        // In native mode a veth delivers XDP_TX and XDP_REDIRECT frames only to a peer that has
        // an XDP program of its own (see shared/field-notes.md), so give every other interface
        // an XDP_PASS one.
        let peer_pass = if mode == AttachMode::Native {
            let pass =
                XdpObject::from_bytes("xdplab harness pass program", reference::harness_pass())?;
            let mut pass = pass.load(Some("xdplab_pass"))?;
            for iface in topology.ifaces().iter().filter(|i| i.ns != dut.ns) {
                topology
                    .ns(iface.ns)?
                    .run(|| pass.attach(iface.ifindex, AttachMode::Native))??;
            }
            Some(pass)
        } else {
            None
        };
        let mut sockets: Vec<Socket> = Vec::new();
        let mut open = |iface: &Iface| open_socket(&mut sockets, &topology, iface);
        let client = topology.ifaces()[dut.peer].clone();
        let sender = open(&client)?;
        let dut_socket = open(&dut)?;
        debug_assert_eq!((sender, dut_socket), (SENDER, DUT));
        let mut paths = vec![
            Path {
                means: Verdict::Pass,
                watch: DUT,
                barrier_from: None,
                stage: 0,
            },
            // The sender's socket ignores its own transmissions, so what it receives came back.
            Path {
                means: Verdict::Tx,
                watch: SENDER,
                barrier_from: Some(DUT),
                stage: 1,
            },
        ];
        for w in &spec.watch {
            let iface = topology.iface(w.ns, w.ifname)?.clone();
            let peer = topology.ifaces()[iface.peer].clone();
            let watch = open(&iface)?;
            let barrier_from = Some(open(&peer)?);
            paths.push(Path {
                means: w.means,
                watch,
                barrier_from,
                stage: 1,
            });
        }
        Ok(Self {
            program,
            mode,
            sockets,
            paths,
            barriers: 0,
            footprints: HashMap::new(),
            next_nonce: 1,
            sentinels: Vec::new(),
            aborts,
            _peer_pass: peer_pass,
            topology,
        })
    }

    /// The socket frames are sent from (on the peer of the program's interface).
    pub fn sender(&mut self) -> &mut PacketSocket {
        &mut self.sockets[SENDER].socket
    }

    /// The live topology, for checks that need addresses or namespaces.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Sets every capture's receive buffer to about `bytes`; tests use a tiny one to force an
    /// overflow.
    pub fn set_capture_buffers(&mut self, bytes: usize) -> Result<()> {
        for s in &mut self.sockets {
            s.socket
                .set_receive_buffer(bytes)
                .map_err(|e| Error::op(format!("receive buffer of the capture on {}", s.at), e))?;
        }
        Ok(())
    }

    /// Everything the watched sockets hold now: (what it means, where it was seen, the frame).
    /// The harness's barrier frames are taken out (and noted for [`VethTarget::send_and_watch`]).
    pub fn drain_all(&mut self) -> Result<Vec<(Verdict, String, Vec<u8>)>> {
        let mut seen = Vec::new();
        for p in &self.paths {
            let s = &mut self.sockets[p.watch];
            for frame in s
                .socket
                .drain()
                .map_err(Error::during(format!("reading the capture on {}", s.at)))?
            {
                match settle::sentinel_nonce(&frame) {
                    Some(nonce) => self.sentinels.push((nonce, p.watch)),
                    None => seen.push((p.means, s.at.clone(), frame)),
                }
            }
        }
        Ok(seen)
    }

    fn nonce(&mut self) -> u64 {
        self.next_nonce += 1;
        self.next_nonce
    }

    fn wait_for_frames(&self) -> Result<()> {
        let all: Vec<&PacketSocket> = self.sockets.iter().map(|s| &s.socket).collect();
        PacketSocket::wait_any(&all, settle::POLL_SLICE)
            .map_err(Error::during("waiting on the captures"))?;
        Ok(())
    }

    /// Sends `frames` back to back from the program's peer, then the barriers (see
    /// [`crate::settle`]), calling `poll` whenever frames may have arrived; `poll` collects them
    /// (through [`VethTarget::drain_all`] or its own sockets). Returns once every barrier is
    /// back: then every frame has been decided and every outcome on the observed paths has
    /// arrived. Only when a barrier is lost does a timeout settle the batch
    /// ([`settle::SENTINEL_GRACE`] after the program ran on every frame), and the result says so. The one wait-until-run
    /// mechanism of the veth modes: [`Target::fire`], [`Target::exchange`] and deliveries
    /// observe through it. Captures that lost frames make it fail (an environment fault).
    pub fn send_and_watch(
        &mut self,
        frames: &[Vec<u8>],
        poll: &mut dyn FnMut(&mut Self) -> Result<()>,
    ) -> Result<Settled> {
        self.watch_batch(frames, None, poll)
    }

    /// [`VethTarget::send_and_watch`], the frames sent from each of `cpus` at once as the
    /// [`Spread::Concurrent`] `spread` says (one sender thread pinned to each CPU, each sending
    /// the frames `sends` times over in its order), each thread's frames followed by its own
    /// barrier, and the paths' barriers sent from every one of those CPUs: each CPU's queue is
    /// a FIFO of its own (see [`crate::settle`]).
    pub fn send_spread_and_watch(
        &mut self,
        frames: &[Vec<u8>],
        cpus: &[usize],
        spread: Spread,
        poll: &mut dyn FnMut(&mut Self) -> Result<()>,
    ) -> Result<(Settled, Vec<cpus::Span>)> {
        let mut spans = Vec::new();
        let settled = self.watch_batch(frames, Some((cpus, spread, &mut spans)), poll)?;
        Ok((settled, spans))
    }

    fn watch_batch(
        &mut self,
        frames: &[Vec<u8>],
        mut spread: Option<(&[usize], Spread, &mut Vec<cpus::Span>)>,
        poll: &mut dyn FnMut(&mut Self) -> Result<()>,
    ) -> Result<Settled> {
        let _pin = PinnedCpu::here();
        self.drain_all()?;
        self.sentinels.clear();
        for s in &mut self.sockets {
            s.socket.take_stats().map_err(Error::during(format!(
                "reading the drop count of the capture on {}",
                s.at
            )))?;
        }
        let kernel_before = self.program.kernel_time()?;
        let (src, dst) = (self.sockets[SENDER].mac, self.sockets[DUT].mac);
        let start = Instant::now();
        // Each sender's barrier, and how many runs the batch makes (barriers included).
        let (nonces, runs) = match &mut spread {
            None => {
                let nonce = self.nonce();
                for chunk in frames.chunks(settle::SEND_CHUNK) {
                    self.sockets[SENDER]
                        .socket
                        .send_burst(chunk)
                        .map_err(|e| Error::op("sending a burst", e))?;
                    poll(self)?;
                }
                self.send_barrier(SENDER, &settle::sentinel(src, dst, nonce))?;
                (vec![nonce], frames.len() as u64 + 1)
            }
            Some((cpus, spread, _)) => {
                let nonces: Vec<u64> = cpus.iter().map(|_| self.nonce()).collect();
                let repeat = u64::from(spread.repeat(Mode::Native));
                let runs = (frames.len() as u64 * repeat + 1) * cpus.len() as u64;
                (nonces, runs)
            }
        };
        self.barriers += nonces.len() as u64;
        let waited = match &mut spread {
            None => self.wait_decided(&nonces, runs, kernel_before, start, poll),
            Some((cpus, spread, spans)) => {
                let senders = self.extra_senders(cpus.len())?;
                let together = cpus::SpinBarrier::new(cpus.len());
                let together = &together;
                std::thread::scope(|s| {
                    let threads: Vec<_> = senders
                        .into_iter()
                        .zip(cpus.iter().zip(&nonces))
                        .enumerate()
                        .map(|(c, (socket, (&cpu, &nonce)))| {
                            let barrier = settle::sentinel(src, dst, nonce);
                            let repeat = spread.repeat(Mode::Native);
                            let order: Vec<Vec<u8>> = (0..frames.len())
                                .map(|step| frames[spread.frame_at(c, step, frames.len())].clone())
                                .collect();
                            s.spawn(move || {
                                let sent =
                                    send_from(socket, cpu, &order, repeat, &barrier, together);
                                if sent.is_err() {
                                    together.abandon();
                                }
                                sent
                            })
                        })
                        .collect();
                    let waited = self.wait_decided(&nonces, runs, kernel_before, start, poll);
                    for t in threads {
                        spans.push(t.join().expect("a sender thread panicked")?);
                    }
                    waited
                })
            }
        };
        let (elapsed, mut note) = waited?;
        // The program has decided everything; now the paths that frames leave on, stage by
        // stage, from every CPU frames were sent from.
        let from_cpus: Vec<Option<usize>> = match &spread {
            None => vec![None],
            Some((cpus, ..)) => cpus.iter().copied().map(Some).collect(),
        };
        for stage in [1, 2] {
            let mut pending = Vec::new();
            for cpu in &from_cpus {
                let _on = cpu.map(OnCpu::pin).transpose()?;
                for p in 0..self.paths.len() {
                    let (Some(from), true) =
                        (self.paths[p].barrier_from, self.paths[p].stage == stage)
                    else {
                        continue;
                    };
                    let nonce = self.nonce();
                    let watch = self.paths[p].watch;
                    let frame =
                        settle::sentinel(self.sockets[from].mac, self.sockets[watch].mac, nonce);
                    self.send_barrier(from, &frame)?;
                    pending.push((nonce, watch));
                }
            }
            let sent_at = Instant::now();
            loop {
                poll(self)?;
                pending.retain(|p| !self.sentinels.contains(p));
                if pending.is_empty() {
                    break;
                }
                if sent_at.elapsed() > settle::PATH_DEADLINE {
                    let lost: Vec<&str> = pending
                        .iter()
                        .map(|(_, s)| self.sockets[*s].at.as_str())
                        .collect();
                    note.get_or_insert(format!(
                        "(settled by a {:?} timeout: the barrier frame did not arrive at {})",
                        settle::PATH_DEADLINE,
                        lost.join(", ")
                    ));
                    break;
                }
                self.wait_for_frames()?;
            }
        }
        let kernel = self.program.kernel_time()?.since(kernel_before);
        kernel.within_budget(self.program.name())?;
        self.check_captures()?;
        Ok(Settled {
            elapsed,
            note,
            kernel,
        })
    }

    /// Waits until every barrier in `nonces` is back on the PASS path (the program decided
    /// everything before it), or else until the program made its `runs` and a grace passed.
    /// Returns the time from `start` and, for a timeout, the note that says so.
    fn wait_decided(
        &mut self,
        nonces: &[u64],
        runs: u64,
        kernel_before: KernelTime,
        start: Instant,
        poll: &mut dyn FnMut(&mut Self) -> Result<()>,
    ) -> Result<(Duration, Option<String>)> {
        let mut ran_all_at: Option<Instant> = None;
        loop {
            poll(self)?;
            if nonces.iter().all(|n| self.sentinels.contains(&(*n, DUT))) {
                return Ok((start.elapsed(), None));
            }
            let ran = self.program.run_count()? - kernel_before.runs;
            match ran_all_at {
                None if ran >= runs => ran_all_at = Some(Instant::now()),
                None if start.elapsed() > settle::RUN_DEADLINE => {
                    let kernel = self.program.kernel_time()?.since(kernel_before);
                    let e = Error::env(format!(
                        "the program ran on {ran} of {runs} frames within {:?}",
                        settle::RUN_DEADLINE
                    ));
                    return Err(kernel.blame(
                        self.program.name(),
                        |t| t <= settle::RUN_DEADLINE,
                        e,
                    ));
                }
                Some(at) if at.elapsed() > settle::SENTINEL_GRACE => {
                    let note = format!(
                        "(settled by a {:?} timeout: the program did not pass the non-IPv4 \
                         barrier frame)",
                        settle::SENTINEL_GRACE
                    );
                    return Ok((at - start, Some(note)));
                }
                _ => {}
            }
            self.wait_for_frames()?;
        }
    }

    /// `n` more sockets on the sender's interface, one per sender thread. They are never read:
    /// what comes back is seen by the sender's own capture.
    fn extra_senders(&self, n: usize) -> Result<Vec<PacketSocket>> {
        let client = self
            .topology
            .ifaces()
            .iter()
            .find(|i| at(i.ns, i.ifname) == self.sockets[SENDER].at)
            .expect("the sender's interface")
            .clone();
        (0..n)
            .map(|_| {
                self.topology
                    .ns(client.ns)?
                    .run(|| PacketSocket::open(client.ifindex))?
                    .map_err(|e| Error::op(format!("packet socket in {}", client.ns), e))
            })
            .collect()
    }

    /// [`VethTarget::send_and_watch`], also watching the interfaces `beyond` (namespace role,
    /// name) for this batch: interfaces frames reach only after leaving through a watched path,
    /// such as a switch's ports to the backends. Frames seen there come out of
    /// [`VethTarget::drain_all`] as TX; each gets its barrier from its veth peer once the paths
    /// before it have settled.
    pub fn send_and_watch_beyond(
        &mut self,
        frames: &[Vec<u8>],
        beyond: &[(&str, &str)],
        poll: &mut dyn FnMut(&mut Self) -> Result<()>,
    ) -> Result<Settled> {
        let (sockets, paths) = (self.sockets.len(), self.paths.len());
        let mut run = || {
            for (ns, ifname) in beyond {
                let iface = self.topology.iface(ns, ifname)?.clone();
                let watch = open_socket(&mut self.sockets, &self.topology, &iface)?;
                if self.paths.iter().any(|p| p.watch == watch) {
                    continue;
                }
                let peer = self.topology.ifaces()[iface.peer].clone();
                let from = open_socket(&mut self.sockets, &self.topology, &peer)?;
                self.paths.push(Path {
                    means: Verdict::Tx,
                    watch,
                    barrier_from: Some(from),
                    stage: 2,
                });
            }
            self.send_and_watch(frames, poll)
        };
        let settled = run();
        self.paths.truncate(paths);
        self.sockets.truncate(sockets);
        settled
    }

    /// Runs `f` on the program from a thread inside the namespace it is attached in (a
    /// DEVMAP resolves ifindexes in the updater's namespace).
    pub fn in_program_namespace<T: Send>(
        &mut self,
        f: impl FnOnce(&mut LoadedProgram) -> T + Send,
    ) -> Result<T> {
        let program = &mut self.program;
        self.topology.ns("dut")?.run(|| f(program))
    }

    fn send_barrier(&mut self, from: usize, frame: &[u8]) -> Result<()> {
        self.sockets[from]
            .socket
            .send(frame)
            .map_err(|e| Error::op("sending a barrier frame", e))
    }

    /// Sends `frames` and matches what came out to them by tag or bytes (with `any`, the first
    /// frame that comes out is the only frame's outcome).
    fn outcomes(&mut self, frames: &[Vec<u8>], any: bool) -> Result<Shot> {
        self.outcomes_from(frames, any, None)
    }

    /// [`VethTarget::outcomes`], sent from each of the given CPUs at once as the given
    /// [`Spread::Concurrent`] says (an outcome is the first copy's seen).
    fn outcomes_from(
        &mut self,
        frames: &[Vec<u8>],
        any: bool,
        spread: Option<(&[usize], Spread)>,
    ) -> Result<Shot> {
        let tags: Vec<_> = frames.iter().map(|f| find_tag(f)).collect();
        let aborts_before = self.aborts()?;
        let mut outcomes: Vec<Option<Outcome>> = vec![None; frames.len()];
        let mut poll = |vt: &mut Self| {
            for (verdict, at, bytes) in vt.drain_all()? {
                let tag = find_tag(&bytes);
                let slot = (0..frames.len()).find(|&i| {
                    outcomes[i].is_none()
                        && (any
                            || match tag {
                                Some(t) => tags[i] == Some(t),
                                None => tags[i].is_none() && frames[i] == bytes,
                            })
                });
                // Anything unmatched is background traffic, not an outcome of ours.
                if let Some(i) = slot {
                    outcomes[i] = Some(Outcome {
                        verdict,
                        bytes: Some(bytes),
                        at: Some(at),
                    });
                }
            }
            Ok(())
        };
        let settled = match spread {
            None => self.send_and_watch(frames, &mut poll)?,
            Some((cpus, spread)) => {
                // Not held to overlapping (as test runs are): on a veth, frames from several
                // CPUs check that the counts add up, and lost updates are rare there anyway.
                let (settled, _spans) =
                    self.send_spread_and_watch(frames, cpus, spread, &mut poll)?;
                settled
            }
        };
        // The program ran on these frames and nothing came out anywhere: dropped, or aborted
        // as the tracepoint counted (see [`crate::exception`]).
        let aborted = match (aborts_before, self.aborts()?) {
            (Some(before), Some(after)) => Some(after - before),
            _ => None,
        };
        let unseen = outcomes.iter().filter(|o| o.is_none()).count();
        let (outcomes, aborts_note) = vanished(outcomes, aborted);
        let note = match (settled.note, aborts_note) {
            (Some(a), Some(b)) => Some(format!("{a}\n{b}")),
            (a, b) => a.or(b),
        };
        let note = match (&self.aborts, unseen) {
            (Err(why), 1..) => Some(
                note.map(|n| n + "\n").unwrap_or_default()
                    + &format!("(ABORTED cannot be told from DROP on this machine: {why})"),
            ),
            _ => note,
        };
        Ok(Shot {
            outcomes,
            elapsed: settled.elapsed,
            note,
            kernel: Some(settled.kernel),
            apart: None,
        })
    }

    /// The program's aborts counted so far, when they can be counted here.
    fn aborts(&self) -> Result<Option<u64>> {
        self.aborts.as_ref().ok().map(Exceptions::count).transpose()
    }

    /// Fails when a capture lost frames: a frame the kernel could not queue would otherwise
    /// read as dropped by the program.
    fn check_captures(&mut self) -> Result<()> {
        for s in &mut self.sockets {
            let stats = s.socket.take_stats().map_err(Error::during(format!(
                "reading the drop count of the capture on {}",
                s.at
            )))?;
            if stats.dropped > 0 {
                return Err(Error::env(format!(
                    "the capture on {} lost {} frames (its receive buffer was full), so what \
                     happened to them is unknown; this is the machine, not the program: free \
                     memory or CPU (or raise net.core.rmem_max) and run again",
                    s.at, stats.dropped
                )));
            }
        }
        Ok(())
    }
}

impl VethTarget {
    /// What one barrier adds to counter map `map`: a non-IPv4 frame's share of the counters,
    /// the same for every barrier under a contract that passes them. A program the student
    /// attached to an interface of their own may run on that traffic meanwhile, which would
    /// count into the measurement: then it is repeated until the program ran on the barrier
    /// alone.
    fn barrier_footprint(&mut self, map: &str) -> Result<Vec<u64>> {
        const TRIES: usize = 50;
        for _ in 0..TRIES {
            let adopted = self.program.adopted();
            let runs = if adopted {
                Some(self.program.run_count()?)
            } else {
                None
            };
            let before = self.program.maps().counters(map)?;
            self.send_and_watch(&[], &mut |vt| vt.drain_all().map(drop))?;
            let after = self.program.maps().counters(map)?;
            let alone = match runs {
                Some(runs) => self.program.run_count()? == runs + 1,
                None => true,
            };
            if alone {
                return Ok(crate::maps::deltas(&before, &after));
            }
        }
        Err(Error::env(format!(
            "could not measure what a barrier frame adds to `{map}`: in {TRIES} tries the \
             program always also ran on other traffic (an interface it is attached to)"
        )))
    }
}

impl Target for VethTarget {
    fn mode(&self) -> Mode {
        match self.mode {
            AttachMode::Native => Mode::Native,
            AttachMode::Generic => Mode::Generic,
        }
    }

    fn program(&mut self) -> &mut LoadedProgram {
        &mut self.program
    }

    fn veth(&mut self) -> Option<&mut VethTarget> {
        Some(self)
    }

    fn barriers_sent(&self) -> u64 {
        self.barriers
    }

    fn fire(&mut self, frames: &[Vec<u8>]) -> Result<Shot> {
        self.outcomes(frames, false)
    }

    fn exchange(&mut self, frame: &[u8]) -> Result<Outcome> {
        let mut shot = self.outcomes(&[frame.to_vec()], true)?;
        Ok(shot.outcomes.remove(0))
    }

    fn fire_spread(&mut self, frames: &[Vec<u8>], spread: Spread) -> Result<Shot> {
        let on = cpus::usable(spread.cpus())?;
        match spread {
            Spread::InTurn { .. } => {
                let start = Instant::now();
                let (mut outcomes, mut notes) = (Vec::new(), Vec::new());
                let mut kernel = KernelTime::default();
                for (i, frame) in frames.iter().enumerate() {
                    // Sent from this CPU, the frame is run there too: a veth queues it to the
                    // sending CPU's backlog (generic) or schedules its NAPI there (native).
                    let _on = OnCpu::pin(on[spread.cpu_of(i)])?;
                    let shot = self.outcomes(std::slice::from_ref(frame), false)?;
                    outcomes.extend(shot.outcomes);
                    notes.extend(shot.note);
                    let k = shot.kernel.unwrap_or_default();
                    kernel.runs += k.runs;
                    kernel.time += k.time;
                }
                notes.dedup();
                Ok(Shot {
                    outcomes,
                    elapsed: start.elapsed(),
                    note: (!notes.is_empty()).then(|| notes.join("\n")),
                    kernel: Some(kernel),
                    apart: None,
                })
            }
            Spread::Concurrent { .. } => self.outcomes_from(frames, false, Some((&on, spread))),
        }
    }

    fn counters(&mut self, map: &str) -> Result<Vec<u64>> {
        if !self.footprints.contains_key(map) {
            let footprint = self.barrier_footprint(map)?;
            self.footprints.insert(map.to_owned(), footprint);
        }
        let raw = self.program.maps().counters(map)?;
        let footprint = &self.footprints[map];
        Ok(raw
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let per = footprint.get(i).copied().unwrap_or(0);
                v.wrapping_sub(per.wrapping_mul(self.barriers))
            })
            .collect())
    }
}

/// One sender thread of a spread batch: on `cpu`, `frames` sent `repeat` times over, then
/// `barrier`; returns when it started and finished.
fn send_from(
    mut socket: PacketSocket,
    cpu: usize,
    frames: &[Vec<u8>],
    repeat: u32,
    barrier: &[u8],
    together: &cpus::SpinBarrier,
) -> Result<cpus::Span> {
    let _on = OnCpu::pin(cpu)?;
    together.wait()?;
    let start = Instant::now();
    for _ in 0..repeat {
        for chunk in frames.chunks(settle::SEND_CHUNK) {
            socket
                .send_burst(chunk)
                .map_err(|e| Error::op("sending a burst", e))?;
        }
    }
    socket
        .send(barrier)
        .map_err(|e| Error::op("sending a barrier frame", e))?;
    Ok((start, Instant::now()))
}

/// The outcomes of a batch with the frames that came out nowhere filled in: `aborted` of them
/// (as the tracepoint counted; `None` where it cannot) were ABORTED, the rest dropped. Which ones
/// a veth cannot say: when only some vanished frames were aborted, the first are shown so and
/// the returned note says it. (The count may include the batch's barrier, if the program
/// aborted that too: it is capped at the frames that vanished.)
fn vanished(
    outcomes: Vec<Option<Outcome>>,
    aborted: Option<u64>,
) -> (Vec<Outcome>, Option<String>) {
    let unseen = outcomes.iter().filter(|o| o.is_none()).count() as u64;
    let mut left = aborted.unwrap_or(0).min(unseen);
    let note = (left > 0 && left < unseen).then(|| {
        format!(
            "({left} of the {unseen} frames that came out nowhere were ABORTED, the others \
             DROPPED; a veth cannot tell which: the first {left} are shown as ABORTED)"
        )
    });
    let outcomes = outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                if left > 0 {
                    left -= 1;
                    Outcome::bare(Verdict::Aborted)
                } else {
                    Outcome::bare(Verdict::Drop)
                }
            })
        })
        .collect();
    (outcomes, note)
}

fn at(ns: &str, ifname: &str) -> String {
    format!("{ns}/{ifname}")
}

/// The index of the capture on `iface` in `sockets`, opening it if there is none yet.
fn open_socket(sockets: &mut Vec<Socket>, topology: &Topology, iface: &Iface) -> Result<usize> {
    if let Some(i) = sockets
        .iter()
        .position(|s| s.at == at(iface.ns, iface.ifname))
    {
        return Ok(i);
    }
    let socket = topology
        .ns(iface.ns)?
        .run(|| PacketSocket::open(iface.ifindex))?
        .map_err(|e| Error::op(format!("packet socket in {}", iface.ns), e))?;
    sockets.push(Socket {
        at: at(iface.ns, iface.ifname),
        mac: iface.mac,
        socket,
    });
    Ok(sockets.len() - 1)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use traffic::{FrameBuilder, Tag};

    use super::*;
    use crate::{
        error::FailureClass,
        topology::{CLIENT_MAC, DUT_MAC},
    };

    /// A veth target in `mode` running a program that returns `verdict` for every IPv4 frame
    /// (and, with `DROP_ALL` among `more`, drops every other frame).
    fn target(verdict: &str, mode: Mode, more: &[&str]) -> Box<dyn Target> {
        let dir = std::env::temp_dir().join(format!("xdplab-target-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/testdata/verdict.c");
        let define = format!("VERDICT={verdict}");
        let defines: Vec<&str> = std::iter::once(define.as_str())
            .chain(more.iter().copied())
            .collect();
        let path = crate::clang::compile(&source, &defines, &dir).expect("clang");
        let object = XdpObject::from_path(path).expect("object");
        open(&object, "verdict", mode, &TopologySpec::pair()).expect("target")
    }

    fn frames(n: u16) -> Vec<Vec<u8>> {
        (1..=n)
            .map(|i| {
                FrameBuilder::ethernet(CLIENT_MAC, DUT_MAC)
                    .ipv4("10.0.0.2".parse().unwrap(), "10.0.0.9".parse().unwrap())
                    .udp(40000, 9)
                    .payload(b"xdplab")
                    .tag(Tag(i))
                    .build()
            })
            .collect()
    }

    /// Every frame gets `verdict`, settled by the barriers (no timeout note), in both modes.
    fn settles(program: &str, verdict: Verdict) {
        for mode in [Mode::Native, Mode::Generic] {
            let mut t = target(program, mode, &[]);
            for _ in 0..3 {
                let shot = t.fire(&frames(300)).expect("fire");
                assert_eq!(shot.note, None, "{mode}");
                assert!(
                    shot.outcomes.iter().all(|o| o.verdict == verdict),
                    "{mode}: {:?}",
                    shot.outcomes.iter().map(|o| o.verdict).collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn a_staggered_batch_keeps_each_cpu_on_its_own_half() {
        let spread = |staggered| Spread::Concurrent {
            cpus: 2,
            test_runs: 1,
            sends: 1,
            staggered,
        };
        let order = |s: Spread, cpu| -> Vec<usize> {
            (0..6).map(|step| s.frame_at(cpu, step, 6)).collect()
        };
        let (apart, together) = (spread(true), spread(false));
        // Every CPU runs every frame once; at each step, a frame and its twin three on.
        assert_eq!(order(apart, 0), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(order(apart, 1), vec![3, 4, 5, 0, 1, 2]);
        assert_eq!(order(together, 1), vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn barriers_settle_passed_frames() {
        settles("XDP_PASS", Verdict::Pass);
    }

    #[test]
    fn barriers_settle_returned_frames() {
        settles("XDP_TX", Verdict::Tx);
    }

    #[test]
    fn a_lost_barrier_settles_by_timeout_and_says_so() {
        let mut t = target("XDP_DROP", Mode::Native, &["DROP_ALL"]);
        let shot = t.fire(&frames(10)).expect("fire");
        assert!(shot.outcomes.iter().all(|o| o.verdict == Verdict::Drop));
        let note = shot.note.expect("a note");
        assert!(note.contains("barrier"), "{note}");
    }

    #[test]
    fn a_capture_overflow_is_an_environment_fault_not_drops() {
        let mut t = target("XDP_PASS", Mode::Native, &[]);
        t.veth()
            .expect("veth")
            .set_capture_buffers(1)
            .expect("tiny buffers");
        let err = t.fire(&frames(2000)).expect_err("the capture overflows");
        assert_eq!(err.class(), FailureClass::Environment);
        assert!(err.to_string().contains("lost"), "{err}");
    }
}
