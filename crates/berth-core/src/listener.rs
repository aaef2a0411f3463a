//! One accept loop for every server Berth runs on the host (the engine's socket or pipe, the
//! daemon's command channel, each published TCP port): at most a given number of
//! connections served at once (the next waits for a free place rather than being taken and
//! starved), and an accept that fails (out of file descriptors, say) backs off, from 50 ms
//! doubling to 1 s, instead of spinning. Each connection is served on its own task.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// The first wait after a failed accept.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The longest.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Something that hands out connections: a Unix, TCP or named-pipe listener.
pub trait Accept: Send + 'static {
    /// A connection.
    type Conn: Send + 'static;
    /// The next connection.
    fn accept(&mut self) -> impl Future<Output = std::io::Result<Self::Conn>> + Send;
}

#[cfg(unix)]
impl Accept for tokio::net::UnixListener {
    type Conn = tokio::net::UnixStream;

    async fn accept(&mut self) -> std::io::Result<Self::Conn> {
        tokio::net::UnixListener::accept(self)
            .await
            .map(|(stream, _)| stream)
    }
}

impl Accept for tokio::net::TcpListener {
    type Conn = tokio::net::TcpStream;

    async fn accept(&mut self) -> std::io::Result<Self::Conn> {
        tokio::net::TcpListener::accept(self)
            .await
            .map(|(stream, _)| stream)
    }
}

#[cfg(windows)]
impl Accept for crate::named_pipe::PipeListener {
    type Conn = tokio::net::windows::named_pipe::NamedPipeServer;

    async fn accept(&mut self) -> std::io::Result<Self::Conn> {
        crate::named_pipe::PipeListener::accept(self).await
    }
}

/// A server at a path (a Unix socket's, or a Windows pipe's name); dropping it stops accepting
/// and removes a socket file.
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
/// task of its own, at most `limit` at once; `what` names the server in the log.
pub fn serve<A, F, Fut>(mut listener: A, limit: usize, what: String, handle: F) -> JoinHandle<()>
where
    A: Accept,
    F: Fn(A::Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let places = Arc::new(Semaphore::new(limit.max(1)));
    tokio::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let Ok(place) = places.clone().acquire_owned().await else {
                return;
            };
            match listener.accept().await {
                Ok(conn) => {
                    backoff = FIRST_BACKOFF;
                    let served = handle(conn);
                    tokio::spawn(async move {
                        served.await;
                        drop(place);
                    });
                }
                Err(err) => {
                    tracing::warn!("{what}: accept failed ({err}); retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Fails its first `failures` accepts, then hands out one end of a fresh duplex each time.
    struct Flaky {
        failures: usize,
        calls: Arc<AtomicUsize>,
        ends: tokio::sync::mpsc::UnboundedSender<tokio::io::DuplexStream>,
    }

    impl Accept for Flaky {
        type Conn = tokio::io::DuplexStream;

        async fn accept(&mut self) -> std::io::Result<Self::Conn> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            if call < self.failures {
                return Err(std::io::Error::other("out of descriptors"));
            }
            let (near, far) = tokio::io::duplex(64);
            let _ = self.ends.send(far);
            Ok(near)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failed_accepts_back_off_instead_of_spinning() {
        let calls = Arc::new(AtomicUsize::new(0));
        let (ends, _far) = tokio::sync::mpsc::unbounded_channel();
        let listener = Flaky {
            failures: usize::MAX,
            calls: calls.clone(),
            ends,
        };
        let task = serve(listener, 4, "test".into(), |_conn| async {});
        // 50 + 100 + 200 + 400 + 1000 + 1000 ms: six retries in 2.75 s, not thousands.
        tokio::time::sleep(Duration::from_millis(2760)).await;
        let made = calls.load(Ordering::SeqCst);
        assert!((6..=8).contains(&made), "{made} accepts in 2.75 s");
        task.abort();
    }

    #[tokio::test]
    async fn at_most_the_limit_is_served_at_once_and_a_freed_place_is_taken() {
        let calls = Arc::new(AtomicUsize::new(0));
        let (ends, mut far) = tokio::sync::mpsc::unbounded_channel();
        let listener = Flaky {
            failures: 0,
            calls: calls.clone(),
            ends,
        };
        // Each connection is served until its peer writes a byte.
        let task = serve(listener, 2, "test".into(), |mut conn| async move {
            let mut byte = [0u8; 1];
            let _ = conn.read_exact(&mut byte).await;
        });
        let mut first = far.recv().await.expect("first");
        let _second = far.recv().await.expect("second");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2, "a third waits for a place");
        first.write_all(b"x").await.expect("end the first");
        let _third = far.recv().await.expect("the freed place is taken");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        task.abort();
    }
}
