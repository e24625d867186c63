//! Grading with the xdplab harness: finding a class's submissions, judging each in its own
//! process with a time limit, scoring with a rubric and writing the reports (text, JSON,
//! Gradescope, JUnit, CSV, HTML); and [`mutants`], which grades every plausible one-site
//! mistake in a lab's C solution to show what the checks catch. It builds on the check model
//! (`xdplab-harness`) and the kernel layer (`xdplab-kernel`), and is the only crate that writes
//! grading formats (csv, maud, quick-junit, toml).
//!
//! Each submission runs in a child (`xdplab grade-child`, fed one [`ChildRequest`]), so a
//! submission that crashes, hangs or exhausts something takes only its own process down; its
//! namespaces are swept when it is killed. The parent only lists names ([`discover()`]); every
//! file a student handed in is opened by the child, under the time limit.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod child;
pub mod class;
pub mod discover;
pub mod graded;
pub mod html;
pub mod jobs;
pub mod mutants;
pub mod output;
pub mod perf;
pub mod rubric;
pub mod score;
pub mod shard;

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

pub use child::{ChildRequest, ChildSource, RawPath, RunError, RunErrorDocument};
pub use discover::{Discovery, PINNED_FILE, Skipped, Submission, discover};
pub use graded::Graded;
use harness::{
    differential::YOUR_OBJECT,
    lab::Lab,
    report::{CheckResult, Report, Status},
};
use kernel::{
    error::{FailureClass, Result},
    input::{self, InputError, PathKind},
    target::Mode,
};
pub use rubric::Rubric;
pub use score::Score;

/// The most a grading child may print on each of its outputs; the rest is discarded.
const CHILD_OUTPUT_LIMIT: u64 = 16 << 20;

/// Creates the output folder and checks it lies outside the submissions folder (and the other
/// way round), so reports are never read as submissions and never overwrite one; then claims
/// it ([`class::claim_out`]: writable, not a bpffs, locked until the returned lock is dropped),
/// all before any grading starts.
pub fn prepare_out(submissions: &Path, out: &Path) -> Result<class::OutLock> {
    input::require_dir(submissions, PathKind::Submissions)?;
    let subs = submissions
        .canonicalize()
        .map_err(|source| InputError::Unreadable {
            kind: PathKind::Submissions,
            path: submissions.to_owned(),
            source,
        })?;
    // Compared before anything is created, so a refused --out leaves no folder behind.
    let outc = resolved(out).map_err(|source| InputError::Unreadable {
        kind: PathKind::Out,
        path: out.to_owned(),
        source,
    })?;
    if outc.starts_with(&subs) || subs.starts_with(&outc) {
        return Err(InputError::Overlap {
            out: out.to_owned(),
            submissions: submissions.to_owned(),
        }
        .into());
    }
    class::claim_out(out)
}

/// `path` with links resolved as far as it exists, and the rest appended as given.
fn resolved(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut out = existing.canonicalize()?;
    out.extend(rest.iter().rev());
    Ok(out)
}

/// How to grade.
#[derive(Debug, Clone)]
pub struct GradeOptions {
    /// The `xdplab` binary the children run (normally the current executable).
    pub exe: PathBuf,
    /// The seed that varies frames.
    pub seed: u64,
    /// Wall-clock limit for one submission.
    pub timeout: Duration,
    /// Also measure each program's speed next to the reference (`run --perf`).
    pub perf: bool,
}

