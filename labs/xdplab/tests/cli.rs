//! The CLI's contract with its users: exit codes and one-paragraph messages for bad input.

use std::{path::Path, process::Command};

mod common;
use common::run as xdplab;

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
    kernel::clang::compile(Path::new(&src), &[], Path::new(env!("CARGO_TARGET_TMPDIR")))
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
    assert_ne!(checks.len(), 0);
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
        err.contains(
            "program `ip_filter` not found; the programs given are: ipfilter. Name the \
             function exactly `ip_filter`"
        ),
        "{err}"
    );
    // Without --program the missing parts are reported as failed checks: exit 1.
    let (code, out, _) = xdplab(&["run", "7.1", "--object", &path, "--mode", "test-run"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("program `port_filter` not found; the programs given are: ipfilter."),
        "{out}"
    );
    // Unscored checks stay unscored: only the 30 scored checks fail.
    let (_, out, _) = xdplab(&[
        "run", "7.1", "--object", &path, "--mode", "test-run", "--format", "json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let scored = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "info")
        .count();
    assert_eq!(report["totals"]["failed"], scored, "{out}");
    assert!(report["totals"]["info"].as_u64().unwrap() > 0, "{out}");
}

/// A pin directory that lacks a program says where to pin it.
#[test]
fn missing_pin_names_where_to_pin_it() {
    let pins = kernel::object::PinDir::create().unwrap();
    let mut ebpf = aya::Ebpf::load(reference::harness_pass()).unwrap();
    let p: &mut aya::programs::Xdp = ebpf.program_mut("xdplab_pass").unwrap().try_into().unwrap();
    p.load().unwrap();
    p.pin(pins.path().join("xdplab_pass")).unwrap();
    let dir = pins.path().display().to_string();
    let fix = format!("pin it at {dir}/syn_guard");
    let (code, _, err) = xdplab(&["run", "7.2", "--pinned", &dir, "--program", "syn_guard"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&fix), "{err}");
    let (code, out, _) = xdplab(&["run", "7.2", "--pinned", &dir, "--mode", "test-run"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&fix), "{out}");
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

/// Unknown labs, checks and programs, and filters that select nothing, are usage errors that
/// list the valid values; never an environment fault.
#[test]
fn usage_errors_exit_2_with_class_usage_and_the_valid_values() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "9.9"],
            "there is no lab `9.9`; the labs are 7.1, 7.2, 7.3",
        ),
        (
            &["run", "7.1", "--check", "7.1/nope"],
            "lab 7.1 has no check `7.1/nope`; its checks are:\n  7.1/ip_filter/",
        ),
        (
            &["run", "7.2", "--program", "nope"],
            "its programs are: rate_limiter, syn_guard, ddos_guard, syn_cookie",
        ),
        (
            &[
                "run",
                "7.1",
                "--program",
                "ip_filter",
                "--check",
                "7.1/firewall/icmp-dropped",
            ],
            "belongs to program `firewall`, not `ip_filter`",
        ),
    ];
    for (args, message) in cases {
        let (code, _, err) = xdplab(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("environment fault"), "{err}");
        let mut json = args.to_vec();
        json.extend(["--format", "json"]);
        let (code, out, _) = xdplab(&json);
        assert_eq!(code, 2);
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["error"]["class"], "usage", "{out}");
    }
}

/// The doctor names the running kernel and loads every lab part's reference program.
#[test]
fn doctor_checks_the_kernel_and_every_reference() {
    let (_, out, err) = xdplab(&["doctor"]);
    // Leftovers are left out: a parallel test kills a run on purpose.
    assert!(
        !out.lines()
            .any(|l| l.starts_with("BAD") && !l.contains("leftovers")),
        "{out}{err}"
    );
    assert!(out.contains("tested: 6.1, 6.12, 6.18"), "{out}");
    for line in [
        "helper bpf_tcp_raw_gen_syncookie_ipv4",
        "helper bpf_tcp_raw_check_syncookie_ipv4",
        "reference 7.2/syn_cookie",
        "reference 7.3/lb_dsr",
        "veth XDP native",
        "veth XDP generic",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("ok ") && l.contains(line)),
            "{line}:\n{out}"
        );
    }
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
    let prefix = kernel::cleanup::owner_prefix(child.id());
    let ours = || {
        kernel::cleanup::leftovers()
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

/// The frames of one pcap file.
fn pcap_frames(path: &Path) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = pcap_file::pcap::PcapReader::new(file).expect("a pcap file");
    let mut frames = Vec::new();
    while let Some(packet) = reader.next_packet() {
        frames.push(packet.expect("a readable packet").data.into_owned());
    }
    frames
}

