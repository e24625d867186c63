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

/// A loaded program ready to receive frames in one [`Mode`].
pub trait Target {
    /// The mode this target runs in.
    fn mode(&self) -> Mode;
    /// The program under test, for its maps.
    fn program(&mut self) -> &mut LoadedProgram;
    /// Sends `frames` in order and returns one outcome per frame, in the same order.
    fn send(&mut self, frames: &[Vec<u8>]) -> Result<Vec<Outcome>>;
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

    fn send(&mut self, frames: &[Vec<u8>]) -> Result<Vec<Outcome>> {
        frames
            .iter()
            .map(|f| {
                let (verdict, out) = self.program.test_run(f)?;
                let bytes = matches!(verdict, Verdict::Pass | Verdict::Tx | Verdict::Redirect)
                    .then_some(out);
                Ok(Outcome {
                    verdict,
                    bytes,
                    at: None,
                })
            })
            .collect()
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
const RUN_DEADLINE: Duration = Duration::from_secs(5);

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
    /// Sends `frames` from the program's peer, then calls `poll` until it says everything it
    /// waits for is in, or until the program has run on every frame and [`GRACE`] has passed:
    /// the one wait-until-run mechanism of the veth modes.
    pub fn send_and_watch(
        &mut self,
        frames: &[Vec<u8>],
        poll: &mut dyn FnMut(&mut Self) -> Result<bool>,
    ) -> Result<()> {
        let before = self.program.run_count()?;
        for frame in frames {
            self.sender
                .send(frame)
                .map_err(|e| Error::env(format!("sending a frame: {e}")))?;
        }
        let start = Instant::now();
        let mut ran_all_at: Option<Instant> = None;
        loop {
            if poll(self)? {
                return Ok(());
            }
            match ran_all_at {
                None => {
                    let ran = self.program.run_count()? - before;
                    if ran >= frames.len() as u64 {
                        ran_all_at = Some(Instant::now());
                    } else if start.elapsed() > RUN_DEADLINE {
                        return Err(Error::env(format!(
                            "the program ran on {ran} of {} frames within {RUN_DEADLINE:?}",
                            frames.len()
                        )));
                    }
                }
                Some(at) if at.elapsed() > GRACE => return Ok(()),
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

    fn send(&mut self, frames: &[Vec<u8>]) -> Result<Vec<Outcome>> {
        self.drain_all()?;
        let mut outcomes: Vec<Option<Outcome>> = vec![None; frames.len()];
        let tags: Vec<_> = frames.iter().map(|f| find_tag(f)).collect();
        self.send_and_watch(frames, &mut |vt| {
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
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::bare(Verdict::Drop)))
            .collect())
    }
}

fn at(ns: &str, ifname: &str) -> String {
    format!("{ns}/{ifname}")
}
