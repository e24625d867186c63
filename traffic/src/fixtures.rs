//! Addresses and a frame builder shared by the unit tests of this crate.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::{MacAddr, build::FrameBuilder};

pub(crate) const A: MacAddr = MacAddr(2, 0, 0, 0, 0, 1);
pub(crate) const B: MacAddr = MacAddr(2, 0, 0, 0, 0, 2);
pub(crate) const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(crate) const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub(crate) const IP6_A: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
pub(crate) const IP6_B: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

/// An Ethernet frame from A to B.
pub(crate) fn eth() -> FrameBuilder {
    FrameBuilder::ethernet(A, B)
}
