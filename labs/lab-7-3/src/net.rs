//! The lab's network: addresses from the contract and the topology every part runs on.

use std::net::Ipv4Addr;

use harness::{arrival::Backend, fill::Fill};
use kernel::{
    Verdict,
    netconf::NetConfig,
    topology::{CLIENT_MAC, DUT_MAC, End, TopologySpec, Watch},
};
use traffic::MacAddr;

/// The virtual IP the load balancer answers for.
pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 100);
/// The client's address; crafted frames come from it unless a check says otherwise.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The client's MAC.
pub const CLIENT: MacAddr = CLIENT_MAC;
/// The load balancer's MAC (its interface towards the switch) in [`Net::CANONICAL`].
pub const LB_MAC: MacAddr = DUT_MAC;
/// The backends the harness writes into `backends` for `lb_round_robin` and `lb_redirect`
/// under seed 0, in key order: address and MAC.
pub const BACKENDS: [(Ipv4Addr, MacAddr); 3] = [
    (
        Ipv4Addr::new(10, 0, 1, 1),
        MacAddr(0x00, 0x11, 0x22, 0x33, 0x44, 0x01),
    ),
    (
        Ipv4Addr::new(10, 0, 1, 2),
        MacAddr(0x00, 0x11, 0x22, 0x33, 0x44, 0x02),
    ),
    (
        Ipv4Addr::new(10, 0, 1, 3),
        MacAddr(0x00, 0x11, 0x22, 0x33, 0x44, 0x03),
    ),
];
/// The backends of `lb_hash` and `lb_dsr` under seed 0: other addresses and MACs, so a
/// program that writes the first set from its own constants instead of the map fails.
pub const OTHER_BACKENDS: [(Ipv4Addr, MacAddr); 3] = [
    (
        Ipv4Addr::new(10, 0, 7, 21),
        MacAddr(0x02, 0x42, 0xac, 0x11, 0x00, 0x0a),
    ),
    (
        Ipv4Addr::new(10, 0, 3, 9),
        MacAddr(0x02, 0x42, 0xac, 0x11, 0x00, 0x1b),
    ),
    (
        Ipv4Addr::new(10, 0, 12, 200),
        MacAddr(0x02, 0x42, 0xac, 0x11, 0x00, 0x2c),
    ),
];
/// The load balancer's MAC for `lb_hash` and `lb_dsr` under seed 0.
pub const OTHER_LB_MAC: MacAddr = MacAddr(0x02, 0x00, 0x5e, 0x10, 0x00, 0x07);

/// What the harness configures and a program must read rather than assume: the load
/// balancer's MAC (its interface's) and the backends written into `backends`, in key order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Net {
    /// The MAC of `dut/eth0`, where crafted frames are addressed.
    pub lb_mac: MacAddr,
    /// Address and MAC of each backend.
    pub backends: [(Ipv4Addr, MacAddr); 3],
}

impl Net {
    /// The set the README's examples use (`xdplab env up 7.3`).
    pub const CANONICAL: Net = Net {
        lb_mac: LB_MAC,
        backends: BACKENDS,
    };
    /// The second fixed set (seed 0's `lb_hash` and `lb_dsr`).
    pub const OTHER: Net = Net {
        lb_mac: OTHER_LB_MAC,
        backends: OTHER_BACKENDS,
    };

    /// A set drawn by `rng`: backends at distinct addresses of 10.0.0.0/16 other than the
    /// client's, all MACs unicast, locally administered and distinct from the topology's own.
    pub fn draw(rng: &mut harness::vary::Rng) -> Net {
        let mut macs = vec![CLIENT, LB_MAC];
        let mut mac = |rng: &mut harness::vary::Rng| loop {
            let b: [u8; 6] = std::array::from_fn(|_| rng.u8(..));
            let m = MacAddr((b[0] & 0xfc) | 0x02, b[1], b[2], b[3], b[4], b[5]);
            // The switch ports' own MACs are 02:00:00:00:xx:xx.
            if !macs.contains(&m) && m.octets()[..4] != [2, 0, 0, 0] {
                macs.push(m);
                break m;
            }
        };
        let lb_mac = mac(rng);
        let mut ips = vec![CLIENT_IP];
        let backends = std::array::from_fn(|_| {
            let ip = loop {
                let ip = Ipv4Addr::new(10, 0, rng.u8(1..255), rng.u8(1..255));
                if !ips.contains(&ip) {
                    ips.push(ip);
                    break ip;
                }
            };
            (ip, mac(rng))
        });
        Net { lb_mac, backends }
    }
}
/// Namespace roles of the backends, in key order.
pub const BACKEND_NS: [&str; 3] = ["b1", "b2", "b3"];
/// The load balancer's links to the backends (for `lb_redirect`), in key order.
pub const LB_LINKS: [&str; 3] = ["to-b1", "to-b2", "to-b3"];
/// Each backend's end of its direct link to the load balancer.
pub const BACKEND_LINK: &str = "eth1";
/// The namespace role of the load balancer. The harness attaches the program under test to
/// `dut/eth0` and sends crafted frames from its peer, the switch port `sw/lb`.
pub const LB_NS: &str = "dut";
/// The switch's namespace role and its port facing the load balancer.
pub const SWITCH_NS: &str = "sw";
/// The switch port the load balancer hangs off; crafted frames are sent from it.
pub const SWITCH_LB_PORT: &str = "lb";

