//! Troubleshooting: the console, supervisor, agent, engine and containerd logs; the doctor's
//! checks (`berth_core::doctor`); the diagnostics bundle, a zip written to the user's path
//! (`berth_core::diagnostics`); reset (after the UI's confirmation). Logs reach the UI as plain
//! text (`berth_core::text`).

use berth_core::doctor::Check;
use berth_protocol::call::LogTail;
use berth_protocol::message::LogSource;
use serde::Deserialize;
use tauri::State;
use ts_rs::TS;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Which log to show.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum LogKind {
    /// The VM's serial console (a host file; readable when the guest is dead).
    Console,
    /// The supervisor's log (a host file).
    Supervisor,
    /// The guest agent.
    Agent,
    /// dockerd.
    Engine,
    /// containerd.
    Containerd,
}

/// The last `lines` of a host log and its rotated file, read from the end off the async
/// workers.
async fn tail_file(path: std::path::PathBuf, lines: usize) -> AppResult<Vec<String>> {
    let read = path.clone();
    tauri::async_runtime::spawn_blocking(move || berth_core::logfile::tail_lines(&read, lines))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::io(&path, e))
}

/// The last `lines` lines of a log, as text to read: terminal escape sequences (a logger's
/// colours, the console's screen set-up) and control characters taken out
/// (`berth_core::text`).
#[tauri::command]
pub async fn log_tail(
    state: State<'_, AppState>,
    kind: LogKind,
    lines: u32,
) -> AppResult<Vec<String>> {
    let raw = raw_tail(&state, kind, lines).await?;
    Ok(raw
        .iter()
        .map(|line| berth_core::text::clean_line(line))
        .collect())
}

/// The last `lines` lines of a log as it was written.
async fn raw_tail(state: &AppState, kind: LogKind, lines: u32) -> AppResult<Vec<String>> {
    let remote = match kind {
        LogKind::Console => return tail_file(state.paths.console_log(), lines as usize).await,
        LogKind::Supervisor => {
            return tail_file(state.paths.supervisor_log(), lines as usize).await
        }
        LogKind::Agent => LogSource::Agent,
        LogKind::Engine => LogSource::Engine,
        LogKind::Containerd => LogSource::Containerd,
    };
    let vsock = berth_core::instance::read_state(&state.paths.runtime)
        .filter(|s| s.state == berth_core::instance::VmState::Running)
        .and_then(|s| s.agent)
        .ok_or(AppError::VmNotRunning)?;
    let mut agent = berth_core::agent::AgentClient::connect(vsock).await?;
    let tail = LogTail {
        source: remote,
        lines,
        since: None,
    };
    let mut batch = agent.call(tail).await?;
    if batch.truncated {
        batch.lines.insert(
            0,
            "… older lines left out (one answer carries at most 512 KiB)".into(),
        );
    }
    Ok(batch.lines)
}

/// The doctor's checks (failures are part of the report, not an error).
#[tauri::command]
pub async fn doctor(state: State<'_, AppState>) -> AppResult<Vec<Check>> {
    Ok(berth_core::doctor::checks(&state.paths, None).await)
}

/// The logs of the diagnostics bundle: their names in the archive, and the last lines of each.
const BUNDLE_LOGS: [(&str, LogKind); 5] = [
    ("logs/supervisor.log", LogKind::Supervisor),
    ("logs/console.log", LogKind::Console),
    ("logs/agent.log", LogKind::Agent),
    ("logs/engine.log", LogKind::Engine),
    ("logs/containerd.log", LogKind::Containerd),
];
const BUNDLE_LOG_LINES: u32 = 2000;

