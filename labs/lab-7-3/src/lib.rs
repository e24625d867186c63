//! Lab 7.3, L4 load balancer: the contract in README.md, as checks.
//!
//! Crafted frames come from the client (10.0.0.2, 02:00:00:00:00:01) to the VIP
//! 192.168.1.100 at the load balancer's MAC (02:00:00:00:00:02). They are sent from the switch
//! port the load balancer hangs off, so what the program sends back (XDP_TX) is seen there and
//! then forwarded by the switch to the backend whose MAC it carries. Ports, protocol and
//! payloads, and the source wherever a rule does not depend on it, change from frame to frame
//! ([`frames::Free`]); a seed draws them at random.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod checks;
pub mod differential;
pub mod frames;
pub mod net;

use harness::{Lab, Part, PartId, fill};
use kernel::Verdict;

use checks::Path;
use frames::{Free, Rewrite};
pub use net::{Net, topology};

/// The spread checks of `lb_hash` and `lb_dsr`: ids and what their sources are.
const SPREAD_CONSECUTIVE: &str = "spread-consecutive";
const SPREAD_SCATTERED: (&str, &str) = ("spread-scattered", "spread over the whole IPv4 space");

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
    // Seed 0 gives the hash and DSR parts other backends and another LB MAC than the round
    // robin parts, so a program that assumes the README's values fails there.
    let in_a_row = format!("in a row ({} to {})", consecutive[0], consecutive[299]);
    let (rr, hash, redirect, dsr) = (f.net(false), f.net(true), f.net(false), f.net(true));
    let mut lab = Lab {
        id: ID,
        title: "L4 load balancer",
        contract: include_str!("../README.md"),
        reference: reference::lab_7_3,
        parts: vec![
            part(
                LB_ROUND_ROBIN,
                vec![
                    checks::rewritten_headers(LB_ROUND_ROBIN, Verdict::Tx, Rewrite::Nat, &f, &rr),
                    checks::checksum_edges(LB_ROUND_ROBIN, Verdict::Tx, &f, &rr),
                    checks::round_robin(LB_ROUND_ROBIN, Verdict::Tx, &f, &rr),
                    checks::round_robin_long(LB_ROUND_ROBIN, Verdict::Tx, &f, &rr),
                    checks::round_robin_past_16_bits(LB_ROUND_ROBIN, Verdict::Tx, &f, &rr),
                    checks::round_robin_across_cpus(LB_ROUND_ROBIN, Verdict::Tx, &f, &rr),
                    checks::delivered(LB_ROUND_ROBIN, Path::Switch, &f, &rr),
                    checks::non_vip(LB_ROUND_ROBIN, &f, &rr),
                ],
                false,
                &rr,
            ),
            part(
                LB_HASH,
                vec![
                    checks::rewritten_headers(LB_HASH, Verdict::Tx, Rewrite::Nat, &f, &hash),
                    checks::checksum_edges(LB_HASH, Verdict::Tx, &f, &hash),
                    checks::affinity(LB_HASH, Rewrite::Nat, &f, &hash),
                    checks::spread(
                        LB_HASH,
                        Rewrite::Nat,
                        (SPREAD_CONSECUTIVE, &in_a_row),
                        &consecutive,
                        &f,
                        &hash,
                    ),
                    checks::spread(
                        LB_HASH,
                        Rewrite::Nat,
                        SPREAD_SCATTERED,
                        &scattered,
                        &f,
                        &hash,
                    ),
                    checks::chi_square_report(&consecutive, &scattered, &f, &hash),
                    checks::backend_stats(&f, &hash),
                    checks::non_vip(LB_HASH, &f, &hash),
                ],
                false,
                &hash,
            ),
            stretch(part(
                LB_REDIRECT,
                vec![
                    checks::rewritten_headers(
                        LB_REDIRECT,
                        Verdict::Redirect,
                        Rewrite::Nat,
                        &f,
                        &redirect,
                    ),
                    checks::checksum_edges(LB_REDIRECT, Verdict::Redirect, &f, &redirect),
                    checks::round_robin(LB_REDIRECT, Verdict::Redirect, &f, &redirect),
                    checks::round_robin_long(LB_REDIRECT, Verdict::Redirect, &f, &redirect),
                    checks::round_robin_past_16_bits(LB_REDIRECT, Verdict::Redirect, &f, &redirect),
                    checks::round_robin_across_cpus(LB_REDIRECT, Verdict::Redirect, &f, &redirect),
                    checks::delivered(LB_REDIRECT, Path::Link, &f, &redirect),
                    checks::non_vip(LB_REDIRECT, &f, &redirect),
                ],
                false,
                &redirect,
            )),
            stretch(part(
                LB_DSR,
                vec![
                    checks::rewritten_headers(LB_DSR, Verdict::Tx, Rewrite::Dsr, &f, &dsr),
                    checks::affinity(LB_DSR, Rewrite::Dsr, &f, &dsr),
                    checks::spread(
                        LB_DSR,
                        Rewrite::Dsr,
                        (SPREAD_CONSECUTIVE, &in_a_row),
                        &consecutive,
                        &f,
                        &dsr,
                    ),
                    checks::spread(LB_DSR, Rewrite::Dsr, SPREAD_SCATTERED, &scattered, &f, &dsr),
                    checks::dsr_tcp(&dsr),
                    checks::non_vip(LB_DSR, &f, &dsr),
                    checks::counts_from_two_cpus(LB_DSR, &f, &dsr),
                ],
                true,
                &dsr,
            )),
        ],
        environment: Some(net::topology),
    };
    differential::add(&mut lab, seed, |program| match program {
        "lb_round_robin" => rr.clone(),
        "lb_hash" => hash.clone(),
        "lb_redirect" => redirect.clone(),
        _ => dsr.clone(),
    });
    lab
}

