//! How many packets per second the reference `lb_round_robin` balances on the lab's veth
//! topology: a burst of VIP datagrams from the switch port, counted where they end up.
//!
//! `cargo run --release -p xdplab-lab-7-3 --example pps -- [native|generic] [FRAMES]` (as root)
//!
//! Prints the send rate, the program's rate (its run count over the time until it has seen
//! every frame) and how many datagrams the backends' UDP layers took in (their `NoPorts` and
//! `InDatagrams` counters: checksums verified, delivered up to UDP).

use harness::arrival::throughput;
use kernel::{Mode, target};
use lab_7_3::{
    frames::Spec,
    net::{BACKEND_NS, CLIENT_IP},
};

fn main() -> kernel::Result<()> {
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
            Spec::udp("", k + 1, CLIENT_IP, 1024 + k).frame(&lab_7_3::Net::CANONICAL)
        })
        .collect();
    let vt = t.veth().expect("a veth mode has a veth target");
    let m = throughput(vt, &frames, &BACKEND_NS)?;
    println!(
        "{mode}: sent {} frames at {:.0} pps; the program ran on {n} in {:.3} s = {:.0} pps; \
         backends received {} ({:.1}%)",
        m.burst.sent,
        m.burst.rate_pps,
        m.ran_in.as_secs_f64(),
        n as f64 / m.ran_in.as_secs_f64(),
        m.received,
        m.received as f64 * 100.0 / n as f64,
    );
    Ok(())
}
