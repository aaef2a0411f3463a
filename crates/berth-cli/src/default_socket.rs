//! `berth default-socket enable|disable|status`: the opt-in that serves the engine where tools
//! that ignore docker contexts look (the setting `serve_default_endpoint`).
//!
//! On Linux and macOS `enable` makes `/var/run/docker.sock` a link to the user's engine socket
//! ([`berth_core::engine_api::default_socket`]): it tries without privileges first, and when
//! the directory is the administrator's runs one command, `ln -s` (or `rm` of Berth's link for
//! `disable`), through `sudo` (or `pkexec` without it), which asks for the password. A socket
//! or link that is not Berth's is refused and left alone. On Windows the setting alone makes
//! the next start serve `\\.\pipe\docker_engine` too, when no other engine has it.

use anyhow::Result;
#[cfg(unix)]
use anyhow::{bail, Context};
use berth_core::paths::Paths;
use berth_core::settings::{Host, Settings, SettingsUpdate};
use clap::Subcommand;

/// What to do with the default socket.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Action {
    /// Serve the engine at the default socket (asks for the administrator's password once).
    Enable,
    /// Stop serving it there (removes only Berth's own link).
    Disable,
    /// Show what is at the default socket.
    Status,
}

/// Runs `action`.
pub async fn run(action: Action) -> Result<()> {
    let paths = Paths::for_user()?;
    match action {
        Action::Status => status(&paths).await,
        Action::Enable => {
            change(&paths, true).await?;
            save_setting(&paths, true)
        }
        Action::Disable => {
            change(&paths, false).await?;
            save_setting(&paths, false)
        }
    }
}

/// Records the opt-in in the settings, which the daemon reads at its start.
fn save_setting(paths: &Paths, on: bool) -> Result<()> {
    let host = Host::current();
    let update = SettingsUpdate {
        serve_default_endpoint: Some(on),
        ..SettingsUpdate::default()
    };
    Settings::load_for(paths, host)?
        .update(&update, host)?
        .save(paths, host)?;
    if cfg!(windows) {
        println!(
            "{} at the next `berth start` (when no other engine serves it)",
            if on {
                r"Berth serves \\.\pipe\docker_engine"
            } else {
                r"Berth no longer serves \\.\pipe\docker_engine"
            }
        );
    }
    Ok(())
}

#[cfg(unix)]
async fn status(paths: &Paths) -> Result<()> {
    use berth_core::engine_api::default_socket::{self, Found};
    let path = default_socket::path();
    let own = paths.engine_socket();
    let said = match default_socket::inspect(&path, &own).await? {
        Found::Nothing => "nothing there (`berth default-socket enable` links it to Berth)".into(),
        Found::Ours => format!("a link to Berth's socket {}", own.display()),
        Found::StaleBerth(target) => format!(
            "a link to an older Berth socket, {} (`berth default-socket enable` replaces it)",
            target.display()
        ),
        found => {
            println!("{}", default_socket::refusal(&path, found));
            return Ok(());
        }
    };
    println!("{}: {said}", path.display());
    Ok(())
}

#[cfg(windows)]
async fn status(paths: &Paths) -> Result<()> {
    let settings = Settings::load_for(paths, Host::current())?;
    println!(
        r"\\.\pipe\docker_engine: {}",
        if settings.serve_default_endpoint {
            "served by Berth while it runs, when no other engine has it"
        } else {
            "not served by Berth (`berth default-socket enable`)"
        }
    );
    Ok(())
}

/// Links (`on`) or unlinks the default socket, with privileges only when needed.
#[cfg(unix)]
async fn change(paths: &Paths, on: bool) -> Result<()> {
    use berth_core::engine_api::default_socket::{self, Change, Found};
    let path = default_socket::path();
    let own = paths.engine_socket();
    let change = if on {
        default_socket::enable(&path, &own).await?
    } else {
        default_socket::disable(&path, &own).await?
    };
    if change == Change::None {
        println!(
            "{}: {}",
            path.display(),
            if on {
                "already a link to Berth's socket"
            } else {
                "not Berth's link: nothing to remove"
            }
        );
        return Ok(());
    }
    let unprivileged = {
        let change = change.clone();
        tokio::task::spawn_blocking(move || default_socket::apply_unprivileged(&change)).await?
    };
    match unprivileged {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            as_administrator(&change).await?
        }
        Err(err) => {
            return Err(err).with_context(|| format!("cannot change {}", path.display()));
        }
    }
    let now = default_socket::inspect(&path, &own).await?;
    match (on, now) {
        (true, Found::Ours) => println!(
            "{} now links to Berth's socket {}: tools that ignore docker contexts reach Berth's \
             engine while it runs",
            path.display(),
            own.display()
        ),
        (false, Found::Nothing) => println!("{} removed (it was Berth's link)", path.display()),
        (_, found) => bail!(
            "{} is not as expected afterwards: {found:?}",
            path.display()
        ),
    }
    Ok(())
}

#[cfg(windows)]
async fn change(_paths: &Paths, _on: bool) -> Result<()> {
    Ok(())
}

/// Runs the change's one command through `sudo`, or `pkexec` where there is no `sudo`.
#[cfg(unix)]
async fn as_administrator(change: &berth_core::engine_api::default_socket::Change) -> Result<()> {
    let Some(command) = berth_core::engine_api::default_socket::privileged_command(change) else {
        return Ok(());
    };
    let elevate = ["sudo", "pkexec"]
        .into_iter()
        .find(|tool| on_path(tool))
        .context(
            "the default socket's directory needs the administrator, and neither sudo nor pkexec \
             is installed: run this command as root",
        )?;
    let shown = command
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("berth: running `{elevate} {shown}` (the default socket's directory is the administrator's)");
    let status = tokio::process::Command::new(elevate)
        .args(&command)
        .status()
        .await
        .with_context(|| format!("cannot run {elevate}"))?;
    if !status.success() {
        bail!("`{elevate} {shown}` failed ({status}): nothing was changed by Berth");
    }
    Ok(())
}

#[cfg(unix)]
fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(dir.join(tool)).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
        })
    })
}
