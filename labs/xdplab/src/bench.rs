//! `xdplab bench`: each program's speed next to the reference solution and an XDP_DROP floor.

use std::{path::PathBuf, time::Duration};

use clap::Args;
use harness::doctor;
use kernel::{Error, Mode, XdpObject, cleanup};

use crate::{Format, exit::Exit, labs, run::objects_or_reference};

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// The lab, for example 7.1.
    lab: String,
    /// The XDP ELF object to measure (the reference solution by default); repeat it for
    /// programs spread over several objects.
    #[arg(long)]
    object: Vec<PathBuf>,
    /// Runs (1 to 1000); the report gives their median and spread.
    #[arg(long, default_value_t = 5,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    runs: usize,
    /// BPF_PROG_TEST_RUN repeats of each frame of the mix per run (1 to 1000000).
    #[arg(long, default_value_t = 1000,
          value_parser = clap::builder::RangedU64ValueParser::<u32>::new().range(1..=1_000_000))]
    repeat: u32,
    /// Frames per native-mode veth burst (0: skip the veth measurement; at most 1000000).
    #[arg(long, default_value_t = 5000,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1_000_000))]
    veth_frames: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also time full lab runs per mode and the set-up steps (the README's figures).
    #[arg(long)]
    modes: bool,
    /// Time limit for the measurement, in seconds (1 to 86400); past it no new run starts.
    #[arg(long, default_value_t = 300,
          value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..=86_400))]
    timeout: u64,
}

pub(crate) fn bench(args: BenchArgs) -> Result<Exit, Error> {
    let lab = labs::find_or_explain(&args.lab, 0)?;
    doctor::require_root()?;
    cleanup::sweep();
    let source = objects_or_reference(&args.object, || lab.reference_object()).open()?;
    let opts = harness::bench::PerfOptions {
        runs: args.runs,
        repeat: args.repeat,
        veth_frames: args.veth_frames,
        time_limit: Duration::from_secs(args.timeout),
    };
    let perf = harness::bench::perf(&lab, source.as_ref(), opts)?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&perf).expect("serialises")
        ),
        Format::Text => print!("lab {} · {}\n{}", lab.id, source.origin(), perf.to_text()),
    }
    if args.modes {
        modes(&lab, &args)?;
    }
    Ok(Exit::Passed)
}

/// `--modes`: full lab runs per mode and the set-up steps, for one object.
fn modes(lab: &harness::Lab, args: &BenchArgs) -> Result<(), Error> {
    let (runs, object) = match args.object.as_slice() {
        [] => (args.runs, lab.reference_object()),
        [one] => (args.runs, XdpObject::from_path(one)?),
        _ => {
            return Err(Error::usage(
                "--modes times one object; pass a single --object".to_owned(),
            ));
        }
    };
    println!(
        "lab {} · {} · {runs} runs per mode",
        lab.id,
        object.origin().display()
    );
    println!("| mode | full run (median) | slowest | frames | frames/s |");
    println!("|---|---|---|---|---|");
    for mode in Mode::ALL {
        let f = harness::bench::lab_run(lab, &object, mode, runs)?;
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
