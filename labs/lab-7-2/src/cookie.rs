//! `syn_cookie`: SYNs answered with an XDP-built SYN-ACK carrying the kernel's raw syncookie;
//! bare ACKs passed only when the kernel accepts the cookie they return.
//!
//! The cookie itself cannot be predicted (the kernel's secret is in it), so it is checked the
//! only way that means something: by completing handshakes with it, crafted and real.

use std::net::{Ipv4Addr, SocketAddrV4};

use harness::{
    Check, Probe, counters,
    judgement::Judgement,
    table::{Shown, Table},
};
use kernel::{
    Error, Outcome, Result, Verdict, XdpObject,
    object::LoadedProgram,
    target::Target,
    tcp::{self, Connection},
    topology::{CLIENT_MAC, DUT_MAC, End, TopologySpec},
};
use traffic::{FrameBuilder, decode, decode::TcpOpt};

use crate::{
    Free, STATS, SYN_COOKIE, Stat, eth,
    flags::{ACK, CWR, ECE, FIN, PSH, RST, SYN},
};

/// Addresses of the real handshake (the crafted frames use other, non-local ones, so neither
/// stack answers them).
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const SERVER_PORT: u16 = 8080;

/// The MSS values a syncookie can encode (the kernel's msstab for IPv4).
const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];
/// The SYN-ACK the contract asks for: Ethernet, 20-byte IPv4, 20-byte TCP and one MSS option.
const SYNACK_LEN: usize = 14 + 20 + 24;
/// The shortest frame on a real wire (without its FCS): shorter ones are padded to it.
const MIN_FRAME: usize = 60;

/// The network of this part: the pair, with addresses so a real client and server can talk.
pub(crate) fn topology() -> TopologySpec {
    let mut spec = TopologySpec::pair();
    spec.links = vec![(
        End::new("client", "eth0", CLIENT_MAC).with_addr(CLIENT_IP, 24),
        End::new("dut", "eth0", DUT_MAC).with_addr(SERVER_IP, 24),
    )];
    spec
}

/// Where the crafted frames' sources come from: 198.51.100.0/24 under seed 0.
#[derive(Clone, Copy)]
struct Sources(u8);

impl Sources {
    fn src(self, n: u8) -> Ipv4Addr {
        Ipv4Addr::new(198, 51, self.0, n)
    }
}

/// The MSS a cookie encodes for a SYN offering `mss`: the largest table entry not above it.
fn cookie_mss(mss: Option<u16>) -> u16 {
    let mss = mss.unwrap_or(536);
    MSS_TABLE
        .iter()
        .rev()
        .copied()
        .find(|&m| mss >= m)
        .unwrap_or(MSS_TABLE[0])
}

/// A SYN as the checks send it: from `src:sport` to `dst:dport` with sequence number `seq`
/// and TCP options.
#[derive(Clone)]
struct Syn {
    name: &'static str,
    src: Ipv4Addr,
    sport: u16,
    dst: Ipv4Addr,
    dport: u16,
    seq: u32,
    options: Vec<u8>,
    mss: Option<u16>,
    data: Vec<u8>,
    padded: bool,
    /// The IPv4 Identification (the frame is untagged).
    id: u16,
    /// Its flags: SYN, with any others but ACK.
    flags: u8,
}

impl Syn {
    /// A SYN from `src` with the ports, destination and sequence number the contract leaves
    /// free taken from `f`.
    fn new(f: &Free, name: &'static str, src: Ipv4Addr) -> Self {
        let sport = f.sport();
        Self {
            name,
            src,
            sport,
            dst: f.dst(),
            dport: f.dport(),
            seq: 1000 + u32::from(sport),
            options: Vec::new(),
            mss: None,
            data: Vec::new(),
            padded: false,
            id: 0,
            flags: SYN,
        }
    }

    /// Flags beside SYN (ACK clear), which the SYN rule ignores.
    fn also(mut self, flags: u8) -> Self {
        self.flags = SYN | flags;
        self
    }

    /// Options filling the whole 40 bytes a TCP header can carry (data offset 15): NOPs, then
    /// the MSS in the last four. A program that copies fewer bytes of the header misses it.
    fn full_options(mut self, mss: u16) -> Self {
        self = self.mss_only(mss);
        let mut options = vec![1; 36];
        options.append(&mut self.options);
        self.options = options;
        self
    }

