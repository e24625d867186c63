//! `xdplab env`: a lab's network brought up for exploration, with a program attached if asked,
//! or taken down.

use std::path::PathBuf;

use clap::Subcommand;
use harness::{Lab, doctor};
use kernel::{
    Error, cleanup,
    input::Links,
    source::Programs,
    topology::{Topology, TopologySpec},
};

use crate::{exit::Exit, labs};

#[derive(Subcommand)]
pub(crate) enum EnvCommand {
    /// Build the lab's network in namespaces `xdplab-env-<role>`, which stay until `env down`;
    /// with --object or --program, attach that program where the lab's checks attach it.
    Up {
        /// The lab, for example 7.3.
        lab: String,
        /// The XDP ELF object holding the program to attach (without it, the reference
        /// solution's, when --program is given).
        #[arg(long)]
        object: Option<PathBuf>,
        /// The lab's program to attach (needed when the lab has several and the object holds
        /// more than one of them).
        #[arg(long)]
        program: Option<String>,
    },
    /// Remove the namespaces `env up` made, and the program it attached.
    Down,
}

pub(crate) fn env(cmd: EnvCommand) -> Result<Exit, Error> {
    doctor::require_root()?;
    match cmd {
        EnvCommand::Up {
            lab,
            object,
            program,
        } => up(&labs::find_or_explain(&lab, 0)?, object, program),
        EnvCommand::Down => {
            let removed = cleanup::remove_environment();
            let (pins, namespaces): (Vec<_>, Vec<_>) =
                removed.iter().partition(|n| n.starts_with('/'));
            println!("removed {} namespace(s)", namespaces.len());
            for n in namespaces {
                println!("  {n}");
            }
            for p in pins {
                println!("removed the attached program's pins, {p}");
            }
            Ok(Exit::Passed)
        }
    }
}

fn up(lab: &Lab, object: Option<PathBuf>, program: Option<String>) -> Result<Exit, Error> {
    let source = match (&object, &program) {
        (None, None) => None,
        (Some(path), _) => Some(
            Programs::Files {
                paths: vec![path.clone()],
                links: Links::Follow,
            }
            .open()?,
        ),
        (None, Some(_)) => Some(Programs::Object(lab.reference_object()).open()?),
    };
    let chosen = match &source {
        None => None,
        Some(s) => Some(choose(lab, s.programs(), program.as_deref())?),
    };
    let spec: TopologySpec = match (chosen, lab.environment) {
        (Some(p), _) => lab
            .parts
            .iter()
            .find(|part| part.program == p)
            .map(|part| part.topology.clone())
            .expect("chosen among the lab's parts"),
        (None, Some(make)) => make(),
        (None, None) => lab
            .parts
            .first()
            .map(|p| p.topology.clone())
            .ok_or_else(|| Error::env(format!("lab {} has no network to explore", lab.id)))?,
    };
    let mut loaded = match (&source, chosen) {
        (Some(s), Some(p)) => Some(s.load(p)?),
        _ => None,
    };
    let names = Topology::create_environment(&spec, loaded.as_mut())?;
    let ns_of = |role: &str| {
        names
            .iter()
            .find(|(r, _)| *r == role)
            .map_or_else(|| role.to_owned(), |(_, n)| n.clone())
    };
    let (xdp_ns, xdp_if) = (ns_of(spec.xdp.0), spec.xdp.1);
    println!(
        "lab {} network is up; enter a namespace with `ip netns exec NAME bash`:",
        lab.id
    );
    for (role, name) in &names {
        println!("  {role:<10} {name}");
    }
    match chosen {
        Some(p) => {
            let from = object.as_ref().map_or_else(
                || "the reference solution".to_owned(),
                |o| o.display().to_string(),
            );
            println!(
                "{p} (from {from}) is attached to {xdp_if} in {xdp_ns}, in generic mode; it and \
                 its link are pinned in {}",
                cleanup::ENV_PIN_DIR
            );
            println!(
                "test it in place (it stays attached; the checks attach it to their own network \
                 as well, sharing its maps):"
            );
            println!(
                "  xdplab run {} --attached {xdp_if} --netns {xdp_ns} --program {p}",
                lab.id
            );
        }
        None => println!(
            "no program is attached: `xdplab env down`, then `xdplab env up {} --object \
             YOUR.o --program NAME` attaches yours on {xdp_if} in {xdp_ns}",
            lab.id
        ),
    }
    println!("watch its traffic:");
    println!("  ip netns exec {xdp_ns} tcpdump -eni {xdp_if}");
    let target = spec
        .links
        .iter()
        .flat_map(|(a, b)| [(a, b), (b, a)])
        .find(|(end, _)| end.ns == spec.xdp.0 && end.ifname == spec.xdp.1);
    if let Some((end, peer)) = target
        && let Some((addr, _)) = end.addr
    {
        println!("  ip netns exec {} ping -c 3 {addr}", ns_of(peer.ns));
    }
    println!("take it all down with `xdplab env down`");
    Ok(Exit::Passed)
}

/// The lab's program to attach: `asked`, or the one program of the lab that `available`
/// holds.
fn choose<'a>(lab: &'a Lab, available: Vec<String>, asked: Option<&str>) -> Result<&'a str, Error> {
    let parts: Vec<&str> = lab.parts.iter().map(|p| p.program).collect();
    let candidates: Vec<&str> = match asked {
        Some(a) => parts.iter().copied().filter(|p| *p == a).collect(),
        None => parts
            .iter()
            .copied()
            .filter(|p| available.iter().any(|a| a == p))
            .collect(),
    };
    match (candidates.as_slice(), asked) {
        ([one], _) if available.iter().any(|a| a == one) => Ok(one),
        ([one], _) => Err(Error::usage(format!(
            "the object holds no program `{one}`; it holds: {}",
            available.join(", ")
        ))),
        ([], Some(a)) => Err(Error::usage(format!(
            "lab {} has no program `{a}`; its programs are {}",
            lab.id,
            parts.join(", ")
        ))),
        _ => Err(Error::usage(format!(
            "say which program to attach with --program: one of {}",
            parts
                .iter()
                .filter(|p| available.iter().any(|a| a == *p))
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