/// Grades one submission in its own process.
pub fn grade_one(lab: &Lab, rubric: &Rubric, sub: &Submission, opts: &GradeOptions) -> Graded {
    let request = ChildRequest {
        perf: opts.perf,
        ..request_for(lab.id, sub, opts.seed)
    };
    let (mut report, ungraded) = match &sub.problem {
        Some(e) => (failed_report(lab, e, opts.seed), Some(e.clone())),
        None => match run_child(&opts.exe, &request, opts.timeout) {
            Ok(Ok(report)) => (
                retry_unverified(report, &opts.exe, &request, opts.timeout),
                None,
            ),
            Ok(Err(e)) | Err(e) => (failed_report(lab, &e, opts.seed), Some(e)),
        },
    };
    let mut timings = graded::settle(&mut report);
    // The speed part is scored from the figures settle just moved out of the report.
    report.perf = timings.perf.take();
    let mut score = rubric.score(&report);
    timings.perf = report.perf.take();
    graded::settle_score(&mut score, &mut timings);
    name_own_files(&mut score, &request);
    Graded {
        replay: replay_failed(lab.id, sub, &score, opts.seed),
        submission: sub.clone(),
        report,
        ungraded,
        score,
        timings: Some(timings),
    }
}

/// Scores a submission read back from a `graded.json` again with `rubric` (its report is kept as
/// it was graded), so a class re-graded in part (`grade --only`) is scored by one rubric, as a
/// whole grading would be.
pub fn rescore(lab: &Lab, rubric: &Rubric, g: &mut Graded) {
    let mut score = rubric.score(&g.report);
    // Speed figures are the grading run's (kept in timings.json, not in the report): a `[perf]`
    // part is kept as that run scored it.
    if rubric.perf.is_some() && g.score.parts.iter().any(|p| p.program == perf::PART) {
        let ours = |program: &str| program != perf::PART;
        let mut parts: Vec<_> = score
            .parts
            .into_iter()
            .filter(|p| ours(&p.program))
            .collect();
        let mut tests: Vec<_> = score.tests.into_iter().filter(|t| ours(&t.part)).collect();
        parts.extend(g.score.parts.iter().filter(|p| !ours(&p.program)).cloned());
        tests.extend(g.score.tests.iter().filter(|t| !ours(&t.part)).cloned());
        score = Score::of(parts, tests);
    }
    name_own_files(
        &mut score,
        &request_for(lab.id, &g.submission, g.report.seed),
    );
    g.replay = replay_failed(lab.id, &g.submission, &score, g.report.seed);
    g.score = score;
}

/// Puts the student's own files in the replay commands inside messages (a differential
/// check's), where the runner wrote [`YOUR_OBJECT`].
fn name_own_files(score: &mut Score, request: &ChildRequest) {
    let own = own_source(request);
    for t in &mut score.tests {
        if t.message.contains(YOUR_OBJECT) {
            t.message = t.message.replace(YOUR_OBJECT, &own);
        }
    }
}

/// The request that grades `sub` with `seed` (without speed figures).
fn request_for(lab: &str, sub: &Submission, seed: u64) -> ChildRequest {
    let source = match &sub.pinned {
        Some(p) => ChildSource::PinnedFile(RawPath::from(p.as_path())),
        None => ChildSource::Objects(
            sub.objects
                .iter()
                .map(|o| RawPath::from(o.as_path()))
                .collect(),
        ),
    };
    ChildRequest {
        lab: lab.into(),
        seed,
        source,
        perf: false,
        program: None,
    }
}

/// The replay command of each failed check of `sub` (none for a submission that never ran: a
/// collision, an empty folder). Speed is replayed with `xdplab bench`, not a check; a hidden
/// check has none, as its command would show its frames.
pub(crate) fn replay_failed(
    lab: &str,
    sub: &Submission,
    score: &Score,
    seed: u64,
) -> Vec<(String, String)> {
    if sub.problem.is_some() {
        return Vec::new();
    }
    let request = request_for(lab, sub, seed);
    score
        .failed()
        .filter(|t| t.part != perf::PART && !t.hidden)
        .map(|t| (t.id.clone(), replay_command(&request, &t.id)))
        .collect()
}

