//! `xdplab mutants`: mutation testing of a lab's correct C solution.

use std::{path::PathBuf, time::Duration};

use clap::Args;
use grade::mutants::{self, register::Register};
use harness::doctor;
use kernel::{Error, cleanup};

use crate::{Format, exit::Exit, labs};

#[derive(Args)]
pub(crate) struct MutantsArgs {
    /// The lab, for example 7.1.
    lab: String,
    /// The C solution to mutate (it must pass the lab's checks).
    #[arg(long)]
    source: PathBuf,
    /// Only the mutants this program runs, judged by its checks.
    #[arg(long)]
    program: Option<String>,
    /// How many mutants to compile and grade at once (the default is the number of cores).
    #[arg(long, default_value_t = grade::jobs::default_jobs())]
    jobs: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Time limit for one mutant's run, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// The lab's register of equivalent mutants (labs/lab-7-N/mutants.toml): exit 1 on a
    /// survivor it does not name, or an entry naming no survivor.
    #[arg(long)]
    register: Option<PathBuf>,
    /// Print register entries for the survivors not yet registered (all survivors without
    /// --register) instead of the report, each to be reviewed and given its reason.
    #[arg(long)]
    register_skeleton: bool,
    /// Run only this many mutants, drawn with --seed.
    #[arg(long)]
    sample: Option<usize>,
    /// The seed that draws the --sample.
    #[arg(long, default_value_t = 0, requires = "sample")]
    seed: u64,
}

/// Runs `xdplab mutants`; 1 when the register disagrees with the survivors.
pub(crate) fn mutants(args: MutantsArgs) -> Result<Exit, Error> {
    let lab = labs::find_or_explain(&args.lab, 0)?;
    let register = args.register.as_deref().map(Register::load).transpose()?;
    doctor::require_root()?;
    cleanup::sweep();
    let opts = mutants::Options {
        program: args.program,
        jobs: args.jobs,
        timeout: Duration::from_secs(args.timeout),
        exe: std::env::current_exe().map_err(Error::during("finding the xdplab executable"))?,
        sample: args.sample.map(|n| (n, args.seed)),
    };
    let progress = MutantsBar(indicatif::ProgressBar::hidden());
    let report = mutants::run(&lab, &args.source, &opts, &progress)?;
    progress.0.finish_and_clear();
    grade::stragglers::hand_off(&opts.exe, Duration::ZERO);
    let verdict = register.as_ref().map(|r| r.check(&report));
    if args.register_skeleton {
        let entries: Vec<_> = match &verdict {
            Some(v) => v.unregistered.clone(),
            None => report
                .survivors()
                .map(|(p, m)| mutants::register::Entry::for_survivor(p, m))
                .collect(),
        };
        print!("{}", mutants::register::skeleton(&entries));
    } else if args.format == Format::Json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    let (Some(v), Some(path)) = (verdict, &args.register) else {
        return Ok(Exit::Passed);
    };
    eprint!("{}", v.to_text(path));
    Ok(Exit::passed_if(v.passed()))
}

/// The progress bar of `xdplab mutants`, shown once the mutants are counted.
struct MutantsBar(indicatif::ProgressBar);

impl mutants::Progress for MutantsBar {
    fn begin(&self, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({eta})")
                .expect("template"),
        );
        self.0
            .set_draw_target(indicatif::ProgressDrawTarget::stderr());
    }

    fn done(&self, result: &mutants::MutantResult) {
        let m = &result.mutant;
        self.0
            .set_message(format!("{}:{} {}", m.function, m.line, m.operator.name()));
        self.0.inc(1);
    }
}
