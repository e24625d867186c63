//! `xdplab run`: a lab's checks against a program source.

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, ValueEnum};
use grade::RunErrorDocument;
use harness::{RunOptions, doctor};
use kernel::{
    Error, Mode, cleanup,
    input::Links,
    source::{ProgramIds, Programs},
};

use crate::{Format, exit::Exit, labs};

#[derive(Args)]
pub(crate) struct RunArgs {
    /// The lab, for example 7.1.
    lab: String,
    /// The file to check: a C source (`prog.c`, compiled first with the line
    /// `--print-compile-command` shows) or an XDP ELF object; the same as --object.
    #[arg(value_name = "FILE", conflicts_with_all = ["pinned", "prog_id", "attached"])]
    file: Option<PathBuf>,
    /// An XDP ELF object or C source to check; repeat it for programs spread over several
    /// objects.
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
    pub(crate) pcap: Option<PathBuf>,
    /// Write the verifier's whole log of each program it rejected to this file (reports show
    /// its end).
    #[arg(long, value_name = "FILE")]
    verifier_log: Option<PathBuf>,
    /// Print the clang command line that compiles a C source on this machine (the one this
    /// command runs for a `.c` file), and exit.
    #[arg(long)]
    print_compile_command: bool,
    /// Also measure each program's speed next to the reference (as `xdplab bench`, without
    /// the veth rates) and add it to the report as information.
    #[arg(long)]
    perf: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum CliMode {
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

/// Runs `xdplab run`. A failure to run is said on standard error and, with `--format json`,
/// as one document on standard output, which graders read instead of a report.
pub(crate) fn main(args: RunArgs) -> ExitCode {
    let json = args.format == Format::Json;
    // A panic past the loader's own boundary still ends in one document.
    let outcome = std::panic::catch_unwind(|| run(args)).unwrap_or_else(|panic| {
        Err(Error::Crashed(
            kernel::object::panic_detail(panic.as_ref()).to_owned(),
        ))
    });
    match outcome {
        Ok(exit) => exit.into(),
        Err(e) => {
            // First: a failed print of the document below ends the process.
            eprintln!("xdplab: {e}");
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&RunErrorDocument::from(&e)).unwrap()
                );
            }
            Exit::CouldNotRun.into()
        }
    }
}

/// The programs the arguments name: loaded ones, pins, objects, or the lab's reference.
fn programs(
    args: &RunArgs,
    reference: impl FnOnce() -> kernel::XdpObject,
) -> Result<Programs, Error> {
    Ok(if !args.prog_id.is_empty() {
        Programs::Ids(
            args.prog_id
                .iter()
                .map(|arg| ProgramIds::parse_arg(arg, args.program.as_deref()))
                .collect::<Result<_, _>>()?,
        )
    } else if let Some(iface) = &args.attached {
        Programs::Attached {
            iface: iface.clone(),
            netns: args.netns.clone(),
            program: args.program.clone(),
        }
    } else if let Some(pins) = &args.pinned {
        Programs::Pinned(pins.clone())
    } else {
        objects_or_reference(&args.files(), reference)
    })
}

impl RunArgs {
    /// The objects and sources given, the positional one first.
    fn files(&self) -> Vec<PathBuf> {
        self.file.iter().chain(&self.object).cloned().collect()
    }
}

/// The objects given on the command line, or the lab's reference when none is.
pub(crate) fn objects_or_reference(
    paths: &[PathBuf],
    reference: impl FnOnce() -> kernel::XdpObject,
) -> Programs {
    if paths.is_empty() {
        Programs::Object(reference())
    } else {
        Programs::Files {
            paths: paths.to_vec(),
            links: Links::Follow,
        }
    }
}

