//! `xdplab grade`: a folder of submissions graded, and `grade merge` of sharded results.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Subcommand};
use grade::{GradeOptions, Rubric, output};
use harness::doctor;
use kernel::{
    Error, cleanup,
    input::{self, PathKind},
};

use crate::{exit::Exit, labs};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct GradeArgs {
    /// Put the results of several shards (`--shard K/N`) back together.
    #[command(subcommand)]
    pub(crate) merge: Option<GradeCommand>,
    /// The lab, for example 7.1.
    #[arg(required = true)]
    lab: Option<String>,
    /// The submissions: one folder per student (objects, or a `pinned` file naming a bpffs
    /// path), or one object file per student.
    #[arg(required = true)]
    submissions: Option<PathBuf>,
    /// Where the reports go.
    #[arg(long, required = true)]
    pub(crate) out: Option<PathBuf>,
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
    /// student's timings.json as information (timings differ from one grading to the next).
    #[arg(long)]
    perf: bool,
    /// Grade only these students (their names in the submissions folder) again, into an --out
    /// folder that holds the whole class's grading, and rebuild the class's files: the folder
    /// ends as a whole grading of the class as it is now would leave it.
    #[arg(long, num_args = 1.., value_name = "NAME", conflicts_with = "shard")]
    only: Vec<String>,
}

#[derive(Subcommand)]
pub(crate) enum GradeCommand {
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

/// `xdplab grade merge`.
pub(crate) fn merge(
    GradeCommand::Merge { shards, out }: GradeCommand,
) -> Result<Exit, grade::class::MergeError> {
    let graded = grade::class::merge(&shards, &out, labs::contract)?;
    print!("{}", output::class_table(&graded));
    println!("merged {} shard(s) into {}", shards.len(), out.display());
    Ok(Exit::Passed)
}

pub(crate) fn grade(args: GradeArgs) -> Result<Exit, Error> {
    let (lab_id, submissions, out) = (
        args.lab.expect("required"),
        args.submissions.expect("required"),
        args.out.expect("required"),
    );
    let lab = labs::find_or_explain(&lab_id, args.seed)?;
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
    // With --only: the class graded before, and only the named students to grade now.
    let mut kept = Vec::new();
    if !args.only.is_empty() {
        kept = grade::class::previous(&out, lab.id, args.seed, labs::contract)?;
        let unknown: Vec<&str> = args
            .only
            .iter()
            .filter(|n| !subs.iter().any(|s| &s.student == *n))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(Error::usage(format!(
                "--only names {}, which {} no submission in `{}` (a student is the name of \
                 their folder or object file there, as in summary.csv); nothing was graded",
                unknown
                    .iter()
                    .map(|n| format!("`{}`", n.escape_debug()))
                    .collect::<Vec<_>>()
                    .join(", "),
                if unknown.len() == 1 { "is" } else { "are" },
                submissions.display()
            )));
        }
        subs.retain(|s| args.only.contains(&s.student));
        kept.retain(|g| !args.only.contains(&g.submission.student));
        for g in &mut kept {
            grade::rescore(&lab, &rubric, g);
        }
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
    let mut graded = grade::jobs::grade_all(&lab, &rubric, &subs, &opts, args.jobs, &|g| {
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
    if !kept.is_empty() {
        graded.extend(kept);
        graded.sort_by(|a, b| a.submission.student.cmp(&b.submission.student));
    }
    let info = grade::html::ClassInfo {
        lab: lab.id,
        contract: lab.contract,
        seed: args.seed,
        shard: args.shard.unwrap_or(grade::shard::Shard::WHOLE),
    };
    grade::class::write(&out, info, &graded, &found.skipped)?;
    print!("{}", output::class_table(&graded));
    println!("reports in {}", out.display());
    Ok(Exit::Passed)
}
