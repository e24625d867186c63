//! Loads lab 7.1's reference programs the way the course's Clojure library does (unnamed maps,
//! raw instructions), pins them in a bpffs directory and, optionally, attaches one to an
//! interface of the calling namespace with netlink, as `attach-xdp` does. Everything stays
//! loaded after it exits (pins and attachments hold the programs), for trying `xdplab run
//! --pinned`, `--prog-id` and `--attached` by hand:
//!
//! ```sh
//! cargo run -p xdplab-lab-7-1 --example clojure_load -- /sys/fs/bpf/demo [PROGRAM IFACE]
//! nsenter --net=/run/netns/NS target/debug/examples/clojure_load /sys/fs/bpf/demo firewall eth0
//! ```
//! (`nsenter`, not `ip netns exec`, which hides the bpffs.) Remove the directory to unload.

use std::path::Path;

use harness::testing::student_loader::{StudentPrograms, XDP_FLAGS_DRV_MODE, attach_netlink};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        return Err("usage: clojure_load PIN_DIR [PROGRAM IFACE]".into());
    };
    let programs = StudentPrograms::load((lab_7_1::lab(0).reference)(), false)?;
    std::fs::create_dir_all(dir)?;
    programs.pin_all(Path::new(dir))?;
    for name in programs.names() {
        println!("{name}: id {} pinned at {dir}/{name}", programs.id(name));
    }
    if let [_, program, iface] = args.as_slice() {
        let ifindex = ifindex_of(iface)?;
        attach_netlink(programs.fd(program), ifindex, XDP_FLAGS_DRV_MODE)?;
        println!("{program} attached to {iface} (native)");
    }
    Ok(())
}

fn ifindex_of(iface: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let name = std::ffi::CString::new(iface)?;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let index = unsafe { libc_if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(format!("no interface {iface} in this namespace").into());
    }
    Ok(index)
}

unsafe extern "C" {
    #[link_name = "if_nametoindex"]
    fn libc_if_nametoindex(name: *const std::ffi::c_char) -> u32;
}
