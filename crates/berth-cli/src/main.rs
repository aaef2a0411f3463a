//! `berth`: the Berth command-line interface.
//!
//! - `berth start` launches the supervisor ([`supervisor`]) in the background and returns once
//!   the engine answers, printing each phase ([`lifecycle`]); `--foreground` runs it in the
//!   terminal instead, until Ctrl-C.
//! - `berth stop` asks the supervisor to stop the engine and power the VM off; `berth restart`
//!   stops, then starts.
//! - `berth events [--json]` follows the VM's lifecycle and the engine's events ([`events`]).
//! - `berth status [--json]` reports the VM's state, and the guest's when it runs.
//! - `berth logs` prints the console, agent, engine or containerd log ([`logs`]).
//! - `berth shell` opens a root shell in the VM ([`shell`]).
//! - `berth reset` deletes the data disk and the settings, after confirmation.
//! - `berth doctor` checks the machine and names the fix for each problem ([`doctor`]).
//! - [`engine_ready`] follows the engine's start after the agent's ready line.
//! - [`context`] keeps the `berth` docker context pointing at the engine socket.

#[cfg(unix)]
mod context;
mod doctor;
#[cfg(unix)]
mod engine_ready;
mod events;
#[cfg(unix)]
mod lifecycle;
mod logs;
#[cfg(unix)]
mod platform;
#[cfg(unix)]
mod shell;
#[cfg(unix)]
mod supervisor;
#[cfg(not(unix))]
mod unsupported;
#[cfg(not(unix))]
use unsupported::{lifecycle, shell, supervisor};

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
    /// The guest image directory (printed by vm-image/build.sh; default: the installed one).
    #[arg(long, env = "BERTH_IMAGE", default_value_os_t = installed_image())]
    pub image: PathBuf,
    /// Virtual CPUs (default: from settings.json, else half the host's).
    #[arg(long)]
    pub cpus: Option<u32>,
    /// Guest memory in MiB (default: from settings.json, else a quarter of the host's).
    #[arg(long)]
    pub memory: Option<u32>,
    /// Size of the sparse data disk in GiB when it is created (default: settings.json, or 64).
    #[arg(long)]
    pub disk: Option<u32>,
    /// Seconds to wait for the guest and the engine.
    #[arg(long, default_value_t = 300)]
    pub boot_timeout: u64,
}

// The supervisor is Unix-only for now (see `unsupported`).
#[cfg_attr(not(unix), allow(dead_code))]
impl VmOptions {
    /// The options as command-line arguments, for the background supervisor.
    fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--image".into(),
            self.image.display().to_string(),
            "--boot-timeout".into(),
            self.boot_timeout.to_string(),
        ];
        for (flag, value) in [
            ("--cpus", self.cpus),
            ("--memory", self.memory),
            ("--disk", self.disk),
        ] {
            if let Some(value) = value {
                args.extend([flag.to_owned(), value.to_string()]);
            }
        }
        args
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.boot_timeout)
    }
}

/// Where a packaged Berth keeps its guest image (`/usr/share/berth/image` for `/usr/bin/berth`).
fn installed_image() -> PathBuf {
    berth_core::install::Layout::current()
        .map(|layout| layout.image)
        .unwrap_or_else(|| PathBuf::from("/usr/share/berth/image"))
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
    /// Stop Berth if it runs, then start it.
    Restart {
        #[command(flatten)]
        vm: VmOptions,
    },
    /// Follow the VM's lifecycle and the engine's events as they happen (until Ctrl-C).
    Events {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show whether Berth runs, and the guest's state.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print a log: the VM's console, the agent, the engine or containerd.
    Logs {
        /// Which log.
        #[arg(value_enum, default_value = "engine")]
        source: logs::Source,
        /// How many lines from the end.
        #[arg(short = 'n', long, default_value_t = 100)]
        lines: u32,
        /// Keep printing new lines.
        #[arg(short, long)]
        follow: bool,
    },
    /// A root shell in the VM (reads a script from stdin when it is not a terminal).
    Shell,
    /// Check that this machine can run Berth, with the fix for each problem.
    Doctor {
        /// A guest image directory to verify too.
        #[arg(long, env = "BERTH_IMAGE")]
        image: Option<PathBuf>,
    },
    /// Delete the data disk (all images, containers, volumes) and the settings.
    Reset {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
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
        Command::Restart { vm } => lifecycle::restart(vm).await,
        Command::Events { json } => events::run(json).await,
        Command::Status { json } => lifecycle::status(json).await,
        Command::Logs {
            source,
            lines,
            follow,
        } => logs::run(source, lines, follow).await,
        Command::Doctor { image } => doctor::run(image).await,
        Command::Shell => shell::run().await,
        Command::Reset { yes } => lifecycle::reset(yes).await,
    }
}
