//! The differential check of each part: generated frames against a fresh reference, and what
//! must match ("modulo the contract's freedoms") as data.
//!
//! - `rate_limiter`, `syn_guard`, `ddos_guard` keep per-source state, so their frames run in
//!   sequences, each from fresh state (the per-source hash maps emptied on both sides). A fresh
//!   bucket holds 1000 tokens and a sequence sends far fewer, so no bucket runs dry and the
//!   refill cannot move a decision; a SYN window lasts 1 s from its first SYN, so a sequence
//!   decided within [`WITHIN`] sees no window end. The SYN parts' sequences may open with 99
//!   or 100 copies of the canonical SYN: then whatever the generated frames count as a SYN
//!   shows at once (the 100th passes, the 101st drops). Token limits themselves are the hand
//!   checks' business: near an empty bucket every decision depends on the clock.
//! - Every part: the verdict, and the output (a passed frame unchanged). `stats` deltas at the
//!   indices the contract fixes: all of them for an IPv4 frame with its transport header; for
//!   a non-IPv4 or truncated frame only the drop counters (whether it is counted is left open).
//!   `rate_limiter` also: the keys its per-source maps gain (one entry per source seen).
//! - `syn_cookie`: the SYN-ACK byte for byte except what its rule leaves free (TOS, id,
//!   fragment bits, TTL, window, urgent pointer, reserved bits; the checksums compared as
//!   valid or not) and its seq, which is compared as "a cookie the kernel accepts for that
//!   SYN" (the kernel's `bpf_tcp_raw_check_syncookie_ipv4`, as `syn-ack-rewrite` asks it).
//! - Left open, never compared: a version nibble other than 4, and a TCP segment whose IPv4
//!   total length ends inside its TCP header (or options) while the frame goes on.

use std::{
    net::Ipv4Addr,
    sync::{Arc, Mutex},
    time::Duration,
};

use harness::{
    Check,
    differential::{
        Compare, Counted, Differential, FrameSpec, Interesting, Normaliser, Output, Sequences,
        frame::{fold, ones_sum},
    },
    fill::Setup,
};
use kernel::{
    Verdict, XdpObject,
    object::LoadedProgram,
    topology::{CLIENT_MAC, DUT_MAC},
};

use crate::{ID, STATS, flags::ACK};

/// Generated frames per part and run (README, "Differential check").
pub const FRAMES: usize = 300;

/// Generated frames of the sample a veth mode sends through the attached program.
pub const VETH_FRAMES: usize = 24;

/// Frames per sequence at most: a few hundred with the opening SYNs, far from the 1000 tokens
/// of a fresh bucket.
pub const LENGTH: usize = 8;

/// The time a sequence must be decided in: the SYN window is 1 s from its first SYN, so a
/// sequence inside 900 ms cannot see one end (the margin covers the program seeing the first
/// frame after the harness's clock started).
pub const WITHIN: Duration = Duration::from_millis(900);

/// The most time a part's sequences may take per generated frame, and shrinking again: the
/// contract's 10 ms a frame (3 s for [`FRAMES`]). The opening SYNs come on top, so a program
/// near that limit is compared on fewer frames, and the table says how many.
pub const BUDGET_PER_FRAME: Duration = Duration::from_millis(10);

/// The canonical source and a neighbour in its /24, away from the hand checks' sources.
const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 250, 1);
const NEIGHBOUR: Ipv4Addr = Ipv4Addr::new(198, 18, 250, 2);
/// Blocklisted for `ddos_guard`: with a value of zero bytes, and of 0xff bytes.
const BLOCKED: [Ipv4Addr; 2] = [
    Ipv4Addr::new(198, 18, 250, 66),
    Ipv4Addr::new(198, 18, 250, 67),
];

/// Adds each part's differential check to the lab's parts.
pub fn add(parts: &mut [harness::Part], seed: u64) {
    for part in parts {
        part.checks
            .push(differential(part.program, seed, FRAMES).into_check());
    }
}

/// The `stats` indices the contract fixes for a frame.
type Indices = fn(&[u8]) -> &'static [u32];

