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
//! The contract's verdicts ([`contract`]) hold the reference to it on every frame.

use std::net::Ipv4Addr;

use harness::{
    Check, Lab,
    differential::{Backends, Compare, Counted, Differential, FrameSpec, Interesting, Output},
    fill,
};

use crate::{
    ID,
    frames::UDP_PORT,
    net::{BACKENDS, CLIENT, CLIENT_IP, LB_MAC, VIP, fills},
};

/// Frames per part and run (README, "Differential check").
pub const FRAMES: usize = 300;

/// Adds each part's differential check to `lab`.
pub fn add(lab: &mut Lab, seed: u64) {
    for part in &mut lab.parts {
        part.checks.push(check(part.program, seed));
    }
}

/// The part's differential check under `seed`.
pub fn check(program: &'static str, seed: u64) -> Check {
    differential(program, seed, FRAMES).into_check()
}

/// The part's differential body, comparing `frames` frames.
pub fn differential(program: &'static str, seed: u64, frames: usize) -> Differential {
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
    let backend_ips: Vec<Ipv4Addr> = BACKENDS.iter().map(|(ip, _)| *ip).collect();
    let mut addrs = vec![VIP, CLIENT_IP];
    addrs.extend(&backend_ips);
    let mut macs = vec![CLIENT, LB_MAC];
    macs.extend(BACKENDS.iter().map(|(_, m)| *m));
    Differential {
        lab: ID,
        check: format!("{ID}/{program}/differential"),
        program,
        reference: reference::lab_7_3,
        setup: Some(fill::setup(fills(program == "lb_redirect"))),
        canonical: canonical(),
        interesting: Interesting {
            addrs,
            ports: vec![UDP_PORT, 80, 53],
            macs,
            rewritten_to: if nat { backend_ips } else { Vec::new() },
        },
        compare: Compare {
            counters,
            output: Output::Balanced(Backends {
                list: BACKENDS.to_vec(),
                lb_mac: LB_MAC,
                nat,
            }),
        },
        oracle: Some(match program {
            "lb_redirect" => redirected,
            _ => transmitted,
        }),
        frames,
        seed,
    }
}

/// A UDP datagram from the client to VIP:7000.
pub fn canonical() -> FrameSpec {
    FrameSpec {
        payload_len: 9,
        ..FrameSpec::new(CLIENT, LB_MAC, 17, CLIENT_IP, VIP, 40000, UDP_PORT)
    }
}

/// Whether the contract balances `frame`: TCP or UDP to the VIP with its whole transport header
/// (20 or 8 bytes) after an IHL of at least 5.
pub fn balanced(frame: &[u8]) -> bool {
    if frame.len() < 34 || frame[12..14] != [0x08, 0x00] || frame[30..34] != VIP.octets() {
        return false;
    }
    let ihl = usize::from(frame[14] & 0x0f);
    let need = match frame[23] {
        6 => 20,
        17 => 8,
        _ => return false,
    };
    ihl >= 5 && frame.len() >= 14 + ihl * 4 + need
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
