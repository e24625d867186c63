//! The student's loop (issue 17): a C file run as it is, compile errors as such, messages whose
//! commands work, the verifier's whole log on request, and `watch` rerunning on every save.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

mod common;
use common::{FILTER_C, fresh_dir, run as xdplab};

/// Lab 7.1's correct C program with `#define BUG` lines first: each turns on one mistake.
fn filter_with(bugs: &[&str]) -> String {
    let mut text: String = bugs.iter().map(|b| format!("#define {b}\n")).collect();
    text.push_str(&std::fs::read_to_string(FILTER_C).unwrap());
    text
}

/// `xdplab run LAB prog.c` compiles the file itself and judges it; the report names the file.
#[test]
fn a_c_file_is_compiled_and_run() {
    let dir = fresh_dir("run-c");
    let src = dir.join("filter.c");
    std::fs::write(&src, filter_with(&[])).unwrap();
    let (code, out, err) = xdplab(&["run", "7.1", src.to_str().unwrap(), "--mode", "test-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("filter.c"), "{out}");
    // --object takes a source too, and the bug is caught there.
    std::fs::write(&src, filter_with(&["BUG_RULE_ORDER"])).unwrap();
    let (code, out, _) = xdplab(&[
        "run",
        "7.1",
        "--object",
        src.to_str().unwrap(),
        "--mode",
        "test-run",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL 7.1/firewall/"), "{out}");
}

/// A file clang refuses is a `compile` failure with clang's diagnostics, in text and JSON.
#[test]
fn a_compile_error_is_reported_as_such() {
    let dir = fresh_dir("compile-error");
    let src = dir.join("typo.c");
    std::fs::write(
        &src,
        filter_with(&[]) + "int typo(void) { return XDP_PAS; }\n",
    )
    .unwrap();
    let (code, _, err) = xdplab(&["run", "7.1", src.to_str().unwrap(), "--mode", "test-run"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("typo.c` does not compile"), "{err}");
    assert!(
        err.contains("use of undeclared identifier 'XDP_PAS'"),
        "{err}"
    );
    let (_, out, _) = xdplab(&["run", "7.1", src.to_str().unwrap(), "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["error"]["class"], "compile", "{doc}");
}

/// The clang line `--print-compile-command` prints, and the one a "not an ELF object" error
/// recommends, build the program on this machine (the README's line used to fail on Debian
/// for want of asm/types.h).
#[test]
fn recommended_compile_commands_work() {
    let dir = fresh_dir("recommended");
    std::fs::write(dir.join("prog.c"), filter_with(&[])).unwrap();
    let (code, printed, err) = xdplab(&["run", "7.1", "prog.c", "--print-compile-command"]);
    assert_eq!(code, 0, "{err}");
    let printed = printed.trim();
    assert!(printed.starts_with("clang -O2 -g"), "{printed}");
    // The source handed in under an object's name: the message recommends a line.
    std::fs::write(dir.join("prog.o"), filter_with(&[])).unwrap();
    let (code, _, err) = xdplab(&["run", "7.1", dir.join("prog.o").to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let recommended = err
        .split("to compile a C program on this machine: `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no command in: {err}"));
    assert_eq!(recommended, printed);
    for line in [printed, recommended] {
        std::fs::remove_file(dir.join("prog.o")).unwrap();
        let status = Command::new("sh")
            .arg("-c")
            .arg(line)
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "{line}");
        let object = dir.join("prog.o");
        let (code, out, err) =
            xdplab(&["run", "7.1", object.to_str().unwrap(), "--mode", "test-run"]);
        assert_eq!(code, 0, "{line}: {out}{err}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// `--verifier-log FILE` writes the whole log of a rejected program, where the report shows
/// its end.
#[test]
fn the_verifier_log_is_written_whole() {
    let dir = fresh_dir("verifier-log");
    let src = dir.join("unchecked.c");
    std::fs::write(&src, filter_with(&["BUG_NO_BOUNDS_CHECK"])).unwrap();
    let log = dir.join("verifier.log");
    let (code, out, err) = xdplab(&[
        "run",
        "7.1",
        src.to_str().unwrap(),
        "--program",
        "port_filter",
        "--mode",
        "test-run",
        "--verifier-log",
        log.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("earlier lines"),
        "the report trims the log: {out}"
    );
    let whole = std::fs::read_to_string(&log).unwrap();
    assert!(
        whole.starts_with("==== port_filter: the verifier's whole log\n"),
        "{whole}"
    );
    assert!(whole.contains("invalid access to packet"), "{whole}");
    // Every line of the report's excerpt is in the file, and the file has more.
    let excerpt: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()) && l.contains(": ("))
        .collect();
    assert!(!excerpt.is_empty(), "{out}");
    for l in &excerpt {
        assert!(whole.contains(l), "{l} missing from the file");
    }
    assert!(whole.lines().count() > excerpt.len() + 12, "{whole}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Standard output of a running `xdplab watch`, line by line, with a guard against a hang.
struct Watch {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Watch {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xdplab"))
            .arg("watch")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// The lines of the next result, up to the line that says it waits for a change.
    fn next_result(&self) -> Vec<String> {
        // A guard only: a result comes in a few seconds.
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut screen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no result from watch ({e}); so far: {screen:#?}"));
            let done = line.starts_with("xdplab watch: waiting for a change");
            screen.push(line);
            if done {
                return screen;
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SIGINT: watch cleans up after itself as a run does.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
    }
}

/// Saves `text` as editors do: written beside `path`, then renamed over it (one change, never a
/// half-written file).
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("c.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

/// `xdplab watch` shows a result, and after the file is saved with a one-line fix, the new
/// one: the first failure with its diff, then all passing.
#[test]
fn watch_reruns_when_the_file_is_saved() {
    let dir = fresh_dir("watch");
    let src: PathBuf = dir.join("filter.c");
    std::fs::write(&src, filter_with(&["BUG_RULE_ORDER"])).unwrap();
    let watch = Watch::start(&["7.1", src.to_str().unwrap(), "--program", "firewall"]);
    let first = watch.next_result().join("\n");
    assert!(first.contains("run 1 · mode test-run"), "{first}");
    assert!(first.contains("FAIL 7.1/firewall/"), "{first}");
    assert!(
        first.contains("--- expected"),
        "the first failure's diff: {first}"
    );
    assert!(!first.contains(" 0 failed"), "{first}");
    // The fix: the `#define` line removed.
    save(&src, &filter_with(&[]));
    let second = watch.next_result().join("\n");
    assert!(second.contains("run 2 · mode test-run"), "{second}");
    assert!(second.contains(" 0 failed"), "{second}");
    assert!(!second.contains("FAIL"), "{second}");
    // A compile error is a result too, and the watch goes on.
    save(&src, "int broken(");
    let third = watch.next_result().join("\n");
    assert!(third.contains("does not compile"), "{third}");
    drop(watch);
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}

/// Lab 7.1's solution (with `bugs`) compiled into `dir/NAME.o`, its firewall renamed `kernel`
/// in the kernel so that programs of other tests never share its name.
fn firewall_object(dir: &Path, name: &str, bugs: &[&str], kernel: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    let mut text = format!("#define firewall {kernel}\n");
    text.push_str(&filter_with(bugs));
    std::fs::write(&src, text).unwrap();
    kernel::clang::compile(&src, &[], dir).unwrap()
}

fn bpftool(args: &[&str]) -> String {
    let out = Command::new("bpftool")
        .args(args)
        .output()
        .expect("bpftool runs");
    assert!(
        out.status.success(),
        "bpftool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Results until one passes every check, which must come within `most` results.
fn until_all_pass(watch: &Watch, most: usize) -> String {
    for _ in 0..most {
        let screen = watch.next_result().join("\n");
        if screen.contains(" 0 failed") {
            return screen;
        }
    }
    panic!("no passing result in {most}");
}

/// `watch --pinned DIR` reruns when a pin is replaced, and `watch --prog-id` when a newer
/// program with the same kernel name is loaded (the student loaded the fix).
#[test]
fn watch_follows_pins_and_program_ids() {
    let dir = fresh_dir("watch-pins");
    let kernel_name = format!("fw{}", std::process::id() % 100_000_000);
    let broken = firewall_object(&dir, "broken", &["BUG_RULE_ORDER"], &kernel_name);
    let fixed = firewall_object(&dir, "fixed", &[], &kernel_name);
    /// Removes the test's pins however the test ends (they hold programs loaded).
    struct Pins(PathBuf);
    impl Drop for Pins {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let pins_guard = Pins(PathBuf::from(format!(
        "/sys/fs/bpf/xdplab-watch-test-{}",
        std::process::id()
    )));
    let bpffs = pins_guard.0.clone();
    kernel::object::ensure_bpffs().unwrap();
    let (pins, staging) = (bpffs.join("pins"), bpffs.join("staging"));
    std::fs::create_dir_all(&pins).unwrap();
    std::fs::create_dir_all(&staging).unwrap();
    bpftool(&[
        "prog",
        "loadall",
        broken.to_str().unwrap(),
        pins.to_str().unwrap(),
    ]);
    let pinned_firewall = pins.join(&kernel_name);
    std::fs::rename(&pinned_firewall, pins.join("firewall")).unwrap();
    let watch = Watch::start(&[
        "7.1",
        "--pinned",
        pins.to_str().unwrap(),
        "--program",
        "firewall",
    ]);
    let first = watch.next_result().join("\n");
    assert!(first.contains("FAIL 7.1/firewall/"), "{first}");
    bpftool(&[
        "prog",
        "loadall",
        fixed.to_str().unwrap(),
        staging.to_str().unwrap(),
    ]);
    std::fs::rename(staging.join(&kernel_name), pins.join("firewall")).unwrap();
    until_all_pass(&watch, 2);
    drop(watch);

    // By id: the broken one given, the fixed one loaded after.
    let show = bpftool(&[
        "prog",
        "show",
        "pinned",
        pins.join("firewall").to_str().unwrap(),
    ]);
    assert!(show.contains(&kernel_name), "{show}");
    let again = bpffs.join("again");
    std::fs::create_dir_all(&again).unwrap();
    bpftool(&[
        "prog",
        "loadall",
        broken.to_str().unwrap(),
        again.to_str().unwrap(),
    ]);
    let show = bpftool(&[
        "prog",
        "show",
        "pinned",
        again.join(&kernel_name).to_str().unwrap(),
    ]);
    let id = show.split(':').next().unwrap().trim().to_owned();
    let arg = format!("firewall={id}");
    let watch = Watch::start(&["7.1", "--prog-id", &arg]);
    let first = watch.next_result().join("\n");
    assert!(first.contains("FAIL 7.1/firewall/"), "{first}");
    let newer = bpffs.join("newer");
    std::fs::create_dir_all(&newer).unwrap();
    bpftool(&[
        "prog",
        "loadall",
        fixed.to_str().unwrap(),
        newer.to_str().unwrap(),
    ]);
    until_all_pass(&watch, 2);
    drop(watch);
    drop(pins_guard);
    let _ = std::fs::remove_dir_all(dir);
}

/// Lab 7.2's contract: the license must be GPL-compatible, because `syn_cookie` calls GPL-only
/// helpers. Lab 7.2's C solution without its license line fails that part before loading (aya
/// alone would load a license-less object as GPL), with the fix; a part calling no GPL-only
/// helper is not charged for it.
#[test]
fn lab_7_2_without_a_license_fails_syn_cookie_with_the_fix() {
    let dir = fresh_dir("no-license");
    let solution = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../lab-7-2/tests/programs/ddos.c"
    );
    let text = std::fs::read_to_string(solution).unwrap();
    let line = "char LICENSE[] SEC(\"license\") = \"GPL\";";
    assert!(text.contains(line));
    let src = dir.join("ddos.c");
    std::fs::write(&src, text.replace(line, "")).unwrap();
    let run = |program: &str| {
        xdplab(&[
            "run",
            "7.2",
            src.to_str().unwrap(),
            "--program",
            program,
            "--mode",
            "test-run",
            "--format",
            "json",
        ])
    };
    let (code, out, err) = run("syn_cookie");
    assert_eq!(code, 2, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let first = &report["checks"][0];
    let message = first["message"].as_str().unwrap();
    assert!(
        message.contains("bpf_tcp_raw_gen_syncookie_ipv4"),
        "{message}"
    );
    assert!(
        message.contains("the object has no license section"),
        "{message}"
    );
    assert!(message.contains("SEC(\"license\") = \"GPL\""), "{message}");
    assert_eq!(first["class"], "verifier", "{first}");
    let (code, out, err) = run("ddos_guard");
    assert_eq!(code, 0, "{out}{err}");
    let _ = std::fs::remove_dir_all(dir);
}
