//! rtnetlink on the calling thread: the one place that builds the runtime and connection that
//! topology, wiring and attachment steps share.

use futures::TryStreamExt as _;

use crate::error::{Error, Result};

/// Runs `f` with an rtnetlink handle bound to the calling thread's namespace.
pub fn with_handle<F, Fut, T>(f: F) -> Result<T>
where
    F: FnOnce(rtnetlink::Handle) -> Fut,
    Fut: std::future::Future<Output = Result<T, rtnetlink::Error>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::during("starting the netlink runtime"))?;
    rt.block_on(async {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(Error::during("opening a netlink socket"))?;
        tokio::spawn(conn);
        f(handle).await.map_err(|e| Error::op("netlink", e))
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
