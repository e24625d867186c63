//! Shards: a stable share of a class for one machine of an engine that spans several (a GitHub
//! Actions matrix, a Kubernetes Indexed Job). `grade merge` puts the shares back together.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use super::Submission;

/// Shard `index` of `count` (1-based, `2/3`): every `count`-th student of the sorted class,
/// starting with the `index`-th. The same folder always splits the same way, and each student
/// lands in exactly one shard. Written `K/N` in a results folder's `graded.json`, so `grade
/// merge` can tell which shares it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Shard {
    /// Which share, from 1 to `count`.
    pub index: usize,
    /// How many shares.
    pub count: usize,
}

/// Why a `--shard` value is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not of the form `K/N`.
    #[error(
        "`{0}` is not a shard: write K/N with whole numbers, for example 2/3 for the second of \
         three shares"
    )]
    Format(String),
    /// K outside 1..=N.
    #[error(
        "shard {index}/{count} does not exist: K counts from 1 to N (a Kubernetes completion \
         index is 0-based, so pass $((JOB_COMPLETION_INDEX + 1))/N)"
    )]
    Range {
        /// K as given.
        index: usize,
        /// N as given.
        count: usize,
    },
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let format = || ShardError::Format(s.to_owned());
        let (k, n) = s.split_once('/').ok_or_else(format)?;
        let index: usize = k.trim().parse().map_err(|_| format())?;
        let count: usize = n.trim().parse().map_err(|_| format())?;
        if index == 0 || index > count {
            return Err(ShardError::Range { index, count });
        }
        Ok(Self { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl TryFrom<String> for Shard {
    type Error = ShardError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Shard> for String {
    fn from(s: Shard) -> Self {
        s.to_string()
    }
}

impl Shard {
    /// The whole class in one share: what a grading without `--shard` is, and what a merge
    /// makes, so either can be merged again (alone) like any shard.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// This shard's students out of the whole class, sorted as `discover` sorts them.
    pub fn select(self, mut subs: Vec<Submission>) -> Vec<Submission> {
        subs.sort_by(|a, b| a.student.cmp(&b.student));
        subs.into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index - 1)
            .map(|(_, s)| s)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(n: usize) -> Vec<Submission> {
        (0..n)
            .map(|i| Submission {
                student: format!("s{i:02}"),
                objects: Vec::new(),
                pinned: None,
                problem: None,
            })
            .collect()
    }

    #[test]
    fn shards_cover_the_class_once() {
        let mut seen: Vec<String> = (1..=3)
            .flat_map(|k| Shard { index: k, count: 3 }.select(class(10)))
            .map(|s| s.student)
            .collect();
        assert_eq!(seen.len(), 10);
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 10);
        let first: Vec<_> = Shard { index: 1, count: 3 }
            .select(class(10))
            .into_iter()
            .map(|s| s.student)
            .collect();
        assert_eq!(first, ["s00", "s03", "s06", "s09"]);
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!("2/3".parse::<Shard>().unwrap().to_string(), "2/3");
        assert!(matches!(
            "0/3".parse::<Shard>(),
            Err(ShardError::Range { .. })
        ));
        assert!(matches!(
            "4/3".parse::<Shard>(),
            Err(ShardError::Range { .. })
        ));
        assert!(matches!("x".parse::<Shard>(), Err(ShardError::Format(_))));
        assert!(
            "1/0"
                .parse::<Shard>()
                .unwrap_err()
                .to_string()
                .contains("K counts from 1")
        );
    }
}