/// Runs the submission once more when some of its checks could not be verified (a contract's
/// clock missed on a loaded machine, a capture that lost frames), and takes the second run's
/// result for each of those checks that it did verify. What stays unverified makes the score
/// incomplete ([`Score::incomplete`]): never a score over a smaller maximum.
pub(crate) fn retry_unverified(
    mut report: Report,
    exe: &Path,
    request: &ChildRequest,
    timeout: Duration,
) -> Report {
    let unverified = |r: &Report| r.checks.iter().any(|c| c.status == Status::Unverified);
    if !unverified(&report) {
        return report;
    }
    let Ok(Ok(second)) = run_child(exe, request, timeout) else {
        return report;
    };
    for check in report
        .checks
        .iter_mut()
        .filter(|c| c.status == Status::Unverified)
    {
        if let Some(again) = second
            .checks
            .iter()
            .find(|c| c.id == check.id && c.status != Status::Unverified)
        {
            // Taken as it is: the files graded stay the same whichever run verified it.
            *check = again.clone();
        }
    }
    report.totals = harness::report::Totals::of(&report.checks);
    report
}

/// The command that replays one check of a submission locally, quoted for a POSIX shell. It
/// names the student's own files (`ddos.o`), not where the grader keeps them
/// (`class72/erin/ddos.o`): the student runs it beside their files.
pub fn replay_command(request: &ChildRequest, check: &str) -> String {
    let mut cmd = format!(
        "xdplab run {} {}",
        shell_quote(request.lab.as_bytes()),
        own_source(request)
    );
    cmd.push_str(&format!(" --check {}", shell_quote(check.as_bytes())));
    if request.seed != 0 {
        cmd.push_str(&format!(" --seed {}", request.seed));
    }
    cmd
}

/// The arguments that name a submission's programs as the student has them: their own file
/// names (`--object ddos.o`), or their pin file (`--pinned "$(cat pinned)"`).
fn own_source(request: &ChildRequest) -> String {
    let own = |p: &RawPath| {
        let path = p.path();
        let name = path.file_name().map_or(path.as_os_str(), |n| n);
        shell_quote(name.as_encoded_bytes())
    };
    match &request.source {
        ChildSource::Objects(paths) => paths
            .iter()
            .map(|p| format!("--object {}", own(p)))
            .collect::<Vec<_>>()
            .join(" "),
        ChildSource::PinnedFile(file) => format!("--pinned \"$(cat {})\"", own(file)),
    }
}

/// Quotes bytes for a POSIX shell: plain words as they are, text in single quotes, and names
/// that are not UTF-8 in bash's `$'\xNN'` form. Hand-written because it is a few lines and
/// the common crates only take UTF-8.
fn shell_quote(bytes: &[u8]) -> String {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"/._-+:,=@%".contains(b);
    if !bytes.is_empty() && bytes.iter().all(plain) {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        format!("'{}'", text.replace('\'', "'\\''"))
    } else {
        let escaped: String = bytes.iter().map(|b| format!("\\x{b:02x}")).collect();
        format!("$'{escaped}'")
    }
}

