//! The engine socket on the host (`$XDG_RUNTIME_DIR/berth/docker.sock`): each client connection
//! is relayed over its own vsock data connection to the engine in the guest, so the stock
//! `docker` CLI, compose and SDKs work unchanged — hijacked connections (`run -it`, `attach`,
//! `logs -f`, `events`) included, since the relay carries half-close.
//!
//! The socket is the user's only: mode 0600 in a 0700 directory. A socket left by a dead
//! instance is replaced; one a live instance answers on is an error naming it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use berth_protocol::data::DataHeader;
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

use crate::agent;
use crate::vsock::Endpoint;

/// Why the socket could not be served.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// Another live process answers on the path.
    #[error("{0} is in use by another running Berth (or another engine); stop it first")]
    InUse(PathBuf),
    /// Creating the directory or the socket failed.
    #[error("cannot create {path}: {source}")]
    Create {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A served engine socket; dropping it stops accepting and removes the socket file.
pub struct EngineSocket {
    path: PathBuf,
    task: JoinHandle<()>,
}

impl EngineSocket {
    /// Listens on `path` and relays every connection to the engine through the agent reachable
    /// at `endpoint`.
    pub async fn serve(
        path: &Path,
        endpoint: impl Into<Endpoint>,
    ) -> Result<EngineSocket, SocketError> {
        let endpoint = endpoint.into();
        let create = |source| SocketError::Create {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            crate::paths::ensure_private_dir(dir).map_err(create)?;
        }
        if path.exists() {
            if UnixStream::connect(path).await.is_ok() {
                return Err(SocketError::InUse(path.to_path_buf()));
            }
            std::fs::remove_file(path).map_err(create)?;
        }
        let listener = UnixListener::bind(path).map_err(create)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(create)?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let endpoint = endpoint.clone();
                tokio::spawn(async move {
                    match agent::open_data(endpoint, DataHeader::EngineApi).await {
                        Ok(stream) => {
                            if let Err(err) = berth_protocol::stream::relay(stream, client).await {
                                tracing::debug!("engine connection ended: {err}");
                            }
                        }
                        // The client sees its connection close; the reason goes to the log.
                        Err(err) => tracing::warn!("cannot reach the engine: {err}"),
                    }
                });
            }
        });
        Ok(EngineSocket {
            path: path.to_path_buf(),
            task,
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for EngineSocket {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[tokio::test]
    async fn socket_and_directory_are_private_and_a_live_one_is_not_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("berth").join("docker.sock");
        let socket = EngineSocket::serve(&path, dir.path().join("none.sock"))
            .await
            .expect("serve");
        assert_eq!(
            std::fs::metadata(&path).expect("socket").mode() & 0o777,
            0o600
        );
        let parent = path.parent().expect("parent");
        assert_eq!(
            std::fs::metadata(parent).expect("dir").mode() & 0o777,
            0o700
        );

        let err = EngineSocket::serve(&path, dir.path().join("none.sock")).await;
        assert!(
            matches!(err, Err(SocketError::InUse(_))),
            "a live socket must not be replaced"
        );
        drop(socket);
        assert!(
            !path.exists(),
            "the socket is removed when the server stops"
        );
    }

    #[tokio::test]
    async fn a_stale_socket_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("docker.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).expect("stale"));
        assert!(path.exists());
        let _socket = EngineSocket::serve(&path, dir.path().join("none.sock"))
            .await
            .expect("recovered");
    }
}