/// How long the bundle waits for the guest's versions: a wedged guest must not hold it up.
const GUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The guest engine's and agent's versions, when the VM is running and answers in time.
async fn guest_versions(state: &AppState) -> (Option<String>, Option<String>) {
    let runtime = state.paths.runtime.clone();
    let address = tauri::async_runtime::spawn_blocking(move || {
        berth_core::instance::read_state(&runtime)
            .filter(|s| s.state == berth_core::instance::VmState::Running)
            .and_then(|s| s.agent)
    })
    .await
    .ok()
    .flatten();
    let Some(address) = address else {
        return (None, None);
    };
    let ask = async {
        let mut agent = berth_core::agent::AgentClient::connect(address)
            .await
            .ok()?;
        let agent_version = agent.hello.agent_version.clone();
        let engine_version = agent
            .call(berth_protocol::call::Status)
            .await
            .ok()
            .and_then(|r| r.engine_version);
        Some((engine_version, Some(agent_version)))
    };
    tokio::time::timeout(GUEST_TIMEOUT, ask)
        .await
        .ok()
        .flatten()
        .unwrap_or((None, None))
}

/// Writes the diagnostics bundle at `path`: a zip (`berth_core::diagnostics`) of
/// `summary.txt` (version, host, the VM's state in words, the guest's versions),
/// `settings.json`, `doctor.txt` and one file a log under `logs/`, as plain text with
/// credentials replaced by `***`; atomically (a temporary file beside it, renamed) and
/// readable by the user only.
#[tauri::command]
pub async fn diagnostics_export(state: State<'_, AppState>, path: String) -> AppResult<()> {
    let vm = state.lifecycle.subscribe().borrow().clone();
    // A VM paused by the resource saver stays asleep; an awake one stays awake meanwhile.
    let _awake = match vm.state {
        berth_core::instance::VmState::Running => state.lifecycle.observe().await,
        _ => None,
    };
    let (engine_version, agent_version) = guest_versions(&state).await;
    let settings_file = state.paths.settings_file();
    let settings = tauri::async_runtime::spawn_blocking(move || {
        berth_core::diagnostics::settings_text(std::fs::read_to_string(settings_file))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let doctor = berth_core::doctor::checks(&state.paths, None)
        .await
        .iter()
        .map(Check::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let mut files = vec![
        (berth_core::diagnostics::SETTINGS, settings),
        (berth_core::diagnostics::DOCTOR, doctor),
    ];
    for (name, kind) in BUNDLE_LOGS {
        let body = match raw_tail(&state, kind, BUNDLE_LOG_LINES).await {
            Ok(lines) => lines.join("\n"),
            Err(e) => format!("({e})"),
        };
        files.push((name, body));
    }
    let summary = berth_core::diagnostics::Summary {
        berth_version: env!("CARGO_PKG_VERSION").into(),
        os: std::env::consts::OS.into(),
        arch: std::env::consts::ARCH.into(),
        written: jiff::Zoned::now(),
        vm,
        engine_version,
        agent_version,
    };
    let target = std::path::PathBuf::from(&path);
    tauri::async_runtime::spawn_blocking(move || {
        let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let bytes = berth_core::diagnostics::archive(&summary, &files)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        berth_core::paths::write_private(&target, &bytes).map_err(|e| AppError::io(&path, e))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

/// Stops Berth and deletes its data disks and settings (`berth_core::reset`); the UI confirms
/// first. The answer lists what was deleted.
#[tauri::command]
pub async fn reset(state: State<'_, AppState>) -> AppResult<String> {
    state.lifecycle.stop().await?;
    state.forget_engine().await;
    let paths = state.paths.clone();
    let deleted = tauri::async_runtime::spawn_blocking(move || berth_core::reset::reset(&paths))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| match e {
            berth_core::reset::ResetError::Delete { path, source } => AppError::io(path, source),
            running @ berth_core::reset::ResetError::Running => {
                AppError::Conflict(running.to_string())
            }
            // WSL refused to unregister one (Windows): its own words, for Details.
            unregister @ berth_core::reset::ResetError::Unregister { .. } => {
                AppError::Internal(unregister.to_string())
            }
        })?;
    let mut report: Vec<String> = deleted
        .iter()
        .map(|p| format!("deleted {}", p.display()))
        .collect();
    report.push("Berth is reset to its defaults".into());
    Ok(report.join("\n"))
}
