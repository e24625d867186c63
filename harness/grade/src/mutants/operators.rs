//! The mutation operators: each finds the sites of one kind of mistake in C source and yields
//! one mutant (one edit of one site) per way to get it wrong.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::lexer::{self, Kind, Token};

/// The kinds of mistake a mutant makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operator {
    /// `<` and `<=`, `>` and `>=` swapped: a boundary off by one.
    Relational,
    /// `==` and `!=` swapped, a `!` dropped, or an `if`/`while` condition negated.
    Negate,
    /// `&&` and `||` swapped.
    Logical,
    /// An integer constant one more or one less.
    Constant,
    /// A `sizeof` one more or one less.
    Sizeof,
    /// One XDP action returned for another.
    Action,
    /// A byte-order helper left out.
    ByteOrder,
    /// A struct field read or written instead of its twin of the same type.
    Field,
    /// A statement left out (an update, an increment, a map update, a copy).
    Statement,
}

impl Operator {
    /// The name used in reports and registers.
    pub fn name(self) -> &'static str {
        match self {
            Operator::Relational => "relational",
            Operator::Negate => "negate",
            Operator::Logical => "logical",
            Operator::Constant => "constant",
            Operator::Sizeof => "sizeof",
            Operator::Action => "action",
            Operator::ByteOrder => "byte-order",
            Operator::Field => "field",
            Operator::Statement => "statement",
        }
    }
}

/// One mutant: a replacement of one span of the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mutant {
    /// The function the edit is in.
    pub function: String,
    /// The kind of edit.
    pub operator: Operator,
    /// The line the edit starts on (1-based), for people; keys never use it.
    pub line: usize,
    /// The edited line(s) as written, each trimmed, joined by a space.
    pub original: String,
    /// The same line(s) after the edit.
    pub mutated: String,
    /// Which of the mutants with the same function, operator and lines this is (0 for the
    /// first), for a line written twice in one function.
    pub nth: usize,
    /// The edited span's first byte in the source.
    #[serde(skip)]
    pub start: usize,
    /// One past its last byte.
    #[serde(skip)]
    pub end: usize,
    /// What replaces the span.
    #[serde(skip)]
    pub replacement: String,
}

impl Mutant {
    /// The source with this mutant's edit applied.
    pub fn apply(&self, src: &str) -> String {
        format!(
            "{}{}{}",
            &src[..self.start],
            self.replacement,
            &src[self.end..]
        )
    }
}

/// A function defined in the source: its name and the functions of the file it calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Its name.
    pub name: String,
    /// The functions of the same file it calls.
    pub calls: BTreeSet<String>,
}

/// The functions `program` runs: itself and every function of the file it calls, transitively.
pub fn reached(functions: &[Function], program: &str) -> BTreeSet<String> {
    let by_name: BTreeMap<&str, &Function> =
        functions.iter().map(|f| (f.name.as_str(), f)).collect();
    let mut seen = BTreeSet::new();
    let mut todo = vec![program.to_owned()];
    while let Some(name) = todo.pop() {
        if let Some(f) = by_name.get(name.as_str())
            && seen.insert(name)
        {
            todo.extend(f.calls.iter().cloned());
        }
    }
    seen
}

