//! Benchmark: the resource saver on the real daemon, each figure against a baseline measured
//! in the same run:
//!
//! - host CPU of all of Berth's processes (the daemon, QEMU, its helpers) while the VM is
//!   paused, against the same while it idles running, and against an idle bare kernel is in
//!   `vm-resources`;
//! - wake latency: `docker version` on a paused VM (`berth pause` first), over
//!   [`WAKES`] pauses, against `docker version` on the running VM.
//!
//!     cargo run --release -p berth-e2e --bin resource-saver

use std::process::Command;
use std::time::{Duration, Instant};

use berth_e2e::berth::Env;
use berth_e2e::cpu::cpu_seconds;
use berth_e2e::report::{Better, Goal, Row};

/// How long each CPU figure is measured, in windows of [`WINDOW`] (the repetitions).
const IDLE: Duration = Duration::from_secs(40);
const WINDOW: Duration = Duration::from_secs(10);
/// Pauses and wakes timed.
const WAKES: usize = 12;

/// Berth's processes for `env` (everything started with its home on the command line).
fn pids(env: &Env) -> Vec<u32> {
    let out = Command::new("pgrep")
        .arg("-f")
        .arg(&env.home)
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// CPU use of `pids` over [`IDLE`], percent of one core, per [`WINDOW`].
fn idle_cpu(pids: &[u32]) -> Vec<f64> {
    let mut windows = Vec::new();
    let end = Instant::now() + IDLE;
    while Instant::now() < end {
        let before = cpu_seconds(pids);
        let start = Instant::now();
        std::thread::sleep(WINDOW);
        windows.push(100.0 * (cpu_seconds(pids) - before) / start.elapsed().as_secs_f64());
    }
    windows
}

/// Seconds `docker version` takes.
fn docker_version(env: &Env) -> f64 {
    let started = Instant::now();
    env.docker(&["version"], None);
    started.elapsed().as_secs_f64()
}

fn main() {
    let env = Env::new();
    // Pauses here come from `berth pause`, not from the quiet time.
    env.write_settings(&serde_json::json!({ "resource_saver_seconds": 0 }));
    env.start();
    let berth = pids(&env);

    // Running and idle, then paused.
    std::thread::sleep(Duration::from_secs(10));
    let running_cpu = idle_cpu(&berth);
    env.pause_now();
    let paused_cpu = idle_cpu(&berth);
    println!(
        "host CPU of Berth's processes: {:.2}% of a core paused, {:.2}% running idle",
        Row::stats(&paused_cpu).0,
        Row::stats(&running_cpu).0
    );

    let mut woken = Vec::new();
    let mut awake = Vec::new();
    for _ in 0..WAKES {
        awake.push(docker_version(&env));
        env.pause_now();
        woken.push(docker_version(&env));
    }
    let mut sorted = woken.clone();
    sorted.sort_by(f64::total_cmp);
    let p99 = sorted[((sorted.len() as f64 * 0.99).ceil() as usize).min(sorted.len()) - 1];
    println!(
        "docker version: {:.3} s on a paused VM (p50; p99 {p99:.3} s over {WAKES}), {:.3} s running",
        Row::stats(&woken).0,
        Row::stats(&awake).0
    );
    env.stop();

    for row in [
        Row::measured(
            "host CPU, VM paused (all of Berth's processes)",
            "% of a core",
            Better::Lower,
            &paused_cpu,
            "the same, VM running idle",
            &running_cpu,
            Goal::Absolute { bound: 0.1 },
        ),
        Row::measured(
            "docker version on a paused VM (wake)",
            "s",
            Better::Lower,
            &woken,
            "docker version on the running VM",
            &awake,
            Goal::Absolute { bound: 1.0 },
        ),
        Row::measured(
            "docker version on a paused VM, p99",
            "s",
            Better::Lower,
            &[p99],
            "docker version on the running VM",
            &awake,
            Goal::Absolute { bound: 1.0 },
        ),
    ] {
        row.emit();
    }
}
