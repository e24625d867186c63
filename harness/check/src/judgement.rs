//! What a check produces: the traffic it sent and saw ([`Frame`], for pcap files) and its two
//! tables, expected and actual ([`Judgement`]). Every kind of check returns these, and the
//! report and the table renderer read them, so they sit below all of them.

use kernel::verdict::Outcome;

/// One frame of a check's traffic, kept for pcap files.
#[derive(Debug, Clone)]
pub struct Frame {
    /// True for a frame the check sent, false for one it saw come out.
    pub sent: bool,
    /// Where an outgoing frame was seen (`ns/ifname`), when known.
    pub at: Option<String>,
    /// The frame.
    pub bytes: Vec<u8>,
}

impl Frame {
    /// The frames sent and the frames seen coming out, for pcap files.
    pub fn traffic<'a>(
        sent: impl IntoIterator<Item = &'a Vec<u8>>,
        outcomes: &[Outcome],
    ) -> Vec<Frame> {
        let mut traffic: Vec<Frame> = sent
            .into_iter()
            .map(|bytes| Frame {
                sent: true,
                at: None,
                bytes: bytes.clone(),
            })
            .collect();
        for o in outcomes {
            if let Some(bytes) = &o.bytes {
                traffic.push(Frame {
                    sent: false,
                    at: o.at.clone(),
                    bytes: bytes.clone(),
                });
            }
        }
        traffic
    }
}

/// What a check expected and what it saw, rendered alike; equal tables mean a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// The contract's side.
    pub expected: String,
    /// The program's side.
    pub actual: String,
}
