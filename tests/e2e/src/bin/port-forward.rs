//! Benchmark: a published port through the host forwarder against a raw vsock data connection
//! to the same guest port (the baseline, measured in the same run, interleaved): throughput
//! both ways and round-trip latency, with the forwarded/raw ratios (goal: ≥ 0.80 of raw
//! throughput).
//!
//!     cargo build --release -p berth-e2e --bins    # net-echo runs in the test containers
//!     target/release/port-forward [MIB_PER_ROUND]
//!
//! (`installer/berth-bench` builds and runs it with the others.)

use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_core::agent::open_data;
use berth_core::agent::AgentAddress;
use berth_core::ports::PortForwarder;
use berth_core::vsock::GuestStream;
use berth_e2e::engine::{docker, EngineVm};
use berth_e2e::ports::test_rootfs;
use berth_e2e::report::{Better, Goal, Row};
use berth_protocol::data::DataHeader;
use berth_protocol::stream::{from_chunks, to_chunks, MAX_CHUNK};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const IMAGE: &str = "berth-bench/ports:1";
const ROUNDS: usize = 8;
const PINGS: usize = 400;
const CONNECTS: usize = 40;

/// The guest services, by their published port.
struct Ports {
    sink: u16,
    source: u16,
    echo: u16,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn net_echo() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    let path = exe.with_file_name("net-echo");
    assert!(
        path.is_file(),
        "{} is missing: cargo build --release -p berth-e2e --bins",
        path.display()
    );
    path
}

/// A raw data connection to guest `port`: chunked bytes, no host listener; reads buffered
/// like the relay's.
async fn raw(endpoint: &AgentAddress, port: u16) -> BufReader<GuestStream> {
    let stream = open_data(endpoint, DataHeader::Tcp { port })
        .await
        .expect("raw data connection");
    BufReader::with_capacity(MAX_CHUNK + 4, stream)
}

async fn forwarded(port: u16) -> TcpStream {
    let conn = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("forwarded port");
    conn.set_nodelay(true).expect("nodelay");
    conn
}

/// Host → guest: `bytes` into the sink, until it reports the count. Returns MB/s.
async fn upload_raw(endpoint: &AgentAddress, port: u16, bytes: u64) -> f64 {
    let started = Instant::now();
    let stream = raw(endpoint, port).await;
    let (mut read, mut write) = tokio::io::split(stream);
    to_chunks(&mut tokio::io::repeat(0x5a).take(bytes), &mut write)
        .await
        .expect("upload");
    let mut answer = Vec::new();
    from_chunks(&mut read, &mut answer).await.expect("count");
    check_count(&answer, bytes);
    mbps(bytes, started.elapsed())
}

async fn upload_forwarded(port: u16, bytes: u64) -> f64 {
    let started = Instant::now();
    let mut conn = forwarded(port).await;
    tokio::io::copy(&mut tokio::io::repeat(0x5a).take(bytes), &mut conn)
        .await
        .expect("upload");
    conn.shutdown().await.expect("half-close");
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.expect("count");
    check_count(&answer, bytes);
    mbps(bytes, started.elapsed())
}

/// Guest → host: ask the source for `bytes` and read them all. Returns MB/s.
async fn download_raw(endpoint: &AgentAddress, port: u16, bytes: u64) -> f64 {
    let started = Instant::now();
    let stream = raw(endpoint, port).await;
    let (mut read, mut write) = tokio::io::split(stream);
    let request = format!("{bytes}\n");
    to_chunks(&mut request.as_bytes(), &mut write)
        .await
        .expect("request");
    let mut counter = Counter(0);
    from_chunks(&mut read, &mut counter)
        .await
        .expect("download");
    assert_eq!(counter.0, bytes, "raw download size");
    mbps(bytes, started.elapsed())
}

async fn download_forwarded(port: u16, bytes: u64) -> f64 {
    let started = Instant::now();
    let mut conn = forwarded(port).await;
    conn.write_all(format!("{bytes}\n").as_bytes())
        .await
        .expect("request");
    let got = tokio::io::copy(&mut conn, &mut tokio::io::sink())
        .await
        .expect("download");
    assert_eq!(got, bytes, "forwarded download size");
    mbps(bytes, started.elapsed())
}

