//! Settings commands over `berth_core::settings::Settings`: read (with this host's defaults
//! and limits), validate field by field, save, and apply (the VM restarts to use them).

use berth_core::settings::{Host, Settings};
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

use crate::error::AppResult;
use crate::state::AppState;

/// What the settings form needs.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SettingsView {
    /// The settings in force (the file over the defaults).
    pub settings: Settings,
    /// This host's defaults.
    pub defaults: Settings,
    /// This host's CPUs (the upper limit).
    pub host_cpus: u32,
    /// This host's memory in MiB (the upper limit).
    pub host_memory_mib: u64,
    /// This host's OS (`linux`, `macos`, `windows`), for the settings that only apply there.
    pub host_os: String,
    /// The settings file.
    pub path: String,
}

/// This machine's resources, probed once per process.
pub fn host() -> Host {
    Host::current()
}

/// This host and its default settings.
pub fn defaults() -> (Host, Settings) {
    let host = host();
    (host, Settings::defaults_here(host))
}

/// The settings and their limits.
#[tauri::command]
pub async fn settings_get(state: State<'_, AppState>) -> AppResult<SettingsView> {
    let (host, defaults) = defaults();
    let settings = Settings::load_for(&state.paths, host)?;
    Ok(SettingsView {
        settings,
        defaults,
        host_cpus: host.cpus,
        host_memory_mib: host.memory_mib,
        host_os: std::env::consts::OS.to_owned(),
        path: state.paths.settings_file().display().to_string(),
    })
}

/// Checks settings against this host; the error names the field.
#[tauri::command]
pub fn settings_validate(settings: Settings) -> AppResult<()> {
    settings.validate(host())?;
    Ok(())
}

/// Validates and writes the settings (atomically, private to the user); they take effect at
/// the next start.
#[tauri::command]
pub async fn settings_save(state: State<'_, AppState>, settings: Settings) -> AppResult<()> {
    settings.save(&state.paths, host())?;
    Ok(())
}
