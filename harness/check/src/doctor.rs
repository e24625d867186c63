//! Environment checks: can this machine run the labs, and is anything left over?
//!
//! Beyond root, BTF and BPF, the doctor asks the kernel what the labs need of it: each lab
//! part's reference program must pass this kernel's verifier (else failures cannot be compared
//! with the reference, see [`crate::lab`]), the helpers parts require must exist (else their
//! checks are "not run"), and XDP must attach to a veth natively and generically.

use std::path::Path;

use traffic::{FrameBuilder, Tag};

use crate::lab::Lab;
use kernel::{
    cleanup,
    error::Error,
    host::{self, Helper},
    object::{AttachMode, XdpObject},
    target::{Target, VethTarget},
    topology::{CLIENT_MAC, DUT_MAC, TopologySpec},
    verdict::Verdict,
};

/// How a [`Finding`] bears on running the labs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Fine.
    Ok,
    /// Works, but results may differ from the tested set-ups.
    Warn,
    /// Something a lab needs is missing or broken; the detail says how to fix it.
    Bad,
}

/// One finding of [`diagnose`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    /// What was checked (`kernel`, `reference 7.2/syn_cookie`).
    pub what: String,
    /// How it bears on running the labs.
    pub level: Level,
    /// What was found, and on a problem how to fix it.
    pub detail: String,
}

impl Finding {
    fn new(what: impl Into<String>, level: Level, detail: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            level,
            detail: detail.into(),
        }
    }

    fn check(what: impl Into<String>, ok: bool, detail: impl Into<String>) -> Self {
        let level = if ok { Level::Ok } else { Level::Bad };
        Self::new(what, level, detail)
    }
}

/// Fails with [`Error::NotRoot`] unless running as root.
pub fn require_root() -> Result<(), Error> {
    if host::is_root() {
        Ok(())
    } else {
        Err(Error::NotRoot)
    }
}

/// Checks root, the kernel's version, BTF, BPF and XDP, veth XDP in both attach modes, the
/// helpers `labs` require, that every part's reference program loads here, and leftovers.
/// Each problem says how to fix it.
pub fn diagnose(labs: &[Lab]) -> Vec<Finding> {
    let mut out = vec![kernel_version()];
    let root = host::is_root();
    out.push(Finding::check(
        "root",
        root,
        if root {
            "running as root".into()
        } else {
            Error::NotRoot.to_string()
        },
    ));
    let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    out.push(Finding::check(
        "kernel BTF",
        btf,
        if btf {
            "/sys/kernel/btf/vmlinux present"
        } else {
            "/sys/kernel/btf/vmlinux is missing: boot a kernel built with CONFIG_DEBUG_INFO_BTF=y"
        },
    ));
    if root {
        out.push(bpf_and_xdp());
        for mode in [AttachMode::Native, AttachMode::Generic] {
            out.push(veth_xdp(mode));
        }
        out.extend(helpers(labs));
        for lab in labs {
            out.extend(references(lab));
        }
    }
    out.push(leftovers());
    out
}

/// The running kernel against the tested series.
fn kernel_version() -> Finding {
    let release = host::release();
    let tested: Vec<String> = host::TESTED
        .iter()
        .map(|(a, b)| format!("{a}.{b}"))
        .collect();
    let tested = tested.join(", ");
    match host::series(&release) {
        Some(s) if host::TESTED.contains(&s) => Finding::new(
            "kernel",
            Level::Ok,
            format!("{release}: a tested series (tested: {tested})"),
        ),
        _ => Finding::new(
            "kernel",
            Level::Warn,
            format!(
                "{release} is not a tested series (tested: {tested}); the findings below say \
                 what this one lacks, if anything"
            ),
        ),
    }
}

fn pass_program() -> Result<XdpObject, Error> {
    XdpObject::from_bytes("xdplab harness pass program", reference::harness_pass())
}

fn bpf_and_xdp() -> Finding {
    let xdp = pass_program()
        .and_then(|o| o.load(Some("xdplab_pass")))
        .and_then(|mut p| p.test_run(&[0u8; 64]));
    match xdp {
        Ok((Verdict::Pass, _)) => Finding::check(
            "BPF and XDP",
            true,
            "loaded an XDP program and ran it with BPF_PROG_TEST_RUN",
        ),
        Ok((v, _)) => Finding::check(
            "BPF and XDP",
            false,
            format!("an XDP_PASS program returned {v}: the kernel's XDP is broken"),
        ),
        Err(e) => Finding::check(
            "BPF and XDP",
            false,
            format!(
                "could not load and test-run an XDP program ({e}); use a kernel with \
                 CONFIG_BPF_SYSCALL=y and XDP support (5.10 or newer)"
            ),
        ),
    }
}

