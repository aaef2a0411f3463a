//! A forwarded TCP port: a host listener whose every connection is relayed over its own vsock
//! data connection ([`DataHeader::Tcp`]) to the engine's proxy on the same port in the guest.
//! Half-close travels through (the relay's chunks carry it), so request/response protocols that
//! end their request with a shutdown work.

use std::net::SocketAddr;
use std::sync::Arc;

use berth_protocol::data::DataHeader;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::Guest;
use crate::agent;

/// Connections one published port relays at once; more wait, so one busy port cannot take
/// every descriptor the daemon has, nor the agent's published-port budget (2048 for all ports).
pub const MAX_CONNECTIONS: usize = 512;

/// A listening forward; dropping it closes the listener (connections already relayed finish on
/// their own: the guest side closes them when the container stops).
pub struct TcpForward {
    task: JoinHandle<()>,
}

impl TcpForward {
    /// Listens on `addr` and relays each connection to `guest_port` through `guest`'s agent,
    /// each holding a lease of its resource saver (a paused VM is resumed first).
    pub async fn bind(
        addr: SocketAddr,
        guest_port: u16,
        guest: Arc<Guest>,
    ) -> std::io::Result<TcpForward> {
        let listener = TcpListener::bind(addr).await?;
        let task = crate::listener::serve(
            listener,
            MAX_CONNECTIONS,
            format!("port {addr}"),
            move |client| relay(client, guest_port, guest.clone()),
        );
        Ok(TcpForward { task })
    }
}

impl Drop for TcpForward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Relays one client connection; a guest that refuses closes the client's connection.
async fn relay(client: TcpStream, guest_port: u16, guest: Arc<Guest>) {
    let _ = client.set_nodelay(true);
    let _lease = guest.saver.lease().await;
    match agent::open_data(&guest.endpoint, DataHeader::Tcp { port: guest_port }).await {
        Ok(stream) => {
            if let Err(err) = berth_protocol::stream::relay(stream, client).await {
                tracing::debug!("port {guest_port}: connection ended: {err}");
            }
        }
        Err(err) => tracing::info!("port {guest_port}: {err}"),
    }
}
