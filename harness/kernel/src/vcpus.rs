//! The host's view of a VM's vCPUs: how much of a stretch of time each vCPU thread really ran.
//!
//! Inside a VM the guest's clock runs on while the host has a vCPU off, and nothing in the
//! guest tells that pause from a slow run (an emulated vCPU gets no steal time). So the process
//! that boots the VM ([`serve`]) answers the guest's questions over a virtio serial port: on each
//! request it reads, from the host's `/proc`, how long each vCPU thread of the VM's qemu has
//! been on a CPU. Two samples around a stretch ([`sample`], [`paused`]) bound how long each
//! vCPU was off meanwhile. Without the port (a VM booted by hand, or by the kernel matrix) there
//! is no sample, and callers fall back to what the guest alone can bound.
//!
//! `/proc` adds a running thread's time only at each scheduler tick (4 ms at 250 Hz), so a
//! reading can lag by a tick. The host therefore reads until the figure moves (a tick, or the
//! thread leaving the CPU, has just brought it up to date) or has stood still for longer than
//! a tick at 100 Hz (the thread was off the CPU, so it was up to date at the first reading),
//! and reports when, and how long it had last waited between readings.

use std::{
    io::{BufRead, BufReader, Read, Write},
    os::{
        fd::AsRawFd,
        unix::{
            fs::OpenOptionsExt,
            net::{UnixListener, UnixStream},
        },
    },
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

/// The host's socket for the port, which `kernel-vm.sh run` hands to qemu when set.
pub const SOCKET_ENV: &str = "XDPLAB_VM_VCPU_SOCKET";
/// Set inside the guest when the port is there: its name.
pub const PORT_ENV: &str = "XDPLAB_VM_VCPUS";

/// Longer than a scheduler tick at 100 Hz: a figure that stood still this long was up to date.
const STILL: Duration = Duration::from_millis(12);
/// How often the host reads a figure while it waits for it to move.
const POLL: Duration = Duration::from_micros(100);
/// How long the guest waits for an answer before it stops asking.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// Answers the guest of the VM about to boot, on a socket at `path`, from a thread that lives
/// as long as this process (it ends with the VM's connection; the socket file goes with the
/// returned value).
pub fn serve(path: &Path) -> std::io::Result<Server> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    let start = Instant::now();
    std::thread::Builder::new()
        .name("vcpu-times".into())
        .spawn(move || {
            // One qemu connects; a restarted VM (a second boot) connects again.
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let _ = answer(conn, start);
            }
        })?;
    Ok(Server {
        path: path.to_owned(),
    })
}

/// The socket [`serve`] answers on; removed when dropped.
pub struct Server {
    path: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Answers each request line (a sequence number) of qemu's connection `conn` with the same
/// number and, for each vCPU thread, three figures in nanoseconds: when (since `start`), its CPU
/// time then, and how much that CPU time may fall short (see the module's doc).
fn answer(conn: UnixStream, start: Instant) -> std::io::Result<()> {
    let qemu = peer_pid(&conn)?;
    let mut out = conn.try_clone()?;
    for line in BufReader::new(conn).lines() {
        let seq = line?;
        // Looked up on every request: a vCPU thread names itself once it runs.
        let vcpus = vcpu_threads(qemu);
        let reply = match up_to_date(qemu, &vcpus, start) {
            Some(figures) if !figures.is_empty() => {
                let f: Vec<String> = figures
                    .iter()
                    .map(|(at, ran, short)| format!("{at}:{ran}:{short}"))
                    .collect();
                format!("{} {}\n", seq.trim(), f.join(" "))
            }
            _ => format!("{} none\n", seq.trim()),
        };
        out.write_all(reply.as_bytes())?;
    }
    Ok(())
}

/// Each thread's (when, CPU time, how much it may fall short), read as the module's doc says.
fn up_to_date(qemu: i32, tids: &[u32], start: Instant) -> Option<Vec<(u128, u64, u128)>> {
    let first_at = start.elapsed();
    let first: Vec<u64> = tids
        .iter()
        .map(|&t| cpu_time(qemu, t))
        .collect::<Option<_>>()?;
    let mut done: Vec<Option<(u128, u64, u128)>> = vec![None; tids.len()];
    let mut last_at = first_at;
    while done.iter().any(Option::is_none) {
        std::thread::sleep(POLL);
        let now = start.elapsed();
        if now.saturating_sub(first_at) > STILL {
            break;
        }
        for (i, &t) in tids.iter().enumerate() {
            if done[i].is_some() {
                continue;
            }
            let ran = cpu_time(qemu, t)?;
            if ran != first[i] {
                done[i] = Some((now.as_nanos(), ran, now.saturating_sub(last_at).as_nanos()));
            }
        }
        last_at = now;
    }
    // Still since the first reading: off the CPU, so up to date then.
    Some(
        done.into_iter()
            .zip(first)
            .map(|(d, ran)| d.unwrap_or((first_at.as_nanos(), ran, 0)))
            .collect(),
    )
}

/// The process at the other end of `conn` (qemu).
fn peer_pid(conn: &UnixStream) -> std::io::Result<i32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED fills a ucred of the given size.
    let rc = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &raw mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(cred.pid)
}

