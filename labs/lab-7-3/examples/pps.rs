//! How many packets per second the reference `lb_round_robin` balances on the lab's veth
//! topology: a burst of VIP datagrams from the switch port, counted where they end up.
//!
//! `cargo run --release -p xdplab-lab-7-3 --example pps -- [native|generic] [FRAMES]` (as root)
//!
//! Prints the send rate, the program's rate (its run count over the time until it has seen
//! every frame) and how many datagrams the backends' UDP layers received (their `NoPorts` and
//! `InDatagrams` counters: checksums verified, delivered up to UDP).

use std::time::{Duration, Instant};

use harness::{Mode, target};
use lab_7_3::{
    frames::Spec,
    net::{BACKEND_NS, CLIENT_IP},
};

fn udp_received(t: &mut target::VethTarget) -> u64 {
    BACKEND_NS
        .iter()
        .map(|ns| {
            let snmp = t
                .topology()
                .ns(ns)
                .unwrap()
                .run(|| std::fs::read_to_string("/proc/thread-self/net/snmp"))
                .unwrap()
                .unwrap();
            let mut lines = snmp.lines().filter(|l| l.starts_with("Udp:"));
            let names: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
            let values: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
            ["InDatagrams", "NoPorts"]
                .iter()
                .map(|n| {
                    let i = names.iter().position(|x| x == n).unwrap();
                    values[i].parse::<u64>().unwrap()
                })
                .sum::<u64>()
        })
        .sum()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = match args.next().as_deref() {
        None | Some("native") => Mode::Native,
        Some("generic") => Mode::Generic,
        Some(other) => panic!("mode is native or generic, not {other}"),
    };
    let n: usize = args
        .next()
        .map_or(200_000, |s| s.parse().expect("a frame count"));
    let lab = lab_7_3::lab(0);
    let part = &lab.parts[0];
    let object = lab.reference_object();
    let mut t = target::open(&object, part.program, mode, &part.topology).expect("target");
    (part.setup.as_ref().unwrap().0)(t.as_mut()).expect("maps filled");
    let frames: Vec<Vec<u8>> = (0..n)
        .map(|k| {
            Spec::udp(
                "",
                (k % 60000) as u16 + 1,
                CLIENT_IP,
                1024 + (k % 60000) as u16,
            )
            .frame()
        })
        .collect();
    let vt = t.veth().expect("a veth target");
    let before_rx = udp_received(vt);
    let before_runs = target::Target::program(vt).run_count().unwrap();
    let start = Instant::now();
    let burst = vt.sender().send_burst(&frames).expect("burst");
    let mut ran = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        ran = target::Target::program(vt).run_count().unwrap() - before_runs;
        if ran >= n as u64 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = start.elapsed();
    // Delivery to the backends finishes in the softirqs right after the program ran.
    std::thread::sleep(Duration::from_millis(200));
    let received = udp_received(vt) - before_rx;
    println!(
        "{mode}: sent {} frames at {:.0} pps; the program ran on {ran} in {:.3} s = {:.0} pps; \
         backends received {received} ({:.1}%)",
        burst.sent,
        burst.rate_pps,
        elapsed.as_secs_f64(),
        ran as f64 / elapsed.as_secs_f64(),
        received as f64 * 100.0 / n as f64,
    );
}
