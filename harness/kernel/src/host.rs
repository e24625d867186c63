//! What the running kernel offers that some labs need: BPF helpers, probed once per process, and
//! its version against the versions the project is tested on.

use std::{
    os::fd::OwnedFd,
    sync::{Mutex, OnceLock},
};

use aya::{
    programs::ProgramType,
    sys::{BpfHelper, is_helper_supported},
};

use crate::error::{Error, Result};

/// A BPF helper that a part's programs must call and that some kernels lack; a lab's part
/// (the check model's `Part::requires`) lists the ones it needs, and its checks are "not run"
/// where the kernel lacks one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Helper {
    /// The helper's name as the kernel documents it (`bpf_tcp_raw_gen_syncookie_ipv4`).
    pub name: &'static str,
    /// Its id in the kernel's helper table.
    pub id: BpfHelper,
}

impl Helper {
    /// `bpf_tcp_raw_gen_syncookie_ipv4` (Linux 6.0): makes a SYN cookie without a socket.
    pub const TCP_RAW_GEN_SYNCOOKIE_IPV4: Helper = Helper {
        name: "bpf_tcp_raw_gen_syncookie_ipv4",
        id: BpfHelper::BPF_FUNC_tcp_raw_gen_syncookie_ipv4,
    };
    /// `bpf_tcp_raw_check_syncookie_ipv4` (Linux 6.0): checks a SYN cookie without a socket.
    pub const TCP_RAW_CHECK_SYNCOOKIE_IPV4: Helper = Helper {
        name: "bpf_tcp_raw_check_syncookie_ipv4",
        id: BpfHelper::BPF_FUNC_tcp_raw_check_syncookie_ipv4,
    };

    /// Whether an XDP program may call this helper on the running kernel. Probed once per
    /// process (a two-instruction XDP program that calls it, judged by the verifier's answer,
    /// as libbpf does) and cached. An error means the probe itself could not run (no root,
    /// no BPF), which says nothing about the helper.
    pub fn available(&self) -> Result<bool, String> {
        static CACHE: Mutex<Vec<(BpfHelper, Result<bool, String>)>> = Mutex::new(Vec::new());
        let mut cache = CACHE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, known)) = cache.iter().find(|(id, _)| *id == self.id) {
            return known.clone();
        }
        let answer = is_helper_supported(ProgramType::Xdp, self.id).map_err(|e| e.to_string());
        cache.push((self.id, answer.clone()));
        answer
    }
}

/// The helpers of `required` that the running kernel lacks, by name. Helpers whose probe could
/// not run are not listed: a check is only "not run" for what is known to be missing.
pub fn missing(required: &[Helper]) -> Vec<&'static str> {
    required
        .iter()
        .filter(|h| h.available() == Ok(false))
        .map(|h| h.name)
        .collect()
}

/// The reason a part's checks are not run when the kernel lacks `missing` helpers.
pub fn lacks(missing: &[&str]) -> String {
    format!("not run: the kernel lacks {}", missing.join(" and "))
}

/// The kernel series the project is tested on (Debian 12's 6.1 and 6.12, and the development
/// machine's 6.18).
pub const TESTED: [(u32, u32); 3] = [(6, 1), (6, 12), (6, 18)];

/// The running kernel's release string (`6.1.0-25-amd64`), from uname.
pub fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |s| s.trim().to_owned())
}

/// The kernel that judges this run, as reports name it: its release, and `(VM, emulated)` or
/// `(VM, KVM)` inside the VM that `xdplab --vm` boots (which sets `XDPLAB_VM`).
pub fn judge() -> String {
    let release = release();
    match std::env::var("XDPLAB_VM").as_deref() {
        Ok("kvm") => format!("{release} (VM, KVM)"),
        Ok("emulated") => format!("{release} (VM, emulated)"),
        _ => release,
    }
}

/// Whether this runs inside the VM that `xdplab --vm` boots, whose vCPUs are threads the host
/// schedules among its own (emulated or KVM).
pub fn in_vm() -> bool {
    matches!(
        std::env::var("XDPLAB_VM").as_deref(),
        Ok("kvm" | "emulated")
    )
}

/// The major and minor version of a release string (`6.12.48+deb13-amd64` gives (6, 12)).
pub fn series(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Keeps the kernel's per-program run statistics on for the life of the process; the run count
/// is how the veth target knows the program has seen every frame.
pub fn run_stats() -> Result<()> {
    // Cached as text: the first failure is the answer for the process, and aya's error is not Clone.
    static STATS: OnceLock<std::result::Result<OwnedFd, String>> = OnceLock::new();
    STATS
        .get_or_init(|| aya::sys::enable_stats(aya::sys::Stats::RunTime).map_err(|e| e.to_string()))
        .as_ref()
        .map(|_| ())
        .map_err(|e| Error::op("cannot enable BPF run statistics", e.as_str()))
}

/// True when the process runs as root (the harness needs CAP_SYS_ADMIN and CAP_NET_ADMIN).
pub fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_reads_distribution_release_strings() {
        assert_eq!(series("6.1.0-25-amd64"), Some((6, 1)));
        assert_eq!(series("6.12.48+deb13-amd64"), Some((6, 12)));
        assert_eq!(series("6.18.0"), Some((6, 18)));
        assert_eq!(series("unknown"), None);
    }

    #[test]
    fn lacks_names_every_missing_helper() {
        assert_eq!(
            lacks(&["bpf_a", "bpf_b"]),
            "not run: the kernel lacks bpf_a and bpf_b"
        );
    }
}
