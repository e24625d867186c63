#!/usr/bin/env bash
# The kernel matrix: `just test-kernel [--vm-only] SERIES...` (SERIES: 6.1 and/or 6.12, Debian
# 12's kernels; both when none is given).
#
# Builds on the host once, then runs the same set on the host kernel and inside Debian's kernel
# of each series booted in a VM (scripts/kernel-vm.sh), the VMs at the same time. The set is
# every lab in every mode against the reference solution (`xdplab run LAB --mode M --format
# json`) plus the labs' `c_programs` tests: C programs with one deliberate mistake each, every
# test asserting that exactly the right checks flag its program. Results land in
# target/kernel-matrix/host and target/kernel-matrix/SERIES/vm (the VM writes through a shared
# directory) and the host prints the table kernel x lab x mode.
# --vm-only leaves out the host run: CI uses it right after `just test`, which has run the same
# tests on the host kernel. --share splits the wrong-program tests between the VMs (below);
# --reference-only runs none of them in the VMs.
# --list prints what would run (the labs, as `xdplab list --format json` gives them) and exits.
# Exit status 1 when any reference check failed or was not verified, or any wrong-program test
# failed, on any kernel; 2 when the matrix could not run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf 'test-kernel: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

modes=(native generic test-run)
filter='binary(c_programs)'

