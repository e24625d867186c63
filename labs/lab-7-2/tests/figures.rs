//! Figures for the README, not assertions: how fast floods reach the program in each mode.
//! `cargo nextest run -p xdplab-lab-7-2 --run-ignored only --no-capture`

use kernel::{Mode, target};
use traffic::{FrameBuilder, Tag};

/// 1500 tagged UDP frames from one source, as the rate checks send them.
fn frames(base: u16) -> Vec<Vec<u8>> {
    (0..1500u16)
        .map(|i| {
            FrameBuilder::ethernet(kernel::topology::CLIENT_MAC, kernel::topology::DUT_MAC)
                .ipv4(
                    "198.18.9.1".parse().unwrap(),
                    "203.0.113.1".parse().unwrap(),
                )
                .udp(40000, 9)
                .payload(b"xdplab")
                .tag(Tag(base + i + 1))
                .build()
        })
        .collect()
}

#[test]
#[ignore = "prints measurements for the README"]
fn burst_rate() {
    let lab = lab_7_2::lab(0);
    let object = lab.reference_object();
    let part = &lab.parts[0];
    for mode in Mode::ALL {
        let mut t = target::open(&object, part.program, mode, &part.topology).expect("target");
        let mut send = Vec::new();
        let mut seen = Vec::new();
        for round in 0..7u16 {
            let frames = frames(round * 1500);
            if let Some(veth) = t.veth() {
                // The sender alone: frames handed to the kernel per second.
                let report = veth.sender().send_burst(&frames).expect("burst");
                send.push(report.rate_pps);
                std::thread::sleep(std::time::Duration::from_millis(100));
                veth.drain_all().expect("drain");
            }
            // Sent and seen by the program, as the checks measure it.
            let shot = t.fire(&frames).expect("fire");
            seen.push(1500.0 / shot.elapsed.as_secs_f64());
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        let send = if send.is_empty() {
            "no sender".to_owned()
        } else {
            format!("{:.0} frames/s", median(&mut send))
        };
        println!(
            "{mode}: send_burst alone {send}; sent and run by the program {:.0} frames/s \
             (median of 7 bursts of 1500)",
            median(&mut seen)
        );
    }
}
