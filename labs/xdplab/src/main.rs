//! `xdplab`: a thin command line over the harness and the lab crates.
//!
//! Exit codes: 0 every check passed; 1 a check failed; 2 the run could not happen (bad input,
//! verifier rejection, no root, environment fault), with a message saying why.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use clap::{Args, Parser, Subcommand, ValueEnum};
use grade::{self, GradeOptions, Rubric, RunErrorDocument, output};
use harness::{Lab, Report, RunOptions, Status, doctor};
use kernel::{
    Error, FailureClass, Mode, XdpObject, cleanup,
    input::{self, PathKind},
    object::{ObjectSet, ProgramSource},
    source::{AttachedProgram, PinnedPrograms, ProgramIds},
};

// Every print of this file goes through `write_stdout`: these shadow the standard macros, so
// no print path (nor one added later) can panic on a closed or full standard output.
macro_rules! print {
    ($($arg:tt)*) => { write_stdout(::std::format_args!($($arg)*)) };
}
macro_rules! println {
    ($($arg:tt)*) => { write_stdout(::std::format_args!("{}\n", ::std::format_args!($($arg)*))) };
}

/// Writes to standard output. A reader that went away (`xdplab list | head`) ends the program
/// quietly with 0, as ripgrep does; any other failure (`> /dev/full`, a full disk) with one
/// line and 2. The exit skips every Drop, so this process's namespaces and pins go first.
fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(args).and_then(|()| stdout.flush());
    drop(stdout);
    if let Err(e) = written {
        cleanup::sweep_own();
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        let _ = writeln!(
            std::io::stderr(),
            "xdplab: cannot write to standard output: {e}"
        );
        std::process::exit(2);
    }
}

// `fn labs(seed) -> Vec<Lab>`: every lab crate this package depends on (see build.rs).
include!(concat!(env!("OUT_DIR"), "/labs.rs"));

#[derive(Parser)]
#[command(name = "xdplab", version, about = "Executable, gradeable XDP labs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a lab's checks against an XDP object (the reference solution by default).
    Run(RunArgs),
    /// Grade a folder of submissions: scores, reasons, and reports for people and machines.
    Grade(GradeArgs),
    /// Measure each program's speed next to the reference solution and an XDP_DROP floor.
    Bench(BenchArgs),
    /// Mutation testing: grade every one-site mistake in a correct C solution and report the
    /// mutants no check kills.
    Mutants(MutantsArgs),
    /// Bring a lab's network up for exploration (ping, curl, tcpdump), or take it down.
    #[command(subcommand)]
    Env(EnvCommand),
    /// List the labs, their programs and check ids.
    List,
    /// Remove namespaces and pins left behind by killed runs.
    Clean,
    /// Check root, kernel BPF/XDP/BTF support and leftovers.
    Doctor,
    /// Grade one submission as `grade` asks (reads its request on standard input).
    #[command(name = "grade-child", hide = true)]
    GradeChild,
    /// Wait for a grading child killed at its limit to be gone, then sweep what it left.
    #[command(name = "grade-reap", hide = true)]
    GradeReap {
        /// The child's pid.
        pid: u32,
    },
}

#[derive(Subcommand)]
enum EnvCommand {
    /// Build the lab's network in namespaces `xdplab-env-<role>`, which stay until `env down`.
    Up {
        /// The lab, for example 7.3.
        lab: String,
    },
    /// Remove the namespaces `env up` made.
    Down,
}

