//! Compiling C XDP programs with clang, the way students do: `xdplab run LAB prog.c`, the test
//! suites and the grading corpus all build with the one command line [`command`] gives, so the
//! line the README shows and the one error messages recommend is the line that ran.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use crate::error::{Error, Result};

/// The Debian packages compiling needs: the compiler, libbpf's headers (`bpf/bpf_helpers.h`)
/// and the kernel's user-space headers (`linux/bpf.h`, `asm/types.h`).
pub const DEBIAN_PACKAGES: &str = "clang libbpf-dev linux-libc-dev";

/// The flags every build uses: optimised (the verifier refuses much unoptimised code), with
/// debug information (`-g` makes the BTF that BTF map definitions and readable verifier logs
/// need), for the BPF target.
const FLAGS: [&str; 5] = ["-O2", "-g", "-Wall", "-target", "bpf"];

/// The include directory holding `asm/types.h` on this machine, when the compiler does not
/// find it by itself: Debian keeps it under the multiarch directory
/// (`/usr/include/x86_64-linux-gnu`), which clang does not search for the BPF target.
fn multiarch_include() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            if Path::new("/usr/include/asm/types.h").exists() {
                return None;
            }
            // The host's multiarch triple, from whichever tool this machine has.
            let ask = |program: &str, args: &[&str]| {
                let out = Command::new(program).args(args).output().ok()?;
                let triple = String::from_utf8(out.stdout).ok()?.trim().to_owned();
                (out.status.success() && !triple.is_empty()).then_some(triple)
            };
            [
                ("clang", &["-print-multiarch"][..]),
                ("gcc", &["-print-multiarch"]),
                ("dpkg-architecture", &["-qDEB_HOST_MULTIARCH"]),
            ]
            .iter()
            .filter_map(|(program, args)| ask(program, args))
            .map(|triple| Path::new("/usr/include").join(triple))
            .find(|dir| dir.join("asm/types.h").exists())
        })
        .as_deref()
}

/// The arguments after `clang` that build `source` into `out`, with `-D<define>` for each
/// define.
fn args(source: &Path, out: &Path, defines: &[&str]) -> Vec<OsString> {
    let mut args: Vec<OsString> = FLAGS.iter().map(OsString::from).collect();
    if let Some(dir) = multiarch_include() {
        args.push(format!("-I{}", dir.display()).into());
    }
    args.extend(defines.iter().map(|d| OsString::from(format!("-D{d}"))));
    args.extend(["-c".into(), source.into(), "-o".into(), out.into()]);
    args
}

/// The command line that builds `source` into `out` on this machine, as a shell would take
/// it: what `xdplab run LAB prog.c` runs, for README's and error messages.
pub fn command(source: &Path, out: &Path) -> String {
    let quote = |a: &OsString| {
        let a = a.to_string_lossy();
        if a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=+,:".contains(c))
        {
            a.into_owned()
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    let mut line = String::from("clang");
    for a in args(source, out, &[]) {
        line.push(' ');
        line.push_str(&quote(&a));
    }
    line
}

/// The object a source file builds into by default: `prog.c` gives `prog.o` beside it.
pub fn default_object(source: &Path) -> PathBuf {
    source.with_extension("o")
}

/// Whether `path` names a C source file (by its extension), which the loaders compile first.
pub fn is_c_source(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "c")
}

/// Builds `source` into `out` with [`command`]'s line plus `-D<define>` for each define. A
/// program clang refuses is [`Error::Compile`] with its diagnostics; a machine without clang is
/// a usage error naming the packages to install.
pub fn build(source: &Path, out: &Path, defines: &[&str]) -> Result<()> {
    let output = Command::new("clang")
        .args(args(source, out, defines))
        .output()
        .map_err(|e| {
            Error::usage(format!(
                "cannot run clang ({e}): compiling a C program needs clang and the BPF headers. \
                 Install them with `apt-get install {DEBIAN_PACKAGES}` (`scripts/bootstrap.sh \
                 --c` does it), or pass a compiled object."
            ))
        })?;
    if output.status.success() {
        return Ok(());
    }
    let diagnostics = String::from_utf8_lossy(&output.stderr)
        .trim_end()
        .to_owned();
    Err(Error::Compile {
        source_path: source.to_owned(),
        command: command(source, out),
        hint: compile_hint(&diagnostics),
        diagnostics,
    })
}

/// The fix for a missing header, the compile error every new machine shows first.
fn compile_hint(diagnostics: &str) -> Option<&'static str> {
    let missing = |header: &str| diagnostics.contains(&format!("'{header}' file not found"));
    if missing("bpf/bpf_helpers.h") || missing("bpf/bpf_endian.h") {
        Some("libbpf's headers are missing: `apt-get install libbpf-dev`.")
    } else if missing("asm/types.h") || missing("linux/bpf.h") {
        Some("the kernel's headers are missing: `apt-get install linux-libc-dev`.")
    } else {
        None
    }
}