# The labs, read from the CLI's one list (`xdplab list --format json`; $XDPLAB, else the
# release build): `labs` their ids, `packages` the cargo arguments naming their crates, whose
# c_programs tests hold the wrong programs.
read_labs() {
    local xdplab=${XDPLAB:-$root/target/release/xdplab} json
    json=$("$xdplab" list --format json) || die "\`$xdplab list --format json\` failed"
    mapfile -t labs < <(python3 -c 'import json, sys
for lab in json.load(sys.stdin):
    print(lab["id"])' <<<"$json")
    mapfile -t packages < <(python3 -c 'import json, sys
for lab in json.load(sys.stdin):
    print("-p"); print(lab["package"])' <<<"$json")
    [ ${#labs[@]} -gt 0 ] || die "xdplab lists no lab"
}

# --share: the two VMs split the wrong-program tests by lab (6.1 takes labs 7.1 and 7.3, 6.12
# lab 7.2, the slowest), each still runs every lab's reference in every mode. Under software
# emulation the whole set takes each VM 10-25 minutes; CI runs it shared to stay near half an
# hour, and the host kernel runs every one of them in `just test`. A lab not named here goes
# to 6.1, so none is left out.
share_labs() {
    declare -gA share_of=([6.1]="7.1 7.3" [6.12]="7.2")
    local lab
    for lab in "${labs[@]}"; do
        case " ${share_of[6.1]} ${share_of[6.12]} " in
            *" $lab "*) ;;
            *) share_of[6.1]+=" $lab" ;;
        esac
    done
}
# In the VMs, less the tests whose subject is a race between two CPUs (a counter updated without
# an atomic add): a lost update needs both vCPUs executing the program at the same instant,
# which software emulation on a shared host gives too rarely to catch it every time (seen: one
# lab 7.1 part of three caught). The kernel has no part in it; the host run and `just test`
# keep them.
vm_filter="$filter and not test(/nonatomic/)"

# Runs the set on the running kernel, one file per result in OUT. Each step is bounded, so a
# hang shows up as a failed step rather than a lost VM. META holds the build's nextest metadata,
# CCACHE the compiler cache of the C programs, TESTS the nextest filter of the wrong-program
# tests; THREADS, if given, how many run at once (else nextest's configured number); further
# arguments go to nextest.
# Runs every lab in every mode against the reference solution on the running kernel, a file
# per result in OUT.
run_refs() {
    local out=$1 lab mode t0 rc
    mkdir -p "$out"
    uname -r >"$out/kernel"
    for lab in "${labs[@]}"; do
        for mode in "${modes[@]}"; do
            t0=$(date +%s)
            rc=0
            timeout 600 target/release/xdplab run "$lab" --mode "$mode" --format json \
                >"$out/ref-$lab-$mode.json" 2>"$out/ref-$lab-$mode.err" || rc=$?
            echo "$rc" >"$out/ref-$lab-$mode.rc"
            echo $(($(date +%s) - t0)) >"$out/ref-$lab-$mode.secs"
        done
    done
}

run_set() {
    local out=$1 meta=$2 cache=$3 tests=$4 threads=()
    [ -z "${5:-}" ] || threads=(--test-threads "$5")
    threads+=("${@:6}")
    run_refs "$out"
    local t0 rc
    t0=$(date +%s)
    rc=0
    CCACHE_DIR="$cache" ccache --zero-stats >/dev/null
    # The tests compile their C programs with clang, which takes 7 s a file under emulation.
    # ccache hands back the object that clang made for the same input on the host run, so the
    # guest spends its time on the kernel, not on the compiler. ccache hashes the locale
    # variables, which differ between host and guest: they are fixed here.
    # Reusing the host's build means no cargo here; libtest-json gives one event per test.
    PATH="/usr/lib/ccache:$PATH" CCACHE_DIR="$cache" NEXTEST_EXPERIMENTAL_LIBTEST_JSON=1 \
        LANG=C LC_ALL=C LC_CTYPE=C LC_MESSAGES=C \
        timeout 2400 cargo-nextest nextest run \
        --binaries-metadata "$meta/binaries-metadata.json" \
        --cargo-metadata "$meta/cargo-metadata.json" \
        -E "$tests" --message-format libtest-json --no-fail-fast "${threads[@]}" \
        >"$out/wrong-programs.jsonl" 2>"$out/wrong-programs.err" || rc=$?
    echo "$rc" >"$out/wrong-programs.rc"
    echo $(($(date +%s) - t0)) >"$out/wrong-programs.secs"
    CCACHE_DIR="$cache" ccache --print-stats >"$out/ccache-stats" 2>&1 || true
}

# Prints the table for the result directories given, and exits 1 if anything failed.
report() {
    python3 - "${labs[*]}" "${modes[*]}" "$@" <<'EOF'
import json, os, sys
labs, modes, dirs = sys.argv[1].split(), sys.argv[2].split(), sys.argv[3:]
unverified = []
bad = []

def read(d, name, default=""):
    try:
        with open(os.path.join(d, name)) as f:
            return f.read().strip()
    except OSError:
        return default

print(f"\nreference solution: checks per kernel, lab and mode (secs: wall time of the run)")
print(f"{'kernel':<26} {'lab':<4} {'mode':<9} {'passed':>6} {'failed':>6} {'env':>4} {'unverif':>7} {'not-run':>7} {'info':>4} {'secs':>5}")
for d in dirs:
    kernel = read(d, "kernel", os.path.basename(d) + " (did not report)")
    for lab in labs:
        for mode in modes:
            stem = f"ref-{lab}-{mode}"
            secs = read(d, stem + ".secs", "?")
            try:
                checks = json.loads(read(d, stem + ".json"))["checks"]
            except (ValueError, KeyError):
                lines = read(d, stem + ".err").splitlines()
                why = lines[-1] if lines else f"exit status {read(d, stem + '.rc', '?')}"
                print(f"{kernel:<26} {lab:<4} {mode:<9} did not run: {why}")
                bad.append(f"{kernel} {lab} {mode}: the run did not happen: {why}")
                continue
            n = dict.fromkeys(["passed", "failed", "env", "unverified", "not-run", "info"], 0)
            for c in checks:
                status, cls = c.get("status"), c.get("class")
                if status == "pass":
                    n["passed"] += 1
                elif status == "info":
                    n["info"] += 1
                elif status in ("fail", "unverified"):
                    n["unverified" if status == "unverified" else "env" if cls == "environment" else "failed"] += 1
                    # The first line of the diff that shows what the program did, if any.
                    lines = (c.get("message") or "").strip().splitlines()
                    lines = [l for l in lines if l.startswith("+") and not l.startswith("+++")] or lines
                    line = f"{kernel} {mode} {c['id']} ({cls or status}): {lines[0].strip() if lines else ''}"
                    # The VM runs in software emulation, 5-10x slower than the host (BPF_PROG_TEST_RUN
                    # calls about 250x): a check whose contract clock it cannot keep up with is
                    # unverified. That is listed, not failed; the host must verify everything.
                    # So is the reference charged as too slow there: the kernel's run statistics
                    # count the emulated time (seen: 49 us a frame in generic mode on a loaded
                    # host), and the host run holds the reference to the per-frame limits.
                    if d.endswith("/vm") and (status == "unverified" or cls == "timeout"):
                        unverified.append(line)
                    else:
                        bad.append(line)
                else:  # skipped in this mode, or not run because the kernel lacks something
                    n["not-run"] += 1
            print(f"{kernel:<26} {lab:<4} {mode:<9} {n['passed']:>6} {n['failed']:>6} {n['env']:>4} {n['unverified']:>7} {n['not-run']:>7} {n['info']:>4} {secs:>5}")

print(f"\nwrong programs: c_programs tests per kernel and lab")
for d in dirs:
    kernel = read(d, "kernel", os.path.basename(d))
    tests = {}
    for line in read(d, "wrong-programs.jsonl").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("type") == "test" and event.get("event") in ("ok", "failed"):
            tests[event["name"]] = event["event"]
    for lab in read(d, "labs", " ".join(labs)).split():
        crate = "xdplab-lab-" + lab.replace(".", "-") + "::"
        mine = {k.split("$", 1)[-1]: v for k, v in tests.items() if k.startswith(crate)}
        failed = sorted(k for k, v in mine.items() if v == "failed")
        ok = len(mine) - len(failed)
        print(f"{kernel:<26} {lab:<4} {ok:>3} passed {len(failed):>3} failed" + (f": {', '.join(failed)}" if failed else ""))
        bad += [f"{kernel} {lab}: wrong-program test {t} failed" for t in failed]
        if not mine:
            bad.append(f"{kernel} {lab}: no wrong-program test ran (cut off by the time limit?); see {d}/wrong-programs.err")
    rc = read(d, "wrong-programs.rc")
    if os.path.exists(os.path.join(d, "labs")) and not read(d, "labs"):
        continue
    if not tests or (rc != "0" and "failed" not in tests.values()):
        bad.append(f"{kernel}: the wrong-program tests did not complete (exit status {rc or 'none'}); see {d}/wrong-programs.err")
    print(f"{kernel:<26} ({read(d, 'wrong-programs.secs', '?')} s)")

if unverified:
    print(f"\nnot verified in the VM (too slow for the contract's clock; verified on the host):")
    for u in unverified:
        print("  " + u)
if bad:
    print(f"\n{len(bad)} problem(s):")
    for b in bad:
        print("  " + b)
    sys.exit(1)
print("\neverything passed")
EOF
}

if [ "${1:-}" = --in-vm ]; then
    # The guest's PATH is minimal; the host passes the directory of cargo-nextest.
    export PATH="$5:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    read_labs
    # One test at a time in the VM. Attaching XDP rewrites the kernel's XDP dispatcher in place
    # while other CPUs run programs through it; under software emulation Debian's 6.12 guest
    # twice took a fatal int3 oops in bpf_dispatcher_xdp_func doing that (an attach in one test
    # during a BPF_PROG_TEST_RUN in another). No host kernel has shown it.
    # $6: the labs whose wrong programs this VM runs (all when empty).
    tests=$vm_filter
    if [ -n "${6:-}" ]; then
        sel=""
        for lab in $6; do sel="$sel${sel:+ | }package(xdplab-lab-${lab//./-})"; done
        tests="($sel) and $vm_filter"
    fi
    mkdir -p "$2"
    if [ "${6:-}" = none ]; then
        : >"$2/labs"
        run_refs "$2"
        exit 0
    fi
    echo "${6:-${labs[*]}}" >"$2/labs"
    # One retry: under software emulation on a shared host a test can miss a contract clock
    # or a stall; a kernel difference fails both times.
    run_set "$2" "$3" "$4" "$tests" 1 --retries 1
    exit 0
fi
host=1 share=0
while [ $# -gt 0 ]; do
    case "$1" in
        --list)
            # What the matrix would run, for tests/labs.rs: the labs, the packages of their
            # wrong programs, and each VM's share under --share.
            read_labs
            echo "labs: ${labs[*]}"
            echo "packages: ${packages[*]}"
            share_labs
            for series in 6.1 6.12; do echo "share $series: ${share_of[$series]}"; done
            exit 0
            ;;
        --vm-only) host=0 ;;
        --share) share=1 ;;
        --reference-only) share=2 ;;
        *) break ;;
    esac
    shift
