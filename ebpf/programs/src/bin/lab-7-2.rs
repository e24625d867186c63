//! Lab 7.2 reference object: DDoS mitigation (labs/lab-7-2/README.md has the contract).
//!
//! - `rate_limiter`: a token bucket per IPv4 source (1000 tokens, 1000/s); DROP stats[0],
//!   PASS stats[1].
//! - `syn_guard`: at most 100 SYNs per source per 1-second window; DROP stats[0], PASS stats[1].
//! - `ddos_guard`: blocklist (map `blacklist`), then the bucket, then the SYN window; stats [0]
//!   IPv4 seen, [1] passed, [2] rate-limited, [3] SYN flood, [4] blocklisted.
//! - `syn_cookie`: SYNs answered with an XDP_TX SYN-ACK carrying the kernel's raw syncookie;
//!   bare ACKs passed only when the kernel accepts the cookie. stats [0] SYN-ACKs, [1] cookies
//!   accepted, [2] ACKs dropped.
//!
//! Non-IPv4 and truncated frames PASS. A fragment past offset 0 has no TCP header. Each program has its own per-source maps, so programs
//! sharing this object never share state.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

use aya_ebpf::{
    bindings::xdp_action::{XDP_DROP, XDP_PASS, XDP_TX},
    btf_maps::{HashMap, LruHashMap, PerCpuArray},
    helpers::generated::{
        bpf_ktime_get_ns, bpf_tcp_raw_check_syncookie_ipv4, bpf_tcp_raw_gen_syncookie_ipv4,
        bpf_xdp_adjust_tail,
    },
    macros::{btf_map, xdp},
    programs::XdpContext,
};
use xdplab_programs::{ETH_HDR_LEN, Frame, IPPROTO_TCP, Ipv4Hdr, ipv4};

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

/// Packet counters, u32 bucket -> u64 count (buckets documented per program).
#[btf_map(name = "stats")]
static STATS: PerCpuArray<u64, 5> = PerCpuArray::new();

/// Sources `ddos_guard` drops first: u32 source address in network order -> anything.
#[btf_map(name = "blacklist")]
static BLACKLIST: HashMap<u32, u32, 1024> = HashMap::new();

/// Token buckets of `rate_limiter`, by source address (network order).
#[btf_map(name = "rate_buckets")]
static RATE_BUCKETS: LruHashMap<u32, Bucket, 16384> = LruHashMap::new();
/// SYN windows of `syn_guard`, by source address.
#[btf_map(name = "syn_windows")]
static SYN_WINDOWS: LruHashMap<u32, Window, 16384> = LruHashMap::new();
/// Token buckets of `ddos_guard` (its own, per the contract).
#[btf_map(name = "ddos_buckets")]
static DDOS_BUCKETS: LruHashMap<u32, Bucket, 16384> = LruHashMap::new();
/// SYN windows of `ddos_guard`.
#[btf_map(name = "ddos_windows")]
static DDOS_WINDOWS: LruHashMap<u32, Window, 16384> = LruHashMap::new();

/// One token's worth of time: tokens are kept as nanoseconds of credit, so refill is exact
/// whatever the packet rate (no rounding away of sub-token intervals).
const NS_PER_TOKEN: u64 = 1_000_000_000 / 1000;
/// A full bucket: 1000 tokens.
const CAPACITY_NS: u64 = 1000 * NS_PER_TOKEN;
const WINDOW_NS: u64 = 1_000_000_000;
const SYNS_PER_WINDOW: u64 = 100;

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;
const TCP_HDR_LEN: usize = 20;
/// The SYN-ACK: Ethernet, a 20-byte IPv4 header, TCP with one MSS option.
const SYNACK_TCP_LEN: usize = TCP_HDR_LEN + 4;
const SYNACK_LEN: usize = ETH_HDR_LEN + 20 + SYNACK_TCP_LEN;

#[repr(C)]
struct Bucket {
    credit_ns: u64,
    last_ns: u64,
}

#[repr(C)]
struct Window {
    start_ns: u64,
    syns: u64,
}

#[inline(always)]
fn count(bucket: u32) {
    if let Some(n) = STATS.get_ptr_mut(bucket) {
        // SAFETY: a per-CPU slot; nothing else on this CPU runs while the program does.
        unsafe { *n += 1 };
    }
}

