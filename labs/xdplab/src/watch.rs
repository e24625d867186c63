//! `xdplab watch`: a lab's checks again on every change of the program (a saved `.c` or `.o`, a
//! re-pinned program, a newer program id), each result on one screen: the totals, the first
//! failure with its diff, and which other checks fail.

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
    sync::mpsc,
    time::{Duration, Instant},
};

use clap::Args;
use harness::{Lab, Report, RunOptions, Status, doctor};
use kernel::{
    Error, cleanup,
    input::Links,
    source::{Programs, prog_id},
};
use notify_debouncer_full::{
    DebounceEventResult, Debouncer, RecommendedCache, new_debouncer,
    notify::{EventKind, RecommendedWatcher, RecursiveMode, event::ModifyKind},
};

use crate::{
    exit::Exit,
    labs,
    run::{self, CliMode},
};

#[derive(Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["file", "pinned", "prog_id"]))]
pub(crate) struct WatchArgs {
    /// The lab, for example 7.1.
    lab: String,
    /// The C source or XDP object to watch; a `.c` file is compiled on every save.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// Watch a bpffs directory of pins named after the programs: rerun when a pin is replaced.
    #[arg(long)]
    pinned: Option<PathBuf>,
    /// Watch loaded programs, NAME=ID (repeatable): rerun when a newer XDP program with the
    /// same kernel name is loaded (the student reloaded it), checking that one.
    #[arg(long = "prog-id", value_name = "NAME=ID")]
    prog_id: Vec<String>,
    /// Run only this program's checks.
    #[arg(long)]
    program: Option<String>,
    /// Run only this check.
    #[arg(long)]
    check: Option<String>,
    /// How frames reach the program; test-run (the default here) is the quickest.
    #[arg(long, value_enum, default_value_t = CliMode::TestRun)]
    mode: CliMode,
    /// Vary what the contract leaves free.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// How often `--prog-id` asks the kernel for newer programs: the kernel sends no event when a
/// program is loaded, so ids are polled.
const ID_POLL: Duration = Duration::from_millis(200);

/// How long file events are gathered into one change: an editor's save is several events
/// (truncate and write, or write a copy and rename it).
const SETTLE: Duration = Duration::from_millis(100);

pub(crate) fn watch(args: WatchArgs) -> Result<Exit, Error> {
    let lab = labs::find_or_explain(&args.lab, args.seed)?;
    let opts = RunOptions {
        mode: args.mode.into(),
        program: args.program.clone(),
        check: args.check.clone(),
        seed: args.seed,
    };
    lab.validate(&opts)?;
    doctor::require_root()?;
    cleanup::sweep();
    let (tx, changes) = mpsc::channel::<()>();
    let mut ids = parse_ids(&args)?;
    // Held for the whole watch: dropping the debouncer stops its events.
    let _debouncer = match (&args.file, &args.pinned) {
        (Some(file), _) => Some(watch_path(file, true, tx)?),
        (None, Some(dir)) => Some(watch_path(dir, false, tx)?),
        (None, None) => {
            poll_ids(ids.clone(), tx);
            None
        }
    };
    let what = match (&args.file, &args.pinned) {
        (Some(f), _) => f.display().to_string(),
        (None, Some(d)) => format!("the pins in {}", d.display()),
        (None, None) => format!(
            "program ids {} (or newer programs of their names)",
            args.prog_id.join(", ")
        ),
    };
    let clear = std::io::stdout().is_terminal();
    let mut run = 0;
    loop {
        run += 1;
        let started = Instant::now();
        ids = ids
            .into_iter()
            .map(|(name, id)| {
                let newest = prog_id::newest_like(id, Some(&name)).map_or(id, |(n, _)| n);
                (name, newest)
            })
            .collect();
        let programs = match (&args.file, &args.pinned) {
            (Some(file), _) => Programs::Files {
                paths: vec![file.clone()],
                links: Links::Follow,
            },
            (None, Some(dir)) => Programs::Pinned(dir.clone()),
            (None, None) => Programs::Ids(ids.clone()),
        };
        let screen = match check(&lab, programs, &opts) {
            Ok(report) => summary(&report),
            Err(e) => format!("{e}\n"),
        };
        if clear {
            print!("\x1b[H\x1b[2J");
        }
        print!(
            "xdplab watch · lab {} · {what} · run {run} · mode {} · {:.1} s\n{screen}",
            lab.id,
            Into::<kernel::Mode>::into(args.mode),
            started.elapsed().as_secs_f64()
        );
        println!("xdplab watch: waiting for a change to {what} (Ctrl-C ends)");
        // One change, however many events it made; a closed channel means the watcher died.
        if changes.recv().is_err() {
            return Err(Error::env("the file watcher stopped"));
        }
        while changes.try_recv().is_ok() {}
    }
}

/// The `--prog-id` arguments, parsed as `xdplab run` does.
fn parse_ids(args: &WatchArgs) -> Result<Vec<(String, u32)>, Error> {
    args.prog_id
        .iter()
        .map(|a| kernel::source::ProgramIds::parse_arg(a, args.program.as_deref()))
        .collect()
}

/// Opens the programs as `xdplab run` does and runs the checks once.
fn check(lab: &Lab, programs: Programs, opts: &RunOptions) -> Result<Report, Error> {
    let mut opts = opts.clone();
    let source = run::open(lab, programs, &mut opts)?;
    lab.run(source.as_ref(), &opts)
}

/// Watches `path`: a file through its folder (an editor may replace the file, which ends a
/// watch on the file itself), or a folder's entries. Each change sends one message; reading
/// the file (as the compiler does) is no change.
fn watch_path(
    path: &Path,
    is_file: bool,
    tx: mpsc::Sender<()>,
) -> Result<Debouncer<RecommendedWatcher, RecommendedCache>, Error> {
    let cannot =
        |e: &dyn std::fmt::Display| Error::usage(format!("cannot watch `{}`: {e}", path.display()));
    let (dir, name) = if is_file {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        (parent, path.file_name().map(ToOwned::to_owned))
    } else {
        (path.to_owned(), None)
    };
    let mut debouncer = new_debouncer(SETTLE, None, move |events: DebounceEventResult| {
        let Ok(events) = events else { return };
        let changed = events.iter().any(|e| {
            let writes = match e.event.kind {
                EventKind::Create(_) | EventKind::Remove(_) => true,
                EventKind::Modify(kind) => !matches!(kind, ModifyKind::Metadata(_)),
                _ => false,
            };
            writes
                && e.event.paths.iter().any(|p| {
                    name.as_ref()
                        .is_none_or(|n| p.file_name() == Some(n.as_os_str()))
                })
        });
        if changed {
            let _ = tx.send(());
        }
    })
    .map_err(|e| cannot(&e))?;
    debouncer
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| cannot(&e))?;
    Ok(debouncer)
}