/// The part's differential body, comparing `frames` generated frames.
pub fn differential(program: &'static str, seed: u64, frames: usize) -> Differential {
    let (indices, primes, setup): (Indices, &'static [usize], _) = match program {
        "rate_limiter" => (rate_indices, &[0], None),
        "syn_guard" => (rate_indices, &[0, 99, 100], None),
        "ddos_guard" => (ddos_indices, &[0, 99, 100], Some(blocklist())),
        _ => (cookie_indices, &[0], None),
    };
    let mut counters = vec![Counted::Where {
        map: STATS,
        indices,
    }];
    if program == "rate_limiter" {
        counters.push(Counted::Keys);
    }
    let cookie = program == "syn_cookie";
    Differential {
        lab: ID,
        check: format!("{ID}/{program}/differential"),
        program,
        reference: reference::lab_7_2,
        setup,
        canonical: canonical(),
        interesting: Interesting {
            addrs: vec![
                SRC,
                NEIGHBOUR,
                BLOCKED[0],
                BLOCKED[1],
                Ipv4Addr::new(203, 0, 113, 1),
                // Another network with the canonical source's last octet.
                Ipv4Addr::new(10, 9, 8, 1),
            ],
            ports: vec![80, 443, 8080, 53],
            macs: vec![CLIENT_MAC, DUT_MAC],
            rewritten_to: Vec::new(),
            l4_csums: Vec::new(),
        },
        compare: Compare {
            counters,
            output: if cookie {
                Output::Normalised(synack_freedoms())
            } else {
                Output::Exact
            },
        },
        oracle: None,
        open: Some(if cookie { open_cookie } else { open }),
        frames,
        veth_frames: VETH_FRAMES.min(frames),
        sequences: (!cookie).then_some(Sequences {
            length: LENGTH,
            primes,
            within: WITHIN,
            budget: BUDGET_PER_FRAME * u32::try_from(frames).unwrap_or(u32::MAX),
        }),
        seed,
    }
}

/// The part's scored check under `seed`.
pub fn check(program: &'static str, seed: u64) -> Check {
    differential(program, seed, FRAMES).into_check()
}

/// A TCP SYN without data from the canonical source to 203.0.113.1:80.
pub fn canonical() -> FrameSpec {
    FrameSpec {
        payload_len: 0,
        ..FrameSpec::new(
            CLIENT_MAC,
            DUT_MAC,
            6,
            SRC,
            Ipv4Addr::new(203, 0, 113, 1),
            40000,
            80,
        )
    }
}

/// The blocklist `ddos_guard`'s differential runs with, on both sides.
fn blocklist() -> Setup {
    Setup(Arc::new(|t| {
        for (a, fill) in BLOCKED.iter().zip([0u8, 0xff]) {
            t.program().maps().hash_insert_fill(
                "blacklist",
                u32::from_ne_bytes(a.octets()),
                fill,
            )?;
        }
        Ok(())
    }))
}

/// What the contract reads of a frame: `None` for non-IPv4 (no EtherType 0x0800 or no whole
/// 20-byte header), else whether the transport header of a TCP, UDP or ICMP packet that has
/// one (IHL at least 5, not a later fragment) is cut short by the frame or the total length.
fn truncated(frame: &[u8]) -> Option<bool> {
    if frame.len() < 34 || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let ihl = usize::from(frame[14] & 0x0f);
    let later = u16::from_be_bytes([frame[20], frame[21]]) & 0x1fff != 0;
    let need = match frame[23] {
        6 => 20,
        17 | 1 => 8,
        _ => return Some(false),
    };
    if ihl < 5 || later {
        return Some(false);
    }
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    let present = frame.len().min(14 + total);
    Some(present < 14 + ihl * 4 + need)
}

/// `rate_limiter` and `syn_guard`: [0] dropped, [1] passed; a non-IPv4 or truncated frame
/// only must not move the drop counter.
fn rate_indices(frame: &[u8]) -> &'static [u32] {
    match truncated(frame) {
        Some(false) => &[0, 1],
        _ => &[0],
    }
}

/// `ddos_guard`: all five for an IPv4 packet with its transport header, else the drops.
fn ddos_indices(frame: &[u8]) -> &'static [u32] {
    match truncated(frame) {
        Some(false) => &[0, 1, 2, 3, 4],
        _ => &[2, 3, 4],
    }
}

/// `syn_cookie`: SYN-ACKs sent, good and bad bare ACKs; only the drop for the rest.
fn cookie_indices(frame: &[u8]) -> &'static [u32] {
    match truncated(frame) {
        Some(false) => &[0, 1, 2],
        _ => &[2],
    }
}

/// Frames the contract leaves open: a version nibble other than 4 and a TCP segment whose
/// total length ends inside its 20-byte header while the frame has it ("malformed").
pub fn open(frame: &[u8]) -> bool {
    malformed(frame, 20)
}

