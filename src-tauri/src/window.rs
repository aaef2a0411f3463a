//! The main window, made on demand from its entry in `tauri.conf.json` (which has
//! `"create": false`): a launch at login runs in the tray with no window, so no WebKit web
//! process holds memory until the user opens it.

use tauri::{AppHandle, Manager, Runtime, WebviewWindowBuilder};

/// The main window's label.
pub const MAIN: &str = "main";

/// Shows the main window, making it first if there is none.
pub fn open<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    if let Some(window) = app.get_webview_window(MAIN) {
        window.unminimize()?;
        window.show()?;
        return window.set_focus();
    }
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .ok_or_else(|| tauri::Error::WindowNotFound)?
        .clone();
    WebviewWindowBuilder::from_config(app, &config)?.build()?;
    Ok(())
}
