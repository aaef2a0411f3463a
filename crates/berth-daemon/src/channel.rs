//! The daemon's side of the command channel ([`crate::messages`]): a Unix socket in the
//! runtime directory, created 0600 inside the 0700 directory (on Windows a named pipe only the
//! current user may open), served for the daemon's whole life (so `status` and a subscription work while the VM is still starting). At most
//! [`MAX_CLIENTS`] connections at once; a client that does not say hello within
//! [`HELLO_TIMEOUT`], or sends something that is not the protocol, is dropped.

use std::path::Path;
use std::time::Duration;

use berth_core::instance::VmView;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use berth_core::saver::{Power, Saver};

use crate::messages::{DaemonCodec, Reply, Request, CHANNEL_VERSION};

/// Connections served at once; more wait for a free one.
pub const MAX_CLIENTS: usize = 32;
/// How long a client may take to say hello.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// The served channel; stops serving and removes its socket when dropped.
pub type Channel = berth_core::listener::Served;

/// Serves the channel at `path`: views from `views`, stop requests cancel `stop`, holds
/// lease the VM from `saver`.
#[cfg(unix)]
pub fn serve(
    path: &Path,
    views: watch::Receiver<VmView>,
    stop: CancellationToken,
    saver: Saver,
) -> std::io::Result<Channel> {
    use std::os::unix::fs::PermissionsExt;
    // A socket left by a daemon that died: this one holds the instance lock, so it is stale.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(serve_clients(path, listener, views, stop, saver))
}

/// Serves the channel on the named pipe `path` (see [`crate::messages::address`]), which
/// only the current user may open (an explicit security descriptor) and only from this
/// machine; taking its first instance also refuses a pipe another process made first.
#[cfg(windows)]
pub fn serve(
    path: &Path,
    views: watch::Receiver<VmView>,
    stop: CancellationToken,
    saver: Saver,
) -> std::io::Result<Channel> {
    let listener = berth_core::named_pipe::PipeListener::bind(path)?;
    Ok(serve_clients(path, listener, views, stop, saver))
}

/// Serves each client of `listener`, bound at `path` (at most [`MAX_CLIENTS`] at once), on
/// its own task.
fn serve_clients<A>(
    path: &Path,
    listener: A,
    views: watch::Receiver<VmView>,
    stop: CancellationToken,
    saver: Saver,
) -> Channel
where
    A: berth_core::listener::Accept,
    A::Conn: AsyncRead + AsyncWrite + Unpin,
{
    berth_core::listener::serve_at(
        path,
        listener,
        MAX_CLIENTS,
        "command channel",
        move |stream| {
            let (views, stop, saver) = (views.clone(), stop.clone(), saver.clone());
            async move {
                if let Err(e) = handle(stream, views, stop, saver).await {
                    tracing::debug!("channel client: {e}");
                }
            }
        },
    )
}

/// Answers a hold with [`Reply::Awake`] and keeps `_lease` until the client leaves (anything
/// it sends more is not the protocol).
async fn hold<S: AsyncRead + AsyncWrite + Unpin>(
    mut framed: Framed<S, DaemonCodec>,
    _lease: berth_core::saver::Lease,
) -> Result<(), ClientFault> {
    framed.send(Reply::Awake).await?;
    match framed.next().await {
        None => Ok(()),
        Some(Err(e)) => Err(e.into()),
        Some(Ok(_)) => Err(ClientFault::AfterHold),
    }
}

/// How long `berth pause` waits for the pause to be made.
const PAUSE_WAIT: Duration = Duration::from_secs(15);

