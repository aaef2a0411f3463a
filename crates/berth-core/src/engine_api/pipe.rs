//! Windows: the engine's named pipe ([`crate::paths::Paths::pipe`]`("engine")`, the `berth`
//! context's `npipe://` host), which only the current user may open, from this machine only
//! ([`crate::named_pipe`]). [`DEFAULT_PIPE`], where tools that ignore contexts look, is served
//! too when the user asks and no other engine has it: Berth never takes another engine's pipe.

use std::path::Path;

use super::relay::{Rewrite, Upstream};
use super::{EngineEndpoint, SocketError};
use crate::named_pipe::PipeListener;

/// The Docker engine's default pipe on Windows.
pub const DEFAULT_PIPE: &str = r"\\.\pipe\docker_engine";

/// Serves the pipe `name`, relaying every connection to `upstream`.
pub fn serve(
    name: &Path,
    upstream: impl Upstream,
    rewrite: Rewrite,
) -> Result<EngineEndpoint, SocketError> {
    let listener = PipeListener::bind(name).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            SocketError::InUse(name.to_path_buf())
        } else {
            SocketError::Create {
                path: name.to_path_buf(),
                source,
            }
        }
    })?;
    Ok(super::relay_all(name, listener, upstream, rewrite))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine_api::GuestEngine;

    #[tokio::test]
    async fn a_pipe_another_engine_serves_is_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let name = crate::paths::Paths::under(dir.path()).pipe("other-engine");
        // Another engine's pipe, made as any server makes one (default security).
        let _other = tokio::net::windows::named_pipe::ServerOptions::new()
            .first_pipe_instance(true)
            .create(name.as_os_str())
            .expect("the other engine's pipe");
        let upstream = GuestEngine(crate::agent::AgentAddress::new(
            crate::vsock::Endpoint::HyperV {
                vm_id: "00000000-0000-0000-0000-000000000000".into(),
            },
            berth_protocol::auth::BootSecret::from_bytes([0; 32]),
        ));
        match serve(&name, upstream, Rewrite::nothing()) {
            Err(SocketError::InUse(path)) => assert_eq!(path, name),
            Err(other) => panic!("expected InUse, got {other}"),
            Ok(_) => panic!("another engine's pipe was taken"),
        }
    }
}
