//! UDP data connections ([`berth_protocol::data::DataHeader::Udp`]): one flow from one host
//! client to a UDP port on the guest's loopback (where the engine's proxy listens for a
//! published port).
//!
//! Each flow gets its own guest socket, so answers go back to the client that asked. Datagrams
//! travel as [`berth_protocol::datagram`] frames. The flow ends when the host closes the
//! connection (it does after its idle timeout) or, should the host vanish silently, after
//! [`IDLE_TIMEOUT`] without traffic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use berth_protocol::data::{write_reply, DataReply};
use berth_protocol::datagram::{read_datagram, write_datagram, MAX_DATAGRAM};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UdpSocket;

/// A flow with no datagram either way for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Serves one UDP flow to guest port `port`.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, port: u16) {
    let socket = match connect(port).await {
        Ok(socket) => socket,
        Err(err) => {
            let reason = format!("guest UDP port {port}: {err}");
            let _ = write_reply(&mut stream, &DataReply::Refused { reason }).await;
            return;
        }
    };
    if write_reply(&mut stream, &DataReply::Accepted)
        .await
        .is_err()
    {
        return;
    }
    let _ = relay(stream, &socket, IDLE_TIMEOUT).await;
}

async fn connect(port: u16) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind(("127.0.0.1", 0)).await?;
    socket.connect(("127.0.0.1", port)).await?;
    Ok(socket)
}

/// Moves datagrams between the framed `stream` and the connected `socket` until the stream
/// ends, fails, or nothing moves for `idle`.
pub async fn relay<S>(stream: S, socket: &UdpSocket, idle: Duration) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let activity = AtomicU64::new(0);
    // Each direction is one long-lived future: a frame read is never cancelled half-way.
    let to_guest = async {
        let mut inbound = Vec::new();
        while read_datagram(&mut reader, &mut inbound).await? {
            activity.fetch_add(1, Ordering::Relaxed);
            // A refused send (nothing listens yet: an earlier ICMP unreachable) loses this
            // datagram, as UDP would; the flow goes on.
            let _ = socket.send(&inbound).await;
        }
        Ok::<(), std::io::Error>(())
    };
    let from_guest = async {
        let (mut outbound, mut frame) = (vec![0u8; MAX_DATAGRAM], Vec::new());
        loop {
            match socket.recv(&mut outbound).await {
                Ok(n) => {
                    activity.fetch_add(1, Ordering::Relaxed);
                    write_datagram(&mut writer, &outbound[..n], &mut frame).await?;
                }
                Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => {}
                Err(err) => return Err(err),
            }
        }
    };
    tokio::select! {
        ended = to_guest => ended,
        failed = from_guest => failed,
        () = berth_protocol::datagram::idle_for(idle, &activity) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_protocol::data::{read_reply, write_header, DataHeader};
    use tokio::net::UnixStream;

    /// A guest UDP echo service on the loopback.
    async fn echo() -> u16 {
        let server = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let port = server.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            while let Ok((n, from)) = server.recv_from(&mut buf).await {
                let _ = server.send_to(&buf[..n], from).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn datagrams_keep_their_boundaries_through_the_relay() {
        let port = echo().await;
        let (mut host, agent) = UnixStream::pair().expect("pair");
        let reaper = crate::reaper::Reaper::default();
        let server = tokio::spawn(async move {
            crate::relay::serve(agent, &reaper, &crate::relay::Budgets::default()).await
        });
        write_header(&mut host, &DataHeader::Udp { port })
            .await
            .expect("header");
        assert_eq!(
            read_reply(&mut host).await.expect("reply"),
            DataReply::Accepted
        );
        let mut frame = Vec::new();
        let mut answer = Vec::new();
        for payload in [b"one".to_vec(), vec![], vec![9u8; 60_000]] {
            write_datagram(&mut host, &payload, &mut frame)
                .await
                .expect("send");
            assert!(read_datagram(&mut host, &mut answer).await.expect("recv"));
            assert_eq!(answer, payload);
        }
        drop(host);
        server.await.expect("the flow ends when the host closes");
    }

    #[tokio::test]
    async fn a_silent_flow_ends_after_the_idle_timeout() {
        let port = echo().await;
        let socket = connect(port).await.expect("connect");
        let (_host, agent) = UnixStream::pair().expect("pair");
        let relay = relay(agent, &socket, Duration::from_millis(50));
        tokio::time::timeout(Duration::from_secs(5), relay)
            .await
            .expect("ended by the idle timeout")
            .expect("cleanly");
    }
}
