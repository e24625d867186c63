//! Lab 7.3, L4 load balancer: the contract in README.md, as checks.
//!
//! Crafted frames come from the client (10.0.0.2, 02:00:00:00:00:01) to the VIP
//! 192.168.1.100 at the load balancer's MAC (02:00:00:00:00:02). They are sent from the switch
//! port the load balancer hangs off, so what the program sends back (XDP_TX) is seen there and
//! then forwarded by the switch to the backend whose MAC it carries. Ports, protocol and
//! payloads, and the source wherever a rule does not depend on it, change from frame to frame
//! ([`frames::Free`]); a seed draws them at random.

pub mod checks;
pub mod frames;
pub mod net;

use harness::{Lab, Part, Verdict, fill};

use checks::Path;
use frames::{Free, Rewrite};
pub use net::topology;

/// The lab's id.
pub const ID: &str = "7.3";

/// The lab with all its parts, the fields no rule reads varied by `seed` (0: the canonical
/// frames).
pub fn lab(seed: u64) -> Lab {
    let f = Free::new(seed);
    let (consecutive, scattered) = (
        checks::consecutive_sources(&f),
        checks::scattered_sources(&f),
    );
    Lab {
        id: ID,
        title: "L4 load balancer",
        reference: reference::lab_7_3,
        parts: vec![
            part(
                "lb_round_robin",
                vec![
                    checks::rewritten_headers("lb_round_robin", Verdict::Tx, Rewrite::Nat, &f),
                    checks::round_robin("lb_round_robin", Verdict::Tx, &f),
                    checks::round_robin_across_cpus("lb_round_robin", Verdict::Tx, &f),
                    checks::delivered("lb_round_robin", Path::Switch, &f),
                    checks::non_vip("lb_round_robin", &f),
                ],
                false,
            ),
            part(
                "lb_hash",
                vec![
                    checks::rewritten_headers("lb_hash", Verdict::Tx, Rewrite::Nat, &f),
                    checks::affinity("lb_hash", Rewrite::Nat, &f),
                    checks::spread(
                        "spread-consecutive",
                        &format!("in a row ({} to {})", consecutive[0], consecutive[299]),
                        &consecutive,
                        &f,
                    ),
                    checks::spread(
                        "spread-scattered",
                        "spread over the whole IPv4 space",
                        &scattered,
                        &f,
                    ),
                    checks::chi_square_report(&consecutive, &scattered, &f),
                    checks::backend_stats(&f),
                    checks::non_vip("lb_hash", &f),
                ],
                false,
            ),
            part(
                "lb_redirect",
                vec![
                    checks::rewritten_headers("lb_redirect", Verdict::Redirect, Rewrite::Nat, &f),
                    checks::round_robin("lb_redirect", Verdict::Redirect, &f),
                    checks::round_robin_across_cpus("lb_redirect", Verdict::Redirect, &f),
                    checks::delivered("lb_redirect", Path::Link, &f),
                    checks::non_vip("lb_redirect", &f),
                ],
                false,
            ),
            part(
                "lb_dsr",
                vec![
                    checks::rewritten_headers("lb_dsr", Verdict::Tx, Rewrite::Dsr, &f),
                    checks::affinity("lb_dsr", Rewrite::Dsr, &f),
                    checks::dsr_tcp(),
                    checks::non_vip("lb_dsr", &f),
                ],
                true,
            ),
        ],
        environment: Some(net::topology),
    }
}

fn part(program: &'static str, checks: Vec<harness::Check>, dsr: bool) -> Part {
    Part {
        program,
        counters: Some("stats"),
        checks,
        topology: net::spec(dsr),
        setup: Some(fill::setup(net::fills(program == "lb_redirect"))),
        requires: &[],
    }
}
