//! Namespaces wired with veth pairs: the small, fixed networks each lab runs on.
//!
//! Every veth is created with its peer directly inside the other namespace, so its fixed short
//! name never exists on the host and parallel runs cannot collide.

use std::{
    net::{IpAddr, Ipv4Addr},
    os::fd::AsRawFd,
    path::Path,
};

use futures::TryStreamExt as _;
use rtnetlink::{
    LinkMessageBuilder, LinkUnspec, LinkVeth,
    packet_route::link::{InfoData, InfoVeth},
};
use traffic::MacAddr;

use crate::{
    cleanup,
    error::{Error, Result},
    ethtool,
    netconf::{self, NetConfig},
    netlink::with_handle,
    netns::Namespace,
    object::{AttachMode, LoadedProgram},
};

/// One end of a veth pair.
#[derive(Debug, Clone)]
pub struct End {
    /// The namespace role it lives in (for example `client`).
    pub ns: &'static str,
    /// The interface name inside that namespace (at most 15 bytes).
    pub ifname: &'static str,
    /// Its fixed MAC address.
    pub mac: MacAddr,
    /// An IPv4 address with prefix length, when the lab needs the stack to answer.
    pub addr: Option<(Ipv4Addr, u8)>,
}

impl End {
    /// An end with no IP address: the stack drops whatever it receives, so nothing answers
    /// crafted frames.
    pub fn new(ns: &'static str, ifname: &'static str, mac: MacAddr) -> Self {
        Self {
            ns,
            ifname,
            mac,
            addr: None,
        }
    }

    /// The same end with an IPv4 address.
    pub fn with_addr(mut self, addr: Ipv4Addr, prefix: u8) -> Self {
        self.addr = Some((addr, prefix));
        self
    }
}

/// A lab's network: namespace roles, the veth pairs between them, where the program sits and
/// where its output is watched.
#[derive(Debug, Clone)]
pub struct TopologySpec {
    /// The namespace roles, created in this order.
    pub namespaces: Vec<&'static str>,
    /// The veth pairs.
    pub links: Vec<(End, End)>,
    /// The interface (namespace role, name) the program under test is attached to. Frames are
    /// sent from its peer, and frames arriving back at the peer count as TX.
    pub xdp: (&'static str, &'static str),
    /// Further interfaces to watch, and the verdict a frame seen there stands for.
    pub watch: Vec<Watch>,
    /// Wiring beyond the veths (bridges, extra addresses, routes, neighbours), applied in order
    /// after every link is up.
    pub config: Vec<NetConfig>,
}

/// An interface where frames leaving the program show up, and what seeing one there means.
#[derive(Debug, Clone)]
pub struct Watch {
    /// Namespace role.
    pub ns: &'static str,
    /// Interface name.
    pub ifname: &'static str,
    /// The verdict a frame seen there stands for (TX through a switch, REDIRECT, ...).
    pub means: crate::verdict::Verdict,
}

/// MAC of the sending side in [`TopologySpec::pair`].
pub const CLIENT_MAC: MacAddr = MacAddr(0x02, 0x00, 0x00, 0x00, 0x00, 0x01);
/// MAC of the interface the program under test sits on in [`TopologySpec::pair`].
pub const DUT_MAC: MacAddr = MacAddr(0x02, 0x00, 0x00, 0x00, 0x00, 0x02);

impl TopologySpec {
    /// The simplest lab network: `client/eth0` ⇄ `dut/eth0`, the program sits on `dut/eth0`.
    pub fn pair() -> Self {
        Self {
            namespaces: vec!["client", "dut"],
            links: vec![(
                End::new("client", "eth0", CLIENT_MAC),
                End::new("dut", "eth0", DUT_MAC),
            )],
            xdp: ("dut", "eth0"),
            watch: Vec::new(),
            config: Vec::new(),
        }
    }
}

/// An interface of a live topology.
#[derive(Debug, Clone)]
pub struct Iface {
    /// The namespace role it lives in.
    pub ns: &'static str,
    /// Its name inside that namespace.
    pub ifname: &'static str,
    /// Its index inside that namespace.
    pub ifindex: u32,
    /// Its MAC address.
    pub mac: MacAddr,
    /// Index into [`Topology::ifaces`] of the other end of its veth.
    pub peer: usize,
}