/// Sends a message whenever a newer XDP program with the kernel name of one of `ids` appears.
fn poll_ids(ids: Vec<(String, u32)>, tx: mpsc::Sender<()>) {
    std::thread::spawn(move || {
        let mut seen: Vec<u32> = ids.iter().map(|(_, id)| *id).collect();
        loop {
            std::thread::sleep(ID_POLL);
            let now: Vec<u32> = ids
                .iter()
                .zip(&seen)
                .map(|((name, _), id)| {
                    prog_id::newest_like(*id, Some(name)).map_or(*id, |(n, _)| n)
                })
                .collect();
            if now != seen {
                seen = now;
                if tx.send(()).is_err() {
                    return;
                }
            }
        }
    });
}

/// The result on one screen: the first failure in full (its line, message and diff), the
/// other failures by id, and the totals.
fn summary(report: &Report) -> String {
    let failed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail(_)))
        .collect();
    let mut out = String::new();
    if let Some(first) = failed.first() {
        out.push_str(&format!(
            "{} {:<48} {}\n",
            harness::report::mark(first.status),
            first.id,
            first.description
        ));
        let lines: Vec<&str> = first.message.lines().collect();
        const MAX: usize = 30;
        for l in lines.iter().take(MAX) {
            out.push_str(&format!("    {l}\n"));
        }
        if lines.len() > MAX {
            out.push_str(&format!(
                "    ... ({} more lines: `xdplab run {} --check {}` shows them all)\n",
                lines.len() - MAX,
                report.lab,
                first.id
            ));
        }
    }
    if failed.len() > 1 {
        let others: Vec<&str> = failed[1..].iter().map(|c| c.id.as_str()).collect();
        const SHOWN: usize = 8;
        out.push_str(&format!(
            "also failing: {}{}\n",
            others[..others.len().min(SHOWN)].join(", "),
            if others.len() > SHOWN {
                format!(" and {} more", others.len() - SHOWN)
            } else {
                String::new()
            }
        ));
    }
    let t = &report.totals;
    out.push_str(&format!(
        "{} passed, {} failed, {} environment faults, {} not verified, {} not run, {} skipped\n",
        t.passed, t.failed, t.environment, t.unverified, t.not_run, t.skipped
    ));
    out
}
