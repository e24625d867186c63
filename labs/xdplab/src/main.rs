//! `xdplab`: a thin command line over the harness and the lab crates, one module per command.
//!
//! Exit codes ([`exit::Exit`]): 0 every check passed; 1 a check failed; 2 the run could not
//! happen (bad input, verifier rejection, no root, environment fault), with a message saying
//! why.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

// Every print of this crate goes through `write_stdout`: these shadow the standard macros, so
// no print path (nor one added later) can panic on a closed or full standard output. Defined
// before the modules, so that they use them too.
macro_rules! print {
    ($($arg:tt)*) => { $crate::write_stdout(::std::format_args!($($arg)*)) };
}
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::write_stdout(::std::format_args!("{}\n", ::std::format_args!($($arg)*)))
    };
}

mod bench;
mod clean;
mod doctor;
mod env;
mod exit;
mod gradescope;
mod grading;
mod labs;
mod list;
mod mutants;
mod new_lab;
mod run;
mod vm;
mod watch;

use exit::Exit;

/// Writes to standard output. A reader that went away (`xdplab list | head`) ends the program
/// quietly with 0, as ripgrep does; any other failure (`> /dev/full`, a full disk) with one
/// line and 2. The exit skips every Drop, so this process's namespaces and pins go first.
fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(args).and_then(|()| stdout.flush());
    drop(stdout);
    if let Err(e) = written {
        kernel::cleanup::sweep_own();
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

#[derive(Parser)]
#[command(name = "xdplab", version, about = "Executable, gradeable XDP labs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Run the command (run, grade, bench, doctor) inside a VM booted with a pinned kernel:
    /// 6.1 (Debian 12's, the default), 6.12, or a kernel image's path. Needs no root once
    /// `xdplab vm setup` has run; KVM where it works, software emulation elsewhere.
    #[arg(long, global = true, value_name = "KERNEL", num_args = 0..=1,
          default_missing_value = vm::DEFAULT_SERIES, value_parser = vm::parse_kernel)]
    vm: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a lab's checks against an XDP object or C source (the reference solution by default).
    Run(run::RunArgs),
    /// Run a lab's checks again on every change of the program (a saved `.c` or `.o`, a
    /// re-pinned program, a newer program id), each result on one screen.
    Watch(watch::WatchArgs),
    /// Grade a folder of submissions: scores, reasons, and reports for people and machines.
    Grade(grading::GradeArgs),
    /// Measure each program's speed next to the reference solution and an XDP_DROP floor.
    Bench(bench::BenchArgs),
    /// Mutation testing: grade every one-site mistake in a correct C solution and report the
    /// mutants no check kills.
    Mutants(mutants::MutantsArgs),
    /// Bring a lab's network up for exploration (ping, curl, tcpdump), or take it down.
    #[command(subcommand)]
    Env(env::EnvCommand),
    /// List the labs, their programs and check ids.
    List(list::ListArgs),
    /// Remove namespaces and pins left behind by killed runs.
    Clean,
    /// Write a new lab's crate from the template, and say how to register it.
    #[command(name = "new-lab")]
    NewLab(new_lab::NewLabArgs),
    /// Check root, kernel BPF/XDP/BTF support and leftovers.
    Doctor,
    /// Write a Gradescope autograder bundle (autograder.zip) that grades a lab in a VM.
    Gradescope(gradescope::GradescopeArgs),
    /// Prepare this machine for `--vm` (as root, once).
    #[command(subcommand)]
    Vm(vm::VmCommand),
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

/// Output format.
#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before the signal handlers: a run in a VM has its own (it stops the VM).
    if let Some(kernel) = &cli.vm {
        return in_vm(kernel, &cli.command);
    }
    if let Err(e) = kernel::signals::install() {
        eprintln!("xdplab: {e}");
        return Exit::CouldNotRun.into();
    }
    // Run, merge and doctor end at once; the others first wait out an interrupt's clean-up.
    let result = match cli.command {
        Command::GradeChild => {
            return ExitCode::from(grade::child::serve(labs::find));
        }
        Command::Run(args) => return run::main(args),
        Command::Grade(args) => match args.merge {
            Some(merge) => return exit::finish(grading::merge(merge)),
            None => grading::grade(args),
        },
        Command::Doctor => return doctor::doctor().into(),
        Command::GradeReap { pid } => grade::reap(pid).map(|()| Exit::Passed),
        Command::Mutants(args) => mutants::mutants(args),
        Command::Watch(args) => watch::watch(args),
        Command::Bench(args) => bench::bench(args),
        Command::Env(cmd) => env::env(cmd),
        Command::List(args) => {
            list::list(&args);
            Ok(Exit::Passed)
        }
        Command::Clean => clean::clean(),
        Command::NewLab(args) => new_lab::new_lab(args),
        Command::Vm(cmd) => return vm::vm(cmd),
        Command::Gradescope(args) => gradescope::gradescope(args),
    };
    kernel::signals::hold_if_interrupted();
    exit::finish(result)
}

/// `--vm`: the commands that judge or inspect a kernel run in the VM, with the folders they
/// write shared with it.
fn in_vm(kernel: &str, command: &Command) -> ExitCode {
    let writable = match command {
        Command::Run(args) => args.pcap.iter().cloned().collect(),
        Command::Grade(args) if args.merge.is_none() => args.out.iter().cloned().collect(),
        Command::Bench(_) | Command::Doctor => Vec::new(),
        _ => {
            eprintln!(
                "xdplab: --vm works with run, grade, bench and doctor; the other commands run \
                 here (drop --vm)"
            );
            return Exit::CouldNotRun.into();
        }
    };
    vm::run_in_vm(kernel, &writable)
}
