//! Wiring beyond veth pairs, for labs whose network is more than a pair of namespaces: a
//! switch (bridge), extra addresses, on-link routes and static neighbour entries.
//!
//! Every step is deterministic on purpose. The bridge knows each station from the start and
//! never learns or floods unknown unicast, and neighbours are static, so no ARP or learning
//! traffic reaches the program under test and a frame goes exactly where its addresses say.

use std::net::{IpAddr, Ipv4Addr};

use rtnetlink::{
    LinkBridge, LinkBridgePort, LinkUnspec, RouteMessageBuilder,
    packet_route::{neighbour::NeighbourState, route::RouteScope},
};
use traffic::MacAddr;

use crate::{
    error::{Error, Result},
    ethtool,
    netlink::{index_of, with_handle},
};

/// One wiring step of a topology's spec (`TopologySpec::config`), applied in order once every veth is
/// up.
#[derive(Debug, Clone)]
pub enum NetConfig {
    /// A bridge `name` in namespace `ns` with `ports` (veth ends of that namespace) as a
    /// configured switch: it knows the station behind each port (the MAC of the port's veth
    /// peer, as a static entry) and neither learns nor floods unknown unicast. A frame reaches
    /// exactly the port its destination MAC names, or no port at all, and is never filtered
    /// (bridge netfilter is off in `ns`: a bad IPv4 checksum is delivered like any frame).
    Bridge {
        /// Namespace role.
        ns: &'static str,
        /// The bridge's name (at most 15 bytes).
        name: &'static str,
        /// Interfaces of `ns` to enslave.
        ports: Vec<&'static str>,
    },
    /// An extra IPv4 address on an interface (`lo` included, which is brought up).
    Address {
        /// Namespace role.
        ns: &'static str,
        /// Interface name.
        ifname: &'static str,
        /// The address.
        addr: Ipv4Addr,
        /// Its prefix length.
        prefix: u8,
    },
    /// An on-link route to `dst/prefix` out of `ifname`.
    Route {
        /// Namespace role.
        ns: &'static str,
        /// Interface name.
        ifname: &'static str,
        /// Destination network.
        dst: Ipv4Addr,
        /// Its prefix length.
        prefix: u8,
    },
    /// A permanent neighbour (ARP) entry, so the stack never asks on the wire.
    Neighbour {
        /// Namespace role.
        ns: &'static str,
        /// Interface name.
        ifname: &'static str,
        /// The neighbour's address.
        ip: Ipv4Addr,
        /// Its MAC.
        mac: MacAddr,
    },
}

/// Runs inside the interface's namespace: gives `ifname` the address `addr/prefix` and brings it
/// up.
pub(crate) fn address(ifname: &str, addr: Ipv4Addr, prefix: u8) -> Result<()> {
    with_handle(|h| async move {
        let index = index_of(&h, ifname).await?;
        h.address()
            .add(index, IpAddr::V4(addr), prefix)
            .execute()
            .await?;
        h.link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
    })
}

/// Runs inside the interface's namespace: routes `dst/prefix` on-link through `ifname`.
pub(crate) fn route(ifname: &str, dst: Ipv4Addr, prefix: u8) -> Result<()> {
    with_handle(|h| async move {
        let index = index_of(&h, ifname).await?;
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(dst, prefix)
            .output_interface(index)
            .scope(RouteScope::Link)
            .build();
        h.route().add(route).execute().await
    })
}

/// Runs inside the interface's namespace: a permanent neighbour entry `ip -> mac` on `ifname`.
pub(crate) fn neighbour(ifname: &str, ip: Ipv4Addr, mac: MacAddr) -> Result<()> {
    with_handle(|h| async move {
        let index = index_of(&h, ifname).await?;
        h.neighbours()
            .add(index, IpAddr::V4(ip))
            .link_layer_address(&mac.octets())
            .state(NeighbourState::Permanent)
            .execute()
            .await
    })
}

/// Runs inside the bridge's namespace: creates it, enslaves the ports with learning and unicast
/// flooding off, and adds a static FDB entry for the station behind each port.
pub(crate) fn bridge(name: &str, members: &[(u32, MacAddr)]) -> Result<()> {
    with_handle(|h| async move {
        h.link()
            .add(LinkBridge::new(name).build())
            .execute()
            .await?;
        let index = index_of(&h, name).await?;
        for (port, _) in members {
            h.link()
                .set(LinkUnspec::new_with_index(*port).controller(index).build())
                .execute()
                .await?;
            h.link()
                .set_port(
                    LinkBridgePort::new(*port)
                        .learning(false)
                        .flood(false)
                        .build(),
                )
                .execute()
                .await?;
        }
        for (port, mac) in members {
            // NOARP is "static": forwarded to the port. PERMANENT would mean "local" (the
            // bridge's own address) and deliver the frame to the bridge itself.
            h.neighbours()
                .add_bridge(*port, &mac.octets())
                .state(NeighbourState::Noarp)
                .execute()
                .await?;
        }
        Ok(())
    })?;
    bridge_netfilter_off()?;
    // The bridge is a new interface: the same offloads off as on the veths.
    ethtool::disable_offloads(name)
}

