//! Deliveries: frames a load balancer must send on to one of its backends, where each must
//! arrive and how it must look when it gets there.
//!
//! A [`Delivery`] is data: the backends, the frames (each with what it must become at every
//! backend), the rule that decides which backend each frame must reach (any, a rotation,
//! affinity, an even spread), the counters that must follow, and how the harness observes it:
//! by the program's verdict and output bytes (every mode), or by real arrival at the backends'
//! links and UDP sockets (veth only; [`crate::arrival`]). The rule's free choices (where a
//! rotation starts, where a source hashes to) are read from what the program did, and the
//! expected table is the contract filled in with them.

use std::collections::BTreeMap;

use traffic::{MacAddr, decode, decode::Csum};

use crate::{
    arrival::{self, Arrival, Backend},
    counters,
    judgement::{Frame, Judgement},
    table::render,
};
use kernel::{
    error::Result,
    maps,
    target::Target,
    verdict::{Outcome, Verdict},
};

/// One frame of a delivery.
#[derive(Debug, Clone)]
pub struct Parcel {
    /// A short name for tables.
    pub name: String,
    /// The frame as sent.
    pub frame: Vec<u8>,
    /// The frame as it must leave the program towards each backend, in backend order (empty
    /// when the check is only about where frames go).
    pub arrives_as: Vec<Vec<u8>>,
    /// Frames with the same group must reach the same backend ([`Routing::Affinity`]).
    pub group: Option<String>,
}

impl Parcel {
    /// A frame that only has to reach a backend.
    pub fn new(name: impl Into<String>, frame: Vec<u8>) -> Self {
        Self {
            name: name.into(),
            frame,
            arrives_as: Vec::new(),
            group: None,
        }
    }

    /// The same frame, required to look like `arrives_as[b]` when sent to backend `b`.
    pub fn arriving_as(mut self, arrives_as: Vec<Vec<u8>>) -> Self {
        self.arrives_as = arrives_as;
        self
    }

    /// The same frame, in affinity group `group`.
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }
}

/// How a balanced frame names its backend, and what else may change on the way.
#[derive(Debug, Clone)]
pub struct Rewrite {
    /// The destination address becomes the backend's (NAT). When false only the destination
    /// MAC names the backend (direct server return).
    pub address: bool,
    /// Variants the contract allows, shown as the form they stand for.
    pub allow: Vec<Allow>,
}

/// A variant of a rewritten frame the contract allows.
#[derive(Debug, Clone, Copy)]
pub enum Allow {
    /// The source MAC may become `from`; it reads as `reads_as`.
    SourceMac {
        /// The MAC it may become (the load balancer's).
        from: MacAddr,
        /// The MAC shown instead (the sender's).
        reads_as: MacAddr,
    },
    /// The TTL may drop by one.
    TtlDecrement,
    /// A UDP datagram sent without a checksum may get a valid one.
    UdpChecksumAdded,
}

/// Which backend each frame must reach, and what the table shows.
#[derive(Debug, Clone)]
pub enum Routing {
    /// Any backend; each frame's verdict and rewritten headers (from [`Parcel::arrives_as`]).
    Rewritten,
    /// Any backend; only the counters are compared.
    Counted,
    /// Consecutive frames go round all backends in a fixed order, starting anywhere: every
    /// window of as many frames as there are backends covers each once.
    Rotation,
    /// Frames of one [`Parcel::group`] all reach the same backend.
    Affinity,
    /// Every backend gets at least `percent` % of the frames.
    Spread {
        /// The least share of each backend.
        percent: usize,
    },
    /// Not judged: per set of consecutive frames (name, count), how many went to each backend
    /// and a chi-square figure against an even split.
    Report {
        /// The sets, in frame order.
        sets: Vec<(String, usize)>,
    },
}

