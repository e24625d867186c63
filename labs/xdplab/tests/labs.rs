//! The registration of labs is complete and every consumer reads it: each lab crate under
//! labs/ is in the CLI's list (src/labs.rs), each reference object is one lab's, and the kernel
//! matrix, `just mutants` and the class page's contracts take their labs from that list
//! (`xdplab list --format json`). A consumer that misses a lab fails here.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use harness::Lab;
use serde_json::Value;

#[path = "../src/labs.rs"]
#[allow(dead_code)] // the CLI's other uses of the list
mod labs;

mod common;

/// The harness's own program, which no lab owns.
const HARNESS_OBJECTS: &[&str] = &["harness-pass"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn same(a: &[u8], b: &[u8]) -> bool {
    std::ptr::eq(a, b)
}

/// `xdplab list --format json`.
fn listed() -> Vec<Value> {
    let json = common::xdplab(&["list", "--format", "json"]);
    serde_json::from_str::<Value>(&json)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn field(lab: &Value, name: &str) -> String {
    lab[name]
        .as_str()
        .unwrap_or_else(|| panic!("{lab}: no {name}"))
        .to_owned()
}

#[test]
fn every_reference_object_has_a_lab_and_every_lab_an_object() {
    let labs: Vec<Lab> = labs::all(0);
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
             line in labs/xdplab/src/labs.rs."
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
    let ids: Vec<String> = labs::all(0).iter().map(|l| l.id.to_owned()).collect();
    let key = |id: &String| -> Vec<u64> { id.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let mut sorted = ids.clone();
    sorted.sort_by_key(key);
    sorted.dedup();
    assert_eq!(
        ids, sorted,
        "lab ids must be unique and registered in order"
    );
}

/// Every crate `labs/lab-*` is listed, with its package, contract, C solution and register.
#[test]
fn every_lab_crate_is_registered_whole() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(repo().join("labs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("lab-"))
        .map(|name| format!("labs/{name}"))
        .collect();
    let listed = listed();
    let folders: BTreeSet<String> = listed.iter().map(|l| field(l, "folder")).collect();
    assert_eq!(
        folders, on_disk,
        "every lab crate under labs/ needs its line in labs/xdplab/src/labs.rs (and its \
         dependency in labs/xdplab/Cargo.toml)"
    );
    let labs = labs::all(0);
    for (lab, json) in labs.iter().zip(&listed) {
        let folder = repo().join(field(json, "folder"));
        let manifest: toml::Table = std::fs::read_to_string(folder.join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            manifest["package"]["name"].as_str(),
            Some(field(json, "package").as_str()),
            "lab {}'s crate",
            lab.id
        );
        assert_eq!(
            lab.contract,
            std::fs::read_to_string(folder.join("README.md")).unwrap(),
            "lab {}'s contract is its README.md",
            lab.id
        );
        for file in ["c_solution", "mutants_register"] {
            let path = repo().join(field(json, file));
            assert!(
                path.is_file(),
                "lab {}: {file} {} is missing",
                lab.id,
                path.display()
            );
        }
    }
}

/// The kernel matrix (scripts/test-kernel.sh) runs every listed lab: its reference in every
/// mode, its crate's wrong programs, and under --share in one of the two VMs.
#[test]
fn the_kernel_matrix_runs_every_lab() {
    let out = Command::new("bash")
        .arg(repo().join("scripts/test-kernel.sh"))
        .arg("--list")
        .env("XDPLAB", env!("CARGO_BIN_EXE_xdplab"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |key: &str| -> Vec<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no `{key}` in:\n{text}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let listed = listed();
    let ids: Vec<String> = listed.iter().map(|l| field(l, "id")).collect();
    assert_eq!(line("labs: "), ids);
    let packages: Vec<String> = listed
        .iter()
        .flat_map(|l| ["-p".to_owned(), field(l, "package")])
        .collect();
    assert_eq!(line("packages: "), packages);
    let mut shared = line("share 6.1: ");
    shared.extend(line("share 6.12: "));
    for id in &ids {
        assert!(
            shared.contains(id),
            "--share runs lab {id} in no VM: {shared:?}"
        );
    }
}

/// `just mutants` takes its labs from the list, not from a copy of it.
#[test]
fn just_mutants_reads_the_list() {
    let justfile = std::fs::read_to_string(repo().join("justfile")).unwrap();
    let recipe = justfile
        .split("\nmutants ")
        .nth(1)
        .and_then(|r| r.split("\n\n").next())
        .expect("the justfile has a mutants recipe");
    assert!(
        recipe.contains("xdplab list --format json"),
        "the mutants recipe reads `xdplab list --format json`:\n{recipe}"
    );
    for lab in labs::all(0) {
        assert!(
            !recipe.contains(lab.id),
            "the mutants recipe names lab {} itself:\n{recipe}",
            lab.id
        );
    }
}
