//! `--vm [KERNEL]`: the same command run inside a VM booted with a pinned kernel (Debian 12's
//! 6.1 by default), so that grading needs no root, no BPF privileges and no particular host
//! kernel. The VM itself is scripts/kernel-vm.sh (built into the binary: one copy of the boot
//! logic, shared with the kernel matrix); this module hands it the command line less `--vm`,
//! shares the folders the command writes, and streams the guest's output back.

use std::{
    ffi::OsString,
    fs,
    io::{Read, Seek, SeekFrom, Write},
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    sync::atomic::{AtomicI32, Ordering},
    time::Duration,
};

use clap::{Args, Subcommand};

use crate::{exit::Exit, labs};

/// The VM's boot logic, run with `bash -c`.
const SCRIPT: &str = include_str!("../../../scripts/kernel-vm.sh");

/// The kernel series `--vm` boots when given none: the one students run.
pub(crate) const DEFAULT_SERIES: &str = "6.1";

/// The series the script knows how to fetch.
pub(crate) const SERIES: [&str; 2] = ["6.1", "6.12"];

/// `--vm`'s value parser: a series or the path of a kernel image; anything else is refused
/// with what to write instead (a lab id there means `--vm` took the lab as its value).
pub(crate) fn parse_kernel(value: &str) -> Result<String, String> {
    if SERIES.contains(&value) || Path::new(value).is_file() {
        return Ok(value.to_owned());
    }
    if labs::find(value, 0).is_some() {
        return Err(format!(
            "`{value}` is a lab, not a kernel: `--vm` took it as its value. Put `--vm` after the \
             lab (`xdplab run {value} --vm`) or give the kernel with `=` (`--vm={DEFAULT_SERIES}`)."
        ));
    }
    Err(format!(
        "no kernel `{value}`: give a series, {} (Debian 12's default) or {}, or the path of a \
         kernel image (a vmlinuz) that exists.",
        SERIES[0], SERIES[1]
    ))
}

/// `xdplab vm`: what the VM needs on this machine.
#[derive(Subcommand)]
pub(crate) enum VmCommand {
    /// As root, once: install qemu, busybox, kmod and virtme-ng, and fetch kernels into the
    /// cache. Every `--vm` run after it needs no root.
    Setup(SetupArgs),
    /// Boot a VM for any command, as `kernel-vm.sh run KERNEL DIR [--rwdir D]... CMD...` does,
    /// with the host's account of the vCPUs served to it (as `--vm` has): what the kernel
    /// matrix boots its VMs with.
    #[command(hide = true)]
    Run {
        /// `kernel-vm.sh run`'s arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<OsString>,
    },
}

#[derive(Args)]
pub(crate) struct SetupArgs {
    /// Kernel series to fetch (6.1, 6.12); repeatable.
    #[arg(long, default_value = DEFAULT_SERIES)]
    kernel: Vec<String>,
    /// A kernel package (.deb) to unpack into the cache instead of fetching one through apt.
    #[arg(long, value_name = "DEB")]
    deb: Option<PathBuf>,
}

/// `xdplab vm setup`.
pub(crate) fn vm(cmd: VmCommand) -> ExitCode {
    let args = match cmd {
        VmCommand::Setup(args) => args,
        VmCommand::Run { args } => return run_script(args),
    };
    let mut script: Vec<OsString> = vec!["setup".into()];
    if args.deb.is_none() {
        script.extend(args.kernel.iter().map(OsString::from));
    }
    let mut status = script_command(&script).status();
    if let (Ok(s), Some(deb)) = (&status, &args.deb)
        && s.success()
    {
        status = script_command(&["unpack".into(), deb.clone().into_os_string()]).status();
    }
    match status {
        Ok(s) if s.success() => Exit::Passed.into(),
        Ok(_) => Exit::CouldNotRun.into(),
        Err(e) => {
            eprintln!("xdplab: cannot run bash for the VM set-up: {e}");
            Exit::CouldNotRun.into()
        }
    }
}