const ACTIONS: [&str; 4] = ["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX"];
const FIELD_TWINS: [(&str, &str); 3] = [
    ("saddr", "daddr"),
    ("source", "dest"),
    ("h_source", "h_dest"),
];
/// Macros that only convert byte order; with one removed, the value keeps host order.
const BYTE_ORDER: [&str; 20] = [
    "bpf_htons",
    "bpf_ntohs",
    "bpf_htonl",
    "bpf_ntohl",
    "bpf_cpu_to_be64",
    "bpf_be64_to_cpu",
    "__bpf_constant_htons",
    "__bpf_constant_ntohs",
    "__bpf_constant_htonl",
    "__bpf_constant_ntohl",
    "__constant_htons",
    "__constant_ntohs",
    "__constant_htonl",
    "__constant_ntohl",
    "htons",
    "ntohs",
    "htonl",
    "ntohl",
    "__builtin_bswap16",
    "__builtin_bswap32",
];
/// Words that start a statement that is no expression (or a declaration).
const NOT_EXPRESSION: [&str; 36] = [
    "return",
    "break",
    "continue",
    "goto",
    "case",
    "default",
    "do",
    "if",
    "else",
    "for",
    "while",
    "switch",
    "struct",
    "union",
    "enum",
    "typedef",
    "static",
    "extern",
    "register",
    "const",
    "volatile",
    "unsigned",
    "signed",
    "int",
    "char",
    "short",
    "long",
    "void",
    "float",
    "double",
    "_Bool",
    "bool",
    "__always_inline",
    "inline",
    "auto",
    "asm",
];
/// Macros whose arguments describe a map (only in its BTF): the maps' layout is judged by
/// the harness before any check, so these are left alone.
const MAP_MACROS: [&str; 4] = ["__uint", "__type", "__array", "__ulong"];

/// A significant token: its text and span.
#[derive(Clone, Copy)]
struct Tok<'a> {
    text: &'a str,
    kind: Kind,
    start: usize,
    end: usize,
}

/// The source's mutants, in source order, and its functions.
pub fn mutants(src: &str) -> (Vec<Mutant>, Vec<Function>) {
    let all = lexer::tokenize(src);
    let macros = macro_words(src, &all);
    let toks: Vec<Tok> = all
        .into_iter()
        .filter(|t: &Token| {
            t.active && !matches!(t.kind, Kind::Space | Kind::Comment | Kind::Preproc)
        })
        .map(|t| Tok {
            text: &src[t.start..t.end],
            kind: t.kind,
            start: t.start,
            end: t.end,
        })
        .collect();
    let pair = matching(&toks);
    let lines = LineIndex::new(src);
    // SEC() and license lines, and map descriptions, are never mutated.
    let mut skip = vec![false; toks.len()];
    let sec_lines: BTreeSet<usize> = toks
        .iter()
        .filter(|t| t.text == "SEC" || t.text == "LICENSE")
        .map(|t| lines.line(t.start))
        .collect();
    for (i, t) in toks.iter().enumerate() {
        skip[i] |= sec_lines.contains(&lines.line(t.start));
        if MAP_MACROS.contains(&t.text)
            && let Some(close) = toks
                .get(i + 1)
                .filter(|n| n.text == "(")
                .and_then(|_| pair[i + 1])
        {
            skip[i..=close].iter_mut().for_each(|s| *s = true);
        }
    }
    let mut out = Vec::new();
    let mut functions = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let Some(close) = pair[i].filter(|_| toks[i].text == "{") else {
            // Over a top-level bracket pair at once.
            i = pair[i].filter(|&c| c > i).unwrap_or(i) + 1;
            continue;
        };
        let name = (i >= 2 && toks[i - 1].text == ")")
            .then(|| pair[i - 1])
            .flatten()
            .and_then(|open| open.checked_sub(1))
            .map(|n| toks[n])
            .filter(|t| t.kind == Kind::Ident);
        if let Some(name) = name {
            let body = i + 1..close;
            // Every name the body uses, through the macros it uses (`#define PICK(i) i =
            // round_robin()`); only the file's functions are kept below.
            let mut calls: BTreeSet<String> = body
                .clone()
                .filter(|&j| toks[j].kind == Kind::Ident)
                .map(|j| toks[j].text.to_owned())
                .collect();
            let mut todo: Vec<String> = calls.iter().cloned().collect();
            while let Some(word) = todo.pop() {
                for w in macros.get(&word).into_iter().flatten() {
                    if calls.insert(w.clone()) {
                        todo.push(w.clone());
                    }
                }
            }
            functions.push(Function {
                name: name.text.to_owned(),
                calls,
            });
            let mut sites = Sites {
                src,
                toks: &toks,
                pair: &pair,
                lines: &lines,
                function: name.text,
                out: &mut out,
            };
            for j in body.clone().filter(|&j| !skip[j]) {
                sites.at(j);
            }
            for (start, semi) in statements(&toks, &pair, body) {
                if !skip[start..=semi].contains(&true) {
                    sites.push(Operator::Statement, toks[start].start, toks[semi].end, ";");
                }
            }
        }
        i = close + 1;
    }
    let known: BTreeSet<String> = functions.iter().map(|f| f.name.clone()).collect();
    for f in &mut functions {
        f.calls.retain(|c| known.contains(c.as_str()));
    }
    // Statements were found after the other sites of their function: back in source order.
    out.sort_by_key(|m| (m.start, m.end));
    let mut seen: BTreeMap<(String, Operator, String, String), usize> = BTreeMap::new();
    for m in &mut out {
        let n = seen
            .entry((
                m.function.clone(),
                m.operator,
                m.original.clone(),
                m.mutated.clone(),
            ))
            .or_default();
        m.nth = *n;
        *n += 1;
    }
    (out, functions)
}