done
series_list=("$@")
[ ${#series_list[@]} -gt 0 ] || series_list=(6.1 6.12)
for series in "${series_list[@]}"; do
    case "$series" in 6.1 | 6.12) ;; *) die "unknown kernel series '$series': use 6.1 or 6.12 (usage: $0 [--list] [--vm-only] [--share | --reference-only] [SERIES...])" ;; esac
done
[ "$(id -u)" -eq 0 ] || die "must run as root"
if ! command -v ccache >/dev/null 2>&1; then
    say "installing ccache"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ccache >/dev/null
fi

start=$(date +%s)
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
meta=$root/target/kernel-matrix
# Shared by every run, outside the directories the VMs write to.
cache=$meta/ccache
rm -rf "$meta/host" "${series_list[@]/#/$meta/}"
mkdir -p "$meta" "$cache"
say "building xdplab and the c_programs tests on the host"
cargo build --release --bin xdplab
read_labs
# Release test binaries: the debug ones are 100 MB each and handle frames many times slower
# under emulation.
cargo nextest list --cargo-profile release "${packages[@]}" -E "$filter" --list-type binaries-only \
    --message-format json >"$meta/binaries-metadata.json"
cargo metadata --format-version 1 --all-features --no-deps >"$meta/cargo-metadata.json"

