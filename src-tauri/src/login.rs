//! Start at login: the OS's own entry (an XDG autostart file on Linux, a LaunchAgent on macOS,
//! a `Run` key on Windows) through tauri-plugin-autostart. The entry itself is the setting, so
//! Settings reads and changes it directly and nothing in `settings.json` can disagree with it.
//! A launch from that entry carries [`ARG`]: it starts the VM and stays in the tray, with no
//! window until one is opened.

use tauri::plugin::TauriPlugin;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_autostart::ManagerExt;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The argument the login entry launches the app with.
pub const ARG: &str = "--autostart";

/// The plugin that owns the login entry ("Berth": `~/.config/autostart/Berth.desktop` on
/// Linux), which launches this executable with [`ARG`].
pub fn plugin<R: Runtime>() -> TauriPlugin<R> {
    tauri_plugin_autostart::Builder::new()
        .app_name("Berth")
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

/// The Linux login entry's `Exec=` line, quoted where the plugin leaves it bare.
#[cfg(target_os = "linux")]
mod xdg_entry {
    use super::ARG;

    /// The XDG autostart entry the plugin writes (it uses `$HOME/.config/autostart`).
    fn entry_path() -> Option<std::path::PathBuf> {
        let home = std::env::var_os("HOME")?;
        Some(std::path::Path::new(&home).join(".config/autostart/Berth.desktop"))
    }

    /// The plugin writes the entry's `Exec=` line with the program's path as it is, so a path with
    /// a space (or another reserved character) breaks the launch; this rewrites the line quoted as
    /// the Desktop Entry spec says. An entry that needs no quoting is left as it is.
    pub fn quote_exec() -> std::io::Result<()> {
        let Some(path) = entry_path() else {
            return Ok(());
        };
        let text = std::fs::read_to_string(&path)?;
        if let Some(fixed) = requote_exec(&text) {
            std::fs::write(&path, fixed)?;
        }
        Ok(())
    }

    /// `entry` with its `Exec=<program> --autostart` line quoted, or `None` if it needs nothing.
    fn requote_exec(entry: &str) -> Option<String> {
        let suffix = format!(" {ARG}");
        let mut changed = false;
        let lines: Vec<String> = entry
            .lines()
            .map(|line| {
                let program = line
                    .strip_prefix("Exec=")
                    .and_then(|rest| rest.strip_suffix(&suffix));
                match program {
                    Some(program) if needs_quoting(program) => {
                        changed = true;
                        format!("Exec={} {ARG}", quote_arg(program))
                    }
                    _ => line.to_owned(),
                }
            })
            .collect();
        let mut fixed = lines.join("\n");
        if entry.ends_with('\n') {
            fixed.push('\n');
        }
        changed.then_some(fixed)
    }

    /// The characters the Desktop Entry spec reserves in an `Exec` argument, and `%`.
    const RESERVED: &str = "\"'\\><~|&;$*?#()`%";

    /// Whether an `Exec` argument must be quoted.
    fn needs_quoting(arg: &str) -> bool {
        arg.chars()
            .any(|c| c.is_whitespace() || RESERVED.contains(c))
    }

    /// An `Exec` argument as the Desktop Entry spec quotes it: in double quotes, with `"`, `` ` ``,
    /// `$` and `\` escaped by a backslash; then the string rule doubles every backslash, and a
    /// literal `%` is `%%`.
    fn quote_arg(arg: &str) -> String {
        let mut quoted = String::from("\"");
        for c in arg.chars() {
            match c {
                '"' | '`' | '$' => {
                    quoted.push_str("\\\\");
                    quoted.push(c);
                }
                '\\' => quoted.push_str("\\\\\\\\"),
                '%' => quoted.push_str("%%"),
                c => quoted.push(c),
            }
        }
        quoted.push('"');
        quoted
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_plain_path_is_left_as_the_plugin_wrote_it() {
            let entry = "[Desktop Entry]\nExec=/usr/bin/berth-desktop --autostart\nTerminal=false";
            assert_eq!(requote_exec(entry), None);
        }

        #[test]
        fn a_path_with_spaces_and_reserved_characters_is_quoted_per_the_spec() {
            let entry = "[Desktop Entry]\nName=Berth\nExec=/home/a b/Apps/100% $x/Berth --autostart\nTerminal=false";
            let fixed = requote_exec(entry).expect("quoted");
            assert_eq!(
                fixed,
                "[Desktop Entry]\nName=Berth\nExec=\"/home/a b/Apps/100%% \\\\$x/Berth\" --autostart\nTerminal=false"
            );
        }

        #[test]
        fn quoting_escapes_quotes_backquotes_and_backslashes() {
            assert_eq!(quote_arg(r#"a"b`c\d"#), r#""a\\"b\\`c\\\\d""#);
        }
    }
}
