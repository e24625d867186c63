//! The XDP program attached to an interface now, as the course's `attach-xdp`, `ip link set
//! ... xdp` or any other loader left it. It stays attached there: the harness attaches the
//! same program to its own veth as well.

use futures::TryStreamExt as _;
use rtnetlink::packet_route::link::{LinkAttribute, LinkXdp};

use crate::{
    error::{Error, Result},
    netlink::with_handle,
    object::{LoadedProgram, ProgramSource},
    source::{adopt::adopt, prog_id::xdp_by_id},
};

/// The program attached to `iface` (in namespace `netns`, or the harness's own), under the
/// contract's program name.
#[derive(Debug, Clone)]
pub struct AttachedProgram {
    iface: String,
    netns: Option<String>,
    id: u32,
    name: String,
}

impl AttachedProgram {
    /// Finds the program attached to `iface`. It is judged as `program`, or under its kernel
    /// name when no name is given.
    pub fn open(iface: &str, netns: Option<&str>, program: Option<&str>) -> Result<Self> {
        if let Some(ns) = netns {
            check_netns_name(ns)?;
        }
        let what = match netns {
            Some(ns) => format!("interface {iface} in namespace {ns}"),
            None => format!("interface {iface}"),
        };
        let id = attached_id(iface, netns, &what)?;
        let name = match program {
            Some(p) => p.to_owned(),
            None => kernel_name(id).ok_or_else(|| Error::NotLoaded {
                what: what.clone(),
                reason: format!("the program attached there (id {id}) has no name"),
                fix: "Say which of the lab's programs it is with `--program NAME`.".into(),
            })?,
        };
        Ok(Self {
            iface: iface.to_owned(),
            netns: netns.map(str::to_owned),
            id,
            name,
        })
    }

    /// The kernel id of the attached program.
    pub fn id(&self) -> u32 {
        self.id
    }
}

/// Refuses a `--netns` that cannot name a namespace: `ip netns` keeps them as files in
/// /run/netns, so the name is one file name there (and never a path out of it).
fn check_netns_name(ns: &str) -> Result<()> {
    let reason = if ns.is_empty() {
        "is empty"
    } else if ns == "." || ns == ".." {
        "is not a name but a directory"
    } else if ns.contains('/') {
        "contains `/`"
    } else if ns.contains('\0') {
        "contains a NUL byte"
    } else if ns.len() > 255 {
        "is longer than 255 bytes"
    } else {
        return Ok(());
    };
    Err(Error::usage(format!(
        "--netns {ns:?} {reason}: it takes the name of a network namespace as `ip netns list` \
         shows it (`--netns lab`, not a path); leave --netns out for an interface of the host's \
         namespace."
    )))
}

/// The id of the XDP program attached to `iface`, read from the link's IFLA_XDP attributes.
fn attached_id(iface: &str, netns: Option<&str>, what: &str) -> Result<u32> {
    let query = || {
        with_handle(|h| async move {
            let mut links = h.link().get().match_name(iface.to_owned()).execute();
            let Some(link) = links.try_next().await.ok().flatten() else {
                return Ok(None);
            };
            let id = link.attributes.iter().find_map(|a| match a {
                LinkAttribute::Xdp(xdp) => xdp.iter().find_map(|x| match x {
                    LinkXdp::ProgId(id) | LinkXdp::DrvProgId(id) | LinkXdp::SkbProgId(id) => {
                        Some(*id)
                    }
                    _ => None,
                }),
                _ => None,
            });
            Ok(Some(id))
        })
    };
    let found = match netns {
        None => std::thread::scope(|s| s.spawn(query).join().expect("netlink query")),
        Some(ns) => {
            let handle = netns_rs::NetNs::get(ns).map_err(|e| Error::NotLoaded {
                what: what.to_owned(),
                reason: format!("there is no network namespace {ns} ({e})"),
                fix: "`ip netns list` shows the namespaces; leave out --netns for the \
                      host's."
                    .into(),
            })?;
            std::thread::scope(|s| {
                s.spawn(|| {
                    handle
                        .enter()
                        .map_err(|e| Error::op(format!("cannot enter namespace {ns}"), e))?;
                    query()
                })
                .join()
                .expect("netlink query")
            })
        }
    }?;
    match found {
        None => Err(Error::NotLoaded {
            what: what.to_owned(),
            reason: "there is no such interface".into(),
            fix: "`ip link` lists the interfaces (`ip -n NS link` in a namespace; pass \
                  --netns NS for an interface there)."
                .into(),
        }),
        Some(None | Some(0)) => Err(Error::NotLoaded {
            what: what.to_owned(),
            reason: "no XDP program is attached to it".into(),
            fix: "Attach it first (the Clojure library's `attach-xdp`, or `ip link set dev \
                  IFACE xdp obj prog.o sec xdp`), or pass --pinned or --prog-id instead."
                .into(),
        }),
        Some(Some(id)) => Ok(id),
    }
}

fn kernel_name(id: u32) -> Option<String> {
    aya::programs::loaded_programs()
        .filter_map(std::result::Result::ok)
        .find(|p| p.id() == id)
        .and_then(|p| p.name_as_str().map(str::to_owned))
        .filter(|n| !n.is_empty())
}

impl ProgramSource for AttachedProgram {
    fn origin(&self) -> String {
        match &self.netns {
            Some(ns) => format!("program {} attached to {ns}/{}", self.id, self.iface),
            None => format!("program {} attached to {}", self.id, self.iface),
        }
    }

    fn programs(&self) -> Vec<String> {
        vec![self.name.clone()]
    }

    fn load(&self, program: &str) -> Result<LoadedProgram> {
        if program != self.name {
            return Err(Error::ProgramNotFound {
                name: program.into(),
                available: format!(
                    "{} (attached to {}; pass --program NAME to judge it as another of the \
                     lab's programs)",
                    self.name, self.iface
                ),
                hint: None,
            });
        }
        let xdp = xdp_by_id(self.id, program, &self.origin())?;
        adopt(program, xdp, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_names_are_file_names_in_run_netns() {
        for ok in ["lab", "xdplab-env-client", "a.b", &"n".repeat(255)] {
            assert!(check_netns_name(ok).is_ok(), "{ok}");
        }
        for (bad, reason) in [
            ("", "is empty"),
            (".", "directory"),
            ("..", "directory"),
            ("../../x", "contains `/`"),
            ("a\0b", "NUL"),
            (&"n".repeat(256), "255 bytes"),
        ] {
            let e = check_netns_name(bad).unwrap_err();
            assert_eq!(e.class(), crate::FailureClass::Usage, "{bad}");
            let message = e.to_string();
            assert!(message.contains(reason), "{message}");
            assert!(message.contains("ip netns list"), "{message}");
        }
        // Refused before anything is looked up.
        let e = AttachedProgram::open("eth0", Some(""), None).unwrap_err();
        assert_eq!(e.class(), crate::FailureClass::Usage);
    }
}
