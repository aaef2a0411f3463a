//! Answering one query: locally for the host's names, else from the first upstream that
//! answers, each upstream within its own timeout and the whole query within another.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

use berth_agent::dns_message::{local_answer, parse_question};

use super::{HOST_NAMES, MAX_MESSAGE};

/// Answers queries for the host's names with `host` and forwards the rest to `upstreams`.
#[derive(Debug)]
pub struct Resolver {
    /// The host's address on QEMU's user network.
    pub host: Ipv4Addr,
    /// The real resolvers, tried in order.
    pub upstreams: Vec<SocketAddr>,
    /// How long one upstream may take before the next is tried.
    pub upstream_timeout: Duration,
    /// How long a query may take in all, whatever the number of upstreams.
    pub query_timeout: Duration,
}

impl Resolver {
    /// The answer to `query`, or `None` to stay silent (garbage, or no upstream answered in
    /// time).
    pub async fn answer(&self, query: &[u8]) -> Option<Vec<u8>> {
        let question = parse_question(query)?;
        if HOST_NAMES
            .iter()
            .any(|n| question.name.eq_ignore_ascii_case(n))
        {
            return Some(local_answer(query, &question, self.host));
        }
        tokio::time::timeout(self.query_timeout, self.forward(query))
            .await
            .ok()
            .flatten()
    }

    async fn forward(&self, query: &[u8]) -> Option<Vec<u8>> {
        for upstream in &self.upstreams {
            if let Ok(Ok(answer)) =
                tokio::time::timeout(self.upstream_timeout, forward(*upstream, query)).await
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
