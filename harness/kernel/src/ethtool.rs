//! Turning off the veth offloads that would hide checksums or VLAN tags from XDP programs.
//!
//! Hand-written on the SIOCETHTOOL ioctl because the `ethtool` crate (rust-netlink) can only read
//! features, not set them, and shelling out to the ethtool binary would add a system dependency.

use std::{ffi::CStr, io};

use crate::error::{Error, Result};

/// Offloads that change what a program sees or what the receiving stack checks:
/// checksum offload (wrong checksums reach the program; the receiver skips verification), VLAN
/// acceleration (tags vanish into metadata) and GRO (frames get merged before capture).
const OFF: &[&str] = &[
    "tx-checksum-ip-generic",
    "rx-checksum",
    "rx-vlan-hw-parse",
    "tx-vlan-hw-insert",
    "rx-vlan-stag-hw-parse",
    "tx-vlan-stag-hw-insert",
    "rx-gro",
];

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GSTRINGS: u32 = 0x1b;
const ETHTOOL_GSSET_INFO: u32 = 0x37;
const ETHTOOL_SFEATURES: u32 = 0x3b;
const ETH_SS_FEATURES: u32 = 4;
const ETH_GSTRING_LEN: usize = 32;

#[repr(C)]
struct IfReq {
    name: [u8; 16],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

/// Turns the offloads in [`OFF`] off on `ifname`, in the calling thread's namespace. Features
/// the driver does not know are skipped.
pub(crate) fn disable_offloads(ifname: &str) -> Result<()> {
    let err = |what: &str, e: io::Error| Error::op(format!("ethtool {what} on {ifname}"), e);
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(err("socket", io::Error::last_os_error()));
    }
    let result = (|| {
        let names = feature_names(sock, ifname).map_err(|e| err("feature names", e))?;
        let blocks = names.len().div_ceil(32);
        // struct ethtool_sfeatures { u32 cmd; u32 size; { u32 valid; u32 requested; }[size] }
        let mut buf = vec![0u32; 2 + 2 * blocks];
        buf[0] = ETHTOOL_SFEATURES;
        buf[1] = blocks as u32;
        for (bit, _) in names
            .iter()
            .enumerate()
            .filter(|(_, n)| OFF.contains(&n.as_str()))
        {
            buf[2 + 2 * (bit / 32)] |= 1 << (bit % 32); // valid; requested stays 0 = off
        }
        // A positive return only says some features could not be changed as asked (for
        // example fixed ones); the ones that matter on veth are all changeable.
        ioctl(sock, ifname, buf.as_mut_ptr().cast()).map_err(|e| err("set features", e))
    })();
    unsafe { libc::close(sock) };
    result
}

fn feature_names(sock: i32, ifname: &str) -> io::Result<Vec<String>> {
    // struct ethtool_sset_info { u32 cmd; u32 reserved; u64 sset_mask; u32 data[1] }
    let mut info = [0u32; 5];
    info[0] = ETHTOOL_GSSET_INFO;
    info[2] = 1 << ETH_SS_FEATURES;
    ioctl(sock, ifname, info.as_mut_ptr().cast())?;
    let count = info[4] as usize;
    // struct ethtool_gstrings { u32 cmd; u32 string_set; u32 len; u8 data[len * 32] }
    let mut buf = vec![0u8; 12 + count * ETH_GSTRING_LEN];
    buf[0..4].copy_from_slice(&ETHTOOL_GSTRINGS.to_ne_bytes());
    buf[4..8].copy_from_slice(&ETH_SS_FEATURES.to_ne_bytes());
    buf[8..12].copy_from_slice(&(count as u32).to_ne_bytes());
    ioctl(sock, ifname, buf.as_mut_ptr().cast())?;
    Ok(buf[12..]
        .chunks(ETH_GSTRING_LEN)
        .map(|c| {
            CStr::from_bytes_until_nul(c)
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect())
}

fn ioctl(sock: i32, ifname: &str, data: *mut libc::c_void) -> io::Result<()> {
    let mut req = IfReq {
        name: [0; 16],
        data,
        _pad: [0; 16],
    };
    req.name[..ifname.len()].copy_from_slice(ifname.as_bytes());
    if unsafe { libc::ioctl(sock, SIOCETHTOOL, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
