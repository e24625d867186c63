//! A real TCP service reached through the program under test: servers listening in some
//! namespaces of the topology, one client connecting from another, a request and a reply, and
//! what reached the client's link meanwhile. Checks whose point is a real protocol exchange
//! (direct server return) describe it here and judge the [`Served`] result.

use std::{
    io::{ErrorKind, Read, Write},
    net::{SocketAddrV4, TcpListener, TcpStream},
    time::{Duration, Instant},
};

use traffic::PacketSocket;

use crate::{
    error::{Error, Result},
    target::{Target, VethTarget},
};

/// How long each step of the exchange may take; a working path takes milliseconds.
const TIMEOUT: Duration = Duration::from_secs(3);
/// How often the servers look for the connection while the client tries.
const ACCEPT_POLL: Duration = Duration::from_micros(200);

/// One request and reply over a real TCP connection.
#[derive(Debug, Clone)]
pub struct Service {
    /// The client's namespace role.
    pub client: &'static str,
    /// The client's interface, captured to see who answered.
    pub client_link: &'static str,
    /// The servers' namespace roles; each listens on `addr`.
    pub servers: Vec<&'static str>,
    /// The service's address.
    pub addr: SocketAddrV4,
    /// What the client sends.
    pub request: Vec<u8>,
    /// What server `i` answers.
    pub replies: Vec<Vec<u8>>,
}

/// What one side read, or how reading failed.
pub type Received = std::result::Result<Vec<u8>, ErrorKind>;

/// What happened in one exchange.
#[derive(Debug, Clone)]
pub struct Served {
    /// The reply the client read to the end, or how its connection failed.
    pub client: Received,
    /// The server that accepted the connection, and what it read (or how reading failed).
    pub server: Option<(usize, Received)>,
    /// Every frame that reached the client's link during the exchange.
    pub client_saw: Vec<Vec<u8>>,
}

impl Service {
    /// Runs the exchange on `target`'s topology (veth modes only).
    pub fn run(&self, target: &mut dyn Target) -> Result<Served> {
        let Some(vt) = target.veth() else {
            return Err(Error::env("a TCP exchange needs a veth topology"));
        };
        self.run_on(vt)
    }

    fn run_on(&self, vt: &VethTarget) -> Result<Served> {
        let topo = vt.topology();
        let mut listeners = Vec::new();
        for ns in &self.servers {
            let l = topo
                .ns(ns)?
                .run(|| TcpListener::bind(self.addr))?
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|e| Error::op(format!("TCP listener in {ns}"), e))?;
            listeners.push(l);
        }
        let client_if = topo.iface(self.client, self.client_link)?.ifindex;
        let mut capture = topo
            .ns(self.client)?
            .run(|| PacketSocket::open(client_if))?
            .map_err(|e| Error::op(format!("packet socket in {}", self.client), e))?;
        let (client, server) = std::thread::scope(|s| {
            let client = s.spawn(|| topo.ns(self.client)?.run(|| self.connect()));
            let server = self.serve(&listeners, &client);
            (
                client.join().expect("the client thread does not panic"),
                server,
            )
        });
        Ok(Served {
            client: client?,
            server: server?,
            client_saw: capture.drain().map_err(Error::during(format!(
                "reading the capture in {}",
                self.client
            )))?,
        })
    }

    /// The client: connect, send the request, read the reply until the server closes.
    fn connect(&self) -> Received {
        let io = || -> std::io::Result<Vec<u8>> {
            let mut c = TcpStream::connect_timeout(&self.addr.into(), TIMEOUT)?;
            c.set_read_timeout(Some(TIMEOUT))?;
            c.write_all(&self.request)?;
            let mut reply = Vec::new();
            c.read_to_end(&mut reply)?;
            Ok(reply)
        };
        io().map_err(|e| e.kind())
    }

    /// Accepts the first connection on any server, reads the request and answers. Gives up
    /// when the client is done without reaching a server.
    fn serve<T>(
        &self,
        listeners: &[TcpListener],
        client: &std::thread::ScopedJoinHandle<'_, T>,
    ) -> Result<Option<(usize, Received)>> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            for (i, l) in listeners.iter().enumerate() {
                match l.accept() {
                    Ok((mut conn, _)) => {
                        let mut io = || -> std::io::Result<Vec<u8>> {
                            conn.set_nonblocking(false)?;
                            conn.set_read_timeout(Some(TIMEOUT))?;
                            let mut got = vec![0u8; self.request.len()];
                            conn.read_exact(&mut got)?;
                            conn.write_all(&self.replies[i])?;
                            Ok(got)
                        };
                        return Ok(Some((i, io().map_err(|e| e.kind()))));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => return Err(Error::op("accept", e)),
                }
            }
            if client.is_finished() || Instant::now() > deadline {
                return Ok(None);
            }
            std::thread::sleep(ACCEPT_POLL);
        }
    }
}
