//! Lab 7.2, DDoS mitigation: the contract in README.md, as checks. (Being written.)

use harness::Lab;

/// The lab's id.
pub const ID: &str = "7.2";

/// The lab with all its parts.
pub fn lab() -> Lab {
    Lab {
        id: ID,
        title: "DDoS mitigation",
        reference: reference::lab_7_2,
        parts: Vec::new(),
    }
}
