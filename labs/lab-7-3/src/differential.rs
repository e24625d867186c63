//! The differential check of each part: generated frames against the reference, and what must
//! match ("modulo the contract's freedoms") as data.
//!
//! - Every part: the verdict, and `stats[0]`'s delta (a balanced packet counts, nothing else).
//! - A frame passed must be unchanged.
//! - A balanced frame: which backend is free (round robin, hash), so both outputs are read as
//!   if sent to backend 0 (destination MAC, and for NAT the destination address with the
//!   checksums moved along incrementally, so a wrong checksum stays wrong). NAT parts also
//!   allow the source MAC to become the LB's, the TTL to drop by one, and a UDP checksum to be
//!   added where none was sent. DSR allows nothing else.
//! - `lb_hash`: `backend_stats` moves by one at the frame's own backend.
//!
//! The contract's verdicts (the oracle functions below) hold the reference to it on every frame.

use std::net::Ipv4Addr;

use harness::{
    Lab,
    differential::{
        Backends, Choice, Compare, Counted, Differential, FrameSpec, Interesting, Output,
    },
    fill,
};

use crate::{
    ID,
    frames::{self, UDP_PORT},
    net::{CLIENT, CLIENT_IP, Net, VIP, fills},
};

/// Frames per part and run (README, "Differential check").
pub const FRAMES: usize = 300;

/// Frames of the sample a veth mode sends through the attached program: none. A generated
/// source can sit in a backend's own subnet (10.0.1.2), and the backend's stack, handed the
/// balanced datagram, then asks for it by ARP, which its capture read as the program's output
/// (seen on a pinned `lb_round_robin`); until the sample keeps to off-link sources, lab 7.3's
/// differential runs in test-run and auto only (README, "Differential check").
pub const VETH_FRAMES: usize = 0;

/// Adds each part's differential check to `lab`, with the backends and LB MAC its other
/// checks use (`net_of`): the student's program is set up by the part, the reference alike.
pub fn add(lab: &mut Lab, seed: u64, net_of: impl Fn(&str) -> Net) {
    for part in &mut lab.parts {
        let net = net_of(part.program);
        part.checks
            .push(differential(part.program, &net, seed, FRAMES).into_check());
    }
}

/// The backends and LB MAC of `program`'s part under seed 0: the hash and DSR parts get the
/// second fixed set, so a program that writes the README's backends in fails there.
pub fn seed0_net(program: &str) -> Net {
    if matches!(program, "lb_hash" | "lb_dsr") {
        Net::OTHER
    } else {
        Net::CANONICAL
    }
}

/// The part's differential body, comparing `frames` frames, with the part's `net`.
pub fn differential(program: &'static str, net: &Net, seed: u64, frames: usize) -> Differential {
    let nat = program != "lb_dsr";
    let mut counters = vec![Counted::Fixed {
        map: "stats",
        indices: &[0],
    }];
    if program == "lb_hash" {
        counters.push(Counted::PerBackend {
            map: "backend_stats",
        });
    }
    let backend_ips: Vec<Ipv4Addr> = net.backends.iter().map(|(ip, _)| *ip).collect();
    let mut addrs = vec![VIP, CLIENT_IP];
    addrs.extend(&backend_ips);
    let mut macs = vec![CLIENT, net.lb_mac];
    macs.extend(net.backends.iter().map(|(_, m)| *m));
    Differential {
        lab: ID,
        check: format!("{ID}/{program}/differential"),
        program,
        reference: reference::lab_7_3,
        setup: Some(fill::setup(fills(program == "lb_redirect", net))),
        canonical: canonical(net.lb_mac),
        interesting: Interesting {
            addrs,
            ports: vec![UDP_PORT, 80, 53],
            macs,
            l4_csums: if nat {
                backend_ips
                    .iter()
                    .flat_map(|b| frames::needing_a_second_carry_at(*b))
                    .collect()
            } else {
                Vec::new()
            },
            rewritten_to: if nat { backend_ips } else { Vec::new() },
        },
        compare: Compare {
            counters,
            output: Output::Balanced(Backends {
                list: net.backends.to_vec(),
                lb_mac: net.lb_mac,
                nat,
                choice: if matches!(program, "lb_round_robin" | "lb_redirect") {
                    Choice::Rotation
                } else {
                    Choice::BySource
                },
            }),
        },
        oracle: Some(match program {
            "lb_redirect" => redirected,
            _ => transmitted,
        }),
        open: Some(first_fragment),
        frames,
        veth_frames: VETH_FRAMES,
        sequences: None,
        seed,
    }
}

/// A UDP datagram from the client to VIP:7000 at the load balancer's MAC.
pub fn canonical(lb_mac: traffic::MacAddr) -> FrameSpec {
    FrameSpec {
        payload_len: 9,
        ..FrameSpec::new(CLIENT, lb_mac, 17, CLIENT_IP, VIP, 40000, UDP_PORT)
    }
}

/// A first fragment (more-fragments set, offset 0): it carries its transport header, and the
/// contract lets a program balance it or pass it.
pub fn first_fragment(frame: &[u8]) -> bool {
    frame.len() >= 34
        && frame[12..14] == [0x08, 0x00]
        && u16::from_be_bytes([frame[20], frame[21]]) & 0x3fff == 0x2000
}

/// Whether the contract balances `frame`: IPv4 (version 4) TCP or UDP to the VIP, not a later
/// fragment, with its whole transport header (20 or 8 bytes) after an IHL of at least 5,
/// inside both the frame and the IPv4 total length.
pub fn balanced(frame: &[u8]) -> bool {
    if frame.len() < 34
        || frame[12..14] != [0x08, 0x00]
        || frame[14] >> 4 != 4
        || frame[30..34] != VIP.octets()
        || u16::from_be_bytes([frame[20], frame[21]]) & 0x1fff != 0
    {
        return false;
    }
    let ihl = usize::from(frame[14] & 0x0f);
    let need = match frame[23] {
        6 => 20,
        17 => 8,
        _ => return false,
    };
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    ihl >= 5 && frame.len() >= 14 + ihl * 4 + need && total >= ihl * 4 + need
}

fn verdict(frame: &[u8], action: &str) -> String {
    if balanced(frame) {
        format!("{action}, stats[0] +1")
    } else {
        "PASS".to_owned()
    }
}

/// The contract's verdict for the XDP_TX parts.
pub fn transmitted(frame: &[u8]) -> Option<String> {
    Some(verdict(frame, "TX"))
}

/// The contract's verdict for `lb_redirect`.
pub fn redirected(frame: &[u8]) -> Option<String> {
    Some(verdict(frame, "REDIRECT"))
}