dirs=()
if [ "$host" -eq 1 ]; then
    say "running the set on the host kernel ($(uname -r))"
    run_set "$meta/host" "$meta" "$cache" "$filter"
    dirs+=("$meta/host")
fi

# Installing qemu and unpacking the kernels touch apt and the kernel cache: one at a time,
# before the VMs start.
for series in "${series_list[@]}"; do
    scripts/kernel-vm.sh kernel "$series" >/dev/null
done
# The VMs run at the same time: a guest spends much of its run waiting on the contract's
# clock (lab 7.2's pauses), and each runs one test at a time, so two guests share the host's
# cores with little loss. Each has its own kernel, so no attach in one meets a test run in the
# other (see --in-vm above).
say "booting Debian's ${series_list[*]} kernels (software emulation: several minutes)"
pids=()
share_labs
for series in "${series_list[@]}"; do
    mkdir -p "$meta/$series"
    mine=""
    [ "$share" -ne 1 ] || [ ${#series_list[@]} -lt 2 ] || mine=${share_of[$series]}
    # --reference-only: no wrong programs in the VMs (the filter matches no package).
    [ "$share" -ne 2 ] || mine="none"
    (
        # target/tmp takes the C objects the tests compile (their CARGO_TARGET_TMPDIR); the
        # ccache directory takes the guest's cache bookkeeping. Both writes stay in the guest.
        # The CPU time qemu used is printed too: on a shared machine it says more about how
        # long an idle machine takes than the wall time does. `xdplab vm run` is the script's
        # `run` with the host's account of the vCPUs served, as `--vm` has it.
        TIMEFORMAT="test-kernel: the $series VM took %0R s wall, %0U s user + %0S s system CPU time"
        time "${XDPLAB:-$root/target/release/xdplab}" vm run "$series" "$meta/$series" --overlay "$root/target/tmp" \
            --overlay "$cache" bash "$root/scripts/test-kernel.sh" --in-vm "$meta/$series/vm" \
            "$meta" "$cache" "$(dirname "$(command -v cargo-nextest)")" "$mine"
    ) &
    pids+=($!)
done
status=0
for i in "${!pids[@]}"; do
    rc=0
    wait "${pids[$i]}" || rc=$?
    if [ "$rc" -ne 0 ]; then
        say "the run inside the ${series_list[$i]} VM failed (status $rc)"
        status=2
    fi
    dirs+=("$meta/${series_list[$i]}/vm")
done
[ "$status" -eq 0 ] || exit "$status"
report "${dirs[@]}" || status=$?
say "kernels ${series_list[*]}: $(($(date +%s) - start)) s in all"
exit "$status"
