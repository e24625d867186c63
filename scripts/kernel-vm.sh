#!/usr/bin/env bash
# Boots one of Debian's kernels in a VM (virtme-ng + qemu; KVM where it works, software
# emulation elsewhere) to run a command against it, sharing the host's root file system. The
# one copy of this logic: `xdplab --vm` runs this file (built into the binary), and so do the
# kernel matrix and the Gradescope bundle.
#
#   kernel-vm.sh setup [SERIES...]          as root, once: install qemu, busybox, kmod and
#                                           virtme-ng (a venv under $XDPLAB_PREFIX, default
#                                           /opt/xdplab, linked into /usr/local/bin), and unpack
#                                           each SERIES' kernel into the cache
#   kernel-vm.sh kernel SERIES              print the cached kernel's vmlinuz (as root, unpack
#                                           the newest of SERIES first if none is cached)
#   kernel-vm.sh unpack DEB                 unpack a kernel package file into the cache
#   kernel-vm.sh deb SERIES DIR             download the package of SERIES' kernel into DIR
#   kernel-vm.sh run KERNEL DIR [--rwdir D]... [--overlay D]... CMD...
#                                           boot KERNEL (a SERIES or a vmlinuz path), run CMD
#                                           with DIR and each --rwdir D writable (each --overlay
#                                           D writable in a throw-away layer); exit with CMD's
#                                           status. Needs no root: only `setup` does.
#
# SERIES is `6.1` (bookworm's default kernel) or `6.12` (bookworm-security). Kernels are cached
# under ${XDG_CACHE_HOME:-$HOME/.cache}/xdplab/kernels/. XDPLAB_VM_KVM=0 or 1 forces emulation
# or KVM (default: KVM when /dev/kvm opens and the CPU has vmx or svm); XDPLAB_VM_MEMORY (4G)
# and XDPLAB_VM_TIMEOUT (3000 s) bound the guest. Facts behind the choices are in the project's
# field notes ("Other kernels in a VM").
set -euo pipefail

