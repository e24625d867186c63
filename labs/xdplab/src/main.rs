//! `xdplab`: a thin command line over the harness and the lab crates.
//!
//! Exit codes: 0 every check passed; 1 a check failed; 2 the run could not happen (bad input,
//! verifier rejection, no root, environment fault), with a message saying why.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand, ValueEnum};
use harness::{
    Error, FailureClass, Lab, Mode, RunOptions, Status, XdpObject, doctor, netns,
    object::{ObjectSet, PinnedPrograms, ProgramSource},
};

/// Every lab the CLI knows. Adding a lab is one line here.
fn labs() -> Vec<Lab> {
    vec![lab_7_1::lab(), lab_7_2::lab(), lab_7_3::lab()]
}

#[derive(Parser)]
#[command(name = "xdplab", version, about = "Executable, gradeable XDP labs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a lab's checks against an XDP object (the reference solution by default).
    Run {
        /// The lab, for example 7.1.
        lab: String,
        /// The XDP ELF object to check; repeat it for programs spread over several objects.
        #[arg(long, conflicts_with = "pinned")]
        object: Vec<PathBuf>,
        /// Check programs loaded and pinned by the student: a bpffs directory of pins named
        /// after the programs, or one pin.
        #[arg(long)]
        pinned: Option<PathBuf>,
        /// Run only this program's checks.
        #[arg(long)]
        program: Option<String>,
        /// Run only this check (by id, for example 7.1/firewall/icmp-dropped).
        #[arg(long)]
        check: Option<String>,
        /// How frames reach the program.
        #[arg(long, value_enum, default_value_t = CliMode::Native)]
        mode: CliMode,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Measure full-run times per mode, frames checked per second and topology set-up time.
    Bench {
        /// The lab, for example 7.1.
        lab: String,
        /// Full runs per mode.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// The XDP ELF object to measure (the reference solution by default).
        #[arg(long)]
        object: Option<PathBuf>,
    },
    /// List the labs, their programs and check ids.
    List,
    /// Remove namespaces and pins left behind by killed runs.
    Clean,
    /// Check root, kernel BPF/XDP/BTF support and leftovers.
    Doctor,
}

#[derive(Clone, Copy, ValueEnum)]
enum CliMode {
    Native,
    Generic,
    TestRun,
}

impl From<CliMode> for Mode {
    fn from(m: CliMode) -> Self {
        match m {
            CliMode::Native => Mode::Native,
            CliMode::Generic => Mode::Generic,
            CliMode::TestRun => Mode::TestRun,
        }
    }
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            lab,
            object,
            pinned,
            program,
            check,
            mode,
            format,
        } => match run(&lab, object, pinned, program, check, mode.into(), format) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("xdplab: {e}");
                ExitCode::from(2)
            }
        },
        Command::Bench { lab, runs, object } => match bench(&lab, runs, object) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xdplab: {e}");
                ExitCode::from(2)
            }
        },
        Command::List => {
            for lab in labs() {
                println!("lab {} ({})", lab.id, lab.title);
                for part in &lab.parts {
                    println!("  program {}", part.program);
                    for c in &part.checks {
                        println!("    {:<48} {}", c.id, c.description);
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Command::Clean => {
            if let Err(e) = doctor::require_root() {
                eprintln!("xdplab: {e}");
                return ExitCode::from(2);
            }
            let swept = netns::sweep();
            println!(
                "removed {} namespace(s) and {} pin(s) left by killed runs",
                swept.namespaces.len(),
                swept.pins.len()
            );
            for n in swept.namespaces.iter().chain(&swept.pins) {
                println!("  {n}");
            }
            ExitCode::SUCCESS
        }
        Command::Doctor => {
            let findings = doctor::diagnose();
            for f in &findings {
                println!(
                    "{} {:<12} {}",
                    if f.ok { "ok " } else { "BAD" },
                    f.what,
                    f.detail
                );
            }
            if findings.iter().all(|f| f.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
    }
}

fn find_lab(lab_id: &str) -> Result<Lab, Error> {
    labs().into_iter().find(|l| l.id == lab_id).ok_or_else(|| {
        let ids: Vec<_> = labs().iter().map(|l| l.id).collect();
        Error::env(format!(
            "there is no lab `{lab_id}`; the labs are {}",
            ids.join(", ")
        ))
    })
}

fn bench(lab_id: &str, runs: usize, object: Option<PathBuf>) -> Result<(), Error> {
    let lab = find_lab(lab_id)?;
    doctor::require_root()?;
    netns::sweep();
    let object = match object {
        Some(path) => XdpObject::from_path(path)?,
        None => lab.reference_object(),
    };
    println!(
        "lab {} · {} · {runs} runs per mode",
        lab.id,
        object.origin().display()
    );
    println!("| mode | full run (median) | slowest | frames | frames/s |");
    println!("|---|---|---|---|---|");
    for mode in Mode::ALL {
        let f = harness::bench::lab_run(&lab, &object, mode, runs)?;
        println!(
            "| {} | {:.0} ms | {:.0} ms | {} | {:.0} |",
            f.mode,
            f.run_median.as_secs_f64() * 1e3,
            f.run_max.as_secs_f64() * 1e3,
            f.frames,
            f.frames_per_second
        );
    }
    if let Some(part) = lab.parts.first() {
        let setup = harness::bench::topology_setup(&part.topology, runs.max(5))?;
        println!(
            "topology set-up and teardown (median): {:.1} ms",
            setup.as_secs_f64() * 1e3
        );
        for mode in Mode::ALL {
            let t = harness::bench::part_setup(&object, part.program, mode, &part.topology, 7)?;
            println!(
                "per-part set-up in {mode} (load, topology, attach, sockets; median): {:.1} ms",
                t.as_secs_f64() * 1e3
            );
        }
    }
    Ok(())
}

fn run(
    lab_id: &str,
    objects: Vec<PathBuf>,
    pinned: Option<PathBuf>,
    program: Option<String>,
    check: Option<String>,
    mode: Mode,
    format: Format,
) -> Result<u8, Error> {
    let lab = find_lab(lab_id)?;
    doctor::require_root()?;
    netns::sweep();
    let source: Box<dyn ProgramSource> = match (pinned, objects.as_slice()) {
        (Some(pins), _) => Box::new(PinnedPrograms::open(pins)?),
        (None, []) => Box::new(lab.reference_object()),
        (None, [one]) => Box::new(XdpObject::from_path(one)?),
        (None, many) => Box::new(ObjectSet::from_paths(many)?),
    };
    if let Some(p) = &program
        && !source.programs().contains(p)
    {
        return Err(Error::ProgramNotFound {
            name: p.clone(),
            available: source.programs().join(", "),
        });
    }
    let report = lab.run(
        source.as_ref(),
        &RunOptions {
            mode,
            program,
            check,
        },
    )?;
    match format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!("{}", report.to_json()),
    }
    // A verifier rejection means the run could not happen for that program: exit 2, with the
    // log already in the report.
    let rejected = report
        .checks
        .iter()
        .any(|c| c.status == Status::Fail(FailureClass::Verifier));
    Ok(if rejected {
        2
    } else {
        report.exit_code() as u8
    })
}