/// The names each macro's kept `#define` uses.
fn macro_words(src: &str, tokens: &[Token]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for t in tokens
        .iter()
        .filter(|t| t.kind == Kind::Preproc && t.active)
    {
        let line = src[t.start..t.end].replace("\\\n", " ");
        let Some(rest) = line[1..].trim_start().strip_prefix("define") else {
            continue;
        };
        let mut words = rest
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty() && !w.starts_with(|c: char| c.is_ascii_digit()));
        if let Some(name) = words.next() {
            out.entry(name.to_owned())
                .or_default()
                .extend(words.map(str::to_owned));
        }
    }
    out
}

/// For each bracket token, the index of its partner.
fn matching(toks: &[Tok]) -> Vec<Option<usize>> {
    let mut pair = vec![None; toks.len()];
    let mut stack: Vec<usize> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        match t.text {
            "(" | "[" | "{" => stack.push(i),
            ")" | "]" | "}" => {
                if let Some(open) = stack.pop() {
                    pair[open] = Some(i);
                    pair[i] = Some(open);
                }
            }
            _ => {}
        }
    }
    pair
}

/// The expression statements of a body that change something (an assignment, an increment, a
/// call), as (first token, semicolon).
fn statements(
    toks: &[Tok],
    pair: &[Option<usize>],
    body: std::ops::Range<usize>,
) -> Vec<(usize, usize)> {
    let mut starts = BTreeSet::new();
    let mut i = body.start;
    starts.insert(i);
    while i < body.end {
        let t = toks[i].text;
        let next_paren = toks.get(i + 1).filter(|n| n.text == "(").and(pair[i + 1]);
        if let (true, Some(close)) = (["if", "while", "for", "switch"].contains(&t), next_paren) {
            starts.insert(close + 1);
            i = close + 1;
            continue;
        }
        if t == "(" || t == "[" {
            i = pair[i].unwrap_or(i) + 1;
            continue;
        }
        if matches!(t, "{" | "}" | ";" | "else") {
            starts.insert(i + 1);
        }
        i += 1;
    }
    starts
        .into_iter()
        .filter(|&s| s < body.end)
        .filter_map(|s| {
            let first = toks[s];
            let declaration = toks.get(s + 1).is_some_and(|n| {
                first.kind == Kind::Ident
                    && (n.kind == Kind::Ident
                        || n.text == "*" && toks.get(s + 2).is_some_and(|t| t.kind == Kind::Ident))
            });
            if NOT_EXPRESSION.contains(&first.text) || declaration {
                return None;
            }
            let mut j = s;
            let mut changes = false;
            while j < body.end {
                match toks[j].text {
                    ";" => break,
                    "{" | "}" => return None,
                    "(" | "[" => j = pair[j]?,
                    "=" | "+=" | "-=" | "*=" | "/=" | "%=" | "&=" | "|=" | "^=" | "<<=" | ">>="
                    | "++" | "--" => changes = true,
                    _ => {}
                }
                j += 1;
            }
            let call = first.kind == Kind::Ident
                && toks.get(s + 1).is_some_and(|n| n.text == "(")
                && pair[s + 1] == Some(j - 1);
            (j < body.end && (changes || call)).then_some((s, j))
        })
        .collect()
}

