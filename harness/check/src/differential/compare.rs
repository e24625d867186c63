//! What must match between the program and the reference on one frame, "modulo the
//! contract's freedoms": a part's [`Compare`], and the [`Observation`] both sides are reduced to.

use std::{fmt, net::Ipv4Addr, sync::Arc};

use traffic::MacAddr;

use traffic::header::ETH_LEN;

use super::frame::{fold, ones_sum};
use kernel::{
    error::Result,
    target::Target,
    verdict::{Outcome, Verdict},
};

/// A part's comparison: which counters and how the output is read.
#[derive(Debug, Clone)]
pub struct Compare {
    /// The counter maps whose deltas must match.
    pub counters: Vec<Counted>,
    /// How output bytes are compared.
    pub output: Output,
}

/// A counter map and which of its deltas the contract fixes.
#[derive(Debug, Clone)]
pub enum Counted {
    /// Only these indices are compared (others are the program's business).
    Fixed {
        /// The map.
        map: &'static str,
        /// The indices the contract gives a meaning.
        indices: &'static [u32],
    },
    /// One counter per backend: the frame's backend must move by one, whichever it is.
    PerBackend {
        /// The map.
        map: &'static str,
    },
    /// Only the indices the contract fixes for this frame (lab 7.2 leaves open whether a
    /// non-IPv4 frame is counted, but not that no drop counter moves).
    Where {
        /// The map.
        map: &'static str,
        /// The indices the contract gives a meaning for the frame.
        indices: fn(&[u8]) -> &'static [u32],
    },
    /// The keys the program's per-source hash maps gain ([`kernel::maps::Maps::address_keys`]):
    /// for a contract that fixes one entry per source seen.
    Keys,
}

/// How output bytes are compared.
#[derive(Debug, Clone)]
pub enum Output {
    /// Byte for byte (a passed frame must reach the stack unchanged).
    Exact,
    /// Byte for byte after the part's own normaliser (given the input and the output) has
    /// undone what the contract leaves free.
    Normalised(Normaliser),
    /// A frame balanced to a backend: which backend is free (round robin, hash); the rest is
    /// compared byte for byte after the rewrite's freedoms are undone.
    Balanced(Backends),
}

/// A part's normaliser of output bytes, and the line naming its freedoms.
#[derive(Clone)]
pub struct Normaliser {
    /// What it leaves free, for the check's table.
    pub freedoms: &'static str,
    /// The output rewritten with the free fields set to fixed values (input, output).
    pub apply: Arc<NormaliseFn>,
}

/// The function behind a [`Normaliser`]: (input, output) to the output with its freedoms undone.
pub(super) type NormaliseFn = dyn Fn(&[u8], &[u8]) -> Vec<u8> + Send + Sync;

impl fmt::Debug for Normaliser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Normaliser({})", self.freedoms)
    }
}

/// The backends a balanced frame may be sent to, and the rewrite's freedoms.
#[derive(Debug, Clone)]
pub struct Backends {
    /// Address and MAC of each backend, in key order.
    pub list: Vec<(Ipv4Addr, MacAddr)>,
    /// The load balancer's own MAC.
    pub lb_mac: MacAddr,
    /// NAT (the destination address becomes the backend's; the source MAC may become the LB's,
    /// the TTL may drop by one, a UDP datagram sent without checksum may get one). Else DSR:
    /// only the MACs change, with no freedom.
    pub nat: bool,
    /// What the backend of a balanced frame must follow, beyond being one of `list`.
    pub choice: Choice,
}

/// What decides a balanced frame's backend, as far as the contract fixes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Round robin: one rotation, which may start at any backend and go round in any order, so
    /// the program's backend of each balanced frame is the reference's under one fixed
    /// one-to-one mapping, and frames the contract does not balance do not move it.
    Rotation,
    /// A function of the source address: every frame from one source reaches one backend.
    BySource,
}

