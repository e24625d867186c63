#!/usr/bin/env bash
# `just test-vm [LAB...]` (every lab when none is given): the Gradescope bundle, for real.
#
# For each lab: `xdplab gradescope LAB` writes autograder.zip; its setup.sh runs as root (the
# one privileged step, as on Gradescope's image build); its run_autograder then grades the lab's
# C solution as `nobody` with every capability dropped, so no bpf(), no /dev/kvm: the VM runs
# under software emulation, as in Gradescope's containers. The score in its results.json must
# equal the score `xdplab grade` gives the same program on the host kernel, as root, check by
# check (checks the VM could not verify are listed, not failed, as in `just test-kernel`).
# Then, once: `xdplab run --vm` as nobody (the report comes back, naming the VM's kernel)
# and a SIGTERM during a VM run (the VM stops, nothing is left). Synchronised on the processes'
# exits and the result files; prints the times it measured.
# Exit status 1 when a score differs or a step failed, 2 when the test could not run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf 'test-vm: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

[ "$(id -u)" -eq 0 ] || die "must run as root (setup.sh installs packages; the privileged grade needs BPF)"
xdplab=${XDPLAB:-$root/target/release/xdplab}
[ -x "$xdplab" ] || die "no $xdplab: build it first (just build)"
command -v setpriv >/dev/null || die "setpriv (util-linux) is missing"
command -v unzip >/dev/null || die "unzip is missing (apt-get install unzip)"

