//! Troubleshooting: the console, supervisor, agent, engine and containerd logs; the doctor's
//! checks (`berth_core::doctor`); a diagnostics bundle written to a file; reset (after the UI's
//! confirmation).

use berth_core::doctor::Check;
use berth_core::redact::{redact, Redactions};
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

/// The last `lines` lines of a log.
#[tauri::command]
pub async fn log_tail(
    state: State<'_, AppState>,
    kind: LogKind,
    lines: u32,
) -> AppResult<Vec<String>> {
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

/// Writes a diagnostics bundle (state, settings, doctor, every log) as one text file at `path`,
/// readable by the user only, with credentials (URL user info, passwords, tokens) replaced by
/// `***` and the bundle's first section saying how many were.
#[tauri::command]
pub async fn diagnostics_export(state: State<'_, AppState>, path: String) -> AppResult<()> {
    let mut sections = Vec::new();
    let vm = state.lifecycle.current();
    sections.push(("state", format!("{vm:#?}")));
    let settings = std::fs::read_to_string(state.paths.settings_file())
        .unwrap_or_else(|e| format!("(no settings file: {e})"));
    sections.push(("settings.json", settings));
    let report = match doctor(state.clone()).await {
        Ok(checks) => checks
            .iter()
            .map(Check::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => e.to_string(),
    };
    sections.push(("doctor", report));
    for (title, kind) in [
        ("supervisor log", LogKind::Supervisor),
        ("console log", LogKind::Console),
        ("agent log", LogKind::Agent),
        ("engine log", LogKind::Engine),
        ("containerd log", LogKind::Containerd),
    ] {
        let body = match log_tail(state.clone(), kind, 2000).await {
            Ok(lines) => lines.join("\n"),
            Err(e) => format!("({e})"),
        };
        sections.push((title, body));
    }
    let mut redacted = Redactions::default();
    let mut body = String::new();
    for (title, text) in sections {
        let (text, counts) = redact(&text);
        redacted.add(counts);
        body.push_str(&format!("===== {title} =====\n{text}\n\n"));
    }
    let out = format!("===== redacted =====\n{redacted}\n\n{body}");
    let target = std::path::PathBuf::from(&path);
    tokio::task::spawn_blocking(move || berth_core::paths::write_private(&target, out.as_bytes()))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::io(&path, e))
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
