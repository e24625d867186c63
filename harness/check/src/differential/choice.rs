//! Which backend, compared up to the contract's freedoms over one stream of frames. Round
//! robin: a rotation may start at any backend and go round in any order, so the program's
//! backend of each balanced frame must be the reference's under one fixed one-to-one mapping.
//! By source: every frame from one source must reach one backend, whichever.

use std::{collections::HashMap, net::Ipv4Addr};

use super::{Choice, FrameSpec};

/// The mappings seen so far, and the frames since the last balanced one.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    /// The reference's backend → the program's.
    map: HashMap<usize, usize>,
    /// The last balanced frame and those after it.
    since: Vec<FrameSpec>,
    /// Each source's backend and first balanced frame.
    sources: HashMap<Ipv4Addr, (usize, FrameSpec)>,
}

/// A balanced frame that broke the rotation, or the source's one backend.
#[derive(Debug, Clone)]
pub struct Broken {
    /// The program's backend the mapping gives, when it gives one (else the program's backend
    /// already stands for another of the reference's).
    pub expected: Option<usize>,
    /// The program's backend.
    pub actual: usize,
    /// The mapping as it stood: (reference's backend, program's), sorted.
    pub mapping: Vec<(usize, usize)>,
}

impl Tracker {
    /// Follows one frame both programs handled alike (modulo the backend): `backends` are the
    /// reference's and the program's, when they balanced it. Returns how the rotation broke,
    /// and the frames from the last balanced one to this one.
    pub(crate) fn follow(
        &mut self,
        choice: Choice,
        spec: &FrameSpec,
        backends: (Option<usize>, Option<usize>),
    ) -> Option<(Broken, Vec<FrameSpec>)> {
        if choice == Choice::BySource {
            let (_, Some(p)) = backends else {
                return None;
            };
            let (b, first) = self
                .sources
                .entry(spec.src)
                .or_insert_with(|| (p, spec.clone()));
            return (*b != p).then(|| {
                let broken = Broken {
                    expected: Some(*b),
                    actual: p,
                    mapping: Vec::new(),
                };
                (broken, vec![first.clone(), spec.clone()])
            });
        }
        let (Some(r), Some(p)) = backends else {
            if !self.since.is_empty() {
                self.since.push(spec.clone());
            }
            return None;
        };
        let expected = self.map.get(&r).copied();
        let taken = self.map.iter().any(|(k, v)| *v == p && *k != r);
        if expected.is_some_and(|e| e != p) || (expected.is_none() && taken) {
            let mut mapping: Vec<(usize, usize)> = self.map.iter().map(|(k, v)| (*k, *v)).collect();
            mapping.sort_unstable();
            let mut frames = std::mem::take(&mut self.since);
            frames.push(spec.clone());
            return Some((
                Broken {
                    expected,
                    actual: p,
                    mapping,
                },
                frames,
            ));
        }
        self.map.insert(r, p);
        self.since = vec![spec.clone()];
        None
    }

    /// Forgets the mapping (after a frame the reference got wrong by the contract).
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FrameSpec {
        FrameSpec::new(
            traffic::MacAddr(2, 0, 0, 0, 0, 1),
            traffic::MacAddr(2, 0, 0, 0, 0, 2),
            17,
            [10, 0, 0, 1].into(),
            [10, 0, 0, 2].into(),
            1,
            2,
        )
    }

    fn run(pairs: &[(Option<usize>, Option<usize>)]) -> Option<usize> {
        let mut r = Tracker::default();
        pairs
            .iter()
            .enumerate()
            .find_map(|(k, b)| r.follow(Choice::Rotation, &spec(), *b).map(|_| k))
    }

    #[test]
    fn any_start_and_order_is_a_rotation() {
        let reference = [0, 1, 2, 0, 1, 2, 0];
        for program in [[1, 2, 0, 1, 2, 0, 1], [2, 1, 0, 2, 1, 0, 2]] {
            let pairs: Vec<_> = reference
                .iter()
                .zip(program)
                .map(|(r, p)| (Some(*r), Some(p)))
                .collect();
            assert_eq!(run(&pairs), None);
        }
    }

    #[test]
    fn a_step_the_reference_did_not_take_breaks_it() {
        // The program moved on at a passed frame: 0, 1, (passed), 0 where 2 was due.
        let pairs = [
            (Some(0), Some(0)),
            (Some(1), Some(1)),
            (None, None),
            (Some(2), Some(0)),
        ];
        assert_eq!(run(&pairs), Some(3));
        // Two frames to one backend in a row.
        assert_eq!(run(&[(Some(0), Some(1)), (Some(1), Some(1))]), Some(1));
    }
}
