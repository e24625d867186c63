# xdplab tasks. Every recipe first runs the idempotent set-up (seconds when all is present).
set shell := ["bash", "-euo", "pipefail", "-c"]

xdplab := "target/release/xdplab"

# List the recipes.
default:
    @just --list

# Install the toolchain, bpf-linker, cargo-nextest and just if missing.
setup:
    @scripts/bootstrap.sh

# setup, plus what the test suite needs: clang, the libbpf headers, bpftool and chromium.
setup-test:
    @scripts/bootstrap.sh --test

# Build the CLI (and, through ebpf/build.rs, the reference XDP programs).
build: setup
    @cargo build --release --bin xdplab

# Run any lab (just lab 7.2 [OBJ] [ARGS]) against the reference solution or OBJ, as `xdplab run`;
# without OBJ, flags go straight to it (just lab 7.2 --mode test-run).
[positional-arguments]
lab LAB *ARGS: build
    @shift; scripts/lab.sh "{{LAB}}" "{{invocation_directory()}}" "$@"

# Run lab 7.1 against the reference solution, or against OBJ; extra ARGS go to `xdplab run`.
[positional-arguments]
lab-7-1 *ARGS: build
    @scripts/lab.sh 7.1 "{{invocation_directory()}}" "$@"

# Run lab 7.2 against the reference solution, or against OBJ.
[positional-arguments]
lab-7-2 *ARGS: build
    @scripts/lab.sh 7.2 "{{invocation_directory()}}" "$@"

# Run lab 7.3 against the reference solution, or against OBJ.
[positional-arguments]
lab-7-3 *ARGS: build
    @scripts/lab.sh 7.3 "{{invocation_directory()}}" "$@"

# Grade a folder of submissions: just grade 7.1 submissions/ results/
grade LAB DIR OUT *ARGS: build
    {{xdplab}} grade {{LAB}} {{join(invocation_directory(), DIR)}} --out {{join(invocation_directory(), OUT)}} {{ARGS}}

# Write a screenshot of a graded class's page (the browser test's class) to PNG.
class-page-screenshot PNG="docs/class-page.png": setup-test
    XDPLAB_SCREENSHOT={{join(invocation_directory(), PNG)}} cargo nextest run -p xdplab --test class_page

# Screenshots of two students' report.html (a failing behaviour check with its hint, a
# verifier failure) into DIR: student-report-behaviour.png and student-report-verifier.png.
student-page-screenshots DIR="docs": setup-test
    XDPLAB_SCREENSHOTS={{join(invocation_directory(), DIR)}} cargo nextest run -p xdplab --test student_page

# Run the whole test suite (as root).
test: setup-test
    cargo nextest run --workspace --exclude xdplab-programs
    cargo nextest run -p xdplab-programs --lib

# Formatting, clippy and rustdoc, warnings denied (CI runs it; the eBPF crate builds for BPF only).
lint: setup
    cargo fmt --all --check
    cargo clippy --workspace --exclude xdplab-programs --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --exclude xdplab-programs --no-deps

# Fails on a survivor not in the lab's register of equivalent mutants (labs/lab-7-N/mutants.toml)
# or on an entry no survivor matches. ARGS go to each `xdplab mutants` (--jobs 8, --sample 40).
# Mutation testing of every lab's C solution against its register (as root).
mutants *ARGS: setup-test
    #!/usr/bin/env bash
    set -uo pipefail
    # The debug build the test suite already made: the time goes to the checks, not the CLI.
    cargo build --bin xdplab
    failed=0
    # Every registered lab: its id, C solution and register, from the CLI's list.
    while read -r id source register; do
        target/debug/xdplab mutants "$id" --source "$source" --register "$register" {{ARGS}} \
            </dev/null || failed=1
    done < <(target/debug/xdplab list --format json | python3 -c 'import json, sys; [print(
        l["id"], l["c_solution"], l["mutants_register"]) for l in json.load(sys.stdin)]')
    exit $failed

# The differential measurements: each lab's correct C program against the reference on 100,000
# frames per part, and how many wrong C programs the differential check catches alone.
differential-long: setup-test
    cargo nextest run --profile long -p xdplab-lab-7-1 -p xdplab-lab-7-2 -p xdplab-lab-7-3 \
        --run-ignored only -E 'test(/100000/) | test(existing_mutants_caught)' \
        --success-output immediate

# Remove namespaces and pins left behind by killed runs.
clean: build
    {{xdplab}} clean

# Check root, kernel support and leftovers.
doctor: build
    {{xdplab}} doctor

# The Gradescope bundle for real (as root): for each LAB (all if none given), run_autograder
# grades the lab's C solution as `nobody` with no capabilities, in a VM under emulation, and the
# score must equal the host's. Times measured are printed.
test-vm *LABS: build setup-test
    scripts/test-vm.sh {{LABS}}

# Debian's kernels (6.1, 6.12; both if none given) in VMs and the host kernel: every lab, mode
# and wrong C program; a table. `--vm-only` first leaves out the host run.
test-kernel *ARGS: setup-test
    scripts/test-kernel.sh {{ARGS}}