#[derive(Args)]
struct BenchArgs {
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

#[derive(Args)]
struct MutantsArgs {
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

#[derive(Args)]
struct RunArgs {
    /// The lab, for example 7.1.
    lab: String,
    /// The XDP ELF object to check; repeat it for programs spread over several objects.
    #[arg(long, conflicts_with = "pinned")]
    object: Vec<PathBuf>,
    /// Check programs loaded and pinned by the student: a bpffs directory of pins named after
    /// the programs, or one pin.
    #[arg(long)]
    pinned: Option<PathBuf>,
    /// Check a program loaded in the kernel, as `bpftool prog show` lists it: NAME=ID
    /// (repeatable), or ID with --program NAME.
    #[arg(long = "prog-id", value_name = "NAME=ID", conflicts_with_all = ["object", "pinned"])]
    prog_id: Vec<String>,
    /// Check the XDP program attached to this interface now; it stays attached there.
    #[arg(long, value_name = "IFACE", conflicts_with_all = ["object", "pinned", "prog_id"])]
    attached: Option<String>,
    /// The network namespace of the --attached interface (as `ip netns` names it).
    #[arg(long, value_name = "NS", requires = "attached")]
    netns: Option<String>,
    /// Run only this program's checks.
    #[arg(long)]
    program: Option<String>,
    /// Run only this check (by id, for example 7.1/firewall/icmp-dropped).
    #[arg(long)]
    check: Option<String>,
    /// How frames reach the program (auto: test-run where possible, native where a check needs
    /// a real path).
    #[arg(long, value_enum, default_value_t = CliMode::Native)]
    mode: CliMode,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Vary what the contract leaves free (payloads, unrelated addresses and ports, order).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write each check's traffic (sent and observed frames) as pcap files into this folder.
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Also measure each program's speed next to the reference (as `xdplab bench`, without
    /// the veth rates) and add it to the report as information.
    #[arg(long)]
    perf: bool,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct GradeArgs {
    /// Put the results of several shards (`--shard K/N`) back together.
    #[command(subcommand)]
    merge: Option<GradeCommand>,
    /// The lab, for example 7.1.
    #[arg(required = true)]
    lab: Option<String>,
    /// The submissions: one folder per student (objects, or a `pinned` file naming a bpffs
    /// path), or one object file per student.
    #[arg(required = true)]
    submissions: Option<PathBuf>,
    /// Where the reports go.
    #[arg(long, required = true)]
    out: Option<PathBuf>,
    /// How many submissions to grade at once (the default is the number of cores).
    #[arg(long, default_value_t = grade::jobs::default_jobs())]
    jobs: usize,
    /// Grade only shard K of N (1-based): a stable share of the class, for engines that spread
    /// grading over machines; `xdplab grade merge` puts the shares together.
    #[arg(long)]
    shard: Option<grade::shard::Shard>,
    /// A TOML file overriding the lab's default rubric.
    #[arg(long)]
    rubric: Option<PathBuf>,
    /// Vary what the contract leaves free; the default is fixed so results are reproducible.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Time limit for one submission, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Also measure each program's speed next to the reference solution and add it to each
    /// report as information (timings differ from one grading to the next).
    #[arg(long)]
    perf: bool,
}

#[derive(Subcommand)]
enum GradeCommand {
    /// Rebuild every class-level file from the --out folders of several shards.
    Merge {
        /// The shards' result folders.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Where the merged results go.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum CliMode {
    Native,
    Generic,
    TestRun,
    Auto,
}

impl From<CliMode> for Mode {
    fn from(m: CliMode) -> Self {
        match m {
            CliMode::Native => Mode::Native,
            CliMode::Generic => Mode::Generic,
            CliMode::TestRun => Mode::TestRun,
            CliMode::Auto => Mode::Auto,
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
    if let Err(e) = kernel::signals::install() {
        eprintln!("xdplab: {e}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::GradeChild => {
            return ExitCode::from(grade::child::serve(|id, seed| {
                labs(seed).into_iter().find(|l| l.id == id)
            }));
        }
        Command::GradeReap { pid } => grade::reap(pid),
        Command::Run(args) => {
            let json = args.format == Format::Json;
            // A panic past the loader's own boundary still ends in one document.
            let outcome = std::panic::catch_unwind(|| run(args)).unwrap_or_else(|panic| {
                Err(Error::Crashed(
                    kernel::object::panic_detail(panic.as_ref()).to_owned(),
                ))
            });
            return match outcome {
                Ok(code) => ExitCode::from(code),
                Err(e) => {
                    // First: a failed print of the document below ends the process.
                    eprintln!("xdplab: {e}");
                    if json {
                        // Graders read this instead of a report.
                        println!(
                            "{}",
                            serde_json::to_string(&RunErrorDocument::from(&e)).unwrap()
                        );
                    }
                    ExitCode::from(2)
                }
            };
        }
        Command::Grade(GradeArgs {
            merge: Some(GradeCommand::Merge { shards, out }),
            ..
        }) => {
            return match grade::class::merge(&shards, &out, lab_contract) {
                Ok(graded) => {
                    print!("{}", output::class_table(&graded));
                    println!("merged {} shard(s) into {}", shards.len(), out.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("xdplab: {e}");
                    ExitCode::from(2)
                }
            };
        }
        Command::Grade(args) => grade(args),
        Command::Mutants(args) => match mutants(args) {
            Ok(passed) => {
                kernel::signals::hold_if_interrupted();
                return ExitCode::from(u8::from(!passed));
            }
            Err(e) => Err(e),
        },
        Command::Bench(args) => bench(args),
        Command::Env(cmd) => env(cmd),
        Command::List => {
            list();
            Ok(())
        }
        Command::Clean => clean(),
        Command::Doctor => {
            let findings = doctor::diagnose(&labs(0));
            for f in &findings {
                let mark = match f.level {
                    doctor::Level::Ok => "ok  ",
                    doctor::Level::Warn => "warn",
                    doctor::Level::Bad => "BAD ",
                };
                let mut lines = f.detail.lines();
                println!("{mark} {:<44} {}", f.what, lines.next().unwrap_or(""));
                for line in lines {
                    println!("       {line}");
                }
            }
            return if findings.iter().any(|f| f.level == doctor::Level::Bad) {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    kernel::signals::hold_if_interrupted();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xdplab: {e}");
            ExitCode::from(2)
        }
    }
}

fn find_lab(lab_id: &str, seed: u64) -> Result<Lab, Error> {
    labs(seed)
        .into_iter()
        .find(|l| l.id == lab_id)
        .ok_or_else(|| {
            let ids: Vec<_> = labs(0).iter().map(|l| l.id).collect();
            Error::usage(format!(
                "there is no lab `{lab_id}`; the labs are {}. `xdplab list` shows their programs \
                 and checks.",
                ids.join(", ")
            ))
        })
}

fn run(args: RunArgs) -> Result<u8, Error> {
    let lab = find_lab(&args.lab, args.seed)?;
    let mut opts = RunOptions {
        mode: args.mode.into(),
        program: args.program.clone(),
        check: args.check,
        seed: args.seed,
    };
    lab.validate(&opts)?;
    if let Some(dir) = &args.pcap {
        check_pcap_dir(dir)?;
    }
    doctor::require_root()?;
    cleanup::sweep();
    let program = args.program.as_deref();
    let source: Box<dyn ProgramSource> = match (args.pinned, args.object.as_slice()) {
        _ if !args.prog_id.is_empty() => Box::new(ProgramIds::open(
            args.prog_id
                .iter()
                .map(|arg| ProgramIds::parse_arg(arg, program))
                .collect::<Result<_, _>>()?,
        )?),
        _ if args.attached.is_some() => Box::new(AttachedProgram::open(
            args.attached.as_deref().unwrap_or_default(),
            args.netns.as_deref(),
            program,
        )?),
        (Some(pins), _) => Box::new(PinnedPrograms::open(pins)?),
        (None, []) => Box::new(lab.reference_object()),
        (None, [one]) => Box::new(XdpObject::from_path(one)?),
        (None, many) => Box::new(ObjectSet::from_paths(many)?),
    };
    if let Some(p) = &opts.program
        && !source.programs().contains(p)
    {
        // The error's message ends with what was found; the source's hint on how to supply the
        // program follows it (the error's own period closes the hint).
        let hint = source.supply_hint(p);
        return Err(Error::ProgramNotFound {
            name: p.clone(),
            available: format!(
                "{}. {}",
                source.programs().join(", "),
                hint.trim_end_matches('.')
            ),
        });
    }
    // One program loaded by the student (attached, or one --prog-id): judge only its part.
    let loaded = args.attached.is_some() || !args.prog_id.is_empty();
    if let ([one], true, None) = (source.programs().as_slice(), loaded, &opts.program) {
        opts.program = Some(one.clone());
        lab.validate(&opts)?;
    }
    let mut report = lab.run(source.as_ref(), &opts)?;
    if args.perf {
        let quick = harness::bench::PerfOptions::quick();
        report.perf = Some(harness::bench::perf(&lab, source.as_ref(), quick)?);
    }
    // Before the report, so that a failure to write them is the one document JSON prints.
    if let Some(dir) = &args.pcap {
        write_pcaps(dir, &report)?;
    }
    match args.format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!("{}", report.to_json()),
    }
    // A load or map failure (bad object, verifier rejection, wrong map) means the run could not
    // happen for that program: exit 2, with the reason already in the report.
    let rejected = report.checks.iter().any(|c| {
        matches!(
            c.status,
            Status::Fail(
                FailureClass::Verifier | FailureClass::BadObject | FailureClass::MapLayout
            )
        )
    });
    Ok(if rejected {
        2
    } else {
        report.exit_code() as u8
    })
}

/// Checks before anything runs that `--pcap DIR` can be written to (creating it if needed), so
/// a wrong folder fails at once and not after every check has run.
fn check_pcap_dir(dir: &Path) -> Result<(), Error> {
    let probe = dir.join(format!(".xdplab-probe-{}", std::process::id()));
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| {
            Error::usage(format!(
                "cannot write pcap files into `{}`: {e}. Give --pcap a folder you can write to \
                 (it is created if missing).",
                dir.display()
            ))
        })
}

fn write_pcaps(dir: &Path, report: &Report) -> Result<(), Error> {
    let written = harness::report::write_pcaps(dir, report)?;
    eprintln!("xdplab: wrote {written} pcap file(s) to {}", dir.display());
    Ok(())
}

/// Each lab's contract, its README, quoted next to each check on the class page; `None` for an
/// id that is no lab (`grade merge` refuses a shard naming one).
fn lab_contract(lab_id: &str) -> Option<&'static str> {
    match lab_id {
        "7.1" => Some(include_str!("../../lab-7-1/README.md")),
        "7.2" => Some(include_str!("../../lab-7-2/README.md")),
        "7.3" => Some(include_str!("../../lab-7-3/README.md")),
        _ => None,
    }
}

fn grade(args: GradeArgs) -> Result<(), Error> {
    let (lab_id, submissions, out) = (
        args.lab.expect("required"),
        args.submissions.expect("required"),
        args.out.expect("required"),
    );
    let lab = find_lab(&lab_id, args.seed)?;
    let rubric = match &args.rubric {
        Some(path) => Rubric::from_toml(
            &lab,
            &input::read_text(path, PathKind::Rubric, input::Links::Follow)?,
        )?,
        None => Rubric::default_for(&lab),
    };
    doctor::require_root()?;
    cleanup::sweep();
    // Held until the reports are written: a second grade into `out` fails at once.
    let _out_lock = grade::prepare_out(&submissions, &out)?;
    let found = grade::discover(&submissions)?;
    let mut subs = found.submissions;
    for s in &found.skipped {
        eprintln!("xdplab: skipped {}: {}", s.entry, s.reason);
    }
    if let Some(shard) = args.shard {
        subs = shard.select(subs);
    }
    let opts = GradeOptions {
        exe: std::env::current_exe().map_err(Error::during("finding the xdplab executable"))?,
        seed: args.seed,
        timeout: Duration::from_secs(args.timeout),
        // A rubric that scores speed needs the figures.
        perf: args.perf || rubric.perf.is_some(),
    };
    let bar = indicatif::ProgressBar::new(subs.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}").expect("template"),
    );
    let graded = grade::jobs::grade_all(&lab, &rubric, &subs, &opts, args.jobs, &|g| {
        bar.set_message(g.submission.student.clone());
        bar.inc(1);
    });
    bar.finish_and_clear();
    // Children stopped by a SIGINT/SIGTERM are no grades: write nothing, let the signal exit.
    kernel::signals::hold_if_interrupted();
    let stuck = grade::stragglers::hand_off(&opts.exe, Duration::ZERO);
    if stuck > 0 {
        eprintln!(
            "xdplab: {stuck} grading child(ren) killed at the time limit are still inside the \
             kernel (a program running far past its limit); a background xdplab removes their \
             namespaces once they are gone"
        );
    }
    let info = grade::html::ClassInfo {
        lab: lab.id,
        contract: lab_contract(lab.id).unwrap_or_default(),
        seed: args.seed,
        shard: args.shard.unwrap_or(grade::shard::Shard::WHOLE),
    };
    grade::class::write(&out, info, &graded, &found.skipped)?;
    print!("{}", output::class_table(&graded));
    println!("reports in {}", out.display());
    Ok(())
}

/// Runs `xdplab mutants`; false when the register disagrees with the survivors.
fn mutants(args: MutantsArgs) -> Result<bool, Error> {
    use grade::mutants::{self, register::Register};
    let lab = find_lab(&args.lab, 0)?;
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
        return Ok(true);
    };
    eprint!("{}", v.to_text(path));
    Ok(v.passed())
}

/// The progress bar of `xdplab mutants`, shown once the mutants are counted.
struct MutantsBar(indicatif::ProgressBar);

impl grade::mutants::Progress for MutantsBar {
    fn begin(&self, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({eta})")
                .expect("template"),
        );
        self.0
            .set_draw_target(indicatif::ProgressDrawTarget::stderr());
    }