/// Runs a grading child and reads its JSON: a report, or the reason there is none. A child
/// that runs out of time is `timeout`, one that dies without a document is `crash`, both with
/// the end of what it printed.
pub(crate) fn run_child(
    exe: &Path,
    request: &ChildRequest,
    timeout: Duration,
) -> Result<std::result::Result<Report, RunError>, RunError> {
    let env_error = |message: String| RunError {
        class: FailureClass::Environment,
        message,
    };
    let start = Instant::now();
    let mut child = Command::new(exe)
        .arg(CHILD_COMMAND)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| env_error(format!("cannot start {}: {e}", exe.display())))?;
    let _tracked = kernel::signals::track_child(child.id());
    let request = serde_json::to_vec(request).expect("serialises");
    let mut stdin = child.stdin.take().expect("piped");
    // A request is small; a child that does not read it has died, which the wait below sees.
    let _ = std::io::Write::write_all(&mut stdin, &request);
    drop(stdin);
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    // Read both pipes on threads so a chatty child never blocks on a full pipe; keep at most
    // the limit of each and discard the rest. The buffers are shared so a child that cannot
    // be reaped in time still shows what it printed.
    let (out, err) = (Captured::default(), Captured::default());
    let readers = [
        out.read_from(stdout, "xdplab-child-stdout"),
        err.read_from(stderr, "xdplab-child-stderr"),
    ];
    let mut timed_out = false;
    let status = loop {
        // The deadline is checked first, so a limit of 0 always stops the child.
        if start.elapsed() >= timeout {
            let _ = child.kill();
            timed_out = true;
            break reap_within(&mut child, KILL_GRACE);
        }
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(env_error(format!("waiting for the grading child: {e}"))),
        }
    };
    let stuck = timed_out && status.is_none();
    if stuck {
        // SIGKILL takes effect only when the child leaves the kernel, and a program can keep it
        // there far past its limit (one BPF_PROG_TEST_RUN of nested `bpf_loop`s). Its grade is
        // decided now; a reaper waits for it and sweeps its namespaces once it is gone.
        stragglers::adopt(child);
    } else {
        for reader in readers {
            let _ = reader.join();
        }
        if timed_out {
            kernel::cleanup::sweep();
        }
    }
    let (out, err) = (out.text(), err.text());
    if !timed_out {
        if let Ok(report) = serde_json::from_str::<Report>(&out) {
            return Ok(Ok(report));
        }
        if let Ok(doc) = serde_json::from_str::<RunErrorDocument>(&out) {
            return Ok(Err(doc.error));
        }
    }
    let tail = tail(&err, 20);
    let partial = if tail.is_empty() {
        String::from(" It printed nothing.")
    } else {
        format!(" The end of what it printed:\n{tail}")
    };
    Ok(Err(if timed_out {
        RunError {
            class: FailureClass::Timeout,
            message: format!(
                "grading this submission took longer than {} s and was stopped; a program that \
                 loops or stalls the verifier does this.{partial}",
                timeout.as_secs_f64()
            ),
        }
    } else {
        let how = status.map_or_else(|| "an unknown status".into(), |s| s.to_string());
        RunError {
            class: FailureClass::Crash,
            message: format!(
                "the grading run for this submission crashed ({how}) before it could report.{partial}"
            ),
        }
    }))
}

/// How long a killed child may take to exit before its grade is decided without it.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// Waits up to `grace` for a killed child to exit; `None` if it is still running.
fn reap_within(
    child: &mut std::process::Child,
    grace: Duration,
) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Err(_) => return None,
            Ok(None) if start.elapsed() >= grace => return None,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// What a child printed on one pipe, at most [`CHILD_OUTPUT_LIMIT`] bytes of it.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Reads `pipe` into the buffer on a thread of its own until the pipe closes.
    fn read_from(
        &self,
        mut pipe: impl Read + Send + 'static,
        name: &str,
    ) -> std::thread::JoinHandle<()> {
        let buffer = self.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut chunk = [0u8; 8192];
                while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                    let mut bytes = buffer.lock();
                    let room = (CHILD_OUTPUT_LIMIT as usize).saturating_sub(bytes.len());
                    // Past the limit the rest is drained, so the child never blocks on a
                    // full pipe.
                    bytes.extend_from_slice(&chunk[..n.min(room)]);
                }
            })
            .expect("a reader thread starts")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }
}

/// Grading children killed at their time limit that had not exited within [`KILL_GRACE`]:
/// each is waited for on a thread of its own, and its namespaces are swept once it is gone.
pub mod stragglers {
    use std::{
        process::Child,
        sync::{Condvar, Mutex},
        time::{Duration, Instant},
    };

    /// The pids of the killed children not yet gone.
    static LEFT: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    static GONE: Condvar = Condvar::new();

    fn left() -> std::sync::MutexGuard<'static, Vec<u32>> {
        LEFT.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for `child` (already sent SIGKILL) on a thread, then sweeps.
    pub(super) fn adopt(mut child: Child) {
        let pid = child.id();
        left().push(pid);
        let reaper = std::thread::Builder::new()
            .name(format!("xdplab-reap-{pid}"))
            .spawn(move || {
                let _ = child.wait();
                kernel::cleanup::sweep();
                left().retain(|p| *p != pid);
                GONE.notify_all();
            });
        if reaper.is_err() {
            left().retain(|p| *p != pid);
        }
    }

