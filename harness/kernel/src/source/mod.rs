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

pub use attached::AttachedProgram;
pub use pinned::PinnedPrograms;
pub use prog_id::ProgramIds;
