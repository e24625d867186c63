//! Test traffic for XDP labs: craft tagged frames ([`build`]), send and capture them on one
//! interface ([`socket`]), and describe whatever came out ([`decode`](mod@decode)).
//!
//! ```
//! use std::net::Ipv4Addr;
//! use traffic::{FrameBuilder, MacAddr, Tag, decode, find_tag};
//!
//! let frame = FrameBuilder::ethernet(MacAddr(2, 0, 0, 0, 0, 1), MacAddr(2, 0, 0, 0, 0, 2))
//!     .ipv4(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2))
//!     .tcp(40000, 22)
//!     .tag(Tag(7))
//!     .build();
//! assert_eq!(find_tag(&frame), Some(Tag(7)));
//! assert!(decode(&frame).to_string().contains("tcp 40000 > 22 [S]"));
//! ```

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod build;
mod checksum;
pub mod decode;
pub mod header;
mod proto;
pub mod socket;
pub mod tag;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod netns;

pub use build::{FrameBuilder, Layout};
pub use decode::{Decoded, decode};
pub use pnet::util::MacAddr;
pub use socket::{BurstReport, PacketSocket};
pub use tag::{Tag, find_tag};
