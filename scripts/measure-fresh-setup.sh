#!/usr/bin/env bash
# Time from a fresh machine to the first lab run: the README's first quick-start command,
# `scripts/bootstrap.sh && just lab-7-1`, run as root in a Debian 12 chroot that has only what a
# new machine of this kind has (rustup with Rust 1.95.0 as its one toolchain, cargo-nextest, gcc,
# python3 with pip, git, curl), with fresh rustup and cargo homes. Run as root, with network:
#
#   scripts/measure-fresh-setup.sh prepare DIR   # once, untimed: debootstrap + the kind's tools
#   scripts/measure-fresh-setup.sh measure DIR   # one timed run of a clean clone of HEAD
#   scripts/measure-fresh-setup.sh clean DIR     # unmount anything left, remove DIR
#
# DIR/base is the prepared root; measure never changes it. Each measure runs on a new overlay
# over it (DIR/run), so what bootstrap installed last time (toolchain, bpf-linker, just, clang,
# chromium) is gone again. DIR/run keeps the last run's log, figures and files for inspection.
# measure prints the load average at its start: only figures from an idle machine compare.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
repo=$(cd "$here/.." && pwd)

suite=bookworm
mirror=http://deb.debian.org/debian
security=http://deb.debian.org/debian-security
rust=1.95.0 # the kind's stable toolchain
# What the kind ships besides rustup (rust.md, "On a new machine"), plus what every Debian
# machine has and the harness calls (iproute2's ip).
packages=(gcc g++ make libc6-dev python3 python3-pip git ca-certificates curl iproute2)