/// `xdplab vm run`: the script's `run` with the vCPU account served, its exit status passed on.
fn run_script(args: Vec<OsString>) -> ExitCode {
    let scratch = match Scratch::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("xdplab: {e}");
            return Exit::CouldNotRun.into();
        }
    };
    let mut cmd = script_command(&[]);
    cmd.arg("run").args(args);
    let socket = scratch.0.join("vcpus.sock");
    let _vcpus = serve_vcpus(&mut cmd, &socket);
    // Stopped with this process, should it be killed: the script then stops the VM (its trap).
    stop_with_this_process(&mut cmd);
    match cmd.status() {
        Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(2)).unwrap_or(2)),
        Err(e) => {
            eprintln!("xdplab: cannot run bash for the VM: {e}");
            Exit::CouldNotRun.into()
        }
    }
}

/// Has `cmd`'s process get SIGTERM when this one ends, however it ends.
fn stop_with_this_process(cmd: &mut Command) {
    // SAFETY: prctl in the child between fork and exec touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Serves the host's account of the vCPUs (see `kernel::vcpus`) on `socket` and tells the
/// script `cmd` about it; without it, checks from two CPUs at once are judged less surely.
fn serve_vcpus(cmd: &mut Command, socket: &Path) -> Option<kernel::vcpus::Server> {
    let server = kernel::vcpus::serve(socket).ok()?;
    cmd.env(kernel::vcpus::SOCKET_ENV, socket);
    Some(server)
}

/// The script with its arguments, as a command.
fn script_command(args: &[OsString]) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(SCRIPT).arg("kernel-vm.sh").args(args);
    cmd
}

/// Downloads the package of a series' kernel (the cached one's) into `dir`; its path.
pub(crate) fn download_deb(series: &str, dir: &Path) -> Result<PathBuf, String> {
    let out = script_command(&["deb".into(), series.into(), dir.into()])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run bash to download the kernel package: {e}"))?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || path.is_empty() {
        return Err(format!(
            "cannot download the {series} kernel's package (see above); give one with --kernel-deb"
        ));
    }
    Ok(PathBuf::from(path))
}

/// The command line the guest runs: this one without `--vm` and its value.
fn guest_args(args: &[OsString], kernel: &str) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        if a == "--vm" {
            // Its value, when clap took the next argument as one.
            if it.peek().is_some_and(|n| *n == kernel) {
                it.next();
            }
        } else if a.to_str().is_some_and(|s| s.starts_with("--vm=")) {
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Set by the signal thread: the signal that ends this run.
static SIGNALLED: AtomicI32 = AtomicI32::new(0);

/// Runs this command line (less `--vm`) inside a VM booted with `kernel`, `writable` shared
/// read-write; streams its output and ends with its exit status.
pub(crate) fn run_in_vm(kernel: &str, writable: &[PathBuf]) -> ExitCode {
    match boot(kernel, writable) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xdplab: {e}");
            Exit::CouldNotRun.into()
        }
    }
}

fn boot(kernel: &str, writable: &[PathBuf]) -> Result<ExitCode, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let dir = Scratch::new()?;
    let (stdout, stderr) = (dir.0.join("stdout"), dir.0.join("stderr"));
    let mut cmd = script_command(&[]);
    cmd.arg("run").arg(kernel).arg(&dir.0);
    let _vcpus = serve_vcpus(&mut cmd, &dir.0.join("vcpus.sock"));
    for w in writable {
        fs::create_dir_all(w).map_err(|e| format!("cannot create {}: {e}", w.display()))?;
        cmd.arg("--rwdir").arg(w);
    }
    // The guest's output goes to files in the shared folder (virtme-ng cannot hand it back
    // here: no udev), which this process follows while the VM runs.
    cmd.args(["sh", "-c", "err=$1; shift; exec \"$@\" >\"$0\" 2>\"$err\""])
        .arg(&stdout)
        .arg(&stderr)
        .arg(&exe)
        .args(guest_args(&args, kernel));
    // Its own process group, so a terminal's Ctrl-C reaches it only through this process;
    // and ended with this process, should this one be killed outright: the script then stops
    // the VM (its trap).
    cmd.process_group(0);
    stop_with_this_process(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run bash to boot the VM: {e}"))?;
    let pid = child.id() as libc::pid_t;
    let mut signals =
        signal_hook::iterator::Signals::new(kernel::signals::HANDLED).map_err(|e| e.to_string())?;
    let handle = signals.handle();
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            SIGNALLED.store(sig, Ordering::SeqCst);
            // SAFETY: a plain syscall on the child this process spawned and has not reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    });
    let mut out = Follow::new(stdout, false);
    let mut err = Follow::new(stderr, true);
    let status = loop {
        out.copy();
        err.copy();
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("waiting for the VM: {e}")),
        }
    };
    handle.close();
    out.copy();
    err.copy();
    drop(dir);
    let sig = SIGNALLED.load(Ordering::SeqCst);
    if sig != 0 {
        return Ok(ExitCode::from((128 + sig) as u8));
    }
    Ok(ExitCode::from(
        status.code().unwrap_or(2).clamp(0, 255) as u8
    ))
}

