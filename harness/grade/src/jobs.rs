//! Grading several submissions at once.
//!
//! Each submission still runs in its own child process with its own namespaces (named after the
//! child's pid) and its own time limit, so running them side by side changes nothing but the
//! wall time: a slow or hostile submission holds up only the worker it runs on.

use std::{
    num::NonZeroUsize,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use super::{GradeOptions, Graded, Rubric, Submission, grade_one};
use harness::lab::Lab;

/// The default number of submissions graded at once: the machine's cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// Grades `subs` with up to `jobs` children at a time and returns the results in the order of
/// `subs`, whatever order they finished in. `done` is called as each one finishes (from a
/// worker thread), for progress and for writing its reports early.
pub fn grade_all(
    lab: &Lab,
    rubric: &Rubric,
    subs: &[Submission],
    opts: &GradeOptions,
    jobs: usize,
    done: &(dyn Fn(&Graded) + Sync),
) -> Vec<Graded> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Graded>>> = Mutex::new(vec![None; subs.len()]);
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, subs.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(sub) = subs.get(i) else { break };
                    let g = grade_one(lab, rubric, sub, opts);
                    done(&g);
                    slots.lock().expect("no worker panics while holding it")[i] = Some(g);
                }
            });
        }
    });
    slots
        .into_inner()
        .expect("no worker panicked")
        .into_iter()
        .map(|g| g.expect("every submission was graded"))
        .collect()
}
