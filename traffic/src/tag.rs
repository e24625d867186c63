//! Per-packet markers that let an observed frame be traced back to the packet that caused it.
//!
//! XDP programs may rewrite MACs, addresses, ports and checksums, push or pop headers and trim
//! frames, so a tag is written twice:
//!
//! * in the IPv4 Identification field, or the low 16 bits of the IPv6 flow label;
//! * as an 8-byte trailer at the end of the payload area (see [`TRAILER_LEN`]):
//!
//! ```text
//! offset 0..4   b"XDPL"   magic
//! offset 4..6   0x0000    reserved, must be zero (makes a false match less likely)
//! offset 6..8   u16 BE    tag
//! ```
//!
//! The trailer survives header rewrites and encapsulation; the IP field survives a trim that cut
//! the payload away.

use std::fmt;

use pnet::packet::ethernet::{EtherTypes, EthernetPacket};
use pnet::packet::ipv4::Ipv4Packet;
use pnet::packet::ipv6::Ipv6Packet;
use pnet::packet::vlan::VlanPacket;

use crate::proto::is_vlan;

/// Identifies one crafted packet so that frames observed later can be matched to it.
///
/// `Tag(0)` means "untagged": such frames carry no trailer and an IPv4 Identification of 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Tag(pub u16);

impl Tag {
    /// The "no tag" value.
    pub const NONE: Tag = Tag(0);

    /// Whether this tag marks a packet (anything but [`Tag::NONE`]).
    pub fn is_set(self) -> bool {
        self.0 != 0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Magic that opens a payload trailer.
pub const TRAILER_MAGIC: [u8; 4] = *b"XDPL";

/// Length of the payload trailer: magic, two reserved zero bytes, big-endian tag.
pub const TRAILER_LEN: usize = 8;

/// The trailer bytes appended to a payload for `tag`.
pub fn trailer(tag: Tag) -> [u8; TRAILER_LEN] {
    let [hi, lo] = tag.0.to_be_bytes();
    let m = TRAILER_MAGIC;
    [m[0], m[1], m[2], m[3], 0, 0, hi, lo]
}

/// Finds the tag of a frame: the payload trailer wins, otherwise a nonzero IPv4 Identification
/// or IPv6 flow label (low 16 bits).
///
/// The trailer is searched anywhere in the frame (last match wins), so it is found behind pushed
/// or rewritten headers and in front of Ethernet padding. The IP-field fallback cannot tell a
/// tagged frame from one the kernel built itself (its IPv4 ids and IPv6 flow labels are often
/// nonzero), so only trust it for frames that came from crafted traffic.
pub fn find_tag(frame: &[u8]) -> Option<Tag> {
    trailer_tag(frame).or_else(|| ip_field_tag(frame))
}

/// The tag from the last well-formed, nonzero trailer in `bytes`.
pub(crate) fn trailer_tag(bytes: &[u8]) -> Option<Tag> {
    bytes.windows(TRAILER_LEN).rev().find_map(|w| {
        let tag = u16::from_be_bytes([w[6], w[7]]);
        (w[..4] == TRAILER_MAGIC && w[4..6] == [0, 0] && tag != 0).then_some(Tag(tag))
    })
}

/// The tag carried in the IP header, skipping at most two VLAN tags.
fn ip_field_tag(frame: &[u8]) -> Option<Tag> {
    let eth = EthernetPacket::new(frame)?;
    let mut ethertype = eth.get_ethertype();
    let mut offset = EthernetPacket::minimum_packet_size();
    for _ in 0..2 {
        if !is_vlan(ethertype) {
            break;
        }
        let vlan = VlanPacket::new(frame.get(offset..)?)?;
        ethertype = vlan.get_ethertype();
        offset += VlanPacket::minimum_packet_size();
    }
    let l3 = frame.get(offset..)?;
    let raw = match ethertype {
        EtherTypes::Ipv4 => Ipv4Packet::new(l3)?.get_identification(),
        // Truncating to the low 16 bits is the point: the tag lives there.
        EtherTypes::Ipv6 => Ipv6Packet::new(l3)?.get_flow_label() as u16,
        _ => return None,
    };
    (raw != 0).then_some(Tag(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_hash_number() {
        assert_eq!(Tag(12).to_string(), "#12");
    }

    #[test]
    fn trailer_layout() {
        assert_eq!(trailer(Tag(0x0102)), *b"XDPL\0\0\x01\x02");
    }

    #[test]
    fn last_trailer_wins_and_zero_tags_are_ignored() {
        let mut bytes = b"junk".to_vec();
        bytes.extend(trailer(Tag(5)));
        bytes.extend(trailer(Tag(9)));
        bytes.extend(trailer(Tag(0)));
        bytes.extend([0; 6]); // Ethernet padding
        assert_eq!(trailer_tag(&bytes), Some(Tag(9)));
    }

    #[test]
    fn trailer_needs_zero_reserved_bytes() {
        assert_eq!(trailer_tag(b"XDPL\0\x01\0\x07"), None);
    }

    #[test]
    fn nothing_found_in_short_or_foreign_frames() {
        assert_eq!(find_tag(&[]), None);
        assert_eq!(find_tag(&[0xff; 13]), None);
        assert_eq!(find_tag(&[0xff; 100]), None);
    }
}
