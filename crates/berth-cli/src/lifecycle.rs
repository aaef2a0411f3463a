//! The commands that drive the daemon, each a few lines over
//! [`berth_daemon::SupervisorClient`]: `start` (launch it detached and print its phases until
//! the engine answers), `stop`, `restart` and `status` (with a warning when the data disk is
//! nearly full); and `reset`, which needs it stopped.

use anyhow::{bail, Context, Result};
use berth_core::agent::AgentClient;
use berth_core::disk_usage::{self, DiskWarning};
use berth_core::engine_api::GuestEngine;
use berth_core::instance::VmState;
use berth_core::paths::Paths;
use berth_daemon::{Launcher, StartOptions, SupervisorClient};
use berth_protocol::call::Status;

/// The client of this user's daemon, which `berth supervise` runs.
pub fn client() -> Result<SupervisorClient> {
    Ok(SupervisorClient::new(
        Paths::for_user()?,
        Launcher::current_exe(&["supervise"])?,
    ))
}

/// Keeps the VM awake while the hold lives (resuming it if the resource saver paused it).
pub async fn hold_awake() -> Result<berth_daemon::client::AwakeHold> {
    client()?
        .hold_awake()
        .await
        .context("cannot wake the VM through the Berth daemon")
}

/// Starts the VM in the background and waits until the engine answers.
pub async fn start(options: StartOptions) -> Result<()> {
    let client = client()?;
    if client.is_running() {
        let view = client.status().await?;
        if view.state.is_up() {
            let socket = view
                .engine_socket
                .map(|p| format!(" (socket {})", p.display()));
            println!("Berth is already running{}", socket.unwrap_or_default());
            return Ok(());
        }
    }
    let mut last_phase = None;
    let view = client
        .start(&options, |view| {
            if view.phase != last_phase {
                if let Some(phase) = &view.phase {
                    eprintln!("berth: {phase}");
                }
                last_phase = view.phase.clone();
            }
        })
        .await?;
    if let Some(socket) = view.engine_socket {
        eprintln!("berth: engine socket {}", socket.display());
    }
    eprintln!("berth: try `docker --context berth version` (or `docker context use berth`)");
    Ok(())
}

/// Stops Berth if it runs, then starts it.
pub async fn restart(options: StartOptions) -> Result<()> {
    stop().await?;
    start(options).await
}

/// Asks the daemon to stop and waits until it has.
pub async fn stop() -> Result<()> {
    let client = client()?;
    if !client.is_running() {
        println!("Berth is not running");
        return Ok(());
    }
    eprintln!("berth: stopping the engine and powering off");
    client.stop().await?;
    println!("Berth stopped");
    Ok(())
}

/// Pauses the VM now (`berth pause`).
pub async fn pause() -> Result<()> {
    let client = client()?;
    if !client.is_running() {
        bail!("Berth is not running");
    }
    match client.pause().await? {
        None => {
            println!("Berth paused (the next docker command or connection resumes it)");
            Ok(())
        }
        Some(reason) => bail!("Berth was not paused: {reason}"),
    }
}

/// Resumes a paused VM (`berth resume`): a hold on it, let go at once.
pub async fn resume() -> Result<()> {
    if !client()?.is_running() {
        bail!("Berth is not running");
    }
    drop(hold_awake().await?);
    println!("Berth runs");
    Ok(())
}

/// Prints the state; when running, the guest's own report too, and a warning with what uses
/// the space when the data disk is nearly full.
pub async fn status(json: bool) -> Result<()> {
    let client = client()?;
    let view = client.status().await?;
    let mut guest = None;
    let mut disk_warning = None;
    let vsock = berth_core::instance::read_state(&client.paths().runtime).and_then(|s| s.agent);
    // Held from pausing while the guest is read, and left asleep when the saver paused it.
    let observed = match view.state {
        VmState::Running => client.observe().await.ok().flatten(),
        _ => None,
    };
    if let Some((vsock, _observed)) = vsock.zip(observed) {
        if let Ok(mut agent) = AgentClient::connect(&vsock).await {
            if let Ok(report) = agent.call(Status).await {
                disk_warning = disk_usage::warning(&report, &GuestEngine(vsock)).await;
                guest = Some(report);
            }
        }
    }
    if json {
        let value = serde_json::json!({
            "state": view.state,
            "error": view.error.as_ref().map(|e| &e.message),
            "error_code": view.error.as_ref().map(|e| &e.code),
            "error_field": view.error.as_ref().and_then(|e| e.field.as_ref()),
            "phase": view.phase,
            "engine_socket": view.engine_socket,
            "guest": guest,
            "disk_warning": disk_warning,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("Berth: {:?}", view.state);
    if let Some(error) = view.error {
        println!("  error: {}", error.message);
    } else if let Some(phase) = view.phase.filter(|_| view.state != VmState::Stopped) {
        println!("  phase: {phase}");
    }
    if let Some(socket) = view.engine_socket {
        println!("  engine socket: {}", socket.display());
    }
    if let Some(g) = guest {
        println!(
            "  engine: {:?} {}\n  guest: up {} s, memory {} / {} MiB, data disk {} / {} MiB",
            g.engine,
            g.engine_version.unwrap_or_default(),
            g.uptime_ms / 1000,
            g.memory_used_bytes >> 20,
            g.memory_total_bytes >> 20,
            g.disk_used_bytes >> 20,
            g.disk_total_bytes >> 20
        );
    }
    if let Some(warning) = disk_warning {
        print_disk_warning(&warning);
    }
    Ok(())
}

/// The warning line, what uses the space and the commands that reclaim it.
fn print_disk_warning(warning: &DiskWarning) {
    println!("  warning: {}", warning.headline());
    match (&warning.breakdown, &warning.breakdown_error) {
        (Some(breakdown), _) => println!("    using it: {}", breakdown.summary()),
        (None, Some(error)) => println!("    what uses it is unknown: {error}"),
        (None, None) => {}
    }
    let commands: Vec<String> = disk_usage::RECLAIM_COMMANDS
        .iter()
        .map(|(what, command)| format!("`{command}` ({what})"))
        .collect();
    println!("    reclaim with: {}", commands.join(", "));
}

/// Deletes the data disks (images, containers, volumes) and the settings, after confirmation
/// ([`berth_core::reset`]).
pub async fn reset(yes: bool) -> Result<()> {
    let paths = Paths::for_user()?;
    if berth_core::instance::is_locked(&paths.runtime) {
        bail!(berth_core::reset::ResetError::Running);
    }
    if !yes {
        eprint!(
            "This deletes every image, container and volume ({}) and the settings ({}).\n\
             Type 'reset' to confirm: ",
            paths.data.display(),
            paths.settings_file().display()
        );
        let answer = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await??;
        if answer.trim() != "reset" {
            bail!("not confirmed; nothing was deleted");
        }
    }
    // Deleting (and on Windows unregistering WSL distributions) blocks: off the workers.
    let deleted = tokio::task::spawn_blocking(move || berth_core::reset::reset(&paths)).await??;
    for deleted in deleted {
        println!("deleted {}", deleted.display());
    }
    println!("Berth is reset to its defaults");
    Ok(())
}
