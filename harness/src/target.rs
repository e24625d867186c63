//! Where checks send their frames: a veth topology (native or generic XDP) or the kernel's
//! BPF_PROG_TEST_RUN. Both answer the same question: what happened to each frame?

use std::{
    fmt,
    os::fd::OwnedFd,
    sync::OnceLock,
    time::{Duration, Instant},
};

use traffic::{PacketSocket, find_tag};

use crate::{
    error::{Error, Result},
    object::{AttachMode, LoadedProgram, ProgramSource, XdpObject},
    topology::{Topology, TopologySpec},
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

/// What a batch of frames did, and how long the program took to decide them.
#[derive(Debug, Clone)]
pub struct Shot {
    /// One outcome per frame, in order.
    pub outcomes: Vec<Outcome>,
    /// From the first send until the program had decided every frame: an upper bound on the
    /// time the program could have seen pass between the first and the last frame.
    pub elapsed: Duration,
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
    /// [`Target::fire`] without the timing.
    fn send(&mut self, frames: &[Vec<u8>]) -> Result<Vec<Outcome>> {
        Ok(self.fire(frames)?.outcomes)
    }
    /// Sends one frame and returns what became of it, with the bytes of a passed or returned
    /// frame. Unlike [`Target::send`] it needs no tag: whatever comes out is its outcome, so it
    /// suits frames whose payload must stay empty (bare ACKs) and frames a program rebuilds
    /// (SYN → SYN-ACK).
    fn exchange(&mut self, frame: &[u8]) -> Result<Outcome>;
    /// The veth target, for scenarios that need the real path (bursts, real TCP).
    fn veth(&mut self) -> Option<&mut VethTarget> {
        None
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
        Mode::TestRun | Mode::Auto => Box::new(TestRunTarget { program: loaded }),
        Mode::Native => Box::new(VethTarget::new(loaded, topology, AttachMode::Native)?),
        Mode::Generic => Box::new(VethTarget::new(loaded, topology, AttachMode::Generic)?),
    })
}

/// Runs each frame through BPF_PROG_TEST_RUN.
pub struct TestRunTarget {
    program: LoadedProgram,
}

impl Target for TestRunTarget {
    fn mode(&self) -> Mode {
        Mode::TestRun
    }

    fn program(&mut self) -> &mut LoadedProgram {
        &mut self.program
    }

    fn fire(&mut self, frames: &[Vec<u8>]) -> Result<Shot> {
        let start = Instant::now();
        let outcomes = frames
            .iter()
            .map(|f| self.exchange(f))
            .collect::<Result<Vec<_>>>()?;
        Ok(Shot {
            outcomes,
            elapsed: start.elapsed(),
        })
    }

    fn exchange(&mut self, frame: &[u8]) -> Result<Outcome> {
        let (verdict, out) = self.program.test_run(frame)?;
        let bytes =
            matches!(verdict, Verdict::Pass | Verdict::Tx | Verdict::Redirect).then_some(out);
        Ok(Outcome {
            verdict,
            bytes,
            at: None,
        })
    }
}

/// Keeps the kernel's per-program run statistics on for the life of the process; the run count
/// is how the veth target knows the program has seen every frame.
fn run_stats() -> Result<()> {
    static STATS: OnceLock<std::result::Result<OwnedFd, String>> = OnceLock::new();
    STATS
        .get_or_init(|| aya::sys::enable_stats(aya::sys::Stats::RunTime).map_err(|e| e.to_string()))
        .as_ref()
        .map(|_| ())
        .map_err(|e| Error::env(format!("cannot enable BPF run statistics: {e}")))
}

/// How long to keep watching after the program has run on every frame: frames it passed or
/// sent back are delivered in the same softirq, so this only covers scheduling jitter.
const GRACE: Duration = Duration::from_millis(30);
/// How long the program may take to see a batch before the environment is blamed.
const RUN_DEADLINE: Duration = Duration::from_secs(10);
/// How long [`Target::exchange`] waits for a single frame's outcome before calling it dropped.
/// A frame sent back in generic mode crosses a second receive queue, which a loaded machine
/// may defer to ksoftirqd; single exchanges are few, so waiting longer is cheap.
const EXCHANGE_GRACE: Duration = Duration::from_millis(100);

/// Real frames over a veth topology, sent from the peer of the program's interface.
pub struct VethTarget {
    program: LoadedProgram,
    mode: AttachMode,
    sender: PacketSocket,
    sender_at: String,
    /// Where outcomes show up: the XDP interface (PASS) and the watched interfaces.
    observers: Vec<(Verdict, String, PacketSocket)>,
    // Held for their Drop: the peers' XDP_PASS program and the namespaces.
    _peer_pass: Option<LoadedProgram>,
    topology: Topology,
}

impl VethTarget {
    /// Builds `spec`, attaches `program` to `dut/eth0` in `mode` and opens the sockets.
    pub fn new(mut program: LoadedProgram, spec: &TopologySpec, mode: AttachMode) -> Result<Self> {
        run_stats()?;
        let topology = Topology::create(spec)?;
        let dut = topology.iface("dut", "eth0")?.clone();
        let client = topology.ifaces()[dut.peer].clone();
        topology
            .ns("dut")?
            .run(|| program.attach(dut.ifindex, mode))??;
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
        let open = |ns: &str, ifindex: u32| -> Result<PacketSocket> {
            topology
                .ns(ns)?
                .run(|| PacketSocket::open(ifindex))?
                .map_err(|e| Error::env(format!("packet socket in {ns}: {e}")))
        };
        let sender = open(client.ns, client.ifindex)?;
        let mut observers = vec![(
            Verdict::Pass,
            at(dut.ns, dut.ifname),
            open(dut.ns, dut.ifindex)?,
        )];
        for w in &spec.watch {
            let iface = topology.iface(w.ns, w.ifname)?;
            observers.push((w.means, at(w.ns, w.ifname), open(w.ns, iface.ifindex)?));
        }
        Ok(Self {
            program,
            mode,
            sender,
            sender_at: at(client.ns, client.ifname),
            observers,
            _peer_pass: peer_pass,
            topology,
        })
    }

