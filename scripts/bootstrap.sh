#!/usr/bin/env bash
# One idempotent set-up step for xdplab, used by the README, the justfile and .ci/run.
#
#   scripts/bootstrap.sh          what running a lab needs: the pinned Rust toolchain (with
#                                 rust-src), bpf-linker built against that toolchain's own LLVM,
#                                 cargo-nextest and just
#   scripts/bootstrap.sh --c      also what compiling C programs needs (`xdplab run LAB prog.c`):
#                                 clang, libbpf-dev and linux-libc-dev
#   scripts/bootstrap.sh --test   also what the test suite needs: --c's packages (it compiles C
#                                 XDP programs, as students do), bpftool and chromium (the
#                                 class page's browser test); `just test` asks for it
#
# Takes a few seconds when everything is already present.
set -euo pipefail

case "${1:-}" in
    "" | --c | --test) ;;
    *) printf 'usage: %s [--c | --test]\n' "$0" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
say() { printf 'bootstrap: %s\n' "$*" >&2; }

# 1. The pinned toolchain. RUSTUP_AUTO_INSTALL=0 on these machines, so install it explicitly.
toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1 ||
   [ ! -d "$(rustup run "$toolchain" rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
    say "installing Rust $toolchain with rust-src"
    rustup toolchain install "$toolchain" --profile minimal \
        --component rust-src --component rustfmt --component clippy
fi
# rustfmt and clippy are listed in rust-toolchain.toml too; add them if an older set-up lacks them.
installed=$(rustup component list --installed --toolchain "$toolchain" 2>/dev/null)
for c in rustfmt clippy; do
    grep -q "^$c" <<<"$installed" || rustup component add --toolchain "$toolchain" "$c"
done
sysroot=$(rustup run "$toolchain" rustc --print sysroot)
llvm_major=$(rustup run "$toolchain" rustc --version --verbose | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')

# 2. bpf-linker must use the same LLVM as rustc. Debian has no LLVM that new, so link it against
#    the libLLVM that rustup ships inside the toolchain (details: shared/field-notes.md).
libllvm=$(cd "$sysroot/lib" && ls libLLVM.so.* | head -n1)
if ! bpf-linker --version >/dev/null 2>&1 ||
   ! ldd "$(command -v bpf-linker)" | grep -q "$libllvm => /"; then
    say "building bpf-linker against $libllvm (about a minute)"
    prefix="${CARGO_HOME:-$HOME/.cargo}/xdplab-llvm/$toolchain"
    mkdir -p "$prefix/lib"
    ln -sf "$sysroot/lib/$libllvm" "$prefix/lib/libLLVM.so"
    ln -sf "$sysroot/lib/$libllvm" "$prefix/lib/$libllvm"
    LLVM_PREFIX="$prefix" cargo +"$toolchain" install bpf-linker@0.13.0 --locked --force \
        --no-default-features --features "llvm-$llvm_major"
fi

# 3. Test runner and task runner.
if ! cargo nextest --version >/dev/null 2>&1; then
    say "installing cargo-nextest"
    cargo +"$toolchain" install cargo-nextest --locked
fi
if ! just --version >/dev/null 2>&1; then
    # PyPI ships just prebuilt (`rust-just`): two seconds instead of a two-minute cargo build.
    # --target keeps it out of the system's Python (Debian's refuses plain installs, PEP 668);
    # its binary is linked next to cargo's, which are on PATH.
    say "installing just (PyPI rust-just)"
    target="${CARGO_HOME:-$HOME/.cargo}/xdplab-just"
    if python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
        --upgrade --target "$target" rust-just && [ -x "$target/bin/just" ]; then
        mkdir -p "${CARGO_HOME:-$HOME/.cargo}/bin"
        ln -sf "$target/bin/just" "${CARGO_HOME:-$HOME/.cargo}/bin/just"
        hash -r
    else
        say "pip could not install rust-just; building just with cargo (two minutes)"
    fi
    just --version >/dev/null 2>&1 || cargo +"$toolchain" install just --locked
fi

# 4. For compiling C (and the test suite): clang, libbpf's headers and the kernel's headers,
#    which `xdplab run LAB prog.c` compiles with (README "Writing your program").
if [ -n "${1:-}" ] && { ! command -v clang >/dev/null 2>&1 ||
    [ ! -f /usr/include/bpf/bpf_helpers.h ] || [ ! -f /usr/include/linux/bpf.h ]; }; then
    say "installing clang, libbpf-dev and linux-libc-dev (to compile C XDP programs)"
    if [ "$(id -u)" -ne 0 ]; then
        say "need root to apt-get install clang libbpf-dev linux-libc-dev; rerun as root"
        exit 2
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libbpf-dev linux-libc-dev \
        >/dev/null
fi

# 5. For the test suite only: clang and libbpf headers (it builds C XDP programs, as students
#    do), bpftool (the rerun tests load the references with it, as students do) and chromium
#    (the class page's test opens it in a headless browser), tcpdump, ping and curl (what
#    `xdplab env up` and the READMEs suggest for watching traffic; its test runs the first two).
if [ "${1:-}" = --test ] && { ! command -v clang >/dev/null 2>&1 ||
    [ ! -f /usr/include/bpf/bpf_helpers.h ] || ! command -v chromium >/dev/null 2>&1 ||
    ! command -v bpftool >/dev/null 2>&1 || ! command -v tcpdump >/dev/null 2>&1 ||
    ! command -v ping >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; }; then
    say "installing clang, libbpf-dev, bpftool, chromium, tcpdump, ping and curl (for the test suite)"
    if [ "$(id -u)" -ne 0 ]; then
        say "need root to apt-get install clang libbpf-dev bpftool chromium tcpdump iputils-ping curl; rerun as root"
        exit 2
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libbpf-dev bpftool chromium \
        tcpdump iputils-ping curl >/dev/null
fi

say "ready (Rust $toolchain, $(bpf-linker --version), $(just --version)$([ -z "${1:-}" ] || printf ', %s' "$(clang --version | head -n1)"))"
