//! Lab 7.1 on programs loaded the way the course's Clojure library loads them (see
//! `harness::testing::student_loader`): unnamed maps, raw instructions, a pinned copy and a
//! copy attached with netlink in a namespace. Every check passes through the pinned, prog-id
//! and attached sources in every mode, and a copy with a bug is flagged as its ELF twin is.

use std::collections::BTreeSet;

use harness::{
    Report, Status,
    testing::{
        self,
        student_loader::{StudentPrograms, XDP_FLAGS_DRV_MODE, attach_netlink, patch_compare_imm},
    },
};
use kernel::{
    Mode, XdpObject,
    object::{PinDir, ProgramSource},
    source::{AttachedProgram, PinnedPrograms, ProgramIds},
    topology::Topology,
};

const PROGRAMS: [&str; 3] = ["firewall", "ip_filter", "port_filter"];

fn run(source: &dyn ProgramSource, mode: Mode, program: Option<&str>) -> Report {
    testing::run(&lab_7_1::lab(0), source, mode, program)
}

/// The student's set-up: one copy pinned, one attached to `dut/eth0` of its own namespace per
/// program (an interface holds one XDP program), with maps that have no names.
struct Student {
    pinned: StudentPrograms,
    pins: PinDir,
    attached: StudentPrograms,
    // One network per program; the attachment lives as long as the interface.
    networks: Vec<(&'static str, Topology)>,
}

impl Student {
    fn load(elf: &[u8]) -> Self {
        let pinned = StudentPrograms::load(elf, false).expect("the library's way loads");
        let pins = PinDir::create().expect("a bpffs pin directory");
        pinned.pin_all(pins.path()).unwrap();
        let attached = StudentPrograms::load(elf, false).unwrap();
        let spec = &lab_7_1::lab(0).parts[0].topology;
        let mut networks = Vec::new();
        for name in PROGRAMS {
            let network = Topology::create(spec).expect("a network");
            let eth0 = network.iface("dut", "eth0").unwrap().ifindex;
            network
                .ns("dut")
                .unwrap()
                .run(|| attach_netlink(attached.fd(name), eth0, XDP_FLAGS_DRV_MODE))
                .unwrap()
                .expect("attach-xdp's netlink message attaches");
            networks.push((name, network));
        }
        Self {
            pinned,
            pins,
            attached,
            networks,
        }
    }

    fn prog_ids(&self) -> ProgramIds {
        ProgramIds::open(
            PROGRAMS
                .iter()
                .map(|n| (n.to_string(), self.pinned.id(n)))
                .collect(),
        )
        .expect("the ids are loaded XDP programs")
    }

    fn attached_source(&self, name: &str) -> AttachedProgram {
        let (_, network) = self.networks.iter().find(|(n, _)| *n == name).unwrap();
        let ns = network.ns("dut").unwrap().name().to_owned();
        let source = AttachedProgram::open("eth0", Some(&ns), None).expect("found by interface");
        assert_eq!(source.id(), self.attached.id(name));
        assert_eq!(source.programs(), [name], "judged under its kernel name");
        source
    }