/// A counter the frames must move.
#[derive(Debug, Clone, Copy)]
pub enum Count {
    /// `map[index]` grows by one per frame.
    PerFrame {
        /// The counter map.
        map: &'static str,
        /// The index.
        index: u32,
    },
    /// `map[b]` grows by the number of frames that went to backend `b`.
    PerBackend {
        /// The counter map.
        map: &'static str,
    },
}

/// How the harness sees where frames went.
#[derive(Debug, Clone)]
pub enum Observe {
    /// The verdict and output bytes of each frame (every mode); balanced frames must get
    /// `verdict`.
    Output {
        /// The verdict of a balanced frame (TX or REDIRECT).
        verdict: Verdict,
    },
    /// Real arrival at the backends (veth only).
    Arrival(Arrival),
}

/// Frames, the backends they must reach, and how; see the module documentation.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The backends, in the order the contract numbers them.
    pub backends: Vec<Backend>,
    /// The frames, sent in this order.
    pub parcels: Vec<Parcel>,
    /// How frames name their backend and which variants are allowed.
    pub rewrite: Rewrite,
    /// Which backend each must reach.
    pub routing: Routing,
    /// The counters they must move (a frame's backend is where it went first).
    pub counts: Vec<Count>,
    /// How it is observed.
    pub observe: Observe,
}

impl Delivery {
    /// Whether observing it needs a real path.
    pub fn needs_veth(&self) -> bool {
        matches!(self.observe, Observe::Arrival(_))
    }

    /// Sends the frames through `target`, observes where they went and judges it.
    pub fn judge(&self, target: &mut dyn Target) -> Result<(Judgement, Vec<Frame>)> {
        let frames: Vec<Vec<u8>> = self.parcels.iter().map(|p| p.frame.clone()).collect();
        let mut before = Vec::new();
        for count in &self.counts {
            let read = target.counters(count.map())?;
            let highest = match count {
                Count::PerFrame { index, .. } => *index,
                Count::PerBackend { .. } => self.backends.len().saturating_sub(1) as u32,
            };
            counters::require(count.map(), &read, Some(highest))?;
            before.push(read);
        }
        let (table, note, traffic) = match &self.observe {
            Observe::Arrival(arrival) => {
                let seen = arrival::observe(target, &self.backends, arrival, &frames)?;
                let mut traffic = Frame::traffic(&frames, &[]);
                for (at, bytes) in &seen.captured {
                    traffic.push(Frame {
                        sent: false,
                        at: Some(at.clone()),
                        bytes: bytes.clone(),
                    });
                }
                (self.arrival_rows(arrival, &seen), seen.note, traffic)
            }
            Observe::Output { verdict } => {
                let shot = target.fire(&frames)?;
                let traffic = Frame::traffic(&frames, &shot.outcomes);
                (
                    self.output_rows(*verdict, &shot.outcomes),
                    shot.note,
                    traffic,
                )
            }
        };
        let mut deltas = Vec::new();
        for (count, before) in self.counts.iter().zip(&before) {
            let after = target.counters(count.map())?;
            deltas.push(counters::moved(&maps::deltas(before, &after)));
        }
        Ok((noted(note, self.judgement(table, &deltas)), traffic))
    }

    /// The backend a frame leaving the program names: by destination address then MAC (NAT),
    /// or by MAC then address (direct server return).
    pub fn backend_of(&self, bytes: &[u8]) -> Option<usize> {
        let d = decode(bytes);
        let by_ip = d
            .ipv4
            .as_ref()
            .and_then(|ip| self.backends.iter().position(|b| b.ip == ip.dst));
        let by_mac = d
            .eth
            .and_then(|e| self.backends.iter().position(|b| b.mac == e.dst));
        if self.rewrite.address {
            by_ip.or(by_mac)
        } else {
            by_mac.or(by_ip)
        }
    }