#[inline(always)]
fn now() -> u64 {
    // SAFETY: a helper without arguments.
    unsafe { bpf_ktime_get_ns() }
}

/// Takes one token from `src`'s bucket; false when it is empty.
#[inline(always)]
fn take_token(map: &LruHashMap<u32, Bucket, 16384>, src: u32, now: u64) -> bool {
    match map.get_ptr_mut(&src) {
        Some(b) => {
            // SAFETY: a map value; concurrent updates of one source from two CPUs can lose a
            // token's worth of accounting, which the contract's tolerance absorbs.
            let b = unsafe { &mut *b };
            let credit = (b.credit_ns + now.saturating_sub(b.last_ns)).min(CAPACITY_NS);
            b.last_ns = now;
            if credit >= NS_PER_TOKEN {
                b.credit_ns = credit - NS_PER_TOKEN;
                true
            } else {
                b.credit_ns = credit;
                false
            }
        }
        None => {
            // A new source starts full and pays for this packet.
            let fresh = Bucket {
                credit_ns: CAPACITY_NS - NS_PER_TOKEN,
                last_ns: now,
            };
            let _ = map.insert(&src, &fresh, 0);
            true
        }
    }
}

/// Counts a SYN in `src`'s window; false when the window already had its 100.
#[inline(always)]
fn syn_allowed(map: &LruHashMap<u32, Window, 16384>, src: u32, now: u64) -> bool {
    if let Some(w) = map.get_ptr_mut(&src) {
        // SAFETY: a map value (same caveat as the buckets).
        let w = unsafe { &mut *w };
        if now.saturating_sub(w.start_ns) < WINDOW_NS {
            w.syns += 1;
            return w.syns <= SYNS_PER_WINDOW;
        }
    }
    let _ = map.insert(
        &src,
        &Window {
            start_ns: now,
            syns: 1,
        },
        0,
    );
    true
}

/// Whether the packet is a fragment past offset 0: its first bytes are the middle of a
/// payload, not a transport header.
#[inline(always)]
fn later_fragment(ip: &Ipv4Hdr) -> bool {
    u16::from_be_bytes(ip.frag_off) & 0x1fff != 0
}

/// The TCP flags byte of a packet with a complete 20-byte TCP header, else `None`.
#[inline(always)]
fn tcp_flags(frame: &Frame<'_>, ip: &Ipv4Hdr) -> Option<u8> {
    if ip.protocol != IPPROTO_TCP || later_fragment(ip) {
        return None;
    }
    let tcp: &[u8; TCP_HDR_LEN] = frame.get(ip.transport_offset()?)?;
    Some(tcp[13])
}

/// SYN set and ACK clear; other bits do not matter.
#[inline(always)]
fn is_syn(flags: u8) -> bool {
    flags & (TCP_SYN | TCP_ACK) == TCP_SYN
}

#[xdp]
pub fn rate_limiter(ctx: XdpContext) -> u32 {
    let frame = Frame::new(&ctx);
    let Some(ip) = ipv4(&frame) else {
        count(1);
        return XDP_PASS;
    };
    if take_token(&RATE_BUCKETS, u32::from_ne_bytes(ip.src), now()) {
        count(1);
        XDP_PASS
    } else {
        count(0);
        XDP_DROP
    }
}

#[xdp]
pub fn syn_guard(ctx: XdpContext) -> u32 {
    let frame = Frame::new(&ctx);
    if let Some(ip) = ipv4(&frame)
        && let Some(flags) = tcp_flags(&frame, ip)
        && is_syn(flags)
        && !syn_allowed(&SYN_WINDOWS, u32::from_ne_bytes(ip.src), now())
    {
        count(0);
        return XDP_DROP;
    }
    count(1);
    XDP_PASS
}

#[xdp]
pub fn ddos_guard(ctx: XdpContext) -> u32 {
    let frame = Frame::new(&ctx);
    let Some(ip) = ipv4(&frame) else {
        return XDP_PASS;
    };
    count(0);
    let src = u32::from_ne_bytes(ip.src);
    // SAFETY: only presence is asked; the value is never read.
    if unsafe { BLACKLIST.get(&src) }.is_some() {
        count(4);
        return XDP_DROP;
    }
    let t = now();
    if !take_token(&DDOS_BUCKETS, src, t) {
        count(2);
        return XDP_DROP;
    }
    if let Some(flags) = tcp_flags(&frame, ip)
        && is_syn(flags)
        && !syn_allowed(&DDOS_WINDOWS, src, t)
    {
        count(3);
        return XDP_DROP;
    }
    count(1);
    XDP_PASS
}

