//! The kernel and network layer of the xdplab harness: everything that touches the running
//! kernel, and nothing that judges. It loads XDP objects and reads their maps, adopts programs a
//! student loaded, builds throw-away namespaces and veth topologies, sends frames to a program
//! through a [`target`] and hands back what happened ([`Outcome`]s), and cleans up after itself
//! and after killed runs. What a check expects of those outcomes is the check model's
//! (`xdplab-harness`); this crate never imports it.
//!
//! - [`object`]: read an ELF, list its XDP programs, load fresh copies; [`clang`]: compile C.
//! - [`input`]: bounded reads of what users hand in; [`error`]: what can go wrong before a
//!   check judges.
//! - [`maps`]: read and write maps by the names a contract gives; [`map_role`]: or by role.
//! - [`source`]: programs a student loaded themselves (pinned, by id, attached).
//! - [`netns`] and [`topology`]: namespaces and veths ([`netconf`], `ethtool` and [`netlink`]
//!   configure them); [`cleanup`]: the creation lock and the sweeps of what killed runs left;
//!   [`signals`]: clean exits on SIGINT/SIGTERM.
//! - [`target`]: the three modes a frame can reach a program in; [`settle`]: the barrier frames
//!   that tell the veth modes when a batch is decided; [`cpus`]: traffic from several CPUs;
//!   [`exception`]: telling XDP_ABORTED from XDP_DROP on a veth; [`verdict`]: what happened to
//!   one frame.
//! - [`tcp`] and [`service`]: a real TCP connection and service across a topology.
//! - [`budget`]: how long a program may take per frame, and who missed a clock; [`host`]: what
//!   the running kernel offers (helpers, version) and whether we run as root.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod budget;
pub mod clang;
pub mod cleanup;
pub mod cpus;
pub mod error;
mod ethtool;
pub mod exception;
pub mod host;
pub mod input;
pub mod map_role;
pub mod maps;
pub mod netconf;
pub mod netlink;
pub mod netns;
pub mod object;
pub mod service;
pub mod settle;
pub mod signals;
pub mod source;
pub mod target;
pub mod tcp;
pub mod topology;
pub mod vcpus;
pub mod verdict;

pub use error::{Error, FailureClass, Result};
pub use object::XdpObject;
pub use target::{Mode, Spread};
pub use verdict::{Outcome, Verdict};
