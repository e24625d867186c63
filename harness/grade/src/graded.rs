//! What grading produces for one submission ([`Graded`]): the type every output is written
//! from, and [`Timings`], the figures one run measured, kept out of the graded files.

use harness::report::{Perf, Report};
use serde::{Deserialize, Serialize};

use crate::{child::RunError, discover::Submission, score::Score};

/// One graded submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Graded {
    /// The submission.
    pub submission: Submission,
    /// The child's report (every check), even when the submission could not be run: then each
    /// check carries the reason. Settled ([`settle`]): nothing in it differs between two
    /// gradings of the same submission.
    pub report: Report,
    /// Why the submission as a whole could not be judged, if so.
    pub ungraded: Option<RunError>,
    /// The score.
    pub score: Score,
    /// How to replay a failed check locally: `xdplab run ... --check ID` for each.
    pub replay: Vec<(String, String)>,
    /// What this run measured, written to the student's `timings.json`; `None` when the
    /// submission was read back from a `graded.json` (which never holds them).
    #[serde(skip)]
    pub timings: Option<Timings>,
}

/// The file in a student's folder that holds what the run measured.
pub const TIMINGS_FILE: &str = "timings.json";

/// The figures one grading run measured (elapsed times and what was counted within them, a
/// cookie the kernel made, speed), which differ from one run to the next. They are taken out of
/// the report ([`settle`]) so every other file of a grading is the same on every run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// The checks whose messages held measured values.
    pub checks: Vec<Measured>,
    /// Speed next to the reference (`--perf`), when measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perf: Option<Perf>,
}

/// The measured values of one check, in the order its message shows them as `⟨…⟩`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// The check id.
    pub id: String,
    /// The values.
    pub values: Vec<String>,
}

/// What stands for a measured value in the graded files.
pub const REDACTED: &str = "⟨…⟩";

/// Takes every per-run figure out of `report`: each value written inside `⟨ ⟩` in a check's
/// message or actual table becomes [`REDACTED`], the frames of each check (real handshakes
/// carry the kernel's random sequence numbers) are dropped, and the speed figures are moved;
/// returns what was taken.
pub fn settle(report: &mut Report) -> Timings {
    let mut timings = Timings {
        checks: Vec::new(),
        perf: report.perf.take(),
    };
    for c in &mut report.checks {
        let mut values = Vec::new();
        c.message = redact(&c.message, &mut values);
        // The actual table repeats the message's values: kept once, from the message.
        c.actual = redact(&c.actual, &mut Vec::new());
        c.traffic.clear();
        if !values.is_empty() {
            timings.checks.push(Measured {
                id: c.id.clone(),
                values,
            });
        }
    }
    timings
}

/// `text` with everything inside `⟨ ⟩` replaced by [`REDACTED`], the values pushed to `values`.
fn redact(text: &str, values: &mut Vec<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('⟨') {
        out.push_str(&rest[..open]);
        out.push_str(REDACTED);
        let inside = &rest[open + '⟨'.len_utf8()..];
        let (value, after) = match inside.find('⟩') {
            Some(close) => (&inside[..close], &inside[close + '⟩'.len_utf8()..]),
            None => (inside, ""),
        };
        values.push(value.to_owned());
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_values_are_taken_out_in_order() {
        let mut values = Vec::new();
        assert_eq!(
            redact("passed at ⟨1.5 ms⟩: ⟨133⟩ of 200", &mut values),
            "passed at ⟨…⟩: ⟨…⟩ of 200"
        );
        assert_eq!(values, ["1.5 ms", "133"]);
        assert_eq!(redact("no figures", &mut values), "no figures");
        assert_eq!(redact("cut ⟨12", &mut values), "cut ⟨…⟩");
        assert_eq!(values.last().unwrap(), "12");
    }
}