impl Compare {
    /// The freedoms as one line, for the check's table.
    pub fn freedoms(&self) -> String {
        let counters: Vec<String> = self
            .counters
            .iter()
            .map(|c| match c {
                Counted::Fixed { map, indices } => format!(
                    "{map}[{}] deltas",
                    indices
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                Counted::PerBackend { map } => format!("{map}[the frame's backend] +1"),
                Counted::Where { map, .. } => {
                    format!("{map} deltas at the indices the contract fixes for the frame")
                }
                Counted::Keys => "keys the per-source hash maps gain".to_owned(),
            })
            .collect();
        let output = match &self.output {
            Output::Exact => "output bytes exact".to_owned(),
            Output::Normalised(n) => format!("output bytes exact except {}", n.freedoms),
            Output::Balanced(b) if b.nat => "output bytes exact except which backend, source MAC \
                                              client's or LB's, TTL kept or -1, UDP checksum \
                                              added where none was sent, a checksum that \
                                              arrived wrong recomputed or carried"
                .to_owned(),
            Output::Balanced(_) => "output bytes exact except which backend".to_owned(),
        };
        format!("verdict, {output}, {}", counters.join(", "))
    }

    /// The counters this comparison reads, in order; the per-source keys only with `keys`
    /// (walking a hash map's keys costs the kernel a scan of all its buckets, so sequences
    /// read them once, at their end).
    pub(crate) fn read(&self, t: &mut dyn Target, keys: bool) -> Result<Vec<Vec<u64>>> {
        self.counters
            .iter()
            .map(|c| match c {
                Counted::Fixed { map, .. }
                | Counted::PerBackend { map }
                | Counted::Where { map, .. } => t.counters(map),
                Counted::Keys if !keys => Ok(Vec::new()),
                Counted::Keys => Ok(t
                    .program()
                    .maps()
                    .address_keys()?
                    .into_iter()
                    .map(|k| u64::from(u32::from_be_bytes(k)))
                    .collect()),
            })
            .collect()
    }

    /// Fails with a map-layout error when a counter map `read` is too small for an index the
    /// contract fixes for `frame` (rather than reading "+0" past its end).
    pub(crate) fn require(&self, frame: &[u8], read: &[Vec<u64>]) -> Result<()> {
        for (c, values) in self.counters.iter().zip(read) {
            let (map, highest) = match c {
                Counted::Fixed { map, indices } => (map, indices.iter().max()),
                Counted::Where { map, indices } => (map, indices(frame).iter().max()),
                _ => continue,
            };
            crate::counters::require(map, values, highest.copied())?;
        }
        Ok(())
    }

    /// Reduces what happened to `frame` to what must match, and the backend a balancing part
    /// sent it on to (TX or REDIRECT to one of the backends).
    pub(crate) fn observe(
        &self,
        frame: &[u8],
        outcome: &Outcome,
        before: &[Vec<u64>],
        after: &[Vec<u64>],
    ) -> (Observation, Option<usize>) {
        let mut backend = None;
        let output = outcome.bytes.as_ref().map(|out| match &self.output {
            Output::Exact => (false, out.clone()),
            Output::Normalised(n) => (false, (n.apply)(frame, out)),
            Output::Balanced(b) => match b.normalise(frame, out) {
                Some((k, normal)) => {
                    backend = Some(k);
                    (true, normal)
                }
                None => (false, out.clone()),
            },
        });
        let mut counters = Vec::new();
        for (c, (b, a)) in self.counters.iter().zip(before.iter().zip(after)) {
            if let Counted::Keys = c {
                counters.extend(
                    a.iter()
                        .filter(|k| !b.contains(k))
                        .map(|k| format!("per-source key {} added", Ipv4Addr::from(*k as u32))),
                );
                counters.extend(
                    b.iter()
                        .filter(|k| !a.contains(k))
                        .map(|k| format!("per-source key {} gone", Ipv4Addr::from(*k as u32))),
                );
                continue;
            }
            let d = kernel::maps::deltas(b, a);
            let fixed = match c {
                Counted::Where { indices, .. } => Some(indices(frame)),
                Counted::Fixed { indices, .. } => Some(*indices),
                _ => None,
            };
            match c {
                Counted::Keys => {}
                Counted::Fixed { map, .. } | Counted::Where { map, .. } => {
                    for i in fixed.unwrap_or_default() {
                        match d.get(*i as usize).copied().unwrap_or(0) {
                            0 => {}
                            n => counters.push(format!("{map}[{i}] +{n}")),
                        }
                    }
                }
                Counted::PerBackend { map } => {
                    let moved = crate::counters::moved(&d);
                    match (backend, moved.len()) {
                        (Some(k), 1) if moved.get(&(k as u32)) == Some(&1) => {
                            counters.push(format!("{map}[its backend] +1"));
                        }
                        _ => counters.extend(moved.iter().map(|(i, n)| format!("{map}[{i}] +{n}"))),
                    }
                }
            }
        }
        let observation = Observation {
            verdict: outcome.verdict.to_string(),
            input: frame.to_vec(),
            output,
            counters,
        };
        // Balanced: sent on (a passed frame may happen to be addressed to a backend).
        let sent = matches!(outcome.verdict, Verdict::Tx | Verdict::Redirect);
        (observation, backend.filter(|_| sent))
    }
}

impl Compare {
    /// Whether the per-source keys are compared.
    pub(crate) fn keys(&self) -> bool {
        self.counters.iter().any(|c| matches!(c, Counted::Keys))
    }

