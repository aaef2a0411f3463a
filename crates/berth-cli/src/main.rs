//! `berth`: the Berth command-line interface.
//!
//! `berth start` boots the Berth VM from a verified guest image with its data disk, waits for
//! the engine, serves the engine socket and points the `berth` docker context at it; it stays in
//! the foreground until Ctrl-C or SIGTERM, then powers the guest off cleanly.

mod context;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use berth_core::agent::AgentClient;
use berth_core::engine_socket::EngineSocket;
use berth_core::{accel, disk, image::GuestImage, paths::Paths, qemu, vm};
use berth_protocol::message::{EngineState, Event, Request};
use clap::{Parser, Subcommand};

/// Berth: containers on a small Linux VM.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Boot the Berth VM and keep it running until Ctrl-C.
    Start {
        /// The guest image directory (printed by vm-image/build.sh).
        #[arg(long, env = "BERTH_IMAGE")]
        image: PathBuf,
        /// Virtual CPUs.
        #[arg(long, default_value_t = 2)]
        cpus: u32,
        /// Guest memory in MiB.
        #[arg(long, default_value_t = 1024)]
        memory: u32,
        /// Size of the engine's data disk in GiB (sparse; only used space takes room).
        #[arg(long, default_value_t = 64)]
        disk: u32,
        /// Seconds to wait for the guest to become ready.
        #[arg(long, default_value_t = 180)]
        boot_timeout: u64,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Start {
            image,
            cpus,
            memory,
            disk,
            boot_timeout,
        } => start(image, cpus, memory, disk, Duration::from_secs(boot_timeout)).await,
    }
}

async fn start(
    image_dir: PathBuf,
    cpus: u32,
    memory: u32,
    disk_gib: u32,
    timeout: Duration,
) -> Result<()> {
    let binary = qemu::find_binary()?;
    let image = tokio::task::spawn_blocking(move || GuestImage::open(&image_dir))
        .await?
        .context("the guest image cannot be used")?;
    let detected = accel::detect();
    eprintln!(
        "berth: acceleration {} ({})",
        detected.accel, detected.reason
    );
    let paths = Paths::for_user()?;
    let mut config = qemu::QemuConfig::for_image(&image, binary, detected.accel, &paths.runtime);
    config.cpus = cpus;
    config.memory_mib = memory;
    let data_disk = paths.data.join("data.qcow2");
    if disk::ensure_data_disk(&data_disk, disk_gib).await? {
        eprintln!("berth: created the data disk {}", data_disk.display());
    }
    config.data_disk = Some(data_disk);
    eprintln!(
        "berth: booting (console log: {})",
        config.console_log.display()
    );
    let running = vm::boot_with_retry(&config, timeout).await?;
    eprintln!(
        "berth: ready in {:.1} s (agent {} protocol {}, guest uptime {} ms); Ctrl-C stops",
        running.boot_time.as_secs_f64(),
        running.ready.version,
        running.ready.protocol,
        running.ready.uptime_ms
    );
    let uds = running
        .vsock_uds()
        .context("the VM has no vsock device")?
        .to_path_buf();
    let mut agent = AgentClient::connect(&uds).await?;
    agent.request(Request::Subscribe).await?;
    eprintln!("berth: waiting for the engine");
    loop {
        match agent.next_event().await? {
            Event::EngineStateChanged {
                state: EngineState::Ready,
            } => break,
            Event::EngineStateChanged { state } => tracing::info!("engine: {state:?}"),
            Event::PortsChanged { .. } => {}
        }
    }
    let socket = EngineSocket::serve(&paths.runtime.join("docker.sock"), uds).await?;
    let context = context::ensure(socket.path()).await;
    eprintln!("berth: engine ready; socket {}", socket.path().display());
    match context {
        Ok(()) => {
            eprintln!("berth: try `docker --context berth version` (or `docker context use berth`)")
        }
        Err(warning) => eprintln!("berth: warning: {warning}"),
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("berth: powering off");
    drop(socket);
    let status = running.power_off(Duration::from_secs(20)).await?;
    eprintln!("berth: stopped ({status})");
    Ok(())
}
