//! `berth`: the Berth command-line interface.
//!
//! A thin client of the `berth-daemon` library, which owns the VM:
//! - `berth start` launches the daemon (`berth supervise`) in the background through
//!   [`berth_daemon::SupervisorClient`] and returns once the engine answers, printing each
//!   phase ([`lifecycle`]); `--foreground` runs the daemon in the terminal instead, until
//!   Ctrl-C.
//! - `berth stop` asks the daemon, on its command channel, to stop the engine and power the VM
//!   off; `berth restart` stops, then starts.
//! - `berth events [--json]` follows the VM's lifecycle and the engine's events ([`events`]).
//! - `berth status [--json]` reports the VM's state, and the guest's when it runs.
//! - `berth logs` prints the console, agent, engine or containerd log ([`logs`]).
//! - `berth shell` opens a root shell in the VM ([`shell`]).
//! - `berth env` prints `DOCKER_HOST` for tools that ignore docker contexts ([`env`]).
//! - `berth default-socket enable|disable|status`: the engine at `/var/run/docker.sock` (on
//!   Windows `\\.\pipe\docker_engine`) too, for the same tools ([`default_socket`]).
//! - `berth reset` deletes the data disk and the settings, after confirmation.
//! - `berth doctor` checks the machine and names the fix for each problem ([`doctor`]).

mod default_socket;
mod doctor;
mod env;
mod events;
mod lifecycle;
mod logs;
mod shell;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

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

impl VmOptions {
    /// The daemon's options for this start: the flags override `settings.json`.
    fn start_options(self) -> berth_daemon::StartOptions {
        let mut options = berth_daemon::StartOptions::new(self.image);
        options.boot_timeout_secs = self.boot_timeout;
        options.overrides.cpus = self.cpus;
        options.overrides.memory_mib = self.memory;
        options.overrides.disk_gib = self.disk;
        options
    }
}

/// Where a packaged Berth keeps its guest image (`/usr/share/berth/image` for `/usr/bin/berth`).
fn installed_image() -> PathBuf {
    berth_core::install::Layout::current()
        .map(|layout| layout.image)
        .unwrap_or_else(|| PathBuf::from("/usr/share/berth/image"))
}

/// The daemon in this terminal (`--foreground`, phases echoed) or detached (`supervise`,
/// its options on standard input).
async fn supervise(options: Option<berth_daemon::StartOptions>) -> Result<()> {
    match options {
        Some(options) => {
            let paths = berth_core::paths::Paths::for_user()?;
            berth_daemon::supervisor::run(options, &paths, true).await?
        }
        None => berth_daemon::supervisor::run_from_stdin().await?,
    }
    Ok(())
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
    /// Pause the VM now to save power, containers and all; the next docker command or
    /// connection resumes it (the resource saver does this by itself when nothing runs).
    Pause,
    /// Resume a paused VM.
    Resume,
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
    /// Print the DOCKER_HOST setting for tools that ignore docker contexts
    /// (`eval "$(berth env)"`).
    Env {
        /// The shell that reads it (default: this OS's, or $SHELL's).
        #[arg(long, value_enum)]
        shell: Option<env::Shell>,
    },
    /// Serve the engine at the default socket (/var/run/docker.sock; on Windows the
    /// docker_engine pipe) too, when no other engine has it.
    DefaultSocket {
        #[command(subcommand)]
        action: default_socket::Action,
    },
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
    /// The background daemon that `berth start` launches (its options on standard input).
    #[command(hide = true)]
    Supervise,
}

#[tokio::main]
async fn main() -> Result<()> {
    berth_daemon::init_logging();
    match Cli::parse().command {
        Command::Start {
            vm,
            foreground: true,
        } => supervise(Some(vm.start_options())).await,
        Command::Start {
            vm,
            foreground: false,
        } => lifecycle::start(vm.start_options()).await,
        Command::Supervise => supervise(None).await,
        Command::Stop => lifecycle::stop().await,
        Command::Pause => lifecycle::pause().await,
        Command::Resume => lifecycle::resume().await,
        Command::Restart { vm } => lifecycle::restart(vm.start_options()).await,
        Command::Events { json } => events::run(json).await,
        Command::Status { json } => lifecycle::status(json).await,
        Command::Logs {
            source,
            lines,
            follow,
        } => logs::run(source, lines, follow).await,
        Command::Doctor { image } => doctor::run(image).await,
        Command::Shell => shell::run().await,
        Command::Env { shell } => env::run(shell),
        Command::DefaultSocket { action } => default_socket::run(action).await,
        Command::Reset { yes } => lifecycle::reset(yes).await,
    }
}
