#!/usr/bin/env bash
# The figures in docs/grading-anywhere.md: the VM's boot (`xdplab doctor --vm`, boot + doctor +
# power-off), then every lab's reference in test-run mode inside the VM (wall time, and checks
# not verified), then each lab's C solution graded alone in the VM (`grade --vm`: one boot plus
# one submission). KERNEL (default 6.1) is passed to --vm. Prints one line per measure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
xdplab=${XDPLAB:-$root/target/release/xdplab}
kernel=${1:-6.1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in 1 2; do
    t0=$(date +%s)
    "$xdplab" doctor --vm="$kernel" >/dev/null 2>&1 || true
    echo "boot (doctor --vm) run $i: $(($(date +%s) - t0)) s"
done
while read -r lab c; do
    rc=0
    t0=$(date +%s)
    "$xdplab" run "$lab" --mode test-run --format json --vm="$kernel" >"$tmp/$lab.json" 2>/dev/null || rc=$?
    t=$(($(date +%s) - t0))
    python3 - "$tmp/$lab.json" "$lab" "$t" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["totals"]
un = [c["id"] for c in r["checks"] if c["status"] == "unverified"]
print(f'run {sys.argv[2]} test-run: {sys.argv[3]} s, {t["passed"]} passed, {t["failed"]} failed, {t["unverified"]} unverified {un} on {r.get("kernel", "?")}')
PY
    mkdir -p "$tmp/subs-$lab/solution"
    clang -O2 -g -target bpf -I/usr/include/"$(uname -m)"-linux-gnu -c "$root/$c" \
        -o "$tmp/subs-$lab/solution/prog.o" 2>/dev/null
    t0=$(date +%s)
    "$xdplab" grade "$lab" "$tmp/subs-$lab" --out "$tmp/out-$lab" --vm="$kernel" >/dev/null 2>&1 || true
    echo "grade $lab, one submission, one boot: $(($(date +%s) - t0)) s; $(head -1 "$tmp/out-$lab/students/solution/report.txt")"
done < <("$xdplab" list --format json | python3 -c 'import json, sys
for lab in json.load(sys.stdin):
    print(lab["id"], lab["c_solution"])')
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
