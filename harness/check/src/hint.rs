//! Hints for the usual mistakes: a check may carry short advice keyed on the pattern of its
//! failure, read off the same expected/actual tables the check is judged by. A hint shows
//! only when its pattern is in the failure (a named frame's verdict pair, a count moved from
//! one counter to another); a failure no pattern matches gets no hint, never a guess.

use std::collections::BTreeMap;

use crate::{judgement::Judgement, table::row_line};
use kernel::verdict::Verdict;

/// Advice shown under a failed check's diff when its pattern matches the failure.
#[derive(Debug, Clone)]
pub struct Hint {
    when: Pattern,
    text: String,
}

#[derive(Debug, Clone)]
enum Pattern {
    /// A row (any row, or one of the named ones) whose expected cell names `expected` and whose
    /// actual cell names `got` where the expected one does not.
    Verdict {
        rows: Vec<String>,
        expected: Verdict,
        got: Verdict,
    },
    /// Counter `map[got]` moved more than expected while `map[expected]` moved less, and
    /// everything else (the verdicts) is as expected: the right action, the wrong counter.
    Counted {
        map: String,
        expected: u32,
        got: u32,
    },
}

impl Hint {
    /// When the frame of row `row` was expected to get `expected` and got `got`.
    pub fn row(row: &str, expected: Verdict, got: Verdict, text: impl Into<String>) -> Self {
        Self::rows([row], expected, got, text)
    }

    /// When the frame of any of `rows` was expected to get `expected` and got `got`.
    pub fn rows<'a>(
        rows: impl IntoIterator<Item = &'a str>,
        expected: Verdict,
        got: Verdict,
        text: impl Into<String>,
    ) -> Self {
        Self {
            when: Pattern::Verdict {
                rows: rows.into_iter().map(str::to_owned).collect(),
                expected,
                got,
            },
            text: text.into(),
        }
    }

    /// When any row of the check was expected to get `expected` and got `got`.
    pub fn any_row(expected: Verdict, got: Verdict, text: impl Into<String>) -> Self {
        Self {
            when: Pattern::Verdict {
                rows: Vec::new(),
                expected,
                got,
            },
            text: text.into(),
        }
    }

    /// When counts the contract puts in `map[expected]` went to `map[got]` instead.
    pub fn counted(
        map: &str,
        expected: impl Into<u32>,
        got: impl Into<u32>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            when: Pattern::Counted {
                map: map.to_owned(),
                expected: expected.into(),
                got: got.into(),
            },
            text: text.into(),
        }
    }

    /// The advice.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the failure `j` shows this hint's pattern.
    pub fn matches(&self, j: &Judgement) -> bool {
        match &self.when {
            Pattern::Verdict {
                rows,
                expected,
                got,
            } => {
                let (e, g) = (expected.to_string(), got.to_string());
                let expected_cells = if rows.is_empty() {
                    cells(&j.expected, None)
                } else {
                    rows.iter()
                        .flat_map(|r| cells(&j.expected, Some(r)))
                        .collect()
                };
                expected_cells
                    .into_iter()
                    .filter(|(_, cell)| names(cell, &e) && !names(cell, &g))
                    .any(|(name, _)| {
                        cells(&j.actual, Some(&name))
                            .iter()
                            .any(|(_, cell)| names(cell, &g))
                    })
            }
            Pattern::Counted { map, expected, got } => {
                let (want, saw) = (counts(&j.expected, map), counts(&j.actual, map));
                let at = |m: &BTreeMap<u32, u64>, i| m.get(i).copied().unwrap_or(0);
                let prefix = format!("{map}[");
                let rest = |t: &str| -> Vec<String> {
                    t.lines()
                        .filter(|l| !l.starts_with(&prefix))
                        .map(str::to_owned)
                        .collect()
                };
                rest(&j.expected) == rest(&j.actual)
                    && at(&saw, expected) < at(&want, expected)
                    && at(&saw, got) > at(&want, got)
            }
        }
    }
}

/// The hints of `hints` whose pattern the failure `j` shows, in order, each once.
pub fn matching(hints: &[Hint], j: &Judgement) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for h in hints.iter().filter(|h| h.matches(j)) {
        if !out.contains(&h.text) {
            out.push(h.text.clone());
        }
    }
    out
}

