//! A closed or full standard output never makes xdplab panic: a reader that went away
//! (`xdplab list | head`) ends it quietly with 0, as ripgrep does; any other write error
//! (`> /dev/full`) with one line on standard error and 2.

use std::process::{Command, Output, Stdio};

/// Runs `xdplab args` with `stdout` as its standard output.
fn xdplab(args: &[&str], stdout: impl Into<Stdio>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xdplab"))
        .args(args)
        .stdout(stdout)
        .output()
        .unwrap()
}

/// A pipe whose reading end is closed already.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap()
}

#[test]
fn list_into_a_closed_pipe_ends_quietly_with_0() {
    let out = xdplab(&["list"], closed_pipe());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn list_into_a_full_device_says_so_in_one_line_and_exits_2() {
    let out = xdplab(&["list"], dev_full());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("xdplab: cannot write to standard output: No space left on device"),
        "{err}"
    );
}

/// The other print paths share the writer: a run's report, a usage error's JSON document
/// (after the error itself on standard error), clean's list.
#[test]
fn every_print_path_survives_a_closed_or_full_output() {
    for args in [
        &[
            "run",
            "7.1",
            "--mode",
            "test-run",
            "--check",
            "7.1/firewall/icmp-dropped",
        ][..],
        &["run", "9.9", "--format", "json"],
        &["clean"],
    ] {
        let out = xdplab(args, closed_pipe());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(matches!(out.status.code(), Some(0 | 2)), "{args:?}: {err}");
        let out = xdplab(args, dev_full());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("cannot write to standard output"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