/// [`open`], and for `syn_cookie` also a total length ending inside the TCP options.
pub fn open_cookie(frame: &[u8]) -> bool {
    let doff = frame
        .get(14 + usize::from(frame.get(14).map_or(5, |b| b & 0x0f)) * 4 + 12)
        .map_or(5, |b| usize::from(b >> 4));
    malformed(frame, (doff * 4).max(20))
}

fn malformed(frame: &[u8], header: usize) -> bool {
    if frame.len() < 34 || frame[12..14] != [0x08, 0x00] {
        return false;
    }
    if frame[14] >> 4 != 4 {
        return true;
    }
    let ihl = usize::from(frame[14] & 0x0f);
    let later = u16::from_be_bytes([frame[20], frame[21]]) & 0x1fff != 0;
    let l4 = 14 + ihl * 4;
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    frame[23] == 6 && ihl >= 5 && !later && frame.len() >= l4 + 20 && 14 + total < l4 + header
}

/// The SYN-ACK's freedoms undone: the fields its rule does not name set to 0, the checksums
/// replaced by whether they verify, and the seq by 0 (and a mark) when the kernel accepts it
/// as the cookie of the SYN (else left as sent, so it differs from the reference's).
fn synack_freedoms() -> Normaliser {
    let judge: Arc<Mutex<Option<LoadedProgram>>> = Arc::new(Mutex::new(None));
    Normaliser {
        freedoms: "the SYN-ACK's TOS, id, fragment bits, TTL, window, urgent pointer and \
                   reserved bits, its checksums compared as valid or not, its seq as a cookie \
                   the kernel accepts for the SYN",
        apply: Arc::new(move |input, out| {
            let mut n = out.to_vec();
            if out == input || out.len() < 58 || out[12..14] != [0x08, 0x00] {
                return n;
            }
            let d = traffic::decode(out);
            let (Some(ip), Some(tcp)) = (&d.ipv4, &d.tcp) else {
                return n;
            };
            if ip.ihl != 5 {
                return n;
            }
            n[15] = 0;
            n[18..22].fill(0);
            n[22] = 0;
            n[24..26].copy_from_slice(&[u8::from(ip.csum_ok), 0]);
            n[46] &= 0xf0;
            n[48..50].fill(0);
            n[50..52].copy_from_slice(&[u8::from(tcp_csum_ok(out)), 0]);
            n[52..54].fill(0);
            let mut judge = judge
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // An accepted cookie reads as seq 0 with a mark in the IPv4 checksum's second
            // byte, so a program that sends seq 0 does not look alike.
            if accepted(&mut judge, input, tcp.seq) == Some(true) {
                n[38..42].fill(0);
                n[25] = 1;
            }
            n
        }),
    }
}

/// Whether the TCP checksum of a SYN-ACK (IHL 5, segment to the total length) verifies,
/// whatever its fragment bits say (traffic's decoder leaves a fragment's unchecked).
fn tcp_csum_ok(out: &[u8]) -> bool {
    let total = usize::from(u16::from_be_bytes([out[16], out[17]]));
    let Some(segment) = out.get(34..14 + total.max(20)) else {
        return false;
    };
    let mut pseudo = out[26..34].to_vec();
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(segment.len() as u16).to_be_bytes());
    fold(ones_sum(ones_sum(0, &pseudo), segment)) == 0xffff
}

/// Whether the kernel accepts `cookie` for the SYN `syn` (IHL 5): the ACK a client would send
/// back, test-run through the harness's checker. `None` when the checker cannot run (the
/// difference then stays visible).
fn accepted(judge: &mut Option<LoadedProgram>, syn: &[u8], cookie: u32) -> Option<bool> {
    if syn.len() < 54 {
        return None;
    }
    if judge.is_none() {
        let object =
            XdpObject::from_bytes("xdplab syncookie checker", reference::harness_pass()).ok()?;
        *judge = Some(object.load(Some("xdplab_syncookie_check")).ok()?);
    }
    let ip = |at: usize| Ipv4Addr::new(syn[at], syn[at + 1], syn[at + 2], syn[at + 3]);
    let port = |at: usize| u16::from_be_bytes([syn[at], syn[at + 1]]);
    let seq = u32::from_be_bytes([syn[38], syn[39], syn[40], syn[41]]);
    let ack = crate::eth()
        .ipv4(ip(26), ip(30))
        .tcp(port(34), port(36))
        .tcp_flags(ACK)
        .seq(seq.wrapping_add(1))
        .ack(cookie.wrapping_add(1))
        .build();
    match judge.as_mut()?.test_run(&ack).ok()?.0 {
        Verdict::Pass => Some(true),
        Verdict::Drop => Some(false),
        _ => None,
    }
}