say() { printf 'measure-fresh-setup: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }
usage() { sed -n '2,14s/^# \{0,1\}//p' "$self" >&2; exit 2; }

# The environment of a root login on the kind: cargo's bin first, no toolchain auto-install,
# and the kind's certificate settings (all naming the system bundle; see trust_host_cas).
chroot_env=(env -i HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 TERM="${TERM:-dumb}"
    PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    RUSTUP_AUTO_INSTALL=0 DEBIAN_FRONTEND=noninteractive)
for v in SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE REQUESTS_CA_BUNDLE PIP_CERT GIT_SSL_CAINFO; do
    [ -z "${!v:-}" ] || chroot_env+=("$v=${!v}")
done

# Mount points at or under $1, deepest first (stacked mounts appear once per layer).
mounts_under() { findmnt -rn -o TARGET | awk -v d="$1" '$0 == d || index($0, d "/") == 1' | sort -r; }

# One prepare/measure/clean at a time per DIR; fd 9 stays open across the exec into unshare.
lock() { mkdir -p "$1"; exec 9>"$1/.lock"; flock -n 9 || die "another run is using $1"; }

# Only ever called inside `unshare --mount --propagation private`: these mounts cannot reach
# the host's mount table, even if this script is killed; the EXIT trap unmounts them anyway.
mount_system() {
    local r=$1
    mount --bind /proc "$r/proc"
    # --bind, not --rbind: the host's bpffs (other runs' pins) and cgroup mounts stay outside. As
    # on a fresh machine, /sys/fs/bpf is an empty mount point and the harness mounts its own.
    mount --bind /sys "$r/sys"
    mount --rbind /dev "$r/dev" # with dev/pts and dev/shm
    # The harness keeps its namespaces in /var/run/netns (-> /run), a tmpfs of our own.
    mount -t tmpfs -o mode=755 tmpfs "$r/run"
    mkdir -p "$r/run/lock"
    cp -L /etc/resolv.conf "$r/etc/resolv.conf"
    trust_host_cas "$r"
}

# HTTPS leaves this kind of machine through a proxy whose CA only the machine's own bundle
# holds; Debian's stock bundle fails with "UnknownIssuer". Give the chroot the host's bundle, as
# a new machine of the kind has it.
trust_host_cas() {
    mkdir -p "$1/etc/ssl/certs"
    cp -L /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"
}

# Busy CPU time of the whole machine so far, in clock ticks (user nice system irq softirq steal).
cpu_busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

unmount_all() {
    local r=$1 m
    for m in $(mounts_under "$r"); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
    m=$(mounts_under "$r")
    [ -z "$m" ] || say "still mounted: $m"
}

prepare() {
    local dir=$1 base=$1/base
    if [ -f "$dir/prepared.stamp" ]; then
        say "$base is prepared already:"; cat "$dir/prepared.stamp" >&2; return 0
    fi
    if ! command -v debootstrap >/dev/null; then
        say "installing debootstrap"
        apt-get install -y -qq debootstrap >/dev/null ||
            { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
    fi
    [ -z "$(mounts_under "$dir")" ] || die "something is mounted under $dir: run clean first"
    if [ ! -f "$dir/debootstrap.stamp" ]; then
        say "debootstrap $suite into $base"
        rm -rf --one-file-system "$base"
        mkdir -p "$base"
        # debootstrap mounts proc and sys in the target; a private namespace keeps them there.
        unshare --mount --propagation private -- \
            debootstrap --arch="$(dpkg --print-architecture)" "$suite" "$base" "$mirror"
        touch "$dir/debootstrap.stamp"
    fi
    unshare --mount --propagation private -- "$self" _prepare-chroot "$dir"
}

# prepare, second half, inside a private mount namespace.
prepare_chroot() {
    local dir=$1 base=$1/base
    # shellcheck disable=SC2064 # expanded now: locals are gone when the trap runs
    trap "unmount_all $base" EXIT
    trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP
    mount_system "$base"
    rm -f "$base/etc/apt/sources.list"
    cat >"$base/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    cp /etc/hosts "$base/etc/hosts"
    # Like the kind's image: services that packages install are not started (a daemon started in
    # the chroot would also outlive the run and pin its mounts).
    printf '#!/bin/sh\nexit 101\n' >"$base/usr/sbin/policy-rc.d"
    chmod 755 "$base/usr/sbin/policy-rc.d"
    say "installing ${packages[*]}"
    chroot "$base" "${chroot_env[@]}" apt-get update -qq
    chroot "$base" "${chroot_env[@]}" apt-get install -y -qq --no-install-recommends \
        "${packages[@]}" >/dev/null
    chroot "$base" "${chroot_env[@]}" apt-get clean
    trust_host_cas "$base" # installing ca-certificates rewrote the bundle
    # Debian's python3 keeps its PEP 668 marker (plain `pip install` is refused): bootstrap.sh
    # must work on stock Debian too, not only on the kind's pyenv Python.

    # rustup: the host's own binary (this kind's version) when there is one, else the release.
    say "installing rustup with Rust $rust (minimal profile)"
    local host_rustup
    host_rustup=$(command -v rustup || true)
    if [ -n "$host_rustup" ]; then
        install -m 755 "$(readlink -f "$host_rustup")" "$base/tmp/rustup-init"
    else
        curl -sSfL -o "$base/tmp/rustup-init" \
            "https://static.rust-lang.org/rustup/dist/$(uname -m)-unknown-linux-gnu/rustup-init"
        chmod 755 "$base/tmp/rustup-init"
    fi
    rm -rf "$base/root/.rustup" "$base/root/.cargo"
    chroot "$base" "${chroot_env[@]}" /tmp/rustup-init -y -q --no-modify-path \
        --profile minimal --default-toolchain "$rust"
    chroot "$base" "${chroot_env[@]}" rustup set auto-self-update disable
    rm -f "$base/tmp/rustup-init"

    # The kind ships cargo-nextest prebuilt; building it here would be measured by nobody.
    [ -x /usr/local/bin/cargo-nextest ] ||
        die "no /usr/local/bin/cargo-nextest on the host to copy (the kind ships it)"
    install -m 755 /usr/local/bin/cargo-nextest "$base/usr/local/bin/cargo-nextest"

    local versions
    versions=$(chroot "$base" "${chroot_env[@]}" bash -c '
        rustup --version 2>/dev/null; rustup toolchain list; rustc --version; cargo --version
        cargo nextest --version | head -n1; gcc --version | head -n1; python3 -m pip --version
        git --version; curl --version | head -n1' 2>&1)
    printf 'prepared %s\n%s\n' "$(date -u +%FT%TZ)" "$versions" >"$dir/prepared.stamp"
    say "prepared $base:"; cat "$dir/prepared.stamp" >&2
}

# measure, inside a private mount namespace.
measure_inside() {
    local dir=$1 base=$1/base run=$1/run
    local merged=$run/merged
    rm -rf --one-file-system "$run"
    mkdir -p "$run/upper" "$run/work" "$merged"
    # shellcheck disable=SC2064 # expanded now: locals are gone when the trap runs
    trap "unmount_all $merged" EXIT
    trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP
    mount -t overlay overlay -o "lowerdir=$base,upperdir=$run/upper,workdir=$run/work" "$merged"
    mount_system "$merged"

    # A clean clone of HEAD: what a student clones, without this tree's uncommitted changes.
    local commit
    commit=$(git -C "$repo" rev-parse HEAD)
    [ -z "$(git -C "$repo" status --porcelain --untracked-files=no)" ] ||
        say "note: $repo has uncommitted changes; measuring HEAD ($commit) without them"
    git clone -q --no-hardlinks "$repo" "$merged/root/xdplab"
    git -C "$merged/root/xdplab" checkout -q --detach "$commit"

    # Each step timed by bash's `time` (wall, then user and sys of it and all its children);
    # `|| exit` keeps the README's `&&`.
    # shellcheck disable=SC2016 # expanded by the chroot's bash
    local runner='
        cd /root/xdplab
        TIMEFORMAT="%R %U %S"
        step() { local out=$1; shift; { time "$@" 2>&3 3>&-; } 3>&2 2>"$out"; }
        step /tmp/measure.bootstrap scripts/bootstrap.sh || exit $?
        step /tmp/measure.lab just lab-7-1'
    local load_start load_end started rc busy_start busy_end
    load_start=$(cut -d' ' -f1-3 /proc/loadavg)
    busy_start=$(cpu_busy)
    started=$(date -u +%FT%TZ)
    say "$started: running 'scripts/bootstrap.sh && just lab-7-1' in the chroot (load $load_start)"
    set +e
    chroot "$merged" "${chroot_env[@]}" bash -c "$runner" 2>&1 9>&- | tee "$run/measure.log"
    rc=${PIPESTATUS[0]}
    set -e
    busy_end=$(cpu_busy)
    load_end=$(cut -d' ' -f1-3 /proc/loadavg)

    local b=(- - -) l=(- - -)
    [ -s "$merged/tmp/measure.bootstrap" ] && read -r -a b <"$merged/tmp/measure.bootstrap"
    [ -s "$merged/tmp/measure.lab" ] && read -r -a l <"$merged/tmp/measure.lab"
    {
        echo
        echo "== last lines of the run =="
        tail -n 25 "$run/measure.log"
        echo
        echo "== time from a fresh machine to the first lab run =="
        echo "xdplab $commit, started $started, kernel $(uname -r), $(nproc) cores"
        echo "load average at start: $load_start   at end: $load_end"
        awk -v b="${b[*]}" -v l="${l[*]}" -v rc="$rc" -v busy="$((busy_end - busy_start))" \
            -v hz="$(getconf CLK_TCK)" -v cores="$(nproc)" 'BEGIN {
            split(b, B, " "); split(l, L, " ")
            if (B[1] != "-") printf "scripts/bootstrap.sh  %7.1f s wall   user %.1f s  sys %.1f s\n", B[1], B[2], B[3]
            if (L[1] != "-") printf "just lab-7-1          %7.1f s wall   user %.1f s  sys %.1f s\n", L[1], L[2], L[3]
            if (B[1] != "-" && L[1] != "-") {
                t = B[1] + L[1]; r = int(t + 0.5)
                printf "total                 %7.1f s wall (%d min %02d s; target under 4 min)\n", t, int(r / 60), r % 60
                cpu = B[2] + B[3] + L[2] + L[3]
                printf "CPU, user+sys         %7.1f s\n", cpu
                # The load average lags; this says how much of the machine others took meanwhile.
                printf "CPU of other work     %7.1f s meanwhile (%.0f%% of %d cores)\n", busy / hz - cpu, 100 * (busy / hz - cpu) / (t * cores), cores
            }
            printf "exit status %d%s\n", rc, rc == 0 ? " (bootstrap ok, every lab check passed)" : " (FAILED: see the log)"
        }'
        echo "log: $run/measure.log"
    } | tee "$run/result.txt"
    return "$rc"
}

clean() {
    local dir=$1
    # Refuse anything that does not look like ours: rm -rf follows no mounts, but be sure.
    [ -e "$dir" ] || { say "$dir does not exist"; return 0; }
    [ -d "$dir/base" ] || [ -f "$dir/debootstrap.stamp" ] || die "$dir does not look like a DIR of this script"
    unmount_all "$dir"
    [ -z "$(mounts_under "$dir")" ] || die "mounts left under $dir; not removing it"
    rm -rf --one-file-system "$dir"
    say "removed $dir"
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$(realpath -m "$2")
case "$dir" in /|/bin|/boot|/dev|/etc|/home|/lib*|/proc|/root|/run|/sbin|/sys|/tmp|/usr|/var|/work)
    die "refusing DIR $dir" ;;
esac
[[ $dir =~ ^[A-Za-z0-9/._+-]+$ ]] || die "DIR may hold only letters, digits and /._+-" # traps, mount lists
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot and mounts)"

case "$cmd" in
    prepare) lock "$dir"; prepare "$dir" ;;
    measure)
        [ -f "$dir/prepared.stamp" ] || die "$dir is not prepared: run '$0 prepare $dir' first"
        lock "$dir"
        [ -z "$(mounts_under "$dir")" ] || die "something is mounted under $dir: run clean first"
        exec unshare --mount --propagation private -- "$self" _measure "$dir" ;;
    clean) [ ! -d "$dir" ] || lock "$dir"; clean "$dir" ;;
    _prepare-chroot) prepare_chroot "$dir" ;;
    _measure) measure_inside "$dir" ;;
    *) usage ;;
esac
