//! Benchmark: the Docker API through Berth's host socket against the same requests on a raw
//! vsock data connection (the baseline, measured in the same run):
//!
//! - latency: `GET /_ping` over one keep-alive connection each, so the figure is what the
//!   socket relay adds per request (goal: at most 100 µs added at p50);
//! - throughput: a 256 MiB file copied out of a container (`GET /containers/…/archive`), each
//!   transfer on a new connection (goal: at least 90% of the raw connection's rate).
//!
//!     cargo run --release -p berth-e2e --bin engine-api -- [REQUESTS]

use std::time::{Duration, Instant};

use berth_core::agent::{open_data_plain, AgentClient};
use berth_core::engine_socket::EngineSocket;
use berth_e2e::{config_with_data_disk, image_dir, open_image};
use berth_protocol::data::DataHeader;
use berth_protocol::message::{EngineState, Event, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const PING: &[u8] = b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n";

/// Sends `n` pings on one connection; returns each round trip.
async fn pings<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, n: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    let mut buf = [0u8; 4096];
    for _ in 0..n {
        let start = Instant::now();
        stream.write_all(PING).await.expect("write");
        let mut got = Vec::new();
        // The response ends with its 2-byte body "OK".
        while !got.ends_with(b"\r\n\r\nOK") {
            let read = stream.read(&mut buf).await.expect("read");
            assert!(read > 0, "the engine closed the connection");
            got.extend_from_slice(&buf[..read]);
        }
        times.push(start.elapsed());
    }
    times
}

/// The size of the file copied out.
const BIG_MIB: u64 = 256;
/// Transfers per path.
const TRANSFERS: usize = 3;

/// `docker` against the host socket; panics unless it succeeds.
fn docker(socket: &std::path::Path, args: &[&str], stdin: Option<Vec<u8>>) {
    use std::io::Write;
    let mut child = std::process::Command::new("docker")
        .arg("-H")
        .arg(format!("unix://{}", socket.display()))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("docker CLI");
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(input) = stdin {
        pipe.write_all(&input).expect("stdin");
    }
    drop(pipe);
    assert!(child.wait().expect("docker").success(), "docker {args:?}");
}

/// Sends one HTTP/1.0 request and reads the response to its end; returns the bytes read.
async fn fetch<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request: &str) -> u64 {
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = stream.read(&mut buf).await.expect("read");
        if n == 0 {
            return total;
        }
        total += n as u64;
    }
}

/// Copies a 256 MiB file out of a container over both paths, alternating; prints MB/s.
async fn throughput(uds: &std::path::Path, socket: &std::path::Path) {
    let rootfs = berth_e2e::berth::busybox_rootfs();
    let sock = socket.to_path_buf();
    tokio::task::spawn_blocking(move || {
        docker(
            &sock,
            &["import", "-", "berth-bench/busybox:1"],
            Some(rootfs),
        );
        let count = format!("count={BIG_MIB}");
        docker(
            &sock,
            &[
                "run",
                "--name",
                "berth-bench-big",
                "berth-bench/busybox:1",
                "dd",
                "if=/dev/zero",
                "of=/big",
                "bs=1M",
                &count,
            ],
            None,
        );
    })
    .await
    .expect("set-up");
    let request =
        "GET /containers/berth-bench-big/archive?path=/big HTTP/1.0\r\nHost: docker\r\n\r\n";
    let (mut raw_rates, mut host_rates) = (Vec::new(), Vec::new());
    for round in 0..=TRANSFERS {
        let start = Instant::now();
        let raw = open_data_plain(uds, DataHeader::EngineApi)
            .await
            .expect("raw");
        let bytes = fetch(raw, request).await;
        let raw_rate = bytes as f64 / start.elapsed().as_secs_f64() / 1e6;
        let start = Instant::now();
        let host = tokio::net::UnixStream::connect(socket)
            .await
            .expect("socket");
        let bytes = fetch(host, request).await;
        let host_rate = bytes as f64 / start.elapsed().as_secs_f64() / 1e6;
        assert!(bytes > BIG_MIB << 20, "short transfer: {bytes} bytes");
        // The first round warms the page cache and the engine.
        if round > 0 {
            raw_rates.push(raw_rate);
            host_rates.push(host_rate);
        }
    }
    let median = |rates: &mut Vec<f64>| {
        rates.sort_by(f64::total_cmp);
        (rates[rates.len() / 2], rates[0], rates[rates.len() - 1])
    };
    let (raw, raw_lo, raw_hi) = median(&mut raw_rates);
    let (host, host_lo, host_hi) = median(&mut host_rates);
    println!(
        "{BIG_MIB} MiB out of a container (GET /containers/…/archive), {TRANSFERS} transfers each:"
    );
    println!("  raw vsock data connection  {raw:>7.1} MB/s  ({raw_lo:.1}–{raw_hi:.1})");
    println!("  host engine socket         {host:>7.1} MB/s  ({host_lo:.1}–{host_hi:.1})");
    println!("  ratio {:.2}  (goal >= 0.90)", host / raw);
}

fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort();
    times[((times.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let image = open_image(&image_dir());
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_with_data_disk(&image, dir.path()).await;
    let started = Instant::now();
    let vm = berth_core::vm::boot_with_retry(&config, Duration::from_secs(180))
        .await
        .expect("boot");
    let uds = vm.vsock_uds().expect("vsock").to_path_buf();
    let mut agent = AgentClient::connect(&uds).await.expect("agent");
    agent.request(Request::Subscribe).await.expect("subscribe");
    while agent.next_event().await.expect("event")
        != (Event::EngineStateChanged {
            state: EngineState::Ready,
        })
    {}
    println!(
        "start to engine ready: {:.1} s (guest ready after {:.1} s)",
        started.elapsed().as_secs_f64(),
        vm.boot_time.as_secs_f64()
    );
    let socket = EngineSocket::serve(&dir.path().join("docker.sock"), uds.clone())
        .await
        .expect("socket");

    let mut raw = open_data_plain(&uds, DataHeader::EngineApi)
        .await
        .expect("raw");
    let mut host = tokio::net::UnixStream::connect(socket.path())
        .await
        .expect("socket");
    // Warm up both paths, then interleave rounds so machine noise hits both alike.
    pings(&mut raw, 50).await;
    pings(&mut host, 50).await;
    let (mut raw_times, mut host_times) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        raw_times.extend(pings(&mut raw, n / 5).await);
        host_times.extend(pings(&mut host, n / 5).await);
    }
    let (r50, r99) = (
        percentile(&mut raw_times, 0.5),
        percentile(&mut raw_times, 0.99),
    );
    let (h50, h99) = (
        percentile(&mut host_times, 0.5),
        percentile(&mut host_times, 0.99),
    );
    println!("GET /_ping, {} requests each, keep-alive:", raw_times.len());
    println!(
        "  raw vsock data connection  p50 {:>7} µs  p99 {:>7} µs",
        r50.as_micros(),
        r99.as_micros()
    );
    println!(
        "  host engine socket         p50 {:>7} µs  p99 {:>7} µs",
        h50.as_micros(),
        h99.as_micros()
    );
    let added = h50.as_micros() as i128 - r50.as_micros() as i128;
    println!(
        "  added by the socket relay  p50 {added:>7} µs  (goal <= 100 µs); ratio {:.2}",
        h50.as_secs_f64() / r50.as_secs_f64()
    );

    throughput(&uds, socket.path()).await;
    drop(socket);
    vm.power_off(Duration::from_secs(60))
        .await
        .expect("power off");
}
