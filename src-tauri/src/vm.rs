//! The VM commands, each a line over the app's lifecycle service ([`crate::lifecycle`]), and
//! the forwarding of its views to the window as [`VM_EVENT`]s; while the engine runs, its
//! event stream too ([`crate::engine::forward_events`]) and the disk watch that notifies when
//! the data disk is nearly full ([`crate::disk::watch`]). Errors keep the daemon's code and
//! field: a bad `memory_mib` in the settings fails a start as `invalid_setting` on
//! `memory_mib`.

use berth_core::instance::VmView;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

use crate::error::AppResult;
use crate::state::AppState;

/// The event carrying each new [`VmView`].
pub const VM_EVENT: &str = "vm-state";

/// The VM's state now.
#[tauri::command]
pub fn vm_state(state: State<'_, AppState>) -> VmView {
    state.lifecycle.current()
}

/// Starts the VM; returns once the engine answers. Phases arrive meanwhile as [`VM_EVENT`]s.
#[tauri::command]
pub async fn vm_start<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> AppResult<VmView> {
    let view = state.lifecycle.start().await?;
    crate::notify::done(&app, "Berth is running", "The engine is ready.");
    Ok(view)
}

/// Resumes a VM the resource saver paused.
#[tauri::command]
pub async fn vm_resume(state: State<'_, AppState>) -> AppResult<VmView> {
    state.lifecycle.resume().await?;
    Ok(state.lifecycle.current())
}

/// Stops the engine and powers the VM off.
#[tauri::command]
pub async fn vm_stop(state: State<'_, AppState>) -> AppResult<VmView> {
    state.lifecycle.stop().await?;
    state.forget_engine().await;
    Ok(state.lifecycle.current())
}

/// Stops, then starts the VM.
#[tauri::command]
pub async fn vm_restart<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> AppResult<VmView> {
    state.lifecycle.stop().await?;
    state.forget_engine().await;
    vm_start(app, state).await
}

/// Emits [`VM_EVENT`] for every view the lifecycle publishes; while the engine runs, forwards
/// its event stream too.
pub fn forward<R: Runtime>(app: AppHandle<R>) {
    let mut views = app.state::<AppState>().lifecycle.subscribe();
    tauri::async_runtime::spawn(async move {
        let mut engine_events: Option<tauri::async_runtime::JoinHandle<()>> = None;
        let mut disk_watch: Option<tauri::async_runtime::JoinHandle<()>> = None;
        loop {
            let view = views.borrow_and_update().clone();
            // The engine's event stream stays open while the VM is paused (it does not keep
            // it awake) and gets the events of whatever resumes it.
            let running = view.state.is_up();
            if running && engine_events.is_none() {
                engine_events = Some(tauri::async_runtime::spawn(crate::engine::forward_events(
                    app.clone(),
                )));
                disk_watch = Some(tauri::async_runtime::spawn(crate::disk::watch(app.clone())));
            } else if !running {
                for task in [engine_events.take(), disk_watch.take()]
                    .into_iter()
                    .flatten()
                {
                    task.abort();
                }
                app.state::<AppState>().forget_engine().await;
            }
            let _ = app.emit(VM_EVENT, &view);
            if views.changed().await.is_err() {
                return;
            }
        }
    });
}
