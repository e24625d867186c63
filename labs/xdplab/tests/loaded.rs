//! `xdplab run` on programs a student loaded themselves, the Clojure library's way (unnamed
//! maps, raw instructions): by id and by the interface they are attached to.

use std::process::Command;

use harness::testing::student_loader::{StudentPrograms, XDP_FLAGS_DRV_MODE, attach_netlink};
use kernel::topology::{Topology, TopologySpec};

mod common;

/// Runs `xdplab` with `args`, whose standard output must be a JSON report.
fn xdplab(args: &[&str]) -> (i32, serde_json::Value, String) {
    let (code, stdout, stderr) = common::run(args);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
    (code, json, stderr)
}

/// Every check ran and passed, and the unnamed map is reported as found by its layout. A check
/// that needs two CPUs at once may stay unverified on a loaded machine (exit 2), never charged.
fn assert_judged_by_layout(code: i32, report: &serde_json::Value, err: &str) {
    let charged = report["totals"]["failed"].as_u64().unwrap_or(1)
        + report["totals"]["environment"].as_u64().unwrap_or(1);
    let unverified = report["totals"]["unverified"].as_u64().unwrap_or(0);
    assert_eq!(charged, 0, "{report}{err}");
    assert!(
        code == 0 || (code == 2 && unverified > 0),
        "{code}: {report}{err}"
    );
    assert!(report["totals"]["passed"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["maps"][0]["contract"], "stats", "{report}");
    assert_eq!(report["maps"][0]["found"], "by-layout", "{report}");
    let used = report["maps"][0]["used"].as_str().unwrap();
    assert!(used.ends_with("(unnamed)"), "{used}");
}

#[test]
fn prog_id_runs_a_loaded_program() {
    let student = StudentPrograms::load(reference::lab_7_1(), false).unwrap();
    let id = student.id("port_filter").to_string();
    for args in [
        vec!["--prog-id", &*format!("port_filter={id}")],
        vec!["--prog-id", &*id, "--program", "port_filter"],
    ] {
        let mut all = vec!["run", "7.1", "--mode", "native", "--format", "json"];
        all.extend(args);
        let (code, report, err) = xdplab(&all);
        assert_judged_by_layout(code, &report, &err);
    }
}

#[test]
fn attached_runs_the_program_on_an_interface_and_leaves_it_there() {
    let student = StudentPrograms::load(reference::lab_7_1(), false).unwrap();
    let network = Topology::create(&TopologySpec::pair()).unwrap();
    let eth0 = network.iface("dut", "eth0").unwrap().ifindex;
    let ns = network.ns("dut").unwrap();
    ns.run(|| attach_netlink(student.fd("firewall"), eth0, XDP_FLAGS_DRV_MODE))
        .unwrap()
        .unwrap();
    for mode in ["native", "generic", "test-run"] {
        let (code, report, err) = xdplab(&[
            "run",
            "7.1",
            "--attached",
            "eth0",
            "--netns",
            ns.name(),
            "--mode",
            mode,
            "--format",
            "json",
        ]);
        assert_judged_by_layout(code, &report, &err);
        assert!(
            report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["part"] == "firewall")
        );
    }
    // Still attached to the student's interface.
    let (code, _, err) = xdplab(&[
        "run",
        "7.1",
        "--attached",
        "eth0",
        "--netns",
        ns.name(),
        "--mode",
        "test-run",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_wrong_id_or_interface_stops_the_run_with_the_reason() {
    let (code, report, err) = xdplab(&[
        "run",
        "7.1",
        "--prog-id",
        "ip_filter=4294967295",
        "--format",
        "json",
    ]);
    assert_eq!(code, 2);
    assert_eq!(report["error"]["class"], "no-program", "{report}");
    assert!(err.contains("no loaded program has id 4294967295"), "{err}");
    let (code, _, err) = xdplab(&[
        "run",
        "7.1",
        "--attached",
        "eth0",
        "--netns",
        "xdplab-no-such-ns",
        "--format",
        "json",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("there is no network namespace xdplab-no-such-ns"),
        "{err}"
    );
}

/// Grading takes a `pinned` file naming a directory of programs loaded the library's way, with
/// the unnamed map pinned as `stats` next to them: full points, the map found by its pin.
#[test]
fn grading_a_pinned_file_uses_its_map_pins() {
    let student = StudentPrograms::load(reference::lab_7_1(), false).unwrap();
    let pins = kernel::object::PinDir::create().unwrap();
    student.pin_all(pins.path()).unwrap();
    student
        .pin_map("stats", &pins.path().join("stats"))
        .unwrap();
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("loaded-grade");
    let _ = std::fs::remove_dir_all(&tmp);
    let sub = tmp.join("submissions/grace");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("pinned"), pins.path().display().to_string()).unwrap();
    let out = tmp.join("results");
    let status = Command::new(env!("CARGO_BIN_EXE_xdplab"))
        .args(["grade", "7.1"])
        .arg(tmp.join("submissions"))
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(out.join("students/grace/report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        report["points"].as_f64(),
        report["max"].as_f64(),
        "{report}"
    );
    assert!(report["points"].as_f64().unwrap() > 0.0, "{report}");
    assert!(
        text.contains("\"found\": \"pin\"") || text.contains("\"found\":\"pin\""),
        "{text}"
    );
}

/// A pinned program an interface cannot run is the program's failure in every mode, never an
/// environment fault or an unverified check: a socket filter (aya would take any pin as XDP)
/// and an XDP program loaded for a devmap (BPF_PROG_TEST_RUN and attaching both refuse it).
#[test]
fn pinned_programs_an_interface_cannot_run_fail_as_the_programs() {
    use harness::testing::student_loader::{load_program, pin};
    // r0 = 2 (XDP_PASS, or "keep 2 bytes" for a socket filter); exit. 8 bytes each: opcode,
    // registers, offset, immediate.
    let insns: Vec<aya_obj::generated::bpf_insn> =
        [[0xb7u8, 0, 0, 0, 2, 0, 0, 0], [0x95, 0, 0, 0, 0, 0, 0, 0]]
            .iter()
            // SAFETY: bpf_insn is the kernel's 8-byte instruction, plain bytes with no invalid values.
            .map(|b| unsafe { std::mem::transmute::<[u8; 8], aya_obj::generated::bpf_insn>(*b) })
            .collect();
    use aya_obj::generated::{bpf_attach_type, bpf_prog_type};
    const SOCKET_FILTER: u32 = bpf_prog_type::BPF_PROG_TYPE_SOCKET_FILTER as u32;
    const XDP: u32 = bpf_prog_type::BPF_PROG_TYPE_XDP as u32;
    const BPF_XDP_DEVMAP: u32 = bpf_attach_type::BPF_XDP_DEVMAP as u32;
    for (kind, expected_attach, found) in [
        (SOCKET_FILTER, 0, "not an XDP program"),
        (XDP, BPF_XDP_DEVMAP, "loaded for a devmap or cpumap"),
    ] {
        let fd = load_program(kind, expected_attach, &insns, Some("ip_filter")).unwrap();
        let pins = kernel::object::PinDir::create().unwrap();
        pin(
            std::os::fd::AsFd::as_fd(&fd),
            &pins.path().join("ip_filter"),
        )
        .unwrap();
        for mode in ["test-run", "native"] {
            let (code, report, err) = xdplab(&[
                "run",
                "7.1",
                "--pinned",
                &pins.path().display().to_string(),
                "--program",
                "ip_filter",
                "--mode",
                mode,
                "--format",
                "json",
            ]);
            let checks = report["checks"].as_array().unwrap();
            assert!(!checks.is_empty(), "{report}{err}");
            // Unscored checks report, and test-run-only checks skip on a veth.
            for c in checks
                .iter()
                .filter(|c| c["status"] != "info" && c["status"] != "skip")
            {
                assert_eq!(c["status"], "fail", "{c}");
                assert_eq!(c["class"], "no-program", "{c}");
                assert!(c["message"].as_str().unwrap().contains(found), "{c}");
            }
            assert_eq!(code, 1, "{err}");
        }
    }
}
