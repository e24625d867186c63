#!/usr/bin/env bash
# `just test-vm [LAB...]` (every lab when none is given): the Gradescope bundle, for real.
#
# For each lab: `xdplab gradescope LAB` writes autograder.zip; its setup.sh runs as root (the
# one privileged step, as on Gradescope's image build); its run_autograder then grades the lab's
# C solution as `nobody` with every capability dropped, so no bpf(), no /dev/kvm: the VM runs
# under software emulation, as in Gradescope's containers. The score in its results.json must
# equal the score `xdplab grade` gives the same program on the host kernel, as root.
# Synchronised on the processes' exits and the result files; prints the times it measured.
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

score() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["score"])' "$1"; }

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

    vm_score=$(score "$ag/results/results.json")
    host_score=$(score "$dir/host/out/students/submission/results.json")
    judged=$(python3 -c 'import json, sys
out = json.load(open(sys.argv[1]))["output"]
print(next((l for l in out.splitlines() if l.startswith("judged on")), "no kernel named"))' \
        "$ag/results/results.json")
    line="$lab: VM (nobody) $vm_score, host (root) $host_score; setup ${t_setup} s, run_autograder ${t_vm} s, host grade ${t_host} s; $judged"
    if [ "$vm_score" != "$host_score" ]; then
        failed=1
        line="$line: SCORES DIFFER"
        python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print("  VM:", r["output"].splitlines()[0])
for t in r.get("tests", []):
    if t["score"] != t["max_score"] or t["max_score"] == 0:
        print("  VM:", t["name"], t["score"], "/", t["max_score"], t["output"].splitlines()[-1][:200])' \
            "$ag/results/results.json" >&2
    fi
    say "$line"
    summary+=("$line")
done
printf '\n'
printf '%s\n' "${summary[@]}"
exit "$failed"
