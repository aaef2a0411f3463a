//! Hybrid vsock, for hosts without kernel vhost-vsock: `vhost-device-vsock` serves QEMU's
//! `vhost-user-vsock-pci` device and exposes the guest's ports on a Unix socket. To reach guest
//! port P the host connects to that socket, writes `CONNECT P\n` and reads `OK <n>\n`; the
//! stream then carries the connection.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::{VsockError, GUEST_CID};

/// Longest `OK …` answer accepted.
#[cfg(unix)]
const MAX_REPLY: usize = 64;
/// How long the `CONNECT`/`OK` exchange may take: a stuck backend is an error, not a hang.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The vsock device's sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VsockPaths {
    /// The vhost-user socket QEMU connects to.
    pub backend: PathBuf,
    /// The hybrid vsock socket the host connects to.
    pub uds: PathBuf,
}

impl VsockPaths {
    /// Where vhost-device-vsock's messages go, beside its sockets.
    pub fn log(&self) -> PathBuf {
        self.uds
            .with_file_name(crate::paths::run_dir::VHOST_DEVICE_VSOCK_LOG)
    }

    /// The sockets inside `run_dir`.
    pub fn in_dir(run_dir: &Path) -> VsockPaths {
        VsockPaths {
            backend: run_dir.join(crate::paths::run_dir::VHOST_VSOCK_SOCKET),
            uds: run_dir.join(crate::paths::run_dir::VSOCK_SOCKET),
        }
    }
}

/// Finds a helper binary: in an installed Berth's helper directory
/// ([`crate::install::Layout`]) first, so a package runs the helpers it was built with, then
/// on `PATH`, then in `~/.cargo/bin` (where the development set-up installs them).
pub fn find_helper(name: &str) -> Option<PathBuf> {
    crate::install::helper_dirs(
        crate::install::Layout::current().as_ref(),
        std::env::var_os("PATH").as_deref(),
        std::env::var_os("HOME").as_deref().map(Path::new),
    )
    .into_iter()
    .map(|d| d.join(name))
    .find(|p| p.is_file())
}

/// Starts vhost-device-vsock for `paths` and waits until its socket exists.
pub async fn start_backend(paths: &VsockPaths) -> Result<Child, VsockError> {
    let binary = find_helper("vhost-device-vsock").ok_or(VsockError::BackendMissing)?;
    for stale in [&paths.backend, &paths.uds] {
        let _ = std::fs::remove_file(stale);
    }
    // Its log goes to a file: a pipe nobody reads could fill and stall it.
    let log = paths.log();
    let stderr = std::fs::File::create(&log)
        .map_err(|e| VsockError::BackendFailed(format!("cannot create {}: {e}", log.display())))?;
    let mut command = Command::new(binary);
    crate::child::isolate(&mut command);
    let mut child = command
        .arg("--guest-cid")
        .arg(GUEST_CID.to_string())
        .arg("--socket")
        .arg(&paths.backend)
        .arg("--uds-path")
        .arg(&paths.uds)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| VsockError::BackendFailed(e.to_string()))?;
    for _ in 0..500 {
        if paths.backend.exists() {
            return Ok(child);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(VsockError::BackendFailed(format!(
                "{status}: {}",
                crate::child::read_tail(&log).await
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(VsockError::BackendFailed(
        "its socket did not appear within 5 s".into(),
    ))
}

/// Connects to guest vsock `port` through the hybrid socket at `uds`.
#[cfg(unix)]
pub async fn connect_hybrid(uds: &Path, port: u32) -> Result<tokio::net::UnixStream, VsockError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixStream;
    let mut stream = UnixStream::connect(uds)
        .await
        .map_err(|source| VsockError::Connect {
            path: uds.to_path_buf(),
            source,
        })?;
    let io_err = |source| VsockError::Connect {
        path: uds.to_path_buf(),
        source,
    };
    let handshake = async {
        stream
            .write_all(format!("CONNECT {port}\n").as_bytes())
            .await
            .map_err(io_err)?;
        // Read the answer a byte at a time: what follows the newline belongs to the caller.
        let mut answer = Vec::new();
        loop {
            let mut byte = [0u8; 1];
            let n = stream.read(&mut byte).await.map_err(io_err)?;
            if n == 0 || byte[0] == b'\n' || answer.len() >= MAX_REPLY {
                break;
            }
            answer.push(byte[0]);
        }
        Ok(answer)
    };
    let answer = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| VsockError::Handshake {
            port,
            after: HANDSHAKE_TIMEOUT,
        })??;
    match check_reply(&answer) {
        Ok(()) => Ok(stream),
        Err(answer) => Err(VsockError::Refused { port, answer }),
    }
}

/// Reads the backend's answer to `CONNECT` (without its newline): `OK <port>` accepts; any
/// other answer is refused and returned as text for the error (public for the fuzz targets).
pub fn check_reply(answer: &[u8]) -> Result<(), String> {
    let answer = String::from_utf8_lossy(answer);
    if answer.starts_with("OK ") {
        Ok(())
    } else {
        Err(answer.into_owned())
    }
}

/// Hybrid vsock is a Unix socket protocol.
#[cfg(not(unix))]
pub async fn connect_hybrid(
    _uds: &Path,
    _port: u32,
) -> Result<std::convert::Infallible, VsockError> {
    Err(VsockError::HybridUnsupported)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::UnixListener;

    /// A stand-in for vhost-device-vsock's hybrid socket: answers `CONNECT` and then echoes.
    async fn fake_backend(path: PathBuf, answer: &'static str) {
        let listener = UnixListener::bind(&path).expect("bind");
        let (stream, _) = listener.accept().await.expect("accept");
        let mut stream = BufReader::new(stream);
        let mut line = String::new();
        stream.read_line(&mut line).await.expect("read");
        assert_eq!(line, "CONNECT 1024\n");
        let mut stream = stream.into_inner();
        stream.write_all(answer.as_bytes()).await.expect("answer");
        let mut buf = [0u8; 5];
        if stream.read_exact(&mut buf).await.is_ok() {
            stream.write_all(&buf).await.expect("echo");
        }
    }

    #[tokio::test]
    async fn connect_speaks_the_hybrid_handshake_and_keeps_following_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vsock.sock");
        let server = tokio::spawn(fake_backend(path.clone(), "OK 1073741824\nhello"));
        while !path.exists() {
            tokio::task::yield_now().await;
        }
        let mut stream = connect_hybrid(&path, 1024).await.expect("connect");
        let mut first = [0u8; 5];
        stream.read_exact(&mut first).await.expect("read");
        assert_eq!(&first, b"hello");
        stream.write_all(b"again").await.expect("write");
        stream.read_exact(&mut first).await.expect("echo");
        assert_eq!(&first, b"again");
        server.await.expect("server");
    }

    #[tokio::test]
    async fn a_refusal_names_the_port() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vsock.sock");
        tokio::spawn(fake_backend(path.clone(), "FAILED\n"));
        while !path.exists() {
            tokio::task::yield_now().await;
        }
        let err = connect_hybrid(&path, 1024).await.expect_err("refused");
        assert!(err.to_string().contains("1024"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_backend_that_never_answers_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vsock.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        // Accepts, reads the request, says nothing.
        let _silent = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink).await;
        });
        let err = connect_hybrid(&path, 1025).await.expect_err("timed out");
        assert!(
            matches!(err, VsockError::Handshake { port: 1025, .. }),
            "{err}"
        );
    }
}
