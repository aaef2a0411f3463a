//! The accept loop: [`serve`] a listener as a [`Server`].

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use crate::{Backoff, Burst, REPORT_PERIOD};

/// Something that hands out connections: a Unix or TCP listener here, a named pipe or a vsock
/// listener where those live.
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

/// What happens to a connection once the limit is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// It is not accepted until a place is free (it waits in the listen queue).
    Wait,
    /// It is accepted and closed at once, so its client can try elsewhere.
    Refuse,
}

/// How a listener is served.
#[derive(Debug, Clone)]
pub struct Server {
    /// The server's name in the log.
    pub what: String,
    /// Most connections served at once (at least one).
    pub limit: usize,
    /// What happens past the limit.
    pub when_full: WhenFull,
    /// Where log lines go (the host's `tracing`, the agent's console).
    pub log: fn(&str),
}

/// Serves `listener` until the returned task is aborted: each connection goes to `handle` on a
/// task of its own, within the server's limit. A failed accept is retried after a
/// [`Backoff`]; failures and refusals are logged once per burst.
pub fn serve<A, F, Fut>(mut listener: A, server: Server, handle: F) -> JoinHandle<()>
where
    A: Accept,
    F: Fn(A::Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Server {
        what,
        limit,
        when_full,
        log,
    } = server;
    let limit = limit.max(1);
    let places = Arc::new(Semaphore::new(limit));
    tokio::spawn(async move {
        let mut backoff = Backoff::default();
        let mut failures = Burst::new(REPORT_PERIOD);
        let mut refusals = Burst::new(REPORT_PERIOD);
        loop {
            let waited = match when_full {
                WhenFull::Wait => match places.clone().acquire_owned().await {
                    Ok(place) => Some(place),
                    Err(_) => return,
                },
                WhenFull::Refuse => None,
            };
            let conn = match listener.accept().await {
                Ok(conn) => conn,
                Err(err) => {
                    if let Some(line) = failures.line(
                        || format!("{what}: accept failed ({err}); retrying, 50 ms to 1 s apart"),
                        |count, secs| {
                            format!("{what}: accept failed {count} more times in {secs} s (last: {err})")
                        },
                    ) {
                        log(&line);
                    }
                    tokio::time::sleep(backoff.failed()).await;
                    continue;
                }
            };
            backoff.reset();
            if let Some(count) = failures.end() {
                log(&format!(
                    "{what}: accepting again ({count} more failed accepts)"
                ));
            }
            let Some(place) = waited.or_else(|| free_place(&places)) else {
                if let Some(line) = refusals.line(
                    || format!("{what}: {limit} connections at once, the limit; refusing more"),
                    |count, secs| {
                        format!("{what}: refused {count} more connections over the limit of {limit} in {secs} s")
                    },
                ) {
                    log(&line);
                }
                drop(conn);
                continue;
            };
            let served = handle(conn);
            tokio::spawn(async move {
                served.await;
                drop(place);
            });
        }
    })
}

fn free_place(places: &Arc<Semaphore>) -> Option<OwnedSemaphorePermit> {
    places.clone().try_acquire_owned().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::Duration;
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

    type Ends = tokio::sync::mpsc::UnboundedReceiver<tokio::io::DuplexStream>;

    fn flaky(failures: usize) -> (Flaky, Arc<AtomicUsize>, Ends) {
        let calls = Arc::new(AtomicUsize::new(0));
        let (ends, far) = tokio::sync::mpsc::unbounded_channel();
        let listener = Flaky {
            failures,
            calls: calls.clone(),
            ends,
        };
        (listener, calls, far)
    }

    /// Every line logged by the tests, each starting with its server's name.
    static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn keep(line: &str) {
        LINES.lock().expect("lines").push(line.to_owned());
    }

    fn lines_of(what: &str) -> Vec<String> {
        let lines = LINES.lock().expect("lines");
        lines
            .iter()
            .filter(|l| l.starts_with(what))
            .cloned()
            .collect()
    }

    /// Serves a connection until its peer writes a byte.
    async fn until_a_byte(mut conn: tokio::io::DuplexStream) {
        let mut byte = [0u8; 1];
        let _ = conn.read_exact(&mut byte).await;
    }

    fn server(what: &str, limit: usize, when_full: WhenFull) -> Server {
        Server {
            what: what.into(),
            limit,
            when_full,
            log: keep,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failed_accepts_back_off_and_are_logged_once_per_burst() {
        let (listener, calls, _far) = flaky(usize::MAX);
        let task = serve(listener, server("spin", 4, WhenFull::Wait), |_conn| async {
        });
        // Tries at 0, 50, 150, 350, 750, 1550 and 2550 ms: seven in 2.75 s, not thousands.
        tokio::time::sleep(Duration::from_millis(2750)).await;
        let made = calls.load(Ordering::SeqCst);
        assert!((6..=8).contains(&made), "{made} accepts in 2.75 s");
        assert_eq!(lines_of("spin").len(), 1, "{:?}", lines_of("spin"));
        // A count once the period has passed (failures every second by then).
        tokio::time::sleep(Duration::from_secs(10)).await;
        let lines = lines_of("spin");
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].contains("more times in 10 s"), "{lines:?}");
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_backoff_and_ends_the_burst() {
        let (listener, calls, mut far) = flaky(5);
        // One place, held by the connection until its peer writes: no accept follows it.
        let task = serve(listener, server("recover", 1, WhenFull::Wait), until_a_byte);
        let _end = far.recv().await.expect("accepted after the failures");
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 6);
        let lines = lines_of("recover");
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("accept failed (out of descriptors)"));
        assert!(lines[1].contains("accepting again (4 more failed accepts)"));
        task.abort();
    }

    #[tokio::test]
    async fn at_most_the_limit_is_served_at_once_and_a_freed_place_is_taken() {
        let (listener, calls, mut far) = flaky(0);
        let task = serve(listener, server("wait", 2, WhenFull::Wait), until_a_byte);
        let mut first = far.recv().await.expect("first");
        let _second = far.recv().await.expect("second");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2, "a third waits for a place");
        first.write_all(b"x").await.expect("end the first");
        let _third = far.recv().await.expect("the freed place is taken");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        task.abort();
    }

    #[tokio::test]
    async fn past_the_limit_a_refusing_server_closes_connections_at_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = serve(
            listener,
            server("refuse", 2, WhenFull::Refuse),
            |mut conn| async move {
                let mut byte = [0u8; 1];
                let _ = conn.read_exact(&mut byte).await;
                let _ = conn.write_all(b"served").await;
            },
        );
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
        }
        for _ in 0..3 {
            let mut over = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let mut rest = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(5), over.read_to_end(&mut rest))
                .await
                .expect("closed at once");
            assert!(read.is_err() || rest.is_empty(), "{rest:?}");
        }
        assert_eq!(lines_of("refuse").len(), 1, "{:?}", lines_of("refuse"));
        // The held ones are still served.
        let mut first = held.remove(0);
        first.write_all(b"x").await.expect("write");
        let mut answer = Vec::new();
        first.read_to_end(&mut answer).await.expect("read");
        assert_eq!(answer, b"served");
        task.abort();
    }
}