/// The lab's network, as `xdplab env up 7.3` builds it: a client, the load balancer and three
/// backends on one switch, a direct link from the load balancer to each backend, and the VIP
/// held by every backend (on `lo`, for direct server return).
pub fn topology() -> TopologySpec {
    spec(true, &Net::CANONICAL)
}

/// The network of one part. Only the DSR part puts the VIP on the backends: elsewhere a
/// backend must only accept packets whose destination was rewritten to its own address.
pub(crate) fn spec(vip_on_backends: bool, net: &Net) -> TopologySpec {
    let mut links = vec![
        (
            End::new("client", "eth0", CLIENT).with_addr(CLIENT_IP, 16),
            End::new(SWITCH_NS, "client", MacAddr(0x02, 0, 0, 0, 0x10, 0x01)),
        ),
        // No address on the load balancer: whatever the program passes, its stack drops
        // silently, so nothing it does comes back onto the wire.
        (
            End::new(LB_NS, "eth0", net.lb_mac),
            End::new(
                SWITCH_NS,
                SWITCH_LB_PORT,
                MacAddr(0x02, 0, 0, 0, 0x10, 0x02),
            ),
        ),
    ];
    let mut config = vec![
        NetConfig::Route {
            ns: "client",
            ifname: "eth0",
            dst: VIP,
            prefix: 32,
        },
        NetConfig::Neighbour {
            ns: "client",
            ifname: "eth0",
            ip: VIP,
            mac: net.lb_mac,
        },
    ];
    let mut ports = vec!["client", SWITCH_LB_PORT];
    let mut watch = Vec::new();
    for (i, ((ip, mac), ns)) in net.backends.iter().zip(BACKEND_NS).enumerate() {
        let port = BACKEND_NS[i];
        links.push((
            End::new(ns, "eth0", *mac).with_addr(*ip, 16),
            End::new(
                SWITCH_NS,
                port,
                MacAddr(0x02, 0, 0, 0, 0x10, 0x03 + i as u8),
            ),
        ));
        // The direct link's backend end carries the backend's MAC too, so a frame rewritten
        // for the backend is accepted whichever way it arrives.
        links.push((
            End::new(
                LB_NS,
                LB_LINKS[i],
                MacAddr(0x02, 0, 0, 0, 0x20, 0x01 + i as u8),
            ),
            End::new(ns, BACKEND_LINK, *mac),
        ));
        ports.push(port);
        watch.push(Watch {
            ns,
            ifname: BACKEND_LINK,
            means: Verdict::Redirect,
        });
        config.push(NetConfig::Neighbour {
            ns: "client",
            ifname: "eth0",
            ip: *ip,
            mac: *mac,
        });
        config.push(NetConfig::Neighbour {
            ns,
            ifname: "eth0",
            ip: CLIENT_IP,
            mac: CLIENT,
        });
        if vip_on_backends {
            config.push(NetConfig::Address {
                ns,
                ifname: "lo",
                addr: VIP,
                prefix: 32,
            });
        }
    }
    config.insert(
        0,
        NetConfig::Bridge {
            ns: SWITCH_NS,
            name: "br0",
            ports,
        },
    );
    TopologySpec {
        namespaces: vec!["client", SWITCH_NS, LB_NS, "b1", "b2", "b3"],
        links,
        xdp: (LB_NS, "eth0"),
        watch,
        config,
    }
}

/// The backends as the harness's deliveries name them, in key order.
pub fn backends(net: &Net) -> Vec<Backend> {
    net.backends
        .iter()
        .zip(BACKEND_NS)
        .map(|((ip, mac), ns)| Backend {
            name: ns.to_owned(),
            ns,
            ip: *ip,
            mac: *mac,
        })
        .collect()
}

/// What the harness writes before any frame is sent: the contract's 12-byte `backends` values
/// (address in network order, MAC, two pad bytes) and, for `lb_redirect`, each backend's link
/// in `tx_ports`.
pub fn fills(redirect: bool, net: &Net) -> Vec<Fill> {
    let mut fills = Vec::new();
    for (i, (ip, mac)) in net.backends.iter().enumerate() {
        let mut value = vec![0u8; 12];
        value[..4].copy_from_slice(&ip.octets());
        value[4..10].copy_from_slice(&mac.octets());
        fills.push(Fill::Array {
            map: "backends",
            index: i as u32,
            value,
        });
    }
    if redirect {
        for (i, link) in LB_LINKS.iter().enumerate() {
            fills.push(Fill::Devmap {
                map: "tx_ports",
                index: i as u32,
                ns: LB_NS,
                ifname: link,
            });
        }
    }
    fills
}
