//! C tokens with their byte spans, and which of them the preprocessor keeps.
//!
//! Hand-written on purpose: mutants are edits of the source as written (a `bpf_htons` call, a
//! `<` in a condition), and the C crates (lang-c, for one) parse preprocessed text, where those
//! macros are already expanded and the spans no longer point into the student's file. No crate
//! mutates C source. A lexer for the few token kinds C has is short; conditional blocks
//! (`#ifdef BUG_...`) are evaluated here so that code the compiler never sees is not mutated.

use std::collections::BTreeSet;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A name or keyword.
    Ident,
    /// A number, with its suffix.
    Number,
    /// A string literal.
    Str,
    /// A character literal.
    Char,
    /// An operator or punctuator.
    Punct,
    /// A comment.
    Comment,
    /// A whole preprocessor line (with its continuations).
    Preproc,
    /// White space.
    Space,
}

/// One token: its kind, its bytes in the source and whether the compiler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What sort of token it is.
    pub kind: Kind,
    /// Its first byte in the source.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
    /// False inside a conditional block the preprocessor drops.
    pub active: bool,
}

/// Operators, longest first so that the first match is the longest.
const PUNCTS: [&str; 24] = [
    "<<=", ">>=", "...", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "+=",
    "-=", "*=", "/=", "%=", "&=", "|=", "^=", "##", "#",
];

/// Splits `src` into tokens. Never fails: a byte it does not know is a one-byte punctuator.
pub fn tokenize(src: &str) -> Vec<Token> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line_start = true;
    while i < b.len() {
        let start = i;
        let c = b[i];
        let kind = if c == b'#' && line_start {
            // To the end of the line, past backslash continuations.
            while i < b.len() && b[i] != b'\n' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            Kind::Preproc
        } else if c.is_ascii_whitespace() {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            Kind::Space
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            Kind::Comment
        } else if b[i..].starts_with(b"/*") {
            i = src[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            Kind::Comment
        } else if c == b'"' || c == b'\'' {
            i += 1;
            while i < b.len() && b[i] != c && b[i] != b'\n' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
            if c == b'"' { Kind::Str } else { Kind::Char }
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
            Kind::Number
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            Kind::Ident
        } else {
            let p = PUNCTS.iter().find(|p| b[i..].starts_with(p.as_bytes()));
            // One whole character otherwise, so spans stay on char boundaries.
            i += p.map_or_else(
                || src[i..].chars().next().map_or(1, char::len_utf8),
                |p| p.len(),
            );
            Kind::Punct
        };
        i = i.min(b.len());
        let text = &src[start..i];
        line_start = match kind {
            Kind::Space => line_start || text.contains('\n'),
            // `/* c */ #define` is still a directive.
            Kind::Comment => line_start,
            Kind::Preproc => true,
            _ => false,
        };
        out.push(Token {
            kind,
            start,
            end: i,
            active: true,
        });
    }
    mark_inactive(src, &mut out);
    out
}

/// One open `#if`: whether its enclosing block is kept, whether a branch was taken, and
/// whether the current branch is kept (`None`: the condition is beyond this evaluator, so both
/// branches count as kept; their mutants then compile to the same program and are skipped).
struct Cond {
    outer: bool,
    taken: Option<bool>,
    now: Option<bool>,
}

/// Marks the tokens of dropped conditional blocks inactive. Macros come from `#define` lines
/// of the file itself (the suite compiles the correct program with no `-D`).
fn mark_inactive(src: &str, tokens: &mut [Token]) {
    let mut defined = BTreeSet::new();
    let mut stack: Vec<Cond> = Vec::new();
    let kept = |stack: &[Cond]| stack.last().is_none_or(|c| c.outer && c.now != Some(false));
    for t in tokens.iter_mut() {
        if t.kind != Kind::Preproc {
            t.active = kept(&stack);
            continue;
        }
        let line = src[t.start..t.end].replace("\\\n", " ");
        let mut words = line[1..]
            .trim_start()
            .splitn(2, |c: char| !c.is_alphanumeric());
        let directive = words.next().unwrap_or_default();
        let rest = words.next().unwrap_or_default().trim();
        let outer = kept(&stack);
        t.active = outer;
        let name = rest
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next();
        match directive {
            "define" if outer => {
                defined.insert(name.unwrap_or_default().to_owned());
            }
            "undef" if outer => {
                defined.remove(name.unwrap_or_default());
            }
            "ifdef" | "ifndef" => {
                let is = defined.contains(name.unwrap_or_default());
                let now = Some(is == (directive == "ifdef"));
                stack.push(Cond {
                    outer,
                    taken: now,
                    now,
                });
            }
            "if" => {
                let now = eval(rest, &defined);
                stack.push(Cond {
                    outer,
                    taken: now,
                    now,
                });
            }
            "elif" | "else" => {
                if let Some(c) = stack.last_mut() {
                    let cond = if directive == "else" {
                        Some(true)
                    } else {
                        eval(rest, &defined)
                    };
                    c.now = match (c.taken, cond) {
                        (Some(true), _) => Some(false),
                        (Some(false), now) => now,
                        (None, _) => None,
                    };
                    c.taken = match (c.taken, c.now) {
                        (Some(t), Some(n)) => Some(t || n),
                        _ => None,
                    };
                }
            }
            "endif" => {
                stack.pop();
            }
            _ => {}
        }
    }
}