/// One 64-byte round trip through the echo service on a raw (chunked) data connection.
async fn raw_round_trip(stream: &mut BufReader<GuestStream>) {
    let mut frame = [0u8; 68];
    frame[..4].copy_from_slice(&64u32.to_be_bytes());
    stream.write_all(&frame).await.expect("ping");
    let mut answer = [0u8; 64];
    let mut got = 0;
    while got < 64 {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).await.expect("chunk");
        let len = (u32::from_be_bytes(len) as usize).min(64 - got);
        stream
            .read_exact(&mut answer[got..got + len])
            .await
            .expect("pong");
        got += len;
    }
}

/// One 64-byte round trip through the echo service on a forwarded connection.
async fn forwarded_round_trip(conn: &mut TcpStream) {
    conn.write_all(&[0x61u8; 64]).await.expect("ping");
    conn.read_exact(&mut [0u8; 64]).await.expect("pong");
}

/// Connection set-up and one 64-byte round trip, new connection each time.
async fn connects_raw(endpoint: &AgentAddress, port: u16, n: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let mut stream = raw(endpoint, port).await;
        raw_round_trip(&mut stream).await;
        times.push(started.elapsed());
    }
    times
}

async fn connects_forwarded(port: u16, n: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let mut conn = forwarded(port).await;
        conn.write_all(&[0x61u8; 64]).await.expect("ping");
        conn.read_exact(&mut [0u8; 64]).await.expect("pong");
        times.push(started.elapsed());
    }
    times
}

struct Counter(u64);

impl tokio::io::AsyncWrite for Counter {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0 += buf.len() as u64;
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// `future`, or a panic naming `what` when it stalls (a transfer that stops moving).
async fn bounded<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(180), future)
        .await
        .unwrap_or_else(|_| panic!("{what} made no progress within 180 s"))
}

fn check_count(answer: &[u8], bytes: u64) {
    let text = String::from_utf8_lossy(answer);
    assert_eq!(text.trim(), bytes.to_string(), "the sink's count");
}