/// A private folder (shared with the guest); removed when dropped.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new() -> Result<Self, String> {
        let base = std::env::temp_dir();
        sweep(&base);
        for attempt in 0..100u32 {
            let path = base.join(format!(
                "{PREFIX}{}-{}-{attempt}",
                std::process::id(),
                nanos()
            ));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(Self(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("cannot create a folder in {}: {e}", base.display())),
            }
        }
        Err(format!("cannot create a folder in {}", base.display()))
    }
}

/// Removes the folders of runs killed outright (SIGKILL: no clean-up ran; the VM itself went
/// with them, its script having this process as parent-death signal). Folders of live
/// processes stay.
fn sweep(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// How this module's scratch folders are named: `xdplab-vm-PID-...`.
const PREFIX: &str = "xdplab-vm-";

/// A few bits that differ between runs, for a folder name.
fn nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A file the guest appends to, copied here as it grows.
struct Follow {
    path: PathBuf,
    at: u64,
    to_stderr: bool,
}

impl Follow {
    fn new(path: PathBuf, to_stderr: bool) -> Self {
        Self {
            path,
            at: 0,
            to_stderr,
        }
    }

    fn copy(&mut self) {
        let Ok(mut f) = fs::File::open(&self.path) else {
            return;
        };
        let len = f.metadata().map_or(0, |m| m.len());
        // A second boot (the script retries a VM that ended without a status) starts the file
        // again.
        if len < self.at {
            self.at = 0;
        }
        let mut buf = Vec::new();
        // What had been written when the length was read: the rest comes on the next call.
        if f.seek(SeekFrom::Start(self.at)).is_err()
            || f.take(len - self.at).read_to_end(&mut buf).is_err()
        {
            return;
        }
        self.at += buf.len() as u64;
        if buf.is_empty() {
            return;
        }
        if self.to_stderr {
            let _ = std::io::stderr().write_all(&buf);
        } else {
            crate::write_stdout(format_args!("{}", String::from_utf8_lossy(&buf)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_guest_runs_the_command_line_less_vm() {
        let cases = [
            (&["run", "7.1", "--vm"][..], "6.1", &["run", "7.1"][..]),
            (&["run", "--vm", "6.12", "7.1"], "6.12", &["run", "7.1"]),
            (
                &["run", "7.1", "--vm=6.12", "--mode", "test-run"],
                "6.12",
                &["run", "7.1", "--mode", "test-run"],
            ),
            (
                &["run", "7.1", "--vm", "--mode", "native"],
                "6.1",
                &["run", "7.1", "--mode", "native"],
            ),
        ];
        for (args, kernel, want) in cases {
            assert_eq!(guest_args(&os(args), kernel), os(want), "{args:?}");
        }
    }

    #[test]
    fn a_lab_or_an_unknown_series_is_refused_with_the_fix() {
        assert_eq!(parse_kernel("6.12"), Ok("6.12".into()));
        let lab = parse_kernel("7.1").unwrap_err();
        assert!(lab.contains("is a lab, not a kernel"), "{lab}");
        let unknown = parse_kernel("5.10").unwrap_err();
        assert!(unknown.contains("give a series, 6.1"), "{unknown}");
    }
}
