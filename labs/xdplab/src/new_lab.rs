//! `xdplab new-lab`: a new lab's crate written from the template (templates/lab/), with the
//! steps that register it.

use std::path::PathBuf;

use clap::Args;
use kernel::Error;

use crate::exit::Exit;

#[derive(Args)]
pub(crate) struct NewLabArgs {
    /// The new lab's id, for example 7.4.
    id: String,
    /// Its short title, for example "port knocking".
    #[arg(long)]
    title: String,
    /// The folder the crate `lab-X-Y` goes into (the repository's labs/).
    #[arg(long, default_value = "labs")]
    into: PathBuf,
}

/// The template's files: (path in the crate, text). Its id is `0.0` and its title `TITLE`.
const TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../templates/lab/Cargo.toml.in")),
    ("README.md", include_str!("../templates/lab/README.md")),
    ("src/lib.rs", include_str!("../templates/lab/src/lib.rs")),
];

/// The template's text for lab `id` titled `title`.
pub(crate) fn fill(text: &str, id: &str, title: &str) -> String {
    let dashed = id.replace('.', "-");
    let snake = id.replace('.', "_");
    text.replace("0.0", id)
        .replace("0-0", &dashed)
        .replace("0_0", &snake)
        .replace("TITLE", title)
}

pub(crate) fn new_lab(args: NewLabArgs) -> Result<Exit, Error> {
    let NewLabArgs { id, title, into } = args;
    let valid = id.split_once('.').is_some_and(|(a, b)| {
        [a, b]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
    });
    if !valid || title.contains(['"', '\\', '\n']) {
        return Err(Error::usage(format!(
            "a lab id is two numbers with a dot (`7.4`) and a title one line without quotes or \
             backslashes; got `{id}` and `{title}`."
        )));
    }
    if crate::labs::find(&id, 0).is_some() {
        return Err(Error::usage(format!("lab {id} exists already.")));
    }
    let dashed = id.replace('.', "-");
    let dir = into.join(format!("lab-{dashed}"));
    if dir.exists() {
        return Err(Error::usage(format!(
            "`{}` exists already; xdplab new-lab writes a new folder only.",
            dir.display()
        )));
    }
    for (path, text) in TEMPLATE {
        let file = dir.join(path);
        let written = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&file, fill(text, &id, &title)));
        written.map_err(|e| Error::usage(format!("cannot write `{}`: {e}.", file.display())))?;
    }
    let snake = id.replace('.', "_");
    println!(
        "wrote {} (Cargo.toml, README.md, src/lib.rs); now:",
        dir.display()
    );
    println!(
        "  1. labs/xdplab/Cargo.toml, under [dependencies]: xdplab-lab-{dashed} = {{ path = \
         \"../lab-{dashed}\" }}"
    );
    println!(
        "  2. labs/xdplab/src/labs.rs, in LABS: lab(lab_{snake}::lab, \"tests/programs/SOLUTION.c\"),"
    );
    println!(
        "  3. the reference solution ebpf/programs/src/bin/lab-{dashed}.rs, then `reference: \
         reference::lab_{snake}` in src/lib.rs; the contract in README.md and its checks"
    );
    println!("  4. cargo nextest run -p xdplab --test labs: it says what is still missing");
    Ok(Exit::Passed)
}
