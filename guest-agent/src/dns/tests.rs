//! The DNS server over real sockets on loopback: forwarding, the timeouts and the two budgets.

use std::time::Instant;

use berth_agent::dns_message::query;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

const HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

/// An upstream that answers every query with its id and a marker.
async fn answering_upstream() -> SocketAddr {
    let upstream = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = upstream.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = upstream.recv_from(&mut buf).await {
            let mut answer = buf[..n].to_vec();
            answer[2] |= 0x80;
            answer.extend_from_slice(b"upstream");
            let _ = upstream.send_to(&answer, from).await;
        }
    });
    addr
}

/// An upstream that never answers (kept open for the test's life).
async fn silent_upstream() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    (socket, addr)
}

/// A server on loopback within `limits`; its UDP and TCP addresses.
async fn server(upstreams: Vec<SocketAddr>, limits: Limits) -> (SocketAddr, SocketAddr) {
    let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind tcp");
    let addrs = (
        udp.local_addr().expect("addr"),
        tcp.local_addr().expect("addr"),
    );
    serve_sockets(udp, tcp, HOST, upstreams, limits);
    addrs
}

/// A server with only `timeouts` changed; its TCP address.
async fn tcp_server(timeouts: tcp::Timeouts) -> SocketAddr {
    let limits = Limits {
        tcp: timeouts,
        ..Limits::default()
    };
    server(vec![], limits).await.1
}

fn resolver(upstreams: Vec<SocketAddr>, limits: Limits) -> Resolver {
    Resolver {
        host: HOST,
        upstreams,
        upstream_timeout: limits.upstream,
        query_timeout: limits.query,
    }
}

/// The answer over UDP from `client`, if one comes within `wait`.
async fn udp_answer(client: &UdpSocket, wait: Duration) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let n = tokio::time::timeout(wait, client.recv(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Sends `q` on `stream` and reads its answer.
async fn tcp_ask(stream: &mut TcpStream, q: &[u8]) -> std::io::Result<Vec<u8>> {
    let len = u16::try_from(q.len()).expect("short");
    stream.write_all(&len.to_be_bytes()).await?;
    stream.write_all(q).await?;
    let len = stream.read_u16().await?;
    let mut answer = vec![0u8; usize::from(len)];
    stream.read_exact(&mut answer).await?;
    Ok(answer)
}

/// How long until the server closes `stream` (reading anything it sends).
async fn time_to_close(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut rest)).await;
    started.elapsed()
}

#[tokio::test]
async fn other_names_are_forwarded_and_the_upstreams_answer_relayed() {
    let (_silent, silent) = silent_upstream().await;
    let limits = Limits {
        upstream: Duration::from_millis(300),
        ..Limits::default()
    };
    // A dead first upstream is skipped after its timeout.
    let resolver = resolver(vec![silent, answering_upstream().await], limits);
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

#[tokio::test]
async fn silent_upstreams_time_out_as_a_whole() {
    let silent: Vec<_> = [
        silent_upstream().await,
        silent_upstream().await,
        silent_upstream().await,
    ]
    .into_iter()
    .collect();
    let limits = Limits {
        upstream: Duration::from_secs(1),
        query: Duration::from_millis(300),
        ..Limits::default()
    };
    let resolver = resolver(silent.iter().map(|(_, addr)| *addr).collect(), limits);
    let started = Instant::now();
    assert_eq!(resolver.answer(&query(1, "example.org", 1)).await, None);
    let took = started.elapsed();
    // Not three upstream timeouts (3 s), nor even one.
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(900),
        "{took:?}"
    );
}

#[tokio::test]
async fn tcp_clients_that_stall_within_a_message_are_dropped_after_its_timeout() {
    let tcp = tcp_server(tcp::Timeouts {
        idle: Duration::from_secs(30),
        message: Duration::from_millis(300),
    })
    .await;
    // Half a length, then a length and part of its message.
    let stalls: [&[u8]; 2] = [&[0], &[0, 30, 1, 2, 3, 4, 5]];
    for stall in stalls {
        let mut client = TcpStream::connect(tcp).await.expect("connect");
        client.write_all(stall).await.expect("write");
        let took = time_to_close(&mut client).await;
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(5),
            "{stall:?}: closed after {took:?}"
        );
    }
}

#[tokio::test]
async fn tcp_clients_get_answers_then_are_dropped_when_idle() {
    let tcp = tcp_server(tcp::Timeouts {
        idle: Duration::from_millis(300),
        message: Duration::from_secs(30),
    })
    .await;
    let mut client = TcpStream::connect(tcp).await.expect("connect");
    let mut asked = Instant::now();
    for id in 1..=2 {
        asked = Instant::now();
        let answer = tcp_ask(&mut client, &query(id, "host.docker.internal", 1))
            .await
            .expect("answered");
        assert!(answer.ends_with(&[10, 0, 2, 2]));
    }
    time_to_close(&mut client).await;
    let took = asked.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_udp_flood_is_dropped_and_tcp_keeps_its_budget() {
    let (_silent, silent) = silent_upstream().await;
    let limits = Limits {
        udp_in_flight: 2,
        query: Duration::from_secs(30),
        upstream: Duration::from_secs(30),
        ..Limits::default()
    };
    let (udp, tcp) = server(vec![silent], limits).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    client.connect(udp).await.expect("connect");
    // Two queries hold the UDP budget (their upstream never answers); the rest are dropped.
    for id in 1..=4 {
        client
            .send(&query(id, "example.org", 1))
            .await
            .expect("send");
    }
    client
        .send(&query(5, "host.docker.internal", 1))
        .await
        .expect("send");
    assert_eq!(udp_answer(&client, Duration::from_millis(500)).await, None);
    let mut stream = TcpStream::connect(tcp).await.expect("connect");
    let answer = tcp_ask(&mut stream, &query(6, "host.docker.internal", 1))
        .await
        .expect("TCP still answers");
    assert!(answer.ends_with(&[10, 0, 2, 2]));
}

#[tokio::test]
async fn a_tcp_flood_is_refused_and_udp_keeps_its_budget() {
    let limits = Limits {
        tcp_connections: 2,
        ..Limits::default()
    };
    let (udp, tcp) = server(vec![], limits).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(tcp).await.expect("connect"));
    }
    // Refused at once, long before any timeout.
    let mut over = TcpStream::connect(tcp).await.expect("connect");
    let took = time_to_close(&mut over).await;
    assert!(took < Duration::from_secs(2), "{took:?}");
    let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    client.connect(udp).await.expect("connect");
    client
        .send(&query(7, "host.docker.internal", 1))
        .await
        .expect("send");
    let answer = udp_answer(&client, Duration::from_secs(5))
        .await
        .expect("UDP still answers");
    assert!(answer.ends_with(&[10, 0, 2, 2]));
    // The held connections are still served.
    let answer = tcp_ask(&mut held[0], &query(8, "host.docker.internal", 1))
        .await
        .expect("a held connection answers");
    assert!(answer.ends_with(&[10, 0, 2, 2]));
}
