//! TCP options, parsed for display and for checks on SYN-ACKs (SYN cookies encode MSS, window
//! scale, SACK and timestamps in them).
//!
//! pnet's `TcpOptionIterable` quietly accepts length bytes below 2 and keeps reading after End
//! of Option List; a decoder of student programs' output has to flag both, hence this parser.

use std::fmt;

/// One TCP option.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TcpOpt {
    /// End of option list (kind 0); the bytes after it are padding.
    Eol,
    /// No-operation (kind 1), used for alignment.
    Nop,
    /// Maximum segment size (kind 2).
    Mss(u16),
    /// Window scale shift count (kind 3).
    WindowScale(u8),
    /// SACK permitted (kind 4).
    SackPermitted,
    /// Selective acknowledgement blocks (kind 5), as (left, right) edges.
    Sack(Vec<(u32, u32)>),
    /// Timestamps (kind 8).
    Timestamps {
        /// The sender's clock.
        val: u32,
        /// The echoed peer clock.
        ecr: u32,
    },
    /// Any other well-formed option.
    Other {
        /// The option kind.
        kind: u8,
        /// The bytes after kind and length.
        data: Vec<u8>,
    },
    /// An option whose length byte is missing, too small, or runs past the header; parsing
    /// stops here.
    Malformed {
        /// The option kind.
        kind: u8,
    },
}

/// Parses an option area (the bytes between the fixed TCP header and the data offset).
pub fn parse(mut bytes: &[u8]) -> Vec<TcpOpt> {
    let mut opts = Vec::new();
    while let Some((&kind, rest)) = bytes.split_first() {
        match kind {
            0 => {
                opts.push(TcpOpt::Eol);
                break;
            }
            1 => {
                opts.push(TcpOpt::Nop);
                bytes = rest;
                continue;
            }
            _ => {}
        }
        let len = usize::from(rest.first().copied().unwrap_or(0));
        if len < 2 || len > bytes.len() {
            opts.push(TcpOpt::Malformed { kind });
            break;
        }
        opts.push(typed(kind, &bytes[2..len]));
        bytes = &bytes[len..];
    }
    opts
}

/// Interprets one length-prefixed option; known kinds with the wrong size stay `Other`.
fn typed(kind: u8, data: &[u8]) -> TcpOpt {
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    match (kind, data.len()) {
        (2, 2) => TcpOpt::Mss(u16::from_be_bytes([data[0], data[1]])),
        (3, 1) => TcpOpt::WindowScale(data[0]),
        (4, 0) => TcpOpt::SackPermitted,
        (5, n) if n % 8 == 0 => TcpOpt::Sack(
            data.as_chunks::<8>()
                .0
                .iter()
                .map(|c| (be32(&c[..4]), be32(&c[4..])))
                .collect(),
        ),
        (8, 8) => TcpOpt::Timestamps {
            val: be32(&data[..4]),
            ecr: be32(&data[4..]),
        },
        _ => TcpOpt::Other {
            kind,
            data: data.to_vec(),
        },
    }
}

impl fmt::Display for TcpOpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpOpt::Eol => f.write_str("eol"),
            TcpOpt::Nop => f.write_str("nop"),
            TcpOpt::Mss(mss) => write!(f, "mss {mss}"),
            TcpOpt::WindowScale(shift) => write!(f, "wscale {shift}"),
            TcpOpt::SackPermitted => f.write_str("sackOK"),
            TcpOpt::Sack(blocks) => {
                f.write_str("sack")?;
                blocks.iter().try_for_each(|(l, r)| write!(f, " {l}:{r}"))
            }
            TcpOpt::Timestamps { val, ecr } => write!(f, "ts {val} ecr {ecr}"),
            TcpOpt::Other { kind, data } => write!(f, "opt-{kind} len {}", data.len() + 2),
            TcpOpt::Malformed { kind } => write!(f, "bad-opt-{kind}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_syn_options() {
        let bytes = [
            2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let opts = parse(&bytes);
        assert_eq!(
            opts,
            [
                TcpOpt::Mss(1460),
                TcpOpt::SackPermitted,
                TcpOpt::Timestamps { val: 1, ecr: 0 },
                TcpOpt::Nop,
                TcpOpt::WindowScale(7),
            ]
        );
        let text: Vec<String> = opts.iter().map(ToString::to_string).collect();
        assert_eq!(text.join(","), "mss 1460,sackOK,ts 1 ecr 0,nop,wscale 7");
    }

    #[test]
    fn eol_stops_and_garbage_is_flagged() {
        assert_eq!(parse(&[1, 0, 2, 4]), [TcpOpt::Nop, TcpOpt::Eol]);
        assert_eq!(parse(&[2]), [TcpOpt::Malformed { kind: 2 }]);
        assert_eq!(parse(&[2, 1, 0, 0]), [TcpOpt::Malformed { kind: 2 }]);
        assert_eq!(parse(&[2, 9, 0, 0]), [TcpOpt::Malformed { kind: 2 }]);
        assert_eq!(
            parse(&[2, 3, 9]),
            [TcpOpt::Other {
                kind: 2,
                data: vec![9]
            }]
        );
    }
}