    /// An IPv4 Identification for which the SYN-ACK's header (this SYN's id kept, TOS 0, no
    /// flags, TTL 64, addresses swapped) sums, in 16-bit words read `little_endian` or not, to
    /// a value whose first fold carries again: a program folding its checksum once gets it
    /// wrong.
    fn carrying_twice(mut self, little_endian: bool) -> Self {
        let word = |hi: u8, lo: u8| {
            u32::from(if little_endian {
                u16::from_le_bytes([hi, lo])
            } else {
                u16::from_be_bytes([hi, lo])
            })
        };
        let [s0, s1, s2, s3] = self.src.octets();
        let [d0, d1, d2, d3] = self.dst.octets();
        let rest = word(0x45, 0)
            + word(0, 44)
            + word(64, 6)
            + word(s0, s1)
            + word(s2, s3)
            + word(d0, d1)
            + word(d2, d3);
        let carries = |id: u16| {
            let [hi, lo] = id.to_be_bytes();
            let sum = rest + word(hi, lo);
            (sum & 0xffff) + (sum >> 16) > 0xffff
        };
        self.id = (1..=u16::MAX)
            .find(|&id| carries(id))
            .expect("the header's other words sum past 0xffff");
        self
    }

    /// Bytes of data after the header (a SYN may carry some).
    fn data(mut self, data: &[u8]) -> Self {
        self.data = data.to_vec();
        self
    }

    /// Ethernet padding to the 60 bytes a real wire's shortest frame has.
    fn padded(mut self) -> Self {
        self.padded = true;
        self
    }

    /// The options a Linux client sends: MSS, SACK permitted, timestamps, window scale.
    fn linux_options(mut self, mss: u16) -> Self {
        let [hi, lo] = mss.to_be_bytes();
        self.options = vec![
            2, 4, hi, lo, 4, 2, 8, 10, 0, 0, 0x30, 0x39, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        self.mss = Some(mss);
        self
    }

    fn mss_only(mut self, mss: u16) -> Self {
        let [hi, lo] = mss.to_be_bytes();
        self.options = vec![2, 4, hi, lo];
        self.mss = Some(mss);
        self
    }

    /// No tag: the SYN-ACK is built from it, and a trailer would only be cut.
    fn frame(&self) -> FrameBuilder {
        let syn = eth()
            .ipv4(self.src, self.dst)
            .tcp(self.sport, self.dport)
            .tcp_flags(self.flags)
            .seq(self.seq)
            .tcp_options(&self.options)
            .payload(&self.data)
            .ip_id(self.id);
        if self.padded {
            syn.pad_to(MIN_FRAME)
        } else {
            syn
        }
    }

    /// A bare ACK answering a SYN-ACK whose sequence number was `cookie`.
    fn ack(&self, cookie: u32) -> FrameBuilder {
        eth()
            .ipv4(self.src, self.dst)
            .tcp(self.sport, self.dport)
            .tcp_flags(ACK)
            .seq(self.seq.wrapping_add(1))
            .ack(cookie.wrapping_add(1))
    }
}

fn syns(f: &Free, s: Sources, base: u8) -> Vec<Syn> {
    // The header sums need destinations whose words add up past 0xffff.
    let far_dst = Ipv4Addr::new(203, 0, 113, 254);
    let mut carry_le = Syn::new(
        f,
        "syn whose reply's ipv4 header sum carries twice (le words)",
        s.src(base + 6),
    );
    carry_le.dst = far_dst;
    let mut carry_be = Syn::new(
        f,
        "syn whose reply's ipv4 header sum carries twice (be words)",
        s.src(base + 7),
    );
    carry_be.dst = far_dst;
    // An odd first octet: a checksum that drops a low bit of the address words gets it wrong.
    let odd = Syn::new(
        f,
        "syn from an address with an odd first octet",
        Ipv4Addr::new(199, 51, s.0, base + 8),
    );
    vec![
        Syn::new(f, "syn, linux options, mss 1460", s.src(base)).linux_options(1460),
        Syn::new(f, "syn, mss 1400", s.src(base + 1)).mss_only(1400),
        Syn::new(f, "syn, no options", s.src(base + 2)),
        Syn::new(f, "syn, mss 1460, 8 bytes of data", s.src(base + 3))
            .mss_only(1460)
            .data(b"xdplab!!"),
        Syn::new(f, "syn, no options, padded to 60 bytes", s.src(base + 4)).padded(),
        Syn::new(
            f,
            "syn, 40 bytes of options ending in mss 1440 (data offset 15)",
            s.src(base + 5),
        )
        .full_options(1440),
        carry_le.carrying_twice(true),
        carry_be.carrying_twice(false),
        odd,
        // An ECN-setup SYN, as Linux sends with net.ipv4.tcp_ecn=1.
        Syn::new(f, "syn|ece|cwr, mss 1460", s.src(base + 8))
            .also(ECE | CWR)
            .mss_only(1460),
    ]
}

/// The harness's own judge of a cookie: its XDP program, test-run on the ACK a client would
/// send back, asks `bpf_tcp_raw_check_syncookie_ipv4` whether the kernel accepts it.
struct CookieJudge(LoadedProgram);

impl CookieJudge {
    fn load() -> Result<Self> {
        let object = XdpObject::from_bytes("xdplab syncookie checker", reference::harness_pass())?;
        Ok(Self(object.load(Some("xdplab_syncookie_check"))?))
    }

