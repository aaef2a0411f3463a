//! Benchmark: what the running VM costs and how fast the engine runs containers, each against a
//! baseline measured in the same run:
//!
//! - `docker run --rm busybox true` through the host socket (timed with hyperfine) against the
//!   same command run inside the guest on the engine's own socket;
//! - idle host CPU over 60 s with the engine running and nothing else, against an idle bare
//!   kernel on the same machine and acceleration (busybox `sleep` as init);
//! - QEMU's RSS after a container allocates and frees 1 GiB (free page reporting gives the
//!   memory back) against its idle RSS just before.
//!
//!     cargo run --release -p berth-e2e --bin vm-resources

use std::path::Path;
use std::time::{Duration, Instant};

use berth_core::agent::AgentAddress;
use berth_e2e::cpu::cpu_seconds;
use berth_e2e::engine::{docker, EngineVm};
use berth_e2e::report::{Better, Goal, Row};

const IMAGE: &str = "berth-bench/busybox:1";
/// How long idle CPU is measured, in windows of [`WINDOW`] (the repetitions).
const IDLE: Duration = Duration::from_secs(60);
const WINDOW: Duration = Duration::from_secs(10);
/// Repetitions of `docker run`.
const RUNS: usize = 5;

/// Host CPU use of `pids` over [`IDLE`], in percent of one core, per [`WINDOW`].
async fn idle_cpu(pids: &[u32]) -> Vec<f64> {
    let mut windows = Vec::new();
    let end = Instant::now() + IDLE;
    while Instant::now() < end {
        let before = cpu_seconds(pids);
        let start = Instant::now();
        tokio::time::sleep(WINDOW).await;
        windows.push(100.0 * (cpu_seconds(pids) - before) / start.elapsed().as_secs_f64());
    }
    windows
}

/// Resident memory of `pid`, in MiB.
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `docker run --rm IMAGE true` through the host socket, timed by hyperfine; seconds.
async fn host_runs(socket: &Path) -> Vec<f64> {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("hyperfine.json");
    let command = format!(
        "docker -H unix://{} run --rm {IMAGE} true",
        socket.display()
    );
    let status = tokio::process::Command::new("hyperfine")
        .args([
            "-N",
            "--warmup",
            "1",
            "--runs",
            &RUNS.to_string(),
            "--export-json",
        ])
        .arg(&json)
        .arg(&command)
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .expect("hyperfine (apt-get install hyperfine)");
    assert!(status.success(), "hyperfine failed");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("hyperfine report")).expect("json");
    report["results"][0]["times"]
        .as_array()
        .expect("times")
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect()
}

/// The same command inside the guest on the engine's own socket; seconds.
async fn guest_runs(endpoint: &AgentAddress) -> Vec<f64> {
    let script = format!(
        "docker run --rm {IMAGE} true\n\
         for i in $(seq {RUNS}); do s=$(date +%s%N); docker run --rm {IMAGE} true; \
         e=$(date +%s%N); echo run-ns=$((e - s)); done\n"
    );
    let out = berth_e2e::engine::guest_shell(endpoint, &script).await;
    let times: Vec<f64> = out
        .lines()
        .filter_map(|l| l.strip_prefix("run-ns="))
        .filter_map(|ns| ns.trim().parse::<f64>().ok())
        .map(|ns| ns / 1e9)
        .collect();
    assert_eq!(times.len(), RUNS, "guest runs failed: {out}");
    times
}

/// QEMU's RSS while idle, then after a container allocated and freed 1 GiB; MiB.
async fn balloon(socket: &Path, qemu: u32) -> (f64, f64, f64) {
    tokio::time::sleep(Duration::from_secs(15)).await;
    let idle = rss_mib(qemu);
    // The sampler stops when told to and returns the highest RSS it saw.
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let sampler = tokio::spawn(async move {
        let mut peak: f64 = 0.0;
        loop {
            peak = peak.max(rss_mib(qemu));
            tokio::select! {
                _ = &mut stopped => return peak,
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    });
    // 1 GiB written to the container's own /dev/shm (a tmpfs), freed when the container ends.
    // (A 1 GiB `dd` buffer read from /dev/zero is not enough: its pages were never all touched,
    // and QEMU's RSS barely moved.)
    docker(
        socket,
        &[
            "run",
            "--rm",
            "--shm-size",
            "1100m",
            IMAGE,
            "dd",
            "if=/dev/zero",
            "of=/dev/shm/fill",
            "bs=1M",
            "count=1024",
        ],
        None,
    )
    .await;
    // Free page reporting returns freed memory in the background; give it time.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let after = rss_mib(qemu);
    let _ = stop.send(());
    let peak = sampler.await.unwrap_or(after);
    (idle, peak, after)
}

/// Host CPU of an idle bare kernel (busybox `sleep` as init), percent of one core.
async fn bare_idle_cpu() -> Vec<f64> {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = berth_e2e::bare_kernel_config(dir.path(), &["/bin/sleep", "100000"]);
    let mut qemu = tokio::process::Command::new(&config.binary)
        .args(config.args())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("QEMU");
    // Let the kernel finish booting before measuring.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let cpu = idle_cpu(&[qemu.id().expect("pid")]).await;
    let _ = qemu.kill().await;
    cpu
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vm = EngineVm::start(dir.path(), Some(2048)).await;
    let socket = vm.socket_path();
    let qemu = vm.vm.pid().expect("QEMU pid");
    docker(
        &socket,
        &["import", "-", IMAGE],
        Some(berth_e2e::berth::busybox_rootfs(
            berth_e2e::berth::APPLETS,
            &[],
        )),
    )
    .await;

    let (idle_rss, peak_rss, after_rss) = balloon(&socket, qemu).await;
    println!("QEMU RSS: idle {idle_rss:.0} MiB, peak {peak_rss:.0} MiB while 1 GiB is used, {after_rss:.0} MiB 30 s after it is freed");
    let engine_cpu = idle_cpu(&vm.vm.pids()).await;
    println!(
        "idle host CPU with the engine running: {:.1}% of a core over {IDLE:?} (median of {WINDOW:?} windows)",
        Row::stats(&engine_cpu).0
    );
    let host = host_runs(&socket).await;
    let guest = guest_runs(&vm.endpoint).await;
    println!(
        "docker run --rm busybox true: host socket {:.2} s, inside the guest {:.2} s (medians)",
        Row::stats(&host).0,
        Row::stats(&guest).0
    );
    vm.stop().await;
    let bare_cpu = bare_idle_cpu().await;
    println!(
        "idle host CPU of a bare kernel: {:.1}% of a core over {IDLE:?}",
        Row::stats(&bare_cpu).0
    );

    let rows = [
        Row::measured(
            "docker run --rm busybox true, host socket",
            "s",
            Better::Lower,
            &host,
            "the same inside the guest",
            &guest,
            Goal::None,
        ),
        Row::measured(
            "idle host CPU, engine running (60 s)",
            "% of a core",
            Better::Lower,
            &engine_cpu,
            "idle bare kernel, same acceleration",
            &bare_cpu,
            Goal::None,
        ),
        Row::measured(
            "QEMU RSS while a container holds 1 GiB",
            "MiB",
            Better::Lower,
            &[peak_rss],
            "QEMU RSS idle, just before",
            &[idle_rss],
            Goal::None,
        ),
        Row::measured(
            "QEMU RSS 30 s after that 1 GiB is freed",
            "MiB",
            Better::Lower,
            &[after_rss],
            "QEMU RSS idle, just before",
            &[idle_rss],
            Goal::None,
        ),
    ];
    for row in rows {
        row.emit();
    }
}
