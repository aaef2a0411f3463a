//! The engine's API on the host: where the stock `docker` CLI, compose and the SDKs reach the
//! engine in the guest. One relay serves every OS ([`relay`]: HTTP through hyper, one data
//! connection to the engine per client connection, upgrades become byte relays); only the
//! listener differs:
//!
//! - [`socket`] (Unix): `$XDG_RUNTIME_DIR/berth/docker.sock`, 0600 in a 0700 directory, and
//!   on request the default `/var/run/docker.sock` a link to it ([`default_socket`], set up
//!   once by the administrator; never another engine's);
//! - `pipe` (Windows): the named pipe [`crate::paths::Paths::pipe`]`("engine")`, which only
//!   the current user may open, and on request also the default `\\.\pipe\docker_engine`
//!   when no other engine serves it.
//!
//! On Windows the relay also translates host paths in container creates ([`binds`]); on Linux
//! and macOS it reports binds of host paths outside every shared folder ([`unshared`]). On
//! every OS it refuses a create publishing more ports than the VM can bear ([`published`]).
//! Served through [`Waking`], every client connection holds the resource saver's lease
//! ([`crate::saver`]): it resumes a paused VM and keeps it from pausing while open.

pub mod binds;
#[cfg(unix)]
pub mod default_socket;
pub mod get;
pub mod lines;
#[cfg(windows)]
pub mod pipe;
pub mod published;
pub mod relay;
#[cfg(unix)]
pub mod socket;
#[cfg(test)]
mod tests;
pub mod unshared;

use std::path::{Path, PathBuf};

use crate::listener::{Accept, Served};

pub use relay::{Binds, GuestEngine, Rewrite, Upstream, Waking};

/// Client connections served at once (each holds a data connection to the engine); more wait.
pub const MAX_CONNECTIONS: usize = 256;

/// Why the engine's endpoint could not be served.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// Another live process answers on the path.
    #[error("{0} is in use by another running Berth (or another engine); stop it first")]
    InUse(PathBuf),
    /// Creating the directory, the socket or the pipe failed.
    #[error("cannot create {path}: {source}")]
    Create {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A served endpoint; dropping it stops accepting (and removes a socket file).
pub type EngineEndpoint = crate::listener::Served;

/// Relays every connection `listener` (bound at `path`) accepts to `upstream`.
fn relay_all<A>(path: &Path, listener: A, upstream: impl Upstream, rewrite: Rewrite) -> Served
where
    A: Accept,
    A::Conn: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    crate::listener::serve_at(
        path,
        listener,
        MAX_CONNECTIONS,
        "engine API",
        move |client| relay::serve(client, upstream.clone(), rewrite.clone()),
    )
}

/// Serves the engine at `path` (a socket on Unix, a pipe name on Windows), each connection
/// relayed to `upstream` with this OS's [`Rewrite`] for the VM's `shared_folders` and
/// `memory_mib`.
pub async fn serve(
    path: &Path,
    upstream: impl Upstream,
    shared_folders: &[PathBuf],
    memory_mib: u32,
) -> Result<EngineEndpoint, SocketError> {
    let rewrite = Rewrite::for_this_os(shared_folders, memory_mib);
    #[cfg(unix)]
    return socket::serve(path, upstream, rewrite).await;
    #[cfg(windows)]
    return pipe::serve(path, upstream, rewrite);
}

/// Windows: serves the engine also where tools that ignore docker contexts look,
/// `pipe::DEFAULT_PIPE`, when no other engine serves it ([`SocketError::InUse`] when another
/// engine has it: it is left alone). On Linux and macOS the default socket is a link to the
/// engine socket instead ([`default_socket`]).
#[cfg(windows)]
pub async fn serve_default(
    upstream: impl Upstream,
    shared_folders: &[PathBuf],
    memory_mib: u32,
) -> Result<EngineEndpoint, SocketError> {
    pipe::serve(
        Path::new(pipe::DEFAULT_PIPE),
        upstream,
        Rewrite::for_this_os(shared_folders, memory_mib),
    )
}
