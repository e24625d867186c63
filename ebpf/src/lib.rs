//! The reference XDP objects of the labs, built from `ebpf/programs` by this crate's build script
//! and embedded as bytes, so tests and graders can load them without any build step of their own.
//!
//! Each object is an ELF file for bpfel-unknown-none with BTF (`.BTF`, `.BTF.ext`) and
//! BTF-defined maps (`.maps`), loadable by aya and readable by libbpf and bpftool.

/// Keeps embedded bytes 8-byte aligned, as ELF parsers reading an object in place expect.
#[repr(C, align(8))]
struct Aligned<Bytes: ?Sized>(Bytes);

/// Declares, for each object, a function returning its bytes and a constant with its path.
/// Adding a lab's object is one line here (plus its `[[bin]]` in ebpf/programs).
macro_rules! objects {
    ($($(#[doc = $doc:literal])* $file:literal => fn $bytes:ident, const $path:ident;)*) => {$(
        $(#[doc = $doc])*
        pub fn $bytes() -> &'static [u8] {
            static OBJECT: &Aligned<[u8]> =
                &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/", $file)));
            &OBJECT.0
        }

        #[doc = concat!(
            "For tools that want a file rather than bytes (bpftool, readelf, llvm-objdump): the ",
            "path of the object [`", stringify!($bytes), "`] returns. It lies under this crate's ",
            "`OUT_DIR` and is fixed at compile time, so it exists only while that build does."
        )]
        pub const $path: &str = concat!(env!("OUT_DIR"), "/", $file);
    )*};
}

objects! {
    /// The reference solution of lab 7.1, to load where a student's object would go: XDP
    /// programs `ip_filter`, `port_filter` and `firewall` (section `xdp`) sharing the map `stats`
    /// (PERCPU_ARRAY, u32 -> u64, 4 entries). Empty when built with `AYA_BUILD_SKIP=1`.
    "lab-7-1" => fn lab_7_1, const LAB_7_1_PATH;
    /// The harness's XDP_PASS program `xdplab_pass`, attached to the peers of the interface
    /// under test so that TX and REDIRECT frames are delivered in native mode, and its XDP_DROP
    /// program `xdplab_drop`, the floor `xdplab bench` measures against.
    "harness-pass" => fn harness_pass, const HARNESS_PASS_PATH;
    /// The lab 7.2 reference object: `rate_limiter`, `syn_guard`, `ddos_guard`, `syn_cookie`.
    "lab-7-2" => fn lab_7_2, const LAB_7_2_PATH;
    /// The lab 7.3 reference object: `lb_round_robin`, `lb_hash`, `lb_redirect`, `lb_dsr`.
    "lab-7-3" => fn lab_7_3, const LAB_7_3_PATH;
}

#[cfg(test)]
mod tests {
    #[test]
    fn objects_are_aligned_elf_files() {
        let object = super::lab_7_1();
        assert_eq!(object.as_ptr().addr() % 8, 0);
        if !object.is_empty() {
            // Empty only under AYA_BUILD_SKIP.
            assert_eq!(&object[..4], b"\x7fELF");
            assert_eq!(std::fs::read(super::LAB_7_1_PATH).unwrap(), object);
        }
    }
}
