//! Data connections ([`berth_protocol::DATA_PORT`]): one typed header, then bytes relayed both
//! ways between the host and the engine's socket, a TCP port on the guest's loopback (a UDP
//! port: see [`crate::udp`]) or a shell, as
//! [`berth_protocol::stream`] chunks so that half-close travels through, which hijacked engine
//! connections (`docker run -i`, `attach`) and HTTP/1.0 responses rely on.
//!
//! The guest operations (a volume's listing or export: [`crate::volumes`]; a program of the
//! engine's: [`crate::exec`]) answer with typed frames after the header instead.
//!
//! Two budgets ([`Budgets`]): the engine's API, shells and guest operations have their own, which published-port
//! traffic (a container's clients holding thousands of connections) cannot take, so `docker ps`
//! and `berth shell` keep working; a connection over its budget is refused at once, naming it.

use std::sync::Arc;
use std::time::Duration;

use berth_protocol::data::{read_header, write_reply, DataHeader, DataReply};
use berth_protocol::stream::relay;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use crate::engine::config::DOCKER_SOCKET;

/// How long a new data connection may take to send its header.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections to the engine's API and shells at once.
pub const ENGINE_BUDGET: usize = 256;
/// Connections to published ports at once (TCP connections and UDP flows, all ports together;
/// the host caps each port well below: `berth_core::ports`).
pub const PORTS_BUDGET: usize = 2048;

/// What each kind of data connection may hold at once.
#[derive(Debug, Clone)]
pub struct Budgets {
    engine: Arc<Semaphore>,
    ports: Arc<Semaphore>,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets::new(ENGINE_BUDGET, PORTS_BUDGET)
    }
}

impl Budgets {
    /// `engine` connections for the API and shells, `ports` for published ports.
    pub fn new(engine: usize, ports: usize) -> Budgets {
        Budgets {
            engine: Arc::new(Semaphore::new(engine)),
            ports: Arc::new(Semaphore::new(ports)),
        }
    }

    /// A place for a connection carrying `header`, held as long as it lives, or why not.
    fn take(&self, header: &DataHeader) -> Result<OwnedSemaphorePermit, String> {
        let (budget, what, limit) = match header {
            DataHeader::EngineApi
            | DataHeader::Shell { .. }
            | DataHeader::ListDir { .. }
            | DataHeader::Export { .. }
            | DataHeader::Exec { .. } => (&self.engine, "engine API and shell", ENGINE_BUDGET),
            DataHeader::Tcp { .. } | DataHeader::Udp { .. } => {
                (&self.ports, "published-port", PORTS_BUDGET)
            }
        };
        budget.clone().try_acquire_owned().map_err(|_| {
            format!("too many {what} connections at once (the agent's limit is {limit}); try again when some have closed")
        })
    }
}

/// Serves one data connection within `budgets`, in a `data` span naming its header.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    reaper: &crate::reaper::Reaper,
    budgets: &Budgets,
) {
    let header = match tokio::time::timeout(HEADER_TIMEOUT, read_header(&mut stream)).await {
        Ok(Ok(header)) => header,
        Ok(Err(err)) => return tracing::warn!("data: bad header: {err}"),
        Err(_) => return,
    };
    // The header's Debug names its kind and target (`Tcp { port: 8080 }`).
    let span = tracing::info_span!("data", header = ?header);
    serve_header(stream, header, reaper, budgets)
        .instrument(span)
        .await
}

/// Serves a data connection whose header was read.
async fn serve_header<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    header: DataHeader,
    reaper: &crate::reaper::Reaper,
    budgets: &Budgets,
) {
    let _place = match budgets.take(&header) {
        Ok(place) => place,
        Err(reason) => return refuse(stream, reason).await,
    };
    match header {
        DataHeader::EngineApi => match UnixStream::connect(DOCKER_SOCKET).await {
            Ok(target) => splice(stream, target).await,
            Err(err) => refuse(stream, format!("the engine is not answering ({err})")).await,
        },
        DataHeader::Tcp { port } => match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(target) => {
                let _ = target.set_nodelay(true);
                splice(stream, target).await
            }
            Err(err) => refuse(stream, format!("guest port {port}: {err}")).await,
        },
        DataHeader::Shell { tty, cols, rows } => {
            crate::shell::serve(stream, reaper, tty, cols, rows).await
        }
        DataHeader::Udp { port } => crate::udp::serve(stream, port).await,
        DataHeader::ListDir { volume, path } => {
            crate::volumes::serve_list(stream, volume, path).await
        }
        DataHeader::Export { volume } => crate::volumes::serve_export(stream, volume).await,
        DataHeader::Exec { argv, cwd } => crate::exec::serve(stream, reaper, argv, cwd).await,
    }
}

