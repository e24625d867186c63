//! A lab's register of equivalent mutants (`labs/lab-7-N/mutants.toml`): each survivor judged
//! equivalent to the correct program under the lab's contract, with the contract sentence that
//! allows it. A mutant is named by what survives edits elsewhere in the file: its program, the
//! function, the operator and the exact line before and after (never a line number).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{MutationReport, Operator, operators::Mutant};
use kernel::error::{Error, Result};

/// The reason a skeleton entry carries until someone writes the real one.
pub const TODO: &str = "TODO";

/// The register's file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// The survivors judged equivalent to the solution.
    #[serde(default)]
    pub equivalent: Vec<Entry>,
}

/// One survivor judged equivalent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The program whose checks it survived.
    pub program: String,
    /// The function the edit is in.
    pub function: String,
    /// The kind of edit.
    pub operator: Operator,
    /// The edited line(s) as written (see [`Mutant::original`](super::operators::Mutant::original)).
    pub original: String,
    /// The same line(s) after the edit.
    pub mutated: String,
    /// For a line written more than once in one function: which one (0 is the first).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nth: usize,
    /// Why it is equivalent: the contract sentence that allows it.
    pub reason: String,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Entry {
    /// An entry for `mutant` surviving in `program`, its reason still to be written.
    pub fn for_survivor(program: &str, mutant: &Mutant) -> Self {
        Self {
            program: program.to_owned(),
            function: mutant.function.clone(),
            operator: mutant.operator,
            original: mutant.original.clone(),
            mutated: mutant.mutated.clone(),
            nth: mutant.nth,
            reason: format!("{TODO}: the contract sentence that makes this mutant equivalent"),
        }
    }

    /// Whether this entry names `mutant` in `program`.
    pub fn names(&self, program: &str, mutant: &Mutant) -> bool {
        self.program == program
            && self.function == mutant.function
            && self.operator == mutant.operator
            && self.original == mutant.original
            && self.mutated == mutant.mutated
            && self.nth == mutant.nth
    }

    fn label(&self) -> String {
        format!(
            "{} · {} · {}: `{}` -> `{}`",
            self.program,
            self.function,
            self.operator.name(),
            self.original,
            self.mutated
        )
    }
}

impl Register {
    /// Reads a register file; a missing file is an empty register (a lab with no equivalent
    /// survivor needs none).
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(Error::usage(format!(
                    "cannot read the register `{}`: {e}.",
                    path.display()
                )));
            }
        };
        toml::from_str(&text).map_err(|e| {
            Error::usage(format!(
                "the register `{}` is not valid: {e}Each entry is an [[equivalent]] table with \
                 program, function, operator, original, mutated, reason (and nth for a line \
                 written twice); `xdplab mutants ... --register-skeleton` prints them.",
                path.display()
            ))
        })
    }

    /// Compares the register with a run's survivors.
    pub fn check(&self, report: &MutationReport) -> Verdict {
        let judged = |e: &Entry| report.programs.iter().any(|t| t.program == e.program);
        let unregistered = report
            .survivors()
            .filter(|(p, m)| !self.equivalent.iter().any(|e| e.names(p, m)))
            .map(|(p, m)| Entry::for_survivor(p, m))
            .collect();
        let stale = self
            .equivalent
            .iter()
            .filter(|e| judged(e) && !report.survivors().any(|(p, m)| e.names(p, m)))
            // A mutant a sample left out, or the run could not judge (a machine too loaded for
            // a contract clock), is not known to be killed.
            .filter(|e| !report.unsampled.iter().any(|m| e.names(&e.program, m)))
            .filter(|e| !report.unjudged().any(|(p, m)| e.names(p, m)))
            .cloned()
            .collect();
        let unjustified = self
            .equivalent
            .iter()
            .filter(|e| e.reason.trim().is_empty() || e.reason.trim_start().starts_with(TODO))
            .cloned()
            .collect();
        Verdict {
            unregistered,
            stale,
            unjustified,
        }
    }
}

/// How a run compares with the register.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// Survivors no entry names: a gap in the checks, or an equivalent mutant to register.
    pub unregistered: Vec<Entry>,
    /// Entries naming no survivor: the mutant is killed now, or no longer exists.
    pub stale: Vec<Entry>,
    /// Entries without a reason.
    pub unjustified: Vec<Entry>,
}

impl Verdict {
    /// Whether the register and the run agree.
    pub fn passed(&self) -> bool {
        self.unregistered.is_empty() && self.stale.is_empty() && self.unjustified.is_empty()
    }