fn mbps(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort();
    times[((times.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let mib: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(16);
    let bytes = mib << 20;
    let net_echo = net_echo();
    let dir = tempfile::tempdir().expect("tempdir");
    let vm = EngineVm::start(dir.path(), None).await;
    let endpoint = vm.endpoint.clone();
    let socket = vm.socket_path();
    let forwarder = PortForwarder::start(&endpoint, false, berth_core::saver::Saver::new());
    docker(
        &socket,
        &["import", "-", IMAGE],
        Some(test_rootfs(&[&net_echo])),
    )
    .await;
    let ports = Ports {
        sink: free_port(),
        source: free_port(),
        echo: free_port(),
    };
    for (mode, port) in [
        ("tcp-sink", ports.sink),
        ("tcp-source", ports.source),
        ("tcp-echo", ports.echo),
    ] {
        let publish = format!("{port}:9000");
        let args = [
            "run",
            "-d",
            "-p",
            &publish,
            IMAGE,
            "/net-echo",
            mode,
            "9000",
        ];
        docker(&socket, &args, None).await;
    }
    for port in [ports.sink, ports.source, ports.echo] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "port {port} was not forwarded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Warm up both paths, then alternate them (and which goes first) so machine noise hits
    // both alike; each pair also gives a ratio of its own.
    bounded("warm-up", upload_raw(&endpoint, ports.sink, 4 << 20)).await;
    bounded("warm-up", upload_forwarded(ports.sink, 4 << 20)).await;
    let (mut up_raw, mut up_fwd, mut down_raw, mut down_fwd) = (vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        for raw_first in [round % 2 == 0, round % 2 == 1] {
            if raw_first {
                up_raw.push(bounded("raw upload", upload_raw(&endpoint, ports.sink, bytes)).await);
                down_raw.push(
                    bounded("raw download", download_raw(&endpoint, ports.source, bytes)).await,
                );
            } else {
                up_fwd.push(bounded("forwarded upload", upload_forwarded(ports.sink, bytes)).await);
                down_fwd.push(
                    bounded(
                        "forwarded download",
                        download_forwarded(ports.source, bytes),
                    )
                    .await,
                );
            }
        }
    }
    let mut rtt_raw_conn = raw(&endpoint, ports.echo).await;
    let mut rtt_fwd_conn = forwarded(ports.echo).await;
    let (mut rtt_raw, mut rtt_fwd, mut conn_raw, mut conn_fwd) = (vec![], vec![], vec![], vec![]);
    for i in 0..PINGS {
        for raw_first in [i % 2 == 0, i % 2 == 1] {
            let started = Instant::now();
            if raw_first {
                bounded("raw ping", raw_round_trip(&mut rtt_raw_conn)).await;
                rtt_raw.push(started.elapsed());
            } else {
                bounded("forwarded ping", forwarded_round_trip(&mut rtt_fwd_conn)).await;
                rtt_fwd.push(started.elapsed());
            }
        }
        if i % (PINGS / CONNECTS) == 0 {
            conn_raw.extend(bounded("raw connect", connects_raw(&endpoint, ports.echo, 1)).await);
            conn_fwd.extend(bounded("forwarded connect", connects_forwarded(ports.echo, 1)).await);
        }
    }
    let pair_ratio = |fwd: &[f64], raw: &[f64]| {
        let ratios: Vec<f64> = fwd.iter().zip(raw).map(|(f, r)| f / r).collect();
        Row::stats(&ratios).0
    };
    println!(
        "paired ratios (forwarded/raw, median of {ROUNDS} pairs): host → guest {:.2}, guest → host {:.2}",
        pair_ratio(&up_fwd, &up_raw),
        pair_ratio(&down_fwd, &down_raw)
    );
    for status in forwarder.status() {
        assert!(status.error.is_none(), "{status:?}");
    }
    drop(forwarder);
    vm.stop().await;

    let throughput = |name: &str, fwd: &[f64], raw: &[f64]| {
        Row::measured(
            name,
            "MB/s",
            Better::Higher,
            fwd,
            "raw vsock data connection",
            raw,
            Goal::Ratio { bound: 0.8 },
        )
    };
    let micros =
        |times: &[Duration]| -> Vec<f64> { times.iter().map(|t| t.as_secs_f64() * 1e6).collect() };
    let rows = [
        throughput("published port, host → guest", &up_fwd, &up_raw),
        throughput("published port, guest → host", &down_fwd, &down_raw),
        Row::measured(
            "published port, 64-byte round trip",
            "µs",
            Better::Lower,
            &micros(&rtt_fwd),
            "raw vsock data connection",
            &micros(&rtt_raw),
            Goal::None,
        ),
        Row::measured(
            "published port, connect + round trip",
            "µs",
            Better::Lower,
            &micros(&conn_fwd),
            "raw vsock data connection",
            &micros(&conn_raw),
            Goal::None,
        ),
    ];
    println!("published TCP port vs raw vsock data connection ({ROUNDS} rounds of {mib} MiB):");
    for row in &rows {
        let (fwd_p99, raw_p99) = match row.name.as_str() {
            n if n.ends_with("64-byte round trip") => (
                percentile(&mut rtt_fwd, 0.99).as_micros().to_string(),
                percentile(&mut rtt_raw, 0.99).as_micros().to_string(),
            ),
            n if n.ends_with("connect + round trip") => (
                percentile(&mut conn_fwd, 0.99).as_micros().to_string(),
                percentile(&mut conn_raw, 0.99).as_micros().to_string(),
            ),
            _ => ("-".into(), "-".into()),
        };
        println!(
            "  {:<38} forwarded {:>9.1} {} (p99 {fwd_p99})  raw {:>9.1} (p99 {raw_p99})  ratio {:.2}  {}",
            row.name,
            row.median,
            row.unit,
            row.baseline,
            row.ratio(),
            row.goal_text()
        );
    }
    for row in rows {
        row.emit();
    }
}
