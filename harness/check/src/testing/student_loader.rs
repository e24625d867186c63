//! A loader that does what the course's Clojure library (clj-ebpf) does, without a JVM: maps
//! created with the bpf syscall and no names, raw instructions loaded with BPF_PROG_LOAD,
//! programs pinned with BPF_OBJ_PIN and attached with a netlink IFLA_XDP message (the
//! library's `attach-xdp`). The instructions come from an ELF object, relocated to the new
//! maps' fds, so a test can load a lab's reference programs the way a student's would be.
//!
//! The syscalls are written by hand on purpose: aya would name the maps and attach through bpf
//! links, which is exactly what the library does not do.

use std::{
    collections::HashSet,
    ffi::CString,
    os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd},
    path::Path,
};

use aya_obj::generated::bpf_insn;

use kernel::error::{Error, Result};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_OBJ_PIN: libc::c_long = 6;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_PROG_TYPE_XDP: u32 = 6;

/// `XDP_FLAGS_DRV_MODE`, the library's default for `attach-xdp`.
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// The prefix of `union bpf_attr` that BPF_MAP_CREATE reads.
#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

/// The prefix of `union bpf_attr` that BPF_PROG_LOAD reads.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
struct PinAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
}

#[repr(C)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

fn bpf<T>(cmd: libc::c_long, attr: &T) -> std::io::Result<i64> {
    // SAFETY: `attr` is a valid prefix of `union bpf_attr` for `cmd`; every pointer in it
    // refers to memory that outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            std::ptr::from_ref::<T>(attr),
            size_of::<T>(),
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

fn name16(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (o, b) in out.iter_mut().zip(name.bytes().take(15)) {
        *o = b;
    }
    out
}

/// Creates a map through the bpf syscall, unnamed unless `name` is given (`:map-name`).
pub fn create_map(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    name: Option<&str>,
) -> std::io::Result<OwnedFd> {
    let attr = MapCreateAttr {
        map_type,
        key_size,
        value_size,
        max_entries,
        map_name: name.map(name16).unwrap_or_default(),
        ..Default::default()
    };
    bpf(BPF_MAP_CREATE, &attr).map(owned)
}

/// Loads raw instructions as an XDP program, as `load-program` with `:prog-type :xdp` does.
pub fn load_xdp(insns: &[bpf_insn], name: Option<&str>) -> std::io::Result<OwnedFd> {
    load_program(BPF_PROG_TYPE_XDP, 0, insns, name)
}

/// Loads raw instructions as a program of any type (`BPF_PROG_TYPE_*`) with an expected
/// attach type (`BPF_*`; 0 for none), for the programs a student may pin by mistake.
pub fn load_program(
    prog_type: u32,
    expected_attach_type: u32,
    insns: &[bpf_insn],
    name: Option<&str>,
) -> std::io::Result<OwnedFd> {
    let license = c"GPL";
    let attr = ProgLoadAttr {
        prog_type,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name.map(name16).unwrap_or_default(),
        expected_attach_type,
        ..Default::default()
    };
    bpf(BPF_PROG_LOAD, &attr).map(owned)
}

/// Pins a program or map fd at `path` on a bpffs (`pin-program`, `pin-map`).
pub fn pin(fd: BorrowedFd<'_>, path: &Path) -> std::io::Result<()> {
    let path = CString::new(path.as_os_str().as_encoded_bytes()).expect("no NUL in a path");
    let attr = PinAttr {
        pathname: path.as_ptr() as u64,
        bpf_fd: fd.as_raw_fd() as u32,
        file_flags: 0,
    };
    bpf(BPF_OBJ_PIN, &attr).map(|_| ())
}

/// The kernel id of a program or map fd (the first two fields of both info structs are the
/// type and the id).
pub fn kernel_id(fd: BorrowedFd<'_>) -> std::io::Result<u32> {
    let mut info = [0u32; 2];
    let attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: size_of_val(&info) as u32,
        info: info.as_mut_ptr() as u64,
    };
    bpf(BPF_OBJ_GET_INFO_BY_FD, &attr)?;
    Ok(info[1])
}

