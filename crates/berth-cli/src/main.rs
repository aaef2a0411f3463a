//! `berth`: the Berth command-line interface.
//!
//! - `berth start` launches the supervisor ([`supervisor`]) in the background and returns once
//!   the engine answers, printing each phase ([`lifecycle`]); `--foreground` runs it in the
//!   terminal instead, until Ctrl-C.
//! - `berth stop` asks the supervisor to stop the engine and power the VM off.
//! - `berth status [--json]` reports the VM's state, and the guest's when it runs.
//! - [`context`] keeps the `berth` docker context pointing at the engine socket.

mod context;
mod lifecycle;
mod supervisor;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

/// Berth: containers on a small Linux VM.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How to run the VM.
#[derive(Args, Clone, Debug)]
pub struct VmOptions {
    /// The guest image directory (printed by vm-image/build.sh).
    #[arg(long, env = "BERTH_IMAGE")]
    pub image: PathBuf,
    /// Virtual CPUs.
    #[arg(long, default_value_t = 2)]
    pub cpus: u32,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 1024)]
    pub memory: u32,
    /// Size of the engine's data disk in GiB (sparse; only used space takes room).
    #[arg(long, default_value_t = 64)]
    pub disk: u32,
    /// Seconds to wait for the guest and the engine.
    #[arg(long, default_value_t = 300)]
    pub boot_timeout: u64,
}

impl VmOptions {
    /// The options as command-line arguments, for the background supervisor.
    fn to_args(&self) -> Vec<String> {
        vec![
            "--image".into(),
            self.image.display().to_string(),
            "--cpus".into(),
            self.cpus.to_string(),
            "--memory".into(),
            self.memory.to_string(),
            "--disk".into(),
            self.disk.to_string(),
            "--boot-timeout".into(),
            self.boot_timeout.to_string(),
        ]
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.boot_timeout)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Start the Berth VM; returns once the engine answers.
    Start {
        #[command(flatten)]
        vm: VmOptions,
        /// Stay in the foreground until Ctrl-C instead of returning.
        #[arg(long)]
        foreground: bool,
    },
    /// Stop the engine and power the VM off.
    Stop,
    /// Show whether Berth runs, and the guest's state.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// The background supervisor that `berth start` launches.
    #[command(hide = true)]
    Supervise {
        #[command(flatten)]
        vm: VmOptions,
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
            vm,
            foreground: true,
        } => supervisor::run(vm, true).await,
        Command::Start {
            vm,
            foreground: false,
        } => lifecycle::start(vm).await,
        Command::Supervise { vm } => supervisor::run(vm, false).await,
        Command::Stop => lifecycle::stop().await,
        Command::Status { json } => lifecycle::status(json).await,
    }
}
