//! The tray icon: shows the VM's state (a subscriber of [`crate::lifecycle`], as the window
//! is), starts, stops and resumes it (when the resource saver paused it) through the same
//! service, opens the window, quits. The app
//! stays in it when the window closes, if the desktop shows it: on Linux that needs a
//! StatusNotifier tray (KDE, XFCE, Cinnamon, MATE, GNOME with the AppIndicator extension);
//! without one the icon would be invisible, so the app behaves as if it had none.

use berth_core::instance::{VmState, VmView};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

use crate::state::AppState;

const TRAY_ID: &str = "berth";

/// Creates the tray icon. A desktop without a tray simply shows none.
pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", "Berth: stopped", false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Berth", true, None::<&str>)?;
    let start = MenuItem::with_id(app, "start", "Start", true, None::<&str>)?;
    let stop = MenuItem::with_id(app, "stop", "Stop", true, None::<&str>)?;
    let resume = MenuItem::with_id(app, "resume", "Resume", false, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(
        app,
        &[
            &status, &separator, &open, &start, &stop, &resume, &separator, &quit,
        ],
    )?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .menu(&menu)
        .tooltip("Berth")
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => {
                if let Err(e) = crate::window::open(app) {
                    tracing::warn!("cannot open the window: {e}");
                }
            }
            action @ ("start" | "stop" | "resume") => {
                let app = app.clone();
                let action = action.to_owned();
                tauri::async_runtime::spawn(async move {
                    let lifecycle = &app.state::<AppState>().lifecycle;
                    let done = match action.as_str() {
                        "start" => lifecycle.start().await.map(|_| ()),
                        "resume" => lifecycle.resume().await.map(|_| ()),
                        _ => lifecycle.stop().await,
                    };
                    if let Err(e) = done {
                        crate::notify::done(&app, "Berth", &e.to_string());
                    }
                });
            }
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let tray = builder.build(app)?;
    // Keep the items reachable for updates.
    app.manage(TrayItems {
        status,
        start,
        stop,
        resume,
        _tray: tray,
    });
    follow(app);
    Ok(())
}

/// Shows every view the lifecycle publishes.
fn follow<R: Runtime>(app: &AppHandle<R>) {
    let mut views = app.state::<AppState>().lifecycle.subscribe();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            let view = views.borrow_and_update().clone();
            update(&app, &view);
            if views.changed().await.is_err() {
                return;
            }
        }
    });
}

struct TrayItems<R: Runtime> {
    status: MenuItem<R>,
    start: MenuItem<R>,
    stop: MenuItem<R>,
    resume: MenuItem<R>,
    _tray: tauri::tray::TrayIcon<R>,
}

/// Whether the app has a tray icon the desktop shows (to stay in when its window closes).
pub fn exists<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<TrayItems<R>>().is_some() && desktop_shows_trays()
}

/// The D-Bus name of the StatusNotifier watcher, which trays run.
#[cfg(target_os = "linux")]
const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// Whether the desktop shows tray icons now. On Linux: whether a StatusNotifier watcher owns
/// its name on the session bus (asked each time: a panel may come or go). The menu bar on
/// macOS and the notification area on Windows are always there.
#[cfg(target_os = "linux")]
pub fn desktop_shows_trays() -> bool {
    fn ask() -> zbus::Result<bool> {
        let bus = zbus::blocking::Connection::session()?;
        let dbus = zbus::blocking::fdo::DBusProxy::new(&bus)?;
        Ok(dbus.name_has_owner(zbus::names::BusName::try_from(WATCHER)?)?)
    }
    ask().unwrap_or_else(|e| {
        tracing::info!("no tray to stay in: {e}");
        false
    })
}

/// Whether the desktop shows tray icons now: always, off Linux.
#[cfg(not(target_os = "linux"))]
pub fn desktop_shows_trays() -> bool {
    true
}

/// Shows `view` in the tray menu.
fn update<R: Runtime>(app: &AppHandle<R>, view: &VmView) {
    let Some(items) = app.try_state::<TrayItems<R>>() else {
        return;
    };
    let label = match view.state {
        VmState::Starting => "starting",
        VmState::Running => "running",
        VmState::Paused => "paused to save power",
        VmState::Stopping => "stopping",
        VmState::Stopped => "stopped",
        VmState::Error => "failed",
    };
    let _ = items.status.set_text(format!("Berth: {label}"));
    let _ = items
        .start
        .set_enabled(matches!(view.state, VmState::Stopped | VmState::Error));
    let _ = items.stop.set_enabled(matches!(
        view.state,
        VmState::Running | VmState::Paused | VmState::Starting
    ));
    let _ = items
        .resume
        .set_enabled(matches!(view.state, VmState::Paused));
}