/// Scenario checks leave a trace too: lab 7.2's SYN-cookie exchanges write the SYN-ACKs the
/// program sent back, the real TCP client's check what the captures saw of its connection,
/// and the run names each check that wrote none, with why.
#[test]
fn pcap_files_hold_scenario_checks_traffic() {
    let dir = tmp("pcaps-cookie");
    let _ = std::fs::remove_dir_all(&dir);
    let (code, _, err) = xdplab(&[
        "run",
        "7.2",
        "--program",
        "syn_cookie",
        "--mode",
        "test-run",
        "--pcap",
        &dir,
    ]);
    assert_eq!(code, 0, "{err}");
    let file = |check: &str, suffix: &str| {
        Path::new(&dir).join(format!("7.2_syn_cookie_{check}.{suffix}.pcap"))
    };
    let sent = pcap_frames(&file("syn-ack-rewrite", "sent"));
    let back = pcap_frames(&file("syn-ack-rewrite", "observed"));
    assert!(!sent.is_empty() && !back.is_empty(), "{err}");
    // Each frame that came back is a SYN-ACK (TCP flags byte of a 20-byte IPv4 header).
    assert!(
        back.iter().all(|f| f[14 + 20 + 13] & 0x12 == 0x12),
        "{back:?}"
    );
    for check in [
        "cookie-handshake",
        "forged-acks-dropped",
        "counts-from-2-cpus",
    ] {
        assert!(!pcap_frames(&file(check, "sent")).is_empty(), "{check}");
    }
    assert!(
        err.contains(
            "no pcap files for 1 check(s):\n  7.2/syn_cookie/real-client: skipped in test-run mode"
        ),
        "{err}"
    );

    let dir = tmp("pcaps-client");
    let _ = std::fs::remove_dir_all(&dir);
    let check = "7.2/syn_cookie/real-client";
    let (code, _, err) = xdplab(&[
        "run", "7.2", "--mode", "native", "--check", check, "--pcap", &dir,
    ]);
    assert_eq!(code, 0, "{err}");
    let seen = pcap_frames(&Path::new(&dir).join("7.2_syn_cookie_real-client.observed.pcap"));
    // At least the SYN-ACK the program sent the client and the client's ACK and data that
    // reached the server.
    assert!(seen.len() >= 3, "{} frames; {err}", seen.len());
    assert!(!err.contains("no pcap files"), "{err}");
}

