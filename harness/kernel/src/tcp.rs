//! A real TCP connection across a veth topology: a listener in one namespace, a client in
//! another, and what each side saw. For contracts whose point is a protocol exchange with the
//! kernel's own TCP stack (a SYN-cookie answered by XDP and accepted by the listener).

use std::{
    io::{ErrorKind, Read as _, Write as _},
    net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream},
    time::{Duration, Instant},
};

use crate::{
    error::{Error, Result},
    target::Target,
};

/// How long each step of the exchange may take; a working path takes milliseconds.
const STEP_TIMEOUT: Duration = Duration::from_secs(3);

/// The connection to make.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The client's namespace role.
    pub client_ns: &'static str,
    /// The listener's namespace role.
    pub server_ns: &'static str,
    /// The address the listener binds (its port on every address) and the client dials.
    pub server: SocketAddrV4,
    /// What the client writes once connected; the server reads as many bytes.
    pub payload: Vec<u8>,
    /// Force SYN cookies on in the server's namespace and prime the listener with one local
    /// connection: Linux checks a returning cookie only on a listener that recently sent cookies,
    /// and when XDP answers the SYNs the listener never sees them.
    pub prime_syncookies: bool,
}

/// What happened, step by step; a step that did not happen is `None`.
#[derive(Debug, Clone)]
pub struct Exchanged {
    /// The client's connect(): Ok, or the error as text.
    pub connect: std::result::Result<(), String>,
    /// The peer address the server's accept() returned, or why there was none.
    pub accepted: Option<std::result::Result<Ipv4Addr, String>>,
    /// What the server read, or why it could not.
    pub read: Option<std::result::Result<Vec<u8>, String>>,
}

/// Makes the connection on `target`'s topology (veth modes only).
pub fn connect(target: &mut dyn Target, c: &Connection) -> Result<Exchanged> {
    let veth = target
        .veth()
        .ok_or_else(|| Error::env("a real TCP connection needs a veth target"))?;
    let topo = veth.topology();
    let port = c.server.port();
    let prime = c.prime_syncookies;
    let listener = topo
        .ns(c.server_ns)?
        .run(move || listen(port, prime))?
        .map_err(|e| Error::op(format!("server in the {} namespace", c.server_ns), e))?;
    listener
        .set_nonblocking(true)
        .map_err(Error::during("making the TCP listener non-blocking"))?;
    let server = SocketAddr::V4(c.server);
    let client = topo
        .ns(c.client_ns)?
        .run(|| TcpStream::connect_timeout(&server, STEP_TIMEOUT))?;
    let mut client = match client {
        Ok(client) => client,
        Err(e) => {
            return Ok(Exchanged {
                connect: Err(e.to_string()),
                accepted: None,
                read: None,
            });
        }
    };
    client
        .write_all(&c.payload)
        .map_err(Error::during("sending the TCP payload"))?;
    let (mut stream, peer) = match accept(&listener) {
        Ok(x) => x,
        Err(e) => {
            return Ok(Exchanged {
                connect: Ok(()),
                accepted: Some(Err(e.to_string())),
                read: None,
            });
        }
    };
    let peer = match peer {
        SocketAddr::V4(v4) => *v4.ip(),
        SocketAddr::V6(v6) => v6.ip().to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
    };
    stream
        .set_read_timeout(Some(STEP_TIMEOUT))
        .map_err(Error::during("setting the TCP read timeout"))?;
    let mut buf = vec![0u8; c.payload.len()];
    let read = stream
        .read_exact(&mut buf)
        .map(|()| buf)
        .map_err(|e| e.to_string());
    Ok(Exchanged {
        connect: Ok(()),
        accepted: Some(Ok(peer)),
        read: Some(read),
    })
}

/// Binds the listener, in the calling thread's namespace.
fn listen(port: u16, prime_syncookies: bool) -> std::io::Result<TcpListener> {
    if prime_syncookies {
        std::fs::write("/proc/sys/net/ipv4/tcp_syncookies", "2")?;
        loopback_up()?;
    }
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))?;
    if prime_syncookies {
        let local = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let primer = TcpStream::connect_timeout(&local, STEP_TIMEOUT)?;
        let _ = listener.accept()?;
        drop(primer);
    }
    Ok(listener)
}

/// Waits for a connection on a non-blocking listener, up to [`STEP_TIMEOUT`]. Polls because
/// std's listener has no accept timeout; the wait ends at the connection, not at a fixed time.
fn accept(listener: &TcpListener) -> std::io::Result<(TcpStream, SocketAddr)> {
    let start = Instant::now();
    loop {
        match listener.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock && start.elapsed() < STEP_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(1));
            }
            other => return other,
        }
    }
}

/// Brings `lo` up in the calling thread's namespace (local connections need it).
fn loopback_up() -> std::io::Result<()> {
    let status = std::process::Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "ip link set lo up: {status}"
        )))
    }
}
