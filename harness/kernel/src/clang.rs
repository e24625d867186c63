//! Compiling C XDP programs with clang, the way students do; used by the test suites and the
//! grading corpus to build correct and deliberately wrong programs from source.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use crate::error::{Error, Result};

/// Compiles `source` with `clang -O2 -g -target bpf`, adding `-D<define>` for each define, into
/// `out_dir`, and returns the object's path. The object is named after the source and defines.
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
    let mut cmd = Command::new("clang");
    cmd.args(["-O2", "-g", "-target", "bpf", "-Wall"]);
    // Debian keeps asm/types.h under the multiarch directory.
    cmd.arg("-I/usr/include/x86_64-linux-gnu");
    for d in defines {
        cmd.arg(format!("-D{d}"));
    }
    cmd.arg("-c").arg(source).arg("-o").arg(&tmp);
    let output = cmd.output().map_err(|e| {
        Error::op(
            "cannot run clang (run scripts/bootstrap.sh to install it)",
            e,
        )
    })?;
    if !output.status.success() {
        return Err(Error::env(format!(
            "clang failed on {}:\n{}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    std::fs::rename(&tmp, &out).map_err(|e| Error::op(format!("moving {}", tmp.display()), e))?;
    Ok(out)
}