/// Asks the resource saver for a pause now and waits until it is made or abandoned.
async fn pause(saver: &Saver) -> Reply {
    if !saver.ask_pause_now() {
        return Reply::NotPaused {
            reason: "the VM is in use (an engine connection, a published port's connection, \
                     a shell or logs), or not running"
                .into(),
        };
    }
    let mut power = saver.power();
    let made = tokio::time::timeout(PAUSE_WAIT, async {
        let mut began = false;
        loop {
            match *power.borrow_and_update() {
                Power::Pausing => began = true,
                Power::Paused | Power::Resuming => return true,
                Power::Awake if began => return false,
                Power::Awake => {}
            }
            if power.changed().await.is_err() {
                return false;
            }
        }
    })
    .await;
    match made {
        Ok(true) => Reply::Paused,
        Ok(false) => Reply::NotPaused {
            reason: "the hypervisor refused the pause, or a connection came first (see \
                     berth.log)"
                .into(),
        },
        Err(_) => Reply::NotPaused {
            reason: format!(
                "no pause within {} s: this hypervisor cannot pause the VM (see berth.log)",
                PAUSE_WAIT.as_secs()
            ),
        },
    }
}

/// Why a client was dropped.
#[derive(Debug, thiserror::Error)]
enum ClientFault {
    #[error("no hello within {HELLO_TIMEOUT:?}")]
    NoHello,
    #[error("it spoke first without a hello")]
    NoHelloFirst,
    #[error("it sent a request on a connection that holds the VM awake")]
    AfterHold,
    #[error("channel version {0}, this daemon speaks {CHANNEL_VERSION}")]
    Version(u32),
    #[error(transparent)]
    Protocol(#[from] berth_protocol::ProtocolError),
}

/// One client: the hello, then its requests until it leaves or the daemon exits.
async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    mut views: watch::Receiver<VmView>,
    stop: CancellationToken,
    saver: Saver,
) -> Result<(), ClientFault> {
    let mut framed = Framed::new(stream, DaemonCodec::new());
    match tokio::time::timeout(HELLO_TIMEOUT, framed.next()).await {
        Err(_) => return Err(ClientFault::NoHello),
        Ok(None) => return Ok(()),
        Ok(Some(Err(e))) => return Err(e.into()),
        Ok(Some(Ok(Request::Hello { version }))) if version != CHANNEL_VERSION => {
            let reason = format!(
                "this Berth daemon speaks channel version {CHANNEL_VERSION}, the client {version}: \
                 use the Berth that started it (`berth stop` from it stops it)"
            );
            let _ = framed
                .send(Reply::Refused {
                    version: CHANNEL_VERSION,
                    reason,
                })
                .await;
            return Err(ClientFault::Version(version));
        }
        Ok(Some(Ok(Request::Hello { .. }))) => {}
        Ok(Some(Ok(_))) => return Err(ClientFault::NoHelloFirst),
    }
    framed
        .send(Reply::Hello {
            version: CHANNEL_VERSION,
            pid: std::process::id(),
            daemon_version: env!("CARGO_PKG_VERSION").to_owned(),
        })
        .await?;
    while let Some(request) = framed.next().await {
        match request? {
            Request::Hello { .. } => return Err(ClientFault::NoHelloFirst),
            Request::Status => {
                let view = views.borrow_and_update().clone();
                framed.send(Reply::View { view }).await?;
            }
            Request::Stop => {
                tracing::info!("stop requested on the command channel");
                stop.cancel();
                framed.send(Reply::Stopping).await?;
            }
            Request::Subscribe => {
                let view = views.borrow_and_update().clone();
                framed.send(Reply::View { view }).await?;
                // Until the daemon drops its sender (it exits), or the client leaves.
                while views.changed().await.is_ok() {
                    let view = views.borrow_and_update().clone();
                    framed.send(Reply::View { view }).await?;
                }
                return Ok(());
            }
            Request::Pause => {
                let reply = pause(&saver).await;
                framed.send(reply).await?;
            }
            Request::Hold => return hold(framed, saver.lease().await).await,
            Request::Observe => match saver.passive_lease_if_awake() {
                Some(lease) => return hold(framed, lease).await,
                None => framed.send(Reply::Asleep).await?,
            },
        }
    }
    Ok(())
}
