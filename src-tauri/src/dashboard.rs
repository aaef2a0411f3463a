//! The dashboard's figures: the host's CPU, memory and disk (sysinfo) and the guest's, from the
//! agent's status report, with a warning when the guest's data disk is nearly full
//! ([`crate::disk`]).

use berth_core::agent::{AgentAddress, AgentClient};
use berth_core::disk_usage::DiskWarning;
use berth_core::instance::{self, VmState};
use berth_protocol::call::Status;
use berth_protocol::message::StatusReport;
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

use crate::disk::Breakdowns;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The host's resources.
#[derive(Debug, Clone, Serialize, TS)]
pub struct HostFigures {
    /// Logical CPUs.
    pub cpus: usize,
    /// CPU use across all CPUs since the last sample, 0–100.
    pub cpu_percent: f32,
    /// Total memory, bytes.
    pub memory_total: u64,
    /// Memory in use, bytes.
    pub memory_used: u64,
    /// Size of the disk holding Berth's data, bytes.
    pub disk_total: u64,
    /// Free space on it, bytes.
    pub disk_free: u64,
}

/// Everything the dashboard shows besides the VM state.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Dashboard {
    /// The host.
    pub host: HostFigures,
    /// The guest, while running.
    pub guest: Option<StatusReport>,
    /// The guest's data disk is nearly full: how much and what uses it.
    pub disk_warning: Option<DiskWarning>,
}

fn host_figures(state: &AppState) -> HostFigures {
    let (cpus, cpu_percent, memory_total, memory_used) = match state.system.lock() {
        Ok(mut system) => {
            system.refresh_cpu_usage();
            system.refresh_memory();
            (
                system.cpus().len(),
                system.global_cpu_usage(),
                system.total_memory(),
                system.used_memory(),
            )
        }
        Err(_) => (0, 0.0, 0, 0),
    };
    let (disk_total, disk_free) = disk_of(&state.paths.data);
    HostFigures {
        cpus,
        cpu_percent,
        memory_total,
        memory_used,
        disk_total,
        disk_free,
    }
}

/// Total and free bytes of the filesystem holding `path` (its closest existing ancestor).
fn disk_of(path: &std::path::Path) -> (u64, u64) {
    path.ancestors()
        .find(|p| p.exists())
        .and_then(mount_figures)
        .unwrap_or_default()
}

/// The (total, available) bytes of the mount holding `path`.
fn mount_figures(path: &std::path::Path) -> Option<(u64, u64)> {
    let disks = sysinfo::Disks::new_with_refreshed_list();
    disks
        .list()
        .iter()
        .filter(|d| path.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .map(|d| (d.total_space(), d.available_space()))
}

/// Where the agent is reached, and its status report.
pub async fn guest_report(state: &AppState) -> AppResult<(AgentAddress, StatusReport)> {
    let vsock = instance::read_state(&state.paths.runtime)
        .filter(|s| s.state == VmState::Running)
        .and_then(|s| s.agent)
        .ok_or(AppError::VmNotRunning)?;
    // A paused VM is not woken for figures, nor paused while they are read.
    let _observed = state
        .lifecycle
        .observe()
        .await
        .ok_or(AppError::VmNotRunning)?;
    let mut agent = AgentClient::connect(&vsock).await?;
    Ok((vsock, agent.call(Status).await?))
}

/// Host and guest figures; the guest's are absent while the VM is not running; the disk
/// warning while its data disk is nearly full.
#[tauri::command]
pub async fn dashboard(
    state: State<'_, AppState>,
    breakdowns: State<'_, Breakdowns>,
) -> AppResult<Dashboard> {
    let host = host_figures(&state);
    let (guest, disk_warning) = match guest_report(&state).await {
        Ok((vsock, report)) => {
            let warning = crate::disk::warning(&breakdowns, &vsock, &report).await;
            (Some(report), warning)
        }
        Err(AppError::VmNotRunning) => (None, None),
        Err(e) => return Err(e),
    };
    Ok(Dashboard {
        host,
        guest,
        disk_warning,
    })
}
