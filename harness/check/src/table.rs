//! The one expected/actual table every check is judged by: rows of `name  cell` and counter
//! deltas, built side by side so equal tables mean a pass and their diff is what a student reads.
//!
//! Values measured during a run (elapsed times, and bounds derived from them) are written inside
//! ⟨ ⟩ on both sides: they are inputs of the check, identical in both tables, and snapshot tests
//! redact them.

use std::{collections::BTreeMap, time::Duration};

use crate::judgement::Judgement;
use kernel::{
    target::{Mode, Spread},
    verdict::Verdict,
};

/// Width of the name column.
const NAME_WIDTH: usize = 44;

/// One row as both tables print it.
pub fn row_line(name: &str, cell: &str) -> String {
    format!("{name:<NAME_WIDTH$} {cell}")
}

/// Two tables built line by line: what the contract expects and what happened.
#[derive(Debug, Default, Clone)]
pub struct Table {
    expected: String,
    actual: String,
}

impl Table {
    /// A line that is the same on both sides: an input of the check (what was sent, measured
    /// times).
    pub fn input(&mut self, line: impl AsRef<str>) -> &mut Self {
        self.both(line.as_ref(), line.as_ref())
    }

    /// A row `name  expected` / `name  actual`.
    pub fn row(
        &mut self,
        name: &str,
        expected: impl AsRef<str>,
        actual: impl AsRef<str>,
    ) -> &mut Self {
        let e = row_line(name, expected.as_ref());
        let a = row_line(name, actual.as_ref());
        self.both(&e, &a)
    }

    /// The verdicts of a group of frames, run-length encoded (`PASS ×100, DROP ×50`), against
    /// the exact sequence the contract gives.
    pub fn verdicts(&mut self, name: &str, expected: &[Verdict], actual: &[Verdict]) -> &mut Self {
        self.row(name, runs(expected), runs(actual))
    }

    /// How many of a group passed, against an inclusive range whose ends are shown as given
    /// (measured ends inside ⟨ ⟩), and every other frame dropped; identical text when both
    /// hold, else the actual side says how many passed and what the others got.
    pub fn passed_in(&mut self, name: &str, lo: Shown, hi: Shown, got: &[Verdict]) -> &mut Self {
        let bounds = format!("PASS {lo}..={hi}, the rest DROP");
        let passed = got.iter().filter(|v| **v == Verdict::Pass).count() as u64;
        let rest: Vec<Verdict> = got
            .iter()
            .copied()
            .filter(|v| *v != Verdict::Pass)
            .collect();
        let in_range = (lo.value..=hi.value).contains(&passed);
        let dropped = rest.iter().all(|v| *v == Verdict::Drop);
        let actual = match (in_range, dropped) {
            (true, true) => format!("{bounds}: yes"),
            (true, false) => format!("{bounds}: no, the rest {}", runs(&rest)),
            (false, true) => format!("{bounds}: no, {passed} passed"),
            (false, false) => format!("{bounds}: no, {passed} passed, the rest {}", runs(&rest)),
        };
        self.row(name, format!("{bounds}: yes"), actual)
    }

    /// Counter changes of `map` against expectations by index. With a `width`, every index
    /// below it is shown (so a wrong bucket stands out) and indexes with no expectation must
    /// not move; without one, only the listed indexes are compared (the contract leaves the
    /// others open).
    pub fn counters(
        &mut self,
        map: &str,
        width: Option<usize>,
        expected: &BTreeMap<u32, Shown>,
        deltas: &[u64],
    ) -> &mut Self {
        let indexes: Vec<u32> = match width {
            Some(w) => (0..w.max(deltas.len()) as u32)
                .filter(|&i| i < w as u32 || deltas.get(i as usize).is_some_and(|d| *d != 0))
                .collect(),
            None => expected.keys().copied().collect(),
        };
        for i in indexes {
            let got = deltas.get(i as usize).copied().unwrap_or(0);
            let want = expected.get(&i).copied().unwrap_or(Shown::fixed(0));
            let got = Shown {
                value: got,
                measured: want.measured,
            };
            self.both(
                &format!("{map}[{i}] +{want}"),
                &format!("{map}[{i}] +{got}"),
            );
        }
        self
    }

    fn both(&mut self, expected: &str, actual: &str) -> &mut Self {
        self.expected.push_str(expected);
        self.expected.push('\n');
        self.actual.push_str(actual);
        self.actual.push('\n');
        self
    }

    /// Appends another table below this one.
    pub fn extend(&mut self, other: &Table) -> &mut Self {
        self.expected.push_str(&other.expected);
        self.actual.push_str(&other.actual);
        self
    }

    /// Whether everything so far is as the contract expects.
    pub fn matches(&self) -> bool {
        self.expected == self.actual
    }

    /// The judgement: a pass when both tables are equal.
    pub fn judge(&self) -> Judgement {
        Judgement {
            expected: self.expected.clone(),
            actual: self.actual.clone(),
        }
    }
}

