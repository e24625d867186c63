//! The CLI's contract with its users: exit codes and one-paragraph messages for bad input.

use std::{path::Path, process::Command};

fn xdplab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xdplab"))
        .args(args)
        .output()
        .expect("xdplab runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tmp(name: &str) -> String {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(name)
        .display()
        .to_string()
}

/// Builds a C object from `source` (a whole file) into the test's temporary directory.
fn c_object(name: &str, source: &str) -> String {
    let src = tmp(&format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    harness::clang::compile(Path::new(&src), &[], Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn reference_passes_with_exit_0_and_json_is_stable() {
    let (code, out, err) = xdplab(&["run", "7.1", "--mode", "test-run", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["lab"], "7.1");
    assert_eq!(report["mode"], "test-run");
    let checks = report["checks"].as_array().unwrap();
    assert!(!checks.is_empty());
    for c in checks {
        for key in ["id", "part", "description", "status", "passed", "message"] {
            assert!(c.get(key).is_some(), "check lacks {key}: {c}");
        }
    }
    assert_eq!(report["totals"]["failed"], 0);
}

#[test]
fn missing_file_exits_2() {
    let (code, _, err) = xdplab(&["run", "7.1", "--object", "/nonexistent/student.o"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot read the object `/nonexistent/student.o`"),
        "{err}"
    );
}

#[test]
fn not_elf_exits_2() {
    let path = tmp("not-elf.o");
    std::fs::write(&path, "int main() { return 0; }\n").unwrap();
    let (code, _, err) = xdplab(&["run", "7.1", "--object", &path]);
    assert_eq!(code, 2);
    assert!(err.contains("is not an ELF object"), "{err}");
}

#[test]
fn elf_without_xdp_program_exits_2() {
    let path = c_object(
        "socket-filter",
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
         SEC(\"socket\") int only_a_socket_filter(void *ctx) { return 0; }\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n",
    );
    let (code, _, err) = xdplab(&["run", "7.1", "--object", &path]);
    assert_eq!(code, 2);
    assert!(err.contains("holds no XDP program"), "{err}");
    assert!(err.contains("only_a_socket_filter"), "{err}");
}

#[test]
fn wrong_program_name_exits_2_and_lists_what_is_there() {
    let path = c_object(
        "misnamed",
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
         SEC(\"xdp\") int ipfilter(struct xdp_md *ctx) { return XDP_PASS; }\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n",
    );
    let (code, _, err) = xdplab(&["run", "7.1", "--object", &path, "--program", "ip_filter"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("program `ip_filter` not found; the object has: ipfilter"),
        "{err}"
    );
    // Without --program the missing parts are reported as failed checks: exit 1.
    let (code, out, _) = xdplab(&["run", "7.1", "--object", &path, "--mode", "test-run"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("program `port_filter` not found; the object has: ipfilter"),
        "{out}"
    );
}

#[test]
fn not_root_exits_2() {
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_xdplab"))
        .args(["run", "7.1", "--mode", "test-run"])
        .output()
        .expect("setpriv (util-linux) runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("xdplab needs root"));
}

#[test]
fn unknown_lab_and_check_exit_2() {
    let (code, _, err) = xdplab(&["run", "9.9"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("there is no lab `9.9`; the labs are 7.1"),
        "{err}"
    );
    let (code, _, err) = xdplab(&["run", "7.1", "--check", "7.1/nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("has no check `7.1/nope`"), "{err}");
}

/// A run killed with SIGKILL skips every Drop; `xdplab clean` must remove what it left, and
/// its XDP programs must already be gone (bpf links die with the process).
#[test]
fn killed_run_is_cleaned_up() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xdplab"))
        .args(["run", "7.1", "--mode", "native"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let prefix = format!("xdplab-{}-", child.id());
    let ours = || {
        harness::netns::leftovers()
            .into_iter()
            .filter(|n| n.starts_with(&prefix))
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    // Wait for the run to have built a topology, then kill it mid-run.
    while ours() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never created a namespace"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        ours() > 0,
        "a killed run leaves its namespaces (nothing ran its Drop)"
    );
    let (code, out, err) = xdplab(&["clean"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(ours(), 0, "clean removed them: {out}");
}

/// `--pcap DIR` writes each check's sent and observed frames as pcap files.
#[test]
fn pcap_files_hold_the_checks_traffic() {
    let dir = tmp("pcaps");
    let _ = std::fs::remove_dir_all(&dir);
    let check = "7.1/firewall/first-match-wins";
    let (code, _, err) = xdplab(&[
        "run", "7.1", "--mode", "native", "--check", check, "--pcap", &dir,
    ]);
    assert_eq!(code, 0, "{err}");
    let count = |suffix: &str| {
        let file = std::fs::File::open(
            Path::new(&dir).join(format!("7.1_firewall_first-match-wins.{suffix}.pcap")),
        )
        .unwrap();
        let mut reader = pcap_file::pcap::PcapReader::new(file).expect("a pcap file");
        let mut n = 0;
        while let Some(packet) = reader.next_packet() {
            packet.expect("a readable packet");
            n += 1;
        }
        n
    };
    // Three frames in; all three dropped, so nothing came out.
    assert_eq!(count("sent"), 3);
    assert_eq!(count("observed"), 0);
}

/// `env up` leaves a lab's network for exploration; `env down` removes all of it.
#[test]
fn env_up_and_down() {
    let (code, out, err) = xdplab(&["env", "up", "7.3"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("xdplab-env-client"), "{out}");
    assert!(Path::new("/var/run/netns/xdplab-env-b1").exists());
    let (code, _, err) = xdplab(&["env", "up", "7.3"]);
    assert_eq!(code, 2, "a second env up is refused");
    assert!(err.contains("an environment is up"), "{err}");
    let (code, out, _) = xdplab(&["env", "down"]);
    assert_eq!(code, 0);
    assert!(out.contains("removed 6 namespace(s)"), "{out}");
    assert!(!Path::new("/var/run/netns/xdplab-env-b1").exists());
}
