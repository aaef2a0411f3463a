//! The forwarding table against a stand-in agent: a hybrid vsock socket that answers `CONNECT`,
//! checks the secret, reads the data header and relays to local services. The real agent and VM are exercised by
//! the end-to-end tests (`tests/e2e/tests/ports.rs`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use berth_protocol::auth::{read_preamble, BootSecret};
use berth_protocol::data::{read_header, write_reply, DataHeader, DataReply};
use berth_protocol::datagram;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket, UnixListener};

use super::*;

/// Guest ports of the stand-in agent and the local services they reach.
type Services = Arc<HashMap<u16, SocketAddr>>;

/// The secret the stand-in expects.
const SECRET: [u8; 32] = [5; 32];

struct FakeAgent {
    _dir: tempfile::TempDir,
    uds: PathBuf,
    udp_flows: Arc<AtomicUsize>,
}

impl FakeAgent {
    fn start(services: Services) -> FakeAgent {
        let dir = tempfile::tempdir().expect("tempdir");
        let uds = dir.path().join("vsock.sock");
        let listener = UnixListener::bind(&uds).expect("bind");
        let udp_flows = Arc::new(AtomicUsize::new(0));
        let flows = udp_flows.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, services.clone(), flows.clone()));
            }
        });
        FakeAgent {
            _dir: dir,
            uds,
            udp_flows,
        }
    }

    fn table(&self, all_interfaces: bool) -> Table {
        Table::new(
            Arc::new(Guest {
                endpoint: AgentAddress::new(&self.uds, BootSecret::from_bytes(SECRET)),
                saver: Saver::new(),
            }),
            all_interfaces,
            Arc::new(Mutex::new(Vec::new())),
        )
    }
}

async fn serve(stream: tokio::net::UnixStream, services: Services, flows: Arc<AtomicUsize>) {
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    stream.read_line(&mut line).await.expect("connect line");
    assert_eq!(line, "CONNECT 1025\n");
    let mut stream = stream.into_inner();
    stream.write_all(b"OK 1\n").await.expect("ok");
    let preamble = read_preamble(&mut stream).await.expect("preamble");
    assert!(BootSecret::from_bytes(SECRET).matches(&preamble));
    let header = read_header(&mut stream).await.expect("header");
    match header {
        DataHeader::Tcp { port } => {
            let target = TcpStream::connect(services[&port]).await.expect("service");
            write_reply(&mut stream, &DataReply::Accepted)
                .await
                .expect("reply");
            let _ = berth_protocol::stream::relay(stream, target).await;
        }
        DataHeader::Udp { port } => {
            let socket = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
            socket.connect(services[&port]).await.expect("connect");
            write_reply(&mut stream, &DataReply::Accepted)
                .await
                .expect("reply");
            flows.fetch_add(1, Ordering::SeqCst);
            let (mut reader, mut writer) = tokio::io::split(stream);
            let to_service = async {
                let mut buf = Vec::new();
                while let Ok(true) = datagram::read_datagram(&mut reader, &mut buf).await {
                    let _ = socket.send(&buf).await;
                }
            };
            let from_service = async {
                let (mut buf, mut frame) = (vec![0u8; 65535], Vec::new());
                while let Ok(n) = socket.recv(&mut buf).await {
                    if datagram::write_datagram(&mut writer, &buf[..n], &mut frame)
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            };
            tokio::select! { () = to_service => {}, () = from_service => {} }
            flows.fetch_sub(1, Ordering::SeqCst);
        }
        other => panic!("unexpected header {other:?}"),
    }
}

/// A TCP service answering `hello <request>` once the request's half-close arrives.
async fn tcp_service() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                conn.read_to_end(&mut request).await.expect("request");
                conn.write_all(b"hello ").await.expect("answer");
                conn.write_all(&request).await.expect("answer");
            });
        }
    });
    addr
}

/// A UDP service answering `echo:<datagram>`.
async fn udp_service() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65535];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let mut answer = b"echo:".to_vec();
            answer.extend_from_slice(&buf[..n]);
            let _ = socket.send_to(&answer, from).await;
        }
    });
    addr
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().expect("addr").port();
    // Make sure UDP is free too.
    std::net::UdpSocket::bind(("127.0.0.1", port)).map_or_else(|_| free_port(), |_| port)
}

fn published(name: &str, protocol: PortProtocol, port: u16) -> PublishedPort {
    PublishedPort {
        container_id: format!("{name}-id"),
        protocol,
        host_ip: "0.0.0.0".into(),
        port,
        container_name: name.into(),
        container_port: 80,
    }
}

async fn ask_tcp(port: u16, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).await?;
    conn.write_all(request).await?;
    conn.shutdown().await?;
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await?;
    Ok(answer)
}

