//! A hostile class: a folder that holds everything a careless or malicious class hands in, graded
//! under a memory limit. Every entry gets a row (or a listed reason for being skipped), good
//! work keeps full marks, nothing is overwritten, and grading ends within its limits.

use std::{
    collections::BTreeMap,
    ffi::OsStr,
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

mod common;
use common::{FILTER_C, fresh_dir as tmp};

/// A secret in the grader's environment: `/proc/self/environ` would show it.
const ENV_MARKER: &str = "ENVMARK-5d81c0e2-grader-environment";
/// A secret in a private (0600) file outside the class.
const FILE_MARKER: &str = "FILEMARK-a93b77f4-private-file";
/// A secret in an `/etc/shadow`-like file outside the class.
const SHADOW_MARKER: &str = "SHADOWMARK-0c4e19d2-hash";
/// The students whose entries are (or hold) symbolic links, and the link each row must name.
const LINKS: &[(&str, &str)] = &[
    ("pin-env", "pin-env/pinned"),
    ("pin-private", "pin-private/pinned"),
    ("pin-shadow", "pin-shadow/pinned"),
    ("obj-env", "obj-env.o"),
    ("obj-private", "obj-private/lab-7-1.o"),
    ("obj-shadow", "obj-shadow.o"),
    ("dir-proc", "dir-proc"),
    ("dir-etc", "dir-etc"),
    ("dir-secrets", "dir-secrets"),
    ("zero", "zero.o"),
    ("mallory", "mallory/pinned"),
];

/// Address space the grader may use: far below what reading /dev/zero or a huge map would take.
const MEMORY_LIMIT: &str = "--as=2147483648";

fn compile(source: &str, name: &str, build: &Path) -> PathBuf {
    let c = build.join(format!("{name}.c"));
    std::fs::write(
        &c,
        format!(
            "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n{source}\n\
             char LICENSE[] SEC(\"license\") = \"GPL\";\n"
        ),
    )
    .unwrap();
    kernel::clang::compile(&c, &[], build).unwrap()
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// A program whose `stats` map has 100,000 entries: small in memory, but far more counters
/// than any contract reads.
fn wide_stats(build: &Path) -> PathBuf {
    compile(
        "struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64);\n\
         __uint(max_entries, 100000); } stats SEC(\".maps\");\n\
         SEC(\"xdp\") int ip_filter(struct xdp_md *ctx) { return XDP_PASS; }",
        "wide",
        build,
    )
}

/// Private files outside the class, which the class links to: a 0600 file and an
/// `/etc/shadow`-like one, each holding its marker.
fn secrets() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp("secrets");
    let private = dir.join("private");
    std::fs::write(&private, format!("{FILE_MARKER}\n")).unwrap();
    let shadow = dir.join("shadow");
    std::fs::write(
        &shadow,
        format!("root:$6${SHADOW_MARKER}:19000:0:99999:7:::\n"),
    )
    .unwrap();
    for f in [&private, &shadow] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    dir
}

/// Links to what the grader may read and the class may not: `/proc/self/environ` and the
/// private files, as `pinned` files, as objects and as student folders; and hard links to the
/// private files (read like files, but never quoted).
fn links(sub: &Path, secrets: &Path) {
    use std::os::unix::fs::symlink;
    let private = secrets.join("private");
    let shadow = secrets.join("shadow");
    for (dir, to) in [
        ("pin-env", Path::new("/proc/self/environ")),
        ("pin-private", &private),
        ("pin-shadow", &shadow),
    ] {
        std::fs::create_dir_all(sub.join(dir)).unwrap();
        symlink(to, sub.join(dir).join("pinned")).unwrap();
    }
    symlink("/proc/self/environ", sub.join("obj-env.o")).unwrap();
    std::fs::create_dir_all(sub.join("obj-private")).unwrap();
    symlink(&private, sub.join("obj-private/lab-7-1.o")).unwrap();
    symlink(&shadow, sub.join("obj-shadow.o")).unwrap();
    symlink("/proc/self", sub.join("dir-proc")).unwrap();
    symlink("/etc", sub.join("dir-etc")).unwrap();
    symlink(secrets, sub.join("dir-secrets")).unwrap();
    std::fs::hard_link(&private, sub.join("hard.o")).unwrap();
    std::fs::create_dir_all(sub.join("hard-pin")).unwrap();
    std::fs::hard_link(&shadow, sub.join("hard-pin/pinned")).unwrap();
}

/// Builds the class; returns its folder.
fn class() -> PathBuf {
    let build = tmp("build");
    let sub = tmp("class");
    links(&sub, &secrets());
    let good = kernel::clang::compile(Path::new(FILTER_C), &[], &build).unwrap();
    let put = |rel: &[u8], from: &Path| {
        let to = sub.join(OsStr::from_bytes(rel));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    };
    put(b"alice/lab-7-1.o", &good);
    // Two entries naming bob: neither may overwrite the other's report.
    put(b"bob.o", &good);
    put(b"bob/lab-7-1.o", &good);
    // A student called like a class-level file.
    put(b"summary.csv/lab-7-1.o", &good);
    put(b"students/lab-7-1.o", &good);
    // Names that are not UTF-8, and differ only there.
    put(b"d\xffve.o", &good);
    put(b"d\xfeve.o", &good);
    // A name that escaping would make longer than a file name may be.
    put(&[[0xfe; 250].as_slice(), b".o"].concat(), &good);
    // Things that are not objects.
    mkfifo(&sub.join("fifo.o"));
    std::os::unix::fs::symlink("/dev/zero", sub.join("zero.o")).unwrap();
    std::fs::create_dir_all(sub.join("eve")).unwrap();
    mkfifo(&sub.join("eve/pinned"));
    std::fs::create_dir_all(sub.join("mallory")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", sub.join("mallory/pinned")).unwrap();
    std::fs::create_dir_all(sub.join("peggy")).unwrap();
    std::fs::write(sub.join("peggy/pinned"), "/etc\n").unwrap();
    // Hidden entries.
    put(b".hidden.o", &good);
    std::fs::create_dir_all(sub.join(".git")).unwrap();
    put(b"alice/.DS_Store", &good);
    // Hostile programs: a 100,000,000-entry counter map, and a loop the verifier gives up on.
    let huge = compile(
        "struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64);\n\
         __uint(max_entries, 100000000); } stats SEC(\".maps\");\n\
         SEC(\"xdp\") int ip_filter(struct xdp_md *ctx) { return XDP_PASS; }",
        "huge",
        &build,
    );
    put(b"oscar.o", &huge);
    put(b"victor.o", &wide_stats(&build));
    let complex = compile(
        "SEC(\"xdp\") int ip_filter(struct xdp_md *ctx) {\n\
         volatile __u32 acc = 0;\n\
         for (__u32 i = 0; i < 10000000; i++) { if (acc & 1) acc += i; else acc ^= i; }\n\
         return acc ? XDP_PASS : XDP_DROP; }",
        "complex",
        &build,
    );
    put(b"trudy.o", &complex);
    sub
}

fn grade(sub: &Path, out: &Path) -> (i32, String, String, Duration) {
    let start = Instant::now();
    let o = Command::new("prlimit")
        .arg(MEMORY_LIMIT)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_xdplab"))
        .env("XDPLAB_TEST_SECRET", ENV_MARKER)
        .args(["grade", "7.1"])
        .arg(sub)
        .arg("--out")
        .arg(out)
        .args(["--timeout", "60"])
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
        start.elapsed(),
    )
}

/// summary.csv as student → (points, ungraded class, reason).
fn summary(out: &Path) -> BTreeMap<String, (f64, String, String)> {
    let mut rows = BTreeMap::new();
    let mut r = csv::Reader::from_path(out.join("summary.csv")).unwrap();
    for row in r.records() {
        let row = row.unwrap();
        rows.insert(
            row[0].to_owned(),
            (
                row[1].parse().unwrap(),
                row[3].to_owned(),
                row[4].to_owned(),
            ),
        );
    }
    rows
}

#[test]
fn a_hostile_class_is_graded_within_limits() {
    let sub = class();
    let out = tmp("out");
    let (code, stdout, stderr, took) = grade(&sub, &out);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    nothing_leaked(&out, &stdout, &stderr);
    assert!(took < Duration::from_secs(120), "grading took {took:?}");
    let rows = summary(&out);
    let long: Vec<&String> = rows
        .keys()
        .filter(|k| k.starts_with("\\xfe\\xfe"))
        .collect();
    assert_eq!(long.len(), 1, "{stdout}");
    assert_eq!(rows[long[0]].0, 30.0, "{long:?}");
    let students: Vec<&str> = rows
        .keys()
        .filter(|k| !long.contains(k))
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "alice",
        "bob",
        "d\\xfeve",
        "d\\xffve",
        "eve",
        "fifo",
        "hard",
        "hard-pin",
        "oscar",
        "peggy",
        "students",
        "summary.csv",
        "trudy",
        "victor",
    ];
    expected.extend(LINKS.iter().map(|(student, _)| *student));
    expected.sort_unstable();
    assert_eq!(students, expected, "{stdout}");
    // Good work keeps full marks, whatever its name.
    for good in ["alice", "d\\xfeve", "d\\xffve", "students", "summary.csv"] {
        assert_eq!(rows[good].0, 30.0, "{good}: {:?}", rows[good]);
        let report: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("students").join(good).join("report.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(report["student"], good, "each report is its own student's");
    }
    // The collision is one explicit error row naming both entries.
    let bob = &rows["bob"];
    assert_eq!((bob.0, bob.1.as_str()), (0.0, "bad-object"), "{bob:?}");
    assert!(
        bob.2.contains("`bob.o`") && bob.2.contains("`bob/`"),
        "{bob:?}"
    );
    // What is not an object is named for what it is, never blamed on the environment.
    let expect = [
        ("fifo", "bad-object", "is a FIFO"),
        ("eve", "bad-object", "is a FIFO"),
        ("peggy", "bad-object", "not on a bpffs"),
        // Hard links are read as the files they are, but never quoted.
        ("hard", "bad-object", "bytes that are not shown"),
        ("hard-pin", "bad-object", "more than one hard link"),
        ("oscar", "map-layout", "100000000 entries"),
    ];
    for (student, class, words) in expect {
        let (points, got, reason) = &rows[student];
        assert_eq!((*points, got.as_str()), (0.0, class), "{student}: {reason}");
        assert!(reason.contains(words), "{student}: {reason}");
    }
    let victor = std::fs::read_to_string(out.join("students/victor/report.json")).unwrap();
    assert!(
        victor.contains("map `stats` has the wrong layout: 100000 entries"),
        "{victor}"
    );
    // Every link is its student's bad-object row naming the link, never what it points at.
    for (student, link) in LINKS {
        let (points, got, reason) = &rows[*student];
        assert_eq!(
            (*points, got.as_str()),
            (0.0, "bad-object"),
            "{student}: {reason}"
        );
        assert!(
            reason.starts_with(&format!("`{link}` is a symbolic link")),
            "{student}: {reason}"
        );
    }
    // The verifier's limit fails the part's checks with its own message.
    let trudy = std::fs::read_to_string(out.join("students/trudy/report.json")).unwrap();
    let trudy: serde_json::Value = serde_json::from_str(&trudy).unwrap();
    let check = &trudy["checks"][0];
    assert_eq!(check["class"], "verifier", "{check}");
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("gave up on `ip_filter`"),
        "{check}"
    );
    // Hidden entries are listed with the reason, not dropped silently.
    let skipped = std::fs::read_to_string(out.join("skipped.csv")).unwrap();
    for entry in [".git", ".hidden.o", "alice/.DS_Store"] {
        assert!(
            skipped
                .lines()
                .any(|l| l.starts_with(&format!("{entry},hidden"))),
            "{entry} in {skipped}"
        );
    }
    // Reports next to the class never become submissions: --out inside the class is refused.
    let (code, _, stderr, _) = grade(&sub, &sub.join("results"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("lie inside one another"), "{stderr}");
    assert!(
        !sub.join("results/students").exists(),
        "nothing was graded into the class"
    );
}

/// Asserts that no secret the class links to appears in any file under `out` (read as bytes)
/// or on the grader's terminal: not the markers, nor the private files' first bytes in hex.
fn nothing_leaked(out: &Path, stdout: &str, stderr: &str) {
    let hex = |text: &str| {
        let bytes: Vec<String> = text.bytes().take(4).map(|b| format!("{b:02x}")).collect();
        bytes.join(" ")
    };
    let secrets = [
        ENV_MARKER.to_owned(),
        FILE_MARKER.to_owned(),
        SHADOW_MARKER.to_owned(),
        hex(FILE_MARKER),
        hex("root:"),
    ];
    let mut files = vec![out.to_owned()];
    let mut read = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        read += 1;
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "`{secret}` leaked into {}",
                path.display()
            );
        }
    }
    assert!(read > 10, "the reports were read ({read} files)");
    for line in stdout.lines().chain(stderr.lines()) {
        for secret in &secrets {
            assert!(!line.contains(secret.as_str()), "`{secret}` leaked: {line}");
        }
    }
}

