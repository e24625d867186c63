//! Socket tests on real interfaces inside throw-away namespaces (need root).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::*;
use crate::build::{FrameBuilder, Tag};
use crate::netns::{has_iproute2, ifindex, in_fresh_netns, set_up, veth_pair};
use crate::tag::find_tag;
use pnet::util::MacAddr;

const WAIT: Duration = Duration::from_secs(2);
const QUIET: Duration = Duration::from_millis(50);

/// A UDP frame whose destination MAC belongs to no interface, so delivery does not depend on
/// MAC filtering.
fn frame(tag: u16) -> Vec<u8> {
    FrameBuilder::ethernet(MacAddr(2, 0, 0, 0, 0, 1), MacAddr(2, 0, 0, 0, 0, 2))
        .ipv4(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2))
        .udp(1000, 2000)
        .payload(&[0x5a; 18])
        .tag(Tag(tag))
        .build()
}

/// Frames carrying `tag` among everything `sock` receives until `QUIET` passes with nothing.
fn collect(sock: &mut PacketSocket, tag: u16) -> Vec<Vec<u8>> {
    let mut hits = Vec::new();
    while let Some(f) = sock.recv(QUIET).expect("recv") {
        if find_tag(&f) == Some(Tag(tag)) {
            hits.push(f);
        }
    }
    hits
}

/// Runs `body` with veth pair xa/xb up in a fresh namespace; skips without iproute2.
fn with_veth(body: impl FnOnce(u32, u32) + Send + 'static) {
    if !has_iproute2() {
        eprintln!("skipped: iproute2 `ip` not found");
        return;
    }
    in_fresh_netns(move || {
        veth_pair("xa", "xb");
        body(ifindex("xa"), ifindex("xb"));
    });
}

#[test]
fn socket_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<PacketSocket>();
}

