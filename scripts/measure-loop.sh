#!/usr/bin/env bash
# The student's loop, timed: from saving a one-line fix (or undoing it) to the new result on
# screen with `xdplab watch`, RUNS times per mode; prints each time and the median.
#
#   scripts/measure-loop.sh [XDPLAB] [RUNS]      (as root; default target/release/xdplab, 10)
#
# The file is lab 7.1's C solution with `#define BUG_RULE_ORDER` as its first line; each save
# removes or restores that line, and watch compiles and runs `firewall`'s checks again. The
# time ends when watch prints the line that closes the result ("xdplab watch: waiting ...").
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
xdplab=$(realpath "${1:-$root/target/release/xdplab}")
runs=${2:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
solution="$root/labs/lab-7-1/tests/programs/filter.c"
src="$work/filter.c"
save() { # $1: broken or fixed; written to a copy, then renamed over, as editors do
    { [ "$1" = fixed ] || echo '#define BUG_RULE_ORDER'; cat "$solution"; } >"$work/.filter.c.tmp"
    mv "$work/.filter.c.tmp" "$src"
}
now() { date +%s%N; }

for mode in test-run native; do
    save broken
    coproc WATCH { exec "$xdplab" watch 7.1 "$src" --program firewall --mode "$mode" 2>&1; }
    # Reads watch's output up to the end of a result; prints whether every check passed.
    result() {
        local line passed=no
        while IFS= read -r line <&"${WATCH[0]}"; do
            case "$line" in
                *" passed, 0 failed"*) passed=yes ;;
                "xdplab watch: waiting"*) echo "$passed"; return ;;
            esac
        done
        echo "watch ended" >&2
        exit 1
    }
    result >/dev/null
    times=()
    for i in $(seq "$runs"); do
        if [ $((i % 2)) = 1 ]; then want=yes state=fixed; else want=no state=broken; fi
        start=$(now)
        save "$state"
        got=$(result)
        ms=$((($(now) - start) / 1000000))
        [ "$got" = "$want" ] || { echo "run $i: expected passed=$want, got $got" >&2; exit 1; }
        times+=("$ms")
        echo "$mode run $i ($state): $ms ms"
    done
    kill -INT "$WATCH_PID"
    wait "$WATCH_PID" || true
    sorted=($(printf '%s\n' "${times[@]}" | sort -n))
    n=${#sorted[@]}
    median=$(((sorted[(n - 1) / 2] + sorted[n / 2]) / 2))
    echo "$mode: median $median ms over $n saves (min ${sorted[0]}, max ${sorted[n - 1]})"
done
