//! The values a contract leaves free (addresses and ports no rule reads, payloads, order),
//! varied inside every check so that a program reading the wrong field is caught, and drawn at
//! random under a non-zero seed so that a program matching the canonical frames is caught too.
//!
//! Under seed 0 each free field goes round a fixed list of canonical values ([`Cycle`]): the
//! frames are the same on every run, and consecutive frames of a check differ. Under any other
//! seed each value is drawn from the seeded generator instead.

use std::cell::{Cell, RefCell};

/// The generator seeded draws come from (re-exported so labs need no dependency of their own).
pub use fastrand::Rng;

/// A free field's canonical values, handed out in turn.
#[derive(Debug)]
pub struct Cycle<T> {
    values: Vec<T>,
    next: Cell<usize>,
}

impl<T: Clone> Cycle<T> {
    /// The values, in the order they are handed out; the list goes round.
    ///
    /// # Panics
    /// If `values` is empty.
    pub fn new(values: impl Into<Vec<T>>) -> Self {
        let values = values.into();
        assert!(!values.is_empty(), "a cycle needs at least one value");
        Self {
            values,
            next: Cell::new(0),
        }
    }

    /// The next value (the first one again after the last).
    pub fn next(&self) -> T {
        let i = self.next.get();
        self.next.set((i + 1) % self.values.len());
        self.values[i].clone()
    }
}

/// Canonical source ports, all ephemeral (32768 and up) as a client's are.
pub const CLIENT_PORTS: [u16; 5] = [40000, 51515, 33333, 60001, 45678];

/// Canonical payloads: lengths 6, 0, 33 and 1, so a program that reads a fixed length or
/// assumes a payload is caught.
const PAYLOADS: [&[u8]; 4] = [b"xdplab", b"", b"the contract never reads payloads", b"x"];

/// Where a lab's free values come from: canonical cycles (seed 0) or a seeded generator.
#[derive(Debug)]
pub struct Vary {
    rng: RefCell<Option<Rng>>,
    payloads: Cycle<Vec<u8>>,
}

impl Vary {
    /// The canonical values for seed 0, seeded draws for any other.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: RefCell::new((seed != 0).then(|| Rng::with_seed(seed))),
            payloads: Cycle::new(PAYLOADS.map(<[u8]>::to_vec)),
        }
    }

    /// The next canonical value of `cycle` under seed 0; else one drawn by `draw`.
    pub fn pick<T: Clone>(&self, cycle: &Cycle<T>, draw: impl FnOnce(&mut Rng) -> T) -> T {
        match self.rng.borrow_mut().as_mut() {
            Some(rng) => draw(rng),
            None => cycle.next(),
        }
    }

    /// `canonical` under seed 0, else one drawn by `draw`: a value fixed for a whole check or
    /// part, such as the network its sources come from.
    pub fn fixed<T>(&self, canonical: T, draw: impl FnOnce(&mut Rng) -> T) -> T {
        match self.rng.borrow_mut().as_mut() {
            Some(rng) => draw(rng),
            None => canonical,
        }
    }

    /// A payload: the canonical ones in turn, or 0 to 47 random bytes.
    pub fn payload(&self) -> Vec<u8> {
        self.pick(&self.payloads, |rng| {
            (0..rng.usize(..48)).map(|_| rng.u8(..)).collect()
        })
    }

    /// A port from 1024 up that is none of `taken` (canonical: the next of `cycle`).
    pub fn port(&self, cycle: &Cycle<u16>, taken: &[u16]) -> u16 {
        self.pick(cycle, |rng| {
            loop {
                let p = rng.u16(1024..);
                if !taken.contains(&p) {
                    break p;
                }
            }
        })
    }

    /// Shuffles `items` under a seed; leaves them in order under seed 0.
    pub fn shuffle<T>(&self, items: &mut [T]) {
        if let Some(rng) = self.rng.borrow_mut().as_mut() {
            rng.shuffle(items);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_0_goes_round_the_canonical_values() {
        let v = Vary::new(0);
        let ports = Cycle::new([1, 2, 3]);
        let got: Vec<u16> = (0..5).map(|_| v.port(&ports, &[])).collect();
        assert_eq!(got, [1, 2, 3, 1, 2]);
        assert_eq!(v.fixed(5u8, |rng| rng.u8(6..)), 5);
        let payloads: Vec<Vec<u8>> = (0..5).map(|_| v.payload()).collect();
        assert_eq!(payloads[0], b"xdplab");
        assert_eq!(payloads[1], b"");
        assert_eq!(payloads[4], b"xdplab");
        let mut order = [1, 2, 3];
        v.shuffle(&mut order);
        assert_eq!(order, [1, 2, 3]);
    }

    #[test]
    fn a_seed_draws_the_same_values_every_time_and_avoids_taken_ports() {
        let draw = |seed| {
            let v = Vary::new(seed);
            let ports = Cycle::new([1]);
            (0..200)
                .map(|_| v.port(&ports, &[1024, 1025]))
                .collect::<Vec<u16>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert_ne!(a, draw(8));
        assert!(a.iter().all(|&p| p > 1025));
    }
}
