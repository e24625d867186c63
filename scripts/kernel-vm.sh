#!/usr/bin/env bash
# Boots one of Debian's kernels in a VM (virtme-ng + qemu, software emulation) to run a command
# against it, sharing the host's root file system. Idempotent: installs qemu and virtme-ng and
# unpacks the kernel package only when missing (seconds once everything is present).
#
#   scripts/kernel-vm.sh setup                      install qemu-system-x86 and virtme-ng
#   scripts/kernel-vm.sh kernel SERIES              unpack the newest kernel of SERIES, print its vmlinuz
#   scripts/kernel-vm.sh run SERIES DIR [--overlay D]... CMD...
#                                                   boot it, run CMD with DIR writable (and each D
#                                                   writable in a throw-away layer); exit with CMD's status
#
# SERIES is `6.1` (bookworm's default kernel) or `6.12` (bookworm-security). Kernels are cached
# under ${XDG_CACHE_HOME:-$HOME/.cache}/xdplab/kernels/. Facts behind the choices are in the
# project's field notes ("Other kernels in a VM").
set -euo pipefail

say() { printf 'kernel-vm: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

cache=${XDG_CACHE_HOME:-$HOME/.cache}/xdplab/kernels

setup() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (apt-get install, and XDP inside the VM)"
    PATH=$PATH:/usr/sbin:/sbin
    # qemu; kmod: depmod (virtme-ng runs it on an unpacked kernel's modules) and modprobe (the
    # guest loads veth); a static busybox for the initramfs (9p is a module in Debian's kernels,
    # so virtme-ng needs an initramfs to mount the root).
    local missing=() pkg
    for pkg in qemu-system-x86 kmod busybox-static; do
        dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
    if ! vng --version >/dev/null 2>&1; then
        say "installing virtme-ng (PyPI)"
        python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore virtme-ng
        hash -r
    fi
}

# The Debian package name of the newest kernel of a series (plain amd64 flavour: the cloud one
# has no 9p, which virtme-ng needs to share the root file system).
package_of() {
    local pattern
    case "$1" in
        6.1) pattern='^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' ;;
        6.12) pattern='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' ;;
        *) die "unknown kernel series '$1': use 6.1 (Debian 12's default) or 6.12 (bookworm-security)" ;;
    esac
    local names
    names=$(apt-cache search --names-only "$pattern" | cut -d' ' -f1)
    if [ -z "$names" ]; then
        apt-get update -qq
        names=$(apt-cache search --names-only "$pattern" | cut -d' ' -f1)
    fi
    [ -n "$names" ] || die "no package matches $pattern; is bookworm (and bookworm-security) in the apt sources?"
    sort -V <<<"$names" | tail -n1
}

# Unpacks the newest kernel of a series into the cache (once) and prints the vmlinuz path.
kernel() {
    local series=$1 pkg dir
    mkdir -p "$cache"
    # A cached kernel of the series is used as is, so runs stay on one kernel build and need no
    # apt look-up; removing its directory from the cache picks up a newer one.
    dir=$(find "$cache" -maxdepth 1 -type d -name "linux-image-$series[.-]*" -printf '%f\n' |
        sort -V | tail -n1)
    if [ -z "$dir" ] || [ ! -f "$cache/$dir/.complete" ]; then
        pkg=$(package_of "$series")
        dir=$pkg
        if [ ! -f "$cache/$dir/.complete" ]; then
            say "unpacking $pkg into $cache/$dir"
            local tmp
            tmp=$(mktemp -d "$cache/.download.XXXXXX")
            (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$pkg") || { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
            rm -rf "${cache:?}/$dir"
            dpkg -x "$tmp"/*.deb "$cache/$dir"
            rm -rf "$tmp"
            touch "$cache/$dir/.complete"
        fi
    fi
    local vmlinuz
    vmlinuz=$(find "$cache/$dir/boot" -name 'vmlinuz-*' | head -n1)
    [ -n "$vmlinuz" ] || die "$cache/$dir has no boot/vmlinuz-*"
    printf '%s\n' "$vmlinuz"
}

# Boots SERIES with DIR shared read-write and runs CMD in it, in the current directory. The
# rest of the host's file system is read-only in the guest; each `--overlay D` makes D writable
# there with the writes kept in guest memory. There is no udev here, so virtme-ng cannot return
# the command's exit status: the guest writes it to DIR/.vm-status.
run() {
    local series=$1 dir=$2
    shift 2
    local overlays=()
    while [ "${1:-}" = --overlay ]; do
        [ $# -ge 2 ] || die "--overlay needs a directory"
        mkdir -p "$2"
        overlays+=(--overlay-rwdir "$(cd "$2" && pwd)")
        shift 2
    done
    [ $# -gt 0 ] || die "run needs a command"
    setup
    local vmlinuz
    vmlinuz=$(kernel "$series")
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    rm -f "$dir/.vm-status"
    local cmd script="$dir/.vm-command.sh"
    printf -v cmd '%q ' "$@"
    printf '#!/bin/bash\ncd %q\n%s\necho $? > %q\n' "$PWD" "$cmd" "$dir/.vm-status" >"$script"
    chmod +x "$script"
    # No network device: traffic stays in namespaces inside the VM. /dev/kvm here cannot run a
    # stock kernel (it hangs at boot), hence --disable-kvm. The timeout is a last resort against
    # a hung guest; the command is expected to bound its own steps.
    # The console goes to a file of its own: streamed into a log file that the caller redirects
    # to, it left that log with its earlier lines replaced by NUL bytes. --verbose puts the
    # guest kernel's messages in it, so a panic or an oops is there to read.
    local status=0 attempt console="$dir/.vm-console.log"
    for attempt in 1 2; do
        status=0
        timeout "${XDPLAB_VM_TIMEOUT:-3000}" vng --disable-kvm --verbose --run "$vmlinuz" \
            --cpus 2 --memory 4G --rwdir "$dir" "${overlays[@]}" --exec "$script" \
            </dev/null >"$console" 2>&1 || status=$?
        [ ! -s "$dir/.vm-status" ] || break
        say "the VM (vng exit status $status) ended without the command's exit status; the end of its console ($console):"
        tr -d '\000' <"$console" | tail -n 40 >&2
        say "what the command had written to $dir by then:"
        find "$dir" -newer "$script" -type f ! -name '.vm-console*' -printf '  %TT %P\n' 2>/dev/null | sort | tail -n 15 >&2
        # A guest kernel fault is a finding, never retried. Anything else (qemu or virtme-ng
        # giving up under emulation: seen once in CI, about when the work should have ended) gets
        # one more boot, and says so.
        if grep -aqE 'Kernel panic|BUG:|Oops|general protection fault|Call Trace' "$console"; then
            die "the guest kernel faulted (see its console above); not retried"
        fi
        [ "$attempt" -eq 2 ] && die "the VM ended without the command's exit status twice: it did not boot, or was killed after ${XDPLAB_VM_TIMEOUT:-3000} s"
        say "booting it once more"
        cp "$console" "$dir/.vm-console.1.log"
    done
    return "$(cat "$dir/.vm-status")"
}

case "${1:-}" in
    setup) setup ;;
    kernel) [ $# -eq 2 ] || die "usage: $0 kernel SERIES"; setup; kernel "$2" ;;
    run) [ $# -ge 4 ] || die "usage: $0 run SERIES DIR CMD..."; shift; run "$@" ;;
    *) die "usage: $0 setup | kernel SERIES | run SERIES DIR CMD..." ;;
esac
