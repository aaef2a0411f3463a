//! `berth-desktop`: the Berth desktop app.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // The daemon that owns the VM is this executable too, launched detached by the app's
    // lifecycle service: it needs no window, toolkit or WebKit.
    if std::env::args_os().nth(1).as_deref()
        == Some(berth_desktop::lifecycle::SUPERVISE_ARG.as_ref())
    {
        std::process::exit(berth_desktop::lifecycle::supervise());
    }
    // WebKitGTK's accelerated compositing costs ~90 MB in the web process (measured under
    // Xvfb) and this UI needs none of it. Without it GTK needs no OpenGL either: GDK_GL=disable
    // keeps GTK from loading the GL driver at start-up, ~25 MB of the app's own process with
    // Mesa's llvmpipe (a third of what the app needs in the tray, before any window). Set
    // before any thread exists; an explicit WEBKIT_DISABLE_COMPOSITING_MODE or GDK_GL, or
    // BERTH_WEBKIT_COMPOSITING=1, keeps the user's choice.
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none()
        && std::env::var_os("BERTH_WEBKIT_COMPOSITING").is_none()
    {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
        if std::env::var_os("GDK_GL").is_none() {
            std::env::set_var("GDK_GL", "disable");
        }
    }
    berth_desktop::run();
}
