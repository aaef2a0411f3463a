//! The VM lifecycle, shared with the CLI: the app runs the same `berth start`/`stop` the user
//! would, and follows `state.json` (`berth_core::state_events`: a file watch), so the
//! CLI and the app always agree on one VM. The `berth` program is `BERTH_BIN`, else the one
//! beside the app's executable, else the one on `PATH`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use berth_core::instance::{self, StateFile, VmState};
use berth_core::state_events::StateEvents;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The event carrying each new [`VmView`].
pub const VM_EVENT: &str = "vm-state";

/// The VM's state as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmView {
    /// starting, running, stopping, stopped or error.
    pub state: VmState,
    /// What it is doing now (a start-up phase).
    pub phase: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// The engine socket, while running.
    pub engine_socket: Option<PathBuf>,
}

/// The current state from `state.json` (corrected when the supervisor died).
pub fn current(runtime: &Path) -> VmView {
    view_of(instance::read_state(runtime))
}

/// The UI's view of a published state; none is stopped.
fn view_of(state: Option<StateFile>) -> VmView {
    match state {
        Some(s) => VmView {
            state: s.state,
            phase: s.phase,
            error: s.error,
            engine_socket: s.engine_socket,
        },
        None => VmView {
            state: VmState::Stopped,
            phase: None,
            error: None,
            engine_socket: None,
        },
    }
}

/// Finds the `berth` program: `override_var` (BERTH_BIN), beside `exe`, then on `path`.
pub fn find_berth(
    override_var: Option<PathBuf>,
    exe: Option<PathBuf>,
    path: Option<std::ffi::OsString>,
) -> AppResult<PathBuf> {
    if let Some(bin) = override_var {
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(AppError::Lifecycle(format!(
                "BERTH_BIN names {}, which does not exist",
                bin.display()
            )))
        };
    }
    let beside = exe.and_then(|e| e.parent().map(|d| d.join("berth")));
    let on_path = path
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("berth"));
    beside
        .into_iter()
        .chain(on_path)
        .find(|p| p.is_file())
        .ok_or(AppError::BerthNotFound)
}

fn berth_program(state: &AppState) -> AppResult<PathBuf> {
    match &state.berth_bin {
        Some(bin) => Ok(bin.clone()),
        None => find_berth(
            std::env::var_os("BERTH_BIN").map(PathBuf::from),
            std::env::current_exe().ok(),
            std::env::var_os("PATH"),
        ),
    }
}

/// Runs `berth ARGS` to completion; a failure carries the program's own explanation.
pub async fn run_berth(state: &AppState, args: &[&str]) -> AppResult<String> {
    let program = berth_program(state)?;
    let output = tokio::process::Command::new(&program)
        .args(args)
        // Its error message is for people: no backtrace even when the app's environment asks.
        .env("RUST_LIB_BACKTRACE", "0")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .kill_on_drop(false)
        .output()
        .await
        .map_err(|e| AppError::io(&program, e))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(AppError::Lifecycle(explain_failure(&stderr, output.status)))
}