labs=("$@")
if [ ${#labs[@]} -eq 0 ]; then
    mapfile -t labs < <("$xdplab" list --format json | python3 -c 'import json, sys
for lab in json.load(sys.stdin):
    print(lab["id"])')
fi
declare -A solution
while read -r id c; do solution[$id]=$c; done < <("$xdplab" list --format json |
    python3 -c 'import json, sys
for lab in json.load(sys.stdin):
    print(lab["id"], lab["c_solution"])')

# The unprivileged user: no capabilities, no supplementary groups (so no kvm group).
unprivileged=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all
    --bounding-set=-all --no-new-privs)

tmp=$(mktemp -d /tmp/xdplab-test-vm.XXXXXX)
chmod 755 "$tmp"
# XDPLAB_TEST_KEEP=1 keeps the folder (bundle, logs, results) for a look.
[ -n "${XDPLAB_TEST_KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT

failed=0
summary=()

for lab in "${labs[@]}"; do
    c=${solution[$lab]:-}
    [ -n "$c" ] || die "unknown lab $lab"
    dir=$tmp/$lab
    ag=$dir/autograder
    mkdir -p "$ag/source" "$ag/submission" "$ag/results" "$dir/host/subs/submission"

    say "lab $lab: writing the bundle"
    t0=$(date +%s)
    "$xdplab" gradescope "$lab" --out "$dir/autograder.zip" >/dev/null
    (cd "$ag/source" && unzip -q "$dir/autograder.zip")
    cp "$ag/source/run_autograder" "$ag/run_autograder"
    say "lab $lab: setup.sh as root ($(du -h "$dir/autograder.zip" | cut -f1) bundle)"
    bash "$ag/source/setup.sh"
    rm -f "$dir/autograder.zip"
    t_setup=$(($(date +%s) - t0))

    cp "$c" "$ag/submission/"
    chown -R nobody:nogroup "$ag/submission" "$ag/results"
    # The premise: this user can neither open /dev/kvm nor call bpf().
    if "${unprivileged[@]}" test -w /dev/kvm 2>/dev/null; then
        die "nobody can write /dev/kvm here; the test would not show emulation"
    fi
    if "${unprivileged[@]}" grep -qE '^CapEff:\s*0*[1-9a-f]' /proc/self/status; then
        die "setpriv left capabilities"
    fi

    say "lab $lab: run_autograder as nobody, no capabilities"
    t0=$(date +%s)
    rc=0
    "${unprivileged[@]}" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/nonexistent \
        TMPDIR=/tmp XDPLAB_AUTOGRADER_ROOT="$ag" "$ag/run_autograder" \
        >"$dir/run.log" 2>&1 || rc=$?
    t_vm=$(($(date +%s) - t0))
    if [ "$rc" -ne 0 ] || [ ! -s "$ag/results/results.json" ]; then
        say "lab $lab: run_autograder failed (status $rc); its log:"
        tail -n 40 "$dir/run.log" >&2
        failed=1
        summary+=("$lab: run_autograder failed")
        continue
    fi

    say "lab $lab: the same program graded on the host kernel, as root"
    t0=$(date +%s)
    clang -O2 -g -target bpf -Wall -I/usr/include/"$(uname -m)"-linux-gnu -c "$c" \
        -o "$dir/host/subs/submission/$(basename "$c" .c).o"
    "$xdplab" grade "$lab" "$dir/host/subs" --out "$dir/host/out" >"$dir/host.log" 2>&1
    t_host=$(($(date +%s) - t0))

    # Every check judged in both runs must score the same; a check the VM could not verify
    # (the harness excusing itself: an emulated machine too slow or too loaded for a contract's
    # clock or for two CPUs at once) is listed, not failed, as in `just test-kernel`. With none,
    # the totals must be equal too.
    verdict=$(python3 - "$ag/results/results.json" "$dir/host/out/students/submission/results.json" <<'EOF'
import json, sys
vm, host = (json.load(open(p)) for p in sys.argv[1:3])
if "tests" not in vm:
    print("FAIL VM could not grade:", vm["output"].splitlines()[0])
    sys.exit()
host_tests = {t["name"]: t for t in host["tests"]}
unverified, differ = [], []
for t in vm["tests"]:
    h = host_tests.get(t["name"])
    if "not verified" in t["output"]:
        unverified.append(t["name"])
    elif h is None or (t["score"], t["max_score"]) != (h["score"], h["max_score"]):
        differ.append(f'{t["name"]}: VM {t["score"]}/{t["max_score"]}, host {h and h["score"]}/{h and h["max_score"]}')
judged = next((l for l in vm["output"].splitlines() if l.startswith("judged on")), "no kernel named")
scores = f'VM (nobody) {vm["score"]}, host (root) {host["score"]}'
if differ or (not unverified and vm["score"] != host["score"]):
    print("FAIL", scores, "; differ:", "; ".join(differ) or "the totals")
elif unverified:
    print("UNVERIFIED", scores, f"; {len(unverified)} check(s) not verified in the VM:", ", ".join(unverified), ";", judged)
else:
    print("OK", scores, ";", judged)
EOF
)
    line="$lab: ${verdict#* }; setup ${t_setup} s, run_autograder ${t_vm} s, host grade ${t_host} s"
    case "$verdict" in
        FAIL*) failed=1; line="$line: FAILED" ;;
    esac
    say "$line"
    summary+=("$line")
done
# `run --vm` as nobody (the kernel from the first lab's bundle): the report comes back on
# standard output, names the VM's kernel, and the exit status is the guest's.
say "xdplab run ${labs[0]} --mode test-run --vm, as nobody"
rc=0
t0=$(date +%s)
"${unprivileged[@]}" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/nonexistent TMPDIR=/tmp \
    XDG_CACHE_HOME="$tmp/${labs[0]}/autograder/source/cache" "$xdplab" run "${labs[0]}" --mode test-run \
    --format json --vm >"$tmp/run.json" 2>"$tmp/run.err" || rc=$?
line=$(python3 - "$tmp/run.json" "$rc" "$(($(date +%s) - t0))" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except ValueError:
    print("FAIL no JSON report came back"); sys.exit()
t, rc = r["totals"], int(sys.argv[2])
want_rc = 0 if t["failed"] + t["unverified"] + t["environment"] + t["not_run"] == 0 else None
ok = "(VM, emulated)" in r.get("kernel", "") and t["failed"] == 0 and (want_rc is None or rc == want_rc)
print("OK" if ok else "FAIL", f'run --vm: {t["passed"]} passed, {t["failed"]} failed, {t["unverified"]} unverified, exit {rc}, {sys.argv[3]} s, kernel {r.get("kernel")}')
EOF
)
case "$line" in FAIL*) failed=1; tail -n 20 "$tmp/run.err" >&2 ;; esac
say "${line#* }"
summary+=("$line")

# A signal stops the VM: xdplab exits with 128 + the signal, no qemu of its stays, and its
# scratch folder is gone.
say "SIGTERM to xdplab doctor --vm while its VM runs"
descendants() { local p; for p in $(pgrep -P "$1"); do echo "$p"; descendants "$p"; done; }
"$xdplab" doctor --vm >/dev/null 2>&1 &
pid=$!
qemu=""
for _ in $(seq 1 600); do
    # (pipefail: a process gone between pgrep and ps fails the pipeline, which is no error here)
    qemu=$(for p in $(descendants "$pid"); do ps -o pid=,comm= -p "$p"; done | awk '/qemu/ {print $1}' | head -n1 || true)
    [ -z "$qemu" ] || break
    sleep 0.1
done
[ -n "$qemu" ] || die "no qemu started under xdplab doctor --vm within a minute"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
left=$(ls -d /tmp/xdplab-vm-"$pid"-* 2>/dev/null || true)
if [ "$rc" -eq 143 ] && ! kill -0 "$qemu" 2>/dev/null && [ -z "$left" ]; then
    line="OK SIGTERM: exit 143, qemu stopped, scratch folder removed"
else
    failed=1
    line="FAIL SIGTERM: exit $rc, qemu $(kill -0 "$qemu" 2>/dev/null && echo "still running" || echo stopped), left: ${left:-nothing}"
fi
say "${line#* }"
summary+=("$line")

printf '\n'
printf '%s\n' "${summary[@]}"
exit "$failed"
