//! What can go wrong before a check gets to judge a program.

use std::path::PathBuf;

/// Why an object, a program, a map or the environment could not be used.
///
/// Every variant renders as one paragraph that names the cause and the fix, because these
/// messages are shown to students and instructors, not to the harness's developers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The process lacks the privileges BPF and namespaces need.
    #[error(
        "xdplab needs root: loading XDP programs and creating network namespaces require \
         CAP_SYS_ADMIN and CAP_NET_ADMIN. Run it again with sudo (for example `sudo just lab-7-1`)."
    )]
    NotRoot,

    /// The object file does not exist or cannot be read.
    #[error(
        "cannot read the object `{path}`: {source}. Check the path (`xdplab run LAB \
         prog.c --print-compile-command` prints the line that compiles a C program here)."
    )]
    Unreadable {
        /// The path given by the user.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// The file is not an ELF object.
    #[error(
        "`{path}` is not an ELF object (it starts with {magic}). Pass the compiled `.o` file, not \
         the source or a linked binary; to compile a C program on this machine: `{build}`."
    )]
    NotElf {
        /// The path given by the user.
        path: PathBuf,
        /// The first bytes of the file, shown so the user recognises what they passed.
        magic: String,
        /// The clang line that builds a C program on this machine (`clang::command`).
        build: String,
    },

    /// A C source handed in did not compile: clang's own diagnostics, and the line that ran.
    #[error(
        "`{}` does not compile. `{command}` said:\n{diagnostics}{}",
        source_path.display(),
        hint.map(|h| format!("\nFix: {h}")).unwrap_or_default()
    )]
    Compile {
        /// The source file.
        source_path: PathBuf,
        /// The clang command line.
        command: String,
        /// What clang printed.
        diagnostics: String,
        /// The fix for a missing header, when that is the failure.
        hint: Option<&'static str>,
    },

    /// The ELF object could not be parsed or prepared by aya.
    #[error(
        "`{path}` is an ELF file but not a usable BPF object: {reason}. Compile it for the BPF \
         target (`clang -target bpf`, or aya-ebpf with bpf-linker)."
    )]
    BadObject {
        /// The path given by the user.
        path: PathBuf,
        /// What aya reported.
        reason: String,
    },

    /// The object holds no XDP program at all.
    #[error(
        "`{path}` holds no XDP program{others}. Put each program in an `xdp` section \
         (`SEC(\"xdp\")` in C, `#[xdp]` in aya-ebpf)."
    )]
    NoXdpProgram {
        /// The path given by the user.
        path: PathBuf,
        /// The other programs found, if any, already formatted.
        others: String,
    },

    /// A program the lab needs is missing from the object or pin directory. The fix depends on
    /// where programs come from: the source's `ProgramSource::with_supply_hint` (in `object`)
    /// adds its sentence.
    #[error(
        "program `{name}` not found; the programs given are: {}.{}",
        if available.is_empty() { "none" } else { available.as_str() },
        hint.as_ref().map(|h| format!(" {h}")).unwrap_or_default()
    )]
    ProgramNotFound {
        /// The program the lab asked for.
        name: String,
        /// The XDP programs the object does hold.
        available: String,
        /// How to supply the program, a sentence that follows the message.
        hint: Option<String>,
    },

    /// A program the student loaded themselves cannot be found where they said it is (a
    /// program id, an interface).
    #[error("{what}: {reason}. {fix}")]
    NotLoaded {
        /// Where the user said the program is (`program id 42`, `interface eth0`).
        what: String,
        /// What is wrong there.
        reason: String,
        /// How to find or load the program.
        fix: String,
    },

    /// The kernel verifier rejected the program.
    #[error(
        "the kernel verifier rejected `{program}` ({errno}{}). The verifier's log, trimmed to \
         the part that matters (`xdplab run ... --verifier-log FILE` writes it whole):\n{log}\n{}",
        insns.map(|n| format!(", after {n} instructions")).unwrap_or_default(),
        hint.unwrap_or("Its last lines say which instruction it refused and why.")
    )]
    Verifier {
        /// The program that failed to load.
        program: String,
        /// The errno of BPF_PROG_LOAD.
        errno: String,
        /// The trimmed verifier log.
        log: String,
        /// The whole log, as the kernel wrote it (`--verifier-log` writes it); boxed to keep
        /// the error small.
        whole: Box<str>,
        /// The instruction count the verifier reached, when its log says.
        insns: Option<u32>,
        /// What usually causes the rejection the log names and how to fix it, for the
        /// verifier's common rejections; none for a log no known pattern matches.
        hint: Option<&'static str>,
    },

    /// The verifier gave up on `program` at one of its limits (instruction count, complexity,
    /// loops) rather than finding an unsafe access.
    #[error(
        "the kernel verifier gave up on `{program}`: {limit}{}. The verifier walks every path \
         through the program and stops at one million instructions; {fix} The end of its log:\n{log}",
        insns.map(|n| format!(" (after {n} instructions)")).unwrap_or_default()
    )]
    VerifierLimit {
        /// The program that failed to load.
        program: String,
        /// Which limit, in words.
        limit: String,
        /// What to change.
        fix: &'static str,
        /// The trimmed verifier log.
        log: String,
        /// The whole log, as the kernel wrote it (`--verifier-log` writes it); boxed to keep
        /// the error small.
        whole: Box<str>,
        /// The instruction count the verifier reached, when its log says.
        insns: Option<u32>,
    },

    /// The program calls a helper only GPL-compatible programs may call, and its object has no
    /// license or one that is not GPL-compatible: found before loading, because aya loads an
    /// object without a license section as GPL, where the kernel through any other loader
    /// (bpftool, libbpf, iproute2) refuses the call.
    #[error(
        "`{program}` calls {helpers}, which only GPL-compatible programs may call, but {license}. \
         The lab's contract requires a GPL-compatible license: add `char LICENSE[] \
         SEC(\"license\") = \"GPL\";` to the C source (\"Dual BSD/GPL\" and \"Dual MIT/GPL\" work \
         too); in aya-ebpf `#[unsafe(link_section = \"license\")] #[unsafe(no_mangle)] static \
         LICENSE: [u8; 4] = *b\"GPL\\0\";`; the Clojure library's `programs/load-program` takes \
         `:license \"GPL\"` (its default)."
    )]
    License {
        /// The program.
        program: String,
        /// The GPL-only helpers it calls, already formatted.
        helpers: String,
        /// What the object's license is, as a clause ("the object has no license section").
        license: String,
    },

    /// Two of a student's objects define the same programs, so which one is meant is unclear.
    #[error(
        "{} defined in both `{first}` and `{second}`. Hand in each program once: remove {} from \
         one of the objects.",
        crate::error::program_list(program),
        if program.len() == 1 { "it" } else { "them" }
    )]
    DuplicateProgram {
        /// Every program both objects define, sorted by name.
        program: Vec<String>,
        /// The first object defining it.
        first: PathBuf,
        /// The second object defining it.
        second: PathBuf,
    },

    /// The program is not one an interface runs: another program type, or an XDP program built
    /// for a devmap or cpumap (`SEC("xdp/devmap")`), which neither an interface nor
    /// BPF_PROG_TEST_RUN accepts. The program's own failure, never an excuse.
    #[error(
        "`{program}` is {found}, so it cannot run on an interface and none of its checks can \
         pass. The lab needs an interface XDP program: put it in `SEC(\"xdp\")` (C), \
         `#[xdp]` without a map argument (aya-ebpf), or load it as an XDP program with no \
         expected attach type (the Clojure library's default)."
    )]
    ProgramType {
        /// The program.
        program: String,
        /// What it is instead, in words.
        found: String,
    },

    /// The program spends so long in the kernel per frame that a check cannot be judged in the
    /// time the contract allows; charged to the program (class `timeout`), never excused as a
    /// slow machine.
    #[error(
        "`{program}` is too slow: it took {} per frame in the kernel, {budget}. Per-frame loops \
         (`bpf_loop`, long bounded loops) do this: keep the work per frame to a few hundred \
         instructions (the reference takes well under a microsecond).",
        fmt_duration(*per_frame)
    )]
    TooSlow {
        /// The program.
        program: String,
        /// Its kernel time per frame.
        per_frame: std::time::Duration,
        /// Which limit that breaks, as a clause ("more than the 10 ms a frame may take").
        budget: String,
    },

    /// The run panicked outside the loader's own boundary (a harness bug that a submission
    /// triggered); graded as `crash`, never as an environment fault.
    #[error(
        "the run crashed: {0}. The submission made the harness fail; report it to the course \
         staff with the object attached."
    )]
    Crashed(String),

    /// A path handed in could not be used (missing, not a regular file, too large).
    #[error(transparent)]
    Input(#[from] crate::input::InputError),

    /// A map the lab needs is missing.
    #[error(
        "map `{name}` not found: {available}The lab's contract requires a map named `{name}` \
         ({expected}). Name it in C by the variable declared in SEC(\".maps\"), in aya-ebpf by \
         the `#[map]` static (or `#[map(name = \"{name}\")]`), in the Clojure library with \
         `:map-name \"{name}\"` when creating it; or pin it next to the program as `{name}`."
    )]
    MapMissing {
        /// The map the lab looked for.
        name: String,
        /// What the contract says it must be.
        expected: String,
        /// The maps the object does have.
        available: String,
    },

    /// A map exists but its type, key or value size differs from the contract.
    #[error(
        "map `{name}` has the wrong layout: {found}, but the contract needs {expected}. Declare \
         it as the lab's README says."
    )]
    MapLayout {
        /// The map's name.
        name: String,
        /// What the contract says.
        expected: String,
        /// What the object declares.
        found: String,
    },

    /// The command line asked for something that does not exist (a lab, check or program) or
    /// for a combination that selects nothing; the message lists the valid values.
    #[error("{0}")]
    Usage(String),

    /// The harness or kernel misbehaved; never the student's fault. Like aya's `SyscallError`,
    /// it names the operation that failed and keeps the error underneath it, so
    /// [`std::error::Error::source`] reaches the original cause.
    #[error(
        "environment fault: {operation}{}. This is not a problem with the program under test; run \
         `xdplab doctor` and `xdplab clean`, then try again.",
        source.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
    )]
    Environment {
        /// What the harness was doing (`reading map `stats``, `creating namespace x`).
        operation: String,
        /// The error underneath, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// An [`Error::Environment`] for a fault that has no underlying error (a topology without
    /// the namespace asked for, a socket that saw nothing).
    pub fn env(what: impl std::fmt::Display) -> Self {
        Error::Environment {
            operation: what.to_string(),
            source: None,
        }
    }

    /// An [`Error::Environment`] for `operation` failing with `source`, which it keeps as its
    /// [`std::error::Error::source`].
    pub fn op(
        operation: impl std::fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Environment {
            operation: operation.to_string(),
            source: Some(source.into()),
        }
    }

    /// A `map_err` adapter: `.map_err(Error::during("reading /proc/mounts"))` builds
    /// [`Error::op`] from the error it is given.
    pub fn during<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
        operation: impl std::fmt::Display,
    ) -> impl FnOnce(E) -> Self {
        let operation = operation.to_string();
        move |e| Error::op(operation, e)
    }

    /// Shorthand for an [`Error::Usage`] built from anything printable.
    pub fn usage(what: impl std::fmt::Display) -> Self {
        Error::Usage(what.to_string())
    }

    /// The verifier's whole log, when this is a verifier rejection.
    pub fn verifier_log(&self) -> Option<&str> {
        match self {
            Error::Verifier { whole, .. } | Error::VerifierLimit { whole, .. } => Some(whole),
            _ => None,
        }
    }

    /// The failure class, as used in reports and grading.
    pub fn class(&self) -> FailureClass {
        match self {
            Error::Unreadable { .. } | Error::NotElf { .. } | Error::BadObject { .. } => {
                FailureClass::BadObject
            }
            Error::NoXdpProgram { .. }
            | Error::ProgramNotFound { .. }
            | Error::NotLoaded { .. }
            | Error::DuplicateProgram { .. }
            | Error::ProgramType { .. } => FailureClass::NoProgram,
            Error::TooSlow { .. } => FailureClass::Timeout,
            Error::Verifier { .. } | Error::VerifierLimit { .. } | Error::License { .. } => {
                FailureClass::Verifier
            }
            Error::Compile { .. } => FailureClass::Compile,
            Error::Crashed(_) => FailureClass::Crash,
            // What users hand in: a student's files are the submission's fault; a grader's
            // rubric or folders are usage mistakes.
            Error::Input(e) => match e.kind() {
                crate::input::PathKind::Object
                | crate::input::PathKind::PinnedFile
                | crate::input::PathKind::Pins => FailureClass::BadObject,
                _ => FailureClass::Usage,
            },
            Error::MapMissing { .. } | Error::MapLayout { .. } => FailureClass::MapLayout,
            Error::Usage(_) => FailureClass::Usage,
            Error::NotRoot | Error::Environment { .. } => FailureClass::Environment,
        }
    }
}

