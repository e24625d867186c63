//! How many packets per second the reference `lb_round_robin` balances on the lab's veth
//! topology: a burst of VIP datagrams from the switch port, counted where they end up.
//!
//! `cargo run --release -p xdplab-lab-7-3 --example pps -- [native|generic] [FRAMES]` (as root)
//!
//! Prints the program's rate (its run count over the time until it has seen every frame) and
//! how many datagrams the backends' UDP layers took in (their `NoPorts` and `InDatagrams`
//! counters: checksums verified, delivered up to UDP).

use harness::{Mode, arrival::udp_datagrams, target};
use lab_7_3::{
    frames::Spec,
    net::{BACKEND_NS, CLIENT_IP},
};

fn received(vt: &target::VethTarget) -> harness::Result<u64> {
    BACKEND_NS.iter().map(|ns| udp_datagrams(vt, ns)).sum()
}

fn main() -> harness::Result<()> {
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
    let mut t = target::open(&object, part.program, mode, &part.topology)?;
    if let Some(setup) = &part.setup {
        (setup.0)(t.as_mut())?;
    }
    let frames: Vec<Vec<u8>> = (0..n)
        .map(|k| {
            let k = (k % 60000) as u16;
            Spec::udp("", k + 1, CLIENT_IP, 1024 + k).frame()
        })
        .collect();
    let vt = t.veth().expect("a veth mode has a veth target");
    let before = received(vt)?;
    // Settled once the barrier frames behind the burst have reached the backends' links: then
    // every datagram before them has reached the backends' UDP layers too.
    let links: Vec<(&str, &str)> = BACKEND_NS.iter().map(|ns| (*ns, "eth0")).collect();
    let settled = vt.send_and_watch_beyond(&frames, &links, &mut |vt| vt.drain_all().map(drop))?;
    let elapsed = settled.elapsed;
    let got = received(vt)? - before;
    println!(
        "{mode}: the program ran on {n} frames in {:.3} s = {:.0} pps; backends received {got} \
         ({:.1}%)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        got as f64 * 100.0 / n as f64,
    );
    if let Some(note) = settled.note {
        println!("{note}");
    }
    Ok(())
}
