//! Reading one captured frame, with its VLAN tag put back where it was on the wire.
//!
//! The kernel moves an 802.1Q/802.1ad tag out of the frame data into packet metadata
//! (`skb_vlan_untag`, unconditionally, before packet sockets see received frames; and on
//! transmit whenever the tag is offloaded). A packet socket then reads the frame without its tag;
//! the tag only comes along in a PACKET_AUXDATA control message, which is why this uses
//! recvmsg() rather than pnet's receiver (a plain recvfrom(), no control messages). Reinserting
//! the tag is what libpcap does too.

use std::io;
use std::mem;
use std::os::fd::RawFd;

/// Where an 802.1Q tag sits: right after the two MAC addresses.
const TAG_OFFSET: usize = 12;

/// Control buffer for one `tpacket_auxdata` message, 8-byte aligned as cmsghdr needs.
type ControlBuf = [u64; 8];
const _: () = assert!(
    mem::size_of::<ControlBuf>()
        >= mem::size_of::<libc::cmsghdr>() + mem::size_of::<libc::tpacket_auxdata>() + 8
);

/// Reads one queued frame into `buf`, returning it with any stripped VLAN tag reinserted, or
/// `None` if the queue is empty. `fd` must be non-blocking and have PACKET_AUXDATA on.
/// Frames longer than `buf` are cut to its length.
pub(super) fn recv_frame(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<Vec<u8>>> {
    let mut control: ControlBuf = [0; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is valid (no name).
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = mem::size_of::<ControlBuf>();
    let len = loop {
        // SAFETY: `msg` points at `iov` (into `buf`) and `control`, which outlive the call.
        let n = unsafe { libc::recvmsg(fd, &raw mut msg, 0) };
        if n >= 0 {
            break n as usize;
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => return Ok(None),
            _ => return Err(err),
        }
    };
    let data = &buf[..len.min(buf.len())];
    Ok(Some(match vlan_tag(&msg) {
        Some((tpid, tci)) if data.len() >= TAG_OFFSET => {
            let mut frame = Vec::with_capacity(data.len() + 4);
            frame.extend_from_slice(&data[..TAG_OFFSET]);
            frame.extend_from_slice(&tpid.to_be_bytes());
            frame.extend_from_slice(&tci.to_be_bytes());
            frame.extend_from_slice(&data[TAG_OFFSET..]);
            frame
        }
        _ => data.to_vec(),
    }))
}

/// The (TPID, TCI) of a tag the kernel took out of the frame, from the PACKET_AUXDATA message.
fn vlan_tag(msg: &libc::msghdr) -> Option<(u16, u16)> {
    // SAFETY: `msg` was filled in by recvmsg; the CMSG macros stay within msg_controllen.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !cmsg.is_null() {
        // SAFETY: non-null headers from CMSG_FIRSTHDR/NXTHDR lie inside the control buffer.
        let header = unsafe { &*cmsg };
        if header.cmsg_level == libc::SOL_PACKET && header.cmsg_type == libc::PACKET_AUXDATA {
            // SAFETY: the kernel wrote a whole tpacket_auxdata after this header; it may be
            // unaligned for the struct, hence read_unaligned.
            let aux: libc::tpacket_auxdata = unsafe {
                libc::CMSG_DATA(cmsg)
                    .cast::<libc::tpacket_auxdata>()
                    .read_unaligned()
            };
            if aux.tp_status & libc::TP_STATUS_VLAN_VALID == 0 {
                return None;
            }
            let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                aux.tp_vlan_tpid
            } else {
                0x8100
            };
            return Some((tpid, aux.tp_vlan_tci));
        }
        // SAFETY: as above.
        cmsg = unsafe { libc::CMSG_NXTHDR(msg, cmsg) };
    }
    None
}
