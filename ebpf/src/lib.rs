//! The reference XDP objects of the labs, built from `ebpf/programs` by this crate's build script
//! and embedded as bytes, so tests and graders can load them without any build step of their own.
//!
//! Each object is an ELF file for bpfel-unknown-none with BTF (`.BTF`, `.BTF.ext`) and
//! BTF-defined maps (`.maps`), loadable by aya and readable by libbpf and bpftool.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

/// Keeps embedded bytes 8-byte aligned, as ELF parsers reading an object in place expect.
#[repr(C, align(8))]
struct Aligned<Bytes: ?Sized>(Bytes);

/// Declares, for each object, a function returning its bytes and a constant with its path.
/// Invoked by `OUT_DIR/objects.rs`, which ebpf/build.rs writes from the bins of ebpf/programs:
/// adding an object is adding its `src/bin/<name>.rs` there, nothing here.
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

/// A function returning one object's bytes, as [`OBJECTS`] lists them.
pub type ObjectFn = fn() -> &'static [u8];

include!(concat!(env!("OUT_DIR"), "/objects.rs"));

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_lists_every_object_once() {
        let names: Vec<&str> = super::OBJECTS.iter().map(|(n, _)| *n).collect();
        assert!(
            names.contains(&"harness-pass") && names.contains(&"lab-7-1"),
            "{names:?}"
        );
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(unique, names);
    }

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