# depmod and friends, for users whose PATH leaves out the sbin folders.
PATH=$PATH:/usr/sbin:/sbin
say() { printf 'kernel-vm: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

cache=${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/xdplab/kernels
prefix=${XDPLAB_PREFIX:-/opt/xdplab}

setup() {
    [ "$(id -u)" -eq 0 ] || die "setup must run as root (it installs packages); everything after it runs as any user"
    # qemu; kmod: depmod (virtme-ng runs it on an unpacked kernel's modules) and modprobe (the
    # guest loads veth); a static busybox for the initramfs (9p is a module in Debian's kernels,
    # so virtme-ng needs an initramfs to mount the root).
    local missing=() pkg
    for pkg in qemu-system-x86 kmod busybox-static python3-venv; do
        dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
    # In a venv of the system's python3, readable by every user: a vng under /root (pyenv, pip
    # --user) is not, and the run needs none of root's rights.
    if ! "$prefix/venv/bin/vng" --version >/dev/null 2>&1; then
        say "installing virtme-ng (PyPI) into $prefix/venv"
        rm -rf "$prefix/venv"
        mkdir -p "$prefix"
        /usr/bin/python3 -m venv "$prefix/venv"
        "$prefix/venv/bin/pip" install -q --disable-pip-version-check "virtme-ng==${XDPLAB_VNG_VERSION:-1.42}"
    fi
    [ -e /usr/local/bin/vng ] || ln -s "$prefix/venv/bin/vng" /usr/local/bin/vng
}

# The vng to run: setup's, else one on PATH.
vng_path() {
    if [ -x "$prefix/venv/bin/vng" ]; then
        printf '%s\n' "$prefix/venv/bin/vng"
    else
        command -v vng || true
    fi
}

# What `run` needs, each missing one named with the fix.
require_tools() {
    local missing=()
    [ -n "$(vng_path)" ] || missing+=("virtme-ng (vng)")
    command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=("qemu-system-x86_64")
    [ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || missing+=("busybox")
    [ ${#missing[@]} -eq 0 ] ||
        die "cannot boot a VM: ${missing[*]} missing on this machine. Install them once, as root: \`sudo xdplab vm setup\` (or \`sudo scripts/kernel-vm.sh setup\`); the runs after it need no root."
}

# KVM when it works, else software emulation. /dev/kvm without the CPU's vmx or svm (kvm_pvm,
# seen here) hangs a stock kernel at boot, so both are required.
kvm_args() {
    case "${XDPLAB_VM_KVM:-}" in
        1) return ;;
        0) echo --disable-kvm; return ;;
    esac
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qE '^flags.*\b(vmx|svm)\b' /proc/cpuinfo; then
        return
    fi
    echo --disable-kvm
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

# Unpacks a kernel package file into the cache (once) and prints the vmlinuz path.
unpack() {
    local deb=$1 pkg
    pkg=$(dpkg-deb -f "$deb" Package) || die "$deb is not a Debian package"
    if [ ! -f "$cache/$pkg/.complete" ]; then
        say "unpacking $deb into $cache/$pkg"
        mkdir -p "$cache"
        rm -rf "${cache:?}/$pkg"
        dpkg -x "$deb" "$cache/$pkg"
        # virtme-ng runs depmod on a first boot that finds no modules.dep, writing into the
        # cache: a later run as another user could not, and would boot without 9p. Done now,
        # in the layout it uses (kmod builds search lib/ or usr/lib/).
        local moddir kver base
        for moddir in "$cache/$pkg"/lib/modules/*; do
            kver=$(basename "$moddir")
            base=$(mktemp -d)
            mkdir -p "$base/usr/lib/modules"
            ln -s "$(cd "$moddir" && pwd)" "$base/usr/lib/modules/$kver"
            ln -s usr/lib "$base/lib"
            depmod -a -b "$base" "$kver" || { rm -rf "$base"; die "depmod failed on $moddir"; }
            rm -rf "$base"
        done
        touch "$cache/$pkg/.complete"
    fi
    vmlinuz_of "$cache/$pkg"
}

vmlinuz_of() {
    local vmlinuz
    vmlinuz=$(find "$1/boot" -name 'vmlinuz-*' 2>/dev/null | head -n1)
    [ -n "$vmlinuz" ] || die "$1 has no boot/vmlinuz-*"
    printf '%s\n' "$vmlinuz"
}

# The cache's folder of a series' kernel (a package name), or nothing.
cached() {
    local dir
    dir=$(find "$cache" -maxdepth 1 -type d -name "linux-image-$1[.-]*" -printf '%f\n' 2>/dev/null |
        sort -V | tail -n1)
    [ -z "$dir" ] || [ ! -f "$cache/$dir/.complete" ] || printf '%s\n' "$dir"
}

# Downloads the package of a series' kernel (the cached one's, else the newest) into DIR and
# prints its path: the Gradescope bundle carries it, so the image it builds boots the same
# kernel.
deb() {
    local series=$1 out=$2 pkg sandbox=()
    pkg=$(cached "$series")
    [ -n "$pkg" ] || pkg=$(package_of "$series")
    [ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
    (cd "$out" && apt-get download -qq "${sandbox[@]}" "$pkg") ||
        die "apt-get download $pkg failed: on a machine without Debian's apt sources, give the kernel package with --kernel-deb"
    find "$out" -maxdepth 1 -name "${pkg}_*.deb" | head -n1
}

# Prints the vmlinuz of a series' cached kernel; as root, unpacks the newest of the series into
# the cache first if none is there.
kernel() {
    local series=$1 dir
    case "$series" in
        6.1 | 6.12) ;;
        *) die "unknown kernel series '$series': use 6.1 (Debian 12's default) or 6.12 (bookworm-security), or the path of a kernel image (vmlinuz)" ;;
    esac
    mkdir -p "$cache" 2>/dev/null || true
    # A cached kernel of the series is used as is, so runs stay on one kernel build and need no
    # apt look-up; removing its directory from the cache picks up a newer one.
    dir=$(cached "$series")
    if [ -z "$dir" ]; then
        [ "$(id -u)" -eq 0 ] ||
            die "no $series kernel in $cache. Fetch it once, as root: \`sudo xdplab vm setup --kernel $series\` (with the same XDG_CACHE_HOME as this run, or set XDG_CACHE_HOME to where setup put it)"
        local tmp file
        tmp=$(mktemp -d "$cache/.download.XXXXXX")
        file=$(deb "$series" "$tmp") || { rm -rf "$tmp"; exit 2; }
        unpack "$file" >/dev/null
        rm -rf "$tmp"
        dir=$(cached "$series")
    fi
    vmlinuz_of "$cache/$dir"
}

# Boots KERNEL (a series, or the path of a vmlinuz) with DIR shared read-write and runs CMD in
# it, in the current directory. The rest of the host's file system is read-only in the guest;
# each `--rwdir D` is shared read-write too, and each `--overlay D` is writable with the writes
# kept in guest memory. There is no udev here, so virtme-ng cannot return the command's exit
# status: the guest writes it to DIR/.vm-status. The guest sees XDPLAB_VM (`emulated` or `kvm`).
run() {
    local kernel=$1 dir=$2
    shift 2
    local shares=()
    while [ "${1:-}" = --overlay ] || [ "${1:-}" = --rwdir ]; do
        [ $# -ge 2 ] || die "$1 needs a directory"
        mkdir -p "$2"
        if [ "$1" = --overlay ]; then
            shares+=(--overlay-rwdir "$(cd "$2" && pwd)")
        else
            shares+=(--rwdir "$(cd "$2" && pwd)")
        fi
        shift 2
    done
    [ $# -gt 0 ] || die "run needs a command"
    require_tools
    local vmlinuz vng accel kvm
    if [ -f "$kernel" ]; then
        vmlinuz=$kernel
    else
        case "$kernel" in
            */*) die "no kernel image at '$kernel': give the path of a vmlinuz (bzImage), or a series: 6.1 or 6.12" ;;
        esac
        vmlinuz=$(kernel "$kernel")
    fi
    vng=$(vng_path)
    # vng runs virtme-run by name: from its own venv.
    PATH="$(dirname "$vng"):$PATH"
    kvm=$(kvm_args)
    accel=kvm clock=()
    if [ -n "$kvm" ]; then
        accel=emulated
        # Under emulation the guest finds its vCPUs' TSCs "unsynchronized" and falls back to
        # the HPET, whose every read (each bpf_ktime_get_ns) is an emulated device access under
        # qemu's global lock: two vCPUs reading the clock take turns. The emulated TSC is the
        # host's (constant, synchronized), so the guest may trust it.
        clock=(--append "clocksource=tsc tsc=reliable")
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    rm -f "$dir/.vm-status"
    # With a socket from the caller (xdplab --vm serves one), a virtio serial port on which
    # the guest asks the host how long each vCPU really ran (harness/kernel/src/vcpus.rs); the
    # host tells qemu's vCPU threads by their names (`CPU 0/TCG`), which debug-threads gives.
    local port=() guest_env=""
    if [ -n "${XDPLAB_VM_VCPU_SOCKET:-}" ]; then
        port=("--qemu-opts=-name virtme-ng,debug-threads=on -chardev socket,id=xdplabvcpus,path=$XDPLAB_VM_VCPU_SOCKET -device virtio-serial-pci -device virtserialport,chardev=xdplabvcpus,name=xdplab.vcpus")
        guest_env='export XDPLAB_VM_VCPUS=xdplab.vcpus; modprobe -q virtio_console 2>/dev/null || true'
    fi
    local cmd script="$dir/.vm-command.sh"
    printf -v cmd '%q ' "$@"
    printf '#!/bin/bash\nexport XDPLAB_VM=%s\n%s\ncd %q\n%s\necho $? > %q\n' "$accel" "$guest_env" \
        "$PWD" "$cmd" "$dir/.vm-status" >"$script"
    chmod +x "$script"
    # A signal to this script stops the VM (timeout passes it to its process group, qemu's)
    # before the script ends, so an interrupted caller leaves no qemu behind.
    vm_pid="" interrupted=""
    trap 'interrupted=1; [ -z "$vm_pid" ] || kill -TERM "$vm_pid" 2>/dev/null' TERM INT HUP
    # No network device: traffic stays in namespaces inside the VM. The timeout is a last
    # resort against a hung guest; the command is expected to bound its own steps.
    # The console goes to a file of its own: streamed into a log file that the caller redirects
    # to, it left that log with its earlier lines replaced by NUL bytes. --verbose puts the
    # guest kernel's messages in it, so a panic or an oops is there to read.
    local status=0 attempt console="$dir/.vm-console.log"
    for attempt in 1 2; do
        status=0
        # In the background and waited for: a trapped signal interrupts `wait`, not a
        # foreground command.
        timeout "${XDPLAB_VM_TIMEOUT:-3000}" "$vng" $kvm --verbose --run "$vmlinuz" \
            --cpus 2 --memory "${XDPLAB_VM_MEMORY:-4G}" "${clock[@]}" "${port[@]}" --rwdir "$dir" "${shares[@]}" \
            --exec "$script" </dev/null >"$console" 2>&1 &
        vm_pid=$!
        wait "$vm_pid" || status=$?
        if [ -n "$interrupted" ]; then
            wait "$vm_pid" 2>/dev/null || true
            # timeout passed the signal to its process group (its own, it leads it) and ended
            # with vng; qemu, vng's grandchild, may take a moment more: it is gone before this
            # script ends, killed after 10 s.
            local _
            for _ in $(seq 100); do
                kill -0 -- "-$vm_pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -KILL -- "-$vm_pid" 2>/dev/null || true
            say "interrupted: the VM is stopped"
            exit 143
        fi
        vm_pid=""
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
    trap - TERM INT HUP
    return "$(cat "$dir/.vm-status")"
}

case "${1:-}" in
    setup)
        shift
        setup
        for series in "$@"; do kernel "$series" >/dev/null; done
        ;;
    kernel)
        [ $# -eq 2 ] || die "usage: $0 kernel SERIES"
        # As root, the tools too, as the kernel matrix expects.
        [ "$(id -u)" -ne 0 ] || setup
        kernel "$2"
        ;;
    unpack) [ $# -eq 2 ] || die "usage: $0 unpack DEB"; unpack "$2" ;;
    deb) [ $# -eq 3 ] || die "usage: $0 deb SERIES DIR"; deb "$2" "$3" ;;
    run) [ $# -ge 4 ] || die "usage: $0 run KERNEL DIR CMD..."; shift; run "$@" ;;
    *) die "usage: $0 setup [SERIES...] | kernel SERIES | unpack DEB | run KERNEL DIR [--rwdir D]... [--overlay D]... CMD..." ;;
esac
