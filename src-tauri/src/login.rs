//! Start at login: the OS's own entry (an XDG autostart file on Linux, a LaunchAgent on macOS,
//! a `Run` key value on Windows) through tauri-plugin-autostart. The entry itself is the
//! setting, so Settings reads and changes it directly and nothing in `settings.json` can
//! disagree with it. A launch from that entry carries [`ARG`]: it starts the VM and stays in
//! the tray, with no window until one is opened. The plugin writes the program's path bare on
//! Linux and Windows; `xdg_entry` and `run_key` quote it where a space would break the launch.

use tauri::plugin::TauriPlugin;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_autostart::ManagerExt;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The argument the login entry launches the app with.
pub const ARG: &str = "--autostart";

/// The login entry's name: `~/.config/autostart/Berth.desktop` on Linux, the value `Berth` of
/// `HKCU\Software\Microsoft\Windows\CurrentVersion\Run` on Windows.
const ENTRY_NAME: &str = "Berth";

/// The plugin that owns the login entry ([`ENTRY_NAME`]), which launches this executable with
/// [`ARG`].
pub fn plugin<R: Runtime>() -> TauriPlugin<R> {
    tauri_plugin_autostart::Builder::new()
        .app_name(ENTRY_NAME)
        .arg(ARG)
        .build()
}

/// Whether this process was launched by the login entry.
pub fn launched_at_login() -> bool {
    std::env::args_os().skip(1).any(|arg| arg == ARG)
}

/// Whether the app starts at login.
#[tauri::command]
pub async fn login_item_get<R: Runtime>(app: AppHandle<R>) -> AppResult<bool> {
    blocking(app, |app| app.autolaunch().is_enabled()).await
}

/// Adds or removes the login entry; returns whether it is there now.
#[tauri::command]
pub async fn login_item_set<R: Runtime>(app: AppHandle<R>, enabled: bool) -> AppResult<bool> {
    blocking(app, move |app| {
        let manager = app.autolaunch();
        if enabled {
            manager.enable()?;
            #[cfg(target_os = "linux")]
            xdg_entry::quote_exec()?;
            #[cfg(windows)]
            run_key::quote_program()?;
        } else {
            manager.disable()?;
        }
        manager.is_enabled()
    })
    .await
}

/// Runs `f` (file, registry or launchctl work) off the async workers.
async fn blocking<R: Runtime, T: Send + 'static>(
    app: AppHandle<R>,
    f: impl FnOnce(&AppHandle<R>) -> Result<T, tauri_plugin_autostart::Error> + Send + 'static,
) -> AppResult<T> {
    tauri::async_runtime::spawn_blocking(move || f(&app))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::LoginItem(e.to_string()))
}

/// What a launch at login does: starts the VM in the background (a failure is a
/// notification). The window, if any, is [`crate::window`]'s to decide.
pub fn on_login<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        match app.state::<AppState>().lifecycle.start().await {
            Ok(_) => crate::notify::done(&app, "Berth is running", "Started at login."),
            Err(e) => crate::notify::done(&app, "Berth did not start at login", &e.to_string()),
        }
    });
}

#[cfg(any(windows, test))]
mod run_key;
#[cfg(target_os = "linux")]
mod xdg_entry;