/// An unwritable `--pcap` folder is refused before anything runs, as a usage error, and JSON
/// output is that one error document.
#[test]
fn an_unwritable_pcap_folder_is_refused_up_front() {
    // A path below a regular file can never be created, even by root.
    let file = tmp("pcap-not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let dir = format!("{file}/pcaps");
    let (code, out, err) = xdplab(&["run", "7.2", "--format", "json", "--pcap", &dir]);
    assert_eq!(code, 2, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("exactly one JSON document");
    assert_eq!(doc["error"]["class"], "usage", "{out}");
    // The class says it came from the up-front check: a failure after the run would be an
    // environment fault, printed after a report.
    assert!(
        doc["error"]["message"].as_str().unwrap().contains(&dir),
        "{out}"
    );
    assert!(!doc.to_string().contains("\"checks\""), "{out}");
}

/// `env up` leaves a lab's network for exploration, with a program attached when given one;
/// `env down` removes all of it: namespaces, veths, the attachment and the pins.
#[test]
fn env_up_and_down() {
    let _lock = common::env_lock();
    let (code, out, err) = xdplab(&["env", "up", "7.3"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("xdplab-env-client"), "{out}");
    assert!(Path::new("/var/run/netns/xdplab-env-b1").exists());
    let (code, _, err) = xdplab(&["env", "up", "7.3"]);
    assert_eq!(code, 2, "a second env up is refused");
    assert!(err.contains("an environment is up"), "{err}");
    assert!(out.contains("no program is attached"), "{out}");
    let (code, out, _) = xdplab(&["env", "down"]);
    assert_eq!(code, 0);
    assert!(out.contains("removed 6 namespace(s)"), "{out}");
    assert!(!Path::new("/var/run/netns/xdplab-env-b1").exists());

    // A program the lab does not have is refused before anything is built.
    let object = tmp("env-ddos.o");
    std::fs::write(&object, reference::lab_7_2()).unwrap();
    let (code, _, err) = xdplab(&["env", "up", "7.2", "--object", &object, "--program", "nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no program `nope`"), "{err}");
    assert!(!Path::new("/var/run/netns/xdplab-env-dut").exists());

    // With an object: the program is attached, and the commands printed work as printed.
    let (code, out, err) = xdplab(&[
        "env",
        "up",
        "7.2",
        "--object",
        &object,
        "--program",
        "syn_cookie",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("syn_cookie (from ") && out.contains("is attached to eth0 in xdplab-env-dut"),
        "{out}"
    );
    let printed = |start: &str| -> Vec<String> {
        let line = out
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no `{start}` line:\n{out}"));
        line.split_whitespace().map(str::to_owned).collect()
    };
    let shown = Command::new("ip")
        .args(["-n", "xdplab-env-dut", "link", "show", "eth0"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    let id = shown
        .split("prog/xdp id ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no XDP program on eth0: {shown}"))
        .to_owned();
    // tcpdump as printed sees the printed ping's requests (they pass the program).
    let tcpdump = printed("ip netns exec xdplab-env-dut tcpdump");
    let mut capture = Command::new(&tcpdump[0])
        .args(&tcpdump[1..])
        .args(["-c", "1", "icmp"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tcpdump (scripts/bootstrap.sh --test installs it)");
    // Ready once it says it is listening.
    let mut err = std::io::BufReader::new(capture.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening on eth0") {
        line.clear();
        let n = std::io::BufRead::read_line(&mut err, &mut line).unwrap();
        assert!(n > 0, "tcpdump ended before listening");
    }
    let ping = printed("ip netns exec xdplab-env-client ping");
    let pinged = Command::new(&ping[0]).args(&ping[1..]).output().unwrap();
    assert!(pinged.status.success(), "{pinged:?}");
    let captured = capture.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&captured.stdout).contains("ICMP echo request"),
        "{captured:?}"
    );
    // The printed run command judges the attached program (test-run: the real-client check
    // is the veth modes' and is run by the lab's own tests).
    let run: Vec<String> = printed("xdplab run");
    let mut args: Vec<&str> = run[1..].iter().map(String::as_str).collect();
    args.extend(["--mode", "test-run"]);
    let (code, report, err) = xdplab(&args);
    assert_eq!(code, 0, "{report}{err}");
    assert!(report.contains("lab 7.2"), "{report}");

    let (code, out, _) = xdplab(&["env", "down"]);
    assert_eq!(code, 0);
    assert!(out.contains("removed 2 namespace(s)"), "{out}");
    assert!(out.contains("/sys/fs/bpf/xdplab-env"), "{out}");
    assert!(!Path::new("/var/run/netns/xdplab-env-dut").exists());
    assert!(!Path::new("/sys/fs/bpf/xdplab-env").exists());
    // The program goes once nothing holds it; the kernel frees it asynchronously.
    let gone = || {
        !Command::new("bpftool")
            .args(["prog", "show", "id", &id])
            .output()
            .unwrap()
            .status
            .success()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !gone() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(gone(), "program {id} is still loaded after env down");
}

/// `just lab-7-N [OBJ] [ARGS]` (scripts/lab.sh): a first argument that is a flag goes to
/// `xdplab run` (the reference is checked), anything else is the object, relative to the folder
/// `just` was invoked from.
#[test]
fn the_lab_recipes_take_flags_without_an_object() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/lab.sh");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lab-recipe");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mine.o"), reference::lab_7_1()).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(&script)
            .arg("7.1")
            .arg(&dir)
            .args(args)
            .env("XDPLAB", env!("CARGO_BIN_EXE_xdplab"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{args:?}: {text}");
        text.lines().next().unwrap_or_default().to_owned()
    };
    let flags = [
        "--mode",
        "test-run",
        "--check",
        "7.1/ip_filter/blocked-10.0.0.1",
    ];
    assert!(
        run(&flags).contains("mode test-run · object reference solution"),
        "{}",
        run(&flags)
    );
    let mine = run(&[&["mine.o"][..], &flags].concat());
    assert!(mine.contains("lab-recipe/mine.o"), "{mine}");
}

/// A GPL-only helper called under an MIT license is a license to change, not a bounds check to
/// add: refused before loading, with the fix, once per part.
#[test]
fn a_gpl_helper_under_mit_gets_the_license_fix() {
    let path = c_object(
        "mit-licensed",
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
         SEC(\"xdp\") int ip_filter(struct xdp_md *ctx) {\n\
           bpf_printk(\"seen\");\n  return XDP_PASS;\n}\n\
         char LICENSE[] SEC(\"license\") = \"MIT\";\n",
    );
    let (code, out, _) = xdplab(&[
        "run",
        "7.1",
        "--object",
        &path,
        "--program",
        "ip_filter",
        "--mode",
        "test-run",
    ]);
    assert_eq!(code, 2, "a rejected program: {out}");
    assert!(
        out.contains("only GPL-compatible programs may call"),
        "{out}"
    );
    assert!(out.contains("SEC(\"license\")"), "{out}");
    assert!(!out.contains("data_end"), "{out}");
    // The fix is given once, under the part's first check; the others point to it.
    assert_eq!(out.matches("SEC(\"license\")").count(), 1, "{out}");
    assert!(
        out.contains("; the whole message is under 7.1/ip_filter/blocked-10.0.0.1"),
        "{out}"
    );
}