/// The rows of a table as (name, cell): those named `row`, or every row when `None` (rows are
/// `name` padded to the name column, then the cell; see [`row_line`]).
fn cells(table: &str, row: Option<&str>) -> Vec<(String, String)> {
    // The name column is padded in characters (names hold `×`), so split at a character.
    let column = row_line("", "").chars().count();
    table
        .lines()
        .filter_map(|line| {
            if let Some(name) = row {
                let cell = line.strip_prefix(&row_line(name, ""))?;
                return Some((name.to_owned(), cell.to_owned()));
            }
            let at = line.char_indices().nth(column)?.0;
            let (name, cell) = line.split_at(at);
            let name = name.trim_end();
            (!name.is_empty() && !name.starts_with(' ') && !cell.starts_with(' '))
                .then(|| (name.to_owned(), cell.to_owned()))
        })
        .collect()
}

/// Whether a cell names verdict `v` as a word (`PASS ×3, TX ×2` names TX).
fn names(cell: &str, v: &str) -> bool {
    cell.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| w == v)
}

/// The counter lines `map[i] +n` of a table (measured values inside ⟨ ⟩ read as numbers).
fn counts(table: &str, map: &str) -> BTreeMap<u32, u64> {
    let prefix = format!("{map}[");
    table
        .lines()
        .filter_map(|line| {
            let (i, rest) = line.strip_prefix(&prefix)?.split_once("] +")?;
            let n: String = rest.chars().filter(char::is_ascii_digit).collect();
            Some((i.parse().ok()?, n.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::{Drop, Pass, Tx};

    fn judgement(expected: &[(&str, &str)], actual: &[(&str, &str)]) -> Judgement {
        let table = |rows: &[(&str, &str)]| -> String {
            rows.iter()
                .map(|(n, c)| {
                    if n.contains('[') {
                        format!("{n} {c}\n")
                    } else {
                        row_line(n, c) + "\n"
                    }
                })
                .collect()
        };
        Judgement {
            expected: table(expected),
            actual: table(actual),
        }
    }

    #[test]
    fn a_verdict_hint_needs_its_row_and_its_pair() {
        let swapped = Hint::row("tcp-dport-5632", Pass, Drop, "htons");
        let j = judgement(
            &[("tcp-dport-22", "DROP"), ("tcp-dport-5632", "PASS")],
            &[("tcp-dport-22", "PASS"), ("tcp-dport-5632", "DROP")],
        );
        assert!(swapped.matches(&j));
        // The other row's failure is not this pattern.
        let other = judgement(
            &[("tcp-dport-22", "DROP"), ("tcp-dport-5632", "PASS")],
            &[("tcp-dport-22", "PASS"), ("tcp-dport-5632", "PASS")],
        );
        assert!(!swapped.matches(&other));
        assert!(!Hint::any_row(Pass, Drop, "x").matches(&other));
        assert!(Hint::any_row(Drop, Pass, "x").matches(&other));
    }

    #[test]
    fn a_verdict_hint_reads_runs_and_ignores_a_verdict_both_sides_name() {
        let tx = Hint::any_row(Drop, Tx, "tx");
        let j = judgement(
            &[(
                "from 198.18.1.1 ×1500",
                "PASS 1000..=⟨1064⟩, the rest DROP: yes",
            )],
            &[(
                "from 198.18.1.1 ×1500",
                "PASS 1000..=⟨1064⟩, the rest DROP: no, the rest TX ×487",
            )],
        );
        assert!(tx.matches(&j));
        let j = judgement(
            &[("over the limit", "PASS ×10, DROP ×5")],
            &[("over the limit", "PASS ×11, DROP ×4")],
        );
        assert!(!tx.matches(&j));
    }

    #[test]
    fn a_counter_hint_needs_the_count_moved_from_one_index_to_the_other() {
        let swapped = Hint::counted("stats", 2u32, 3u32, "bucket");
        let j = judgement(&[("stats[2]", "+3")], &[("stats[3]", "+3")]);
        assert!(swapped.matches(&j));
        let j = judgement(&[("stats[2]", "+3")], &[("stats[1]", "+3")]);
        assert!(!swapped.matches(&j));
        // A wrong verdict moves the count too: that is not this mistake.
        let j = judgement(
            &[("tcp-dport-22", "DROP"), ("stats[2]", "+1")],
            &[("tcp-dport-22", "PASS"), ("stats[3]", "+1")],
        );
        assert!(!swapped.matches(&j));
        let j = judgement(
            &[("stats[2]", "+⟨3⟩"), ("stats[3]", "+0")],
            &[("stats[2]", "+⟨1⟩"), ("stats[3]", "+2")],
        );
        assert!(swapped.matches(&j));
        assert_eq!(matching(&[swapped.clone(), swapped], &j), ["bucket"]);
    }
}
