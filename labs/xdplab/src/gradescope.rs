//! `xdplab gradescope`: a Gradescope autograder bundle (`autograder.zip`). Gradescope runs each
//! submission in a container without BPF privileges or /dev/kvm, so the bundle grades inside a
//! VM under software emulation (`grade --vm`), with the kernel package it carries.

use std::{
    fs,
    io::Write as _,
    path::{Path, PathBuf},
};

use clap::Args;
use grade::Rubric;
use kernel::{
    Error,
    input::{self, PathKind},
};

use crate::{exit::Exit, labs, vm};

#[derive(Args)]
pub(crate) struct GradescopeArgs {
    /// The lab, for example 7.1.
    lab: String,
    /// A TOML file overriding the lab's default rubric.
    #[arg(long)]
    rubric: Option<PathBuf>,
    /// The kernel series the VM boots (6.1, Debian 12's default, or 6.12).
    #[arg(long, default_value = vm::DEFAULT_SERIES, value_parser = vm::SERIES)]
    kernel: String,
    /// The kernel package (.deb) to carry, instead of downloading the cached kernel's package
    /// through apt.
    #[arg(long, value_name = "DEB")]
    kernel_deb: Option<PathBuf>,
    /// Time limit for one submission's checks inside the VM, in seconds (the boot comes on top).
    #[arg(long, default_value_t = 900)]
    timeout: u64,
    /// Where the bundle goes (autograder.zip).
    #[arg(long)]
    out: PathBuf,
}

/// Gradescope runs this once, as root, when it builds the autograder's image.
const SETUP: &str = r#"#!/usr/bin/env bash
# Written by `xdplab gradescope`. Gradescope runs it once, as root, when it builds the image:
# clang and the libbpf headers (to compile C submissions), then qemu, virtme-ng and the kernel
# for the VM that grades (`xdplab vm setup`).
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
need=()
for pkg in clang llvm libbpf-dev linux-libc-dev python3; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
chmod 755 "$src" "$src/xdplab" "$src/run_autograder"
XDG_CACHE_HOME="$src/cache" "$src/xdplab" vm setup --deb "$src/kernel.deb"
# The unpacked kernel is what the VM boots; its package is no longer needed.
rm -f "$src/kernel.deb"
chmod -R a+rX "$src/cache"
"#;

/// Gradescope runs this for each submission.
const RUN: &str = r#"#!/usr/bin/env bash
# Written by `xdplab gradescope` for lab @LAB@. Gradescope runs it for each submission, in a
# container without BPF privileges: C sources are compiled here (objects are taken as they
# are), then graded inside a VM (`xdplab grade --vm`), and the report is Gradescope's
# results.json. XDPLAB_AUTOGRADER_ROOT moves /autograder (tests).
set -euo pipefail
root=${XDPLAB_AUTOGRADER_ROOT:-/autograder}
src=$root/source
export XDG_CACHE_HOME=$src/cache
# Gradescope's containers default to 768 MB: the guest gets 1 GB, which it fills lazily.
export XDPLAB_VM_MEMORY=${XDPLAB_VM_MEMORY:-1G}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$root/results" "$work/submissions/submission"
results=$root/results/results.json

# A results.json of 0 points saying why (a submission that cannot be graded at all).
fail() {
    python3 -c 'import json, sys; json.dump({"score": 0, "output": sys.argv[1], "visibility": "visible"}, open(sys.argv[2], "w"), indent=2)' \
        "$1" "$results"
    exit 0
}

