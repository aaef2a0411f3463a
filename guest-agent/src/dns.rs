//! The containers' DNS server: answers `host.docker.internal` (and `gateway.docker.internal`)
//! with the host's address on QEMU's user network, and forwards every other query unchanged
//! to the real resolvers.
//!
//! The engine points every container at it (`"dns"` in `daemon.json`): containers on the
//! default bridge get it in their `resolv.conf`, and the engine's embedded resolver on
//! user-defined networks (compose) forwards to it. It listens on the guest's own address
//! (`10.0.2.15:53`, UDP and TCP), which containers reach through their gateway, but QEMU's user
//! network does not expose it to anything outside the guest. The guest itself keeps using the
//! upstream resolvers directly, and its `/etc/hosts` names the host for `--network host`
//! containers.
//!
//! Only the question is parsed (to spot the two names); everything else is relayed as bytes,
//! so EDNS, DNSSEC records and truncation reach the client as the upstream sent them. Upstream
//! queries go over UDP whatever the client used.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;

use berth_agent::dns_message::{local_answer, parse_question};

use crate::console;

/// The names that resolve to the host.
pub const HOST_NAMES: &[&str] = &["host.docker.internal", "gateway.docker.internal"];
/// How long one upstream may take to answer before the next is tried.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);
/// Most queries in flight at once; further ones wait.
const MAX_IN_FLIGHT: usize = 256;
/// How long a TCP client may stay silent between queries.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// The largest DNS message over UDP or TCP.
const MAX_MESSAGE: usize = 65535;

/// Serves DNS on `listen` (UDP and TCP), answering [`HOST_NAMES`] with `host` and forwarding
/// the rest to `upstreams`.
pub async fn serve(
    listen: SocketAddr,
    host: Ipv4Addr,
    upstreams: Vec<SocketAddr>,
) -> std::io::Result<()> {
    let udp = Arc::new(UdpSocket::bind(listen).await?);
    let tcp = TcpListener::bind(listen).await?;
    let resolver = Arc::new(Resolver { host, upstreams });
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    {
        let (resolver, slots) = (resolver.clone(), slots.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = tcp.accept().await {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                let resolver = resolver.clone();
                tokio::spawn(async move {
                    let _ = serve_tcp(stream, &resolver).await;
                    drop(permit);
                });
            }
        });
    }
    tokio::spawn(async move {
        let mut buf = vec![0u8; MAX_MESSAGE];
        loop {
            let Ok((n, client)) = udp.recv_from(&mut buf).await else {
                continue;
            };
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let query = buf[..n].to_vec();
            let (udp, resolver) = (udp.clone(), resolver.clone());
            tokio::spawn(async move {
                if let Some(answer) = resolver.answer(&query).await {
                    let _ = udp.send_to(&answer, client).await;
                }
                drop(permit);
            });
        }
    });
    Ok(())
}

/// Starts [`serve`] in the background, retrying until the guest address exists.
pub fn start(listen: SocketAddr, host: Ipv4Addr, upstreams: Vec<SocketAddr>) {
    tokio::spawn(async move {
        for attempt in 0.. {
            match serve(listen, host, upstreams.clone()).await {
                Ok(()) => return,
                Err(err) if attempt == 50 => {
                    return console::line(&format!("dns: cannot listen on {listen}: {err}"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
}

/// Queries over TCP: each message preceded by its 2-byte length.
async fn serve_tcp(mut stream: TcpStream, resolver: &Resolver) -> std::io::Result<()> {
    let mut query = Vec::new();
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => return Ok(()),
        }
        query.resize(usize::from(u16::from_be_bytes(len)), 0);
        stream.read_exact(&mut query).await?;
        let Some(answer) = resolver.answer(&query).await else {
            return Ok(());
        };
        let Ok(len) = u16::try_from(answer.len()) else {
            return Ok(());
        };
        stream.write_all(&len.to_be_bytes()).await?;
        stream.write_all(&answer).await?;
    }
}

struct Resolver {
    host: Ipv4Addr,
    upstreams: Vec<SocketAddr>,
}

impl Resolver {
    /// The answer to `query`, or `None` to stay silent (garbage, or no upstream answered).
    async fn answer(&self, query: &[u8]) -> Option<Vec<u8>> {
        let question = parse_question(query)?;
        if HOST_NAMES
            .iter()
            .any(|n| question.name.eq_ignore_ascii_case(n))
        {
            return Some(local_answer(query, &question, self.host));
        }
        for upstream in &self.upstreams {
            if let Ok(Ok(answer)) =
                tokio::time::timeout(UPSTREAM_TIMEOUT, forward(*upstream, query)).await
            {
                return Some(answer);
            }
        }
        None
    }
}

async fn forward(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let bind: SocketAddr = if upstream.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind).await?;
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let n = socket.recv(&mut buf).await?;
        // Only the answer to this query (same id), not a stray datagram.
        if n >= 2 && buf[..2] == query[..2] {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_agent::dns_message::query;

    #[tokio::test]
    async fn other_names_are_forwarded_and_the_upstreams_answer_relayed() {
        // An upstream that answers every query with its id and a marker.
        let upstream = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let upstream_addr = upstream.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = upstream.recv_from(&mut buf).await {
                let mut answer = buf[..n].to_vec();
                answer[2] |= 0x80;
                answer.extend_from_slice(b"upstream");
                let _ = upstream.send_to(&answer, from).await;
            }
        });
        let silent = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let resolver = Resolver {
            host: Ipv4Addr::new(10, 0, 2, 2),
            // A dead first upstream is skipped after its timeout.
            upstreams: vec![silent.local_addr().expect("addr"), upstream_addr],
        };
        let q = query(42, "example.org", 1);
        let answer = tokio::time::timeout(Duration::from_secs(10), resolver.answer(&q))
            .await
            .expect("in time")
            .expect("answered");
        assert!(answer.ends_with(b"upstream") && answer[..2] == q[..2]);
        let local = resolver
            .answer(&query(43, "gateway.docker.internal", 1))
            .await
            .expect("answered");
        assert!(local.ends_with(&[10, 0, 2, 2]));
        assert_eq!(resolver.answer(b"junk").await, None);
    }
}