async fn refuse<S: AsyncWrite + Unpin>(mut stream: S, reason: String) {
    tracing::debug!("refused: {reason}");
    let _ = write_reply(&mut stream, &DataReply::Refused { reason }).await;
}

async fn splice<S, T>(mut host: S, target: T)
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    if write_reply(&mut host, &DataReply::Accepted).await.is_err() {
        return;
    }
    let _ = relay(host, target).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_protocol::data::{read_reply, write_header};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Serves the agent's end of a data connection with the default budgets.
    fn spawn_serve(agent: UnixStream) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let reaper = crate::reaper::Reaper::default();
            serve(agent, &reaper, &Budgets::default()).await
        })
    }

    #[tokio::test]
    async fn relays_tcp_both_ways_with_half_close() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let echo = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.expect("accept");
            let mut request = Vec::new();
            conn.read_to_end(&mut request)
                .await
                .expect("read until half-close");
            conn.write_all(&request).await.expect("echo");
        });
        let (mut host, agent) = UnixStream::pair().expect("pair");
        let server = spawn_serve(agent);
        write_header(&mut host, &DataHeader::Tcp { port })
            .await
            .expect("header");
        assert_eq!(
            read_reply(&mut host).await.expect("reply"),
            DataReply::Accepted
        );
        // The host's end of the relay, as the host core runs it.
        let (client, host_plain) = tokio::io::duplex(4096);
        let host_relay = tokio::spawn(relay(host, host_plain));
        let (mut client_read, mut client_write) = tokio::io::split(client);
        client_write
            .write_all(b"hello through the relay")
            .await
            .expect("write");
        client_write.shutdown().await.expect("half-close");
        let mut answer = Vec::new();
        client_read.read_to_end(&mut answer).await.expect("read");
        host_relay.await.expect("host relay").expect("relay ok");
        assert_eq!(answer, b"hello through the relay");
        echo.await.expect("echo task");
        server.await.expect("relay task");
    }

    #[test]
    fn published_ports_cannot_take_the_engines_places() {
        let budgets = Budgets::new(1, 2);
        let tcp = DataHeader::Tcp { port: 80 };
        let held: Vec<_> = (0..2)
            .map(|_| budgets.take(&tcp).expect("a place"))
            .collect();
        let refused = budgets
            .take(&DataHeader::Udp { port: 53 })
            .expect_err("full");
        assert!(
            refused.contains("published-port") && refused.contains("2048"),
            "{refused}"
        );
        let engine = budgets
            .take(&DataHeader::EngineApi)
            .expect("the engine's own place");
        assert!(budgets
            .take(&DataHeader::Shell {
                tty: false,
                cols: 80,
                rows: 24
            })
            .is_err());
        drop(engine);
        assert!(budgets
            .take(&DataHeader::Shell {
                tty: false,
                cols: 80,
                rows: 24
            })
            .is_ok());
        drop(held);
        assert!(
            budgets.take(&tcp).is_ok(),
            "places come back when connections close"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_refused_with_a_reason() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let (mut host, agent) = UnixStream::pair().expect("pair");
        spawn_serve(agent);
        write_header(&mut host, &DataHeader::Tcp { port })
            .await
            .expect("header");
        match read_reply(&mut host).await.expect("reply") {
            DataReply::Refused { reason } => {
                assert!(reason.contains(&port.to_string()), "{reason}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn garbage_instead_of_a_header_closes_the_connection() {
        let (mut host, agent) = UnixStream::pair().expect("pair");
        let server = spawn_serve(agent);
        host.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3])
            .await
            .expect("write");
        server.await.expect("no panic");
        // Closed without an answer: EOF, or a reset because our garbage was left unread.
        let mut rest = Vec::new();
        let read = host.read_to_end(&mut rest).await;
        assert!(read.is_err() || rest.is_empty(), "{read:?} {rest:?}");
    }
}
