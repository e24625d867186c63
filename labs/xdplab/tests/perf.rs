//! `xdplab bench` and `run --perf`: every program measured next to the reference solution and
//! the XDP_DROP floor, on the lab's frame mix, in test-run and on a native veth. Timings are
//! never asserted, only that each figure was measured (or why it could not be).

use std::path::Path;

use serde_json::Value;

mod common;
use common::{fresh_dir, grade, xdplab};

const FILTER_C: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../lab-7-1/tests/programs/filter.c"
);

fn spread_ok(s: &Value) {
    let (min, median, max) = (
        s["min"].as_f64().unwrap(),
        s["median"].as_f64().unwrap(),
        s["max"].as_f64().unwrap(),
    );
    assert!(0.0 < min && min <= median && median <= max, "{s}");
}

#[test]
fn bench_measures_each_program_next_to_the_reference_and_the_floor() {
    let build = fresh_dir("bench");
    let object = kernel::clang::compile(Path::new(FILTER_C), &[], &build).unwrap();
    let out = xdplab(&[
        "bench",
        "7.1",
        "--object",
        object.to_str().unwrap(),
        "--runs",
        "3",
        "--repeat",
        "20",
        "--veth-frames",
        "200",
        "--format",
        "json",
    ]);
    let perf: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(perf["runs"], 3);
    let programs = perf["programs"].as_array().unwrap();
    let names: Vec<&str> = programs
        .iter()
        .map(|p| p["program"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ip_filter", "port_filter", "firewall"]);
    for p in programs {
        assert!(p["frames"].as_u64().unwrap() > 5, "the lab's mix: {p}");
        for s in [&p["ns"], &p["reference_ns"], &p["floor_ns"]] {
            spread_ok(s);
        }
        assert!(p["ratio"].as_f64().unwrap() > 0.0, "{p}");
        for s in [
            &p["veth"]["program"],
            &p["veth"]["reference"],
            &p["veth"]["floor"],
        ] {
            spread_ok(s);
        }
        assert!(p["error"].is_null());
    }
}

/// A program the object lacks is reported as not measured, with the reason; the reference and
/// the floor are still measured. `run --perf` puts the same report in the run's JSON.
#[test]
fn perf_says_why_a_program_was_not_measured() {
    let build = fresh_dir("perf-missing");
    let source = build.join("misnamed.c");
    std::fs::write(
        &source,
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
         SEC(\"xdp\") int ipfilter(struct xdp_md *ctx) { return XDP_PASS; }\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n",
    )
    .unwrap();
    let object = kernel::clang::compile(&source, &[], &build).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xdplab"))
        .args([
            "run", "7.1", "--mode", "test-run", "--format", "json", "--perf", "--object",
        ])
        .arg(&object)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let programs = report["perf"]["programs"].as_array().unwrap();
    assert_eq!(programs.len(), 3);
    for p in programs {
        assert!(p["ns"].is_null() && p["ratio"].is_null(), "{p}");
        let error = p["error"].as_str().unwrap();
        assert!(
            error.contains("not found; the programs given are: ipfilter"),
            "{error}"
        );
        spread_ok(&p["reference_ns"]);
        spread_ok(&p["floor_ns"]);
        assert!(p["veth"].is_null(), "run --perf skips the veth rates");
    }
}

/// A rubric's `[perf] max_ratio` scores speed: grading measures each program and a program far
/// slower than the reference loses the perf part's points for it.
#[test]
fn rubric_scores_speed_against_the_reference() {
    let build = fresh_dir("perf-rubric");
    let subs = fresh_dir("perf-rubric-subs");
    let spin = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/spin.c");
    let slow = kernel::clang::compile(Path::new(spin), &["SLOW"], &build).unwrap();
    std::fs::copy(slow, subs.join("slow.o")).unwrap();
    std::fs::copy(reference::LAB_7_1_PATH, subs.join("fast.o")).unwrap();
    let rubric = build.join("rubric.toml");
    std::fs::write(&rubric, "[perf]\nmax_ratio = 3.0\npoints = 6\n").unwrap();
    let out = fresh_dir("perf-rubric-results");
    grade("7.1", &subs, &out, &["--rubric", rubric.to_str().unwrap()]);
    let report = |s: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(out.join("students").join(s).join("report.json")).unwrap(),
        )
        .unwrap()
    };
    let part = |r: &Value| {
        r["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["program"] == "perf")
            .cloned()
            .unwrap()
    };
    let (fast, slow) = (report("fast"), report("slow"));
    assert_eq!(part(&fast)["points"], 6.0, "{fast}");
    assert_eq!(fast["points"], 36.0);
    assert_eq!(part(&slow)["points"], 0.0, "{slow}");
    let perf_checks: Vec<&Value> = slow["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["part"] == "perf")
        .collect();
    assert_eq!(perf_checks.len(), 3);
    for c in perf_checks {
        let m = c["message"].as_str().unwrap();
        assert!(m.contains("x the reference:"), "{m}");
    }
    // The figures were measured: they are in timings.json, out of the graded files.
    let text = std::fs::read_to_string(out.join("students/slow/report.txt")).unwrap();
    assert!(
        !text.contains("--check 7.1/perf/"),
        "speed is not a check to replay: {text}"
    );
    let timings = |s: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(out.join("students").join(s).join("timings.json")).unwrap(),
        )
        .unwrap()
    };
    assert!(fast["perf"].is_null(), "{fast}");
    assert_eq!(
        timings("fast")["perf"]["programs"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
