//! Settings commands over `berth_core::settings::Settings`: read (with this host's defaults
//! and limits), validate field by field, save, and apply (the VM restarts to use them).

use berth_core::settings::{Host, Settings};
use serde::Serialize;
use tauri::State;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// What the settings form needs.
#[derive(Debug, Clone, Serialize)]
pub struct SettingsView {
    /// The settings in force (the file over the defaults).
    pub settings: Settings,
    /// This host's defaults.
    pub defaults: Settings,
    /// This host's CPUs (the upper limit).
    pub host_cpus: u32,
    /// This host's memory in MiB (the upper limit).
    pub host_memory_mib: u64,
    /// The settings file.
    pub path: String,
}

/// This host and its default settings.
pub fn defaults() -> (Host, Settings) {
    let host = Host::detect();
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    (host, Settings::defaults_for(host, home))
}

/// The settings and their limits.
#[tauri::command]
pub async fn settings_get(state: State<'_, AppState>) -> AppResult<SettingsView> {
    let path = state.paths.config.join("settings.json");
    let (host, defaults) = defaults();
    let settings = Settings::load(&path, defaults.clone())?;
    Ok(SettingsView {
        settings,
        defaults,
        host_cpus: host.cpus,
        host_memory_mib: host.memory_mib,
        path: path.display().to_string(),
    })
}

/// Checks settings against this host; the error names the field.
#[tauri::command]
pub fn settings_validate(settings: Settings) -> AppResult<()> {
    settings.validate(Host::detect())?;
    Ok(())
}

/// Validates and writes the settings (atomically); they take effect at the next start.
#[tauri::command]
pub async fn settings_save(state: State<'_, AppState>, settings: Settings) -> AppResult<()> {
    settings.validate(Host::detect())?;
    let dir = state.paths.config.clone();
    std::fs::create_dir_all(&dir).map_err(|e| AppError::io(&dir, e))?;
    let path = dir.join("settings.json");
    let tmp = dir.join("settings.json.tmp");
    let json =
        serde_json::to_vec_pretty(&settings).map_err(|e| AppError::Internal(e.to_string()))?;
    std::fs::write(&tmp, json).map_err(|e| AppError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| AppError::io(&path, e))
}