/// `lb_round_robin`.
const LB_ROUND_ROBIN: PartId = PartId::new(ID, "lb_round_robin");
/// `lb_hash`.
pub(crate) const LB_HASH: PartId = PartId::new(ID, "lb_hash");
/// `lb_redirect`.
const LB_REDIRECT: PartId = PartId::new(ID, "lb_redirect");
/// `lb_dsr`.
const LB_DSR: PartId = PartId::new(ID, "lb_dsr");

fn part(id: PartId, checks: Vec<harness::Check>, dsr: bool, net: &Net) -> Part {
    Part {
        program: id.program,
        counters: Some("stats"),
        checks,
        topology: net::spec(dsr, net),
        setup: Some(fill::setup(net::fills(id == LB_REDIRECT, net))),
        requires: &[],
        points: None,
    }
}

/// What a stretch part (`lb_redirect`, `lb_dsr`) is worth by default: half a core part, so
/// the two core parts carry two thirds of the lab (see README.md, Grading).
const STRETCH_POINTS: f64 = harness::lab::DEFAULT_PART_POINTS / 2.0;

/// A part as a stretch goal: worth [`STRETCH_POINTS`] in the default rubric.
fn stretch(part: Part) -> Part {
    Part {
        points: Some(STRETCH_POINTS),
        ..part
    }
}

#[cfg(test)]
mod tests {
    use grade::Rubric;

    /// The core parts carry two thirds of the default rubric, the stretch parts one third.
    #[test]
    fn stretch_parts_weigh_half_a_core_part() {
        let rubric = Rubric::default_for(&super::lab(0));
        let points: Vec<(&str, f64)> = rubric
            .parts
            .iter()
            .map(|p| (p.program.as_str(), p.points))
            .collect();
        assert_eq!(
            points,
            [
                ("lb_round_robin", 10.0),
                ("lb_hash", 10.0),
                ("lb_redirect", 5.0),
                ("lb_dsr", 5.0)
            ]
        );
    }
}
