//! `xdplab env`: a lab's network brought up for exploration, or taken down.

use clap::Subcommand;
use harness::doctor;
use kernel::{Error, cleanup};

use crate::{exit::Exit, labs};

#[derive(Subcommand)]
pub(crate) enum EnvCommand {
    /// Build the lab's network in namespaces `xdplab-env-<role>`, which stay until `env down`.
    Up {
        /// The lab, for example 7.3.
        lab: String,
    },
    /// Remove the namespaces `env up` made.
    Down,
}

pub(crate) fn env(cmd: EnvCommand) -> Result<Exit, Error> {
    doctor::require_root()?;
    match cmd {
        EnvCommand::Up { lab } => {
            let lab = labs::find_or_explain(&lab, 0)?;
            let spec = match lab.environment {
                Some(make) => make(),
                None => lab
                    .parts
                    .first()
                    .map(|p| p.topology.clone())
                    .ok_or_else(|| {
                        Error::env(format!("lab {} has no network to explore", lab.id))
                    })?,
            };
            let names = kernel::topology::Topology::create_environment(&spec)?;
            println!(
                "lab {} network is up; enter a namespace with `ip netns exec NAME bash`:",
                lab.id
            );
            for (role, name) in names {
                println!("  {role:<10} {name}");
            }
            println!(
                "the program goes on {}/{}; take it all down with `xdplab env down`",
                spec.xdp.0, spec.xdp.1
            );
        }
        EnvCommand::Down => {
            let removed = cleanup::remove_environment();
            println!("removed {} namespace(s)", removed.len());
            for n in removed {
                println!("  {n}");
            }
        }
    }
    Ok(Exit::Passed)
}
