//! Taking over a program someone else loaded: its maps, found through the program's own map
//! references, and map pins that name them for the contract.

use std::path::{Path, PathBuf};

use aya::{
    maps::{Map, MapData},
    programs::Xdp,
};

use crate::{
    error::{Error, Result},
    map_role::{MapBinding, MapSummary},
    object::LoadedProgram,
};

/// Wraps a loaded XDP program as the harness's [`LoadedProgram`] named `name`.
///
/// Its maps are those the kernel says it references, under their kernel names (empty for a map
/// created without a name). Each of `map_pins` (contract name, pin path) is a map pinned under
/// the contract's name; it wins over the program's own names, and the report says so.
pub fn adopt(name: &str, mut xdp: Xdp, map_pins: &[(String, PathBuf)]) -> Result<LoadedProgram> {
    // The run count tells apart the harness's frames from the program's other traffic, also
    // in test-run mode.
    crate::host::run_stats()?;
    require_interface_xdp(name, &mut xdp)?;
    let ids = xdp
        .info()
        .and_then(|i| i.map_ids())
        .map_err(Error::during(format!(
            "reading the map ids of program `{name}`"
        )))?
        .unwrap_or_default();
    let mut maps = Vec::new();
    let mut pinned = Vec::new();
    for (contract, pin) in map_pins {
        let data = MapData::from_pin(pin).map_err(|e| Error::BadObject {
            path: pin.clone(),
            reason: format!("not a pinned map: {e}"),
        })?;
        let id = data
            .info()
            .map_err(Error::during(format!(
                "reading the id of the map pinned at {}",
                pin.display()
            )))?
            .id();
        pinned.push((contract.clone(), pin.clone()));
        maps.push((contract.clone(), id, map(data, pin)?));
    }
    for id in ids {
        if maps.iter().any(|(_, pinned_id, _)| *pinned_id == id) {
            continue; // already here under its pin's name
        }
        let data = MapData::from_id(id).map_err(Error::during(format!("opening map id {id}")))?;
        let name = data
            .info()
            .ok()
            .and_then(|i| i.name_as_str().map(str::to_owned))
            .unwrap_or_default();
        maps.push((
            name,
            id,
            Map::from_map_data(data).map_err(Error::during(format!("using map id {id}")))?,
        ));
    }
    let maps: Vec<(String, Map)> = maps.into_iter().map(|(n, _, m)| (n, m)).collect();
    let mut program = LoadedProgram::from_kernel(name.to_owned(), xdp, maps);
    let summaries = program.map_summaries();
    for (contract, pin) in pinned {
        let Some(summary) = summaries.iter().find(|s| s.name == contract) else {
            continue;
        };
        program.bind_map(pin_binding(name, &contract, &pin, summary));
    }
    Ok(program)
}

/// Refuses a program that an interface cannot run: another program type (aya takes any pinned
/// program as XDP), or an XDP program loaded for a devmap or cpumap. The kernel's program info
/// does not report the expected attach type, but BPF_PROG_TEST_RUN refuses such a program with
/// EINVAL, which an interface program never gets for a plain 60-byte frame. That probe frame
/// (an EtherType no contract mentions, so it passes) runs the program once before any check;
/// checks compare counters before and after their own frames, so it moves none of theirs.
fn require_interface_xdp(name: &str, xdp: &mut Xdp) -> Result<()> {
    use aya::programs::{TestRun as _, TestRunOptions};
    use aya_obj::generated::bpf_prog_type;
    let kind = xdp
        .info()
        .map_err(Error::during(format!(
            "reading the type of program `{name}`"
        )))?
        .program_type();
    let wrong = |found: String| Error::ProgramType {
        program: name.to_owned(),
        found,
    };
    if kind != bpf_prog_type::BPF_PROG_TYPE_XDP {
        return Err(wrong(format!(
            "not an XDP program (the kernel lists it as {kind:?})"
        )));
    }
    let mut frame = [0u8; 60];
    frame[..6].fill(0xff);
    frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    frame[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
    let mut out = [0u8; 60 + 4096];
    match xdp.test_run(TestRunOptions {
        data_in: Some(&frame),
        data_out: Some(&mut out),
        ..Default::default()
    }) {
        Err(aya::programs::ProgramError::SyscallError(e))
            if e.io_error.raw_os_error() == Some(libc::EINVAL) =>
        {
            Err(wrong(
                "an XDP program loaded for a devmap or cpumap (its expected attach type)".into(),
            ))
        }
        // Any other failure is the harness's to report where the checks run the program.
        _ => Ok(()),
    }
}

fn map(data: MapData, pin: &Path) -> Result<Map> {
    Map::from_map_data(data).map_err(|e| Error::BadObject {
        path: pin.to_owned(),
        reason: format!("a map of a type the harness cannot read: {e}"),
    })
}

fn pin_binding(program: &str, contract: &str, pin: &Path, summary: &MapSummary) -> MapBinding {
    MapBinding {
        program: program.to_owned(),
        contract: contract.to_owned(),
        used: format!("{} pinned at {}", summary.describe(), pin.display()),
        found: "pin".into(),
        index: summary.index,
    }
}