/// Byte offsets of line starts.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(src: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(src.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self(starts)
    }

    /// The 1-based line of a byte offset.
    fn line(&self, at: usize) -> usize {
        self.0.partition_point(|&s| s <= at)
    }
}

/// Collects the mutants of one function.
struct Sites<'a, 'b> {
    src: &'a str,
    toks: &'b [Tok<'a>],
    pair: &'b [Option<usize>],
    lines: &'b LineIndex,
    function: &'a str,
    out: &'b mut Vec<Mutant>,
}

impl Sites<'_, '_> {
    fn push(&mut self, operator: Operator, start: usize, end: usize, replacement: &str) {
        let src = self.src;
        let from = src[..start].rfind('\n').map_or(0, |i| i + 1);
        let to = src[end..].find('\n').map_or(src.len(), |i| end + i);
        let mutated = format!("{}{replacement}{}", &src[from..start], &src[end..to]);
        self.out.push(Mutant {
            function: self.function.to_owned(),
            operator,
            line: self.lines.line(start),
            original: one_line(&src[from..to]),
            mutated: one_line(&mutated),
            nth: 0,
            start,
            end,
            replacement: replacement.to_owned(),
        });
    }

    /// The mutants of the token at `i` (statements are found separately).
    fn at(&mut self, i: usize) {
        let t = self.toks[i];
        let prev = i.checked_sub(1).map(|p| self.toks[p].text);
        let next = self.toks.get(i + 1).map(|n| n.text);
        let span = (t.start, t.end);
        let swap = |a: &'static str, b: &'static str| if t.text == a { b } else { a };
        match (t.kind, t.text) {
            (Kind::Punct, "<" | "<=") => {
                self.push(Operator::Relational, span.0, span.1, swap("<", "<="));
            }
            (Kind::Punct, ">" | ">=") => {
                self.push(Operator::Relational, span.0, span.1, swap(">", ">="));
            }
            (Kind::Punct, "==" | "!=") => {
                self.push(Operator::Negate, span.0, span.1, swap("==", "!="));
            }
            (Kind::Punct, "!") => self.push(Operator::Negate, span.0, span.1, ""),
            (Kind::Punct, "&&" | "||") => {
                self.push(Operator::Logical, span.0, span.1, swap("&&", "||"));
            }
            (Kind::Number, text) => {
                for other in plus_minus_one(text) {
                    self.push(Operator::Constant, span.0, span.1, &other);
                }
            }
            (Kind::Ident, "sizeof") if next == Some("(") => {
                let Some(close) = self.pair[i + 1] else {
                    return;
                };
                let end = self.toks[close].end;
                let whole = &self.src[t.start..end];
                for sign in ["+", "-"] {
                    self.push(
                        Operator::Sizeof,
                        t.start,
                        end,
                        &format!("({whole} {sign} 1)"),
                    );
                }
            }
            (Kind::Ident, "if" | "while") if next == Some("(") => {
                let Some(close) = self.pair[i + 1] else {
                    return;
                };
                let (from, to) = (self.toks[i + 1].end, self.toks[close].start);
                let negated = format!("!({})", &self.src[from..to]);
                self.push(Operator::Negate, from, to, &negated);
            }
            (Kind::Ident, action) if ACTIONS.contains(&action) => {
                for other in ACTIONS.iter().filter(|a| **a != action) {
                    self.push(Operator::Action, span.0, span.1, other);
                }
            }
            (Kind::Ident, helper) if BYTE_ORDER.contains(&helper) && next == Some("(") => {
                self.push(Operator::ByteOrder, span.0, span.1, "");
            }
            (Kind::Ident, field) if matches!(prev, Some("->" | ".")) => {
                for (a, b) in FIELD_TWINS {
                    if field == a || field == b {
                        self.push(Operator::Field, span.0, span.1, swap(a, b));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Lines trimmed and joined by one space.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// An integer literal one more and one less (not below 0), written as the original was: same
/// base, same suffix. Floating-point and malformed numbers have none.
fn plus_minus_one(text: &str) -> Vec<String> {
    let digits_end = text.find(['u', 'U', 'l', 'L']).unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    let (radix, body, prefix) = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, hex, &digits[..2])
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..], "0")
    } else {
        (10, digits, "")
    };
    let Ok(value) = u64::from_str_radix(body, radix) else {
        return Vec::new();
    };
    [value.checked_add(1), value.checked_sub(1)]
        .into_iter()
        .flatten()
        .map(|v| {
            let n = match radix {
                16 if body.bytes().any(|b| b.is_ascii_uppercase()) => format!("{v:X}"),
                16 => format!("{v:x}"),
                8 => format!("{v:o}"),
                _ => v.to_string(),
            };
            format!("{prefix}{n}{suffix}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The (operator, mutated line) pairs of a snippet.
    fn of(src: &str) -> Vec<(Operator, String)> {
        mutants(src)
            .0
            .into_iter()
            .map(|m| (m.operator, m.mutated))
            .collect()
    }

    fn has(src: &str, op: Operator, mutated: &str) -> bool {
        of(src).contains(&(op, mutated.to_owned()))
    }

    #[test]
    fn relational_boundaries_move_by_one() {
        let src = "int f(int a) {\n\tif (a < 5 && a >= 2)\n\t\treturn 1;\n\treturn 0;\n}\n";
        assert!(has(src, Operator::Relational, "if (a <= 5 && a >= 2)"));
        assert!(has(src, Operator::Relational, "if (a < 5 && a > 2)"));
    }

    #[test]
    fn conditions_are_negated() {
        let src = "int f(int a) {\n\tif (a == 1 || !a)\n\t\treturn 1;\n\treturn 0;\n}\n";
        assert!(has(src, Operator::Negate, "if (a != 1 || !a)"));
        assert!(has(src, Operator::Negate, "if (a == 1 || a)"));
        assert!(has(src, Operator::Negate, "if (!(a == 1 || !a))"));
        assert!(has(src, Operator::Logical, "if (a == 1 && !a)"));
    }

    #[test]
    fn constants_and_sizeofs_move_by_one_in_their_own_base() {
        let src = "int f(void *p) {\n\treturn p + sizeof(struct x) + 0x1fULL + 0;\n}\n";
        let ms = of(src);
        let line = |s: &str| {
            (
                Operator::Constant,
                format!("return p + sizeof(struct x) + {s};"),
            )
        };
        assert!(ms.contains(&line("0x20ULL + 0")));
        assert!(ms.contains(&line("0x1eULL + 0")));
        assert!(ms.contains(&line("0x1fULL + 1")));
        assert!(!ms.iter().any(|m| m.1.contains("+ -1")), "{ms:?}");
        assert!(has(
            src,
            Operator::Sizeof,
            "return p + (sizeof(struct x) - 1) + 0x1fULL + 0;"
        ));
    }

    #[test]
    fn actions_swap_with_each_other() {
        let src = "int f(void) {\n\treturn XDP_DROP;\n}\n";
        let ms = of(src);
        assert_eq!(ms.len(), 3, "{ms:?}");
        for a in ["XDP_PASS", "XDP_TX", "XDP_ABORTED"] {
            assert!(ms.contains(&(Operator::Action, format!("return {a};"))));
        }
    }

    #[test]
    fn byte_order_helpers_are_left_out() {
        let src = "int f(struct iphdr *ip) {\n\treturn bpf_ntohs(ip->tot_len) == __bpf_constant_htons(2);\n}\n";
        assert!(has(
            src,
            Operator::ByteOrder,
            "return (ip->tot_len) == __bpf_constant_htons(2);"
        ));
        assert!(has(
            src,
            Operator::ByteOrder,
            "return bpf_ntohs(ip->tot_len) == (2);"
        ));
    }

    #[test]
    fn fields_swap_with_their_twin() {
        let src = "struct p { int source; int dest; };\nint f(struct p *a, struct iphdr ip) {\n\treturn a->dest + ip.saddr;\n}\n";
        let ms = of(src);
        assert!(ms.contains(&(Operator::Field, "return a->source + ip.saddr;".into())));
        assert!(ms.contains(&(Operator::Field, "return a->dest + ip.daddr;".into())));
        // The struct's own declaration is no access.
        assert!(
            !ms.iter().any(|m| m.1.contains("int dest; int dest")),
            "{ms:?}"
        );
    }

    #[test]
    fn statements_that_change_something_are_left_out() {
        let src = "int f(__u64 *n, struct b *b) {\n\t__u64 x = 1;\n\tif (n)\n\t\t__sync_fetch_and_add(n, 1);\n\
                   \tb->tokens--;\n\tx += 2;\n\tbpf_map_update_elem(&m, &k, &v, BPF_ANY);\n\tfor (int i = 0; i < 2; i++)\n\t\tx = 0;\n\treturn x;\n}\n";
        let removed: Vec<String> = mutants(src)
            .0
            .into_iter()
            .filter(|m| m.operator == Operator::Statement)
            .map(|m| m.original)
            .collect();
        assert_eq!(
            removed,
            [
                "__sync_fetch_and_add(n, 1);",
                "b->tokens--;",
                "x += 2;",
                "bpf_map_update_elem(&m, &k, &v, BPF_ANY);",
                "x = 0;"
            ]
        );
    }

    #[test]
    fn comments_strings_directives_sec_and_maps_stay() {
        let src = "#define A 1 < 2\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n\
                   struct {\n\t__uint(max_entries, 4);\n} m SEC(\".maps\");\n\
                   SEC(\"xdp\")\nint f(void) {\n\t/* 1 < 2 */\n\tchar *s = \"3 < 4\";\n#ifdef BUG\n\treturn 7;\n#endif\n\treturn 0;\n}\n";
        let ms = of(src);
        assert_eq!(ms, [(Operator::Constant, "return 1;".to_owned())]);
    }

    #[test]
    fn a_line_written_twice_gets_a_second_key() {
        let src = "int f(int s) {\n\ts = s >> 1;\n\ts = s >> 1;\n\treturn s;\n}\n";
        let (ms, _) = mutants(src);
        let nths: Vec<usize> = ms
            .iter()
            .filter(|m| m.operator == Operator::Statement)
            .map(|m| m.nth)
            .collect();
        assert_eq!(nths, [0, 1]);
    }

    #[test]
    fn programs_reach_the_functions_they_call() {
        let src = "static int c(void) { return 1; }\nstatic int b(void) { return c(); }\n\
                   int p(void) { return b(); }\nint q(void) { return 0; }\n";
        let (_, functions) = mutants(src);
        let names: BTreeSet<String> = reached(&functions, "p");
        assert_eq!(names, ["b", "c", "p"].map(String::from).into());
        assert_eq!(reached(&functions, "q").len(), 1);
        let through_macro = "#define PICK(i) i = c()\nstatic int c(void) { return 1; }\n\
                             int p(void) { int i; PICK(i); return i; }\n";
        let (_, functions) = mutants(through_macro);
        assert!(reached(&functions, "p").contains("c"), "{functions:?}");
        let m = mutants(src).0;
        let applied = m[0].apply(src);
        assert!(
            applied.starts_with("static int c(void) { return 2; }"),
            "{applied}"
        );
    }
}
