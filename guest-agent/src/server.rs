//! The vsock listeners: control and data ports, accepting only the host (CID 2) and bounding
//! concurrent connections. Every connection writes through [`CappedWrites`].

use std::sync::Arc;

use berth_protocol::{CONTROL_PORT, DATA_PORT, HOST_CID};
use tokio::sync::Semaphore;
use tokio_vsock::{VsockAddr, VsockListener, VMADDR_CID_ANY};

use crate::state::Shared;
use crate::vsock_io::CappedWrites;
use crate::{console, control, relay};

/// Most data connections relayed at once; further ones wait for a slot.
pub const MAX_DATA_CONNECTIONS: usize = 512;
/// Most control connections at once.
pub const MAX_CONTROL_CONNECTIONS: usize = 16;

/// Binds both ports and serves them in background tasks.
pub fn start(shared: Arc<Shared>, reaper: crate::reaper::Reaper) -> std::io::Result<()> {
    let control = VsockListener::bind(VsockAddr::new(VMADDR_CID_ANY, CONTROL_PORT))?;
    let data = VsockListener::bind(VsockAddr::new(VMADDR_CID_ANY, DATA_PORT))?;
    serve(control, MAX_CONTROL_CONNECTIONS, move |stream| {
        let shared = shared.clone();
        async move { control::serve(stream, shared).await }
    });
    serve(data, MAX_DATA_CONNECTIONS, move |stream| {
        let reaper = reaper.clone();
        async move { relay::serve(stream, &reaper).await }
    });
    Ok(())
}

/// Accepts host connections on `listener`, at most `limit` at once, each handled by its own
/// task running `handle`.
fn serve<F, Fut>(listener: VsockListener, limit: usize, handle: F)
where
    F: Fn(CappedWrites<tokio_vsock::VsockStream>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limit));
    tokio::spawn(async move {
        loop {
            let Some((stream, permit)) = accept(&listener, &slots).await else {
                continue;
            };
            let connection = handle(CappedWrites(stream));
            tokio::spawn(async move {
                connection.await;
                drop(permit);
            });
        }
    });
}

/// Accepts one connection from the host once a slot is free; others are dropped.
async fn accept(
    listener: &VsockListener,
    slots: &Arc<Semaphore>,
) -> Option<(tokio_vsock::VsockStream, tokio::sync::OwnedSemaphorePermit)> {
    let permit = slots.clone().acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((stream, peer)) if peer.cid() == HOST_CID => Some((stream, permit)),
        Ok((_, peer)) => {
            console::line(&format!(
                "vsock: refused a connection from CID {}",
                peer.cid()
            ));
            None
        }
        Err(err) => {
            console::line(&format!("vsock: accept failed: {err}"));
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            None
        }
    }
}
