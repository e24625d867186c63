//! The registration of labs is complete: every reference object (bar the harness's own) is some
//! lab's reference, and every lab's reference is an object of the table.

use harness::Lab;

include!(concat!(env!("OUT_DIR"), "/labs.rs"));

/// The harness's own program, which no lab owns.
const HARNESS_OBJECTS: &[&str] = &["harness-pass"];

fn same(a: &[u8], b: &[u8]) -> bool {
    std::ptr::eq(a, b)
}

#[test]
fn every_reference_object_has_a_lab_and_every_lab_an_object() {
    let labs: Vec<Lab> = labs(0);
    for (name, object) in reference::OBJECTS {
        if HARNESS_OBJECTS.contains(name) {
            continue;
        }
        let owners: Vec<&str> = labs
            .iter()
            .filter(|l| same((l.reference)(), object()))
            .map(|l| l.id)
            .collect();
        assert_eq!(
            owners.len(),
            1,
            "reference object `{name}` (ebpf/programs/src/bin/{name}.rs) must be the reference \
             of exactly one lab; labs using it: {owners:?}. Add its lab crate under labs/ and its \
             dependency line in labs/xdplab/Cargo.toml."
        );
    }
    for lab in &labs {
        assert!(
            reference::OBJECTS
                .iter()
                .any(|(name, object)| !HARNESS_OBJECTS.contains(name)
                    && same((lab.reference)(), object())),
            "lab {} has no reference object in ebpf/programs/src/bin/",
            lab.id
        );
    }
}

#[test]
fn labs_have_unique_ids_in_order() {
    let ids: Vec<String> = labs(0).iter().map(|l| l.id.to_owned()).collect();
    let key = |id: &String| -> Vec<u64> { id.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let mut sorted = ids.clone();
    sorted.sort_by_key(key);
    sorted.dedup();
    assert_eq!(
        ids, sorted,
        "lab ids must be unique and registered in order"
    );
}
