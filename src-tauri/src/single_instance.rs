//! One app per Berth instance. A second launch (the menu entry clicked while Berth already
//! runs, perhaps in the tray after starting at login) hands its arguments to the first and
//! exits; the first opens its window. Through tauri-plugin-single-instance: a D-Bus name on
//! Linux, named after the Berth runtime directory, so a test's private Berth never meets the
//! user's.

use std::path::Path;

use sha2::{Digest, Sha256};
use tauri::plugin::TauriPlugin;
use tauri::{AppHandle, Runtime};

/// The plugin; register it before any other.
pub fn plugin<R: Runtime>(runtime_dir: &Path) -> TauriPlugin<R> {
    tauri_plugin_single_instance::Builder::new()
        .dbus_id(dbus_id(runtime_dir))
        .callback(|app, args, _cwd| on_second_launch(app, &args))
        .build()
}

/// `dev.berth.desktop.r<16 hex digits of the runtime directory's hash>`: a valid D-Bus name
/// (no element starts with a digit) that differs between Berth instances.
fn dbus_id(runtime_dir: &Path) -> String {
    let digest = Sha256::digest(runtime_dir.as_os_str().as_encoded_bytes());
    format!("dev.berth.desktop.r{}", &hex::encode(digest)[..16])
}

/// Shows the window (making it if needed), unless the second launch came from the login entry (then the app is
/// already doing what that launch asks).
fn on_second_launch<R: Runtime>(app: &AppHandle<R>, args: &[String]) {
    if args.iter().skip(1).any(|arg| arg == crate::login::ARG) {
        return;
    }
    if let Err(e) = crate::window::open(app) {
        tracing::warn!("cannot open the window: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbus_ids_are_valid_names_and_differ_by_runtime_directory() {
        let a = dbus_id(Path::new("/run/user/1000/berth"));
        let b = dbus_id(Path::new("/tmp/berth-app-e2e-x/run/berth"));
        assert_ne!(a, b);
        assert_eq!(a, dbus_id(Path::new("/run/user/1000/berth")));
        assert!(
            a.starts_with("dev.berth.desktop.r") && a.len() == "dev.berth.desktop.r".len() + 16
        );
        for element in a.split('.') {
            assert!(!element.is_empty() && !element.starts_with(|c: char| c.is_ascii_digit()));
            assert!(element.chars().all(|c| c.is_ascii_alphanumeric()));
        }
    }
}