/// Attaches `prog` to `ifindex` with a netlink IFLA_XDP message, as `attach-xdp` does (no bpf
/// link: it stays attached until detached or the interface goes). Call it from a thread in
/// the interface's namespace.
pub fn attach_netlink(prog: BorrowedFd<'_>, ifindex: u32, flags: u32) -> Result<()> {
    use rtnetlink::{
        LinkUnspec,
        packet_route::link::{LinkAttribute, LinkXdp},
    };
    let fd = prog.as_raw_fd();
    kernel::netlink::with_handle(|h| async move {
        let mut msg = LinkUnspec::new_with_index(ifindex).build();
        msg.attributes.push(LinkAttribute::Xdp(vec![
            LinkXdp::Fd(fd),
            LinkXdp::Flags(flags),
        ]));
        h.link().set(msg).execute().await
    })
}

/// An object's XDP programs and maps, loaded the library's way.
pub struct StudentPrograms {
    programs: Vec<(String, OwnedFd)>,
    /// The maps, under the object's names for them (the kernel's are empty).
    maps: Vec<(String, OwnedFd)>,
}

impl StudentPrograms {
    /// Creates `elf`'s maps through the bpf syscall (unnamed unless `name_maps`), relocates
    /// every XDP program's instructions to them and loads each with BPF_PROG_LOAD, named after
    /// the program.
    pub fn load(elf: &[u8], name_maps: bool) -> Result<Self> {
        let mut obj = aya_obj::Object::parse(elf).map_err(Error::during("parsing the object"))?;
        let mut maps = Vec::new();
        for (name, map) in &obj.maps {
            let fd = create_map(
                map.map_type(),
                map.key_size(),
                map.value_size(),
                map.max_entries(),
                name_maps.then_some(name.as_str()),
            )
            .map_err(|e| Error::op(format!("creating map {name}"), e))?;
            maps.push((name.clone(), fd));
        }
        let text_sections: HashSet<usize> = obj.functions.keys().map(|(s, _)| *s).collect();
        let defs = obj.maps.clone();
        obj.relocate_maps(
            maps.iter()
                .map(|(n, fd)| (n.as_str(), fd.as_raw_fd(), &defs[n])),
            &text_sections,
        )
        .map_err(Error::during("relocating maps"))?;
        obj.relocate_calls(&text_sections)
            .map_err(Error::during("relocating calls"))?;
        let mut programs = Vec::new();
        let mut names: Vec<&String> = obj.programs.keys().collect();
        names.sort();
        for name in names {
            let program = &obj.programs[name];
            if !matches!(program.section, aya_obj::ProgramSection::Xdp { .. }) {
                continue;
            }
            let insns = &obj.functions[&program.function_key()].instructions;
            let fd = load_xdp(insns, Some(name))
                .map_err(|e| Error::op(format!("BPF_PROG_LOAD of {name}"), e))?;
            programs.push((name.clone(), fd));
        }
        Ok(Self { programs, maps })
    }

    /// The loaded programs' names.
    pub fn names(&self) -> Vec<&str> {
        self.programs.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The fd of program `name`.
    pub fn fd(&self, name: &str) -> BorrowedFd<'_> {
        self.programs
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| panic!("no program {name}"), |(_, fd)| fd.as_fd())
    }

    /// The kernel id of program `name`, as `bpftool prog show` lists it.
    pub fn id(&self, name: &str) -> u32 {
        kernel_id(self.fd(name)).expect("a loaded program has an id")
    }

    /// Pins the map the object calls `name` at `path` (`pin-map`).
    pub fn pin_map(&self, name: &str, path: &Path) -> Result<()> {
        let (_, fd) = self
            .maps
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no map {name}"));
        pin(fd.as_fd(), path).map_err(Error::during(format!("pinning at {}", path.display())))
    }

    /// Pins every program at `dir/<name>`.
    pub fn pin_all(&self, dir: &Path) -> Result<()> {
        for (name, fd) in &self.programs {
            pin(fd.as_fd(), &dir.join(name))
                .map_err(Error::during(format!("pinning map {name}")))?;
        }
        Ok(())
    }
}

/// Replaces the immediate `from` by `to` in every instruction of `elf` that carries it as a
/// comparison (conditional jump with an immediate): the bug a student copy is given. Returns
/// how many instructions changed.
pub fn patch_compare_imm(elf: &mut [u8], from: u32, to: u32) -> usize {
    let mut n = 0;
    for insn in elf.as_chunks_mut::<8>().0 {
        let code = insn[0];
        let is_jump = matches!(code & 0x07, 0x05 | 0x06) && code & 0x08 == 0;
        let conditional = !matches!(code >> 4, 0x0 | 0x8 | 0x9);
        if is_jump && conditional && insn[4..8] == from.to_le_bytes() {
            insn[4..8].copy_from_slice(&to.to_le_bytes());
            n += 1;
        }
    }
    n
}
