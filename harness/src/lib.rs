//! The xdplab harness: loads an XDP object, fires crafted frames at it in throw-away network
//! namespaces (or through BPF_PROG_TEST_RUN), and judges what happened against a lab's checks.
//!
//! - [`object`]: read an ELF, list its XDP programs, load fresh copies.
//! - [`input`]: bounded reads of what users hand in; [`signals`]: clean exits on SIGINT/SIGTERM.
//! - [`maps`]: read and write maps by the names a contract gives; [`map_role`]: or by role.
//! - [`source`]: programs a student loaded themselves (pinned, by id, attached).
//! - [`netns`] and [`topology`]: namespaces and veths, and the sweep for leftovers.
//! - [`target`]: the three modes a frame can reach a program in; [`settle`]: the barrier frames
//!   that tell the veth modes when a batch is decided; [`tcp`]: a real TCP connection across a
//!   topology.
//! - [`check`], [`flood`], [`delivery`], [`lab`], [`report`]: what a lab is made of and what a
//!   run reports; [`table`] and [`counters`]: how every check is judged; [`vary`]: the
//!   values a contract leaves free, varied inside checks and by seed.
//! - [`differential`]: generated frames compared with the reference, the first difference
//!   shrunk to a minimal frame.
//! - [`cpus`]: traffic from several CPUs, one at a time in turn or all at once.
//! - [`exception`]: telling XDP_ABORTED from XDP_DROP on a veth.
//! - [`mutants`]: mutation testing of the checks against a lab's C solution.
//! - [`budget`]: how long a program may take per frame, and who missed a clock.
//! - [`arrival`], [`fill`], [`service`]: what deliveries and exchanges need on a real path
//!   (where frames arrive, map entries the harness writes, a real TCP request and reply).

pub mod arrival;
pub mod bench;
pub mod budget;
pub mod check;
pub mod clang;
pub mod counters;
pub mod cpus;
pub mod delivery;
pub mod differential;
pub mod doctor;
pub mod error;
mod ethtool;
pub mod exception;
pub mod fill;
pub mod flood;
pub mod foreign;
pub mod grade;
pub mod input;
pub mod judgement;
pub mod kernel;
pub mod lab;
pub mod map_role;
pub mod maps;
pub mod mutants;
pub mod netconf;
mod netlink;
pub mod netns;
pub mod object;
pub mod report;
pub mod service;
pub mod settle;
pub mod signals;
pub mod source;
pub mod table;
pub mod target;
pub mod tcp;
#[cfg(feature = "testing")]
pub mod testing;
pub mod topology;
pub mod vary;
pub mod verdict;

pub use check::{Body, Check, Probe};
pub use cpus::Spread;
pub use error::{Error, FailureClass, Result};
pub use flood::{Bound, Expect, Flood, Pause, Volley, Want, Window};
pub use lab::{Lab, Part, RunOptions};
pub use object::XdpObject;
pub use report::{Report, Status};
pub use target::Mode;
pub use verdict::{Outcome, Verdict};
