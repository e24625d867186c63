//! Programs named by their kernel id, as `bpftool prog show` lists them.

use aya::programs::{ProgramInfo, Xdp, loaded_programs};

use crate::{
    error::{Error, Result},
    object::{LoadedProgram, ProgramSource},
    source::adopt::adopt,
};

/// Loaded XDP programs given by id, each under the contract's program name
/// (`--prog-id ip_filter=42`).
#[derive(Debug, Clone)]
pub struct ProgramIds {
    ids: Vec<(String, u32)>,
}

impl ProgramIds {
    /// The programs `name → id`, each checked now to be a loaded XDP program (so a wrong id
    /// stops the run with the reason, instead of failing every check).
    pub fn open(ids: Vec<(String, u32)>) -> Result<Self> {
        for (i, (name, id)) in ids.iter().enumerate() {
            if let Some((_, other)) = ids[..i].iter().find(|(n, _)| n == name) {
                return Err(Error::usage(format!(
                    "--prog-id names program {name} twice (ids {other} and {id}): each of the \
                     lab's programs takes one id. Keep one `--prog-id {name}=ID`, the id \
                     `bpftool prog show` lists for it."
                )));
            }
        }
        for (name, id) in &ids {
            xdp_by_id(*id, name, &format!("program id {id}"))?;
        }
        Ok(Self { ids })
    }

    /// Parses one `NAME=ID` argument, or a bare `ID` named by `program`.
    pub fn parse_arg(arg: &str, program: Option<&str>) -> Result<(String, u32)> {
        let (name, id) = match arg.split_once('=') {
            Some((name, id)) => (Some(name.trim()), id.trim()),
            None => (program, arg.trim()),
        };
        let usage = |reason: &str| Error::NotLoaded {
            what: format!("--prog-id {arg}"),
            reason: reason.into(),
            fix: "Write `--prog-id NAME=ID` with the contract's program name and the id \
                  `bpftool prog show` lists (or `--prog-id ID --program NAME`)."
                .into(),
        };
        let id = id.parse().map_err(|_| usage("the id is not a number"))?;
        match name {
            Some(name) if !name.is_empty() => Ok((name.to_owned(), id)),
            _ => Err(usage("it does not say which of the lab's programs it is")),
        }
    }
}

/// The newest loaded XDP program with the kernel name program `id` has (itself when none is
/// newer): `xdplab watch --prog-id` follows a student's reloads by it. None when `id` is gone
/// and `name` (the kernel's name, at most 15 bytes) names no loaded program either.
pub fn newest_like(id: u32, name: Option<&str>) -> Option<(u32, String)> {
    let xdp =
        |p: &ProgramInfo| p.program_type() == aya_obj::generated::bpf_prog_type::BPF_PROG_TYPE_XDP;
    let programs: Vec<ProgramInfo> = loaded_programs()
        .filter_map(std::result::Result::ok)
        .filter(xdp)
        .collect();
    let kernel_name = programs
        .iter()
        .find(|p| p.id() == id)
        .and_then(|p| p.name_as_str().map(str::to_owned))
        .or_else(|| name.map(|n| n.chars().take(15).collect()))?;
    programs
        .iter()
        .filter(|p| p.name_as_str() == Some(kernel_name.as_str()))
        .map(ProgramInfo::id)
        .max()
        .map(|newest| (newest, kernel_name))
}

/// Finds loaded program `id` and takes it over as XDP program `name`.
pub(crate) fn xdp_by_id(id: u32, name: &str, what: &str) -> Result<Xdp> {
    let not_loaded = |reason: String| Error::NotLoaded {
        what: what.to_owned(),
        reason,
        fix: "`bpftool prog show` lists the loaded programs and their ids; a program stays \
              loaded only while something holds it (a pin, an attachment, an open fd)."
            .into(),
    };
    let info: ProgramInfo = loaded_programs()
        .filter_map(std::result::Result::ok)
        .find(|p| p.id() == id)
        .ok_or_else(|| not_loaded(format!("no loaded program has id {id}")))?;
    let kind = info.program_type();
    Xdp::from_program_info(
        info,
        name.to_owned().into(),
        aya_obj::programs::XdpAttachType::Interface,
    )
    .map_err(|e| match e {
        aya::programs::ProgramError::UnexpectedProgramType => not_loaded(format!(
            "program {id} is not an XDP program (type {kind:?})"
        )),
        e => Error::op(format!("taking over program {id}"), e),
    })
}

impl ProgramSource for ProgramIds {
    fn origin(&self) -> String {
        let ids: Vec<String> = self.ids.iter().map(|(n, id)| format!("{n}={id}")).collect();
        format!("program ids {}", ids.join(", "))
    }

    fn programs(&self) -> Vec<String> {
        let mut names: Vec<String> = self.ids.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        names
    }

    fn load(&self, program: &str) -> Result<LoadedProgram> {
        let Some((_, id)) = self.ids.iter().find(|(n, _)| n == program) else {
            return Err(Error::ProgramNotFound {
                name: program.into(),
                available: self.programs().join(", "),
                hint: None,
            });
        };
        let xdp = xdp_by_id(*id, program, &format!("program id {id}"))?;
        adopt(program, xdp, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prog_id_arguments_name_the_program() {
        assert_eq!(
            ProgramIds::parse_arg("ip_filter=42", None).unwrap(),
            ("ip_filter".into(), 42)
        );
        assert_eq!(
            ProgramIds::parse_arg("42", Some("firewall")).unwrap(),
            ("firewall".into(), 42)
        );
        let e = ProgramIds::parse_arg("42", None).unwrap_err().to_string();
        assert!(
            e.contains("does not say which of the lab's programs"),
            "{e}"
        );
        let e = ProgramIds::parse_arg("ip_filter=x", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("the id is not a number"), "{e}");
    }

    /// Refused before any id is looked up, so no kernel program is needed.
    #[test]
    fn a_program_named_twice_is_a_usage_error() {
        let twice = vec![
            ("ip_filter".to_owned(), 1),
            ("port_filter".to_owned(), 2),
            ("ip_filter".to_owned(), 1),
        ];
        let e = ProgramIds::open(twice).unwrap_err();
        assert_eq!(e.class(), crate::FailureClass::Usage);
        let e = e.to_string();
        assert!(e.contains("names program ip_filter twice"), "{e}");
    }
}