    /// The per-source keys `t` holds now, as an observation's counter line.
    pub(crate) fn keys_line(t: &mut dyn Target) -> Result<String> {
        let keys = t.program().maps().address_keys()?;
        Ok(format!(
            "per-source keys after the sequence: {}",
            if keys.is_empty() {
                "none".to_owned()
            } else {
                keys.iter()
                    .map(|k| Ipv4Addr::from(*k).to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        ))
    }
}

impl Compare {
    /// The balanced parts' backends.
    pub(crate) fn backends(&self) -> Option<&Backends> {
        match &self.output {
            Output::Balanced(b) => Some(b),
            _ => None,
        }
    }
}

impl Backends {
    /// The backend `out` was balanced to and `out` rewritten as if to backend 0 with the
    /// freedoms undone, or `None` when `out` names no backend.
    fn normalise(&self, input: &[u8], out: &[u8]) -> Option<(usize, Vec<u8>)> {
        if out.len() < ETH_LEN + 20 || out[12..14] != [0x08, 0x00] || input.len() < ETH_LEN + 20 {
            return None;
        }
        let ip = ETH_LEN;
        let dst_mac = mac(&out[0..6]);
        let dst_ip = Ipv4Addr::new(out[ip + 16], out[ip + 17], out[ip + 18], out[ip + 19]);
        let k = self.list.iter().position(|(a, m)| {
            *m == dst_mac
                && (!self.nat || *a == dst_ip)
                && (self.nat || out[ip + 16..ip + 20] == input[ip + 16..ip + 20])
        })?;
        let (ip0, mac0) = self.list[0];
        let mut n = out.to_vec();
        n[0..6].copy_from_slice(&mac0.octets());
        if !self.nat {
            return Some((k, n));
        }
        let ihl = usize::from(n[ip] & 0x0f);
        let proto = n[ip + 9];
        let l4 = ETH_LEN + ihl * 4;
        let field = match proto {
            6 if ihl >= 5 && n.len() >= l4 + 18 => Some(l4 + 16),
            17 if ihl >= 5 && n.len() >= l4 + 8 => Some(l4 + 6),
            _ => None,
        };
        let old = dst_ip.octets();
        let new = ip0.octets();
        n[ip + 16..ip + 20].copy_from_slice(&new);
        replace(&mut n, ip + 10, &old, &new);
        if let Some(at) = field
            && !(proto == 17 && n[at..at + 2] == [0, 0])
        {
            replace(&mut n, at, &old, &new);
            // 0x0000 and 0xffff are the same one's-complement number; TCP takes either.
            if proto == 6 && n[at..at + 2] == [0, 0] {
                n[at..at + 2].copy_from_slice(&[0xff, 0xff]);
            }
        }
        // The LB's MAC is the configured one or, as the contract has it, the frame's own
        // destination (a generated frame may be addressed to another MAC).
        if n[6..12] == self.lb_mac.octets() || n[6..12] == input[0..6] {
            n[6..12].copy_from_slice(&input[6..12]);
        }
        if input[ip + 8] != 0 && n[ip + 8] == input[ip + 8] - 1 {
            let (was, now) = ([n[ip + 8], n[ip + 9]], [input[ip + 8], input[ip + 9]]);
            n[ip + 8] = input[ip + 8];
            replace(&mut n, ip + 10, &was, &now);
        }
        // Only a checksum that verifies counts as "added": garbage stays garbage.
        if let Some(at) = field
            && proto == 17
            && input.get(at..at + 2) == Some(&[0, 0])
            && traffic::decode(out)
                .udp
                .is_some_and(|u| u.csum == traffic::decode::Csum::Ok)
        {
            n[at..at + 2].fill(0);
        }
        carried_or_recomputed(input, &mut n, field, ip0);
        Some((k, n))
    }
}

/// A checksum that arrived wrong may go out recomputed (valid) or carried along incrementally
/// (still wrong): a valid one in `n` is read as the carried one, so both sides agree.
fn carried_or_recomputed(input: &[u8], n: &mut [u8], field: Option<usize>, ip0: Ipv4Addr) {
    use traffic::decode::Csum;
    let (sent, now) = (traffic::decode(input), traffic::decode(n));
    let bad = |c: Option<&Csum>| matches!(c, Some(Csum::Bad { .. }));
    let carried = |at: usize| {
        let mut c = input[..at + 2].to_vec();
        replace(
            &mut c,
            at,
            &input[ETH_LEN + 16..ETH_LEN + 20],
            &ip0.octets(),
        );
        [c[at], c[at + 1]]
    };
    if bad(sent.ipv4.as_ref().map(|i| &i.csum))
        && now.ipv4.as_ref().is_some_and(|i| i.csum == Csum::Ok)
    {
        let at = ETH_LEN + 10;
        let c = carried(at);
        n[at..at + 2].copy_from_slice(&c);
    }
    let l4 = |d: &traffic::Decoded| {
        d.tcp
            .as_ref()
            .map(|t| t.csum)
            .or_else(|| d.udp.as_ref().map(|u| u.csum))
    };
    if let Some(at) = field
        && input.len() >= at + 2
        && bad(l4(&sent).as_ref())
        && l4(&now) == Some(Csum::Ok)
    {
        let mut c = carried(at);
        // As the reference sends it: UDP's computed 0 as 0xffff; TCP's 0 read as 0xffff above.
        if c == [0, 0] {
            c = [0xff, 0xff];
        }
        n[at..at + 2].copy_from_slice(&c);
    }
}

/// RFC 1624 incremental update of the checksum at `at` when the bytes `old` become `new`.
fn replace(frame: &mut [u8], at: usize, old: &[u8], new: &[u8]) {
    let check = u16::from_be_bytes([frame[at], frame[at + 1]]);
    let not_old: Vec<u8> = old.iter().map(|b| !b).collect();
    let sum = ones_sum(ones_sum(u32::from(!check), &not_old), new);
    frame[at..at + 2].copy_from_slice(&(!fold(sum)).to_be_bytes());
}

fn mac(b: &[u8]) -> MacAddr {
    MacAddr(b[0], b[1], b[2], b[3], b[4], b[5])
}

/// An output frame next to the input: unchanged, or decoded with the bytes that changed.
fn describe(input: &[u8], out: &[u8]) -> String {
    if input == out {
        return "unchanged".to_owned();
    }
    let mut s = traffic::decode(out).to_string();
    let changed: Vec<String> = input
        .iter()
        .zip(out)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| format!("{i}:{a:02x}>{b:02x}"))
        .collect();
    s.push_str(&format!(
        "\nchanged bytes: {}{}",
        changed
            .iter()
            .take(16)
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
        if changed.len() > 16 { " ..." } else { "" }
    ));
    if input.len() != out.len() {
        s.push_str(&format!("\nlength {} > {}", input.len(), out.len()));
    }
    s
}

/// What one program did with one frame, reduced to what must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The verdict.
    pub verdict: String,
    /// The frame sent (the same on both sides; kept to describe the output).
    pub input: Vec<u8>,
    /// The output (passed, sent back or redirected frames): whether it went to a backend, and
    /// its bytes, normalised. Described only when shown (decoding every frame would cost more
    /// than running it).
    pub output: Option<(bool, Vec<u8>)>,
    /// The compared counter deltas.
    pub counters: Vec<String>,
}

impl Observation {
    /// The verdict and fixed counter lines only: what an oracle states.
    pub fn contract_view(&self) -> String {
        let mut s = self.verdict.clone();
        for c in self.counters.iter().filter(|c| !c.contains("its backend")) {
            s.push_str(&format!(", {c}"));
        }
        s
    }
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "verdict   {}", self.verdict)?;
        if let Some((to_backend, bytes)) = &self.output {
            let mut out = describe(&self.input, bytes);
            if *to_backend {
                out = format!("to a backend: {out}");
            }
            for (i, line) in out.lines().enumerate() {
                writeln!(
                    f,
                    "{}{line}",
                    if i == 0 { "output    " } else { "          " }
                )?;
            }
        }
        if self.counters.is_empty() {
            writeln!(f, "counters  no compared counter moved")
        } else {
            writeln!(f, "counters  {}", self.counters.join(", "))
        }
    }
}