fn run(args: RunArgs) -> Result<Exit, Error> {
    if args.print_compile_command {
        print_compile_commands(&args.files());
        return Ok(Exit::Passed);
    }
    let lab = labs::find_or_explain(&args.lab, args.seed)?;
    let mut opts = RunOptions {
        mode: args.mode.into(),
        program: args.program.clone(),
        check: args.check.clone(),
        seed: args.seed,
    };
    lab.validate(&opts)?;
    if let Some(dir) = &args.pcap {
        check_pcap_dir(dir)?;
    }
    doctor::require_root()?;
    cleanup::sweep();
    let programs = programs(&args, || lab.reference_object())?;
    let source = open(&lab, programs, &mut opts)?;
    let mut report = lab.run(source.as_ref(), &opts)?;
    if args.perf {
        let quick = harness::bench::PerfOptions::quick();
        report.perf = Some(harness::bench::perf(&lab, source.as_ref(), quick)?);
    }
    // Before the report, so that a failure to write them is the one document JSON prints.
    if let Some(dir) = &args.pcap {
        let written = harness::report::write_pcaps(dir, &report)?;
        eprintln!("xdplab: wrote {written} pcap file(s) to {}", dir.display());
        let silent = harness::report::without_traffic(&report);
        if !silent.is_empty() {
            eprintln!("xdplab: no pcap files for {} check(s):", silent.len());
            for (id, why) in silent {
                eprintln!("  {id}: {why}");
            }
        }
    }
    if let Some(file) = &args.verifier_log {
        write_verifier_logs(file, source.as_ref(), &report)?;
    }
    match args.format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!("{}", report.to_json()),
    }
    Ok(Exit::of_report(&report))
}

/// The clang line for each C source given (or for `prog.c` when none is).
fn print_compile_commands(files: &[PathBuf]) {
    let sources: Vec<&PathBuf> = files
        .iter()
        .filter(|f| kernel::clang::is_c_source(f))
        .collect();
    let example = PathBuf::from("prog.c");
    for source in if sources.is_empty() {
        vec![&example]
    } else {
        sources
    } {
        println!(
            "{}",
            kernel::clang::command(source, &kernel::clang::default_object(source))
        );
    }
}

/// Writes the whole verifier log of every program the verifier rejected in `report` into
/// `file`: each program is loaded once more for it (the report keeps only the log's end).
pub(crate) fn write_verifier_logs(
    file: &std::path::Path,
    source: &dyn kernel::object::ProgramSource,
    report: &harness::Report,
) -> Result<(), Error> {
    let mut rejected: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.status == harness::Status::Fail(kernel::FailureClass::Verifier))
        .map(|c| c.part.as_str())
        .collect();
    rejected.dedup();
    let mut out = String::new();
    for program in rejected {
        if let Err(e) = source.load(program)
            && let Some(log) = e.verifier_log()
        {
            out.push_str(&format!(
                "==== {program}: the verifier's whole log\n{log}\n"
            ));
        }
    }
    if out.is_empty() {
        eprintln!(
            "xdplab: the verifier rejected no program, so {} was not written",
            file.display()
        );
        return Ok(());
    }
    std::fs::write(file, out).map_err(|e| {
        Error::usage(format!(
            "cannot write the verifier log to `{}`: {e}",
            file.display()
        ))
    })?;
    eprintln!("xdplab: wrote the verifier's log to {}", file.display());
    Ok(())
}

/// Opens the programs for `lab`: a `--program` the source lacks is refused at once, and one
/// program the student loaded (attached, or one --prog-id) narrows the run to its part.
pub(crate) fn open(
    lab: &harness::Lab,
    programs: Programs,
    opts: &mut RunOptions,
) -> Result<Box<dyn kernel::object::ProgramSource>, Error> {
    let loaded = programs.loaded_by_student();
    let source = programs.open()?;
    if let Some(p) = &opts.program
        && !source.programs().contains(p)
    {
        return Err(source.with_supply_hint(Error::ProgramNotFound {
            name: p.clone(),
            available: source.programs().join(", "),
            hint: None,
        }));
    }
    if let ([one], true, None) = (source.programs().as_slice(), loaded, &opts.program) {
        opts.program = Some(one.clone());
        lab.validate(opts)?;
    }
    Ok(source)
}

/// Checks before anything runs that `--pcap DIR` can be written to (creating it if needed), so
/// a wrong folder fails at once and not after every check has run.
fn check_pcap_dir(dir: &std::path::Path) -> Result<(), Error> {
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