    /// The socket frames are sent from (on the peer of the program's interface); scenarios use
    /// it for bursts.
    pub fn sender(&mut self) -> &mut PacketSocket {
        &mut self.sender
    }

    /// The live topology, for checks that need addresses or namespaces.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Everything the sockets hold now: (what it means, where it was seen, the frame).
    pub fn drain_all(&mut self) -> Result<Vec<(Verdict, String, Vec<u8>)>> {
        let mut seen = Vec::new();
        for (verdict, at, socket) in &mut self.observers {
            for frame in socket.drain().map_err(Error::env)? {
                seen.push((*verdict, at.clone(), frame));
            }
        }
        // The sender's socket ignores its own transmissions, so what it receives came back.
        for frame in self.sender.drain().map_err(Error::env)? {
            seen.push((Verdict::Tx, self.sender_at.clone(), frame));
        }
        Ok(seen)
    }
}

impl VethTarget {
    /// Sends `frames` back to back from the program's peer, then calls `poll` (which collects
    /// what arrived and says whether everything it waits for is in) until the program has run
    /// on every frame and either `poll` is satisfied or [`GRACE`] has passed. Returns the time
    /// from the first send until the program had run on every frame. The one wait-until-run
    /// mechanism of the veth modes: [`Target::fire`] and deliveries observe through it.
    pub fn send_and_watch(
        &mut self,
        frames: &[Vec<u8>],
        poll: &mut dyn FnMut(&mut Self) -> Result<bool>,
    ) -> Result<Duration> {
        let before = self.program.run_count()?;
        let start = Instant::now();
        self.sender
            .send_burst(frames)
            .map_err(|e| Error::env(format!("sending a burst: {e}")))?;
        let mut ran_all_at: Option<Instant> = None;
        let mut elapsed = Duration::ZERO;
        loop {
            let all_in = poll(self)?;
            match ran_all_at {
                None => {
                    let ran = self.program.run_count()? - before;
                    if ran >= frames.len() as u64 {
                        elapsed = start.elapsed();
                        ran_all_at = Some(Instant::now());
                    } else if start.elapsed() > RUN_DEADLINE {
                        return Err(Error::env(format!(
                            "the program ran on {ran} of {} frames within {RUN_DEADLINE:?}",
                            frames.len()
                        )));
                    }
                }
                Some(_) if all_in => return Ok(elapsed),
                Some(at) if at.elapsed() > GRACE => return Ok(elapsed),
                Some(_) => {}
            }
            std::thread::sleep(Duration::from_micros(200));
        }
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

    fn fire(&mut self, frames: &[Vec<u8>]) -> Result<Shot> {
        self.drain_all()?;
        let mut outcomes: Vec<Option<Outcome>> = vec![None; frames.len()];
        let tags: Vec<_> = frames.iter().map(|f| find_tag(f)).collect();
        let elapsed = self.send_and_watch(frames, &mut |vt| {
            for (verdict, at, bytes) in vt.drain_all()? {
                let tag = find_tag(&bytes);
                let slot = (0..frames.len()).find(|&i| {
                    outcomes[i].is_none()
                        && match tag {
                            Some(t) => tags[i] == Some(t),
                            None => tags[i].is_none() && frames[i] == bytes,
                        }
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
            Ok(outcomes.iter().all(Option::is_some))
        })?;
        // The program ran on these frames and nothing came out anywhere: dropped. (ABORTED looks
        // the same on a veth; test-run mode tells them apart.)
        let outcomes = outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::bare(Verdict::Drop)))
            .collect();
        Ok(Shot { outcomes, elapsed })
    }

    fn exchange(&mut self, frame: &[u8]) -> Result<Outcome> {
        self.drain_all()?;
        let runs = self.program.run_count()?;
        let start = Instant::now();
        self.sender
            .send(frame)
            .map_err(|e| Error::env(format!("sending a frame: {e}")))?;
        let mut ran_at = None;
        loop {
            // Only the frame under test travels, so whatever shows up is its outcome.
            if let Some((verdict, at, bytes)) = self.drain_all()?.into_iter().next() {
                return Ok(Outcome {
                    verdict,
                    bytes: Some(bytes),
                    at: Some(at),
                });
            }
            match ran_at {
                None if self.program.run_count()? > runs => ran_at = Some(Instant::now()),
                None if start.elapsed() > RUN_DEADLINE => {
                    return Err(Error::env(format!(
                        "the program did not run on a frame within {RUN_DEADLINE:?}"
                    )));
                }
                Some(at) if at.elapsed() > EXCHANGE_GRACE => {
                    return Ok(Outcome::bare(Verdict::Drop));
                }
                _ => {}
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

fn at(ns: &str, ifname: &str) -> String {
    format!("{ns}/{ifname}")
}
