//! Lab 7.3, L4 load balancer: the contract in README.md, as checks.
//!
//! Crafted frames come from the client (10.0.0.2, 02:00:00:00:00:01) to the VIP
//! 192.168.1.100 at the load balancer's MAC (02:00:00:00:00:02). They are sent from the switch
//! port the load balancer hangs off, so what the program sends back (XDP_TX) is seen there and
//! then forwarded by the switch to the backend whose MAC it carries.

pub mod checks;
pub mod frames;
pub mod net;

use harness::{Lab, Part, Verdict, fill};

use checks::Path;
use frames::Rewrite;
pub use net::topology;

/// The lab's id.
pub const ID: &str = "7.3";

/// The lab with all its parts. Its frames do not vary with `seed` yet.
pub fn lab(seed: u64) -> Lab {
    let _ = seed;
    Lab {
        id: ID,
        title: "L4 load balancer",
        reference: reference::lab_7_3,
        parts: vec![
            part(
                "lb_round_robin",
                vec![
                    checks::rewritten_headers("lb_round_robin", Verdict::Tx, Rewrite::Nat),
                    checks::round_robin("lb_round_robin", Verdict::Tx),
                    checks::delivered("lb_round_robin", Path::Switch),
                    checks::non_vip("lb_round_robin"),
                ],
                false,
            ),
            part(
                "lb_hash",
                vec![
                    checks::rewritten_headers("lb_hash", Verdict::Tx, Rewrite::Nat),
                    checks::affinity(),
                    checks::spread(
                        "spread-consecutive",
                        "in a row (172.16.0.0 to 172.16.1.43)",
                        checks::consecutive_sources,
                    ),
                    checks::spread(
                        "spread-scattered",
                        "spread over the whole IPv4 space",
                        checks::scattered_sources,
                    ),
                    checks::chi_square_report(),
                    checks::backend_stats(),
                    checks::non_vip("lb_hash"),
                ],
                false,
            ),
            part(
                "lb_redirect",
                vec![
                    checks::rewritten_headers("lb_redirect", Verdict::Redirect, Rewrite::Nat),
                    checks::round_robin("lb_redirect", Verdict::Redirect),
                    checks::delivered("lb_redirect", Path::Link),
                    checks::non_vip("lb_redirect"),
                ],
                false,
            ),
            part(
                "lb_dsr",
                vec![
                    checks::rewritten_headers("lb_dsr", Verdict::Tx, Rewrite::Dsr),
                    checks::dsr_tcp(),
                    checks::non_vip("lb_dsr"),
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