    fn done(&self, result: &grade::mutants::MutantResult) {
        let m = &result.mutant;
        self.0
            .set_message(format!("{}:{} {}", m.function, m.line, m.operator.name()));
        self.0.inc(1);
    }
}

fn bench(args: BenchArgs) -> Result<(), Error> {
    let lab = find_lab(&args.lab, 0)?;
    doctor::require_root()?;
    cleanup::sweep();
    let source: Box<dyn ProgramSource> = match args.object.as_slice() {
        [] => Box::new(lab.reference_object()),
        [one] => Box::new(XdpObject::from_path(one)?),
        many => Box::new(ObjectSet::from_paths(many)?),
    };
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
    if !args.modes {
        return Ok(());
    }
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

fn env(cmd: EnvCommand) -> Result<(), Error> {
    doctor::require_root()?;
    match cmd {
        EnvCommand::Up { lab } => {
            let lab = find_lab(&lab, 0)?;
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
    Ok(())
}

fn list() {
    for lab in labs(0) {
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

fn clean() -> Result<(), Error> {
    doctor::require_root()?;
    let swept = cleanup::sweep();
    println!(
        "removed {} namespace(s) and {} pin(s) left by killed runs",
        swept.namespaces.len(),
        swept.pins.len()
    );
    for n in swept.namespaces.iter().chain(&swept.pins) {
        println!("  {n}");
    }
    if !swept.left_alone.is_empty() {
        println!("left {} alone:", swept.left_alone.len());
        for l in &swept.left_alone {
            println!("  {}: {}", l.name, l.reason);
        }
    }
    Ok(())
}
