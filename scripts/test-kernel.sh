#!/usr/bin/env bash
# The kernel matrix: `just test-kernel VERSION` (VERSION is 6.1 or 6.12, Debian 12's kernels).
#
# Builds on the host, boots Debian's kernel of that series in a VM (scripts/kernel-vm.sh) and runs
# inside it every lab in every mode against the reference solution (`xdplab run LAB --mode M
# --format json`) plus the wrong C programs of the labs' `c_programs` tests (each asserts that
# exactly the right checks flag its mistake). The results come back through a shared directory,
# target/kernel-matrix/VERSION/, and the host prints a table kernel x lab x mode. Exit status 1
# when any reference check failed or was not verified, or any wrong-program test failed; 2 when
# the matrix could not run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf 'test-kernel: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

labs=(7.1 7.2 7.3)
modes=(native generic test-run)
# The wrong programs: the labs' c_programs test binaries (built on the host, run in the guest).
packages=(-p xdplab-lab-7-1 -p xdplab-lab-7-2 -p xdplab-lab-7-3)
filter='binary(c_programs)'

# Inside the guest: runs everything, writing each result into OUT. Bounded per step, so a hang
# shows up as a failed step, not as a lost VM.
in_vm() {
    local out=$1 cargo_bin=$2
    export PATH="$cargo_bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    uname -r >"$out/kernel"
    local lab mode t0
    for lab in "${labs[@]}"; do
        for mode in "${modes[@]}"; do
            t0=$(date +%s)
            timeout 600 target/release/xdplab run "$lab" --mode "$mode" --format json \
                >"$out/ref-$lab-$mode.json" 2>"$out/ref-$lab-$mode.err" &&
                echo 0 >"$out/ref-$lab-$mode.rc" || echo $? >"$out/ref-$lab-$mode.rc"
            echo $(($(date +%s) - t0)) >"$out/ref-$lab-$mode.secs"
        done
    done
    t0=$(date +%s)
    # Reuses the host's build: no cargo in the guest. libtest-json gives one event per test.
    NEXTEST_EXPERIMENTAL_LIBTEST_JSON=1 timeout 1200 cargo-nextest nextest run \
        --binaries-metadata "$out/binaries-metadata.json" \
        --cargo-metadata "$out/cargo-metadata.json" \
        -E "$filter" --message-format libtest-json --no-fail-fast \
        >"$out/wrong-programs.jsonl" 2>"$out/wrong-programs.err" &&
        echo 0 >"$out/wrong-programs.rc" || echo $? >"$out/wrong-programs.rc"
    echo $(($(date +%s) - t0)) >"$out/wrong-programs.secs"
}

# On the host: reads OUT and prints the table; exit status as described at the top.
report() {
    python3 - "$1" "$2" "${labs[*]}" "${modes[*]}" <<'EOF'
import json, os, sys
out, series, labs, modes = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
def read(name, default=""):
    try:
        with open(os.path.join(out, name)) as f:
            return f.read()
    except OSError:
        return default
kernel = read("kernel").strip() or f"{series} (did not report)"
bad = []
print(f"\nkernel {kernel}: the reference solution")
print(f"{'lab':<5} {'mode':<9} {'passed':>6} {'failed':>6} {'env':>4} {'not-run':>7} {'info':>4} {'secs':>5}")
for lab in labs:
    for mode in modes:
        stem = f"ref-{lab}-{mode}"
        secs = read(stem + ".secs", "?").strip()
        try:
            report = json.loads(read(stem + ".json"))
            checks = report["checks"]
        except (ValueError, KeyError):
            why = (read(stem + ".err").strip().splitlines() or [f"exit status {read(stem + '.rc', '?').strip()}"])[-1]
            print(f"{lab:<5} {mode:<9} {'did not run: ' + why}")
            bad.append(f"{lab} {mode}: the run did not happen: {why}")
            continue
        n = {"passed": 0, "failed": 0, "env": 0, "not-run": 0, "info": 0}
        for c in checks:
            status, cls = c.get("status"), c.get("class")
            if status == "pass":
                n["passed"] += 1
            elif status == "info":
                n["info"] += 1
            elif status == "fail" and cls == "environment":
                n["env"] += 1
            elif status == "fail":
                n["failed"] += 1
            else:  # skipped in this mode, or not run (the kernel lacks what it needs)
                n["not-run"] += 1
            if status == "fail":
                first = (c.get("message") or "").strip().splitlines()
                bad.append(f"{c['id']} ({mode}, {cls}): {first[0] if first else ''}")
        print(f"{lab:<5} {mode:<9} {n['passed']:>6} {n['failed']:>6} {n['env']:>4} {n['not-run']:>7} {n['info']:>4} {secs:>5}")

tests = {}
for line in read("wrong-programs.jsonl").splitlines():
    try:
        event = json.loads(line)
    except ValueError:
        continue
    if event.get("type") == "test" and event.get("event") in ("ok", "failed", "ignored"):
        tests[event["name"]] = event["event"]
print(f"\nkernel {kernel}: wrong programs (c_programs tests), {read('wrong-programs.secs', '?').strip()} s")
for lab in labs:
    crate = "xdplab-lab-" + lab.replace(".", "-")
    mine = {k: v for k, v in tests.items() if k.startswith(crate + "::")}
    ok = sum(v == "ok" for v in mine.values())
    failed = sorted(k.split("$", 1)[-1] for k, v in mine.items() if v == "failed")
    print(f"{lab:<5} {ok:>3} passed {len(failed):>3} failed" + (f": {', '.join(failed)}" if failed else ""))
    bad += [f"wrong program test {crate} {t} failed" for t in failed]
rc = read("wrong-programs.rc").strip()
if not tests or (rc != "0" and not any(v == "failed" for v in tests.values())):
    bad.append(f"the wrong-program tests did not complete (exit status {rc or 'none'}); see {out}/wrong-programs.err")
if bad:
    print(f"\nkernel {kernel}: {len(bad)} problem(s):")
    for b in bad:
        print("  " + b)
    sys.exit(1)
print(f"\nkernel {kernel}: everything passed")
EOF
}

if [ "${1:-}" = --in-vm ]; then
    shift
    in_vm "$@"
    exit 0
fi
[ $# -eq 1 ] || die "usage: $0 VERSION   (VERSION: 6.1 or 6.12)"
series=$1
case "$series" in 6.1 | 6.12) ;; *) die "unknown kernel series '$series': use 6.1 or 6.12" ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root"

start=$(date +%s)
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
out=$root/target/kernel-matrix/$series
rm -rf "$out"
mkdir -p "$out"
say "building xdplab and the c_programs tests on the host"
cargo build --release --bin xdplab
# Release test binaries: the debug ones are 100 MB each and their frame handling runs many
# times slower under emulation.
cargo nextest list --cargo-profile release "${packages[@]}" -E "$filter" --list-type binaries-only \
    --message-format json >"$out/binaries-metadata.json"
cargo metadata --format-version 1 --all-features --no-deps >"$out/cargo-metadata.json"

say "booting Debian's $series kernel (software emulation: several minutes)"
# target/tmp takes the C objects the tests compile (their CARGO_TARGET_TMPDIR).
status=0
scripts/kernel-vm.sh run "$series" "$out" --overlay "$root/target/tmp" \
    bash "$root/scripts/test-kernel.sh" --in-vm "$out" "$(dirname "$(command -v cargo-nextest)")" ||
    status=$?
[ "$status" -eq 0 ] || die "the run inside the VM failed (status $status)"
report "$out" "$series" || status=$?
say "kernel $series took $(($(date +%s) - start)) s in all"
exit "$status"
