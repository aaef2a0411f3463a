//! The host's servers (the engine's socket or pipe, the daemon's command channel, each
//! published TCP port, the vsock bridge) accept through [`berth_listener`], the loop the guest
//! agent shares: at most a given number of connections served at once (the next waits for a
//! free place rather than being taken and starved), and an accept that fails (out of file
//! descriptors, say) backs off, from 50 ms doubling to 1 s, logged once per burst. Here its
//! lines go to `tracing`, and a served path is removed with its server.

use std::future::Future;
use std::path::{Path, PathBuf};

use berth_listener::{Server, WhenFull};
use tokio::task::JoinHandle;

pub use berth_listener::Accept;

#[cfg(windows)]
impl Accept for crate::named_pipe::PipeListener {
    type Conn = tokio::net::windows::named_pipe::NamedPipeServer;

    async fn accept(&mut self) -> std::io::Result<Self::Conn> {
        crate::named_pipe::PipeListener::accept(self).await
    }
}

/// A server at a path (a Unix socket's, or a Windows pipe's name); dropping it stops accepting
/// and removes a socket file.
#[derive(Debug)]
pub struct Served {
    path: PathBuf,
    task: JoinHandle<()>,
}

impl Served {
    /// The socket's path or the pipe's name.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
        #[cfg(unix)]
        let _ = std::fs::remove_file(&self.path);
    }
}

/// [`serve`]s `listener`, bound at `path`, as the server `what` (named with its path in the
/// log), for as long as the returned [`Served`] lives.
pub fn serve_at<A, F, Fut>(path: &Path, listener: A, limit: usize, what: &str, handle: F) -> Served
where
    A: Accept,
    F: Fn(A::Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Served {
        path: path.to_path_buf(),
        task: serve(
            listener,
            limit,
            format!("{what} {}", path.display()),
            handle,
        ),
    }
}

/// Serves `listener` until the returned task is aborted: each connection goes to `handle` on a
/// task of its own, at most `limit` at once (more wait); `what` names the server in the log.
pub fn serve<A, F, Fut>(listener: A, limit: usize, what: String, handle: F) -> JoinHandle<()>
where
    A: Accept,
    F: Fn(A::Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let server = Server {
        what,
        limit,
        when_full: WhenFull::Wait,
        log: warn,
    };
    berth_listener::serve(listener, server, handle)
}

fn warn(line: &str) {
    tracing::warn!("{line}");
}
