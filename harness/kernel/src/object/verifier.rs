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

/// The verifier's common rejections: words of its log, and the usual cause and fix (in C, and
/// in the course's Clojure library, clj-ebpf, where that differs). The first match wins, so the
/// more specific come first; a log none matches gets no hint rather than a guess.
const REJECTIONS: &[(&[&str], &str)] = &[
    (
        &["GPL-restricted function", "non-GPL compatible program"],
        "The program calls a helper that only GPL-compatible programs may call, and the object's \
         license is not GPL-compatible (or missing): declare `char LICENSE[] SEC(\"license\") = \
         \"GPL\";` (\"Dual BSD/GPL\" works too); in aya-ebpf `#[unsafe(link_section = \"license\")]`; \
         in clj-ebpf load the program with the license \"GPL\".",
    ),
    (
        &["!read_ok"],
        "A register is read before anything was written to it, often because a helper call \
         overwrote it: a call leaves r1-r5 undefined (r0 holds its result). Keep values needed \
         after a call in r6-r9 (in clj-ebpf, move them there before the `call`), and set r0 \
         before `exit`.",
    ),
    (
        &["map_value_or_null"],
        "The value `bpf_map_lookup_elem` returned is used without a NULL check: test the pointer \
         (`if (!v) return XDP_PASS;`) before reading or writing through it.",
    ),
    (
        &["unbounded memory access", "min value is negative"],
        "A helper's size or an offset is not bounded: the verifier must know its range. Use a \
         constant size, or clamp the value (`len &= 0x3f;`, `if (len > 60) return ...`) right \
         before the call; to copy packet bytes of a variable length use `bpf_xdp_load_bytes`.",
    ),
    (
        &[
            "invalid indirect read from stack",
            "invalid read from stack",
        ],
        "A stack buffer is read (by the program or a helper) before all its bytes were written: \
         initialise it whole (`struct x buf = {};` or `__builtin_memset`) before use.",
    ),
    (
        &["invalid access to packet", "outside of the packet"],
        "A packet read or write is not preceded by a bounds check the verifier can follow: \
         before touching bytes `data + off .. data + off + n`, test `data + off + n > data_end` \
         and leave when it holds, and check again after computing a new offset (IHL, options). \
         In clj-ebpf compare the pointer register with the one holding `data_end` right before \
         the access.",
    ),
    (
        &["invalid stack off", "stack limit"],
        "An access is outside the 512-byte stack: keep buffers small (copy only the bytes you \
         need) or put large ones in a per-CPU array map.",
    ),
    (
        &[
            "unknown func",
            "invalid func",
            "program of this type cannot use helper",
        ],
        "The program calls a helper this kernel does not have, or one XDP programs may not call: \
         check the helper's name and the kernel version it needs (`bpftool feature probe`).",
    ),
];

/// The hint for a rejection whose log is `log`, read from its last two lines (the reason; the
/// statistics after it left out): earlier lines of a verbose log describe register states in
/// the same words (`map_value_or_null`) without being the reason.
fn hint(log: &str) -> Option<&'static str> {
    let reason: Vec<&str> = log
        .lines()
        .filter(|l| {
            !l.trim().is_empty()
                && !l.starts_with("processed ")
                && !l.starts_with("verification time")
                && !l.starts_with("stack depth")
        })
        .rev()
        .take(2)
        .collect();
    REJECTIONS
        .iter()
        .find(|(words, _)| words.iter().any(|w| reason.iter().any(|l| l.contains(w))))
        .map(|(_, fix)| *fix)
}

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
            hint: hint(full),
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

    /// Each common rejection gets its own fix, lines as the kernel prints them; a log no
    /// pattern matches gets none (never the bounds-check guess).
    #[test]
    fn each_rejection_gets_the_hint_that_matches_its_log() {
        for (log, needle) in [
            (
                "16: (85) call bpf_tcp_raw_gen_syncookie_ipv4#204\ncannot call GPL-restricted \
                 function from non-GPL compatible program\n",
                "SEC(\"license\")",
            ),
            ("12: (bf) r1 = r5\nR5 !read_ok\n", "r6-r9"),
            (
                "8: (61) r1 = *(u32 *)(r0 +0)\nR0 invalid mem access 'map_value_or_null'\n",
                "NULL",
            ),
            (
                "R2 unbounded memory access, make sure to bounds check any such access\n",
                "bpf_xdp_load_bytes",
            ),
            (
                "invalid indirect read from stack R3 off -16+0 size 16\n",
                "initialise",
            ),
            (
                "invalid access to packet, off=23 size=1, R1(id=0,off=23,r=14)\n",
                "data_end",
            ),
            ("invalid stack off=-520 size=8\n", "512-byte"),
            ("unknown func bpf_foo#999\n", "bpftool feature probe"),
        ] {
            let text = rejected(libc::EACCES, log).to_string();
            assert!(text.contains(needle), "{needle} missing for {log}:\n{text}");
        }
        // A register state earlier in a verbose log is not the reason.
        let earlier = rejected(
            libc::EACCES,
            "5: R0_w=map_value_or_null(id=1,off=0,ks=4,vs=8,imm=0)\n9: (b7) r0 = 2\n\
             10: (95) exit\nsomething new the verifier says\nprocessed 11 insns\n",
        )
        .to_string();
        assert!(!earlier.contains("NULL check"), "{earlier}");
        let unknown = rejected(libc::EINVAL, "something new the verifier says\n").to_string();
        assert!(!unknown.contains("data_end"), "{unknown}");
        assert!(unknown.contains("Its last lines say"), "{unknown}");
        // A GPL rejection is not an access to fix.
        let gpl = rejected(
            libc::EINVAL,
            "cannot call GPL-restricted function from non-GPL compatible program\n",
        )
        .to_string();
        assert!(!gpl.contains("data_end"), "{gpl}");
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