/// The bridge netfilter switches of the calling thread's namespace: on a host with
/// `br_netfilter` (any Docker host) they are on in new namespaces too, and a bridge then drops
/// frames with a bad IPv4 checksum before they reach a port (see shared/field-notes.md).
const BRIDGE_NETFILTER: [&str; 3] = [
    "bridge-nf-call-iptables",
    "bridge-nf-call-ip6tables",
    "bridge-nf-call-arptables",
];

/// Runs inside the switch's namespace: a switch forwards by MAC and never filters, so bridge
/// netfilter is turned off there. Without `br_netfilter` the switches do not exist, and there
/// is nothing to turn off. (They are per namespace since Linux 5.3; the labs need 6.1.)
fn bridge_netfilter_off() -> Result<()> {
    for key in BRIDGE_NETFILTER {
        let path = format!("/proc/sys/net/bridge/{key}");
        match std::fs::write(&path, "0") {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::op(format!("cannot turn off {key} in the switch"), e)),
        }
    }
    Ok(())
}

/// Runs `f` on a short-lived thread inside the named namespace (as `ip netns` names it), for
/// work that needs both a namespace and something a `Topology` borrow would lock, such as
/// filling a DEVMAP of the program under test.
pub fn run_in_named<T: Send>(name: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
    let ns = netns_rs::NetNs::get(name)
        .map_err(|e| Error::op(format!("cannot open network namespace {name}"), e))?;
    std::thread::scope(|s| {
        s.spawn(|| {
            ns.enter()
                .map_err(|e| Error::op(format!("cannot enter namespace {name}"), e))?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

#[cfg(test)]
mod tests {
    use std::{path::Path, time::Duration};

    use traffic::{FrameBuilder, MacAddr, PacketSocket};

    use super::*;
    use crate::topology::{End, Topology, TopologySpec};

    /// Makes sure `br_netfilter` is in the kernel (built in, or loaded by `modprobe`); `false`
    /// when the kernel has no such module.
    fn br_netfilter() -> bool {
        let present = || Path::new("/proc/sys/net/bridge/bridge-nf-call-iptables").exists();
        if present() {
            return true;
        }
        let loaded = std::process::Command::new("modprobe")
            .arg("br_netfilter")
            .status()
            .is_ok_and(|s| s.success());
        loaded && present()
    }

    /// With br_netfilter in the kernel (which turns bridge-nf-call-iptables on in new
    /// namespaces too), a switch still delivers an IPv4 frame whose header checksum is wrong.
    #[test]
    fn the_switch_delivers_a_bad_checksum_with_br_netfilter_loaded() {
        if !br_netfilter() {
            eprintln!(
                "SKIPPED: this kernel has no br_netfilter module (modprobe br_netfilter failed \
                 and /proc/sys/net/bridge does not exist), so there is no bridge netfilter to \
                 turn off"
            );
            return;
        }
        let (a, b) = (MacAddr(2, 0, 0, 0, 0x20, 1), MacAddr(2, 0, 0, 0, 0x20, 2));
        let spec = TopologySpec {
            namespaces: vec!["a", "sw", "b"],
            links: vec![
                (
                    End::new("a", "eth0", a),
                    End::new("sw", "pa", MacAddr(2, 0, 0, 0, 0x21, 1)),
                ),
                (
                    End::new("b", "eth0", b),
                    End::new("sw", "pb", MacAddr(2, 0, 0, 0, 0x21, 2)),
                ),
            ],
            xdp: ("a", "eth0"),
            watch: Vec::new(),
            config: vec![NetConfig::Bridge {
                ns: "sw",
                name: "br0",
                ports: vec!["pa", "pb"],
            }],
        };
        let topology = Topology::create(&spec).expect("topology");
        let switch = topology
            .ns("sw")
            .unwrap()
            .run(|| std::fs::read_to_string("/proc/sys/net/bridge/bridge-nf-call-iptables"))
            .unwrap()
            .expect("the switch namespace has the sysctl");
        assert_eq!(switch.trim(), "0");
        let open = |ns: &str| {
            let iface = topology.iface(ns, "eth0").unwrap().clone();
            topology
                .ns(ns)
                .unwrap()
                .run(|| PacketSocket::open(iface.ifindex))
                .unwrap()
                .expect("socket")
        };
        let (mut from, mut to) = (open("a"), open("b"));
        let frame = |bad: bool, port: u16| {
            let f = FrameBuilder::ethernet(a, b)
                .ipv4("10.9.0.1".parse().unwrap(), "10.9.0.2".parse().unwrap())
                .udp(4000, port);
            if bad { f.bad_ip_checksum() } else { f }.build()
        };
        let (bad, good) = (frame(true, 1), frame(false, 2));
        // The good frame follows the bad one through the same FIFO path: once it is seen, the
        // bad one has been delivered or dropped.
        from.send(&bad).expect("send");
        from.send(&good).expect("send");
        let mut seen = Vec::new();
        while !seen.contains(&good) {
            let got = to.recv(Duration::from_secs(2)).expect("recv");
            seen.push(got.expect("the good frame arrives"));
        }
        assert!(seen.contains(&bad), "the bad-checksum frame was filtered");
    }
}