/// Attaches an XDP_PASS program to a veth in `mode` in throw-away namespaces and sends one
/// frame through it: the path every veth-mode check takes.
fn veth_xdp(mode: AttachMode) -> Finding {
    let what = format!("veth XDP {}", format!("{mode:?}").to_lowercase());
    let frame = FrameBuilder::ethernet(CLIENT_MAC, DUT_MAC)
        .ipv4([192, 0, 2, 1].into(), [192, 0, 2, 2].into())
        .udp(40000, 9)
        .payload(b"xdplab doctor")
        .tag(Tag(1))
        .build();
    let result = pass_program()
        .and_then(|o| o.load(Some("xdplab_pass")))
        .and_then(|p| VethTarget::new(p, &TopologySpec::pair(), mode))
        .and_then(|mut t| t.send(&[frame]));
    match result {
        Ok(outcomes) if outcomes.first().map(|o| o.verdict) == Some(Verdict::Pass) => {
            Finding::check(
                what,
                true,
                "attached to a veth in a throw-away namespace; a frame came through",
            )
        }
        Ok(outcomes) => Finding::check(
            what,
            false,
            format!(
                "attached, but an XDP_PASS program's frame ended as {:?}: the veth modes would \
                 misjudge programs; use --mode test-run",
                outcomes.first().map(|o| o.verdict)
            ),
        ),
        Err(e) => Finding::check(
            what,
            false,
            format!("{e} The veth modes cannot run here; use --mode test-run."),
        ),
    }
}

/// Every helper some part requires, once, with the parts that need it.
fn helpers(labs: &[Lab]) -> Vec<Finding> {
    let mut needed: Vec<(Helper, Vec<String>)> = Vec::new();
    for lab in labs {
        for part in &lab.parts {
            for h in part.requires {
                let user = format!("{}/{}", lab.id, part.program);
                match needed.iter_mut().find(|(x, _)| x == h) {
                    Some((_, users)) => users.push(user),
                    None => needed.push((*h, vec![user])),
                }
            }
        }
    }
    needed
        .into_iter()
        .map(|(h, users)| {
            let users = users.join(", ");
            let what = format!("helper {}", h.name);
            match h.available() {
                Ok(true) => Finding::check(what, true, format!("available to XDP ({users})")),
                Ok(false) => Finding::check(
                    what,
                    false,
                    format!(
                        "this kernel lacks it, so the checks of {users} are not run (no \
                         points either way); use a newer kernel (6.1 or later)"
                    ),
                ),
                Err(e) => Finding::check(what, false, format!("could not probe it: {e}")),
            }
        })
        .collect()
}

/// Loads each part's reference program from `lab`'s reference object and test-runs it once.
fn references(lab: &Lab) -> Vec<Finding> {
    let object = match lab.try_reference() {
        Ok(o) => o,
        Err(e) => {
            return vec![Finding::check(
                format!("reference {}", lab.id),
                false,
                format!("the reference object is unusable: {e}"),
            )];
        }
    };
    lab.parts
        .iter()
        .map(|part| {
            let what = format!("reference {}/{}", lab.id, part.program);
            let missing = host::missing(part.requires);
            if !missing.is_empty() {
                return Finding::new(what, Level::Warn, host::lacks(&missing));
            }
            match object
                .load(Some(part.program))
                .and_then(|mut p| p.test_run(&[0u8; 64]))
            {
                Ok(_) => Finding::check(what, true, "loads and test-runs on this kernel"),
                Err(Error::Verifier {
                    errno, log, insns, ..
                }) => Finding::check(
                    what,
                    false,
                    format!(
                        "this kernel's verifier rejects the reference ({errno}{}):\n{log}\nIts \
                         failures cannot be compared with the reference here, so students' \
                         failures of this part are judged against the contract alone; run the \
                         part on a tested kernel",
                        insns
                            .map(|n| format!(", after {n} instructions"))
                            .unwrap_or_default()
                    ),
                ),
                Err(e) => Finding::check(what, false, format!("the reference cannot run: {e}")),
            }
        })
        .collect()
}

fn leftovers() -> Finding {
    let found = cleanup::survey();
    let dead: Vec<String> = found.namespaces.into_iter().chain(found.pins).collect();
    if !dead.is_empty() {
        return Finding::check(
            "leftovers",
            false,
            format!(
                "{} namespace(s) and pin(s) left by killed runs ({}); run `xdplab clean`",
                dead.len(),
                dead.join(", ")
            ),
        );
    }
    if found.left_alone.is_empty() {
        return Finding::check("leftovers", true, "no namespaces left by killed runs");
    }
    // Not a fault here: another PID namespace's runs, which may well be going.
    let lines: Vec<String> = found
        .left_alone
        .iter()
        .map(|l| format!("{}: {}", l.name, l.reason))
        .collect();
    Finding::new(
        "leftovers",
        Level::Warn,
        format!(
            "none left by killed runs that this process can see; left alone:\n{}",
            lines.join("\n")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Check, Part};

    /// A kernel whose verifier rejects a part's reference program is flagged, with the reason.
    #[test]
    fn a_reference_this_kernel_rejects_is_flagged_with_the_verifiers_reason() {
        let lab = Lab {
            id: "0.0",
            title: "doctor test",
            contract: "",
            reference: crate::lab::tests::rejected,
            parts: vec![Part {
                program: "xdplab_pass",
                counters: None,
                checks: vec![Check::new("0.0", "xdplab_pass", "c", "c")],
                topology: TopologySpec::pair(),
                setup: None,
                requires: &[],
                points: None,
            }],
            environment: None,
        };
        let findings = references(&lab);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(
            (f.what.as_str(), f.level),
            ("reference 0.0/xdplab_pass", Level::Bad)
        );
        assert!(
            f.detail
                .contains("this kernel's verifier rejects the reference"),
            "{}",
            f.detail
        );
        assert!(
            f.detail.contains("invalid access to packet"),
            "{}",
            f.detail
        );
    }
}