/// qemu's vCPU threads, by vCPU index: qemu names them `CPU <n>/TCG` (or `/KVM`).
fn vcpu_threads(qemu: i32) -> Vec<u32> {
    let mut found: Vec<(usize, u32)> = std::fs::read_dir(format!("/proc/{qemu}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| {
            let tid: u32 = task.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            let n = comm.strip_prefix("CPU ")?.split('/').next()?.parse().ok()?;
            Some((n, tid))
        })
        .collect();
    found.sort_unstable();
    // Only a complete set 0..n: a gap would shift every index after it.
    if found.iter().enumerate().any(|(i, (n, _))| i != *n) {
        return Vec::new();
    }
    found.into_iter().map(|(_, tid)| tid).collect()
}

/// A thread's time on a CPU so far, in nanoseconds (`/proc`'s schedstat: another process's
/// thread CPU clock cannot be read with clock_gettime).
fn cpu_time(pid: i32, tid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat")).ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// What the host saw of each vCPU thread: when, its time on a CPU then, and how much that time
/// may fall short.
#[derive(Debug, Clone)]
pub struct Sample {
    vcpus: Vec<Reading>,
}

#[derive(Debug, Clone, Copy)]
struct Reading {
    at: Duration,
    ran: Duration,
    short: Duration,
}

/// The longest that vCPU `cpu` can have been off a host CPU between `before` and `after`: the
/// host's time between the readings less the thread's time on a CPU, plus what the first
/// reading may fall short.
pub fn paused(before: &Sample, after: &Sample, cpu: usize) -> Option<Duration> {
    let (b, a) = (before.vcpus.get(cpu)?, after.vcpus.get(cpu)?);
    let ran = a.ran.checked_sub(b.ran)?;
    let passed = a.at.checked_sub(b.at)?;
    Some(passed.saturating_sub(ran) + b.short)
}

/// Set once the host has failed to answer: not asked again.
static GAVE_UP: AtomicBool = AtomicBool::new(false);

/// Whether this process runs in a VM booted with the port (and the host has not failed to
/// answer).
pub fn offered() -> bool {
    std::env::var_os(PORT_ENV).is_some() && !GAVE_UP.load(Relaxed)
}

/// The host's view now, when this process runs in a VM booted with the port; `None` otherwise,
/// or once the host has failed to answer.
pub fn sample() -> Option<Sample> {
    static PORT: Mutex<Option<Port>> = Mutex::new(None);
    if GAVE_UP.load(Relaxed) {
        return None;
    }
    let name = std::env::var(PORT_ENV).ok()?;
    let mut port = PORT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if port.is_none() {
        *port = Port::open(&name);
    }
    let answer = port.as_mut().and_then(Port::ask);
    if answer.is_none() {
        GAVE_UP.store(true, Relaxed);
        *port = None;
    }
    answer
}

/// The guest's end of the port.
struct Port {
    file: std::fs::File,
    seq: u64,
    pending: Vec<u8>,
}

impl Port {
    /// The port named `name`, found through sysfs (a VM without udev has no
    /// `/dev/virtio-ports/` links).
    fn open(name: &str) -> Option<Port> {
        let dev = std::fs::read_dir("/sys/class/virtio-ports")
            .ok()?
            .flatten()
            .find(|p| {
                std::fs::read_to_string(p.path().join("name")).is_ok_and(|n| n.trim() == name)
            })?
            .file_name();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(Path::new("/dev").join(dev))
            .ok()?;
        Some(Port {
            file,
            seq: 0,
            pending: Vec::new(),
        })
    }

    /// Asks once and waits for the answer to this request (a late answer to an earlier one is
    /// skipped), spinning: a caller that keeps every vCPU busy while it asks keeps them on the
    /// host's CPUs, so the wait does not count as a pause.
    fn ask(&mut self) -> Option<Sample> {
        self.seq += 1;
        self.file
            .write_all(format!("{}\n", self.seq).as_bytes())
            .ok()?;
        let deadline = Instant::now() + ANSWER_WITHIN;
        loop {
            while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                let mut words = line.split_whitespace();
                if words.next() != Some(&self.seq.to_string()) {
                    continue;
                }
                return words
                    .map(|w| {
                        let mut n = w.split(':').map(|n| n.parse::<u64>().ok());
                        let mut next = || n.next().flatten().map(Duration::from_nanos);
                        Some(Reading {
                            at: next()?,
                            ran: next()?,
                            short: next()?,
                        })
                    })
                    .collect::<Option<Vec<_>>>()
                    .filter(|v| !v.is_empty())
                    .map(|vcpus| Sample { vcpus });
            }
            if Instant::now() > deadline {
                return None;
            }
            let mut buf = [0u8; 512];
            match self.file.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::hint::spin_loop(),
                Err(_) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_is_the_time_a_vcpu_was_off_a_cpu_plus_what_the_first_reading_may_lack() {
        let ms = Duration::from_millis;
        let read = |at, ran, short| Reading {
            at: ms(at),
            ran: ms(ran),
            short: ms(short),
        };
        let before = Sample {
            vcpus: vec![read(1000, 500, 0), read(1001, 400, 1)],
        };
        let after = Sample {
            vcpus: vec![read(1200, 700, 0), read(1203, 550, 0)],
        };
        assert_eq!(paused(&before, &after, 0), Some(ms(0)));
        assert_eq!(paused(&before, &after, 1), Some(ms(53)));
        assert_eq!(paused(&before, &after, 2), None);
    }

    #[test]
    fn the_host_answers_with_this_process_threads_cpu_times() {
        // This process stands in for qemu: its threads named `CPU <n>/TCG`.
        let dir = std::env::temp_dir().join(format!("xdplab-vcpus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("s");
        let _server = serve(&path).expect("serve");
        use std::sync::{
            Arc, Barrier,
            atomic::{AtomicBool, AtomicU64},
        };
        let stop = Arc::new(AtomicBool::new(false));
        let named = Arc::new(Barrier::new(3));
        let spins: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let spinners: Vec<_> = (0..2)
            .map(|n| {
                let (stop, named, spins) = (stop.clone(), named.clone(), spins.clone());
                std::thread::Builder::new()
                    .name(format!("CPU {n}/TCG"))
                    .spawn(move || {
                        named.wait();
                        while !stop.load(Relaxed) {
                            spins[n].fetch_add(1, Relaxed);
                        }
                    })
                    .expect("spawn")
            })
            .collect();
        named.wait();
        let mut conn = UnixStream::connect(&path).expect("connect");
        let mut lines = BufReader::new(conn.try_clone().expect("clone")).lines();
        conn.write_all(b"7\n").expect("ask");
        let first = lines.next().expect("an answer").expect("read");
        // Both spinners run again after the first answer (a loaded machine may have held one
        // off), so both CPU times must have grown by the second.
        let seen = spins.each_ref().map(|s| s.load(Relaxed));
        while (0..2).any(|n| spins[n].load(Relaxed) == seen[n]) {
            std::thread::yield_now();
        }
        conn.write_all(b"8\n").expect("ask");
        let second = lines.next().expect("an answer").expect("read");
        stop.store(true, Relaxed);
        for s in spinners {
            s.join().expect("spinner");
        }
        let _ = std::fs::remove_dir_all(&dir);
        let words = |l: &str| -> Vec<u64> {
            l.split([' ', ':'])
                .map(|w| w.parse().unwrap_or_else(|_| panic!("numbers: {l}")))
                .collect()
        };
        let (a, b) = (words(&first), words(&second));
        assert_eq!(
            (a[0], b[0], a.len(), b.len()),
            (7, 8, 7, 7),
            "{first} / {second}"
        );
        // Each spinner's figures: when, CPU time, shortfall; both later and higher the second
        // time, as the spinners ran.
        for i in [1, 4] {
            assert!(b[i] > a[i] && b[i + 1] > a[i + 1], "{first} / {second}");
        }
    }
}