/// The useful part of a failed `berth` run: its `Error:` line and what follows, else its last
/// lines.
fn explain_failure(stderr: &str, status: std::process::ExitStatus) -> String {
    if let Some(at) = stderr.find("Error: ") {
        let message = &stderr[at + 7..];
        let message = message
            .find("\n\nStack backtrace:")
            .map_or(message, |end| &message[..end]);
        return message.trim().to_owned();
    }
    let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
    if tail.is_empty() {
        format!("berth exited with {status}")
    } else {
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

/// The VM's state now.
#[tauri::command]
pub fn vm_state(state: State<'_, AppState>) -> VmView {
    current(&state.paths.runtime)
}

/// Starts the VM (`berth start`); returns once the engine answers. Phases arrive meanwhile as
/// [`VM_EVENT`]s.
#[tauri::command]
pub async fn vm_start<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> AppResult<VmView> {
    run_berth(&state, &["start"]).await?;
    crate::notify::done(&app, "Berth is running", "The engine is ready.");
    Ok(current(&state.paths.runtime))
}

/// Stops the engine and powers the VM off (`berth stop`).
#[tauri::command]
pub async fn vm_stop(state: State<'_, AppState>) -> AppResult<VmView> {
    run_berth(&state, &["stop"]).await?;
    state.forget_engine().await;
    Ok(current(&state.paths.runtime))
}

/// Stops, then starts the VM.
#[tauri::command]
pub async fn vm_restart<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> AppResult<VmView> {
    run_berth(&state, &["stop"]).await?;
    state.forget_engine().await;
    vm_start(app, state).await
}

/// Follows the published state (`berth_core::state_events`, an inotify watch of the runtime
/// directory) and emits [`VM_EVENT`] on every change; while the engine runs, forwards its event
/// stream too ([`crate::engine::forward_events`]).
pub fn watch<R: Runtime>(app: AppHandle<R>) {
    let runtime = app.state::<AppState>().paths.runtime.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = create_private_dir(&runtime) {
            tracing::warn!("cannot create {}: {e}", runtime.display());
        }
        let mut events = match StateEvents::watch(&runtime) {
            Ok(events) => events,
            Err(e) => return tracing::warn!("{e}; the VM state will not update by itself"),
        };
        let mut engine_events: Option<tauri::async_runtime::JoinHandle<()>> = None;
        let mut view = current(&runtime);
        loop {
            let running = view.state == VmState::Running;
            if running && engine_events.is_none() {
                engine_events = Some(tauri::async_runtime::spawn(crate::engine::forward_events(
                    app.clone(),
                )));
            } else if !running {
                if let Some(task) = engine_events.take() {
                    task.abort();
                }
                app.state::<AppState>().forget_engine().await;
            }
            crate::tray::update(&app, &view);
            let _ = app.emit(VM_EVENT, &view);
            view = view_of(Some(events.next().await));
        }
    });
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn berth_is_found_by_override_then_beside_the_app_then_on_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app_dir = dir.path().join("app");
        let path_dir = dir.path().join("bin");
        std::fs::create_dir_all(&app_dir).expect("mkdir");
        std::fs::create_dir_all(&path_dir).expect("mkdir");
        let exe = app_dir.join("berth-desktop");
        let path = Some(path_dir.clone().into_os_string());
        assert_eq!(
            find_berth(None, Some(exe.clone()), path.clone())
                .expect_err("none yet")
                .code(),
            "berth_not_found"
        );
        std::fs::write(path_dir.join("berth"), "").expect("write");
        assert_eq!(
            find_berth(None, Some(exe.clone()), path.clone()).expect("on PATH"),
            path_dir.join("berth")
        );
        std::fs::write(app_dir.join("berth"), "").expect("write");
        assert_eq!(
            find_berth(None, Some(exe.clone()), path.clone()).expect("beside"),
            app_dir.join("berth")
        );
        let custom = dir.path().join("custom-berth");
        assert_eq!(
            find_berth(Some(custom.clone()), Some(exe.clone()), path.clone())
                .expect_err("missing override")
                .code(),
            "lifecycle"
        );
        std::fs::write(&custom, "").expect("write");
        assert_eq!(
            find_berth(Some(custom.clone()), Some(exe), path).expect("override"),
            custom
        );
    }

    #[test]
    fn a_failed_run_is_explained_by_its_error_line() {
        use std::os::unix::process::ExitStatusExt;
        let status = std::process::ExitStatus::from_raw(256);
        assert_eq!(
            explain_failure(
                "berth: booting\nError: QEMU is missing: install it\n",
                status
            ),
            "QEMU is missing: install it"
        );
        assert_eq!(
            explain_failure("", status),
            format!("berth exited with {status}")
        );
    }
}