/// A load or map failure is a run that could not happen: exit 2, not 1.
#[test]
fn a_map_failure_exits_2() {
    let build = tmp("exit");
    let wide = wide_stats(&build);
    let o = Command::new(env!("CARGO_BIN_EXE_xdplab"))
        .args([
            "run",
            "7.1",
            "--mode",
            "test-run",
            "--program",
            "ip_filter",
            "--object",
        ])
        .arg(&wide)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("at most 4096 entries"), "{stdout}");
}

/// A program at the verifier's instruction limit is named as such, without the bounds-check
/// hint or "No space left on device", and is not walked again and again (aya alone would
/// retry it ten times with growing log buffers: about 11 walks).
#[test]
fn the_instruction_limit_is_named_after_one_walk() {
    let build = tmp("limit");
    let big = compile(
        "SEC(\"xdp\") int ip_filter(struct xdp_md *ctx) {\n\
         volatile __u32 acc = 0;\n\
         for (__u32 i = 0; i < 10000000; i++) acc += i;\n\
         return acc ? XDP_PASS : XDP_DROP; }",
        "big",
        &build,
    );
    let start = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_xdplab"))
        .args(["run", "7.1", "--mode", "test-run", "--program", "ip_filter"])
        .args(["--format", "json", "--object"])
        .arg(&big)
        .output()
        .unwrap();
    let took = start.elapsed();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    let message = report["checks"][0]["message"].as_str().unwrap();
    assert!(message.contains("the instruction limit"), "{message}");
    assert!(!message.contains("No space left"), "{message}");
    assert!(!message.contains("data_end"), "{message}");
    // Measured 1.2 s idle, 3.6 s under load (two walks: aya's first attempt has no log buffer).
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

/// `bench --runs` is bounded before anything is allocated for the runs.
#[test]
fn bench_runs_are_bounded() {
    let o = Command::new(env!("CARGO_BIN_EXE_xdplab"))
        .args(["bench", "7.1", "--runs", "4294967295"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not in 1..=1000"), "{stderr}");
}
