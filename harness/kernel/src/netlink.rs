//! rtnetlink on the calling thread: the one place that holds the runtime and builds the
//! connection that topology, wiring and attachment steps share.

use std::sync::OnceLock;

use futures::TryStreamExt as _;
use tokio::runtime::Runtime;

use crate::error::{Error, Result};

/// The process's one tokio runtime (current-thread): every netlink call blocks on it from its
/// own thread, and a thread that finds it busy waits its turn to drive it.
fn runtime() -> Result<&'static Runtime> {
    // Kept as text: the first failure is the answer for the process.
    static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::op("cannot start the netlink runtime", e.as_str()))
}

/// Runs `f` with an rtnetlink handle bound to the calling thread's namespace.
pub fn with_handle<F, Fut, T>(f: F) -> Result<T>
where
    F: FnOnce(rtnetlink::Handle) -> Fut,
    Fut: std::future::Future<Output = Result<T, rtnetlink::Error>>,
{
    runtime()?.block_on(async {
        // The socket is opened here, on the calling thread, so in its namespace.
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(Error::during("opening a netlink socket"))?;
        let conn = tokio::spawn(conn);
        let out = f(handle).await;
        // Closed before returning: an open socket would keep its namespace (and the veths
        // in it) alive after the namespace is removed.
        conn.abort();
        let _ = conn.await;
        out.map_err(|e| Error::op("netlink", e))
    })
}

/// The ifindex of the interface called `name` in the handle's namespace.
pub(crate) async fn index_of(h: &rtnetlink::Handle, name: &str) -> Result<u32, rtnetlink::Error> {
    let mut links = h.link().get().match_name(name.to_owned()).execute();
    let link = links
        .try_next()
        .await?
        .ok_or(rtnetlink::Error::RequestFailed)?;
    Ok(link.header.index)
}
