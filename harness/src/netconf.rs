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
    /// exactly the port its destination MAC names, or no port at all.
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
    // The bridge is a new interface: the same offloads off as on the veths.
    ethtool::disable_offloads(name)
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