#[xdp]
pub fn syn_cookie(ctx: XdpContext) -> u32 {
    match try_syn_cookie(&ctx) {
        Some(action) => action,
        None => XDP_PASS,
    }
}

/// `None` for everything the contract passes untouched.
#[inline(always)]
fn try_syn_cookie(ctx: &XdpContext) -> Option<u32> {
    let frame = Frame::new(ctx);
    let ip = ipv4(&frame)?;
    // SYNs are answered only with a 20-byte IPv4 header (the SYN-ACK is built in place). The
    // constant offset keeps the bounds check in a form the verifier follows.
    if ip.protocol == IPPROTO_TCP && ip.ihl() == 5 && !later_fragment(ip) {
        let tcp: &[u8; TCP_HDR_LEN] = frame.get(ETH_HDR_LEN + 20)?;
        if is_syn(tcp[13]) {
            return syn_ack(ctx);
        }
    }
    let flags = tcp_flags(&frame, ip)?;
    if is_syn(flags) {
        return None;
    }
    let l4 = ip.transport_offset()?;
    let bare_ack = flags & (TCP_ACK | TCP_SYN | TCP_RST | TCP_FIN) == TCP_ACK;
    let tcp: &[u8; TCP_HDR_LEN] = frame.get(l4)?;
    let header_len = usize::from(ip.ihl()) * 4 + usize::from(tcp[12] >> 4) * 4;
    if !bare_ack || usize::from(u16::from_be_bytes(ip.total_len)) != header_len {
        return None;
    }
    let iph = ip as *const Ipv4Hdr as *mut _;
    let th = tcp as *const [u8; TCP_HDR_LEN] as *mut _;
    // SAFETY: both point at complete headers inside the frame (20 bytes each, the sizes the
    // helper reads).
    if unsafe { bpf_tcp_raw_check_syncookie_ipv4(iph, th) } == 0 {
        count(1);
        Some(XDP_PASS)
    } else {
        count(2);
        Some(XDP_DROP)
    }
}

/// A pointer to `N` writable bytes at `offset`, or `None` past the end.
#[inline(always)]
fn bytes_mut<const N: usize>(ctx: &XdpContext, offset: usize) -> Option<*mut [u8; N]> {
    let at = ctx.data() + offset;
    if at + N > ctx.data_end() {
        return None;
    }
    Some(at as *mut [u8; N])
}

