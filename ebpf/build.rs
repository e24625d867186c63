//! Compiles `ebpf/programs` for bpfel-unknown-none with aya-build and leaves one object per
//! `[[bin]]` of that crate in OUT_DIR (named after the bin, e.g. `OUT_DIR/lab-7-1`).
//!
//! The pinned toolchain is stable, so the eBPF build uses `RUSTC_BOOTSTRAP=1` for
//! `-Z build-std=core`. aya-build adds `-C debuginfo=2 -C link-arg=--btf`, so the objects carry
//! BTF and BTF-defined maps that libbpf and bpftool can read.
//!
//! It also writes `OUT_DIR/objects.rs`, the one table of objects (see src/lib.rs): a function
//! and a path constant per bin, and [`OBJECTS`] listing them all by name.
//!
//! `AYA_BUILD_SKIP=1` skips the eBPF build (for clippy or rust-analyzer on machines without
//! bpf-linker); the objects are then empty files.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let programs = manifest_dir.join("programs");
    let toolchain_file = manifest_dir.join("../rust-toolchain.toml");
    println!("cargo::rerun-if-changed={}", programs.display());
    println!("cargo::rerun-if-env-changed=RUSTUP_TOOLCHAIN");
    println!("cargo::rerun-if-changed={}", toolchain_file.display());

    write_table(&out_dir, &bin_names(&programs));
    if skipped() {
        println!("cargo::warning=AYA_BUILD_SKIP is set: the reference eBPF objects are empty");
        for name in bin_names(&programs) {
            fs::write(out_dir.join(name), []).expect("write an empty placeholder object");
        }
        return;
    }

    let toolchain = toolchain(&toolchain_file);
    check_prerequisites(&toolchain);

    // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
    // aya-build reads RUSTC_BOOTSTRAP to decide on `-Z build-std=core`, and the eBPF cargo it
    // spawns inherits both variables. Quiet keeps that cargo's "Compiling ..." lines out of the
    // warnings aya-build relays; compiler diagnostics still come through.
    unsafe {
        env::set_var("RUSTC_BOOTSTRAP", "1");
        env::set_var("CARGO_TERM_QUIET", "true");
    }
    let package = aya_build::Package {
        name: "xdplab-programs",
        root_dir: programs.to_str().expect("UTF-8 path to ebpf/programs"),
        ..Default::default()
    };
    if let Err(err) = aya_build::build_ebpf([package], aya_build::Toolchain::Custom(&toolchain)) {
        fail(&format!(
            "building the eBPF programs in {} failed: {err:#}. The compiler output is in the \
             warnings above.",
            programs.display()
        ));
    }
    for name in bin_names(&programs) {
        if !out_dir.join(&name).is_file() {
            fail(&format!(
                "the eBPF build produced no object for the bin `{name}`"
            ));
        }
    }
}

fn skipped() -> bool {
    println!("cargo::rerun-if-env-changed=AYA_BUILD_SKIP");
    env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// The toolchain cargo runs under (rustup exports RUSTUP_TOOLCHAIN to what it starts), else the
/// channel pinned in rust-toolchain.toml.
fn toolchain(toolchain_file: &Path) -> String {
    if let Ok(toolchain) = env::var("RUSTUP_TOOLCHAIN")
        && !toolchain.is_empty()
    {
        return toolchain;
    }
    let text = fs::read_to_string(toolchain_file).unwrap_or_default();
    let channel = text.lines().find_map(|line| {
        let value = line
            .trim()
            .strip_prefix("channel")?
            .trim_start()
            .strip_prefix('=')?;
        Some(value.trim().trim_matches('"').to_owned())
    });
    channel.unwrap_or_else(|| {
        fail(&format!(
            "RUSTUP_TOOLCHAIN is not set and {} has no channel, so the toolchain for the eBPF \
             build is unknown. Build through rustup's cargo, or run scripts/bootstrap.sh.",
            toolchain_file.display()
        ))
    })
}

/// Fails early, with one clear message, when bpf-linker or rust-src is missing or broken.
fn check_prerequisites(toolchain: &str) {
    const FIX: &str = "Run scripts/bootstrap.sh from the repository root: it installs the pinned \
                       toolchain with rust-src and builds bpf-linker against that toolchain's \
                       LLVM (about a minute), then build again. Set AYA_BUILD_SKIP=1 to build \
                       without the eBPF objects (they are then empty).";
    println!("cargo::rerun-if-env-changed=PATH");
    let linker = Command::new("bpf-linker").arg("--version").output();
    if !linker.as_ref().is_ok_and(|out| out.status.success()) {
        let why = match linker {
            Err(err) => format!("`bpf-linker` could not be run ({err})"),
            Ok(out) => format!(
                "`bpf-linker --version` failed ({}{}), usually because the toolchain whose \
                 libLLVM it was built against is gone",
                out.status,
                match String::from_utf8_lossy(&out.stderr).trim() {
                    "" => String::new(),
                    stderr => format!(": {stderr}"),
                }
            ),
        };
        fail(&format!(
            "The eBPF programs need bpf-linker, but {why}. {FIX}"
        ));
    }
    let sysroot = Command::new("rustup")
        .args(["run", toolchain, "rustc", "--print", "sysroot"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if let Some(sysroot) = sysroot
        && !sysroot.join("lib/rustlib/src/rust/library/core").is_dir()
    {
        fail(&format!(
            "The eBPF programs are built with -Z build-std=core, which needs the rust-src \
             component of toolchain {toolchain}, and it is not installed. {FIX}"
        ));
    }
}

/// The `[[bin]]` names of ebpf/programs: one per `src/bin/<name>.rs`.
fn bin_names(programs: &Path) -> Vec<String> {
    let dir = programs.join("src/bin");
    let entries = fs::read_dir(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    let mut names: Vec<String> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

/// Writes `OUT_DIR/objects.rs`: for bin `lab-7-1`, `fn lab_7_1()` and `LAB_7_1_PATH` through the
/// `objects!` macro of src/lib.rs, and the `OBJECTS` table of every object by name.
fn write_table(out_dir: &Path, names: &[String]) {
    let mut code = String::from("objects! {\n");
    for name in names {
        let ident = name.replace('-', "_");
        let doc = if name == "harness-pass" {
            "The harness's XDP_PASS program `xdplab_pass`, attached to the peers of the interface \
             under test so that TX and REDIRECT frames are delivered in native mode, and the XDP_DROP \
             program `xdplab_drop`, the floor `xdplab bench` measures against, and \
             `xdplab_syncookie_check`, which tells whether the kernel accepts a SYN-ACK's cookie."
                .to_owned()
        } else {
            format!(
                "The object built from `ebpf/programs/src/bin/{name}.rs`: the reference solution \
                 of the lab whose crate is `labs/{name}`. Empty when built with `AYA_BUILD_SKIP=1`."
            )
        };
        code.push_str(&format!(
            "    /// {doc}\n    \"{name}\" => fn {ident}, const {}_PATH;\n",
            ident.to_uppercase()
        ));
    }
    code.push_str("}\n\n/// Every object, by name (its `src/bin/<name>.rs` in ebpf/programs).\n");
    code.push_str("pub const OBJECTS: &[(&str, ObjectFn)] = &[\n");
    for name in names {
        code.push_str(&format!("    (\"{name}\", {}),\n", name.replace('-', "_")));
    }
    code.push_str("];\n");
    fs::write(out_dir.join("objects.rs"), code).expect("write OUT_DIR/objects.rs");
}

fn fail(message: &str) -> ! {
    println!("cargo::error={message}");
    std::process::exit(1);
}
