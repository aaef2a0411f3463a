//! Benchmark: the Docker API through Berth's host socket against the same requests on a raw
//! vsock data connection (the baseline, measured in the same run), over one keep-alive
//! connection each, so the figure is what the socket relay adds per request.
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
    drop(socket);
    vm.power_off(Duration::from_secs(60))
        .await
        .expect("power off");
}
