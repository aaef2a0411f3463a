//! The vsock listeners: control and data ports, accepting only the host (CID 2) and bounding
//! concurrent connections, through the accept loop the host's servers use too
//! ([`berth_listener`]: failed accepts back off, logged once per burst). Every connection must
//! start with this boot's secret ([`berth_protocol::auth`]; any host process is CID 2 with
//! kernel vsock) and writes through [`CappedWrites`].

use std::sync::Arc;
use std::time::Duration;

use berth_listener::{Accept, Server, WhenFull};
use berth_protocol::auth::{read_preamble, BootSecret};
use berth_protocol::data::{write_reply, DataReply};
use berth_protocol::frame::AgentCodec;
use berth_protocol::message::AgentToHost;
use berth_protocol::{CONTROL_PORT, DATA_PORT, HOST_CID};
use futures_util::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;
use tokio_vsock::{VsockListener, VMADDR_CID_ANY};

use crate::state::Shared;
use crate::vsock_io::CappedWrites;
use crate::{control, relay};

/// How long a new connection may take to send its preamble.
const PREAMBLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Most data connections at once; further ones wait for a slot. Each kind also has its own
/// budget ([`relay::Budgets`]), checked once its header is read.
pub const MAX_DATA_CONNECTIONS: usize = relay::ENGINE_BUDGET + relay::PORTS_BUDGET + 64;
/// Most control connections at once.
pub const MAX_CONTROL_CONNECTIONS: usize = 16;

/// Binds both ports and serves them in background tasks; without a `secret` (no boot channel)
/// every connection is refused.
pub fn start(
    shared: Arc<Shared>,
    reaper: crate::reaper::Reaper,
    secret: Option<BootSecret>,
) -> std::io::Result<()> {
    let control = bind(CONTROL_PORT)?;
    let data = bind(DATA_PORT)?;
    let secret = Arc::new(secret);
    let control_secret = secret.clone();
    serve(
        control,
        CONTROL_PORT,
        MAX_CONTROL_CONNECTIONS,
        move |mut stream| {
            let (shared, secret) = (shared.clone(), control_secret.clone());
            async move {
                match admit(&mut stream, secret.as_ref().as_ref()).await {
                    Ok(()) => control::serve(stream, shared).await,
                    Err(reason) => {
                        refused(CONTROL_PORT, &reason);
                        let mut framed = Framed::new(stream, AgentCodec::new());
                        let _ = framed.send(AgentToHost::Refused { reason }).await;
                    }
                }
            }
        },
    );
    let budgets = relay::Budgets::default();
    serve(data, DATA_PORT, MAX_DATA_CONNECTIONS, move |mut stream| {
        let (reaper, secret, budgets) = (reaper.clone(), secret.clone(), budgets.clone());
        async move {
            match admit(&mut stream, secret.as_ref().as_ref()).await {
                Ok(()) => relay::serve(stream, &reaper, &budgets).await,
                Err(reason) => {
                    refused(DATA_PORT, &reason);
                    let _ = write_reply(&mut stream, &DataReply::Refused { reason }).await;
                }
            }
        }
    });
    Ok(())
}

/// A listener on `port` of any of the guest's CIDs, queueing as many connections as the kernel
/// allows (`net.core.somaxconn`, 4096 by default) before the agent accepts them. The vsock
/// crates listen with 128, and a full queue resets the next connection: a crowd on a published
/// port (hundreds of connections at once, accepted by a guest slowed by TCG) filled it for
/// seconds, and `docker ps` meanwhile was refused. (`Backlog::new` refuses more than musl's
/// `SOMAXCONN`, 128: the kernel's own cap is asked for with -1.)
fn bind(port: u32) -> std::io::Result<VsockListener> {
    use nix::sys::socket::{
        bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType, VsockAddr,
    };
    use std::os::fd::AsRawFd;
    let fd = socket(
        AddressFamily::Vsock,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    bind(fd.as_raw_fd(), &VsockAddr::new(VMADDR_CID_ANY, port))?;
    listen(&fd, Backlog::MAXALLOWABLE)?;
    Ok(VsockListener::from(fd))
}

/// Reads and checks a connection's preamble: `Err` says why it is refused.
async fn admit<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    secret: Option<&BootSecret>,
) -> Result<(), String> {
    let Some(secret) = secret else {
        return Err(
            "the agent got no boot secret at boot, so it serves no one: restart the VM with Berth"
                .into(),
        );
    };
    match tokio::time::timeout(PREAMBLE_TIMEOUT, read_preamble(stream)).await {
        Ok(Ok(preamble)) if secret.matches(&preamble) => Ok(()),
        Ok(Ok(_)) => Err("the connection did not start with this boot's secret".into()),
        Ok(Err(err)) => Err(format!("the connection ended before its secret ({err})")),
        Err(_) => Err(format!("no secret within {} s", PREAMBLE_TIMEOUT.as_secs())),
    }
}

fn refused(port: u32, reason: &str) {
    tracing::warn!("vsock: refused a connection to port {port}: {reason}");
}

/// The vsock listener, handing out the host's connections only: others are closed and logged.
struct HostOnly(VsockListener);

impl Accept for HostOnly {
    type Conn = tokio_vsock::VsockStream;

    async fn accept(&mut self) -> std::io::Result<Self::Conn> {
        loop {
            let (stream, peer) = self.0.accept().await?;
            if peer.cid() == HOST_CID {
                return Ok(stream);
            }
            tracing::warn!("vsock: refused a connection from CID {}", peer.cid());
        }
    }
}

/// Accepts host connections on `listener` through [`berth_listener`] (at most `limit` at once,
/// more wait; a failed accept backs off from 50 ms to 1 s and is logged once per burst), each
/// handled by its own task running `handle`.
fn serve<F, Fut>(listener: VsockListener, port: u32, limit: usize, handle: F)
where
    F: Fn(CappedWrites<tokio_vsock::VsockStream>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let server = Server {
        what: format!("vsock port {port}"),
        limit,
        when_full: WhenFull::Wait,
        log: |line| tracing::warn!("{line}"),
    };
    berth_listener::serve(HostOnly(listener), server, move |stream| {
        handle(CappedWrites(stream))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn only_this_boots_secret_is_admitted() {
        let secret = BootSecret::from_bytes([4; 32]);
        let (mut host, mut agent) = tokio::io::duplex(64);
        host.write_all(&[4; 32]).await.expect("write");
        assert_eq!(admit(&mut agent, Some(&secret)).await, Ok(()));

        host.write_all(&[5; 32]).await.expect("write");
        let refused = admit(&mut agent, Some(&secret)).await.expect_err("wrong");
        assert!(refused.contains("this boot's secret"), "{refused}");

        let (_other_host, mut other) = tokio::io::duplex(64);
        let refused = admit(&mut other, None).await.expect_err("no secret");
        assert!(refused.contains("no boot secret"), "{refused}");

        host.write_all(&[4; 8]).await.expect("write");
        drop(host);
        let refused = admit(&mut agent, Some(&secret)).await.expect_err("short");
        assert!(refused.contains("ended before"), "{refused}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_is_dropped_after_the_timeout() {
        let secret = BootSecret::from_bytes([4; 32]);
        let (_host, mut agent) = tokio::io::duplex(64);
        let refused = admit(&mut agent, Some(&secret)).await.expect_err("silent");
        assert!(refused.contains("no secret within 5 s"), "{refused}");
    }
}