shopt -s nullglob globstar
sources=("$root"/submission/**/*.c)
objects=("$root"/submission/**/*.o)
[ ${#sources[@]} -gt 0 ] || [ ${#objects[@]} -gt 0 ] ||
    fail "No .c source or .o object found in the submission: hand in your XDP program's C source (or its compiled object)."
for c in "${sources[@]}"; do
    name=$(basename "$c" .c)
    if ! clang -O2 -g -target bpf -Wall -I"$(dirname "$c")" -I/usr/include/"$(uname -m)"-linux-gnu \
        -c "$c" -o "$work/submissions/submission/$name.o" 2>"$work/clang.txt"; then
        fail "$(printf 'Your C source %s did not compile:\n%s' "$(basename "$c")" "$(cat "$work/clang.txt")")"
    fi
done
for o in "${objects[@]}"; do
    # A source and its own object: the source wins.
    [ -e "$work/submissions/submission/$(basename "$o")" ] || cp "$o" "$work/submissions/submission/"
done

vmlinuz=("$XDG_CACHE_HOME"/xdplab/kernels/*/boot/vmlinuz-*)
[ ${#vmlinuz[@]} -eq 1 ] || fail "The autograder's VM kernel is missing (setup.sh did not finish): rebuild the autograder."
rubric=()
[ ! -f "$src/rubric.toml" ] || rubric=(--rubric "$src/rubric.toml")
status=0
"$src/xdplab" grade @LAB@ "$work/submissions" --out "$work/out" --timeout @TIMEOUT@ \
    "${rubric[@]}" --vm="${vmlinuz[0]}" || status=$?
graded=$work/out/students/submission/results.json
[ -f "$graded" ] || fail "The autograder could not grade this submission (xdplab exit status $status); the course staff can see the log."
cp "$graded" "$results"
"#;

/// `xdplab gradescope`.
pub(crate) fn gradescope(args: GradescopeArgs) -> Result<Exit, Error> {
    let lab = labs::find_or_explain(&args.lab, 0)?;
    let rubric = match &args.rubric {
        Some(path) => {
            let text = input::read_text(path, PathKind::Rubric, input::Links::Follow)?;
            // Refused here rather than on the first submission.
            Rubric::from_toml(&lab, &text)?;
            Some(text)
        }
        None => None,
    };
    let exe = std::env::current_exe().map_err(Error::during("finding the xdplab executable"))?;
    let scratch = vm::Scratch::new().map_err(Error::usage)?;
    let deb = match &args.kernel_deb {
        Some(deb) => deb.clone(),
        None => vm::download_deb(&args.kernel, &scratch.0).map_err(Error::usage)?,
    };
    let run = RUN
        .replace("@LAB@", lab.id)
        .replace("@TIMEOUT@", &args.timeout.to_string());
    let mut files: Vec<(&str, Source, u32)> = vec![
        ("setup.sh", Source::Text(SETUP.into()), 0o755),
        ("run_autograder", Source::Text(run), 0o755),
        ("xdplab", Source::File(exe), 0o755),
        ("kernel.deb", Source::File(deb), 0o644),
    ];
    if let Some(text) = rubric {
        files.push(("rubric.toml", Source::Text(text), 0o644));
    }
    write_zip(&args.out, &files)?;
    println!(
        "wrote {}: upload it as the Gradescope autograder of lab {} (setup.sh, run_autograder, \
         xdplab and Debian's {} kernel; grading runs in a VM under software emulation)",
        args.out.display(),
        lab.id,
        args.kernel
    );
    Ok(Exit::Passed)
}

enum Source {
    Text(String),
    File(PathBuf),
}

/// Writes the bundle (stored, not compressed: the kernel package is compressed already), with
/// Unix modes so that Gradescope can run the scripts.
fn write_zip(out: &Path, files: &[(&str, Source, u32)]) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::op(format!("cannot write {}", out.display()), e);
    let zipped = |e: zip::result::ZipError| Error::op(format!("cannot write {}", out.display()), e);
    let tmp = out.with_extension("zip.partial");
    let mut zip = zip::ZipWriter::new(fs::File::create(&tmp).map_err(io)?);
    for (name, source, mode) in files {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .unix_permissions(*mode)
            .large_file(matches!(source, Source::File(_)));
        zip.start_file(*name, options).map_err(zipped)?;
        match source {
            Source::Text(text) => zip.write_all(text.as_bytes()).map_err(io)?,
            Source::File(path) => {
                let mut f = fs::File::open(path)
                    .map_err(|e| Error::op(format!("cannot read {}", path.display()), e))?;
                std::io::copy(&mut f, &mut zip).map_err(io)?;
            }
        }
    }
    zip.finish().map_err(zipped)?;
    fs::rename(&tmp, out).map_err(io)?;
    Ok(())
}
