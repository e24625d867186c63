//! A target that keeps the traffic passing through it, so that scenario checks (a SYN-cookie
//! exchange, a real TCP client) leave frames for `--pcap` like every other kind of check.

use crate::judgement::Frame;
use kernel::{
    error::Result,
    object::LoadedProgram,
    target::{Mode, Shot, Spread, Target, VethTarget},
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

impl Target for Recording<'_> {
    fn mode(&self) -> Mode {
        self.inner.mode()
    }

    fn program(&mut self) -> &mut LoadedProgram {
        self.inner.program()
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

    fn send(&mut self, frames: &[Vec<u8>]) -> Result<Vec<Outcome>> {
        let outcomes = self.inner.send(frames)?;
        self.keep(frames, &outcomes);
        Ok(outcomes)
    }

    fn exchange(&mut self, frame: &[u8]) -> Result<Outcome> {
        let outcome = self.inner.exchange(frame)?;
        self.keep(&[frame.to_vec()], std::slice::from_ref(&outcome));
        Ok(outcome)
    }

    fn counters(&mut self, map: &str) -> Result<Vec<u64>> {
        self.inner.counters(map)
    }

    fn veth(&mut self) -> Option<&mut VethTarget> {
        self.inner.veth()
    }

    fn barriers_sent(&self) -> u64 {
        self.inner.barriers_sent()
    }

    fn source(&self, addr: std::net::Ipv4Addr) -> std::net::Ipv4Addr {
        self.inner.source(addr)
    }
}
