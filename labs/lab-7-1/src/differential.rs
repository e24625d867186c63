//! The differential check of each part: generated frames against the reference, and what must
//! match ("modulo the contract's freedoms") as data. In lab 7.1 there is no freedom on a
//! frame: its verdict, its output (a passed frame unchanged) and the deltas of the `stats`
//! indices the part names must all equal the reference's. The contract's own verdicts
//! (the oracle functions below) hold the reference to it on every frame.

use std::net::Ipv4Addr;

use harness::{
    Check,
    differential::{Compare, Counted, Differential, FrameSpec, Interesting, Output},
};
use kernel::topology::{CLIENT_MAC, DUT_MAC};

use crate::ID;

/// Frames per part and run: about 1 ms of kernel time per thousand frames per program, well
/// inside twice the lab's time without it (README, "Differential check").
pub const FRAMES: usize = 300;

/// Frames of the sample a veth mode sends through the attached program, one at a time (each
/// waits until the program decided it): about 1 ms each (README, "Differential check").
pub const VETH_FRAMES: usize = 40;

/// The part's differential check under `seed`.
pub fn check(program: &'static str, seed: u64) -> Check {
    differential(program, seed, FRAMES).into_check()
}

/// The part's differential body, comparing `frames` frames.
pub fn differential(program: &'static str, seed: u64, frames: usize) -> Differential {
    let (canonical_src, dport, indices, oracle): (
        _,
        _,
        &'static [u32],
        harness::differential::Oracle,
    ) = match program {
        "ip_filter" => (BLOCKED[0], 8080, &[0, 1], ip_filter),
        "port_filter" => (Ipv4Addr::new(10, 0, 0, 2), 22, &[0, 1], port_filter),
        _ => (Ipv4Addr::new(10, 0, 0, 2), 80, &[0, 1, 2, 3], firewall),
    };
    Differential {
        lab: ID,
        check: format!("{ID}/{program}/differential"),
        program,
        reference: reference::lab_7_1,
        setup: None,
        canonical: canonical(canonical_src, dport),
        interesting: Interesting {
            addrs: vec![
                BLOCKED[0],
                BLOCKED[1],
                Ipv4Addr::new(10, 0, 0, 2),
                Ipv4Addr::new(10, 0, 0, 10),
                Ipv4Addr::new(192, 168, 1, 101),
                // Where a parser taking an IHL of 4 (or 3) at its word reads port 22, 23, 3389
                // or 80: the destination's (or source's) last two bytes.
                Ipv4Addr::new(10, 0, 0, 22),
                Ipv4Addr::new(10, 0, 0, 23),
                Ipv4Addr::new(10, 0, 13, 61),
                Ipv4Addr::new(10, 0, 0, 80),
            ],
            ports: vec![22, 23, 80, 3389, 21, 24, 8080],
            macs: vec![CLIENT_MAC, DUT_MAC],
            rewritten_to: Vec::new(),
            l4_csums: Vec::new(),
        },
        compare: Compare {
            counters: vec![Counted::Fixed {
                map: "stats",
                indices,
            }],
            output: Output::Exact,
        },
        oracle: Some(oracle),
        open: Some(version_not_4),
        frames,
        veth_frames: VETH_FRAMES.min(frames),
        sequences: None,
        seed,
    }
}

const BLOCKED: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(192, 168, 1, 100)];

/// A TCP SYN from `src` to 10.0.0.9:`dport`, from the client to the program's interface.
pub fn canonical(src: Ipv4Addr, dport: u16) -> FrameSpec {
    FrameSpec::new(
        CLIENT_MAC,
        DUT_MAC,
        6,
        src,
        Ipv4Addr::new(10, 0, 0, 9),
        40000,
        dport,
    )
}

/// An IPv4 frame whose version nibble is not 4: the contract leaves it open.
pub fn version_not_4(frame: &[u8]) -> bool {
    frame.len() >= 34 && frame[12..14] == [0x08, 0x00] && frame[14] >> 4 != 4
}

/// The IPv4 header as the contract defines it: EtherType 0x0800 and 20 header bytes present.
/// Returns (protocol, source, destination port when the first `need` transport bytes are
/// present, in the frame and inside the IPv4 total length, the packet is not a later fragment,
/// and the protocol is TCP or UDP).
fn ipv4(frame: &[u8], need: usize) -> Option<(u8, Ipv4Addr, Option<u16>)> {
    if frame.len() < 34 || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let ihl = frame[14] & 0x0f;
    let proto = frame[23];
    let src = Ipv4Addr::new(frame[26], frame[27], frame[28], frame[29]);
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    let later_fragment = u16::from_be_bytes([frame[20], frame[21]]) & 0x1fff != 0;
    let l4 = 14 + usize::from(ihl) * 4;
    let present = frame.len().min(14 + total);
    let dport = (ihl >= 5 && matches!(proto, 6 | 17) && !later_fragment && present >= l4 + need)
        .then(|| u16::from_be_bytes([frame[l4 + 2], frame[l4 + 3]]));
    Some((proto, src, dport))
}

fn says(verdict: &str, bucket: u32) -> String {
    format!("{verdict}, stats[{bucket}] +1")
}

/// `ip_filter`'s contract.
pub fn ip_filter(frame: &[u8]) -> Option<String> {
    Some(match ipv4(frame, 8) {
        Some((_, src, _)) if BLOCKED.contains(&src) => says("DROP", 0),
        _ => says("PASS", 1),
    })
}

/// `port_filter`'s contract.
pub fn port_filter(frame: &[u8]) -> Option<String> {
    Some(match ipv4(frame, 8) {
        Some((_, _, Some(22 | 23 | 3389))) => says("DROP", 0),
        _ => says("PASS", 1),
    })
}

/// `firewall`'s contract: the first matching rule wins.
pub fn firewall(frame: &[u8]) -> Option<String> {
    Some(match ipv4(frame, 4) {
        Some((1, _, _)) => says("DROP", 0),
        Some((_, src, _)) if src == BLOCKED[0] => says("DROP", 1),
        Some((_, _, Some(22 | 80))) => says("DROP", 2),
        _ => says("PASS", 3),
    })
}
