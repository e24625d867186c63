//! The harness's three crates stay layered inside too: in each, the modules import one another
//! without a circle. Cargo already refuses a circle between crates (kernel <- check <- grade);
//! this walks every `crate::` and `super::` path of each crate's sources (use lines and paths
//! written inline; comments and the test module at the end of a file left out) and fails on a
//! circle of top-level modules, naming the files and paths that tie it. A name the crate root
//! re-exports (`crate::Check`) counts as the module that defines it; anything else the root
//! defines counts as the root, a module of its own (`lib`).

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// The crate root's node, for what `lib.rs` itself defines.
const ROOT: &str = "lib";

/// A module-level import graph: top-level module -> (module it reaches -> where, as
/// `file: path` lines).
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

#[test]
fn no_module_imports_itself_through_others_in_any_harness_crate() {
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for krate in ["kernel", "check", "grade"] {
        let src = harness.join(krate).join("src");
        let graph = graph(&src);
        assert!(
            graph.len() > 5,
            "{}: only {} modules found",
            src.display(),
            graph.len()
        );
        for circle in circles(&graph) {
            found.push(describe(krate, &graph, &circle));
        }
    }
    assert!(
        found.is_empty(),
        "import circles (a lower module must not import a higher one; move the shared names \
         down into a module of their own):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_walk_finds_a_circle_through_use_lines_and_inline_paths() {
    let dir = std::env::temp_dir().join(format!("xdplab-circles-{}", std::process::id()));
    let src = dir.join("src");
    fs::create_dir_all(src.join("b")).unwrap();
    fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\npub mod c;\n").unwrap();
    fs::write(src.join("a.rs"), "use crate::{\n    b::X,\n    c,\n};\n").unwrap();
    fs::write(src.join("b/mod.rs"), "mod inner;\n").unwrap();
    fs::write(
        src.join("b/inner.rs"),
        "// crate::c is only named here\nfn f() { super::super::a::g(); crate::a::h(); }\n",
    )
    .unwrap();
    fs::write(
        src.join("c.rs"),
        "pub fn c() {}\n\n#[cfg(test)]\nmod tests {\n    use crate::a;\n}\n",
    )
    .unwrap();
    let graph = graph(&src);
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        circles(&graph),
        vec![vec!["a".to_owned(), "b".to_owned()]],
        "{graph:?}"
    );
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The module path of a file (`object/loaded.rs` -> `object::loaded`, `flood/mod.rs` or
/// `flood.rs` -> `flood`); empty for the crate root.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") || parts == ["lib"] {
        parts.pop();
    }
    parts
}

/// The text that counts: comments and the trailing test module dropped.
fn code(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let tests = lines.iter().enumerate().position(|(i, l)| {
        l.trim() == "#[cfg(test)]"
            && lines
                .get(i + 1)
                .is_some_and(|next| next.contains("mod ") && next.trim_end().ends_with('{'))
    });
    lines[..tests.unwrap_or(lines.len())]
        .iter()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first segments of the paths a `{ .. }` group lists at its top level.
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut item = String::new();
    for ch in group.chars().chain([',']) {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                let head: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !head.is_empty() {
                    heads.push(head);
                }
                item.clear();
                continue;
            }
            _ => {}
        }
        if depth >= 1 || ch != '{' {
            item.push(ch);
        }
    }
    heads
}

/// The first segments of every path starting with `prefix` (`crate::`, `super::super::`) in
/// `code`, groups included.
fn heads_after(code: &str, prefix: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            heads.extend(group_heads(&group[..end]));
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !head.is_empty() && head != "super" {
                heads.push(head);
            }
        }
    }
    heads
}

/// The names the crate root re-exports (`pub use check::{Body, Check};`), each with the module
/// it comes from.
fn reexports(root: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for stmt in root.split(';') {
        let Some(path) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, rest)) = path.split_once("::") else {
            continue;
        };
        let rest = rest.trim_start_matches('{').trim_end_matches('}');
        for item in rest.split(',') {
            let name = item.rsplit([' ', ':']).next().unwrap_or("").trim();
            if !name.is_empty() && name != "self" {
                names.insert(name.to_owned(), module.trim().to_owned());
            }
        }
    }
    names
}

fn graph(src: &Path) -> Graph {
    let mut graph = Graph::new();
    let mut tops = BTreeSet::new();
    let mut refs = Vec::new();
    let root_code = code(&fs::read_to_string(src.join("lib.rs")).unwrap());
    let reexported = reexports(&root_code);
    for file in sources(src) {
        let module = module_of(src, &file);
        let top = module.first().cloned().unwrap_or_else(|| ROOT.to_owned());
        tops.insert(top.clone());
        let code = code(&fs::read_to_string(&file).unwrap());
        // The root's own `mod` and `pub use` lines are how it is made, not what it uses.
        let code = if module.is_empty() {
            code.lines()
                .filter(|l| !l.trim_start().starts_with("pub use ") && !l.contains("mod "))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            code
        };
        let shown = file.strip_prefix(src).unwrap().display().to_string();
        for head in heads_after(&code, "crate::") {
            refs.push((top.clone(), head, format!("{shown}: crate::{{..}}")));
        }
        // `super::` climbs from the file's module; where it lands at the crate root the next
        // segment is the module reached, otherwise it stays inside `top`.
        for ups in 1..=module.len() {
            let prefix = "super::".repeat(ups);
            let landing = module.len() - ups;
            for head in heads_after(&code, &prefix) {
                let reached = if landing == 0 {
                    head
                } else {
                    module[0].clone()
                };
                refs.push((top.clone(), reached, format!("{shown}: {prefix}..")));
            }
        }
    }
    // The root names its own modules by their bare names (`class::write(..)`).
    let root_code: String = root_code
        .lines()
        .filter(|l| !l.trim_start().starts_with("pub use ") && !l.contains("mod "))
        .collect::<Vec<_>>()
        .join("\n");
    for top in &tops {
        graph.entry(top.clone()).or_default();
        let bare = format!("{top}::");
        let named = root_code.match_indices(&bare).any(|(at, _)| {
            !root_code[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
        });
        if named {
            refs.push((ROOT.to_owned(), top.clone(), format!("lib.rs: {bare}..")));
        }
    }
    for (from, head, at) in refs {
        // A module, a name the root re-exports from one, or an item of the root itself.
        let to = if tops.contains(&head) {
            head
        } else if let Some(module) = reexported.get(&head) {
            module.clone()
        } else {
            ROOT.to_owned()
        };
        if from != to && tops.contains(&to) {
            graph
                .get_mut(&from)
                .unwrap()
                .entry(to)
                .or_default()
                .insert(at);
        }
    }
    graph
}

/// The strongly connected groups of more than one module (Tarjan), each sorted.
fn circles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in self.graph[v].keys() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let at = self.stack.iter().position(|&x| x == v).unwrap();
                let mut group: Vec<String> = self.stack.drain(at..).map(str::to_owned).collect();
                if group.len() > 1 {
                    group.sort();
                    self.found.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found.sort();
    walk.found
}

fn describe(krate: &str, graph: &Graph, circle: &[String]) -> String {
    let mut out = format!("  {krate}: {}\n", circle.join(", "));
    for from in circle {
        for (to, at) in &graph[from] {
            if circle.contains(to) {
                for a in at {
                    out.push_str(&format!("    {from} -> {to} ({a})\n"));
                }
            }
        }
    }
    out
}