    /// Every source's reports in `mode`: pinned, prog-id, then attached (one report per
    /// program).
    fn reports(&self, mode: Mode) -> Vec<Report> {
        let pinned = PinnedPrograms::open(self.pins.path()).unwrap();
        let mut reports = vec![run(&pinned, mode, None), run(&self.prog_ids(), mode, None)];
        for name in PROGRAMS {
            reports.push(run(&self.attached_source(name), mode, Some(name)));
        }
        reports
    }
}

fn failed(reports: &[Report]) -> BTreeSet<String> {
    reports
        .iter()
        .flat_map(|r| r.checks.iter())
        .filter(|c| !c.passed)
        .map(|c| c.id.clone())
        .collect()
}

fn every_source_passes(mode: Mode) {
    let student = Student::load((lab_7_1::lab(0).reference)());
    for report in student.reports(mode) {
        assert!(report.all_passed(), "{}", report.to_text());
        // Scored checks ran and passed: nothing was skipped into a pass.
        assert!(report.totals.passed > 0, "{}", report.to_text());
        // The unnamed map was found by its layout, and the report says which.
        let binding = report.maps.first().expect("a map found by layout");
        assert_eq!(binding.contract, "stats");
        assert_eq!(binding.found, "by-layout");
        assert!(binding.used.ends_with("(unnamed)"), "{}", binding.used);
        assert!(
            report.to_text().contains("map `stats` of"),
            "{}",
            report.to_text()
        );
    }
}

#[test]
fn clojure_style_programs_pass_native() {
    every_source_passes(Mode::Native);
}

#[test]
fn clojure_style_programs_pass_generic() {
    every_source_passes(Mode::Generic);
}

#[test]
fn clojure_style_programs_pass_test_run() {
    every_source_passes(Mode::TestRun);
}

/// 10.0.0.1 as a little-endian load of its network-order bytes, and the address the bug
/// blocks instead.
const BLOCKED: u32 = u32::from_le_bytes([10, 0, 0, 1]);
const WRONG: u32 = u32::from_le_bytes([10, 0, 0, 3]);

#[test]
fn a_buggy_copy_is_flagged_as_its_elf_twin_is() {
    let mut elf = (lab_7_1::lab(0).reference)().to_vec();
    assert!(
        patch_compare_imm(&mut elf, BLOCKED, WRONG) > 0,
        "the bug went in"
    );
    let twin = XdpObject::from_bytes("buggy twin", elf.clone()).unwrap();
    let student = Student::load(&elf);
    for mode in [Mode::TestRun, Mode::Native] {
        let expected = failed(&[run(&twin, mode, None)]);
        assert!(!expected.is_empty(), "the bug is visible in {mode}");
        let reports = student.reports(mode);
        for report in &reports {
            let mine: BTreeSet<String> = failed(std::slice::from_ref(report));
            let twins: BTreeSet<String> = expected
                .iter()
                .filter(|id| report.checks.iter().any(|c| &&c.id == id))
                .cloned()
                .collect();
            assert_eq!(mine, twins, "{}", report.to_text());
            assert!(
                report
                    .checks
                    .iter()
                    .filter(|c| !c.passed)
                    .all(|c| c.status == Status::Fail(kernel::FailureClass::Behaviour)),
                "{}",
                report.to_text()
            );
        }
    }
}

fn build(file: &str, defines: &[&str]) -> XdpObject {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/programs")
        .join(file);
    testing::build_c(
        &source,
        defines,
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
    )
}

/// A counter map with another name is found by its layout, and the report says which it is.
#[test]
fn a_renamed_counter_map_is_found_by_layout() {
    let report = run(&build("filter.c", &["stats=counters"]), Mode::TestRun, None);
    assert!(report.all_passed(), "{}", report.to_text());
    assert_eq!(report.maps.len(), 3, "one per program: {:?}", report.maps);
    assert!(
        report.maps[0].used.ends_with("`counters`"),
        "{:?}",
        report.maps
    );
    let json = report.to_json();
    assert!(json.contains("\"found\": \"by-layout\""), "{json}");
}

/// Two maps fit the counter role: every check that reads `stats` fails with a map-layout
/// error that lists every map and says how to name one.
#[test]
fn two_candidate_maps_are_listed_with_how_to_name_one() {
    let report = run(
        &build("two_counters.c", &[]),
        Mode::TestRun,
        Some("ip_filter"),
    );
    let reads_stats: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.status != Status::Info)
        .collect();
    assert!(!reads_stats.is_empty());
    for c in reads_stats {
        assert_eq!(
            c.status,
            Status::Fail(kernel::FailureClass::MapLayout),
            "{}",
            c.message
        );
    }
    let message = &report.checks[0].message;
    for needle in [
        "2 of the maps it uses fit that role",
        "ARRAY, 4-byte keys, 8-byte values, 4 entries, `counters`",
        "ARRAY, 4-byte keys, 8-byte values, 4 entries, `spare`",
        "SEC(\".maps\")",
        "#[map]",
        ":map-name \"stats\"",
    ] {
        assert!(message.contains(needle), "{needle}: {message}");
    }
}

/// A map pinned under the contract's name (`DIR/stats`) is the one used, and the report says
/// it was found by its pin.
#[test]
fn a_map_pin_names_the_unnamed_map() {
    let elf = (lab_7_1::lab(0).reference)();
    let student = StudentPrograms::load(elf, false).unwrap();
    let pins = PinDir::create().unwrap();
    student.pin_all(pins.path()).unwrap();
    student
        .pin_map("stats", &pins.path().join("stats"))
        .unwrap();
    let source = PinnedPrograms::open(pins.path()).unwrap();
    assert_eq!(
        source.programs(),
        PROGRAMS,
        "the map pin is not taken for a program"
    );
    let report = run(&source, Mode::TestRun, None);
    assert!(report.all_passed(), "{}", report.to_text());
    assert!(
        report.maps.iter().all(|m| m.found == "pin"),
        "{:?}",
        report.maps
    );
    assert!(
        report.maps[0].used.contains("pinned at"),
        "{:?}",
        report.maps
    );
}

/// While the program also runs on its own interface's traffic, counter checks that do not
/// add up say so and are not charged to the program.
#[test]
fn other_traffic_on_the_students_interface_is_not_charged() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let student = Student::load((lab_7_1::lab(0).reference)());
    let source = student.attached_source("ip_filter");
    let (_, network) = student
        .networks
        .iter()
        .find(|(n, _)| *n == "ip_filter")
        .unwrap();
    let client = network.iface("client", "eth0").unwrap().ifindex;
    let mut socket = network
        .ns("client")
        .unwrap()
        .run(|| traffic::PacketSocket::open(client))
        .unwrap()
        .unwrap();
    // A frame of a local experimental EtherType: the program passes and counts it.
    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5];
    frame.resize(60, 0);
    let stop = AtomicBool::new(false);
    let report = std::thread::scope(|s| {
        s.spawn(|| {
            // Back to back: every check overlaps this traffic, however quickly it settles.
            while !stop.load(Ordering::Relaxed) {
                socket.send(&frame).unwrap();
            }
        });
        let report = run(&source, Mode::Native, Some("ip_filter"));
        stop.store(true, Ordering::Relaxed);
        report
    });
    let behaviour = kernel::FailureClass::Behaviour;
    assert!(
        report
            .checks
            .iter()
            .all(|c| c.status != Status::Fail(behaviour)),
        "{}",
        report.to_text()
    );
    // Whether a check overlapped the other traffic depends on scheduling; every one that did
    // and failed, or whose counters could not be measured, says so and costs nothing.
    assert!(
        report
            .checks
            .iter()
            .filter(|c| !c.passed)
            .all(|c| c.status == Status::Unverified
                && c.message.contains("also ran on other traffic")),
        "{}",
        report.to_text()
    );
}
