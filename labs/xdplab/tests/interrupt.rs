//! Interrupted runs clean up: SIGINT and SIGTERM at different points of a run (after its first,
//! second, ... namespace appeared), and SIGHUP, SIGALRM and SIGXCPU, leave no namespace and no
//! pin, and the run exits 128 plus the signal's number (130, 143, 129, 142, 152).
//! The normal suite interrupts a few runs and one grading; the ignored test interrupts 50 runs
//! and prints the leak count (`cargo nextest run -p xdplab --run-ignored only -E
//! 'test(fifty)' --no-capture`).

use std::{
    collections::BTreeSet,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Names under `dir` owned by `pid` (`xdplab-<pid>_<pidns>-...`).
fn owned(dir: &str, pid: u32) -> BTreeSet<String> {
    let prefix = kernel::cleanup::owner_prefix(pid);
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// What `pid` left behind: namespaces and pins.
fn leftovers(pid: u32) -> Vec<String> {
    let mut all: Vec<String> = owned("/var/run/netns", pid).into_iter().collect();
    all.extend(owned("/sys/fs/bpf", pid));
    all
}

/// Waits until `pid` has created `k` distinct namespaces (seen so far), or fails.
fn wait_for_namespaces(child: &mut Child, pid: u32, k: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = BTreeSet::new();
    while seen.len() < k {
        seen.extend(owned("/var/run/netns", pid));
        assert!(Instant::now() < deadline, "no namespace {k} within 30 s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its namespace {k} appeared"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs lab 7.1 natively, sends `signal` once its `k`-th namespace exists, and returns what
/// it left behind and whether the signal ended it (rather than the run finishing first);
/// asserts the exit code.
fn interrupt_run(signal: i32, k: usize) -> (bool, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xdplab"))
        .args(["run", "7.1", "--mode", "native"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_for_namespaces(&mut child, pid, k);
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
    let status = child.wait().unwrap();
    // The run may have finished between the last look and the signal; then it exited 0 or 1.
    let code = status.code();
    assert!(
        code == Some(128 + signal) || code == Some(0) || code == Some(1),
        "exit status {status} after signal {signal}"
    );
    (code == Some(128 + signal), leftovers(pid))
}

/// Interrupts `n` runs, alternating SIGINT and SIGTERM and moving the interrupt one namespace
/// later each time (lab 7.1 native creates a few per part); returns how many the signal
/// ended, and the leaks.
fn interrupt_many(n: usize) -> (usize, Vec<String>) {
    let mut interrupted = 0;
    let mut leaks = Vec::new();
    for i in 0..n {
        let signal = if i % 2 == 0 {
            libc::SIGINT
        } else {
            libc::SIGTERM
        };
        let (ended, left) = interrupt_run(signal, 1 + i % 4);
        interrupted += usize::from(ended);
        leaks.extend(left);
    }
    (interrupted, leaks)
}

#[test]
fn interrupted_runs_leave_nothing() {
    let (interrupted, leaks) = interrupt_many(4);
    assert!(
        interrupted >= 2,
        "only {interrupted} of 4 runs were interrupted"
    );
    assert!(leaks.is_empty(), "left behind: {leaks:?}");
}

/// SIGHUP (a closed terminal), SIGALRM (a caller's alarm) and SIGXCPU (a CPU time limit) end
/// a run as SIGTERM does: nothing left behind, exit 128 plus the signal's number.
#[test]
fn hangup_alarm_and_cpu_limit_clean_up_like_sigterm() {
    for signal in [libc::SIGHUP, libc::SIGALRM, libc::SIGXCPU] {
        // At its first namespace a run has most of its checks ahead: the signal ends it.
        let (ended, leaks) = interrupt_run(signal, 1);
        assert!(ended, "signal {signal} did not end the run");
        assert!(leaks.is_empty(), "signal {signal} left behind: {leaks:?}");
    }
}

#[test]
#[ignore = "50 interrupted runs take about 8 s; run for the figure"]
fn fifty_interrupted_runs_leave_nothing() {
    let (interrupted, leaks) = interrupt_many(50);
    println!(
        "{interrupted} of 50 runs ended by the signal; leaks per 50 interrupts: {}",
        leaks.len()
    );
    assert!(
        interrupted >= 40,
        "only {interrupted} of 50 runs were interrupted"
    );
    assert!(leaks.is_empty(), "left behind: {leaks:?}");
}

/// SIGTERM to the grading parent alone (what `timeout` and CI runners send) stops its child
/// too; neither leaves anything, and the parent exits 143.
#[test]
fn an_interrupted_grading_stops_its_child_and_cleans_up() {
    let class =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("interrupt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&class);
    let subs = class.join("submissions");
    std::fs::create_dir_all(&subs).unwrap();
    // Lab 7.2 has checks on a real path, so the child builds namespaces in auto mode.
    std::fs::copy(reference::LAB_7_2_PATH, subs.join("erin.o")).unwrap();
    let mut parent = Command::new(env!("CARGO_BIN_EXE_xdplab"))
        .args(["grade", "7.2"])
        .arg(&subs)
        .arg("--out")
        .arg(class.join("out"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ppid = parent.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    let child = loop {
        // Grading children are spawned from worker threads: read every task's list.
        let pids: String = std::fs::read_dir(format!("/proc/{ppid}/task"))
            .map(|tasks| {
                tasks
                    .flatten()
                    .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        if let Some(pid) = pids
            .split_whitespace()
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            && !owned("/var/run/netns", pid).is_empty()
        {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "the grading child built no namespace"
        );
        assert!(parent.try_wait().unwrap().is_none(), "grading ended early");
        std::thread::sleep(Duration::from_millis(2));
    };
    assert_eq!(unsafe { libc::kill(ppid as i32, libc::SIGTERM) }, 0);
    let status = parent.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status}");
    assert!(
        !Path::new(&format!("/proc/{child}")).exists() || {
            // A zombie is gone for every purpose here; only a running child would be a leak.
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            stat.split_whitespace().nth(2) == Some("Z")
        },
        "the grading child {child} still runs"
    );
    let mut leaks = leftovers(ppid);
    leaks.extend(leftovers(child));
    assert!(leaks.is_empty(), "left behind: {leaks:?}");
    std::fs::remove_dir_all(class).unwrap();
}