/// Compiles `source` into `out_dir`, adding `-D<define>` for each define, and returns the
/// object's path; the object is named after the source and defines. The test suites and the
/// grading corpus build their programs with it, concurrently.
pub fn compile(source: &Path, defines: &[&str], out_dir: &Path) -> Result<PathBuf> {
    let stem = source
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("prog");
    let mut name = stem.to_owned();
    for d in defines {
        name.push('-');
        // A define may carry a string (`XDP_SECTION="xdp/devmap"`): keep the name one file name.
        name.extend(d.to_lowercase().chars().map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '=' {
                c
            } else {
                '_'
            }
        }));
    }
    let out = out_dir.join(format!("{name}.o"));
    // Tests build the same program side by side: each writes its own file and renames it into
    // place, so a reader never sees the object missing or half written (ccache, for one,
    // removes the output before it copies its cached object there).
    let tmp = out_dir.join(format!(
        "{name}.o.{}-{:?}.tmp",
        std::process::id(),
        std::thread::current().id()
    ));
    build(source, &tmp, defines)?;
    std::fs::rename(&tmp, &out).map_err(|e| Error::op(format!("moving {}", tmp.display()), e))?;
    Ok(out)
}

/// Compiles a user's source file into a private scratch folder and returns the object's bytes;
/// the folder is removed again.
pub(crate) fn compile_to_bytes(source: &Path) -> Result<Vec<u8>> {
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("xdplab-build-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(Error::during("creating a build folder"))?;
    let out = dir.join(default_object(Path::new(
        source.file_name().unwrap_or_default(),
    )));
    let built = build(source, &out, &[]).and_then(|()| {
        std::fs::read(&out).map_err(|e| Error::op(format!("reading {}", out.display()), e))
    });
    let _ = std::fs::remove_dir_all(&dir);
    built
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's line works here: the multiarch directory is found, not assumed, and the
    /// line builds a program that includes `linux/bpf.h` (which needs `asm/types.h`).
    #[test]
    fn the_command_line_builds_a_program_with_the_kernel_headers() {
        let dir = std::env::temp_dir().join(format!("xdplab-clang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("ok.c");
        std::fs::write(
            &src,
            "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
             SEC(\"xdp\") int ok(struct xdp_md *ctx) { return XDP_PASS; }\n\
             char LICENSE[] SEC(\"license\") = \"GPL\";\n",
        )
        .unwrap();
        let line = command(&src, &dir.join("ok.o"));
        assert!(
            line.starts_with("clang -O2 -g -Wall -target bpf "),
            "{line}"
        );
        if !Path::new("/usr/include/asm/types.h").exists() {
            assert!(line.contains("-I/usr/include/"), "{line}");
        }
        let status = Command::new("sh").arg("-c").arg(&line).status().unwrap();
        assert!(status.success(), "{line}");
        assert!(dir.join("ok.o").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_compile_error_is_its_own_class_with_the_diagnostics() {
        let dir = std::env::temp_dir().join(format!("xdplab-clang-err-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("bad.c");
        std::fs::write(&src, "int f(void) { return undeclared; }\n").unwrap();
        let e = build(&src, &dir.join("bad.o"), &[]).unwrap_err();
        assert_eq!(e.class(), crate::FailureClass::Compile);
        let text = e.to_string();
        assert!(text.contains("does not compile"), "{text}");
        assert!(
            text.contains("use of undeclared identifier 'undeclared'"),
            "{text}"
        );
        assert!(text.contains("clang -O2 -g"), "{text}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_header_names_its_package() {
        let hint = compile_hint("x.c:2:10: fatal error: 'bpf/bpf_helpers.h' file not found");
        assert!(hint.unwrap().contains("libbpf-dev"));
        let hint = compile_hint("types.h:5:10: fatal error: 'asm/types.h' file not found");
        assert!(hint.unwrap().contains("linux-libc-dev"));
        assert_eq!(compile_hint("x.c:1:1: error: expected ';'"), None);
    }
}
