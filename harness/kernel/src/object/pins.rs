//! The harness's own pin directories on a bpffs (students' pins: [`crate::source::pinned`]).

use std::path::{Path, PathBuf};

use crate::{
    cleanup::{self, PIN_DIR},
    error::{Error, Result},
};

/// Mounts a bpffs on /sys/fs/bpf unless one is there (a fresh machine of this kind has none).
pub fn ensure_bpffs() -> Result<()> {
    let mounts =
        std::fs::read_to_string("/proc/mounts").map_err(Error::during("reading /proc/mounts"))?;
    if mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(PIN_DIR))
    {
        return Ok(());
    }
    let rc = unsafe {
        libc::mount(
            c"bpf".as_ptr(),
            c"/sys/fs/bpf".as_ptr(),
            c"bpf".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(Error::op(
            format!("cannot mount a bpffs on {PIN_DIR}"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// A directory on the bpffs owned by this process (`/sys/fs/bpf/xdplab-<pid>_<pidns>-<n>`), removed
/// with everything pinned in it when dropped; `xdplab clean` removes those of killed runs.
#[derive(Debug)]
pub struct PinDir {
    path: PathBuf,
}

impl PinDir {
    /// Creates a fresh pin directory, mounting the bpffs first if needed.
    pub fn create() -> Result<Self> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        ensure_bpffs()?;
        let _creating = cleanup::creating();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        // No dots: bpffs reserves names with a dot.
        let path = Path::new(PIN_DIR).join(format!("{}{n}", cleanup::own_prefix()));
        std::fs::create_dir_all(&path)
            .map_err(Error::during(format!("creating {}", path.display())))?;
        Ok(Self { path })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
