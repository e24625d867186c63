//! Crafted frames and how a rewritten frame is shown: the same text for the contract's side and
//! the program's, with the variants the contract allows folded into one form.

use std::net::Ipv4Addr;

use harness::{Outcome, Verdict};
use traffic::{FrameBuilder, MacAddr, Tag, decode, decode::Csum};

use crate::net::{BACKENDS, CLIENT, CLIENT_IP, LB_MAC, VIP, backend_by_ip, backend_by_mac};

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

/// The backend a rewritten frame names: by destination IP (NAT) or MAC (DSR), falling back to
/// the other one.
pub fn chosen_backend(bytes: &[u8], rewrite: Rewrite) -> Option<usize> {
    let d = decode(bytes);
    let by_ip = d.ipv4.as_ref().and_then(|ip| backend_by_ip(ip.dst));
    let by_mac = d.eth.and_then(|e| backend_by_mac(e.dst));
    match rewrite {
        Rewrite::Nat => by_ip.or(by_mac),
        Rewrite::Dsr => by_mac.or(by_ip),
    }
}

/// The frame the contract expects from `spec` when balanced to backend `b`.
pub fn expected_frame(spec: &Spec, rewrite: Rewrite, b: usize) -> Vec<u8> {
    let (ip, mac) = BACKENDS[b];
    match rewrite {
        Rewrite::Nat => spec.build_for(CLIENT, mac, ip),
        Rewrite::Dsr => spec.build_for(LB_MAC, mac, VIP),
    }
}

/// A rewritten frame as text, one line per layer. The backend's address and MAC read
/// `backend-ip` and `backend-mac` when they name the same backend (which one depends on where
/// the round robin started, which the contract leaves open), and in NAT mode the allowed
/// variants are folded: the LB's source MAC reads as the client's, a decremented TTL as the
/// original, and a computed checksum for a UDP datagram sent without one as none.
pub fn show_rewrite(sent: &Spec, bytes: &[u8], rewrite: Rewrite) -> String {
    let mut d = decode(bytes);
    let backend = chosen_backend(bytes, rewrite);
    let consistent = backend.filter(|&b| {
        let (ip, mac) = BACKENDS[b];
        d.eth.is_some_and(|e| e.dst == mac)
            && (rewrite == Rewrite::Dsr || d.ipv4.as_ref().is_some_and(|i| i.dst == ip))
    });
    if rewrite == Rewrite::Nat {
        if let Some(eth) = d.eth.as_mut()
            && eth.src == LB_MAC
        {
            eth.src = CLIENT;
        }
        if let Some(ip) = d.ipv4.as_mut()
            && ip.ttl == 63
        {
            ip.ttl = 64;
        }
        if let Some(udp) = d.udp.as_mut()
            && sent.udp_no_checksum
            && udp.csum == Csum::Ok
        {
            udp.csum = Csum::Absent;
        }
    }
    let mut text = d.to_string();
    if let Some(b) = consistent {
        let (ip, mac) = BACKENDS[b];
        text = text
            .replace(&format!("> {mac} "), "> backend-mac ")
            .replace(&format!("> {ip} "), "> backend-ip ");
    }
    text
}

/// One row of a rewrite table: the verdict, then the frame's layers indented below it.
pub fn rewrite_cell(verdict: Verdict, shown: Option<String>) -> String {
    let mut cell = verdict.to_string();
    if let Some(text) = shown {
        for line in text.lines() {
            cell.push_str("\n      ");
            cell.push_str(line);
        }
    }
    cell
}

/// The row the program produced for `spec`.
pub fn actual_cell(spec: &Spec, outcome: &Outcome, rewrite: Rewrite) -> String {
    let shown = outcome
        .bytes
        .as_ref()
        .map(|bytes| show_rewrite(spec, bytes, rewrite));
    rewrite_cell(outcome.verdict, shown)
}

/// The row the contract asks for: `verdict` with the frame rewritten for the backend the
/// program chose (any backend is fine), or for backend 0 when it chose none.
pub fn expected_cell(spec: &Spec, outcome: &Outcome, rewrite: Rewrite, verdict: Verdict) -> String {
    let b = outcome
        .bytes
        .as_ref()
        .and_then(|bytes| chosen_backend(bytes, rewrite))
        .unwrap_or(0);
    let frame = expected_frame(spec, rewrite, b);
    rewrite_cell(verdict, Some(show_rewrite(spec, &frame, rewrite)))
}

/// `b1`, `b2` or `b3`.
pub fn backend_name(b: usize) -> String {
    format!("b{}", b + 1)
}
