//! A target that keeps the traffic passing through it, so that scenario checks (a SYN-cookie
//! exchange, a real TCP client) leave frames for `--pcap` like every other kind of check.

use crate::judgement::Frame;
use kernel::{
    error::Result,
    target::{Layer, Shot, Spread, Target},
    verdict::Outcome,
};

/// Wraps a target and records every frame sent through it and every frame seen come out.
pub struct Recording<'a> {
    inner: &'a mut dyn Target,
    /// What was sent and seen, in order.
    pub traffic: Vec<Frame>,
}

impl<'a> Recording<'a> {
    /// Records what passes through `inner`.
    pub fn new(inner: &'a mut dyn Target) -> Self {
        Self {
            inner,
            traffic: Vec::new(),
        }
    }

    /// The traffic, with what a veth target's captures still hold: the frames of a real
    /// exchange (a TCP connection made by the kernel's own stack), which no call here sent.
    pub fn finish(mut self) -> Vec<Frame> {
        if let Some(veth) = self.inner.veth()
            && let Ok(seen) = veth.drain_all()
        {
            self.traffic
                .extend(seen.into_iter().map(|(_, at, bytes)| Frame {
                    sent: false,
                    at: Some(at),
                    bytes,
                }));
        }
        self.traffic
    }

    fn keep(&mut self, frames: &[Vec<u8>], outcomes: &[Outcome]) {
        self.traffic.extend(Frame::traffic(frames, outcomes));
    }
}

impl Layer for Recording<'_> {
    fn inner(&self) -> &dyn Target {
        self.inner
    }
    fn inner_mut(&mut self) -> &mut dyn Target {
        self.inner
    }
    fn fire(&mut self, frames: &[Vec<u8>]) -> Result<Shot> {
        let shot = self.inner.fire(frames)?;
        self.keep(frames, &shot.outcomes);
        Ok(shot)
    }
    fn fire_spread(&mut self, frames: &[Vec<u8>], spread: Spread) -> Result<Shot> {
        let shot = self.inner.fire_spread(frames, spread)?;
        self.keep(frames, &shot.outcomes);
        Ok(shot)
    }
    fn exchange(&mut self, frame: &[u8]) -> Result<Outcome> {
        let outcome = self.inner.exchange(frame)?;
        self.keep(&[frame.to_vec()], std::slice::from_ref(&outcome));
        Ok(outcome)
    }
}