/// A live topology. Dropping it deletes the namespaces, and with them every veth.
#[derive(Debug)]
pub struct Topology {
    namespaces: Vec<(&'static str, Namespace)>,
    ifaces: Vec<Iface>,
}

impl Topology {
    /// Applies one wiring step, each in the namespace it names.
    fn apply(&self, step: &NetConfig) -> Result<()> {
        match step {
            NetConfig::Bridge { ns, name, ports } => {
                if name.len() > 15 {
                    return Err(Error::env(format!(
                        "bridge name `{name}` is longer than 15 bytes"
                    )));
                }
                let mut members = Vec::new();
                for port in ports {
                    let iface = self.iface(ns, port)?;
                    members.push((iface.ifindex, self.ifaces()[iface.peer].mac));
                }
                self.ns(ns)?.run(|| netconf::bridge(name, &members))?
            }
            NetConfig::Address {
                ns,
                ifname,
                addr,
                prefix,
            } => self
                .ns(ns)?
                .run(|| netconf::address(ifname, *addr, *prefix))?,
            NetConfig::Route {
                ns,
                ifname,
                dst,
                prefix,
            } => self.ns(ns)?.run(|| netconf::route(ifname, *dst, *prefix))?,
            NetConfig::Neighbour {
                ns,
                ifname,
                ip,
                mac,
            } => self.ns(ns)?.run(|| netconf::neighbour(ifname, *ip, *mac))?,
        }
    }

    /// Creates the namespaces and veths of `spec`, addressed and up, with IPv6
    /// autoconfiguration off and the offloads that hide checksums or VLAN tags off.
    pub fn create(spec: &TopologySpec) -> Result<Self> {
        Self::create_with(spec, Namespace::create)
    }

    /// Creates `spec` for interactive exploration: namespaces `xdplab-env-<role>` that stay
    /// after this process exits. Returns (role, namespace name) pairs.
    ///
    /// With a `program`, attaches it where the spec says, in generic mode (its XDP_TX frames
    /// then reach the peer, which has no XDP program of its own), so that it stays after this
    /// process: the program and its link are pinned in [`cleanup::ENV_PIN_DIR`]. When that
    /// fails, nothing is left behind.
    pub fn create_environment(
        spec: &TopologySpec,
        program: Option<&mut LoadedProgram>,
    ) -> Result<Vec<(&'static str, String)>> {
        let topo = Self::create_with(spec, Namespace::create_environment)?;
        if let Some(program) = program {
            let dir = Path::new(cleanup::ENV_PIN_DIR);
            let mut attach = || -> Result<()> {
                crate::object::ensure_bpffs()?;
                // What an earlier environment left (its namespaces, and so its interfaces, are
                // gone: they exist only when `env up` refuses to run).
                let _ = std::fs::remove_dir_all(dir);
                std::fs::create_dir_all(dir)
                    .map_err(Error::during(format!("creating {}", dir.display())))?;
                let iface = topo.iface(spec.xdp.0, spec.xdp.1)?;
                let link = dir.join(cleanup::ENV_LINK_PIN);
                topo.ns(iface.ns)?
                    .run(|| program.attach_kept(iface.ifindex, AttachMode::Generic, dir, &link))?
            };
            if let Err(e) = attach() {
                let _ = std::fs::remove_dir_all(dir);
                return Err(e);
            }
        }
        Ok(topo
            .namespaces
            .into_iter()
            .map(|(role, ns)| (role, ns.keep()))
            .collect())
    }

