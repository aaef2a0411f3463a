//! A Unix socket that speaks the hybrid vsock protocol (`CONNECT <port>\n` → `OK <port>\n`) in
//! front of a transport only one process can use. Virtualization.framework's virtio socket
//! device belongs to the process that runs the VM: the supervisor serves this bridge in the
//! runtime directory, and every other process (`berth status`, `berth shell`, the app) reaches
//! guest ports through it with [`super::connect_hybrid`], exactly as with vhost-device-vsock.
//!
//! The socket is the user's only (0600, in the 0700 runtime directory).

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use super::{GuestStream, VsockError};
use crate::listener::{serve_at, Served};

/// Longest `CONNECT …` line accepted.
const MAX_REQUEST: usize = 32;
/// How long a client may take to send its `CONNECT …` line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections bridged at once; more wait. Above what the agent serves at once (2,368 data and
/// 16 control connections), so the bridge is never the narrower limit, while the descriptors
/// its clients hold stay bounded.
pub const MAX_CONNECTIONS: usize = 2400;

/// A served bridge; dropping it stops accepting and removes the socket.
#[derive(Debug)]
pub struct Bridge {
    served: Served,
}

impl Bridge {
    /// Listens on `path`; each `CONNECT <port>` is answered by `connect(port)` and the two
    /// streams are joined until both directions end. Accepts go through
    /// [`crate::listener`]: at most [`MAX_CONNECTIONS`] at once, backoff on failures.
    pub fn serve<F, Fut>(path: &Path, connect: F) -> std::io::Result<Bridge>
    where
        F: Fn(u32) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<GuestStream, VsockError>> + Send + 'static,
    {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        let connect = Arc::new(connect);
        let served = serve_at(
            path,
            listener,
            MAX_CONNECTIONS,
            "vsock bridge",
            move |client| {
                let connect = connect.clone();
                async move {
                    if let Err(err) = bridge_one(client, |port| connect(port)).await {
                        tracing::debug!("vsock bridge connection ended: {err}");
                    }
                }
            },
        );
        Ok(Bridge { served })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        self.served.path()
    }
}

/// Parses a client's `CONNECT <port>` line (without its newline; public for the fuzz targets).
pub fn parse_request(line: &[u8]) -> Option<u32> {
    let line = std::str::from_utf8(line).ok()?;
    line.strip_prefix("CONNECT ")?.trim_end().parse().ok()
}

async fn bridge_one<F, Fut>(mut client: UnixStream, connect: F) -> std::io::Result<()>
where
    F: FnOnce(u32) -> Fut,
    Fut: Future<Output = Result<GuestStream, VsockError>>,
{
    let line = match tokio::time::timeout(REQUEST_TIMEOUT, read_request(&mut client)).await {
        Ok(Ok(Some(line))) => line,
        Ok(Ok(None)) => {
            client.write_all(b"FAILED request too long\n").await?;
            return Ok(());
        }
        Ok(Err(err)) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
        Ok(Err(err)) => return Err(err),
        Err(_) => {
            client.write_all(b"FAILED no request in time\n").await?;
            return Ok(());
        }
    };
    let Some(port) = parse_request(&line) else {
        client
            .write_all(b"FAILED expected CONNECT <port>\n")
            .await?;
        return Ok(());
    };
    let mut guest = match connect(port).await {
        Ok(guest) => guest,
        Err(err) => {
            // Hybrid clients read a short answer; the whole reason goes to the log.
            tracing::debug!("vsock bridge: port {port}: {err}");
            let reason = match err {
                VsockError::VirtioSocket { reason, .. } => reason,
                other => other.to_string(),
            };
            let reason: String = reason.replace('\n', " ").chars().take(48).collect();
            client
                .write_all(format!("FAILED {reason}\n").as_bytes())
                .await?;
            return Ok(());
        }
    };
    client.write_all(format!("OK {port}\n").as_bytes()).await?;
    tokio::io::copy_bidirectional(&mut client, &mut guest).await?;
    Ok(())
}

/// The request line, without its newline; `None` when it is too long.
async fn read_request(client: &mut UnixStream) -> std::io::Result<Option<Vec<u8>>> {
    // One byte at a time: what follows the newline is the caller's first payload.
    let mut line = Vec::new();
    loop {
        let byte = client.read_u8().await?;
        if byte == b'\n' {
            return Ok(Some(line));
        }
        if line.len() >= MAX_REQUEST {
            return Ok(None);
        }
        line.push(byte);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vsock::connect_hybrid;

    /// A guest port that echoes, on one end of a socket pair.
    fn echo_port() -> GuestStream {
        let (host, mut guest) = UnixStream::pair().expect("pair");
        tokio::spawn(async move {
            let (mut read, mut write) = guest.split();
            let _ = tokio::io::copy(&mut read, &mut write).await;
            let _ = write.shutdown().await;
        });
        GuestStream::Unix(host)
    }

    #[test]
    fn requests_parse_strictly() {
        assert_eq!(parse_request(b"CONNECT 1024"), Some(1024));
        assert_eq!(parse_request(b"CONNECT 1024\r"), Some(1024));
        assert_eq!(parse_request(b"CONNECT -1"), None);
        assert_eq!(parse_request(b"connect 1024"), None);
        assert_eq!(parse_request(b"CONNECT 99999999999"), None);
        assert_eq!(parse_request(b"\xff\xfe"), None);
    }

    #[tokio::test]
    async fn hybrid_clients_reach_the_connector_with_half_close() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vsock.sock");
        let bridge = Bridge::serve(&path, |port| async move {
            if port == 1024 {
                Ok(echo_port())
            } else {
                Err(VsockError::VirtioSocket {
                    port,
                    reason: "nothing listens".into(),
                })
            }
        })
        .expect("serve");
        let mode = std::fs::metadata(&path)
            .expect("socket")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let mut stream = connect_hybrid(&path, 1024).await.expect("connect");
        stream.write_all(b"ping").await.expect("write");
        stream.shutdown().await.expect("half-close");
        let mut echoed = Vec::new();
        stream.read_to_end(&mut echoed).await.expect("read");
        assert_eq!(echoed, b"ping");

        let err = connect_hybrid(&path, 2000).await.expect_err("refused");
        assert!(
            matches!(&err, VsockError::Refused { port: 2000, answer } if answer.contains("nothing listens")),
            "{err}"
        );
        drop(bridge);
        assert!(!path.exists());
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_silent_past_the_timeout_is_answered_and_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vsock.sock");
        let _bridge = Bridge::serve(&path, |_port| async { Ok(echo_port()) }).expect("serve");
        let mut stream = UnixStream::connect(&path).await.expect("connect");
        stream.write_all(b"CONN").await.expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        assert_eq!(answer, "FAILED no request in time\n");
    }

    #[tokio::test]
    async fn garbage_is_refused_without_calling_the_connector() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vsock.sock");
        let called = Arc::new(AtomicBool::new(false));
        let flag = called.clone();
        let _bridge = Bridge::serve(&path, move |port| {
            flag.store(true, Ordering::SeqCst);
            async move {
                Err(VsockError::VirtioSocket {
                    port,
                    reason: "unexpected".into(),
                })
            }
        })
        .expect("serve");
        let mut stream = UnixStream::connect(&path).await.expect("connect");
        stream
            .write_all(&[b'x'; MAX_REQUEST + 1])
            .await
            .expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        assert!(answer.starts_with("FAILED"), "{answer}");
        assert!(!called.load(Ordering::SeqCst));
    }
}
