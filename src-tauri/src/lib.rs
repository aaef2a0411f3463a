//! The Berth desktop app: a thin Tauri shell. The VM is the `berth-daemon` library's: the app
//! links it, launches it detached as this same executable (`--supervise`, see
//! [`lifecycle::supervise`]) and drives it through its command channel, as the CLI does;
//! containers, images, volumes and the engine's events come from the engine API through
//! bollard; guest figures and logs from the agent through `berth-core`. Every command returns
//! [`error::AppError`], which reaches the UI as `{code, message, field}`. [`bindings`] generates
//! the UI's TypeScript for the types the commands take and return, the error codes and the
//! events.
//!
//! - [`lifecycle`]: the one service that starts and stops the VM and publishes its view, which
//!   [`vm`] (commands, the window's `vm-state` events) and [`tray`] subscribe to;
//!   [`dashboard`]: host and guest figures; [`disk`]: the guest's data disk nearly full (the
//!   dashboard's warning, reclaims, a notification);
//! - [`containers`], [`streams`] (logs, stats), [`terminal`] (exec), [`images`], [`builder`],
//!   [`volumes`], [`volume_files`] (a volume's listing and export) and [`compose`] (compose
//!   up), both typed data connections to the agent ([`guest`]), never scripts in its shell;
//! - [`hub`]: Docker Hub search, repositories and tags; [`accounts`]: registry logins in the
//!   OS keychain and the credentials pulls and pushes send;
//! - [`window`] (made on demand), [`settings`], [`login`] (start at login), [`single_instance`],
//!   [`troubleshoot`], [`desktop`] (dialogs, URLs), [`tray`], [`notify`];
//! - [`engine`]: the engine's event stream and cancellable streams; [`engine_auth`]: the
//!   engine's `POST /auth`, which bollard lacks; [`state`]: shared state.

pub mod accounts;
pub mod bindings;
pub mod builder;
pub mod compose;
pub mod containers;
pub mod dashboard;
pub mod desktop;
pub mod disk;
pub mod engine;
pub mod engine_auth;
pub mod error;
pub mod guest;
pub mod hub;
pub mod images;
pub mod lifecycle;
pub mod login;
pub mod notify;
pub mod services;
pub mod settings;
pub mod single_instance;
pub mod state;
pub mod streams;
pub mod terminal;
pub mod tray;
pub mod troubleshoot;
pub mod vm;
pub mod volume_files;
pub mod volumes;
pub mod window;

use tauri::{Manager, Runtime};

/// Adds the app's state, plugins and commands to `builder` (the real app and the tests share
/// this).
pub fn configure<R: Runtime>(
    builder: tauri::Builder<R>,
    state: state::AppState,
) -> tauri::Builder<R> {
    builder
        .manage(state)
        .manage(engine::Streams::default())
        .manage(disk::Breakdowns::default())
        .manage(terminal::Sessions::default())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(login::plugin())
        .invoke_handler(tauri::generate_handler![
            vm::vm_state,
            vm::vm_start,
            vm::vm_stop,
            vm::vm_resume,
            vm::vm_restart,
            dashboard::dashboard,
            disk::disk_reclaim,
            engine::engine_info,
            engine::stream_cancel,
            containers::containers_list,
            containers::container_action,
            containers::container_inspect,
            containers::project_action,
            services::swarm_services,
            streams::container_logs,
            streams::container_logs_save,
            streams::container_stats,
            terminal::terminal_open,
            terminal::terminal_input,
            terminal::terminal_resize,
            terminal::terminal_close,
            images::images_list,
            images::image_pull,
            images::image_push,
            images::image_remove,
            images::images_prune,
            images::image_tag,
            images::image_history,
            images::image_run,
            hub::hub_search,
            hub::hub_repository,
            hub::hub_tags,
            accounts::registry_accounts,
            accounts::registry_login,
            accounts::registry_logout,
            volumes::volumes_list,
            volumes::volume_create,
            volumes::volume_remove,
            volumes::volumes_prune,
            volume_files::volume_browse,
            volume_files::volume_export,
            compose::compose_up,
            builder::image_build,
            settings::settings_get,
            settings::settings_validate,
            settings::settings_save,
            login::login_item_get,
            login::login_item_set,
            troubleshoot::log_tail,
            troubleshoot::doctor,
            troubleshoot::diagnostics_export,
            troubleshoot::reset,
            desktop::pick_save_path,
            desktop::pick_path,
            desktop::open_url,
        ])
}

/// Runs the app until the user quits from the tray (or, with no tray, closes the window).
/// Closing the window with a tray keeps the app there, and ends the window's web process.
/// The VM keeps running either way (it is the supervisor's, as with the CLI).
pub fn run() {
    berth_daemon::init_logging();
    let paths = match berth_core::paths::Paths::for_user() {
        Ok(paths) => paths,
        Err(e) => {
            eprintln!("berth-desktop: {e}");
            std::process::exit(1);
        }
    };
    // First, so a second launch hands over before anything else starts.
    let builder = tauri::Builder::default().plugin(single_instance::plugin(&paths.runtime));
    let result = configure(builder, state::AppState::new(paths))
        .setup(|app| {
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let state = handle.state::<state::AppState>();
                state.lifecycle.follow(&state.paths.runtime).await;
            });
            vm::forward(app.handle().clone());
            if let Err(e) = tray::create(app.handle()) {
                tracing::warn!("no tray icon: {e}");
            }
            let at_login = login::launched_at_login();
            // At login the app stays in the tray, without a window, when there is a tray.
            if !(at_login && tray::exists(app.handle())) {
                window::open(app.handle())?;
            }
            if at_login {
                login::on_login(app.handle());
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match result {
        Ok(app) => app,
        Err(e) => {
            eprintln!("berth-desktop: {e}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| {
        // `code` is None when the last window closed, Some when the tray's Quit asked.
        if let tauri::RunEvent::ExitRequested {
            code: None, api, ..
        } = event
        {
            if tray::exists(app) {
                api.prevent_exit();
            }
        }
    });
}
