//! Unix: the engine's socket (`$XDG_RUNTIME_DIR/berth/docker.sock`), the user's only: mode
//! 0600 in a 0700 directory. A socket left by a dead instance is replaced; one a live instance
//! answers on is an error naming it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tokio::net::{UnixListener, UnixStream};

use super::relay::{Rewrite, Upstream};
use super::{EngineEndpoint, SocketError};

/// Listens on `path` and relays every connection to `upstream`.
pub async fn serve(
    path: &Path,
    upstream: impl Upstream,
    rewrite: Rewrite,
) -> Result<EngineEndpoint, SocketError> {
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
    Ok(super::relay_all(path, listener, upstream, rewrite))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine_api::GuestEngine;
    use std::os::unix::fs::MetadataExt;

    fn nowhere(dir: &Path) -> GuestEngine {
        GuestEngine(crate::agent::AgentAddress::new(
            dir.join("none.sock"),
            berth_protocol::auth::BootSecret::from_bytes([0; 32]),
        ))
    }

    #[tokio::test]
    async fn socket_and_directory_are_private_and_a_live_one_is_not_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("berth").join("docker.sock");
        let socket = serve(&path, nowhere(dir.path()), Rewrite::nothing())
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

        let err = serve(&path, nowhere(dir.path()), Rewrite::nothing()).await;
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
        let _socket = serve(&path, nowhere(dir.path()), Rewrite::nothing())
            .await
            .expect("recovered");
    }
}
