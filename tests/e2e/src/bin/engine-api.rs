//! Benchmark: the Docker API through Berth's host socket against the same requests on a raw
//! vsock data connection (the baseline, measured in the same run):
//!
//! - latency: `GET /_ping` over one keep-alive connection each, so the figure is what the
//!   socket relay adds per request (goal: at most 100 µs added at p50);
//! - throughput: a 256 MiB file copied out of a container (`GET /containers/…/archive`), each
//!   transfer on a new connection (goal: at least 90% of the raw connection's rate).
//!
//!     cargo run --release -p berth-e2e --bin engine-api -- [REQUESTS]

use std::path::Path;
use std::time::Instant;

use berth_core::agent::open_data_plain;
use berth_core::agent::AgentAddress;
use berth_e2e::engine::{docker, EngineVm};
use berth_e2e::report::{Better, Goal, Row};
use berth_protocol::data::DataHeader;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const PING: &[u8] = b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n";
/// The size of the file copied out.
const BIG_MIB: u64 = 256;
/// Transfers per path, after one warm-up each.
const TRANSFERS: usize = 3;

/// Sends `n` pings on one connection; returns each round trip in µs.
async fn pings<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, n: usize) -> Vec<f64> {
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
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times
}

fn percentile(times: &[f64], p: f64) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
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

async fn latency(endpoint: &AgentAddress, socket: &Path, n: usize) -> Vec<Row> {
    let mut raw = open_data_plain(endpoint, DataHeader::EngineApi)
        .await
        .expect("raw");
    let mut host = tokio::net::UnixStream::connect(socket)
        .await
        .expect("socket");
    // Warm up both paths, then alternate request by request (which path goes first alternates
    // too), so a noisy moment on this TCG machine hits both alike.
    pings(&mut raw, 50).await;
    pings(&mut host, 50).await;
    let (mut raw_times, mut host_times) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        if i % 2 == 0 {
            raw_times.extend(pings(&mut raw, 1).await);
            host_times.extend(pings(&mut host, 1).await);
        } else {
            host_times.extend(pings(&mut host, 1).await);
            raw_times.extend(pings(&mut raw, 1).await);
        }
    }
    let (r50, r99) = (percentile(&raw_times, 0.5), percentile(&raw_times, 0.99));
    let (h50, h99) = (percentile(&host_times, 0.5), percentile(&host_times, 0.99));
    println!("GET /_ping, {} requests each, keep-alive:", raw_times.len());
    println!("  raw vsock data connection  p50 {r50:>7.0} µs  p99 {r99:>7.0} µs");
    println!("  host engine socket         p50 {h50:>7.0} µs  p99 {h99:>7.0} µs");
    println!(
        "  added by the socket relay  p50 {:>7.0} µs  (goal <= 100 µs); ratio {:.2}",
        h50 - r50,
        h50 / r50
    );
    let row = |name: &str, value: f64, baseline: f64, goal| Row {
        name: name.into(),
        unit: "µs".into(),
        better: Better::Lower,
        median: value,
        min: percentile(&host_times, 0.0),
        max: percentile(&host_times, 1.0),
        baseline_name: "raw vsock data connection".into(),
        baseline,
        goal,
    };
    vec![
        row(
            "Docker API GET /_ping p50, host socket",
            h50,
            r50,
            Goal::Added { bound: 100.0 },
        ),
        row(
            "Docker API GET /_ping p99, host socket",
            h99,
            r99,
            Goal::None,
        ),
    ]
}

/// How long one transfer may take before it counts as stalled.
const TRANSFER_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// One transfer's rate in MB/s, or why it failed (stalled, or cut short).
async fn rate<S: AsyncRead + AsyncWrite + Unpin>(stream: S, request: &str) -> Result<f64, String> {
    let start = Instant::now();
    let bytes = tokio::time::timeout(TRANSFER_LIMIT, fetch(stream, request))
        .await
        .map_err(|_| format!("stalled: no end within {TRANSFER_LIMIT:?}"))?;
    if bytes < BIG_MIB << 20 {
        return Err(format!("cut short after {bytes} bytes"));
    }
    Ok(bytes as f64 / start.elapsed().as_secs_f64() / 1e6)
}

/// Copies a 256 MiB file out of a container over both paths, alternating; MB/s.
async fn throughput(endpoint: &AgentAddress, socket: &Path) -> Result<Row, String> {
    let rootfs = berth_e2e::berth::busybox_rootfs(berth_e2e::berth::APPLETS, &[]);
    docker(
        socket,
        &["import", "-", "berth-bench/busybox:1"],
        Some(rootfs),
    )
    .await;
    let count = format!("count={BIG_MIB}");
    docker(
        socket,
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
    )
    .await;
    let request =
        "GET /containers/berth-bench-big/archive?path=/big HTTP/1.0\r\nHost: docker\r\n\r\n";
    let (mut raw_rates, mut host_rates) = (Vec::new(), Vec::new());
    for round in 0..=TRANSFERS {
        let raw = open_data_plain(endpoint, DataHeader::EngineApi)
            .await
            .expect("raw");
        let raw_rate = rate(raw, request)
            .await
            .map_err(|e| format!("raw vsock data connection: {e}"))?;
        let host = tokio::net::UnixStream::connect(socket)
            .await
            .expect("socket");
        let host_rate = rate(host, request)
            .await
            .map_err(|e| format!("host engine socket: {e}"))?;
        // The first round warms the page cache and the engine.
        if round > 0 {
            raw_rates.push(raw_rate);
            host_rates.push(host_rate);
        }
    }
    let row = Row::measured(
        "Docker API 256 MiB transfer, host socket",
        "MB/s",
        Better::Higher,
        &host_rates,
        "raw vsock data connection",
        &raw_rates,
        Goal::Ratio { bound: 0.9 },
    );
    println!(
        "{BIG_MIB} MiB out of a container (GET /containers/…/archive), {TRANSFERS} transfers each:"
    );
    println!("  raw vsock data connection  {:>7.1} MB/s", row.baseline);
    println!(
        "  host engine socket         {:>7.1} MB/s  ({:.1}–{:.1})",
        row.median, row.min, row.max
    );
    println!("  ratio {:.2}  (goal >= 0.90)", row.ratio());
    Ok(row)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir().expect("tempdir");
    let vm = EngineVm::start(dir.path(), None).await;
    println!(
        "start to engine ready: {:.1} s (guest ready after {:.1} s)",
        vm.engine_ready.as_secs_f64(),
        vm.vm.boot_time.as_secs_f64()
    );
    let socket = vm.socket_path();
    let mut rows = latency(&vm.endpoint, &socket, n).await;
    let transfer = throughput(&vm.endpoint, &socket).await;
    vm.stop().await;
    if let Ok(row) = &transfer {
        rows.push(row.clone());
    }
    for row in rows {
        row.emit();
    }
    if let Err(err) = transfer {
        eprintln!("engine-api: the 256 MiB transfer failed: {err}");
        std::process::exit(1);
    }
}
