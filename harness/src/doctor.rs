//! Environment checks: can this machine run labs at all, and is anything left over?

use std::path::Path;

use crate::{error::Error, netns, object::XdpObject, verdict::Verdict};

/// One finding of [`diagnose`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    /// What was checked.
    pub what: &'static str,
    /// Whether it is fine.
    pub ok: bool,
    /// What was found, and on a problem how to fix it.
    pub detail: String,
}

/// True when the process runs as root (the harness needs CAP_SYS_ADMIN and CAP_NET_ADMIN).
pub fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// Fails with [`Error::NotRoot`] unless running as root.
pub fn require_root() -> Result<(), Error> {
    if is_root() {
        Ok(())
    } else {
        Err(Error::NotRoot)
    }
}

/// Checks root, kernel BPF/XDP/BTF support and leftovers; each problem says how to fix it.
pub fn diagnose() -> Vec<Finding> {
    let mut out = Vec::new();
    let root = is_root();
    out.push(Finding {
        what: "root",
        ok: root,
        detail: if root {
            "running as root".into()
        } else {
            Error::NotRoot.to_string()
        },
    });
    let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    out.push(Finding {
        what: "kernel BTF",
        ok: btf,
        detail: if btf {
            "/sys/kernel/btf/vmlinux present".into()
        } else {
            "/sys/kernel/btf/vmlinux is missing: boot a kernel built with CONFIG_DEBUG_INFO_BTF=y"
                .into()
        },
    });
    if root {
        let xdp = XdpObject::from_bytes("xdplab harness pass program", reference::harness_pass())
            .and_then(|o| o.load(Some("xdplab_pass")))
            .and_then(|mut p| p.test_run(&[0u8; 64]));
        out.push(match xdp {
            Ok((Verdict::Pass, _)) => Finding {
                what: "BPF and XDP",
                ok: true,
                detail: "loaded an XDP program and ran it with BPF_PROG_TEST_RUN".into(),
            },
            Ok((v, _)) => Finding {
                what: "BPF and XDP",
                ok: false,
                detail: format!("an XDP_PASS program returned {v}: the kernel's XDP is broken"),
            },
            Err(e) => Finding {
                what: "BPF and XDP",
                ok: false,
                detail: format!(
                    "could not load and test-run an XDP program ({e}); use a kernel with \
                     CONFIG_BPF_SYSCALL=y and CONFIG_XDP_SOCKETS/XDP support (5.10 or newer)"
                ),
            },
        });
    }
    let dead: Vec<String> = netns::leftovers()
        .into_iter()
        .filter(|n| {
            let pid = n
                .trim_start_matches(netns::PREFIX)
                .split('-')
                .next()
                .unwrap_or("");
            !Path::new(&format!("/proc/{pid}")).exists()
        })
        .collect();
    out.push(Finding {
        what: "leftovers",
        ok: dead.is_empty(),
        detail: if dead.is_empty() {
            "no namespaces left by killed runs".into()
        } else {
            format!(
                "{} namespace(s) left by killed runs ({}); run `xdplab clean`",
                dead.len(),
                dead.join(", ")
            )
        },
    });
    out
}
