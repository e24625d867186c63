//! Sources a program's maps do not know yet.
//!
//! A program someone else loaded (pins, an id, an interface) keeps its maps from run to run:
//! a second run, or a check replayed with `--check`, would find buckets already spent and
//! windows already open for the sources a check sends from. A check judged by a contract's
//! clock or counts needs its sources new, so before it runs the harness looks for them among
//! the 4-byte keys of the program's hash maps and, if any is known, moves every source of the
//! check to another /24: the third octet of each IPv4 source goes up by the same k (mod 256),
//! the smallest k for which no moved source is known. Sources the check keeps apart stay apart,
//! and what they share (the last octet, the network) stays shared. Only when every k leaves one
//! known is the check unverified.

use std::{collections::BTreeSet, net::Ipv4Addr};

use kernel::{
    error::{Error, Result},
    target::{Layer, Shot, Spread, Target},
    verdict::Outcome,
};

/// `target`, with the IPv4 sources of every frame it fires moved to ones its maps do not know
/// yet when they know one of `frames`' sources (see the module's doc). Programs the harness
/// loads itself start with empty maps and are never moved.
pub fn fresh_sources<'t, 'f>(
    target: &'t mut dyn Target,
    frames: impl IntoIterator<Item = &'f Vec<u8>>,
) -> Result<FreshTarget<'t>> {
    if !target.program().adopted() {
        return Ok(FreshTarget {
            inner: target,
            by: Move(0),
        });
    }
    let known = target.program().maps().address_keys()?;
    let sources: BTreeSet<[u8; 4]> = frames.into_iter().filter_map(|f| source(f)).collect();
    let by = Move::avoiding(&known, &sources)?;
    Ok(FreshTarget::new(target, by))
}

/// A target whose fired frames come from sources moved by [`Move`]. Its veth, reached through
/// [`Target::veth`], sends frames as they are: checks that need fresh sources fire them.
pub struct FreshTarget<'t> {
    inner: &'t mut dyn Target,
    by: Move,
}

impl<'t> FreshTarget<'t> {
    /// `target`, with the sources of the frames it fires moved `by`.
    fn new(target: &'t mut dyn Target, by: Move) -> Self {
        FreshTarget { inner: target, by }
    }

    /// How the sources are moved.
    pub fn by(&self) -> Move {
        self.by
    }
}

/// How far the third octet of every source moves (0: not at all).
#[derive(Debug, Clone, Copy)]
pub struct Move(u8);