#[tokio::test]
async fn tcp_ports_open_relay_with_half_close_and_close_when_unpublished() {
    let port = free_port();
    let agent = FakeAgent::start(Arc::new(HashMap::from([(port, tcp_service().await)])));
    let mut table = agent.table(false);
    let web = published("web", PortProtocol::Tcp, port);
    table.apply(std::slice::from_ref(&web)).await;
    assert_eq!(
        ask_tcp(port, b"world").await.expect("forwarded"),
        b"hello world"
    );

    let status = table.status.lock().expect("status").clone();
    assert_eq!(status.len(), 1);
    assert_eq!(
        status[0].listening,
        Some(SocketAddr::from(([127, 0, 0, 1], port))),
        "published on 0.0.0.0 in the guest, loopback on the host"
    );

    table.apply(&[]).await;
    assert!(
        TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "the port must close when the container stops"
    );
}

#[tokio::test]
async fn a_busy_host_port_is_reported_by_name_and_the_others_still_forward() {
    let (busy, free) = (free_port(), free_port());
    let _squatter = std::net::TcpListener::bind(("127.0.0.1", busy)).expect("squat");
    let service = tcp_service().await;
    let agent = FakeAgent::start(Arc::new(HashMap::from([(busy, service), (free, service)])));
    let mut table = agent.table(false);
    table
        .apply(&[
            published("blocked", PortProtocol::Tcp, busy),
            published("fine", PortProtocol::Tcp, free),
        ])
        .await;
    assert_eq!(
        ask_tcp(free, b"x").await.expect("the other port"),
        b"hello x"
    );
    let status = table.status.lock().expect("status").clone();
    let blocked = status
        .iter()
        .find(|s| s.port.container_name == "blocked")
        .expect("listed");
    let error = blocked.error.as_deref().expect("an error");
    assert!(
        error.contains("blocked")
            && error.contains(&format!("127.0.0.1:{busy}/tcp"))
            && error.contains("already in use"),
        "{error}"
    );
    assert_eq!(blocked.listening, None);

    // Once the port is free, the next change picks it up.
    drop(_squatter);
    table
        .apply(&[
            published("blocked", PortProtocol::Tcp, busy),
            published("fine", PortProtocol::Tcp, free),
        ])
        .await;
    assert_eq!(ask_tcp(busy, b"y").await.expect("retried"), b"hello y");
}

#[tokio::test]
async fn udp_flows_answer_each_client_and_end_when_idle() {
    let port = free_port();
    let agent = FakeAgent::start(Arc::new(HashMap::from([(port, udp_service().await)])));
    let mut table = agent.table(false);
    table.udp_idle = Duration::from_millis(200);
    table
        .apply(&[published("dns", PortProtocol::Udp, port)])
        .await;

    let a = UdpSocket::bind("127.0.0.1:0").await.expect("a");
    let b = UdpSocket::bind("127.0.0.1:0").await.expect("b");
    let mut buf = vec![0u8; 65535];
    for round in 0..3 {
        for (client, name) in [(&a, "a"), (&b, "b")] {
            let message = format!("{name}{round}");
            client
                .send_to(message.as_bytes(), ("127.0.0.1", port))
                .await
                .expect("send");
            let n = tokio::time::timeout(Duration::from_secs(5), client.recv(&mut buf))
                .await
                .expect("an answer in time")
                .expect("recv");
            assert_eq!(&buf[..n], format!("echo:{message}").as_bytes());
        }
    }
    // Large and empty datagrams keep their boundaries.
    for size in [0usize, 60_000] {
        a.send_to(&vec![7u8; size], ("127.0.0.1", port))
            .await
            .expect("send");
        let n = tokio::time::timeout(Duration::from_secs(5), a.recv(&mut buf))
            .await
            .expect("in time")
            .expect("recv");
        assert_eq!(n, 5 + size);
    }
    assert_eq!(
        agent.udp_flows.load(Ordering::SeqCst),
        2,
        "one flow per client"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while agent.udp_flows.load(Ordering::SeqCst) > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "idle flows were not closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A client coming back after its flow closed gets a new one.
    a.send_to(b"again", ("127.0.0.1", port))
        .await
        .expect("send");
    let n = tokio::time::timeout(Duration::from_secs(5), a.recv(&mut buf))
        .await
        .expect("in time")
        .expect("recv");
    assert_eq!(&buf[..n], b"echo:again");
}

#[tokio::test]
async fn a_forwarder_without_an_agent_retries_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let forwarder = PortForwarder::start(
        AgentAddress::new(
            dir.path().join("missing.sock"),
            BootSecret::from_bytes(SECRET),
        ),
        false,
        Saver::new(),
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(forwarder.status().is_empty());
}
