//! Deliveries: frames and where each must arrive (which namespace, socket or link, rewritten
//! how). This is a stub: the type is filled in on branch `lab73`, which owns this file.

use crate::{
    check::{Frame, Judgement},
    error::{Error, Result},
    target::Target,
};

/// Frames and where each must arrive. A stub until branch `lab73` fills it in.
#[derive(Debug, Clone, Default)]
pub struct Delivery {}

impl Delivery {
    /// Sends the frames and judges where they arrived (not yet implemented on this branch).
    pub fn judge(&self, _target: &mut dyn Target) -> Result<(Judgement, Vec<Frame>)> {
        Err(Error::env(
            "delivery checks are not implemented on this branch (see branch lab73)",
        ))
    }
}
