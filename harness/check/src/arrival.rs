//! Real arrival at backends: where frames a program sent on show up (the target captures the
//! backends' links and other interfaces for the batch) and whether a backend's stack accepted
//! them (its UDP socket received the datagram, so addresses and checksums were right).

use std::{
    io::ErrorKind,
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    time::{Duration, Instant},
};

use traffic::{BurstReport, MacAddr, find_tag};

use kernel::{
    error::{Error, Result},
    settle,
    target::{Target, VethTarget},
};

/// One backend frames may be delivered to.
#[derive(Debug, Clone)]
pub struct Backend {
    /// Its short name in tables (`b1`).
    pub name: String,
    /// The namespace role it lives in (where arrival is observed).
    pub ns: &'static str,
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its MAC.
    pub mac: MacAddr,
}

/// Where a delivery is watched on a real path.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The backend interface a frame must arrive on (`eth0`).
    pub link: &'static str,
    /// Every backend interface watched (the link included), so a frame arriving the wrong
    /// way shows.
    pub watch: Vec<&'static str>,
    /// Further interfaces (namespace role, name) where a frame must not show up.
    pub elsewhere: Vec<(&'static str, &'static str)>,
    /// The port of the UDP socket each backend listens on.
    pub udp_port: u16,
}

/// One place a frame showed up.
#[derive(Debug, Clone)]
pub struct Sighting {
    /// The backend whose interface it was, if any.
    pub backend: Option<usize>,
    /// `ns/ifname`.
    pub at: String,
}

/// What a delivery's frames did on a real path, by frame.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Where each frame showed up.
    pub at: Vec<Vec<Sighting>>,
    /// The backends whose UDP socket received each frame.
    pub accepted: Vec<Vec<usize>>,
    /// Every captured frame of ours, with where it was seen (for pcap files).
    pub captured: Vec<(String, Vec<u8>)>,
    /// Set when a timeout settled the batch because a barrier frame was lost; says which.
    pub note: Option<String>,
}

/// Where a delivery's frames can show up: the captured interfaces by `ns/ifname` (with the
/// backend they belong to) and each backend's UDP socket.
struct Watchers {
    places: Vec<(String, Option<usize>)>,
    sockets: Vec<UdpSocket>,
}