impl Move {
    /// The smallest move of `sources` to addresses none of which is in `known`.
    fn avoiding(known: &BTreeSet<[u8; 4]>, sources: &BTreeSet<[u8; 4]>) -> Result<Move> {
        (0..=u8::MAX)
            .find(|&k| sources.iter().all(|s| !known.contains(&moved(*s, k))))
            .map(Move)
            .ok_or_else(|| {
                Error::env(format!(
                    "the program's maps already hold state for the sources this check sends \
                     from ({}), from an earlier run on the same loaded program, in every /24 \
                     the harness could move them to; load the program afresh to judge it",
                    sources
                        .iter()
                        .map(|s| Ipv4Addr::from(*s).to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// The line that says the sources were moved, and why; `None` when they were not.
    pub fn note(&self) -> Option<String> {
        (self.0 != 0).then(|| {
            format!(
                "the program's maps already held state for this check's sources (an earlier run \
                 on the same loaded program), so each source below was sent from another /24: \
                 a.b.c.d from a.b.(c+{}).d, the first such /24 the maps do not know",
                self.0
            )
        })
    }

    /// `frames` as this target sends them.
    pub fn rewrite(&self, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
        frames
            .iter()
            .map(|f| {
                let mut f = f.clone();
                move_source(&mut f, self.0);
                f
            })
            .collect()
    }
}

impl Layer for FreshTarget<'_> {
    fn inner(&self) -> &dyn Target {
        self.inner
    }
    fn inner_mut(&mut self) -> &mut dyn Target {
        self.inner
    }
    fn fire(&mut self, frames: &[Vec<u8>]) -> Result<Shot> {
        let frames = self.by.rewrite(frames);
        self.inner.fire(&frames)
    }
    fn fire_spread(&mut self, frames: &[Vec<u8>], spread: Spread) -> Result<Shot> {
        let frames = self.by.rewrite(frames);
        self.inner.fire_spread(&frames, spread)
    }
    fn exchange(&mut self, frame: &[u8]) -> Result<Outcome> {
        let mut frame = frame.to_vec();
        move_source(&mut frame, self.by.0);
        self.inner.exchange(&frame)
    }
    fn source(&self, addr: Ipv4Addr) -> Ipv4Addr {
        moved(addr.octets(), self.by.0).into()
    }
}

fn moved(mut addr: [u8; 4], k: u8) -> [u8; 4] {
    addr[2] = addr[2].wrapping_add(k);
    addr
}

/// Where the IPv4 header starts in an Ethernet frame (after up to two VLAN tags).
fn ipv4_at(frame: &[u8]) -> Option<usize> {
    let mut at = 12;
    loop {
        let ethertype = u16::from_be_bytes(frame.get(at..at + 2)?.try_into().ok()?);
        match ethertype {
            0x0800 => return Some(at + 2),
            0x8100 | 0x88a8 if at < 20 => at += 4,
            _ => return None,
        }
    }
}

/// The IPv4 source of `frame`, when its bytes are there (whatever the rest of the header says:
/// a program may key state on the source of a frame it judges malformed).
fn source(frame: &[u8]) -> Option<[u8; 4]> {
    let ip = ipv4_at(frame)?;
    frame.get(ip + 12..ip + 16)?.try_into().ok()
}

/// Moves the IPv4 source's third octet by `k`, updating the IPv4 header checksum and the TCP or
/// UDP checksum (RFC 1624) so that each stays as right, or as wrong, as it was.
fn move_source(frame: &mut [u8], k: u8) {
    let Some(ip) = ipv4_at(frame) else { return };
    if k == 0 || frame.len() < ip + 16 {
        return;
    }
    let word = |f: &[u8]| u16::from_be_bytes([f[ip + 14], f[ip + 15]]);
    let old = word(frame);
    frame[ip + 14] = frame[ip + 14].wrapping_add(k);
    let new = word(frame);
    update(frame, ip + 10, old, new);
    let (version, ihl) = (frame[ip] >> 4, usize::from(frame[ip] & 0x0f) * 4);
    let fragment_offset = u16::from_be_bytes([frame[ip + 6], frame[ip + 7]]) & 0x1fff;
    if version != 4 || ihl < 20 || fragment_offset != 0 {
        return;
    }
    let l4 = ip + ihl;
    match frame[ip + 9] {
        6 => update(frame, l4 + 16, old, new),
        // 0: the sender computed no checksum.
        17 if frame.get(l4 + 6..l4 + 8).is_some_and(|c| c != [0, 0]) => {
            update(frame, l4 + 6, old, new);
            if frame[l4 + 6..l4 + 8] == [0, 0] {
                frame[l4 + 6..l4 + 8].copy_from_slice(&[0xff, 0xff]);
            }
        }
        _ => {}
    }
}

/// HC' = ~(~HC + ~m + m') for the checksum at `at`, when the frame holds it.
fn update(frame: &mut [u8], at: usize, old: u16, new: u16) {
    let Some(field) = frame.get_mut(at..at + 2) else {
        return;
    };
    let hc = u16::from_be_bytes([field[0], field[1]]);
    let mut sum = u32::from(!hc) + u32::from(!old) + u32::from(new);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    field.copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use traffic::{FrameBuilder, MacAddr, decode};

    fn eth() -> FrameBuilder {
        FrameBuilder::ethernet(
            MacAddr::new(2, 0, 0, 0, 0, 1),
            MacAddr::new(2, 0, 0, 0, 0, 2),
        )
    }

    fn checksums_ok(frame: &[u8]) -> (Option<bool>, Option<bool>) {
        let d = decode(frame);
        let ip = d.ipv4.expect("ipv4");
        let l4 = d.tcp.map(|t| t.csum).or(d.udp.map(|u| u.csum));
        (ip.csum.ok(), l4.and_then(traffic::decode::Csum::ok))
    }

    #[test]
    fn moved_frames_keep_their_checksums_right_or_wrong() {
        let (src, dst) = (
            Ipv4Addr::new(198, 18, 250, 7),
            Ipv4Addr::new(203, 0, 113, 9),
        );
        let frames = [
            eth().ipv4(src, dst).tcp(1, 2).payload(b"x").build(),
            eth().ipv4(src, dst).udp(1, 2).payload(b"xy").build(),
            eth().ipv4(src, dst).icmp_echo(1, 2).build(),
            eth().ipv4(src, dst).udp(1, 2).bad_l4_checksum().build(),
            eth().ipv4(src, dst).tcp(1, 2).bad_ip_checksum().build(),
        ];
        for frame in frames {
            let before = checksums_ok(&frame);
            let mut moved = frame.clone();
            move_source(&mut moved, 9);
            assert_eq!(
                decode(&moved).ipv4.unwrap().src,
                Ipv4Addr::new(198, 18, 3, 7),
                "the third octet wraps"
            );
            assert_eq!(checksums_ok(&moved), before, "{:?}", decode(&moved));
        }
    }

    #[test]
    fn frames_without_a_whole_source_stay_as_they_are() {
        let src = Ipv4Addr::new(198, 18, 1, 7);
        let cut = eth()
            .ipv4(src, Ipv4Addr::new(203, 0, 113, 9))
            .udp(1, 2)
            .truncate(24)
            .build();
        let mut moved = cut.clone();
        move_source(&mut moved, 1);
        assert_eq!(moved, cut);
        assert_eq!(source(&cut), None);
    }
}