#[test]
fn ifindex_zero_is_refused() {
    let err = PacketSocket::open(0).expect_err("index 0 means every interface");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn loopback_sees_each_frame_once() {
    in_fresh_netns(|| {
        set_up("lo").expect("lo up");
        let lo = ifindex("lo");
        let mut sender = PacketSocket::open(lo).expect("open");
        let mut observer = PacketSocket::open(lo).expect("open");
        assert_eq!(
            raw::binding(observer.fd).expect("getsockname"),
            (lo, libc::ETH_P_ALL as u16)
        );

        sender.send(&frame(11)).expect("send");
        // Without PACKET_IGNORE_OUTGOING the observer would get the outgoing copy as well.
        assert_eq!(collect(&mut observer, 11), [frame(11)]);
        // lo hands the frame back as incoming, which the sender does see.
        assert_eq!(collect(&mut sender, 11), [frame(11)]);
    });
}

#[test]
fn veth_frame_crosses_once_and_stays_on_its_interface() {
    with_veth(|xa, xb| {
        set_up("lo").expect("lo up");
        let mut a = PacketSocket::open(xa).expect("open xa");
        let mut a_observer = PacketSocket::open(xa).expect("open xa");
        let mut b = PacketSocket::open(xb).expect("open xb");
        let mut lo = PacketSocket::open(ifindex("lo")).expect("open lo");

        a.send(&frame(21)).expect("send");
        let got = b.recv(WAIT).expect("recv").expect("frame reached the peer");
        assert_eq!(got, frame(21), "bytes arrive unchanged");
        assert_eq!(collect(&mut b, 21), Vec::<Vec<u8>>::new(), "exactly once");
        assert_eq!(
            collect(&mut a_observer, 21),
            Vec::<Vec<u8>>::new(),
            "outgoing ignored"
        );
        assert_eq!(collect(&mut a, 21), Vec::<Vec<u8>>::new());

        lo.send(&frame(22)).expect("send on lo");
        assert_eq!(
            collect(&mut b, 22),
            Vec::<Vec<u8>>::new(),
            "bound to its own interface"
        );
        assert_eq!(collect(&mut a, 22), Vec::<Vec<u8>>::new());
    });
}

#[test]
fn recv_times_out_and_drain_returns_everything_in_order() {
    with_veth(|xa, xb| {
        let mut a = PacketSocket::open(xa).expect("open xa");
        let mut b = PacketSocket::open(xb).expect("open xb");

        let started = Instant::now();
        assert_eq!(b.recv(Duration::from_millis(30)).expect("recv"), None);
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert_eq!(b.drain().expect("drain"), Vec::<Vec<u8>>::new());

        for tag in 1..=50 {
            a.send(&frame(tag)).expect("send");
        }
        // veth normally delivers within the send call; the pause covers softirq work deferred
        // to ksoftirqd on a loaded machine.
        std::thread::sleep(Duration::from_millis(100));
        let tags: Vec<_> = b
            .drain()
            .expect("drain")
            .iter()
            .filter_map(|f| find_tag(f))
            .collect();
        assert_eq!(tags, (1..=50).map(Tag).collect::<Vec<_>>());
        assert_eq!(
            b.take_stats().expect("stats"),
            CaptureStats {
                queued: 50,
                dropped: 0
            }
        );
    });
}

#[test]
fn burst_arrives_complete() {
    with_veth(|xa, xb| {
        let mut a = PacketSocket::open(xa).expect("open xa");
        let mut b = PacketSocket::open(xb).expect("open xb");
        let frames: Vec<Vec<u8>> = (1..=2000).map(frame).collect();

        let report = a.send_burst(&frames).expect("burst");
        assert_eq!(report.sent, 2000);
        assert!(report.rate_pps > 0.0);

        let mut tags = Vec::new();
        while tags.len() < frames.len() {
            let Some(f) = b.recv(WAIT).expect("recv") else {
                break;
            };
            tags.extend(find_tag(&f));
        }
        let stats = b.take_stats().expect("stats");
        assert_eq!(stats.dropped, 0, "{stats:?}");
        assert_eq!(tags, (1..=2000).map(Tag).collect::<Vec<_>>());
    });
}

#[test]
fn empty_burst() {
    with_veth(|xa, _| {
        let report = PacketSocket::open(xa)
            .expect("open")
            .send_burst(&[])
            .expect("burst");
        assert_eq!((report.sent, report.rate_pps), (0, 0.0));
    });
}

/// Measures the burst rate on a veth pair: `cargo nextest run -p xdplab-traffic --release
/// --run-ignored only burst_rate --no-capture`. Also prints the peer's receive counters, to show
/// how many frames the veth delivered and how many a capture that is not read keeps.
#[test]
#[ignore = "measurement, not a check"]
fn burst_rate() {
    with_veth(|xa, xb| {
        let mut a = PacketSocket::open(xa).expect("open xa");
        let min_frame =
            FrameBuilder::ethernet(MacAddr(2, 0, 0, 0, 0, 1), MacAddr(2, 0, 0, 0, 0, 2))
                .ipv4(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2))
                .udp(1000, 2000)
                .payload(&[0; 22])
                .build();
        assert_eq!(min_frame.len(), 64);
        // Baseline: pnet's per-frame send (poll + sendto per frame).
        let started = Instant::now();
        for _ in 0..100_000 {
            a.send(&min_frame).expect("send");
        }
        eprintln!(
            "pnet send loop: {:.0} frames/s",
            100_000.0 / started.elapsed().as_secs_f64()
        );
        let frames = vec![min_frame; 500_000];
        for capture in [false, true] {
            let mut peer = capture.then(|| PacketSocket::open(xb).expect("open xb"));
            let before = rx_counters("xb");
            let report = a.send_burst(&frames).expect("burst");
            let after = rx_counters("xb");
            let peer_stats = peer.as_mut().map(|p| p.take_stats().expect("stats"));
            eprintln!(
                "capture on peer {capture}: sent {} in {:?} = {:.0} frames/s; \
                 peer rx +{} dropped +{}; peer capture {peer_stats:?}",
                report.sent,
                report.elapsed,
                report.rate_pps,
                after.0 - before.0,
                after.1 - before.1,
            );
        }
    });
}

/// (rx packets, rx dropped) of interface `name`, from `ip -s link` (sysfs shows the host's
/// namespace, not this thread's).
fn rx_counters(name: &str) -> (u64, u64) {
    let out = std::process::Command::new("ip")
        .args(["-s", "link", "show", name])
        .output()
        .expect("ip");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("RX:"))
        .expect("RX counters");
    let fields: Vec<u64> = lines[at + 1]
        .split_whitespace()
        .map(|f| f.parse().expect("number"))
        .collect();
    (fields[1], fields[3])
}

#[test]
fn vlan_tags_survive_capture() {
    with_veth(|xa, xb| {
        let mut a = PacketSocket::open(xa).expect("open xa");
        let mut b = PacketSocket::open(xb).expect("open xb");
        let dot1q = FrameBuilder::ethernet(MacAddr(2, 0, 0, 0, 0, 1), MacAddr(2, 0, 0, 0, 0, 2))
            .vlan(100)
            .ipv4(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2))
            .udp(1, 2)
            .tag(Tag(31))
            .build();
        // 802.1ad with priority 5 and DEI set, around the same packet.
        let mut dot1ad = dot1q.clone();
        dot1ad[12..16].copy_from_slice(&[0x88, 0xa8, 0xb0, 100]);
        dot1ad.truncate(dot1ad.len() - 8);
        dot1ad.extend(crate::tag::trailer(Tag(32)));
        // The kernel strips the outer tag into metadata; `capture` must put it back.
        for frame in [dot1q, dot1ad] {
            a.send(&frame).expect("send");
            assert_eq!(b.recv(WAIT).expect("recv"), Some(frame));
        }
    });
}
