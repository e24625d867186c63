//! What happened to one packet.

use std::fmt;

/// The action an XDP program took, as far as the mode can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// XDP_ABORTED (on veth told apart from DROP by the `xdp:xdp_exception` tracepoint, see
    /// [`crate::exception`]).
    Aborted,
    /// XDP_DROP: the frame vanished.
    Drop,
    /// XDP_PASS: the frame went up the stack.
    Pass,
    /// XDP_TX: the frame was sent back out of the interface it came in on.
    Tx,
    /// XDP_REDIRECT: the frame left through another interface.
    Redirect,
    /// A return code outside the XDP actions (the kernel treats it as ABORTED).
    Invalid(u32),
}

impl Verdict {
    /// Maps an XDP return code to a verdict.
    pub fn from_code(code: u32) -> Self {
        match code {
            0 => Verdict::Aborted,
            1 => Verdict::Drop,
            2 => Verdict::Pass,
            3 => Verdict::Tx,
            4 => Verdict::Redirect,
            n => Verdict::Invalid(n),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Aborted => f.write_str("ABORTED"),
            Verdict::Drop => f.write_str("DROP"),
            Verdict::Pass => f.write_str("PASS"),
            Verdict::Tx => f.write_str("TX"),
            Verdict::Redirect => f.write_str("REDIRECT"),
            Verdict::Invalid(n) => write!(f, "INVALID({n})"),
        }
    }
}

/// The observed fate of one sent frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What the program did.
    pub verdict: Verdict,
    /// The frame as it left the program (PASS: what the stack received; TX and REDIRECT: what
    /// went out), when the mode can see it.
    pub bytes: Option<Vec<u8>>,
    /// Where the frame was seen (`ns/ifname`), in the veth modes.
    pub at: Option<String>,
}

impl Outcome {
    /// An outcome with no bytes, such as a drop.
    pub fn bare(verdict: Verdict) -> Self {
        Self {
            verdict,
            bytes: None,
            at: None,
        }
    }
}
