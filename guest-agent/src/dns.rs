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

use crate::console;

/// The names that resolve to the host.
pub const HOST_NAMES: &[&str] = &["host.docker.internal", "gateway.docker.internal"];
/// How long one upstream may take to answer before the next is tried.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);
/// Most queries in flight at once; further ones wait.
const MAX_IN_FLIGHT: usize = 256;
/// How long a TCP client may stay silent between queries.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Time to live of the local answers, in seconds.
const TTL: u32 = 60;
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

/// The first question of a query.
#[derive(Debug, PartialEq, Eq)]
pub struct Question {
    /// The name, dot-separated, without the final dot.
    pub name: String,
    /// The query type (1 = A, 28 = AAAA, 255 = ANY).
    pub qtype: u16,
    /// Where the question section ends in the message.
    pub end: usize,
}

/// Parses the header and first question of a standard query; `None` for anything else
/// (responses, other opcodes, no question, compression or bad labels in the question).
pub fn parse_question(message: &[u8]) -> Option<Question> {
    let header = message.get(..12)?;
    let is_response = header[2] & 0x80 != 0;
    let opcode = (header[2] >> 3) & 0x0f;
    let questions = u16::from_be_bytes([header[4], header[5]]);
    if is_response || opcode != 0 || questions == 0 {
        return None;
    }
    let mut labels = Vec::new();
    let mut at = 12;
    loop {
        let len = usize::from(*message.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let label = message.get(at..at + len)?;
        labels.push(std::str::from_utf8(label).ok()?.to_owned());
        at += len;
    }
    let fixed = message.get(at..at + 4)?;
    Some(Question {
        name: labels.join("."),
        qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        end: at + 4,
    })
}

/// The local answer to `query` for one of [`HOST_NAMES`]: the A record for `host`, and an empty
/// (no data) answer for every other type, so resolvers do not wait for an IPv6 address.
pub fn local_answer(query: &[u8], question: &Question, host: Ipv4Addr) -> Vec<u8> {
    const TYPE_A: u16 = 1;
    const TYPE_ANY: u16 = 255;
    let with_address = matches!(question.qtype, TYPE_A | TYPE_ANY);
    let mut answer = Vec::with_capacity(question.end + 16);
    answer.extend_from_slice(&query[..2]); // id
                                           // QR, the query's opcode (0) and RD, AA; RA; NOERROR.
    answer.push(0x84 | (query[2] & 0x01));
    answer.push(0x80);
    answer.extend_from_slice(&1u16.to_be_bytes()); // one question
    answer.extend_from_slice(&u16::from(with_address).to_be_bytes());
    answer.extend_from_slice(&[0, 0, 0, 0]); // no authority, no additional
    answer.extend_from_slice(&query[12..question.end]);
    if with_address {
        answer.extend_from_slice(&[0xc0, 0x0c]); // the name: a pointer to the question's
        answer.extend_from_slice(&TYPE_A.to_be_bytes());
        answer.extend_from_slice(&1u16.to_be_bytes()); // IN
        answer.extend_from_slice(&TTL.to_be_bytes());
        answer.extend_from_slice(&4u16.to_be_bytes());
        answer.extend_from_slice(&host.octets());
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query as `nslookup`/glibc send it: id, RD, one question.
    fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut q = id.to_be_bytes().to_vec();
        q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0]);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes());
        q
    }

    #[test]
    fn questions_parse_and_garbage_does_not() {
        let q = query(7, "Host.Docker.Internal", 1);
        let question = parse_question(&q).expect("parses");
        assert_eq!(question.name, "Host.Docker.Internal");
        assert_eq!((question.qtype, question.end), (1, q.len()));
        for n in 0..q.len() {
            assert_eq!(parse_question(&q[..n]), None, "prefix {n}");
        }
        let mut response = q.clone();
        response[2] |= 0x80;
        assert_eq!(parse_question(&response), None);
        let mut compressed = q.clone();
        compressed[12] = 0xc0;
        assert_eq!(parse_question(&compressed), None);
        assert_eq!(parse_question(&[0xff; 300]), None);
    }

    #[test]
    fn the_host_names_get_the_hosts_address_and_no_ipv6() {
        let host = Ipv4Addr::new(10, 0, 2, 2);
        let q = query(0xbeef, "host.docker.internal", 1);
        let question = parse_question(&q).expect("parses");
        let a = local_answer(&q, &question, host);
        assert_eq!(&a[..2], &[0xbe, 0xef], "same id");
        assert_eq!(a[2] & 0x80, 0x80, "a response");
        assert_eq!(a[3] & 0x0f, 0, "NOERROR");
        assert_eq!(&a[6..8], &[0, 1], "one answer");
        assert_eq!(&a[12..q.len()], &q[12..], "the question echoed");
        assert_eq!(&a[a.len() - 4..], &[10, 0, 2, 2]);

        let q6 = query(1, "host.docker.internal", 28);
        let none = local_answer(&q6, &parse_question(&q6).expect("parses"), host);
        assert_eq!(&none[6..8], &[0, 0], "no AAAA record");
        assert_eq!(none.len(), q6.len());
    }

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
