//! The commands that talk to the supervisor: `start` (launch it detached and follow its
//! published phases until the engine answers), `stop`, `restart` and `status`; and `reset`,
//! which needs it stopped.

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use berth_core::agent::AgentClient;
use berth_core::instance::{self, VmState};
use berth_core::paths::Paths;
use berth_core::state_events::StateEvents;
use berth_protocol::message::{Request, Response};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::VmOptions;

/// Launches the supervisor in its own session and waits until it reports the engine ready.
pub async fn start(options: VmOptions) -> Result<()> {
    let paths = Paths::for_user()?;
    if instance::is_locked(&paths.runtime) {
        let state = instance::read_state(&paths.runtime);
        let socket = state
            .and_then(|s| s.engine_socket)
            .map(|p| p.display().to_string());
        println!(
            "Berth is already running{}",
            socket.map(|s| format!(" (socket {s})")).unwrap_or_default()
        );
        return Ok(());
    }
    std::fs::create_dir_all(&paths.logs)?;
    let log_path = paths.logs.join("berth.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let _ = std::fs::remove_file(instance::state_path(&paths.runtime));
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .arg("supervise")
        .args(options.to_args())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    let mut child = command
        .spawn()
        .context("cannot launch the Berth supervisor")?;

    let deadline = options.timeout() + Duration::from_secs(30);
    let mut events = StateEvents::watch(&paths.runtime)?;
    let mut last_phase = None;
    let followed = tokio::time::timeout(deadline, async {
        loop {
            let exited = tokio::select! {
                state = events.next() => {
                    if state.pid != child.id() {
                        continue;
                    }
                    if state.phase != last_phase {
                        if let Some(phase) = &state.phase {
                            eprintln!("berth: {phase}");
                        }
                        last_phase = state.phase.clone();
                    }
                    match state.state {
                        VmState::Running => return Ok(state),
                        VmState::Error => bail!("{}", state.error.unwrap_or_default()),
                        _ => continue,
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(500)) => child.try_wait()?,
            };
            if let Some(status) = exited {
                bail!(
                    "the Berth supervisor exited ({status}); its log: {}",
                    log_path.display()
                );
            }
        }
    })
    .await;
    match followed {
        Ok(Ok(state)) => {
            if let Some(socket) = state.engine_socket {
                eprintln!("berth: engine socket {}", socket.display());
            }
            eprintln!(
                "berth: try `docker --context berth version` (or `docker context use berth`)"
            );
            Ok(())
        }
        Ok(Err(err)) => Err(err),
        Err(_) => bail!(
            "Berth did not start in time; its log: {}",
            log_path.display()
        ),
    }
}

/// Stops Berth if it runs, then starts it.
pub async fn restart(options: VmOptions) -> Result<()> {
    stop().await?;
    start(options).await
}

/// Asks the supervisor to stop and waits until it has.
pub async fn stop() -> Result<()> {
    let paths = Paths::for_user()?;
    let state = instance::read_state(&paths.runtime);
    let Some(state) = state.filter(|_| instance::is_locked(&paths.runtime)) else {
        println!("Berth is not running");
        return Ok(());
    };
    let pid = Pid::from_raw(i32::try_from(state.pid).context("bad pid in the state file")?);
    kill(pid, Signal::SIGTERM).context("cannot signal the Berth supervisor")?;
    eprintln!("berth: stopping the engine and powering off");
    let deadline = Instant::now() + Duration::from_secs(90);
    while instance::is_locked(&paths.runtime) {
        if Instant::now() > deadline {
            bail!("Berth (pid {pid}) did not stop within 90 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("Berth stopped");
    Ok(())
}

/// Prints the state; when running, the guest's own report too.
pub async fn status(json: bool) -> Result<()> {
    let paths = Paths::for_user()?;
    let state = instance::read_state(&paths.runtime);
    let mut guest = None;
    if let Some(vsock) = state
        .as_ref()
        .filter(|s| s.state == VmState::Running)
        .and_then(|s| s.vsock.clone())
    {
        if let Ok(mut agent) = AgentClient::connect(&vsock).await {
            if let Ok(Response::Status(report)) = agent.request(Request::Status).await {
                guest = Some(report);
            }
        }
    }
    if json {
        let value = serde_json::json!({
            "state": state.as_ref().map_or(VmState::Stopped, |s| s.state),
            "error": state.as_ref().and_then(|s| s.error.clone()),
            "phase": state.as_ref().and_then(|s| s.phase.clone()),
            "engine_socket": state.as_ref().and_then(|s| s.engine_socket.clone()),
            "guest": guest,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    match state {
        None => println!("Berth: stopped"),
        Some(state) => {
            println!("Berth: {:?}", state.state);
            if let Some(error) = state.error {
                println!("  error: {error}");
            } else if let Some(phase) = state.phase {
                println!("  phase: {phase}");
            }
            if let Some(socket) = state.engine_socket {
                println!("  engine socket: {}", socket.display());
            }
        }
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
    Ok(())
}

/// Deletes the data disks (images, containers, volumes) and the settings, after confirmation
/// ([`berth_core::reset`]).
pub async fn reset(yes: bool) -> Result<()> {
    let paths = Paths::for_user()?;
    if instance::is_locked(&paths.runtime) {
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
    for deleted in berth_core::reset::reset(&paths)? {
        println!("deleted {}", deleted.display());
    }
    println!("Berth is reset to its defaults");
    Ok(())
}