    /// Whether the kernel accepts `cookie` for `syn`.
    fn accepts(&mut self, syn: &Syn, cookie: u32) -> Result<bool> {
        let (verdict, _, _) = self.0.test_run_timed(&syn.ack(cookie).build())?;
        match verdict {
            Verdict::Pass => Ok(true),
            Verdict::Drop => Ok(false),
            other => Err(Error::env(format!(
                "the harness's syncookie checker answered {other}; the kernel's \
                 bpf_tcp_raw_check_syncookie_ipv4 is not usable here"
            ))),
        }
    }
}

pub(crate) fn checks(f: &Free) -> Vec<Check> {
    let c = |name: &str, desc: &str| SYN_COOKIE.check(name, desc);
    let s = Sources(f.net(100));
    let (rewritten, summed) = (syns(f, s, 1), syns(f, s, 40));
    let handshaken = Syn::new(f, "", s.src(10)).linux_options(1460);
    let forged_syn = Syn::new(f, "", s.src(20)).linux_options(1460);
    let other_src = s.src(21);
    vec![
        c(
            "syn-ack-rewrite",
            "SYNs are answered with XDP_TX SYN-ACKs: swapped, a cookie the kernel accepts, \
             ack = seq + 1, MSS option, 58 bytes",
        )
        .custom(move |t| rewrite(t, &rewritten)),
        c("syn-ack-checksums", "the SYN-ACKs' IPv4 and TCP checksums are valid")
            .custom(move |t| checksums(t, &summed)),
        c(
            "cookie-handshake",
            "bare ACKs (PSH, IPv4 options, padding) returning the SYN-ACK's cookie pass into \
             stats[1]",
        )
        .custom(move |t| handshake(t, &handshaken)),
        c(
            "forged-acks-dropped",
            "bare ACKs (PSH, IPv4 options, padding) with a wrong, stale or misplaced cookie are \
             dropped into stats[2]",
        )
        .custom(move |t| forged(t, &forged_syn, other_src)),
        c(
            "other-traffic-passes",
            "non-bare ACKs, SYN-ACKs, RSTs, UDP, SYNs with IPv4 options, cut or non-IPv4 frames pass",
        )
        .counting(STATS)
        .probes(others(f, s)),
        // A forged bare ACK, dropped into stats[2] on every run (a SYN would be rewritten in
        // place, and the next run of the same buffer would see the SYN-ACK).
        harness::cpus::counts_from_2_cpus(
            SYN_COOKIE.lab,
            SYN_COOKIE.program,
            STATS,
            vec![Syn::new(f, "", s.src(50)).ack(0x1234_5678).build()],
            (1, Some(Stat::AckDropped.into())),
        ),
        c(
            "real-client",
            "a real TCP client's SYN is answered by XDP; its ACK reaches the server, which accepts",
        )
        .needs_veth()
        .custom(real_client),
    ]
}

/// Renders the deltas of `stats[0..3]` against `pairs` (indexes not listed must not move).
fn stats_rows(table: &mut Table, pairs: &[(Stat, u64)], deltas: &[u64]) {
    let want = pairs
        .iter()
        .map(|&(i, n)| (i.into(), Shown::fixed(n)))
        .collect();
    table.counters(STATS, Some(3), &want, deltas);
}

/// The decoded SYN-ACK of an outcome, if the program sent one back.
fn synack(outcome: &Outcome) -> Option<traffic::Decoded> {
    (outcome.verdict == Verdict::Tx)
        .then(|| outcome.bytes.as_deref().map(decode))
        .flatten()
}

/// The SYN-ACK answering `sent`, if the program sent one back: TX, SYN and ACK set, addresses
/// and ports swapped, ack = seq + 1. An echo of the SYN, or any other frame, answers nothing.
fn answer(outcome: &Outcome, sent: &[u8]) -> Option<traffic::Decoded> {
    let reply = synack(outcome)?;
    let syn = decode(sent);
    let (ip, tcp) = (reply.ipv4.as_ref()?, reply.tcp.as_ref()?);
    let (syn_ip, syn_tcp) = (syn.ipv4.as_ref()?, syn.tcp.as_ref()?);
    let answers = tcp.flags & (SYN | ACK) == SYN | ACK
        && (ip.src, ip.dst) == (syn_ip.dst, syn_ip.src)
        && (tcp.sport, tcp.dport) == (syn_tcp.dport, syn_tcp.sport)
        && tcp.ack == syn_tcp.seq.wrapping_add(1);
    answers.then_some(reply)
}

fn flag_names(flags: u8) -> String {
    let names = [
        (SYN, "SYN"),
        (ACK, "ACK"),
        (FIN, "FIN"),
        (RST, "RST"),
        (PSH, "PSH"),
    ];
    let mut out: Vec<&str> = names
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if flags & !(SYN | ACK | FIN | RST | PSH) != 0 {
        out.push("other bits");
    }
    if out.is_empty() {
        "none".into()
    } else {
        out.join("|")
    }
}

/// The fields of a SYN-ACK the contract fixes, one line each (the cookie is not among them).
fn synack_lines(d: &traffic::Decoded, len: usize) -> Vec<String> {
    let mut lines = Vec::new();
    match &d.eth {
        Some(e) => lines.push(format!("eth {} > {}", e.src, e.dst)),
        None => lines.push("no ethernet header".into()),
    }
    match &d.ipv4 {
        Some(ip) => lines.push(format!(
            "ipv4 {} > {}, ihl {}, total length {}, protocol {}",
            ip.src, ip.dst, ip.ihl, ip.total_len, ip.proto
        )),
        None => lines.push("no ipv4 header".into()),
    }
    match &d.tcp {
        Some(tcp) => {
            lines.push(format!(
                "tcp {} > {}, flags {}, ack {}, data offset {}",
                tcp.sport,
                tcp.dport,
                flag_names(tcp.flags),
                tcp.ack,
                tcp.data_offset
            ));
            let mss: Vec<String> = tcp
                .option_list()
                .iter()
                .filter_map(|o| match o {
                    TcpOpt::Mss(m) => Some(m.to_string()),
                    _ => None,
                })
                .collect();
            lines.push(format!(
                "mss option {}",
                if mss.is_empty() {
                    "missing".into()
                } else {
                    mss.join(", ")
                }
            ));
        }
        None => lines.push("no tcp header".into()),
    }
    lines.push(format!("frame {len} bytes"));
    lines
}

fn expected_lines(syn: &Syn) -> Vec<String> {
    vec![
        format!("eth {DUT_MAC} > {CLIENT_MAC}"),
        format!(
            "ipv4 {} > {}, ihl 5, total length 44, protocol 6",
            syn.dst, syn.src
        ),
        format!(
            "tcp {} > {}, flags SYN|ACK, ack {}, data offset 6",
            syn.dport,
            syn.sport,
            syn.seq.wrapping_add(1)
        ),
        format!("mss option {}", cookie_mss(syn.mss)),
        format!("frame {SYNACK_LEN} bytes"),
        COOKIE_OK.to_owned(),
    ]
}

/// NOP, NOP, timestamps: the options of a Linux client's ACK (data offset 8, no payload).
const TIMESTAMPS: [u8; 12] = [1, 1, 8, 10, 0, 0, 0x30, 0x39, 0, 0, 0, 1];

const COOKIE_OK: &str = "seq: a cookie the kernel accepts for this SYN";

fn rewrite(t: &mut dyn Target, syns: &[Syn]) -> Result<Judgement> {
    let mut table = Table::default();
    let mut judge = CookieJudge::load()?;
    for syn in syns {
        let out = t.exchange(&syn.frame().build())?;
        let name = format!(
            "{} from {}:{} seq {}",
            syn.name, syn.src, syn.sport, syn.seq
        );
        table.row(&name, "TX", out.verdict.to_string());
        let actual = match synack(&out) {
            Some(d) => {
                let mut lines = synack_lines(&d, out.bytes.as_ref().map_or(0, Vec::len));
                if let Some(tcp) = &d.tcp {
                    lines.push(if judge.accepts(syn, tcp.seq)? {
                        COOKIE_OK.to_owned()
                    } else {
                        format!(
                            "seq {}: not a cookie the kernel accepts for this SYN",
                            tcp.seq
                        )
                    });
                }
                lines
            }
            None => Vec::new(),
        };
        let expected = expected_lines(syn);
        for i in 0..expected.len().max(actual.len()) {
            table.row(
                "",
                expected.get(i).map_or("", String::as_str),
                actual.get(i).map_or("", String::as_str),
            );
        }
    }
    Ok(table.judge())
}

fn checksums(t: &mut dyn Target, syns: &[Syn]) -> Result<Judgement> {
    let mut table = Table::default();
    for syn in syns {
        let frame = syn.frame().build();
        let out = t.exchange(&frame)?;
        let got = match answer(&out, &frame) {
            Some(d) => format!(
                "ipv4 checksum {}, tcp checksum {}",
                d.ipv4
                    .as_ref()
                    .map_or("missing".into(), |ip| ip.csum.to_string()),
                d.tcp
                    .as_ref()
                    .map_or("missing".into(), |tcp| match tcp.csum {
                        // The sum covers the cookie, which holds the kernel's secret and the time:
                        // its values differ from run to run, so they are shown as measured.
                        decode::Csum::Bad { got, want } => {
                            format!("BAD (⟨0x{got:04x}⟩, want ⟨0x{want:04x}⟩)")
                        }
                        other => other.to_string(),
                    }),
            ),
            None => format!("{} (no SYN-ACK answering it)", out.verdict),
        };
        table.row(syn.name, "ipv4 checksum ok, tcp checksum ok", got);
    }
    Ok(table.judge())
}

/// Sends `syn` and returns the cookie of the SYN-ACK, with a row saying how that went.
fn cookie_of(t: &mut dyn Target, table: &mut Table, syn: &Syn) -> Result<Option<u32>> {
    let frame = syn.frame().build();
    let out = t.exchange(&frame)?;
    let cookie = answer(&out, &frame).and_then(|d| d.tcp).map(|tcp| tcp.seq);
    let name = format!("syn from {}:{} seq {}", syn.src, syn.sport, syn.seq);
    table.row(
        &name,
        "TX, a SYN-ACK with a cookie",
        match cookie {
            Some(_) => "TX, a SYN-ACK with a cookie".to_string(),
            None => format!(
                "{}, no SYN-ACK answering it to take a cookie from",
                out.verdict
            ),
        },
    );
    Ok(cookie)
}

fn handshake(t: &mut dyn Target, syn: &Syn) -> Result<Judgement> {
    let mut table = Table::default();
    let ((), d) = counters::across_up_to(t, STATS, Some(2), |t| {
        if let Some(cookie) = cookie_of(t, &mut table, syn)? {
            // Bare ACKs all: PSH and IPv4 options do not matter, nor does Ethernet padding
            // (the IPv4 total length says there is no payload).
            let acks = [
                ("ack", syn.ack(cookie)),
                ("psh|ack", syn.ack(cookie).tcp_flags(ACK | PSH)),
                (
                    "ack with ipv4 options (ihl 6)",
                    syn.ack(cookie).ip_options(&[1, 1, 1, 1]),
                ),
                ("ack padded to 60 bytes", syn.ack(cookie).pad_to(MIN_FRAME)),
                (
                    "ack with 12 bytes of timestamp options",
                    syn.ack(cookie).tcp_options(&TIMESTAMPS),
                ),
                ("ece|ack", syn.ack(cookie).tcp_flags(ACK | ECE)),
            ];
            for (name, ack) in acks {
                let out = t.exchange(&ack.build())?;
                table.row(
                    &format!("{name}, seq {}, ack = cookie + 1", syn.seq + 1),
                    "PASS",
                    out.verdict.to_string(),
                );
            }
        }
        Ok(())
    })?;
    stats_rows(
        &mut table,
        &[(Stat::SynAck, 1), (Stat::CookieAccepted, 6)],
        &d,
    );
    Ok(table.judge())
}

fn forged(t: &mut dyn Target, syn: &Syn, stranger: Ipv4Addr) -> Result<Judgement> {
    let mut table = Table::default();
    let ((), d) = counters::across_up_to(t, STATS, Some(2), |t| {
        forged_acks(t, &mut table, syn, stranger)
    })?;
    stats_rows(&mut table, &[(Stat::SynAck, 1), (Stat::AckDropped, 11)], &d);
    Ok(table.judge())
}

fn forged_acks(t: &mut dyn Target, table: &mut Table, syn: &Syn, stranger: Ipv4Addr) -> Result<()> {
    if let Some(cookie) = cookie_of(t, table, syn)? {
        let mut other_port = syn.clone();
        other_port.sport = syn.sport.wrapping_add(1);
        let mut other_dport = syn.clone();
        other_dport.dport = syn.dport.wrapping_add(1);
        let mut other_src = syn.clone();
        other_src.src = stranger;
        // The kernel's check tolerates a cookie off by a little (the low bits carry the MSS
        // index, and a neighbouring index is valid too), so wrong values are off by 0x1000.
        let mut other_seq = syn.clone();
        other_seq.seq += 0x1000;
        // The top 8 bits of a cookie count minutes; 3 minutes back is past the kernel's 2.
        let stale = cookie.wrapping_sub(3 << 24);
        let acks: Vec<(&str, FrameBuilder)> = vec![
            (
                "ack = cookie + 0x1001",
                syn.ack(cookie.wrapping_add(0x1000)),
            ),
            ("cookie from 3 minutes ago (stale)", syn.ack(stale)),
            ("right cookie, other source port", other_port.ack(cookie)),
            ("right cookie, other source address", other_src.ack(cookie)),
            (
                "right cookie, other destination port",
                other_dport.ack(cookie),
            ),
            (
                "right cookie, seq = the SYN's + 0x1001",
                other_seq.ack(cookie),
            ),
            (
                "psh|ack, ack = cookie + 0x1001",
                syn.ack(cookie.wrapping_add(0x1000)).tcp_flags(ACK | PSH),
            ),
            (
                "ihl 6, ack = cookie + 0x1001",
                syn.ack(cookie.wrapping_add(0x1000))
                    .ip_options(&[1, 1, 1, 1]),
            ),
            (
                "padded to 60 bytes, ack = cookie + 0x1001",
                syn.ack(cookie.wrapping_add(0x1000)).pad_to(MIN_FRAME),
            ),
            // Flags and options the bare-ACK rule ignores: still bare, still checked.
            (
                "ece|ack, ack = cookie + 0x1001",
                syn.ack(cookie.wrapping_add(0x1000)).tcp_flags(ACK | ECE),
            ),
            (
                "12 bytes of timestamp options, ack = cookie + 0x1001",
                syn.ack(cookie.wrapping_add(0x1000))
                    .tcp_options(&TIMESTAMPS),
            ),
        ];
        for (name, ack) in &acks {
            let out = t.exchange(&ack.build())?;
            table.row(name, "DROP", out.verdict.to_string());
        }
    }
    Ok(())
}

/// Frames the program must pass untouched, counting nothing (untagged: bare TCP segments
/// must stay bare, so each is told apart by its bytes).
fn others(f: &Free, sources: Sources) -> Vec<Probe> {
    let s = sources.src(30);
    let wrong = Syn::new(f, "", s);
    let bad_ack = |flags: u8| wrong.ack(0x1234_5678).tcp_flags(flags);
    let probes: Vec<(&str, FrameBuilder)> = vec![
        (
            "ack with payload, wrong cookie",
            bad_ack(ACK | PSH).payload(b"data"),
        ),
        ("rst|ack, wrong cookie", bad_ack(RST | ACK)),
        ("fin|ack, wrong cookie", bad_ack(FIN | ACK)),
        ("syn-ack", bad_ack(SYN | ACK)),
        ("rst", bad_ack(RST)),
        ("udp", f.udp(s)),
        // A parser that skips the protocol test reads data offset 5 and SYN here.
        (
            "udp reading as a syn",
            f.udp(s).payload(&[0, 0, 0, 0, 0x50, SYN, 0, 0, 0, 0, 0, 0]),
        ),
        (
            "syn with ipv4 options (ihl 6)",
            wrong.frame().ip_options(&[1, 1, 1, 1]),
        ),
        (
            "syn cut at 19 tcp bytes",
            wrong.frame().truncate(14 + 20 + 19),
        ),
        (
            "syn with data offset 10, cut at 24 tcp bytes",
            Syn::new(f, "", s)
                .linux_options(1460)
                .frame()
                .truncate(14 + 20 + 24),
        ),
        // A parser taking the transport header at 14 + IHL*4 reads the ack number's first
        // bytes as data offset 5 and flags SYN.
        ("syn with ihl 4", wrong.frame().ack(0x5002_0000).ihl(4)),
        // Read at 14 + IHL*4, its ack number says data offset 6 and ACK, and the total length
        // (40) is 16 + 24: a bare ACK with a wrong cookie to a parser taking an IHL of 4.
        (
            "ack with ihl 4 reading as a bare ack",
            wrong.ack(0x1234_5678).ack(0x6010_0000).ihl(4),
        ),
        // Past offset 0 a fragment holds no TCP header, only bytes that read like one.
        (
            "fragment at offset 64 reading as a syn",
            wrong.frame().fragment(8, false),
        ),
        (
            "fragment at offset 8 reading as a syn",
            wrong.frame().fragment(1, false),
        ),
        (
            "fragment at offset 64 reading as a bare ack",
            wrong.ack(0x1234_5678).fragment(8, false),
        ),
        (
            "ipv6 syn",
            eth()
                .ipv6("fd00::1".parse().unwrap(), "fd00::9".parse().unwrap())
                .tcp(f.sport(), f.dport()),
        ),
        ("arp", crate::arp(0)),
    ];
    // A data offset of 4: a header that ends before its own fields, malformed.
    let mut doff_4 = wrong.frame().build();
    doff_4[14 + 20 + 12] = 4 << 4;
    probes
        .into_iter()
        .map(|(name, frame)| Probe::new(name, frame.build(), Verdict::Pass))
        .chain([Probe::new("syn with data offset 4", doff_4, Verdict::Pass)])
        .collect()
}

fn real_client(t: &mut dyn Target) -> Result<Judgement> {
    let server = SocketAddrV4::new(SERVER_IP, SERVER_PORT);
    let connection = Connection {
        client_ns: "client",
        server_ns: "dut",
        server,
        payload: b"xdplab".to_vec(),
        prime_syncookies: true,
    };
    let mut table = Table::default();
    table.input(format!("client {CLIENT_IP} connects to {server}"));
    let (seen, d) = counters::across_up_to(t, STATS, Some(2), |t| tcp::connect(t, &connection))?;
    let failed = |e: &String| format!("failed: {e}");
    table.row(
        "client connect()",
        "established",
        seen.connect
            .as_ref()
            .map_or_else(failed, |()| "established".into()),
    );
    if let Some(accepted) = &seen.accepted {
        table.row(
            "server accept()",
            format!("from {CLIENT_IP}"),
            accepted
                .as_ref()
                .map_or_else(|e| format!("nothing: {e}"), |peer| format!("from {peer}")),
        );
    }
    if let Some(read) = &seen.read {
        table.row(
            "server reads",
            "\"xdplab\"",
            read.as_ref().map_or_else(failed, |bytes| {
                format!("{:?}", String::from_utf8_lossy(bytes))
            }),
        );
    }
    // One SYN-ACK, one accepted cookie; the data segment is not a bare ACK. stats[2] is
    // reported, not judged: the ACK a client sends for the server's FIN is a bare ACK with no
    // cookie, which the contract drops there, and whether the teardown falls inside the count
    // depends on scheduling (it does on a slow VM).
    let want = if seen.connect.is_ok() {
        [(0, Shown::fixed(1)), (1, Shown::fixed(1))]
            .into_iter()
            .chain(d.get(2).map(|&n| (2, Shown::measured(n))))
            .collect()
    } else {
        // No connection: the counts are of the SYNs the client's kernel retried before it gave
        // up, which the clock decides; shown as measured, the failed connect() is the finding.
        (0..3u32)
            .map(|i| (i, Shown::measured(d.get(i as usize).copied().unwrap_or(0))))
            .collect()
    };
    table.counters(STATS, Some(3), &want, &d);
    Ok(table.judge())
}
