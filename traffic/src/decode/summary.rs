//! The one-line-per-layer text form of a [`Decoded`] frame, for snapshot tests and reports.
//!
//! Every line starts with the layer name, fields come in a fixed order, and optional fields
//! appear only when they carry information (a DF flag, a nonzero priority), so a snapshot
//! changes only when the frame does.

use std::fmt::{self, Display, Formatter};

use pnet::packet::ethernet::EtherType;
use pnet::packet::ip::IpNextHeaderProtocol;
use pnet::packet::tcp::TcpFlags;

use super::{Arp, Decoded, Eth, Icmp, Ipv4, Ipv6, Tcp, Udp, Vlan, tcp_options};
use crate::proto::{ethertype_name, ip_proto_name};

impl Display for Decoded {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let layers: [Option<&dyn Display>; 8] = [
            self.eth.as_ref().map(|l| l as &dyn Display),
            self.vlan.as_ref().map(|l| l as &dyn Display),
            self.ipv4.as_ref().map(|l| l as &dyn Display),
            self.ipv6.as_ref().map(|l| l as &dyn Display),
            self.arp.as_ref().map(|l| l as &dyn Display),
            self.tcp.as_ref().map(|l| l as &dyn Display),
            self.udp.as_ref().map(|l| l as &dyn Display),
            self.icmp.as_ref().map(|l| l as &dyn Display),
        ];
        let mut lines: Vec<String> = layers
            .into_iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        let truncation = self.truncation.filter(|t| t.layer != "payload");
        if let Some(len) = self.payload_len {
            let mut line = match self.truncation.filter(|t| t.layer == "payload") {
                Some(t) => format!("payload truncated: {} of {} bytes", t.have, t.need),
                None => format!("payload {len} bytes"),
            };
            if let Some(tag) = self.payload_tag {
                line += &format!(" tag {tag}");
            }
            lines.push(line);
        }
        if self.padding_len > 0 {
            lines.push(format!("padding {} bytes", self.padding_len));
        }
        if let Some(t) = truncation {
            lines.push(format!(
                "{} truncated: {} of {} bytes",
                t.layer, t.have, t.need
            ));
        }
        if let Some(m) = &self.malformed {
            lines.push(format!("{} malformed: {}", m.layer, m.reason));
        }
        f.write_str(&lines.join("\n"))
    }
}

impl Display for Eth {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let ethertype = ethertype_name(EtherType(self.ethertype));
        write!(f, "eth {} > {} type {ethertype}", self.src, self.dst)
    }
}

impl Display for Vlan {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "vlan {}", self.vid)?;
        if self.pcp != 0 {
            write!(f, " pcp {}", self.pcp)?;
        }
        if self.dei {
            f.write_str(" dei")?;
        }
        write!(f, " type {}", ethertype_name(EtherType(self.ethertype)))
    }
}

impl Display for Ipv4 {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let proto = ip_proto_name(IpNextHeaderProtocol(self.proto));
        write!(
            f,
            "ipv4 {} > {} ihl {} ttl {} id {} proto {proto} len {}",
            self.src, self.dst, self.ihl, self.ttl, self.id, self.total_len
        )?;
        if self.tos != 0 {
            write!(f, " tos 0x{:02x}", self.tos)?;
        }
        if self.df {
            f.write_str(" df")?;
        }
        if self.mf {
            f.write_str(" mf")?;
        }
        if self.frag_offset != 0 {
            write!(f, " frag {}", self.frag_offset)?;
        }
        write!(f, " csum {}", self.csum)
    }
}

impl Display for Ipv6 {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let next = ip_proto_name(IpNextHeaderProtocol(self.next_header));
        write!(
            f,
            "ipv6 {} > {} flow {} hlim {} next {next} len {}",
            self.src, self.dst, self.flow_label, self.hop_limit, self.payload_len
        )?;
        if self.traffic_class != 0 {
            write!(f, " tc 0x{:02x}", self.traffic_class)?;
        }
        Ok(())
    }
}

impl Display for Arp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.op {
            1 => f.write_str("arp request")?,
            2 => f.write_str("arp reply")?,
            op => write!(f, "arp op {op}")?,
        }
        write!(
            f,
            " {} {} > {} {}",
            self.sender_mac, self.sender_ip, self.target_mac, self.target_ip
        )
    }
}

impl Display for Tcp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tcp {} > {} [{}] seq {} ack {} win {}",
            self.sport,
            self.dport,
            flag_letters(self.flags),
            self.seq,
            self.ack,
            self.window
        )?;
        if !self.options.is_empty() {
            let opts: Vec<String> = tcp_options::parse(&self.options)
                .iter()
                .map(ToString::to_string)
                .collect();
            write!(f, " options [{}]", opts.join(","))?;
        }
        write!(f, " csum {}", self.csum)
    }
}

/// TCP flags as tcpdump prints them: "S" for SYN, "S." for SYN-ACK, "none" for none.
fn flag_letters(flags: u8) -> String {
    const LETTERS: [(u8, char); 8] = [
        (TcpFlags::FIN, 'F'),
        (TcpFlags::SYN, 'S'),
        (TcpFlags::RST, 'R'),
        (TcpFlags::PSH, 'P'),
        (TcpFlags::ACK, '.'),
        (TcpFlags::URG, 'U'),
        (TcpFlags::ECE, 'E'),
        (TcpFlags::CWR, 'W'),
    ];
    let letters: String = LETTERS
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, c)| c)
        .collect();
    if letters.is_empty() {
        "none".into()
    } else {
        letters
    }
}