/// A duration in the unit that reads best: `850 ns`, `12.5 µs`, `3.2 ms`.
pub fn fmt_duration(d: std::time::Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else {
        format!("{:.2} s", ns as f64 / 1e9)
    }
}

/// Why a check did not pass, in the words graders and reports use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// Not an ELF, or unreadable.
    BadObject,
    /// No XDP program, or the wrong program name.
    NoProgram,
    /// The verifier rejected the program.
    Verifier,
    /// A required map is missing or has the wrong type or sizes.
    MapLayout,
    /// The C source handed in did not compile.
    Compile,
    /// A behaviour check failed.
    Behaviour,
    /// The harness or kernel misbehaved; never charged to the student.
    Environment,
    /// The command line named something that does not exist; nothing was judged.
    Usage,
    /// The submission ran past its time limit and was stopped (graded 0, with partial output).
    Timeout,
    /// The submission made the grading run crash (graded 0, with partial output).
    Crash,
}

/// "program `a` is" or "programs `a`, `b` and `c` are".
fn program_list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [one] => format!("program {one} is"),
        [rest @ .., last] => format!("programs {} and {last} are", rest.join(", ")),
        [] => "no program is".into(),
    }
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_error_names_the_operation_and_keeps_its_cause() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = Error::op("reading map `stats`", io);
        let text = e.to_string();
        assert!(
            text.starts_with("environment fault: reading map `stats`: "),
            "{text}"
        );
        assert!(text.contains("xdplab doctor"), "{text}");
        let source = std::error::Error::source(&e).expect("the cause is kept");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("as the original type");
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(e.class(), FailureClass::Environment);
    }

    #[test]
    fn an_environment_error_without_a_cause_reads_as_one_sentence() {
        let e = Error::env("topology has no namespace `client`");
        assert!(std::error::Error::source(&e).is_none());
        assert!(
            e.to_string()
                .starts_with("environment fault: topology has no namespace `client`. This is not"),
            "{e}"
        );
    }

    #[test]
    fn during_adapts_map_err() {
        let r: std::result::Result<(), std::io::Error> = Err(std::io::Error::other("disk on fire"));
        let e = r.map_err(Error::during("creating /tmp/x")).unwrap_err();
        assert!(
            e.to_string().contains("creating /tmp/x: disk on fire"),
            "{e}"
        );
    }
}