/// Folds a 32-bit one's-complement sum to the 16-bit checksum.
#[inline(always)]
fn fold(mut sum: u32) -> u16 {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

#[inline(always)]
fn sum_words<const N: usize>(bytes: &[u8; N]) -> u32 {
    let mut sum = 0u32;
    let mut i = 0;
    while i + 1 < N {
        sum += u32::from(u16::from_be_bytes([bytes[i], bytes[i + 1]]));
        i += 2;
    }
    sum
}

/// Turns the SYN in the frame (IHL 5) into its SYN-ACK and returns XDP_TX.
#[inline(always)]
fn syn_ack(ctx: &XdpContext) -> Option<u32> {
    const L4: usize = ETH_HDR_LEN + 20;
    let fixed: *mut [u8; TCP_HDR_LEN] = bytes_mut(ctx, L4)?;
    // SAFETY: in bounds, checked by `bytes_mut`.
    let doff = unsafe { (*fixed)[12] } >> 4;
    // The helper reads `tcp_len` bytes of header, a length the verifier must prove to be at
    // least 1 and at most the buffer. A check `doff >= 5` would let the compiler compute
    // `doff * 4` as `(byte >> 2) & 60`, whose lower bound older verifiers (Debian's 6.1) lose
    // ("invalid zero-sized read"). So the length is built so that its last step is `+ 20`: the
    // verifier sees [20, 80] whatever the compiler does, and the buffer has 80 bytes. It equals
    // `doff * 4` for every valid doff (5..=15); for doff < 5 it is 64..=80, which the helper
    // rejects (it wants `tcp_len == doff * 4`), so such a SYN passes, as the contract says.
    let tcp_len = TCP_HDR_LEN + usize::from(doff.wrapping_sub(5) & 0xf) * 4;
    // The helper gets a copy on the stack: a buffer of fixed size is what the verifier can check
    // a variable length against. Byte by byte, because bpf_xdp_load_bytes wants a length the
    // verifier can prove nonzero, and the compiler folds such proofs away.
    let frame = Frame::new(ctx);
    let mut th = [0u8; TCP_HDR_LEN + 15 * 4];
    let mut i = 0;
    while i < th.len() && i < tcp_len {
        // A SYN whose options are cut short is truncated: it passes.
        th[i] = *frame.get::<u8>(L4 + i)?;
        i += 1;
    }
    let iph: *mut [u8; 20] = bytes_mut(ctx, ETH_HDR_LEN)?;
    // SAFETY: a complete IPv4 header and `tcp_len` initialised bytes of TCP header.
    let cookie = unsafe {
        bpf_tcp_raw_gen_syncookie_ipv4(iph.cast(), th.as_mut_ptr().cast(), tcp_len as u32)
    };
    if cookie < 0 {
        return None;
    }
    let mss = (cookie >> 32) as u16;
    let cookie = cookie as u32;

    // SAFETY: in bounds (checked above); read before anything is overwritten.
    let (mut eth, mut ip) = unsafe { (*bytes_mut::<ETH_HDR_LEN>(ctx, 0)?, *iph) };
    let client_seq = u32::from_be_bytes([th[4], th[5], th[6], th[7]]);

    let len = (ctx.data_end() - ctx.data()) as i32;
    // SAFETY: shrinks or grows the frame; every pointer is taken anew below.
    if unsafe { bpf_xdp_adjust_tail(ctx.ctx, SYNACK_LEN as i32 - len) } != 0 {
        return None;
    }

    let dst_mac = [eth[0], eth[1], eth[2], eth[3], eth[4], eth[5]];
    eth.copy_within(6..12, 0);
    eth[6..12].copy_from_slice(&dst_mac);
    let (src, dst) = (
        [ip[12], ip[13], ip[14], ip[15]],
        [ip[16], ip[17], ip[18], ip[19]],
    );
    ip[2..4].copy_from_slice(&((20 + SYNACK_TCP_LEN) as u16).to_be_bytes());
    ip[1] = 0; // TOS
    ip[6..8].copy_from_slice(&[0x40, 0]); // DF, no fragment offset
    ip[8] = 64; // TTL
    ip[10..12].copy_from_slice(&[0, 0]);
    ip[12..16].copy_from_slice(&dst);
    ip[16..20].copy_from_slice(&src);
    let csum = fold(sum_words(&ip));
    ip[10..12].copy_from_slice(&csum.to_be_bytes());

    let mut tcp = [0u8; SYNACK_TCP_LEN];
    tcp[0..2].copy_from_slice(&th[2..4]);
    tcp[2..4].copy_from_slice(&th[0..2]);
    tcp[4..8].copy_from_slice(&cookie.to_be_bytes());
    tcp[8..12].copy_from_slice(&client_seq.wrapping_add(1).to_be_bytes());
    tcp[12] = (SYNACK_TCP_LEN as u8 / 4) << 4;
    tcp[13] = TCP_SYN | TCP_ACK;
    tcp[14..16].copy_from_slice(&u16::MAX.to_be_bytes()); // window
    tcp[20..24].copy_from_slice(&[2, 4, (mss >> 8) as u8, mss as u8]);
    let pseudo = sum_words(&dst) + sum_words(&src) + u32::from(IPPROTO_TCP) + SYNACK_TCP_LEN as u32;
    let csum = fold(pseudo + sum_words(&tcp));
    tcp[16..18].copy_from_slice(&csum.to_be_bytes());

    let out: *mut [u8; SYNACK_LEN] = bytes_mut(ctx, 0)?;
    // SAFETY: the frame is now exactly SYNACK_LEN bytes, checked by `bytes_mut`.
    unsafe {
        let out = &mut *out;
        out[..ETH_HDR_LEN].copy_from_slice(&eth);
        out[ETH_HDR_LEN..L4].copy_from_slice(&ip);
        out[L4..].copy_from_slice(&tcp);
    }
    count(0);
    Some(XDP_TX)
}

/// The host build has nothing to run; the programs exist only in the eBPF object.
#[cfg(not(target_arch = "bpf"))]
fn main() {}
