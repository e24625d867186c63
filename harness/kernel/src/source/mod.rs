//! Program sources beyond ELF objects: XDP programs a student already loaded into the kernel
//! with any loader (the course's Clojure library, bpftool, iproute2, libbpf, ...), found by
//! their pins, by their ids, or by the interface they are attached to.
//!
//! Such a program is not reloaded: the harness attaches the very same program to its own veth
//! (or test-runs it), and reads the maps the program references. Its state is the student's,
//! so counters carry over between parts, and the program may meanwhile run on other traffic
//! (which the runner's `foreign` module tells apart).

pub mod adopt;
pub mod attached;
pub mod pinned;
pub mod prog_id;

use std::path::PathBuf;

pub use attached::AttachedProgram;
pub use pinned::PinnedPrograms;
pub use prog_id::ProgramIds;

use crate::{
    error::Result,
    input::Links,
    object::{ObjectSet, ProgramSource, XdpObject},
};

/// Where the programs to judge come from, as a user names them. `xdplab run`, `xdplab bench`
/// and the grading child all open theirs with [`Programs::open`].
#[derive(Debug, Clone)]
pub enum Programs {
    /// An object already read (the lab's reference solution).
    Object(XdpObject),
    /// ELF object files: one, or several each holding some of the programs.
    Files {
        /// The files, as given.
        paths: Vec<PathBuf>,
        /// Whether a link is followed (a user's argument) or refused (a submission's file).
        links: Links,
    },
    /// A bpffs directory of pins named after the programs, or one pin.
    Pinned(PathBuf),
    /// Programs loaded in the kernel: (program name, program id).
    Ids(Vec<(String, u32)>),
    /// The XDP program attached to an interface now.
    Attached {
        /// The interface.
        iface: String,
        /// Its network namespace, as `ip netns` names it.
        netns: Option<String>,
        /// The program it must be, if the user said.
        program: Option<String>,
    },
}

impl Programs {
    /// Opens the programs (reads the objects, finds the pins or loaded programs).
    pub fn open(self) -> Result<Box<dyn ProgramSource>> {
        Ok(match self {
            Programs::Object(object) => Box::new(object),
            Programs::Files { paths, links } => match paths.as_slice() {
                [one] => Box::new(XdpObject::open(one, links)?),
                many => Box::new(ObjectSet::open(many, links)?),
            },
            Programs::Pinned(pins) => Box::new(PinnedPrograms::open(pins)?),
            Programs::Ids(ids) => Box::new(ProgramIds::open(ids)?),
            Programs::Attached {
                iface,
                netns,
                program,
            } => Box::new(AttachedProgram::open(
                &iface,
                netns.as_deref(),
                program.as_deref(),
            )?),
        })
    }

    /// Whether these are programs the student loaded into the kernel (by id, or attached).
    pub fn loaded_by_student(&self) -> bool {
        matches!(self, Programs::Ids(_) | Programs::Attached { .. })
    }
}