    /// A frame leaving the program as text, one line per layer, the allowed variants shown as
    /// the form they stand for. The backend's address and MAC read `backend-ip` and
    /// `backend-mac` when they name the same backend: which one it is, is the rule's business.
    pub fn show(&self, sent: &[u8], bytes: &[u8]) -> String {
        let mut d = decode(bytes);
        let sent = decode(sent);
        let consistent = self.backend_of(bytes).filter(|&b| {
            let backend = &self.backends[b];
            d.eth.is_some_and(|e| e.dst == backend.mac)
                && (!self.rewrite.address || d.ipv4.as_ref().is_some_and(|i| i.dst == backend.ip))
        });
        for allow in &self.rewrite.allow {
            match *allow {
                Allow::SourceMac { from, reads_as } => {
                    if let Some(eth) = d.eth.as_mut()
                        && eth.src == from
                    {
                        eth.src = reads_as;
                    }
                }
                Allow::TtlDecrement => {
                    if let (Some(ip), Some(was)) = (d.ipv4.as_mut(), sent.ipv4.as_ref())
                        && ip.ttl.checked_add(1) == Some(was.ttl)
                    {
                        ip.ttl = was.ttl;
                    }
                }
                Allow::UdpChecksumAdded => {
                    if let (Some(udp), Some(was)) = (d.udp.as_mut(), sent.udp.as_ref())
                        && was.csum == Csum::Absent
                        && udp.csum == Csum::Ok
                    {
                        udp.csum = Csum::Absent;
                    }
                }
            }
        }
        let mut text = d.to_string();
        if let Some(b) = consistent {
            let backend = &self.backends[b];
            text = text
                .replace(&format!("> {} ", backend.mac), "> backend-mac ")
                .replace(&format!("> {} ", backend.ip), "> backend-ip ");
        }
        text
    }

    /// The backend a balanced frame went to (by its output), or what happened to it instead.
    fn token(&self, o: &Outcome, verdict: Verdict) -> (Option<usize>, String) {
        if o.verdict != verdict {
            return (None, o.verdict.to_string());
        }
        match o.bytes.as_deref().and_then(|b| self.backend_of(b)) {
            Some(b) => (Some(b), self.backends[b].name.clone()),
            None => (None, format!("{verdict}-elsewhere")),
        }
    }

    /// `b1 (10.0.1.1)`, for count rows.
    fn label(&self, b: usize) -> String {
        let backend = &self.backends[b];
        format!("{} ({})", backend.name, backend.ip)
    }

    /// The rows of a delivery observed by output, and where each frame went.
    fn output_rows(&self, verdict: Verdict, outcomes: &[Outcome]) -> Table {
        let tokens: Vec<(Option<usize>, String)> =
            outcomes.iter().map(|o| self.token(o, verdict)).collect();
        let went: Vec<Option<usize>> = tokens.iter().map(|(b, _)| *b).collect();
        let (expected, actual) = match &self.routing {
            Routing::Rewritten => self.rewritten_rows(verdict, outcomes),
            Routing::Counted => (Vec::new(), Vec::new()),
            Routing::Rotation => self.rotation_rows(&tokens),
            Routing::Affinity => self.affinity_rows(&tokens),
            Routing::Spread { percent } => self.spread_rows(&went, *percent),
            Routing::Report { sets } => {
                let rows = self.report_rows(sets, &went);
                (rows.clone(), rows)
            }
        };
        Table {
            expected,
            actual,
            went,
        }
    }

    /// The rows and the counters: each counter's expected deltas follow where frames went.
    fn judgement(&self, table: Table, deltas: &[Moved]) -> Judgement {
        let Table {
            expected,
            actual,
            went,
        } = table;
        let want: Vec<Moved> = self
            .counts
            .iter()
            .map(|c| match c {
                Count::PerFrame { index, .. } => {
                    BTreeMap::from([(*index, self.parcels.len() as u64)])
                }
                Count::PerBackend { .. } => {
                    let mut per = BTreeMap::new();
                    for b in went.iter().flatten() {
                        *per.entry(*b as u32).or_insert(0u64) += 1;
                    }
                    per
                }
            })
            .collect();
        Judgement {
            expected: self.table(expected, &want),
            actual: self.table(actual, deltas),
        }
    }

