//! The xdplab check model and runner: what a lab is made of (parts, checks, and the four kinds
//! of check body: probes, floods, deliveries, differential), the runner that judges an XDP
//! object against a lab, and the report it writes. Frames reach programs through the kernel
//! layer (`xdplab-kernel`), which this crate builds on; grading (`xdplab-grade`) builds on this
//! one.
//!
//! - [`lab`]: labs, parts and the runner; [`foreign`]: checks a student's other traffic may
//!   have disturbed are not judged.
//! - [`check`]: checks and probes; [`flood`], [`delivery`], [`differential`]: the other
//!   kinds of body; [`cpus`]: checks from several CPUs; [`arrival`], [`fill`]: what deliveries
//!   and exchanges need on a real path.
//! - [`judgement`], [`table`] and [`counters`]: how every check is judged (one expected/actual
//!   table); [`hint`]: advice for the usual mistakes, keyed on a failure's pattern; [`vary`]: the values a contract leaves free, varied inside checks and by seed.
//! - [`report`]: results of a run, and the perf figures [`bench`](mod@bench) measures.
//! - [`doctor`]: whether this machine can run the labs.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod arrival;
pub mod bench;
pub mod check;
pub mod counters;
pub mod cpus;
pub mod delivery;
pub mod differential;
pub mod doctor;
pub mod fill;
pub mod flood;
pub mod foreign;
pub mod hint;
pub mod judgement;
pub mod lab;
pub mod record;
pub mod report;
pub mod table;
#[cfg(feature = "testing")]
pub mod testing;
pub mod vary;

pub use check::{Body, Check, Probe};
pub use flood::{Bound, Expect, Flood, Pause, Volley, Want, Window};
pub use hint::Hint;
pub use lab::{Lab, Part, PartId, RunOptions};
pub use report::{Report, Status};