impl Display for Udp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "udp {} > {} len {} csum {}",
            self.sport, self.dport, self.len, self.csum
        )
    }
}

impl Display for Icmp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(if self.v6 { "icmpv6" } else { "icmp" })?;
        let echo_name = match (self.v6, self.icmp_type) {
            (false, 8) | (true, 128) => Some("echo-request"),
            (false, 0) | (true, 129) => Some("echo-reply"),
            _ => None,
        };
        match (echo_name, self.echo) {
            (Some(name), Some(echo)) => {
                write!(f, " {name} id {} seq {}", echo.id, echo.seq)?;
                if self.code != 0 {
                    write!(f, " code {}", self.code)?;
                }
            }
            _ => write!(f, " type {} code {}", self.icmp_type, self.code)?,
        }
        write!(f, " csum {}", self.csum)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use pnet::util::MacAddr;

    use crate::build::{FrameBuilder, Tag};
    use crate::decode::decode;
    use pnet::packet::tcp::TcpFlags;

    fn eth() -> FrameBuilder {
        FrameBuilder::ethernet(MacAddr(2, 0, 0, 0, 0, 1), MacAddr(2, 0, 0, 0, 0, 2))
    }
    const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    fn summary(b: FrameBuilder) -> String {
        decode(&b.build()).to_string()
    }

    #[test]
    fn tcp_syn() {
        let b = eth()
            .ipv4(IP_A, IP_B)
            .tcp(40000, 22)
            .tcp_options(&[2, 4, 5, 0xb4])
            .tag(Tag(7));
        assert_eq!(
            summary(b),
            "eth 02:00:00:00:00:01 > 02:00:00:00:00:02 type ipv4\n\
             ipv4 10.0.0.1 > 10.0.0.2 ihl 5 ttl 64 id 7 proto tcp len 52 csum ok\n\
             tcp 40000 > 22 [S] seq 1 ack 0 win 64240 options [mss 1460] csum ok\n\
             payload 8 bytes tag #7"
        );
    }

    #[test]
    fn broken_and_cut() {
        let b = eth()
            .vlan(7)
            .ipv4(IP_A, IP_B)
            .udp(1, 2)
            .payload(b"abcdef")
            .bad_ip_checksum()
            .bad_l4_checksum()
            .truncate(40);
        let text = summary(b);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "vlan 7 type ipv4");
        assert!(
            lines[2].starts_with(
                "ipv4 10.0.0.1 > 10.0.0.2 ihl 5 ttl 64 id 0 proto udp len 34 csum BAD (0x"
            ),
            "{text}"
        );
        assert!(lines[2].ends_with(')'), "{text}");
        assert_eq!(lines[3], "udp truncated: 2 of 8 bytes");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn payload_cut_and_unchecked_checksum() {
        let b = eth()
            .ipv4(IP_A, IP_B)
            .udp(1, 2)
            .payload(b"abcdef")
            .truncate(44);
        let text = summary(b);
        assert!(
            text.ends_with("udp 1 > 2 len 14 csum unchecked\npayload truncated: 2 of 6 bytes"),
            "{text}"
        );
    }

    #[test]
    fn ipv6_icmp_echo() {
        let a6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
        let b6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
        let text = summary(eth().ipv6(a6, b6).icmp_echo(3, 4).tag(Tag(5)));
        assert_eq!(
            text.lines().skip(1).collect::<Vec<_>>(),
            [
                "ipv6 fd00::1 > fd00::2 flow 5 hlim 64 next icmpv6 len 16",
                "icmpv6 echo-request id 3 seq 4 csum ok",
                "payload 8 bytes tag #5",
            ]
        );
    }

    #[test]
    fn arp_with_padding() {
        let mut f = eth().arp_request(IP_A, IP_B).build();
        f.resize(60, 0);
        assert_eq!(
            decode(&f).to_string().lines().skip(1).collect::<Vec<_>>(),
            [
                "arp request 02:00:00:00:00:01 10.0.0.1 > 00:00:00:00:00:00 10.0.0.2",
                "padding 18 bytes"
            ]
        );
    }

    #[test]
    fn flags_like_tcpdump() {
        let text = summary(
            eth()
                .ipv4(IP_A, IP_B)
                .tcp(1, 2)
                .tcp_flags(TcpFlags::SYN | TcpFlags::ACK),
        );
        assert!(text.contains("[S.]"), "{text}");
        let text = summary(eth().ipv4(IP_A, IP_B).tcp(1, 2).tcp_flags(0));
        assert!(text.contains("[none]"), "{text}");
    }

    #[test]
    fn short_and_malformed() {
        assert_eq!(decode(&[]).to_string(), "eth truncated: 0 of 14 bytes");
        let text = summary(eth().ipv4(IP_A, IP_B).ihl(3));
        assert!(
            text.ends_with("ipv4 malformed: ihl 3 is below the minimum 5"),
            "{text}"
        );
    }

    #[test]
    fn deterministic() {
        let b = eth().ipv4(IP_A, IP_B).tcp(1, 2).payload(b"x").tag(Tag(3));
        assert_eq!(summary(b.clone()), summary(b));
    }
}