    /// Rows, then each counter's deltas.
    fn table(&self, rows: Rows, deltas: &[Moved]) -> String {
        let mut counters = self.counts.iter().map(Count::map).zip(deltas);
        let first = counters.next();
        let mut out = render(rows.iter().map(|(n, c)| (n.as_str(), c.clone())), first);
        for (map, d) in counters {
            out += &render(std::iter::empty(), Some((map, d)));
        }
        out
    }

    fn rewritten_rows(&self, verdict: Verdict, outcomes: &[Outcome]) -> (Rows, Rows) {
        let mut expected = Vec::new();
        let mut actual = Vec::new();
        for (p, o) in self.parcels.iter().zip(outcomes) {
            let b = o
                .bytes
                .as_deref()
                .and_then(|bytes| self.backend_of(bytes))
                .unwrap_or(0);
            let want = p.arrives_as.get(b).map(|frame| self.show(&p.frame, frame));
            expected.push((p.name.clone(), cell(verdict, want)));
            let got = o.bytes.as_deref().map(|bytes| self.show(&p.frame, bytes));
            actual.push((p.name.clone(), cell(o.verdict, got)));
        }
        (expected, actual)
    }

    fn rotation_rows(&self, tokens: &[(Option<usize>, String)]) -> (Rows, Rows) {
        let n = self.backends.len();
        let went: Vec<Option<usize>> = tokens.iter().map(|(b, _)| *b).collect();
        let order = rotation(&went, n);
        let mut expected = Vec::new();
        let mut actual = Vec::new();
        for (w, window) in tokens.chunks(n).enumerate() {
            let name = format!("packets {}-{}", n * w + 1, n * w + window.len());
            let want: Vec<&str> = order[..window.len()]
                .iter()
                .map(|&b| self.backends[b].name.as_str())
                .collect();
            let got: Vec<&str> = window.iter().map(|(_, s)| s.as_str()).collect();
            expected.push((name.clone(), want.join(" ")));
            actual.push((name, got.join(" ")));
        }
        let each = tokens.len() / n.max(1);
        for b in 0..n {
            let got = went.iter().filter(|w| **w == Some(b)).count();
            expected.push((self.label(b), format!("{each} packets")));
            actual.push((self.label(b), format!("{got} packets")));
        }
        (expected, actual)
    }

