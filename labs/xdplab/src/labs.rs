//! The labs the CLI knows: one explicit list, which every consumer reads (`run`, `grade`, the
//! class page's contracts, `xdplab list --format json` and through it the kernel matrix and
//! `just mutants`).

use harness::Lab;
use kernel::Error;

/// A registered lab.
pub(crate) struct Registered {
    /// Builds the lab, the fields its contract leaves free varied by the seed.
    pub(crate) build: fn(u64) -> Lab,
    /// The correct C solution `just mutants` mutates, under the lab's folder.
    pub(crate) c_solution: &'static str,
}

const fn lab(build: fn(u64) -> Lab, c_solution: &'static str) -> Registered {
    Registered { build, c_solution }
}

/// Every lab, in order, one line each. A lab's crate is `labs/lab-X-Y` (package
/// `xdplab-lab-X-Y`), a dependency of this one; `tests/labs.rs` fails while one is missing.
pub(crate) const LABS: &[Registered] = &[
    lab(lab_7_1::lab, "tests/programs/filter.c"),
    lab(lab_7_2::lab, "tests/programs/ddos.c"),
    lab(lab_7_3::lab, "tests/programs/lb.c"),
];

/// Every lab, with frames varied by `seed`.
pub(crate) fn all(seed: u64) -> Vec<Lab> {
    LABS.iter().map(|r| (r.build)(seed)).collect()
}

/// Lab `id` with frames varied by `seed`, if there is one.
pub(crate) fn find(id: &str, seed: u64) -> Option<Lab> {
    all(seed).into_iter().find(|l| l.id == id)
}

/// Lab `id`, or a usage error listing the labs.
pub(crate) fn find_or_explain(id: &str, seed: u64) -> Result<Lab, Error> {
    find(id, seed).ok_or_else(|| {
        let ids: Vec<_> = all(0).iter().map(|l| l.id).collect();
        Error::usage(format!(
            "there is no lab `{id}`; the labs are {}. `xdplab list` shows their programs and \
             checks.",
            ids.join(", ")
        ))
    })
}

/// Lab `id`'s contract, its README, quoted next to each check on the class page; `None` for
/// an id that is no lab (`grade merge` refuses a shard naming one).
pub(crate) fn contract(id: &str) -> Option<&'static str> {
    find(id, 0).map(|l| l.contract)
}

/// The folder of lab `id`'s crate, relative to the repository: `labs/lab-7-1` for 7.1.
pub(crate) fn folder(id: &str) -> String {
    format!("labs/lab-{}", id.replace('.', "-"))
}