    /// What disagrees, for people.
    pub fn to_text(&self, register: &Path) -> String {
        if self.passed() {
            return format!(
                "register {}: every survivor is registered\n",
                register.display()
            );
        }
        let mut out = String::new();
        for (what, entries, fix) in [
            (
                "survivor not in the register",
                &self.unregistered,
                "add a check that kills it, or register it with the contract sentence that \
                 makes it equivalent (--register-skeleton prints the entries)",
            ),
            (
                "stale register entry",
                &self.stale,
                "remove it: no survivor matches it any more",
            ),
            (
                "register entry without a reason",
                &self.unjustified,
                "write the contract sentence that makes it equivalent",
            ),
        ] {
            if entries.is_empty() {
                continue;
            }
            out.push_str(&format!(
                "register {}: {} {what}(s); {fix}:\n",
                register.display(),
                entries.len()
            ));
            for e in entries {
                out.push_str(&format!("  {}\n", e.label()));
            }
        }
        out
    }
}

/// A register holding `entries`, as TOML.
pub fn skeleton(entries: &[Entry]) -> String {
    let register = Register {
        equivalent: entries.to_vec(),
    };
    format!(
        "# Survivors judged equivalent, each with the contract sentence that allows it.\n\n{}",
        toml::to_string(&register).expect("serialises")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mutants::{MutantResult, Outcome, Tally};

    fn report(survivor: &str) -> MutationReport {
        let (mutants, _) = crate::mutants::operators::mutants(
            "int p(int a) {\n\tif (a < 5)\n\t\treturn 1;\n\treturn 0;\n}\n",
        );
        let results = mutants
            .into_iter()
            .map(|m| {
                let o = if m.mutated == survivor {
                    Outcome::Survived
                } else {
                    Outcome::Killed {
                        checks: vec!["c".into()],
                    }
                };
                MutantResult {
                    mutant: m,
                    outcomes: [("p".to_owned(), o)].into(),
                }
            })
            .collect();
        MutationReport {
            lab: "0.0".into(),
            source: "p.c".into(),
            programs: vec![Tally {
                program: "p".into(),
                ..Tally::default()
            }],
            mutants: results,
            baseline_failures: Vec::new(),
            not_sampled: 0,
            jobs: 1,
            seconds: 0.0,
            unsampled: Vec::new(),
        }
    }

    fn justified(mut entries: Vec<Entry>) -> Register {
        for e in &mut entries {
            e.reason = "The contract says so.".into();
        }
        Register {
            equivalent: entries,
        }
    }

    #[test]
    fn a_registered_survivor_passes_and_its_skeleton_reads_back() {
        let run = report("if (a <= 5)");
        let verdict = Register::default().check(&run);
        assert_eq!(verdict.unregistered.len(), 1);
        let text = skeleton(&verdict.unregistered);
        let back: Register = toml::from_str(&text).unwrap();
        assert_eq!(back.equivalent, verdict.unregistered);
        assert!(text.contains("original = \"if (a < 5)\""), "{text}");
        let with_todo = back.check(&run);
        assert_eq!(with_todo.unjustified.len(), 1, "a TODO reason is no reason");
        assert!(justified(back.equivalent).check(&run).passed());
    }

    #[test]
    fn an_unregistered_survivor_fails() {
        let run = report("if (a <= 5)");
        let verdict = Register::default().check(&run);
        assert!(!verdict.passed());
        let text = verdict.to_text(Path::new("mutants.toml"));
        assert!(text.contains("1 survivor not in the register"), "{text}");
        assert!(text.contains("`if (a < 5)` -> `if (a <= 5)`"), "{text}");
    }

    #[test]
    fn a_stale_entry_fails() {
        let registered = justified(
            Register::default()
                .check(&report("if (a <= 5)"))
                .unregistered,
        );
        // Now the mutant is killed and another survives.
        let verdict = registered.check(&report("return 2;"));
        assert_eq!(verdict.stale, registered.equivalent);
        assert_eq!(verdict.unregistered.len(), 1);
        assert!(
            verdict
                .to_text(Path::new("m.toml"))
                .contains("1 stale register entry(s)")
        );
        // An entry of a program this run did not judge is not stale.
        let mut other = registered.clone();
        other.equivalent[0].program = "q".into();
        assert_eq!(other.check(&report("if (a <= 5)")).stale, []);
        // Nor is one whose mutant this run could not judge: it is not known to be killed.
        let mut unjudged = report("return 2;");
        for m in &mut unjudged.mutants {
            if m.mutant.mutated == "if (a <= 5)" {
                m.outcomes.insert(
                    "p".into(),
                    Outcome::Unjudged {
                        reason: "too loaded".into(),
                    },
                );
            }
        }
        assert_eq!(registered.check(&unjudged).stale, []);
    }
}
