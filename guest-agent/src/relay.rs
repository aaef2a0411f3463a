//! Data connections ([`berth_protocol::DATA_PORT`]): one typed header, then bytes relayed both
//! ways between the host and the engine's socket, a TCP port on the guest's loopback (a UDP
//! port: see [`crate::udp`]) or a shell, as
//! [`berth_protocol::stream`] chunks so that half-close travels through, which hijacked engine
//! connections (`docker run -i`, `attach`) and HTTP/1.0 responses rely on.

use std::time::Duration;

use berth_protocol::data::{read_header, write_reply, DataHeader, DataReply};
use berth_protocol::stream::relay;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

use crate::console;
use crate::engine::config::DOCKER_SOCKET;

/// How long a new data connection may take to send its header.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one data connection.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    reaper: &crate::reaper::Reaper,
) {
    let header = match tokio::time::timeout(HEADER_TIMEOUT, read_header(&mut stream)).await {
        Ok(Ok(header)) => header,
        Ok(Err(err)) => return console::line(&format!("data: bad header: {err}")),
        Err(_) => return,
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
    }
}

async fn refuse<S: AsyncWrite + Unpin>(mut stream: S, reason: String) {
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
        let server =
            tokio::spawn(async move { serve(agent, &crate::reaper::Reaper::default()).await });
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

    #[tokio::test]
    async fn a_closed_port_is_refused_with_a_reason() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let (mut host, agent) = UnixStream::pair().expect("pair");
        tokio::spawn(async move { serve(agent, &crate::reaper::Reaper::default()).await });
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
        let server =
            tokio::spawn(async move { serve(agent, &crate::reaper::Reaper::default()).await });
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
