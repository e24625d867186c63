//! What the class-level tests share: scratch folders, a small lab 7.1 class, running the CLI,
//! and a headless Chromium to open the pages.
#![allow(dead_code)] // each test file uses its own share of these

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// Lab 7.1's correct C program; `-D BUG_...` defines turn it into the wrong ones.
pub(crate) const FILTER_C: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../lab-7-1/tests/programs/filter.c"
);

/// An empty scratch folder under the target directory, unique to this test process.
pub(crate) fn fresh_dir(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("class-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every file under `dir` (hidden ones too), by relative path, with its bytes, sorted; but the
/// students' `timings.json`, which hold what one run measured and so differ between runs.
pub(crate) fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else if e.file_name() != grade::graded::TIMINGS_FILE {
                let rel = e.path().strip_prefix(dir).unwrap().to_owned();
                out.push((rel, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// A lab 7.1 class of eight: correct C, two with the rule-order bug, one that filters only TCP,
/// the reference solution, another correct one, `gus`, who handed in an uncompiled file, and
/// `hal`, whose port_filter the verifier rejects.
pub(crate) fn class(name: &str) -> PathBuf {
    let build = fresh_dir(&format!("{name}-build"));
    let subs = fresh_dir(&format!("{name}-subs"));
    let c =
        |defines: &[&str]| kernel::clang::compile(Path::new(FILTER_C), defines, &build).unwrap();
    for (student, object) in [
        ("amy", c(&[])),
        ("ben", c(&["BUG_RULE_ORDER"])),
        ("cho", c(&["BUG_TCP_ONLY"])),
        ("dan", PathBuf::from(reference::LAB_7_1_PATH)),
        ("eve", c(&["BUG_RULE_ORDER"])),
        ("fay", c(&[])),
        ("hal", c(&["BUG_NO_BOUNDS_CHECK"])),
    ] {
        std::fs::create_dir_all(subs.join(student)).unwrap();
        std::fs::copy(object, subs.join(student).join("lab-7-1.o")).unwrap();
    }
    std::fs::write(subs.join("gus.o"), "not compiled\n").unwrap();
    subs
}

/// Runs `xdplab` with `args` and returns its exit code (-1 when a signal ended it), standard
/// output and standard error.
pub(crate) fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (i32, String, String) {
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

/// Runs `xdplab` with `args`, requires success, and returns its standard output.
pub(crate) fn xdplab(args: &[&str]) -> String {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 0, "xdplab {args:?}: {stderr}");
    stdout
}

/// Headless Chromium (Debian's, installed by `scripts/bootstrap.sh --test`) with everything that
/// could reach the network or keep state switched off.
pub(crate) fn chromium() -> Command {
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!(
        "--user-data-dir={}",
        fresh_dir("chromium-profile").display()
    ));
    cmd
}

/// The page's DOM after Chromium has parsed and laid it out.
pub(crate) fn dump_dom(page: &Path) -> String {
    let out = chromium()
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs; scripts/bootstrap.sh installs it (apt-get install chromium)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Writes a screenshot of `page` to `png`, `width` × `height` pixels.
pub(crate) fn screenshot(page: &Path, png: &Path, (width, height): (u32, u32)) {
    let status = chromium()
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("file://{}", page.display()))
        .status()
        .unwrap();
    assert!(status.success());
}

/// The element `<section ... id="ID">` of a dumped DOM, up to its end.
pub(crate) fn section<'a>(dom: &'a str, id: &str) -> &'a str {
    let at = dom
        .find(&format!(" id=\"{id}\">"))
        .unwrap_or_else(|| panic!("section {id} in\n{dom}"));
    let start = dom[..at].rfind("<section").expect("a section");
    let end = dom[start..].find("</section>").unwrap() + start;
    &dom[start..end]
}

/// `xdplab grade LAB SUBS --out OUT` with `extra` arguments, which must succeed; its stdout.
pub(crate) fn grade(lab: &str, subs: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "grade",
        lab,
        subs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    xdplab(&args)
}

/// Serialises `env up`/`env down` between test processes (the namespaces have fixed names).
pub(crate) fn env_lock() -> std::fs::File {
    use std::os::fd::AsRawFd;
    let file =
        std::fs::File::create(Path::new(env!("CARGO_TARGET_TMPDIR")).join("env.lock")).unwrap();
    // SAFETY: flock on a descriptor this function owns.
    assert_eq!(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) }, 0);
    file
}
