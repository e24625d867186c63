//! `xdplab doctor`: root, kernel BPF/XDP/BTF support and leftovers checked.

use harness::doctor::{self, Level};

use crate::{exit::Exit, labs};

/// Prints every finding; 2 when one is bad.
pub(crate) fn doctor() -> Exit {
    let findings = doctor::diagnose(&labs::all(0));
    for f in &findings {
        let mark = match f.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Bad => "BAD ",
        };
        let mut lines = f.detail.lines();
        println!("{mark} {:<44} {}", f.what, lines.next().unwrap_or(""));
        for line in lines {
            println!("       {line}");
        }
    }
    if findings.iter().any(|f| f.level == Level::Bad) {
        Exit::CouldNotRun
    } else {
        Exit::Passed
    }
}
