//! A program loaded in the kernel: attaching it, running it through BPF_PROG_TEST_RUN, and
//! reaching its maps.

use std::{fmt, os::fd::AsFd};

use aya::{
    Ebpf,
    maps::Map,
    programs::{
        TestRun, TestRunOptions, TestRunResult, Xdp,
        xdp::{XdpLinkId, XdpMode},
    },
};

use crate::{
    error::{Error, Result},
    map_role::{MapBinding, MapSummary, Role, missing},
    verdict::Verdict,
};

/// How an XDP program is attached to a veth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachMode {
    /// In the veth driver (XDP_FLAGS_DRV_MODE).
    Native,
    /// In the generic network stack (XDP_FLAGS_SKB_MODE).
    Generic,
}

impl From<AttachMode> for XdpMode {
    fn from(m: AttachMode) -> Self {
        match m {
            AttachMode::Native => XdpMode::Driver,
            AttachMode::Generic => XdpMode::Skb,
        }
    }
}

/// One XDP program loaded in the kernel, with the maps of its (fresh) object.
///
/// Dropping it detaches the program and frees the maps; aya attaches through bpf links, which
/// the kernel also releases when the process dies.
pub struct LoadedProgram {
    pub(super) name: String,
    pub(super) inner: Inner,
    /// Contract map names bound to maps found by role or pin (see [`crate::map_role`]).
    pub(super) bindings: Vec<MapBinding>,
}

// One value per loaded program: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum Inner {
    /// Loaded by the harness from an object: it owns the object's maps.
    Object(Ebpf),
    /// Loaded by the student (pinned, by id, attached): maps come from the program's own map
    /// references and map pins.
    Pinned { xdp: Xdp, maps: Vec<(String, Map)> },
}

impl fmt::Debug for LoadedProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedProgram")
            .field("name", &self.name)
            .finish()
    }
}

