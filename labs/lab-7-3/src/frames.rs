//! Crafted frames, and what the contract says each must become at a backend.

use std::net::Ipv4Addr;

use harness::delivery::Parcel;
use traffic::{FrameBuilder, MacAddr, Tag};

use crate::net::{BACKENDS, CLIENT, CLIENT_IP, LB_MAC, VIP};

/// The UDP port backends listen on in the delivery checks.
pub const UDP_PORT: u16 = 7000;
/// The TCP port of the VIP service.
pub const TCP_PORT: u16 = 80;

/// A frame the client sends, described so it can be built for any destination (the VIP as
/// sent, a backend for the contract's expected rewrite).
#[derive(Clone, Debug)]
pub struct Spec {
    /// Short name for tables.
    pub name: String,
    /// Source address.
    pub src: Ipv4Addr,
    /// TCP (else UDP).
    pub tcp: bool,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// IPv4 options.
    pub options: Vec<u8>,
    /// Send UDP without a checksum (0).
    pub udp_no_checksum: bool,
    /// The tag.
    pub tag: u16,
}

impl Spec {
    /// A UDP datagram from `src` to the VIP's UDP port.
    pub fn udp(name: impl Into<String>, tag: u16, src: Ipv4Addr, sport: u16) -> Self {
        Self {
            name: name.into(),
            src,
            tcp: false,
            sport,
            dport: UDP_PORT,
            options: Vec::new(),
            udp_no_checksum: false,
            tag,
        }
    }

    /// A TCP SYN from the client to the VIP's TCP port.
    pub fn tcp(name: impl Into<String>, tag: u16, sport: u16) -> Self {
        Self {
            tcp: true,
            dport: TCP_PORT,
            ..Self::udp(name, tag, CLIENT_IP, sport)
        }
    }

    /// The frame addressed to `dst_ip` at `dst_mac`, from `src_mac`.
    pub fn build_for(&self, src_mac: MacAddr, dst_mac: MacAddr, dst_ip: Ipv4Addr) -> Vec<u8> {
        let mut b = FrameBuilder::ethernet(src_mac, dst_mac)
            .ipv4(self.src, dst_ip)
            .tag(Tag(self.tag));
        if !self.options.is_empty() {
            b = b.ip_options(&self.options);
        }
        b = if self.tcp {
            b.tcp(self.sport, self.dport)
        } else {
            b.udp(self.sport, self.dport)
        };
        b = b.payload(b"xdplab lb");
        let layout = b.layout();
        let mut frame = b.build();
        if self.udp_no_checksum
            && let Some(l4) = layout.l4
        {
            frame[l4 + 6..l4 + 8].fill(0);
        }
        frame
    }

    /// The frame as the client sends it: to the VIP, at the load balancer's MAC.
    pub fn frame(&self) -> Vec<u8> {
        self.build_for(CLIENT, LB_MAC, VIP)
    }
}

/// Which kind of rewrite the contract asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rewrite {
    /// Destination IP and MAC become the backend's; checksums follow. The source MAC may stay or
    /// become the LB's; the TTL may stay or drop by one.
    Nat,
    /// Only the destination MAC becomes the backend's, and the source MAC the LB's.
    Dsr,
}

impl Rewrite {
    /// The frame the contract expects from `spec` when balanced to backend `b`.
    pub fn expected_frame(self, spec: &Spec, b: usize) -> Vec<u8> {
        let (ip, mac) = BACKENDS[b];
        match self {
            Rewrite::Nat => spec.build_for(CLIENT, mac, ip),
            Rewrite::Dsr => spec.build_for(LB_MAC, mac, VIP),
        }
    }

    /// The contract's rewrite as the harness reads it: how a frame names its backend, and the
    /// variants the NAT programs may produce (shown as the form they stand for). The DSR
    /// contract allows none: its source MAC must be the LB's and nothing else may change.
    pub fn harness(self) -> harness::delivery::Rewrite {
        use harness::delivery::{Allow, Rewrite as R};
        match self {
            Rewrite::Nat => R {
                address: true,
                allow: vec![
                    Allow::SourceMac {
                        from: LB_MAC,
                        reads_as: CLIENT,
                    },
                    Allow::TtlDecrement,
                    Allow::UdpChecksumAdded,
                ],
            },
            Rewrite::Dsr => R {
                address: false,
                allow: Vec::new(),
            },
        }
    }

    /// `spec` as a parcel: sent to the VIP, arriving as the contract's rewrite for each
    /// backend.
    pub fn parcel(self, spec: &Spec) -> Parcel {
        Parcel::new(spec.name.clone(), spec.frame()).arriving_as(
            (0..BACKENDS.len())
                .map(|b| self.expected_frame(spec, b))
                .collect(),
        )
    }
}
