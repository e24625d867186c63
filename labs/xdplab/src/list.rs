//! `xdplab list`: the labs, their programs and check ids; `--format json` for scripts (the
//! kernel matrix, `just mutants`).

use clap::Args;
use serde::Serialize;

use crate::{Format, labs};

#[derive(Args)]
pub(crate) struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// One lab, as `--format json` lists it.
#[derive(Serialize)]
struct ListedLab {
    id: &'static str,
    title: &'static str,
    /// Its crate's package name.
    package: String,
    /// Its crate's folder, relative to the repository.
    folder: String,
    /// The correct C solution `just mutants` mutates, relative to the repository.
    c_solution: String,
    /// The register of equivalent mutants, relative to the repository.
    mutants_register: String,
    parts: Vec<ListedPart>,
}

#[derive(Serialize)]
struct ListedPart {
    program: &'static str,
    /// Kernel helpers the part needs (it is not run where they are missing).
    needs: Vec<&'static str>,
    checks: Vec<ListedCheck>,
}

#[derive(Serialize)]
struct ListedCheck {
    id: String,
    description: String,
}

pub(crate) fn list(args: &ListArgs) {
    let labs = labs::all(0);
    if args.format == Format::Json {
        let listed: Vec<ListedLab> = labs
            .iter()
            .zip(labs::LABS)
            .map(|(lab, registered)| {
                let folder = labs::folder(lab.id);
                ListedLab {
                    id: lab.id,
                    title: lab.title,
                    package: format!("xdplab-{}", folder.trim_start_matches("labs/")),
                    c_solution: format!("{folder}/{}", registered.c_solution),
                    mutants_register: format!("{folder}/mutants.toml"),
                    folder,
                    parts: lab
                        .parts
                        .iter()
                        .map(|part| ListedPart {
                            program: part.program,
                            needs: part.requires.iter().map(|h| h.name).collect(),
                            checks: part
                                .checks
                                .iter()
                                .map(|c| ListedCheck {
                                    id: c.id.clone(),
                                    description: c.description.clone(),
                                })
                                .collect(),
                        })
                        .collect(),
                }
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&listed).expect("serialises")
        );
        return;
    }
    for lab in labs {
        println!("lab {} ({})", lab.id, lab.title);
        for part in &lab.parts {
            let needs: Vec<&str> = part.requires.iter().map(|h| h.name).collect();
            if needs.is_empty() {
                println!("  program {}", part.program);
            } else {
                println!("  program {} (needs {})", part.program, needs.join(", "));
            }
            for c in &part.checks {
                println!("    {:<48} {}", c.id, c.description);
            }
        }
    }
}
