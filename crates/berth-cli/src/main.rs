//! `berth`: the Berth command-line interface.
//!
//! `berth start` boots the Berth VM from a verified guest image and stays in the foreground
//! until Ctrl-C or SIGTERM, then powers the guest off cleanly.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use berth_core::{accel, image::GuestImage, paths::Paths, qemu, vm};
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
            boot_timeout,
        } => start(image, cpus, memory, Duration::from_secs(boot_timeout)).await,
    }
}

async fn start(image_dir: PathBuf, cpus: u32, memory: u32, timeout: Duration) -> Result<()> {
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
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("berth: powering off");
    let status = running.power_off(Duration::from_secs(20)).await?;
    eprintln!("berth: stopped ({status})");
    Ok(())
}