/// Evaluates a `#if` condition made of `defined`, integers, `!`, `&&`, `||` and parentheses;
/// `None` for anything else.
fn eval(expr: &str, defined: &BTreeSet<String>) -> Option<bool> {
    let toks: Vec<Token> = tokenize(expr)
        .into_iter()
        .filter(|t| !matches!(t.kind, Kind::Space | Kind::Comment))
        .collect();
    let words: Vec<&str> = toks.iter().map(|t| &expr[t.start..t.end]).collect();
    let mut pos = 0;
    let value = or_expr(&words, &mut pos, defined)?;
    (pos == words.len()).then_some(value)
}

fn or_expr(w: &[&str], pos: &mut usize, d: &BTreeSet<String>) -> Option<bool> {
    let mut v = and_expr(w, pos, d)?;
    while w.get(*pos) == Some(&"||") {
        *pos += 1;
        v |= and_expr(w, pos, d)?;
    }
    Some(v)
}

fn and_expr(w: &[&str], pos: &mut usize, d: &BTreeSet<String>) -> Option<bool> {
    let mut v = unary(w, pos, d)?;
    while w.get(*pos) == Some(&"&&") {
        *pos += 1;
        v &= unary(w, pos, d)?;
    }
    Some(v)
}

fn unary(w: &[&str], pos: &mut usize, d: &BTreeSet<String>) -> Option<bool> {
    let word = *w.get(*pos)?;
    *pos += 1;
    match word {
        "!" => unary(w, pos, d).map(|v| !v),
        "(" => {
            let v = or_expr(w, pos, d)?;
            (w.get(*pos) == Some(&")")).then(|| *pos += 1)?;
            Some(v)
        }
        "defined" => {
            let paren = w.get(*pos) == Some(&"(");
            *pos += usize::from(paren);
            let name = *w.get(*pos)?;
            *pos += 1;
            if paren {
                (w.get(*pos) == Some(&")")).then(|| *pos += 1)?;
            }
            Some(d.contains(name))
        }
        n if n.bytes().all(|c| c.is_ascii_digit()) => Some(n.bytes().any(|c| c != b'0')),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<(Kind, &str, bool)> {
        tokenize(src)
            .into_iter()
            .filter(|t| t.kind != Kind::Space)
            .map(|t| (t.kind, &src[t.start..t.end], t.active))
            .collect()
    }

    #[test]
    fn tokens_keep_their_spans_and_kinds() {
        let src = "#include <a.h>\nint x = a->b<=0x1fULL; // c <\n/* d */ s = \"a<b\";";
        let t = texts(src);
        assert_eq!(t[0], (Kind::Preproc, "#include <a.h>", true));
        assert!(t.contains(&(Kind::Punct, "->", true)));
        assert!(t.contains(&(Kind::Punct, "<=", true)));
        assert!(t.contains(&(Kind::Number, "0x1fULL", true)));
        assert!(t.contains(&(Kind::Comment, "// c <", true)));
        assert!(t.contains(&(Kind::Str, "\"a<b\"", true)));
        let joined: String = tokenize(src).iter().map(|t| &src[t.start..t.end]).collect();
        assert_eq!(joined, src);
    }

    #[test]
    fn dropped_blocks_are_inactive() {
        let src = "#define A\n#ifdef BUG\nx1;\n#elif defined(A) && !defined(B)\nx2;\n#else\nx3;\n\
                   #endif\n#ifndef A\nx4;\n#endif\n#if FOO > 2\nx5;\n#else\nx6;\n#endif\n";
        let active: Vec<(&str, bool)> = texts(src)
            .into_iter()
            .filter(|t| t.0 == Kind::Ident)
            .map(|t| (t.1, t.2))
            .collect();
        assert_eq!(
            active,
            [
                ("x1", false),
                ("x2", true),
                ("x3", false),
                ("x4", false),
                ("x5", true),
                ("x6", true)
            ]
        );
    }
}