    fn affinity_rows(&self, tokens: &[(Option<usize>, String)]) -> (Rows, Rows) {
        let mut groups: Vec<&str> = Vec::new();
        for g in self.parcels.iter().filter_map(|p| p.group.as_deref()) {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        let mut expected = Vec::new();
        let mut actual = Vec::new();
        for g in groups {
            let mine: Vec<&(Option<usize>, String)> = self
                .parcels
                .iter()
                .zip(tokens)
                .filter(|(p, _)| p.group.as_deref() == Some(g))
                .map(|(_, t)| t)
                .collect();
            let first = mine
                .iter()
                .find_map(|(b, _)| *b)
                .map_or("b?".to_owned(), |b| self.backends[b].name.clone());
            expected.push((format!("from {g}"), vec![first; mine.len()].join(" ")));
            let got: Vec<&str> = mine.iter().map(|(_, s)| s.as_str()).collect();
            actual.push((format!("from {g}"), got.join(" ")));
        }
        (expected, actual)
    }

    fn spread_rows(&self, went: &[Option<usize>], percent: usize) -> (Rows, Rows) {
        let total = went.len();
        let n = per_backend(went, self.backends.len());
        let share = format!("at least {percent}% of the frames");
        let mut expected = vec![("balanced".to_owned(), format!("{total} of {total}"))];
        let mut actual = vec![(
            "balanced".to_owned(),
            format!("{} of {total}", n.iter().sum::<usize>()),
        )];
        for (b, &got) in n.iter().enumerate() {
            expected.push((self.label(b), share.clone()));
            actual.push((
                self.label(b),
                if got * 100 >= total * percent {
                    share.clone()
                } else {
                    format!(
                        "{}% of the frames ({got} of {total})",
                        got * 100 / total.max(1)
                    )
                },
            ));
        }
        (expected, actual)
    }

    fn report_rows(&self, sets: &[(String, usize)], went: &[Option<usize>]) -> Rows {
        let mut rows = Vec::new();
        let mut start = 0;
        for (name, len) in sets {
            let end = (start + len).min(went.len());
            let n = per_backend(&went[start..end], self.backends.len());
            let counts: Vec<String> = n
                .iter()
                .enumerate()
                .map(|(b, k)| format!("{} {k}", self.backends[b].name))
                .collect();
            rows.push((
                name.clone(),
                format!("{}  chi-square {:.2}", counts.join(" "), chi_square(&n)),
            ));
            start = end;
        }
        rows
    }

    /// The per-frame arrival table: the expected side names the link and socket of the backend
    /// the rule picks, the actual side every place the frame showed up.
    fn arrival_rows(&self, arrival: &Arrival, seen: &arrival::Seen) -> Table {
        let want = self.arrival_backends(seen);
        let mut expected = Vec::new();
        let mut actual = Vec::new();
        for (i, p) in self.parcels.iter().enumerate() {
            let b = &self.backends[want[i]];
            expected.push((
                p.name.clone(),
                format!(
                    "{}/{}, accepted by {}:{}",
                    b.ns, arrival.link, b.ip, arrival.udp_port
                ),
            ));
            let mut places: Vec<&str> = seen.at[i].iter().map(|s| s.at.as_str()).collect();
            places.sort_unstable();
            places.dedup();
            let mut cell = if places.is_empty() {
                "nowhere".to_owned()
            } else {
                places.join(", ")
            };
            let mut by = seen.accepted[i].clone();
            by.sort_unstable();
            by.dedup();
            if by.is_empty() {
                cell.push_str(", not accepted");
            }
            for b in by {
                cell.push_str(&format!(
                    ", accepted by {}:{}",
                    self.backends[b].ip, arrival.udp_port
                ));
            }
            actual.push((p.name.clone(), cell));
        }
        Table {
            expected,
            actual,
            went: first_backends(seen),
        }
    }

    /// The backend each frame must arrive at, the rule's free choice read from where frames
    /// went (the first backend each showed up at).
    pub(crate) fn arrival_backends(&self, seen: &arrival::Seen) -> Vec<usize> {
        let went = first_backends(seen);
        match self.routing {
            Routing::Rotation => {
                let order = rotation(&went, self.backends.len());
                (0..went.len()).map(|i| order[i % order.len()]).collect()
            }
            _ => went.iter().map(|b| b.unwrap_or(0)).collect(),
        }
    }
}

type Rows = Vec<(String, String)>;

/// A delivery's rows on both sides, and the backend each frame went to (for the counters).
struct Table {
    expected: Rows,
    actual: Rows,
    went: Vec<Option<usize>>,
}

/// A counter map's deltas, only the indexes that moved.
type Moved = BTreeMap<u32, u64>;

/// The first backend each frame showed up at.
fn first_backends(seen: &arrival::Seen) -> Vec<Option<usize>> {
    seen.at
        .iter()
        .map(|places| places.iter().find_map(|s| s.backend))
        .collect()
}

/// A settling note (the batch was settled by a timeout: a barrier frame was lost) is an input
/// of the check: the same line on both sides.
fn noted(note: Option<String>, j: Judgement) -> Judgement {
    let note = note.map(|n| n + "\n").unwrap_or_default();
    Judgement {
        expected: note.clone() + &j.expected,
        actual: note + &j.actual,
    }
}

impl Count {
    fn map(&self) -> &'static str {
        match self {
            Count::PerFrame { map, .. } | Count::PerBackend { map } => map,
        }
    }
}

/// One row of a rewrite table: the verdict, then the frame's layers indented below it.
fn cell(verdict: Verdict, shown: Option<String>) -> String {
    let mut cell = verdict.to_string();
    for line in shown.iter().flat_map(|text| text.lines()) {
        cell.push_str("\n      ");
        cell.push_str(line);
    }
    cell
}

