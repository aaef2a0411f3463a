//! Desktop notifications when a long operation (start, pull, push, build) finishes, so the
//! user may look elsewhere meanwhile, and when the data disk crosses 90 % ([`crate::disk`]).
//! Failing to notify (no notification service) is harmless.

use tauri::{AppHandle, Runtime};
use tauri_plugin_notification::NotificationExt;

/// Shows "`title`: `body`" as a desktop notification.
pub fn done<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::debug!("no notification: {e}");
    }
}