    fn create_with(spec: &TopologySpec, new_ns: fn(&str) -> Result<Namespace>) -> Result<Self> {
        for (a, b) in &spec.links {
            for end in [a, b] {
                if end.ifname.len() > 15 {
                    return Err(Error::env(format!(
                        "interface name `{}` is longer than 15 bytes",
                        end.ifname
                    )));
                }
            }
        }
        let mut topo = Topology {
            namespaces: Vec::new(),
            ifaces: Vec::new(),
        };
        for role in &spec.namespaces {
            let ns = new_ns(role)?;
            // Before any link exists, so that new interfaces inherit it: no IPv6, hence no router
            // solicitations or DAD frames in the captures.
            ns.run(|| {
                for conf in ["default", "all"] {
                    let _ =
                        std::fs::write(format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6"), "1");
                }
            })?;
            topo.namespaces.push((role, ns));
        }
        for (a, b) in &spec.links {
            let ns_b = topo.ns(b.ns)?;
            let ns_b_fd = ns_b.fd().as_raw_fd();
            topo.ns(a.ns)?
                .run(|| with_handle(|h| add_veth(h, a, b, ns_b_fd)))??;
            let ia = topo.ifaces.len();
            for (i, end) in [a, b].into_iter().enumerate() {
                let ifindex = topo.ns(end.ns)?.run(|| configure(end))??;
                topo.ifaces.push(Iface {
                    ns: end.ns,
                    ifname: end.ifname,
                    ifindex,
                    mac: end.mac,
                    peer: if i == 0 { ia + 1 } else { ia },
                });
            }
        }
        // Until the kernel's link watcher marks a veth up it still has the no-op qdisc, which
        // silently drops what is sent; wait for that event rather than lose the first frames.
        for iface in &topo.ifaces {
            topo.ns(iface.ns)?.run(|| wait_until_up(iface.ifindex))??;
        }
        for step in &spec.config {
            topo.apply(step)?;
        }
        Ok(topo)
    }

    /// The namespace with the given role.
    pub fn ns(&self, role: &str) -> Result<&Namespace> {
        self.namespaces
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, ns)| ns)
            .ok_or_else(|| Error::env(format!("topology has no namespace `{role}`")))
    }

    /// Every interface, in the order the spec's links list them (a, b, a, b, ...).
    pub fn ifaces(&self) -> &[Iface] {
        &self.ifaces
    }

    /// The interface `ifname` in namespace `ns`.
    pub fn iface(&self, ns: &str, ifname: &str) -> Result<&Iface> {
        self.ifaces
            .iter()
            .find(|i| i.ns == ns && i.ifname == ifname)
            .ok_or_else(|| Error::env(format!("topology has no interface {ns}/{ifname}")))
    }

    /// The namespaces' names, as `ip netns` shows them.
    pub fn namespace_names(&self) -> Vec<(&'static str, String)> {
        self.namespaces
            .iter()
            .map(|(r, ns)| (*r, ns.name().to_owned()))
            .collect()
    }
}

async fn add_veth(
    h: rtnetlink::Handle,
    a: &End,
    b: &End,
    ns_b: i32,
) -> Result<(), rtnetlink::Error> {
    let peer = LinkMessageBuilder::<LinkUnspec>::new()
        .name(b.ifname.to_owned())
        .address(b.mac.octets().to_vec())
        .setns_by_fd(ns_b)
        .build();
    let msg = LinkVeth::new(a.ifname, b.ifname)
        .address(a.mac.octets().to_vec())
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .build();
    h.link().add(msg).execute().await
}

/// Runs inside the interface's namespace: polls netlink until its operational state is UP.
fn wait_until_up(ifindex: u32) -> Result<()> {
    use rtnetlink::packet_route::link::{LinkAttribute, State};
    const DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);
    let start = std::time::Instant::now();
    with_handle(|h| async move {
        loop {
            let mut links = h.link().get().match_index(ifindex).execute();
            let link = links
                .try_next()
                .await?
                .ok_or(rtnetlink::Error::RequestFailed)?;
            let up = link
                .attributes
                .iter()
                .any(|a| matches!(a, LinkAttribute::OperState(State::Up)));
            if up || start.elapsed() > DEADLINE {
                return Ok(up);
            }
            tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        }
    })
    .and_then(|up| {
        if up {
            Ok(())
        } else {
            Err(Error::env(format!(
                "interface {ifindex} did not come up within {DEADLINE:?}"
            )))
        }
    })
}

/// Runs inside the end's namespace: offloads off, address, up. Returns the ifindex.
fn configure(end: &End) -> Result<u32> {
    ethtool::disable_offloads(end.ifname)?;
    with_handle(|h| async move {
        let mut links = h.link().get().match_name(end.ifname.to_owned()).execute();
        let link = links
            .try_next()
            .await?
            .ok_or(rtnetlink::Error::RequestFailed)?;
        let index = link.header.index;
        if let Some((ip, prefix)) = end.addr {
            h.address()
                .add(index, IpAddr::V4(ip), prefix)
                .execute()
                .await?;
        }
        h.link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await?;
        Ok(index)
    })
}
