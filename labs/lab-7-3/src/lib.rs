//! Lab 7.3, L4 load balancer: the contract in README.md, as checks. (Being written.)

use harness::Lab;

/// The lab's id.
pub const ID: &str = "7.3";

/// The lab with all its parts.
pub fn lab() -> Lab {
    Lab {
        id: ID,
        title: "L4 load balancer",
        reference: reference::lab_7_3,
        parts: Vec::new(),
    }
}
