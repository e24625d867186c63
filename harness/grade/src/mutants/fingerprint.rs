//! What of an object decides a program's behaviour, to tell a mutant the compiler turned back
//! into the original program (an edit in dead code, a constant folded away) without running it.

use std::collections::BTreeMap;

use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionKind, SymbolKind};

/// An object's instructions per program, and what every program shares: the data sections and
/// `.text` (functions not inlined), each with the symbols its relocations name. Debug sections
/// and BTF are left out: they record the source's lines, which every mutant changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fingerprint {
    shared: Vec<(String, Code)>,
    programs: BTreeMap<String, Code>,
}

/// Bytes, and the symbol each relocation in them names (by offset).
type Code = (Vec<u8>, Vec<(u64, String)>);

impl Fingerprint {
    /// Reads `bytes` (an ELF object); `None` if it is not one `object` can read.
    pub fn of(bytes: &[u8]) -> Option<Self> {
        let file = object::File::parse(bytes).ok()?;
        let relocs = |section: &object::Section, range: std::ops::Range<u64>| {
            section
                .relocations()
                .filter(|(at, _)| range.contains(at))
                .map(|(at, r)| {
                    let target = match r.target() {
                        RelocationTarget::Symbol(i) => file
                            .symbol_by_index(i)
                            .ok()
                            .and_then(|s| s.name().ok().map(str::to_owned))
                            .unwrap_or_default(),
                        _ => String::new(),
                    };
                    (at - range.start, target)
                })
                .collect::<Vec<_>>()
        };
        let mut print = Self::default();
        for section in file.sections() {
            let code = section.kind() == SectionKind::Text;
            let data = matches!(
                section.kind(),
                SectionKind::Data
                    | SectionKind::ReadOnlyData
                    | SectionKind::ReadOnlyString
                    | SectionKind::UninitializedData
            );
            let name = section.name().unwrap_or_default();
            if data || (code && name == ".text") {
                let bytes = section.data().unwrap_or_default().to_vec();
                let r = relocs(&section, 0..u64::MAX);
                print.shared.push((name.to_owned(), (bytes, r)));
            }
        }
        for symbol in file.symbols().filter(|s| s.kind() == SymbolKind::Text) {
            let Some(section) = symbol
                .section_index()
                .and_then(|i| file.section_by_index(i).ok())
                .filter(|s| s.name() != Ok(".text"))
            else {
                continue;
            };
            let start = symbol.address().saturating_sub(section.address());
            let end = start.saturating_add(symbol.size());
            let data = section.data().unwrap_or_default();
            let code = data
                .get(start as usize..(end as usize).min(data.len()))
                .unwrap_or_default()
                .to_vec();
            print.programs.insert(
                symbol.name().unwrap_or_default().to_owned(),
                (code, relocs(&section, start..end)),
            );
        }
        Some(print)
    }

    /// Whether `program` compiles to the same instructions, using the same data, in both.
    pub fn same_program(&self, other: &Self, program: &str) -> bool {
        self.shared == other.shared
            && self.programs.contains_key(program)
            && self.programs.get(program) == other.programs.get(program)
    }
}
