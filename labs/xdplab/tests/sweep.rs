//! Sweeps take only what is theirs: `xdplab clean` in another PID namespace (`unshare -p`, a
//! container sharing /run/netns) leaves the namespaces and pins of live runs it cannot see
//! alone, while those of killed runs are still removed, from the killed run's own PID
//! namespace and from the host.

use std::{
    path::Path,
    process::{Child, ChildStdin, Command, Output, Stdio},
    time::{Duration, Instant},
};

const XDPLAB: &str = env!("CARGO_BIN_EXE_xdplab");
/// The file system type of a namespace file (`linux/magic.h`).
const NSFS_MAGIC: libc::__fsword_t = 0x6e73_6673;

/// Names in /run/netns that start with `prefix`.
fn namespaces(prefix: &str) -> Vec<String> {
    kernel::cleanup::leftovers()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Polls `ready` (every millisecond, for at most 30 s) while `child` runs.
fn wait_for(child: &mut Child, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "no {what} within 30 s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "ended before {what} appeared"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The pids of `pid`'s children (every thread's).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
                .flat_map(|c| {
                    c.split_whitespace()
                        .filter_map(|p| p.parse().ok())
                        .collect::<Vec<u32>>()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The prefix of the names made by host process `pid`: its pid in its own PID namespace, and
/// that namespace's inode (what xdplab writes into them).
fn prefix_of(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let inner = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .to_owned();
    let ns = std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    let ns = ns
        .to_str()
        .unwrap()
        .trim_start_matches("pid:[")
        .trim_end_matches(']');
    format!("xdplab-{inner}_{ns}-")
}

/// `xdplab clean` run in a new PID namespace with its own /proc.
fn clean_in_a_new_pid_namespace() -> Output {
    Command::new("unshare")
        .args(["-p", "-f", "--mount-proc", XDPLAB, "clean"])
        .output()
        .unwrap()
}

/// A run of this test process's PID namespace, and one namespace and pin directory held by the
/// test itself, outlive a `clean` in another PID namespace, which says why it left them; the
/// run passes.
#[test]
fn clean_in_another_pid_namespace_leaves_live_runs_alone() {
    let held = kernel::netns::Namespace::create("held").unwrap();
    let pins = kernel::object::PinDir::create().unwrap();
    let mut run = Command::new(XDPLAB)
        .args(["run", "7.1", "--mode", "native"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let runs = kernel::cleanup::owner_prefix(run.id());
    wait_for(&mut run, "namespace of the run", || {
        !namespaces(&runs).is_empty()
    });

    let out = clean_in_a_new_pid_namespace();
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.lines().any(|l| l.contains(held.name())
            && l.contains("another PID namespace")
            && l.contains("on the host")),
        "clean says why it left {} alone:\n{said}",
        held.name()
    );

    assert_eq!(namespaces(held.name()), [held.name()], "{said}");
    assert!(pins.path().is_dir(), "{said}");
    // Still a namespace mounted there, not a bare file whose mount went with an unlink.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    let path = std::ffi::CString::new(format!("/run/netns/{}", held.name())).unwrap();
    assert_eq!(unsafe { libc::statfs(path.as_ptr(), &raw mut fs) }, 0);
    assert_eq!(fs.f_type, NSFS_MAGIC, "{said}");
    let dev = held
        .run(|| std::fs::read_to_string("/proc/thread-self/net/dev").unwrap())
        .unwrap();
    assert!(dev.contains("lo:"), "{dev}");

    let status = run.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut run.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        status.success(),
        "the run goes on and passes: {status}\n{err}"
    );
    assert!(namespaces(&runs).is_empty(), "the run removed its own");
}

/// A lab 7.1 run inside a new PID namespace (pid 2 there) under a shell (pid 1) that reaps it
/// and then stays until its standard input closes.
struct Contained {
    unshare: Child,
    shell: u32,
    run: u32,
    prefix: String,
    hold: Option<ChildStdin>,
}

impl Contained {
    /// Starts it and waits until the run has made a namespace.
    fn start() -> Self {
        let mut unshare = Command::new("unshare")
            .args(["-p", "-f", "--mount-proc", "--kill-child", "sh", "-c"])
            .arg(r#""$0" run 7.1 --mode native >/dev/null 2>&1 & wait; read _"#)
            .arg(XDPLAB)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let outer = unshare.id();
        let mut found = None;
        wait_for(&mut unshare, "contained run", || {
            found = children(outer)
                .first()
                .and_then(|&sh| Some((sh, *children(sh).first()?)));
            found.is_some()
        });
        let (shell, run) = found.unwrap();
        let prefix = prefix_of(run);
        wait_for(&mut unshare, "namespace of the contained run", || {
            !namespaces(&prefix).is_empty()
        });
        let hold = unshare.stdin.take();
        Self {
            unshare,
            shell,
            run,
            prefix,
            hold,
        }
    }

    /// Kills the run alone (SIGKILL skips all its clean-up) and waits until it is gone.
    fn kill_run(&mut self) {
        assert_eq!(
            unsafe { libc::kill(self.run.cast_signed(), libc::SIGKILL) },
            0
        );
        // Gone once its shell has reaped it (its entry leaves the shell's children).
        wait_for(&mut self.unshare, "end of the killed run", || {
            !children(self.shell).contains(&self.run)
        });
    }

    /// `xdplab clean` inside the contained PID namespace (and its /proc).
    fn clean_inside(&self) -> Output {
        Command::new("nsenter")
            .args(["-t", &self.shell.to_string(), "-p", "-m", XDPLAB, "clean"])
            .output()
            .unwrap()
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        // The shell, once its run ended, reads its standard input to the end, then ends (and
        // with it the PID namespace).
        drop(self.hold.take());
        let _ = self.unshare.wait();
    }
}

/// A run SIGKILLed inside its PID namespace leaves its namespaces; a `clean` in that same PID
/// namespace removes them.
#[test]
fn a_killed_run_is_swept_from_its_own_pid_namespace() {
    let mut contained = Contained::start();
    contained.kill_run();
    let out = contained.clean_inside();
    assert!(out.status.success(), "{}", text(&out));
    // Another test's sweep on the host may have been first: either way they are gone.
    let left = namespaces(&contained.prefix);
    assert!(left.is_empty(), "left behind: {left:?}\n{}", text(&out));
}

/// A PID namespace killed whole (its run SIGKILLed with it) leaves the run's namespaces; a
/// `clean` on the host, which sees every PID namespace, removes them.
#[test]
fn a_killed_run_in_another_pid_namespace_is_swept_from_the_host() {
    let mut contained = Contained::start();
    let prefix = contained.prefix.clone();
    // Killing pid 1 of a PID namespace kills every process in it.
    assert_eq!(
        unsafe { libc::kill(contained.shell.cast_signed(), libc::SIGKILL) },
        0
    );
    contained.unshare.wait().unwrap();
    assert!(
        !Path::new(&format!("/proc/{}", contained.run)).exists(),
        "the run died with its PID namespace"
    );
    let (code, out, err) = run_clean();
    assert_eq!(code, 0, "{err}");
    let left = namespaces(&prefix);
    assert!(left.is_empty(), "left behind: {left:?}\n{out}");
}

fn run_clean() -> (i32, String, String) {
    let out = Command::new(XDPLAB).arg("clean").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