    /// Waits up to `limit` for the killed children still inside the kernel, then hands each
    /// one left to a detached `xdplab` ([`REAP_COMMAND`](super::REAP_COMMAND)) that outlives
    /// this process, waits for the child to be gone and sweeps its namespaces. Returns how many
    /// were handed over.
    pub fn hand_off(exe: &std::path::Path, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        let mut n = left();
        while !n.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            n = GONE
                .wait_timeout(n, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        for pid in n.iter() {
            use std::os::unix::process::CommandExt as _;
            let _ = std::process::Command::new(exe)
                .args([super::REAP_COMMAND, &pid.to_string()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                // Its own session: a Ctrl-C aimed at the grader does not stop the clean-up.
                .process_group(0)
                .spawn();
        }
        n.len()
    }
}

/// The name of the CLI's hidden command that runs [`child::serve`].
pub const CHILD_COMMAND: &str = "grade-child";

/// The name of the CLI's hidden command that runs [`reap`].
pub const REAP_COMMAND: &str = "grade-reap";

/// Waits until process `pid` (a grading child killed at its limit) is gone, then sweeps the
/// namespaces it left. The wait is on a pidfd, an event, not a poll; the sweep then needs the
/// process reaped too (its /proc entry stays until its new parent, init, collects it), which
/// takes a moment, checked every few milliseconds for at most a second.
pub fn reap(pid: u32) -> Result<()> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd >= 0 {
        let mut poll = libc::pollfd {
            fd: fd as i32,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; -1 waits until the process exits.
        unsafe { libc::poll(&raw mut poll, 1, -1) };
        // SAFETY: the fd was opened above and is closed once.
        unsafe { libc::close(fd as i32) };
    }
    let start = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() && start.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(5));
    }
    kernel::cleanup::sweep();
    Ok(())
}

/// The last `n` lines of `text`, indented.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A report in which every check failed for the same reason.
fn failed_report(lab: &Lab, e: &RunError, seed: u64) -> Report {
    let checks = lab
        .parts
        .iter()
        .flat_map(|p| &p.checks)
        .map(|c| CheckResult::failed(c, e.class, e.message.clone()))
        .collect();
    let mut report = Report::new(lab.id, Mode::Auto, "", checks);
    report.seed = seed;
    report
}

/// A lab with one part, `p`, and no checks: enough for rubric and grading tests.
#[cfg(test)]
pub(crate) fn test_lab() -> Lab {
    Lab {
        id: "0.0",
        title: "test",
        contract: "",
        reference: || &[],
        parts: vec![harness::lab::Part {
            program: "p",
            counters: None,
            requires: &[],
            points: None,
            checks: Vec::new(),
            topology: kernel::topology::TopologySpec {
                namespaces: Vec::new(),
                links: Vec::new(),
                xdp: ("", ""),
                watch: Vec::new(),
                config: Vec::new(),
            },
            setup: None,
        }],
        environment: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_commands_are_quoted() {
        let req = ChildRequest {
            lab: "7.1".into(),
            seed: 3,
            source: ChildSource::Objects(vec![RawPath::from(Path::new("class/it's me.o"))]),
            perf: false,
            program: None,
        };
        assert_eq!(
            replay_command(&req, "7.1/firewall/icmp-dropped"),
            "xdplab run 7.1 --object 'it'\\''s me.o' --check 7.1/firewall/icmp-dropped --seed 3"
        );
        assert_eq!(shell_quote(b"a\xffb"), "$'\\x61\\xff\\x62'");
        let pinned = ChildRequest {
            lab: "7.1".into(),
            seed: 0,
            source: ChildSource::PinnedFile(RawPath::from(Path::new("class/frank/pinned"))),
            perf: false,
            program: None,
        };
        assert_eq!(
            replay_command(&pinned, "x"),
            "xdplab run 7.1 --pinned \"$(cat pinned)\" --check x"
        );
        let erin = ChildRequest {
            source: ChildSource::Objects(vec![RawPath::from(Path::new("class72/erin/ddos.o"))]),
            ..pinned
        };
        assert_eq!(
            replay_command(&erin, "7.2/syn_cookie/x"),
            "xdplab run 7.1 --object ddos.o --check 7.2/syn_cookie/x"
        );
    }

    /// A stand-in for the `xdplab` binary: a script that behaves as a broken child would.
    fn fake_child(name: &str, script: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("xdplab-child-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("xdplab");
        std::fs::write(&exe, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        exe
    }

    fn graded_by(exe: PathBuf, timeout: Duration) -> Graded {
        let lab = test_lab();
        let sub = Submission {
            student: "mallory".into(),
            objects: vec![PathBuf::from("mallory.o")],
            pinned: None,
            problem: None,
        };
        let opts = GradeOptions {
            exe,
            seed: 0,
            timeout,
            perf: false,
        };
        grade_one(&lab, &Rubric::default_for(&lab), &sub, &opts)
    }

    /// `grade --only` scores the students it keeps again; their speed part, whose figures are
    /// not in the report, stays as their grading run scored it.
    #[test]
    fn rescoring_keeps_the_speed_part_of_the_run() {
        let lab = test_lab();
        let mut rubric = Rubric::default_for(&lab);
        rubric.perf = Some(perf::PerfRule {
            max_ratio: 3.0,
            points: 10.0,
        });
        let fast = score::TestScore {
            id: "0.0/perf/p".into(),
            part: perf::PART.into(),
            description: String::new(),
            status: Status::Pass,
            hidden: false,
            points: 10.0,
            max: 10.0,
            message: String::new(),
            hints: Vec::new(),
        };
        let run = Score::of(
            vec![score::PartScore {
                program: perf::PART.into(),
                points: 10.0,
                max: 10.0,
            }],
            vec![fast],
        );
        let mut g = Graded {
            submission: Submission {
                student: "amy".into(),
                objects: vec![PathBuf::from("amy.o")],
                pinned: None,
                problem: None,
            },
            report: Report::new("0.0", Mode::Auto, "amy.o", Vec::new()),
            ungraded: None,
            score: run,
            replay: Vec::new(),
            timings: None,
        };
        rescore(&lab, &rubric, &mut g);
        assert_eq!((g.score.points, g.score.max), (10.0, 10.0), "{:?}", g.score);
        assert_eq!(g.score.parts.len(), 2, "the lab's part and perf");
    }

    #[test]
    fn a_crashing_child_is_a_crash_with_its_last_words() {
        let exe = fake_child("crash", "echo 'loading mallory.o' >&2; kill -SEGV $$");
        let e = graded_by(exe, Duration::from_secs(10)).ungraded.unwrap();
        assert_eq!(e.class, FailureClass::Crash, "{}", e.message);
        assert!(e.message.contains("loading mallory.o"), "{}", e.message);
    }

    #[test]
    fn a_child_past_its_time_is_a_timeout_with_its_last_words() {
        let exe = fake_child("slow", "echo 'still verifying' >&2; exec sleep 30");
        let start = Instant::now();
        // The limit leaves the shell ample time to print first, even on a loaded machine: with
        // 300 ms, CI once stopped it before its echo ran.
        let e = graded_by(exe, Duration::from_secs(2)).ungraded.unwrap();
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(e.class, FailureClass::Timeout, "{}", e.message);
        assert!(e.message.contains("still verifying"), "{}", e.message);
    }

    #[test]
    fn out_may_not_lie_inside_the_submissions() {
        let base = std::env::temp_dir().join(format!("xdplab-out-{}", std::process::id()));
        let subs = base.join("class");
        std::fs::create_dir_all(&subs).unwrap();
        for out in [subs.clone(), subs.join("results/new"), base.clone()] {
            let e = prepare_out(&subs, &out).unwrap_err();
            assert!(e.to_string().contains("inside"), "{e}");
        }
        assert!(
            !subs.join("results").exists(),
            "a refused --out is not created"
        );
        prepare_out(&subs, &base.join("results")).unwrap();
        std::fs::remove_dir_all(base).unwrap();
    }
}