impl LoadedProgram {
    /// The program's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn xdp(&mut self) -> &mut Xdp {
        match &mut self.inner {
            Inner::Object(ebpf) => ebpf
                .program_mut(&self.name)
                .and_then(|p| p.try_into().ok())
                .expect("loaded as XDP"),
            Inner::Pinned { xdp, .. } => xdp,
        }
    }

    fn xdp_shared(&self) -> &Xdp {
        match &self.inner {
            Inner::Object(ebpf) => ebpf
                .program(&self.name)
                .and_then(|p| p.try_into().ok())
                .expect("loaded as XDP"),
            Inner::Pinned { xdp, .. } => xdp,
        }
    }

    /// Runs the program `repeat` times on `frame` in one BPF_PROG_TEST_RUN call, from any
    /// thread (several at once run it on several CPUs), and returns the last run's verdict and
    /// the kernel's time for all of them. With `repeat` above 1 the kernel swaps the XDP
    /// dispatcher around the loop (see [`LoadedProgram::time_run`]): use it for long loops.
    pub fn test_run_shared(
        &self,
        frame: &[u8],
        repeat: u32,
    ) -> Result<(Verdict, std::time::Duration)> {
        let mut out = vec![0u8; frame.len() + OUT_ROOM];
        let result = run_xdp(self.xdp_shared(), frame, &mut out, repeat.max(1), None)?;
        Ok((
            Verdict::from_code(result.return_value),
            result.duration * repeat.max(1),
        ))
    }

    /// Whether the harness loaded this copy itself (its maps are its own), rather than the
    /// student (pinned, by id, attached).
    pub fn loaded_by_harness(&self) -> bool {
        matches!(self.inner, Inner::Object(_))
    }

    /// The positions (in [`Self::maps_in_order`]) of the maps bound to contract names.
    pub(crate) fn bound_indices(&self) -> Vec<usize> {
        self.bindings.iter().map(|b| b.index).collect()
    }

    /// Runs `frames` one by one through `sibling`, another program of the object this one was
    /// loaded from, on this load's maps (BPF_PROG_TEST_RUN, whatever the mode): so a check can
    /// see whether programs sharing an object keep their state apart. `None` when the object
    /// has no such program (programs in separate objects share no maps).
    pub fn run_sibling(
        &mut self,
        sibling: &str,
        frames: &[Vec<u8>],
    ) -> Result<Option<Vec<Verdict>>> {
        let Inner::Object(ebpf) = &mut self.inner else {
            return Err(Error::env(format!(
                "`{}` was loaded outside the harness, which cannot run `{sibling}` on its maps",
                self.name
            )));
        };
        let Some(program) = ebpf.program_mut(sibling) else {
            return Ok(None);
        };
        let unusable = |why: String| {
            Error::env(format!(
                "`{sibling}`, in the same object, {why}; its own part judges it"
            ))
        };
        let xdp: &mut Xdp = program
            .try_into()
            .map_err(|_| unusable("is not an XDP program".into()))?;
        match xdp.load() {
            Ok(()) | Err(aya::programs::ProgramError::AlreadyLoaded) => {}
            Err(e) => return Err(unusable(format!("did not load ({e})"))),
        }
        let xdp: &Xdp = xdp;
        frames
            .iter()
            .map(|frame| {
                let mut out = vec![0u8; frame.len() + OUT_ROOM];
                let result = run_xdp(xdp, frame, &mut out, 1, Some(sibling))?;
                Ok(Verdict::from_code(result.return_value))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// The map called `name`, or bound to that name, if the program has one.
    pub(crate) fn map_mut(&mut self, name: &str) -> Option<&mut Map> {
        if let Some(i) = self
            .bindings
            .iter()
            .find(|b| b.contract == name)
            .map(|b| b.index)
        {
            return self.maps_in_order().into_iter().nth(i).map(|(_, m)| m);
        }
        match &mut self.inner {
            Inner::Object(ebpf) => ebpf.map_mut(name),
            Inner::Pinned { maps, .. } => maps.iter_mut().find(|(n, _)| n == name).map(|(_, m)| m),
        }
    }

    /// Every map (internal `.rodata`-style ones left out), in a stable order.
    pub(crate) fn maps_in_order(&mut self) -> Vec<(String, &mut Map)> {
        let mut maps: Vec<(String, &mut Map)> = match &mut self.inner {
            Inner::Object(ebpf) => ebpf.maps_mut().map(|(n, m)| (n.to_owned(), m)).collect(),
            Inner::Pinned { maps, .. } => maps.iter_mut().map(|(n, m)| (n.clone(), m)).collect(),
        };
        maps.retain(|(n, _)| !n.starts_with('.'));
        maps
    }

    /// The kernel's id for the program (what tracepoints such as `xdp:xdp_exception` name).
    pub fn prog_id(&mut self) -> Result<u32> {
        Ok(self
            .xdp()
            .info()
            .map_err(Error::during("reading the program's id"))?
            .id())
    }

    /// The program's maps as the kernel describes them, for role lookups and listings.
    pub(crate) fn map_summaries(&mut self) -> Vec<MapSummary> {
        let adopted = self.adopted();
        self.maps_in_order()
            .iter()
            .enumerate()
            .map(|(i, (n, m))| MapSummary::of(i, n, m, adopted))
            .collect()
    }

    /// Binds `name` to the one map that fits `role`, when no map has that name; records the
    /// binding so reports can say which map was used.
    pub(crate) fn bind_by_role(&mut self, name: &str, expected: &str, role: &Role) -> Result<()> {
        let maps = self.map_summaries();
        let fitting: Vec<&MapSummary> = maps
            .iter()
            .filter(|m| m.stands_in_for(name, role))
            .collect();
        match fitting.as_slice() {
            [one] => {
                let binding = MapBinding {
                    program: self.name().to_owned(),
                    contract: name.to_owned(),
                    used: one.describe(),
                    found: "by-layout".into(),
                    index: one.index,
                };
                self.bind_map(binding);
                Ok(())
            }
            [] => Err(missing(
                name,
                expected,
                "no map it uses fits that role (a map named after another contract map is \
                 never taken for this one)",
                &maps,
            )),
            several => Err(missing(
                name,
                expected,
                &format!(
                    "{} of the maps it uses fit that role, so the harness cannot tell which is \
                     meant",
                    several.len()
                ),
                &maps,
            )),
        }
    }

    /// Makes a contract name refer to the map the binding names.
    pub(crate) fn bind_map(&mut self, binding: MapBinding) {
        self.bindings.retain(|b| b.contract != binding.contract);
        self.bindings.push(binding);
    }

    /// Whether someone else loaded the program (pinned, by id, attached): it may run on other
    /// traffic too, and its state is theirs.
    pub fn adopted(&self) -> bool {
        matches!(self.inner, Inner::Pinned { .. })
    }

    /// The maps that stood in for contract maps without having their names.
    pub fn map_bindings(&self) -> &[MapBinding] {
        &self.bindings
    }

    /// A program someone else loaded, with the maps found for it; see [`crate::source`].
    pub(crate) fn from_kernel(name: String, xdp: Xdp, maps: Vec<(String, Map)>) -> Self {
        Self {
            name,
            inner: Inner::Pinned { xdp, maps },
            bindings: Vec::new(),
        }
    }

    /// Attaches the program to `ifindex`; call it from a thread inside the interface's namespace.
    pub fn attach(&mut self, ifindex: u32, mode: AttachMode) -> Result<XdpLinkId> {
        self.xdp().attach(ifindex, mode.into()).map_err(|e| {
            Error::op(
                format!("attaching XDP in {mode:?} mode to ifindex {ifindex} failed"),
                e,
            )
        })
    }

    /// Attaches the program to `ifindex` so that it stays there after this process exits:
    /// the program is pinned at `dir/<name>` and its link at `link` (removing the link's pin,
    /// or the interface, detaches it). Call it from a thread inside the interface's namespace.
    pub fn attach_kept(
        &mut self,
        ifindex: u32,
        mode: AttachMode,
        dir: &std::path::Path,
        link: &std::path::Path,
    ) -> Result<()> {
        let program = dir.join(&self.name);
        let xdp = self.xdp();
        xdp.pin(&program)
            .map_err(|e| Error::op(format!("pinning the program at {}", program.display()), e))?;
        let id = xdp.attach(ifindex, mode.into()).map_err(|e| {
            Error::op(
                format!("attaching XDP in {mode:?} mode to ifindex {ifindex} failed"),
                e,
            )
        })?;
        let taken = xdp
            .take_link(id)
            .map_err(|e| Error::op("taking the XDP link", e))?;
        let fd = aya::programs::links::FdLink::try_from(taken)
            .map_err(|e| Error::op("the XDP link is not a bpf link (kernel too old?)", e))?;
        fd.pin(link)
            .map_err(|e| Error::op(format!("pinning the XDP link at {}", link.display()), e))?;
        Ok(())
    }

    /// How many times the kernel has run the program (counted only while BPF run statistics are
    /// on, as the veth targets keep them).
    pub fn run_count(&mut self) -> Result<u64> {
        let xdp = self.xdp();
        let info = xdp
            .info()
            .map_err(Error::during("reading the program's run count"))?;
        Ok(info.run_count())
    }

    /// The program's run count and total run time so far (counted only while BPF run
    /// statistics are on, as the veth targets keep them).
    pub fn kernel_time(&mut self) -> Result<crate::budget::KernelTime> {
        let info = self
            .xdp()
            .info()
            .map_err(Error::during("reading the program's run statistics"))?;
        Ok(crate::budget::KernelTime {
            runs: info.run_count(),
            time: info.run_time(),
            fastest: None,
        })
    }

    /// Runs the program once on `frame` through BPF_PROG_TEST_RUN: exact verdict and output.
    pub fn test_run(&mut self, frame: &[u8]) -> Result<(Verdict, Vec<u8>)> {
        self.test_run_timed(frame).map(|(v, out, _)| (v, out))
    }

    /// [`LoadedProgram::test_run`], with the kernel's time for the run.
    pub fn test_run_timed(
        &mut self,
        frame: &[u8],
    ) -> Result<(Verdict, Vec<u8>, std::time::Duration)> {
        let mut scratch = Vec::new();
        let (verdict, out, took) = self.test_run_in(frame, &mut scratch)?;
        Ok((verdict, out.to_vec(), took))
    }

    /// [`LoadedProgram::test_run_timed`] writing the output into `scratch`, which a caller
    /// running many frames keeps from one to the next: a fresh 4 KB buffer per frame cost a
    /// page fault each (most of a frame's time in a software-emulated VM), which stretched a
    /// burst past the contract's clock.
    pub fn test_run_in<'s>(
        &mut self,
        frame: &[u8],
        scratch: &'s mut Vec<u8>,
    ) -> Result<(Verdict, &'s [u8], std::time::Duration)> {
        let room = frame.len() + OUT_ROOM;
        if scratch.len() < room {
            scratch.resize(room, 0);
        }
        let result = run_xdp(self.xdp(), frame, &mut scratch[..room], 1, None)?;
        let size = (result.data_size_out as usize).min(room);
        Ok((
            Verdict::from_code(result.return_value),
            &scratch[..size],
            result.duration,
        ))
    }

    /// Runs the program `repeat` times on `frame` through BPF_PROG_TEST_RUN and returns the
    /// kernel's average time per run (what `xdplab bench` measures).
    ///
    /// One run per call: with `repeat` above 1 the kernel swaps the XDP dispatcher in and out
    /// around the loop, which costs about 24 ms a call here whatever the count (measured on
    /// 6.18), while a single run costs a couple of microseconds of syscall. The kernel still
    /// times only the program in each call.
    pub fn time_run(&mut self, frame: &[u8], repeat: u32) -> Result<std::time::Duration> {
        let mut out = vec![0u8; frame.len() + OUT_ROOM];
        let mut total = std::time::Duration::ZERO;
        for _ in 0..repeat.max(1) {
            total += run_xdp(self.xdp(), frame, &mut out, 1, None)?.duration;
        }
        Ok(total / repeat.max(1))
    }

    /// The raw fd of the program, for callers that pin or inspect it.
    pub fn fd(&mut self) -> Result<std::os::fd::OwnedFd> {
        let fd = self
            .xdp()
            .fd()
            .map_err(Error::during("getting the program's fd"))?;
        fd.as_fd()
            .try_clone_to_owned()
            .map_err(Error::during("duplicating the program's fd"))
    }
}

/// Room for what a program may add to a frame, in front (XDP headroom) or behind.
const OUT_ROOM: usize = 4096;

/// One BPF_PROG_TEST_RUN of `xdp` on `frame`, `repeat` times, its output into `out`; `sibling`
/// names the program in the error when it is not the one under test.
fn run_xdp(
    xdp: &Xdp,
    frame: &[u8],
    out: &mut [u8],
    repeat: u32,
    sibling: Option<&str>,
) -> Result<TestRunResult> {
    xdp.test_run(TestRunOptions {
        data_in: Some(frame),
        data_out: Some(out),
        repeat,
        ..Default::default()
    })
    .map_err(|e| match sibling {
        Some(name) => Error::op(format!("BPF_PROG_TEST_RUN of `{name}` failed"), e),
        None => Error::op("BPF_PROG_TEST_RUN failed", e),
    })
}