#[cfg(test)]
mod carried_or_recomputed_tests {
    use traffic::FrameBuilder;

    use super::*;

    const CLIENT: MacAddr = MacAddr(2, 0, 0, 0, 0, 1);
    const LB: MacAddr = MacAddr(2, 0, 0, 0, 0, 2);
    const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 100);

    fn frame(dst_mac: MacAddr, dst: Ipv4Addr, bad: bool) -> Vec<u8> {
        let b = FrameBuilder::ethernet(CLIENT, dst_mac)
            .ipv4(Ipv4Addr::new(10, 0, 0, 2), dst)
            .udp(40000, 7000)
            .payload(b"hello");
        if bad {
            b.bad_ip_checksum().bad_l4_checksum().build()
        } else {
            b.build()
        }
    }

    /// A frame that arrived with wrong IPv4 and UDP checksums reads the same whether the
    /// program recomputed them (valid) or carried them along (still wrong), at any backend.
    #[test]
    fn a_checksum_that_arrived_wrong_may_be_recomputed_or_carried() {
        let backends = Backends {
            list: vec![
                (
                    Ipv4Addr::new(10, 0, 1, 1),
                    MacAddr(0, 0x11, 0x22, 0x33, 0x44, 1),
                ),
                (
                    Ipv4Addr::new(10, 0, 1, 2),
                    MacAddr(0, 0x11, 0x22, 0x33, 0x44, 2),
                ),
            ],
            lb_mac: LB,
            nat: true,
            choice: Choice::BySource,
        };
        let input = frame(LB, VIP, true);
        let mut seen = Vec::new();
        for (ip, mac) in &backends.list {
            let recomputed = frame(*mac, *ip, false);
            let mut carried = input.clone();
            carried[0..6].copy_from_slice(&mac.octets());
            carried[ETH_LEN + 16..ETH_LEN + 20].copy_from_slice(&ip.octets());
            for at in [ETH_LEN + 10, ETH_LEN + 20 + 6] {
                replace(&mut carried, at, &VIP.octets(), &ip.octets());
            }
            for out in [recomputed, carried] {
                seen.push(backends.normalise(&input, &out).expect("names a backend").1);
            }
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:02x?}");
        // A wrong checksum that is neither recomputed nor carried still differs.
        let mut garbage = frame(backends.list[0].1, backends.list[0].0, true);
        garbage[ETH_LEN + 10] ^= 0x10;
        assert_ne!(backends.normalise(&input, &garbage).unwrap().1, seen[0]);
    }
}
