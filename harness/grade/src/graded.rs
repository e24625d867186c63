//! What grading produces for one submission ([`Graded`]): the type every output is written
//! from.

use harness::report::Report;
use serde::{Deserialize, Serialize};

use crate::{child::RunError, discover::Submission, score::Score};

/// One graded submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Graded {
    /// The submission.
    pub submission: Submission,
    /// The child's report (every check), even when the submission could not be run: then each
    /// check carries the reason.
    pub report: Report,
    /// Why the submission as a whole could not be judged, if so.
    pub ungraded: Option<RunError>,
    /// The score.
    pub score: Score,
    /// How to replay a failed check locally: `xdplab run ... --check ID` for each.
    pub replay: Vec<(String, String)>,
}
