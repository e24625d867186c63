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

/// The fix for a loop the verifier cannot prove ends.
const LOOP_FIX: &str = "give every loop a constant upper bound (`for (int i = 0; i < 64; i++)`, \
     leaving early with `break`), or use `bpf_loop()`; a loop that waits for memory to change \
     never ends. In clj-ebpf, count in a register and compare it with a constant before each \
     jump back.";

const LIMITS: &[Limit] = &[
    Limit {
        marker: "BPF program is too large",
        what: "the instruction limit",
        fix: "each branch the verifier cannot decide doubles the paths it walks, so a \
              `#pragma unroll`ed loop with a branch inside soon passes the limit: keep such loops \
              rolled (`#pragma nounroll`, or `bpf_loop()`), with small constant bounds, and leave \
              early.",
    },
    Limit {
        marker: "is too complex",
        what: "its complexity limit (too many branches to follow)",
        fix: "reduce the branching, for example by returning early.",
    },
    Limit {
        marker: "infinite loop detected",
        what: "a loop it cannot prove ends",
        fix: LOOP_FIX,
    },
    Limit {
        marker: "back-edge from insn",
        what: "a loop it cannot prove ends",
        fix: LOOP_FIX,
    },
    Limit {
        marker: "loop is not bounded",
        what: "a loop it cannot prove ends",
        fix: LOOP_FIX,
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
         in clj-ebpf load the program with `:license \"GPL\"` (`programs/load-program`'s default).",
    ),
    (
        &["!read_ok"],
        "A register is read before anything was written to it, often because a helper call \
         overwrote it: a call leaves r1-r5 undefined (r0 holds its result). Keep values needed \
         after a call in r6-r9: in C the compiler does this, so look for inline assembly; in \
         clj-ebpf copy them there before the call (`(dsl/mov-reg :r6 :r3)`) and read them from \
         there after, and set r0 before `exit`.",
    ),
    (
        &["map_value_or_null"],
        "The value `bpf_map_lookup_elem` returned is used without a NULL check: test the pointer \
         (`if (!v) return XDP_PASS;`) before reading or writing through it; in clj-ebpf jump \
         away when r0 is 0 (`(dsl/jmp-imm :jeq :r0 0 ...)`) right after the call.",
    ),
    (
        &[
            "invalid zero-sized read",
            "unbounded memory access",
            "min value is negative",
            " expected=fp",
        ],
        "A helper's memory argument is wrong: its size is not a constant the verifier can bound \
         (or may be 0 or negative), or a number is passed where a pointer to memory goes (a map \
         key must be the address of a variable on the stack, `&key`). Use a constant size, or \
         clamp it right before the call (`if (len < 1 || len > sizeof(buf)) return XDP_PASS;`); \
         to copy a variable number of packet bytes use `bpf_xdp_load_bytes(ctx, off, buf, \
         len)` with `len` so clamped. In clj-ebpf the size register must hold a constant or a \
         value compared against constants just before the call, and the pointer register r10 \
         plus a negative offset (stack memory you wrote).",
    ),
    (
        &["invalid access to packet", "outside of the packet"],
        "A packet read or write is not preceded by a bounds check the verifier can follow: \
         before touching bytes `data + off .. data + off + n`, test `data + off + n > data_end` \
         and leave when it holds, and check again after computing a new offset (IHL, options). \
         In clj-ebpf compare the pointer register with the one holding `data_end` right before \
         the access (`clj-ebpf.net.bounds/build-bounds-check-label`).",
    ),
    (
        &[
            "invalid write to stack",
            "invalid read from stack",
            "invalid indirect access to stack",
            "invalid stack off",
        ],
        "An access reaches outside a stack buffer or the 512-byte stack: a helper told to write \
         or read more bytes than the buffer holds (pass `sizeof(buf)` or a length clamped to it), \
         or an offset past r10 - 512. Keep buffers small (copy only the bytes you need) or put \
         large ones in a per-CPU array map; in clj-ebpf keep stack offsets between -512 and -1.",
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

/// Helpers the kernel lets only GPL-compatible programs call, among those an XDP program loaded
/// by root may call: (helper id, name). `gpl_only_helpers_are_refused_under_mit` checks each
/// against the running kernel.
const GPL_ONLY_HELPERS: &[(i32, &str)] = &[
    (6, "bpf_trace_printk (bpf_printk)"),
    (25, "bpf_perf_event_output"),
    (35, "bpf_get_current_task"),
    (113, "bpf_probe_read_kernel"),
    (115, "bpf_probe_read_kernel_str"),
    (165, "bpf_snprintf"),
    (169, "bpf_timer_init"),
    (177, "bpf_trace_vprintk"),
    (204, "bpf_tcp_raw_gen_syncookie_ipv4"),
    (205, "bpf_tcp_raw_gen_syncookie_ipv6"),
    (206, "bpf_tcp_raw_check_syncookie_ipv4"),
    (207, "bpf_tcp_raw_check_syncookie_ipv6"),
];

/// The licenses the kernel counts as GPL-compatible (`license_is_gpl_compatible`).
const GPL_COMPATIBLE: &[&str] = &[
    "GPL",
    "GPL v2",
    "GPL and additional rights",
    "Dual BSD/GPL",
    "Dual MIT/GPL",
    "Dual MPL/GPL",
];

/// A program that calls GPL-only helpers under a license that does not allow it: (program,
/// the helpers, the license as a clause). [`License::error`] makes it the load's error.
#[derive(Debug, Clone)]
pub(crate) struct License {
    program: String,
    helpers: Vec<&'static str>,
    license: String,
}

impl License {
    pub(crate) fn program(&self) -> &str {
        &self.program
    }

    pub(crate) fn error(&self) -> Error {
        Error::License {
            program: self.program.clone(),
            helpers: self.helpers.join(", "),
            license: self.license.clone(),
        }
    }
}

/// The programs of an object that call GPL-only helpers while its license section is missing
/// or not GPL-compatible. Each program's own code and every subprogram are read (a subprogram
/// may be called from any program). aya loads an object without a license section as GPL;
/// every other loader leaves the license empty, and the kernel refuses the call.
pub(crate) fn license_problems(bytes: &[u8], parsed: &aya_obj::Object) -> Vec<License> {
    use object::{Object, ObjectSection};
    let section = object::File::parse(bytes).ok().and_then(|f| {
        f.section_by_name("license")
            .and_then(|s| s.data().ok().map(<[u8]>::to_vec))
    });
    let license = match &section {
        None => "the object has no license section".to_owned(),
        Some(data) => {
            let text = String::from_utf8_lossy(data.split(|b| *b == 0).next().unwrap_or_default())
                .into_owned();
            if GPL_COMPATIBLE.contains(&text.as_str()) {
                return Vec::new();
            }
            format!("the object's license is \"{text}\", which is not GPL-compatible")
        }
    };
    let program_keys: Vec<(usize, u64)> = parsed
        .programs
        .values()
        .map(aya_obj::Program::function_key)
        .collect();
    let gpl_calls = |f: &aya_obj::Function| -> Vec<&'static str> {
        f.instructions
            .iter()
            .filter(|i| i.code == 0x85 && i.src_reg() == 0)
            .filter_map(|i| GPL_ONLY_HELPERS.iter().find(|(id, _)| *id == i.imm))
            .map(|(_, name)| *name)
            .collect()
    };
    let shared: Vec<&'static str> = parsed
        .functions
        .iter()
        .filter(|(key, _)| !program_keys.contains(key))
        .flat_map(|(_, f)| gpl_calls(f))
        .collect();
    let mut problems: Vec<License> = parsed
        .programs
        .iter()
        .filter_map(|(name, p)| {
            let mut helpers: Vec<&'static str> = parsed
                .functions
                .get(&p.function_key())
                .map(gpl_calls)
                .unwrap_or_default();
            helpers.extend(&shared);
            helpers.sort_unstable();
            helpers.dedup();
            (!helpers.is_empty()).then(|| License {
                program: name.clone(),
                helpers,
                license: license.clone(),
            })
        })
        .collect();
    problems.sort_by(|a, b| a.program.cmp(&b.program));
    problems
}

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
    // The limit is a million: a u32 keeps the error small.
    let insns = insns.and_then(|n| u32::try_from(n).ok());
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
            whole: full.into(),
            insns,
        },
        None => Error::Verifier {
            program: program.to_owned(),
            errno: errno.to_string(),
            log,
            whole: full.into(),
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

    /// A fixture of testdata/verifier compiled with the suite's clang line (`defines` added).
    fn fixture(name: &str, defines: &[&str]) -> Vec<u8> {
        let dir = std::env::temp_dir().join(format!("xdplab-verifier-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/testdata/verifier")
            .join(format!("{name}.c"));
        let object = crate::clang::compile(&src, defines, &dir).expect("clang builds the fixture");
        std::fs::read(object).unwrap()
    }

    /// What the running kernel says about `program` of `bytes`, loaded by aya directly (past
    /// the license check, so the kernel's own refusal is what is seen): the classified error.
    fn kernel_verdict(bytes: &[u8], program: &str) -> Result<(), Error> {
        let mut ebpf = aya::EbpfLoader::new()
            .verifier_log_level(aya::VerifierLogLevel::DEBUG | aya::VerifierLogLevel::STATS)
            .load(bytes)
            .expect("aya opens the fixture");
        let xdp: &mut aya::programs::Xdp = ebpf.program_mut(program).unwrap().try_into().unwrap();
        xdp.load().map_err(|e| load_error(program, e))
    }

    /// Each entry of the table is matched by a real log of this kernel: a small program that
    /// triggers it (testdata/verifier), and the fix that entry gives.
    #[test]
    fn each_hint_matches_a_real_log_of_this_kernel() {
        for (name, needle) in [
            ("gpl_helper", "SEC(\"license\")"),
            ("helper_size", "bpf_xdp_load_bytes"),
            ("helper_negative_size", "bpf_xdp_load_bytes"),
            ("scalar_key", "&key"),
            ("no_bounds", "data_end"),
            ("lost_register", "r6-r9"),
            ("null_value", "NULL check"),
            ("stack_bounds", "512-byte stack"),
            ("stack_read", "512-byte stack"),
            ("helper_too_big", "sizeof(buf)"),
        ] {
            let e = kernel_verdict(&fixture(name, &[]), "prog").expect_err(name);
            let Error::Verifier { hint, .. } = &e else {
                panic!("{name}: {e}");
            };
            let hint = hint.unwrap_or_else(|| panic!("{name} gets no hint:\n{e}"));
            assert!(hint.contains(needle), "{name}: {needle} missing:\n{e}");
        }
        for (name, needle) in [
            ("endless_loop", "a loop it cannot prove ends"),
            ("too_many_insns", "the instruction limit"),
        ] {
            let e = kernel_verdict(&fixture(name, &[]), "prog").expect_err(name);
            assert!(matches!(e, Error::VerifierLimit { .. }), "{name}: {e}");
            assert!(e.to_string().contains(needle), "{name}: {e}");
        }
        let e = kernel_verdict(
            &fixture("gpl_call", &["HELPER=999", "LICENSE_TEXT=\"GPL\""]),
            "prog",
        )
        .unwrap_err();
        assert!(e.to_string().contains("bpftool feature probe"), "{e}");
    }

    /// The list of GPL-only helpers is the kernel's: each is refused under "MIT" with the
    /// kernel's GPL message, and a helper not listed (bpf_ktime_get_ns) is not.
    #[test]
    fn gpl_only_helpers_are_refused_under_mit() {
        for (id, name) in GPL_ONLY_HELPERS {
            let bytes = fixture(
                "gpl_call",
                &[&format!("HELPER={id}"), "LICENSE_TEXT=\"MIT\""],
            );
            let e = kernel_verdict(&bytes, "prog").expect_err(name);
            assert!(e.to_string().contains("GPL-restricted"), "{name}: {e}");
        }
        let bytes = fixture("gpl_call", &["HELPER=5", "LICENSE_TEXT=\"MIT\""]);
        kernel_verdict(&bytes, "prog").expect("bpf_ktime_get_ns is not GPL-only");
    }

    /// A program calling a GPL-only helper with no license section (which aya would load as
    /// GPL) or a non-GPL one is refused before loading, naming the helper and the fix; the
    /// object's other programs, and a GPL-compatible license, load.
    #[test]
    fn the_license_is_checked_before_loading() {
        for (defines, clause) in [
            (&["HELPER=6", "NO_LICENSE"][..], "no license section"),
            (
                &["HELPER=6", "LICENSE_TEXT=\"MIT\""][..],
                "\"MIT\", which is not",
            ),
        ] {
            let object = crate::XdpObject::from_bytes("g.o", fixture("gpl_call", defines)).unwrap();
            let e = object.load(Some("prog")).map(|_| ()).unwrap_err();
            assert!(matches!(e, Error::License { .. }), "{e}");
            let text = e.to_string();
            assert!(
                text.contains("bpf_trace_printk") && text.contains(clause),
                "{text}"
            );
            assert!(text.contains("SEC(\"license\") = \"GPL\""), "{text}");
            object
                .load(Some("clean"))
                .expect("a program without GPL helpers loads");
        }
        let ok = fixture("gpl_helper", &["LICENSE_TEXT=\"Dual BSD/GPL\""]);
        let object = crate::XdpObject::from_bytes("g.o", ok).unwrap();
        object
            .load(Some("prog"))
            .expect("Dual BSD/GPL is GPL-compatible");
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
