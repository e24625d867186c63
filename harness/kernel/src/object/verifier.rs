//! What the kernel verifier said: trimming its log to the part that matters, and telling a
//! rejection for an unsafe access from one where the verifier hit one of its limits.

use aya::programs::ProgramError;

use crate::error::Error;

/// A verifier limit: the words its log uses, how to say it, and what to change.
struct Limit {
    marker: &'static str,
    what: &'static str,
    fix: &'static str,
}

const LIMITS: &[Limit] = &[
    Limit {
        marker: "BPF program is too large",
        what: "the instruction limit",
        fix: "make the paths shorter: fewer unrolled loops, or bounded loops with small bounds.",
    },
    Limit {
        marker: "is too complex",
        what: "its complexity limit (too many branches to follow)",
        fix: "reduce the branching, for example by returning early.",
    },
    Limit {
        marker: "infinite loop detected",
        what: "a loop it cannot prove ends",
        fix: "give every loop a constant upper bound.",
    },
    Limit {
        marker: "back-edge from insn",
        what: "a loop it cannot prove ends",
        fix: "give every loop a constant upper bound.",
    },
    Limit {
        marker: "loop is not bounded",
        what: "a loop it cannot prove ends",
        fix: "give every loop a constant upper bound.",
    },
];

/// Turns aya's load error into the user-facing one, trimming the verifier log.
pub(crate) fn load_error(program: &str, e: ProgramError) -> Error {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => classify(program, &io_error, &verifier_log.to_string()),
        e => Error::op(format!("loading `{program}` failed"), e),
    }
}

/// The rejection of a program whose verifier log aya 0.16 could not read: the log held bytes
/// that are not UTF-8 (it quotes the source lines in the object's BTF), so aya panicked and the
/// errno was lost. `log` is the log recovered from that panic, read lossily.
pub(crate) fn unreadable_log_error(program: &str, log: &str) -> Error {
    let errno = std::io::Error::other(
        "its log quotes source text that is not UTF-8, which aya 0.16 cannot read; saving \
         the source as UTF-8 avoids that",
    );
    classify(program, &errno, log)
}

/// A rejection with its errno and full log: a verifier limit or an unsafe access.
fn classify(program: &str, errno: &std::io::Error, full: &str) -> Error {
    let (log, insns) = trim_verifier_log(full);
    // E2BIG without a known log line still means the instruction limit.
    let limit = LIMITS
        .iter()
        .find(|l| full.contains(l.marker))
        .or_else(|| (errno.raw_os_error() == Some(libc::E2BIG)).then_some(&LIMITS[0]));
    match limit {
        Some(l) => Error::VerifierLimit {
            program: program.to_owned(),
            limit: l.what.into(),
            fix: l.fix,
            log,
            insns,
        },
        None => Error::Verifier {
            program: program.to_owned(),
            errno: errno.to_string(),
            log,
            insns,
        },
    }
}

/// Keeps the end of a verifier log, where the rejected instruction and the reason are, and
/// reads the "processed N insns" count.
pub fn trim_verifier_log(log: &str) -> (String, Option<u64>) {
    const KEEP: usize = 12;
    // The verification time differs run to run; leaving it out keeps reports reproducible.
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("verification time"))
        .collect();
    let insns = lines.iter().find_map(|l| {
        l.strip_prefix("processed ")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    });
    let tail = &lines[lines.len().saturating_sub(KEEP)..];
    let mut out = String::new();
    if lines.len() > KEEP {
        out.push_str(&format!("  ... ({} earlier lines)\n", lines.len() - KEEP));
    }
    for l in tail {
        out.push_str("  ");
        out.push_str(l);
        out.push('\n');
    }
    (out.trim_end().to_owned(), insns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(errno: i32, log: &str) -> Error {
        classify("p", &std::io::Error::from_raw_os_error(errno), log)
    }

    #[test]
    fn the_instruction_limit_has_its_own_message() {
        let e = rejected(
            libc::ENOSPC,
            "BPF program is too large. Processed 1000001 insn\nprocessed 1000001 insns (limit 1000000)\n",
        );
        assert!(matches!(e, Error::VerifierLimit { .. }));
        let text = e.to_string();
        assert!(text.contains("the instruction limit"), "{text}");
        assert!(!text.contains("No space left"), "{text}");
        assert!(!text.contains("data_end"), "{text}");
        assert!(text.contains("after 1000001 instructions"), "{text}");
    }

    #[test]
    fn an_unsafe_access_is_a_plain_rejection() {
        let e = rejected(libc::EACCES, "invalid access to packet, off=12 size=2\n");
        assert!(matches!(e, Error::Verifier { .. }));
        assert!(e.to_string().contains("data_end"));
    }

    #[test]
    fn trimming_keeps_the_tail_and_the_count() {
        let log: String = (0..30).map(|i| format!("{i}: insn\n")).collect::<String>()
            + "processed 42 insns (limit 1000000)\nverification time 12 usec\n";
        let (t, n) = trim_verifier_log(&log);
        assert_eq!(n, Some(42));
        assert!(t.starts_with("  ... (19 earlier lines)"), "{t}");
        assert!(!t.contains("verification time"));
    }
}
