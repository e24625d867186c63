//! `xdplab clean`: namespaces and pins left behind by killed runs removed.

use harness::doctor;
use kernel::{Error, cleanup};

use crate::exit::Exit;

pub(crate) fn clean() -> Result<Exit, Error> {
    doctor::require_root()?;
    let swept = cleanup::sweep();
    println!(
        "removed {} namespace(s) and {} pin(s) left by killed runs",
        swept.namespaces.len(),
        swept.pins.len()
    );
    for n in swept.namespaces.iter().chain(&swept.pins) {
        println!("  {n}");
    }
    if !swept.left_alone.is_empty() {
        println!("left {} alone:", swept.left_alone.len());
        for l in &swept.left_alone {
            println!("  {}: {}", l.name, l.reason);
        }
    }
    Ok(Exit::Passed)
}