impl Watchers {
    fn open(vt: &VethTarget, backends: &[Backend], arrival: &Arrival) -> Result<Self> {
        let topo = vt.topology();
        let mut places = Vec::new();
        let mut sockets = Vec::new();
        for (b, backend) in backends.iter().enumerate() {
            for ifname in &arrival.watch {
                places.push((format!("{}/{ifname}", backend.ns), Some(b)));
            }
            let addr = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, arrival.udp_port);
            let udp = topo
                .ns(backend.ns)?
                .run(|| UdpSocket::bind(addr))?
                .and_then(|s| s.set_nonblocking(true).map(|()| s))
                .map_err(|e| Error::op(format!("UDP socket in {}", backend.ns), e))?;
            sockets.push(udp);
        }
        for (ns, ifname) in &arrival.elsewhere {
            places.push((format!("{ns}/{ifname}"), None));
        }
        Ok(Self { places, sockets })
    }

    /// The interfaces to capture on, as (namespace role, name).
    fn interfaces<'a>(backends: &'a [Backend], arrival: &'a Arrival) -> Vec<(&'a str, &'a str)> {
        let mut all: Vec<(&str, &str)> = backends
            .iter()
            .flat_map(|b| arrival.watch.iter().map(|ifname| (b.ns, *ifname)))
            .collect();
        all.extend(arrival.elsewhere.iter().copied());
        all
    }

    /// Moves what the captures and sockets hold into `seen`; `slot` says which frame a received
    /// one is (none: background traffic). Captures come first: once a path's barrier is in,
    /// the datagrams before it have reached their sockets.
    fn collect(
        &mut self,
        vt: &mut VethTarget,
        slot: &dyn Fn(&[u8]) -> Option<usize>,
        seen: &mut Seen,
    ) -> Result<()> {
        for (_, at, frame) in vt.drain_all()? {
            let Some(i) = slot(&frame) else { continue };
            // Only the places this delivery watches: a frame also passes the target's own paths.
            if let Some((_, backend)) = self.places.iter().find(|(p, _)| *p == at) {
                seen.at[i].push(Sighting {
                    backend: *backend,
                    at: at.clone(),
                });
                seen.captured.push((at, frame));
            }
        }
        let mut buf = [0u8; 2048];
        for (b, socket) in self.sockets.iter().enumerate() {
            loop {
                match socket.recv(&mut buf) {
                    Ok(len) => {
                        if let Some(i) = slot(&buf[..len]) {
                            seen.accepted[i].push(b);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(Error::op("UDP receive", e)),
                }
            }
        }
        Ok(())
    }
}

/// Sends `frames` from the program's peer and records where they arrive, until the harness's
/// barrier frames show that everything sent has arrived wherever it was going (see
/// [`kernel::settle`]).
pub fn observe(
    target: &mut dyn Target,
    backends: &[Backend],
    arrival: &Arrival,
    frames: &[Vec<u8>],
) -> Result<Seen> {
    let Some(vt) = target.veth() else {
        return Err(Error::env("observing arrival needs a veth topology"));
    };
    let mut watchers = Watchers::open(vt, backends, arrival)?;
    let interfaces = Watchers::interfaces(backends, arrival);
    let tags: Vec<_> = frames.iter().map(|f| find_tag(f)).collect();
    let slot = |bytes: &[u8]| {
        let tag = find_tag(bytes)?;
        tags.iter().position(|t| *t == Some(tag))
    };
    let mut seen = Seen {
        at: vec![Vec::new(); frames.len()],
        accepted: vec![Vec::new(); frames.len()],
        captured: Vec::new(),
        note: None,
    };
    let settled = vt.send_and_watch_beyond(frames, &interfaces, &mut |vt| {
        watchers.collect(vt, &slot, &mut seen)
    })?;
    seen.note = settled.note;
    Ok(seen)
}

/// What a throughput measurement saw: see [`throughput`].
#[derive(Debug, Clone)]
pub struct Throughput {
    /// The burst as the sender saw it (frames and send rate).
    pub burst: BurstReport,
    /// From the first send until the program had run on every frame.
    pub ran_in: Duration,
    /// Datagrams the backends' UDP layers took in meanwhile ([`udp_datagrams`]).
    pub received: u64,
}

/// How long the backends' UDP layers may take to take in the last datagrams once the program
/// has run on every frame: they do it in the softirqs right after.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(1);
/// How often a throughput measurement reads the run count and the backends' counters.
const RATE_POLL: Duration = Duration::from_millis(1);

/// Sends `frames` as one burst from the program's peer, as fast as the kernel takes them, and
/// measures the program's rate and how many datagrams the UDP layers of namespaces `ns` took
/// in. A measurement, not a check: nothing reads the captures along, and the barriers of
/// [`VethTarget::send_and_watch`] are left out so they cost nothing.
pub fn throughput(vt: &mut VethTarget, frames: &[Vec<u8>], ns: &[&str]) -> Result<Throughput> {
    let received =
        |vt: &VethTarget| -> Result<u64> { ns.iter().map(|n| udp_datagrams(vt, n)).sum() };
    let before_rx = received(vt)?;
    let runs = Target::program(vt).run_count()?;
    let start = Instant::now();
    let burst = vt
        .sender()
        .send_burst(frames)
        .map_err(|e| Error::op("sending a burst", e))?;
    let ran_in = loop {
        let ran = Target::program(vt).run_count()? - runs;
        if ran >= frames.len() as u64 {
            break start.elapsed();
        }
        if start.elapsed() > settle::RUN_DEADLINE {
            return Err(Error::env(format!(
                "the program ran on {ran} of {} frames within {:?}",
                frames.len(),
                settle::RUN_DEADLINE
            )));
        }
        std::thread::sleep(RATE_POLL);
    };
    let ran_at = Instant::now();
    let mut got = received(vt)? - before_rx;
    while got < frames.len() as u64 && ran_at.elapsed() < DELIVERY_DEADLINE {
        std::thread::sleep(RATE_POLL);
        got = received(vt)? - before_rx;
    }
    Ok(Throughput {
        burst,
        ran_in,
        received: got,
    })
}

/// How many datagrams the UDP layer of namespace role `ns` has taken in so far (delivered to a
/// socket, or answered with "port unreachable"): datagrams whose addresses and checksums its
/// stack accepted. Bulk measurements count delivery with it instead of one socket per frame.
pub fn udp_datagrams(vt: &VethTarget, ns: &str) -> Result<u64> {
    // A thread inside a namespace sees its own counters only under /proc/thread-self.
    let snmp = vt
        .topology()
        .ns(ns)?
        .run(|| std::fs::read_to_string("/proc/thread-self/net/snmp"))?
        .map_err(|e| Error::op(format!("reading the UDP counters of {ns}"), e))?;
    let mut lines = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return Err(Error::env(format!(
            "no UDP counters in {ns}'s /proc/net/snmp"
        )));
    };
    let values: Vec<&str> = values.split_whitespace().collect();
    let mut total = 0;
    for (i, name) in names.split_whitespace().enumerate() {
        if matches!(name, "InDatagrams" | "NoPorts") {
            total += values
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| Error::env(format!("unreadable UDP counter {name} in {ns}")))?;
        }
    }
    Ok(total)
}