/// The rotation the rule allows given where the first frames went: their order if the first
/// `n` reached `n` different backends, else counting up from the first one.
fn rotation(went: &[Option<usize>], n: usize) -> Vec<usize> {
    let first: Vec<usize> = went.iter().take(n).flatten().copied().collect();
    let mut distinct = first.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if first.len() == n && distinct.len() == n {
        return first;
    }
    let start = went.first().copied().flatten().unwrap_or(0);
    (0..n).map(|k| (start + k) % n).collect()
}

fn per_backend(went: &[Option<usize>], n: usize) -> Vec<usize> {
    let mut count = vec![0; n];
    for b in went.iter().flatten() {
        count[*b] += 1;
    }
    count
}

/// Pearson's chi-square of `n` against an even split (n - 1 degrees of freedom).
pub fn chi_square(n: &[usize]) -> f64 {
    let total: usize = n.iter().sum();
    let e = total as f64 / n.len() as f64;
    if e == 0.0 {
        return f64::INFINITY;
    }
    n.iter().map(|&x| (x as f64 - e).powi(2) / e).sum()
}

#[cfg(test)]
mod tests {
    use traffic::{FrameBuilder, Tag};

    use std::net::Ipv4Addr;

    use super::*;
    use crate::arrival::{Seen, Sighting};