/// A number as a table shows it: plain when the contract fixes it, inside ⟨ ⟩ when it was
/// derived from something measured during the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    /// The number.
    pub value: u64,
    /// Whether it was measured (and so redacted in snapshots).
    pub measured: bool,
}

impl Shown {
    /// A number the contract fixes.
    pub fn fixed(value: u64) -> Self {
        Self {
            value,
            measured: false,
        }
    }

    /// A number measured during the run.
    pub fn measured(value: u64) -> Self {
        Self {
            value,
            measured: true,
        }
    }
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.measured {
            write!(f, "⟨{}⟩", self.value)
        } else {
            write!(f, "{}", self.value)
        }
    }
}

/// Renders rows of `name  cell` and the counter deltas that moved as one table (the layout of
/// probe checks, where a counter that should not move shows up as an extra line).
pub fn render<'a>(
    rows: impl Iterator<Item = (&'a str, String)>,
    counters: Option<(&str, &BTreeMap<u32, u64>)>,
) -> String {
    let mut out = String::new();
    for (name, cell) in rows {
        out.push_str(&row_line(name, &cell));
        out.push('\n');
    }
    if let Some((map, deltas)) = counters {
        if deltas.is_empty() {
            out.push_str(&format!("{map}: no change\n"));
        }
        for (i, d) in deltas {
            out.push_str(&format!("{map}[{i}] +{d}\n"));
        }
    }
    out
}

/// `PASS ×100, DROP ×50`.
pub fn runs(verdicts: &[Verdict]) -> String {
    let mut out: Vec<(Verdict, usize)> = Vec::new();
    for v in verdicts {
        match out.last_mut() {
            Some((last, n)) if last == v => *n += 1,
            _ => out.push((*v, 1)),
        }
    }
    if out.is_empty() {
        return "nothing".into();
    }
    out.iter()
        .map(|(v, n)| format!("{v} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `d` in milliseconds, as a measured value.
pub fn ms(d: Duration) -> String {
    format!("⟨{:.1} ms⟩", d.as_secs_f64() * 1e3)
}

/// A line for a table's inputs: how `spread` sends a batch in `mode`.
pub fn spread_line(spread: Spread, mode: Mode) -> String {
    match spread {
        Spread::InTurn { cpus, each } => {
            format!("one at a time, {each} in a row on each of {cpus} CPUs in turn")
        }
        // The count differs by mode: shown as a measured value, so tables (and snapshots)
        // read the same in every mode.
        Spread::Concurrent {
            cpus, staggered, ..
        } => format!(
            "from {cpus} CPUs at once, each running every frame {} times{}",
            Shown::measured(u64::from(spread.repeat(mode))),
            if staggered {
                ", the CPUs on different halves of them at any moment"
            } else {
                ""
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_run_length_encoded() {
        use Verdict::{Drop, Pass};
        assert_eq!(runs(&[Pass, Pass, Drop, Pass]), "PASS ×2, DROP ×1, PASS ×1");
        assert_eq!(runs(&[]), "nothing");
    }

    #[test]
    fn a_range_reads_the_same_on_both_sides_only_when_met() {
        use Verdict::{Drop, Pass};
        let group = |pass: usize, rest: Verdict| {
            let mut v = vec![Pass; pass];
            v.extend([rest; 5]);
            v
        };
        let mut inside = Table::default();
        inside.passed_in("x", Shown::fixed(10), Shown::measured(20), &group(15, Drop));
        let j = inside.judge();
        assert_eq!(j.expected, j.actual);
        assert!(
            j.expected.contains("PASS 10..=⟨20⟩, the rest DROP: yes"),
            "{}",
            j.expected
        );
        let mut outside = Table::default();
        outside.passed_in("x", Shown::fixed(10), Shown::measured(20), &group(21, Drop));
        let j = outside.judge();
        assert!(j.actual.contains("no, 21 passed"), "{}", j.actual);
    }

    #[test]
    fn a_range_fails_when_the_rest_are_not_dropped() {
        use Verdict::{Aborted, Pass, Tx};
        for rest in [Tx, Aborted] {
            let mut got = vec![Pass; 15];
            got.extend([rest; 5]);
            let mut t = Table::default();
            t.passed_in("x", Shown::fixed(10), Shown::measured(20), &got);
            let j = t.judge();
            assert_ne!(j.expected, j.actual);
            assert!(
                j.actual.contains(&format!("the rest {rest} ×5")),
                "{}",
                j.actual
            );
        }
    }

    #[test]
    fn counters_with_a_width_show_every_index_and_flag_unexpected_moves() {
        let mut t = Table::default();
        let want = BTreeMap::from([(1, Shown::fixed(2))]);
        t.counters("stats", Some(2), &want, &[1, 2, 0, 5]);
        let j = t.judge();
        assert_eq!(j.expected, "stats[0] +0\nstats[1] +2\nstats[3] +0\n");
        assert_eq!(j.actual, "stats[0] +1\nstats[1] +2\nstats[3] +5\n");
    }
}