    const CLIENT: MacAddr = MacAddr(2, 0, 0, 0, 0, 1);
    const LB: MacAddr = MacAddr(2, 0, 0, 0, 0, 2);
    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 100);

    fn backends() -> Vec<Backend> {
        (1..=3u8)
            .map(|i| Backend {
                name: format!("b{i}"),
                ns: ["b1", "b2", "b3"][usize::from(i) - 1],
                ip: Ipv4Addr::new(10, 0, 1, i),
                mac: MacAddr(0, 0x11, 0x22, 0x33, 0x44, i),
            })
            .collect()
    }

    fn nat(routing: Routing, parcels: Vec<Parcel>) -> Delivery {
        Delivery {
            backends: backends(),
            parcels,
            rewrite: Rewrite {
                address: true,
                allow: vec![
                    Allow::SourceMac {
                        from: LB,
                        reads_as: CLIENT,
                    },
                    Allow::TtlDecrement,
                    Allow::UdpChecksumAdded,
                ],
            },
            routing,
            counts: vec![Count::PerFrame {
                map: "stats",
                index: 0,
            }],
            observe: Observe::Output {
                verdict: Verdict::Tx,
            },
        }
    }

    /// A UDP datagram tagged `tag`, without a checksum when `bare`.
    fn udp(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        dst: Ipv4Addr,
        ttl: u8,
        tag: u16,
        bare: bool,
    ) -> Vec<u8> {
        let b = FrameBuilder::ethernet(src_mac, dst_mac)
            .ipv4(SRC, dst)
            .ttl(ttl)
            .tag(Tag(tag))
            .udp(40000, 7000)
            .payload(b"lb");
        let l4 = b.layout().l4.expect("a UDP header");
        let mut frame = b.build();
        if bare {
            frame[l4 + 6..l4 + 8].fill(0);
        }
        frame
    }

    fn sent_to(b: &Backend, tag: u16) -> Outcome {
        Outcome {
            verdict: Verdict::Tx,
            bytes: Some(udp(CLIENT, b.mac, b.ip, 64, tag, false)),
            at: None,
        }
    }

    #[test]
    fn arrival_needs_the_right_link_and_the_socket() {
        let arrival = Arrival {
            link: "eth0",
            watch: vec!["eth0", "eth1"],
            elsewhere: Vec::new(),
            udp_port: 7000,
        };
        let parcels = (1..=3)
            .map(|t| Parcel::new(format!("p{t}"), udp(CLIENT, LB, VIP, 64, t, false)))
            .collect();
        let mut d = nat(Routing::Rotation, parcels);
        d.observe = Observe::Arrival(arrival.clone());
        d.counts.clear();
        let on = |b: usize, ifname: &str| Sighting {
            backend: Some(b),
            at: format!("b{}/{ifname}", b + 1),
        };
        let mut seen = Seen {
            at: vec![
                vec![on(1, "eth0")],
                vec![on(2, "eth0")],
                vec![on(0, "eth1")],
            ],
            accepted: vec![vec![1], vec![2], vec![0]],
            captured: Vec::new(),
            note: None,
        };
        assert_eq!(d.arrival_backends(&seen), [1, 2, 0]);
        // The third frame came the wrong way.
        let j = d.judgement(d.arrival_rows(&arrival, &seen), &[]);
        assert_ne!(j.expected, j.actual);
        seen.at[2] = vec![on(0, "eth0")];
        let j = d.judgement(d.arrival_rows(&arrival, &seen), &[]);
        assert_eq!(j.expected, j.actual);
        // Seen on the right link, but the stack dropped it.
        seen.accepted[0].clear();
        let j = d.judgement(d.arrival_rows(&arrival, &seen), &[]);
        assert_ne!(j.expected, j.actual);
        assert!(j.actual.contains("not accepted"));
    }

    #[test]
    fn allowed_variants_read_as_the_contract_form() {
        let d = nat(Routing::Rewritten, Vec::new());
        let b = &d.backends[1];
        let sent = udp(CLIENT, LB, VIP, 64, 1, true);
        let contract = udp(CLIENT, b.mac, b.ip, 64, 1, true);
        // The LB's source MAC, a decremented TTL and a freshly computed UDP checksum.
        let variant = udp(LB, b.mac, b.ip, 63, 1, false);
        assert_eq!(d.show(&sent, &variant), d.show(&sent, &contract));
        assert!(d.show(&sent, &variant).contains("> backend-ip "));
        // A different TTL is not an allowed variant.
        let wrong = udp(CLIENT, b.mac, b.ip, 62, 1, true);
        assert_ne!(d.show(&sent, &wrong), d.show(&sent, &contract));
    }

    #[test]
    fn a_rotation_may_start_anywhere_but_must_keep_going_round() {
        let parcels = (1..=6)
            .map(|t| Parcel::new(format!("p{t}"), udp(CLIENT, LB, VIP, 64, t, false)))
            .collect();
        let d = nat(Routing::Rotation, parcels);
        let stats = [BTreeMap::from([(0, 6)])];
        let round: Vec<Outcome> = [2, 0, 1, 2, 0, 1]
            .iter()
            .zip(1..)
            .map(|(&b, t)| sent_to(&d.backends[b], t))
            .collect();
        let j = d.judgement(d.output_rows(Verdict::Tx, &round), &stats);
        assert_eq!(j.expected, j.actual);
        let stuck: Vec<Outcome> = (1..=6).map(|t| sent_to(&d.backends[0], t)).collect();
        let j = d.judgement(d.output_rows(Verdict::Tx, &stuck), &stats);
        assert_ne!(j.expected, j.actual);
        assert!(
            j.actual
                .contains("packets 1-3                                  b1 b1 b1")
        );
    }

    #[test]
    fn rotation_follows_the_first_window_or_counts_up() {
        assert_eq!(rotation(&[Some(2), Some(0), Some(1)], 3), [2, 0, 1]);
        assert_eq!(rotation(&[Some(1), Some(1), Some(2)], 3), [1, 2, 0]);
        assert_eq!(rotation(&[None, Some(1), Some(2)], 3), [0, 1, 2]);
    }

    #[test]
    fn chi_square_of_an_even_split_is_zero() {
        assert_eq!(chi_square(&[10, 10, 10]), 0.0);
        assert!((chi_square(&[20, 10, 0]) - 20.0).abs() < 1e-9);
        assert!(chi_square(&[0, 0, 0]).is_infinite());
    }
}
