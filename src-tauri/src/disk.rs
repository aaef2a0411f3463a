//! The data disk nearly full, in the app: the dashboard's warning with what uses the space
//! (the engine's `/system/df` through [`berth_core::disk_usage`], asked at most every
//! [`BREAKDOWN_MAX_AGE`] while the disk stays nearly full, since the engine walks every volume
//! to answer, and asked again after an engine event that frees space), the one-click reclaims ([`disk_reclaim`]: the engine's prune endpoints, each
//! reporting what it freed), and one desktop notification when the disk crosses
//! [`DISK_WARN_PERCENT`](berth_protocol::message::DISK_WARN_PERCENT) ([`watch`], while the VM runs).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use berth_core::agent::AgentAddress;
use berth_core::disk_usage::{self, DfError, DiskWarning, SpaceBreakdown};
use berth_core::engine_api::GuestEngine;
use berth_protocol::message::{DiskPressure, StatusReport};
use serde::Deserialize;
use tauri::{AppHandle, Manager, Runtime, State};
use ts_rs::TS;

use crate::error::AppResult;
use crate::state::AppState;

/// How long a breakdown is shown before the engine is asked again.
pub const BREAKDOWN_MAX_AGE: Duration = Duration::from_secs(15);
/// How often [`watch`] looks at the disk.
pub const WATCH_EVERY: Duration = Duration::from_secs(20);

/// The last breakdown the engine gave, when, and of which generation. The lock is held while
/// the engine is asked, so the dashboard's polls that come meanwhile wait for that answer
/// instead of asking again; [`Breakdowns::forget`] starts a new generation (after a reclaim,
/// or an engine event that frees space), which makes the kept one stale at once.
#[derive(Default)]
pub struct Breakdowns {
    kept: tokio::sync::Mutex<Option<(Instant, u64, SpaceBreakdown)>>,
    generation: AtomicU64,
}

impl Breakdowns {
    /// A breakdown at most [`BREAKDOWN_MAX_AGE`] old and of this generation, from the engine
    /// behind `agent` if need be.
    async fn get(&self, agent: &AgentAddress) -> Result<SpaceBreakdown, DfError> {
        let mut kept = self.kept.lock().await;
        let generation = self.generation.load(Ordering::Acquire);
        if let Some((_, _, breakdown)) = kept
            .as_ref()
            .filter(|(at, of, _)| *of == generation && at.elapsed() < BREAKDOWN_MAX_AGE)
        {
            return Ok(breakdown.clone());
        }
        let fresh = disk_usage::system_df(&GuestEngine(agent.clone())).await;
        if let Ok(breakdown) = &fresh {
            *kept = Some((Instant::now(), generation, breakdown.clone()));
        }
        fresh
    }

    /// Makes the kept breakdown stale, so the next warning asks the engine.
    pub fn forget(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// Whether an engine event may have freed space (a container, image or volume deleted, a
/// prune), so the breakdown is asked again.
pub fn frees_space(kind: &str, action: &str) -> bool {
    matches!(kind, "container" | "image" | "volume" | "builder")
        && matches!(action, "destroy" | "delete" | "untag" | "prune")
}

/// The warning for `report` (`None` below the threshold), with a breakdown at most
/// [`BREAKDOWN_MAX_AGE`] old.
pub async fn warning(
    breakdowns: &Breakdowns,
    agent: &AgentAddress,
    report: &StatusReport,
) -> Option<DiskWarning> {
    let mut warning = DiskWarning::of(report)?;
    warning.attach(breakdowns.get(agent).await, report);
    Some(warning)
}

/// What a reclaim button frees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ReclaimKind {
    /// Every image no container uses (`docker image prune -a`).
    Images,
    /// Every build cache record not in use (`docker builder prune -a`).
    BuildCache,
    /// Every volume no container uses (`docker volume prune -a`).
    Volumes,
    /// Every stopped container (`docker container prune`).
    Containers,
}

/// Prunes one kind of object; returns the bytes the engine freed.
#[tauri::command]
pub async fn disk_reclaim(
    state: State<'_, AppState>,
    breakdowns: State<'_, Breakdowns>,
    kind: ReclaimKind,
) -> AppResult<u64> {
    let freed = match kind {
        ReclaimKind::Images => crate::images::images_prune(state, true).await?,
        ReclaimKind::Volumes => crate::volumes::volumes_prune(state).await?,
        ReclaimKind::BuildCache => {
            let options = bollard::query_parameters::PruneBuildOptions {
                all: Some(true),
                filters: Some(HashMap::new()),
                ..Default::default()
            };
            let report = state.docker().await?.prune_build(Some(options)).await?;
            report.space_reclaimed.unwrap_or(0)
        }
        ReclaimKind::Containers => {
            let report = state
                .docker()
                .await?
                .prune_containers(None::<bollard::query_parameters::PruneContainersOptions>)
                .await?;
            report.space_reclaimed.unwrap_or(0)
        }
    };
    breakdowns.forget();
    Ok(u64::try_from(freed).unwrap_or(0))
}

/// Whether to notify: only when the disk crosses the threshold, not on every look (nor when
/// a nearly full disk fills up: the dashboard says so); `last` is the pressure seen at the
/// previous look.
pub fn crossed(last: Option<DiskPressure>, now: Option<DiskPressure>) -> bool {
    last.is_none() && now.is_some()
}

/// Looks at the disk every [`WATCH_EVERY`] and shows a desktop notification when it crosses
/// [`DISK_WARN_PERCENT`](berth_protocol::message::DISK_WARN_PERCENT) (again only after it went below). Runs until aborted (the VM stopped).
pub async fn watch<R: Runtime>(app: AppHandle<R>) {
    let mut last = None;
    loop {
        let state = app.state::<AppState>();
        if let Ok((_, report)) = crate::dashboard::guest_report(&state).await {
            let now = report.disk_pressure();
            if crossed(last, now) {
                if let Some(warning) = DiskWarning::of(&report) {
                    let title = match warning.pressure {
                        DiskPressure::Full => "Berth's data disk is full",
                        DiskPressure::NearlyFull => "Berth's data disk is nearly full",
                    };
                    let body = format!(
                        "{}. The dashboard shows what uses it and reclaims space.",
                        capitalized(&warning.headline())
                    );
                    crate::notify::done(&app, title, &body);
                }
            }
            last = now;
        }
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifies_on_crossing_only() {
        use DiskPressure::{Full, NearlyFull};
        assert!(crossed(None, Some(NearlyFull)));
        assert!(crossed(None, Some(Full)));
        assert!(!crossed(Some(NearlyFull), Some(Full)));
        assert!(!crossed(Some(NearlyFull), Some(NearlyFull)));
        assert!(!crossed(Some(Full), Some(Full)));
        assert!(!crossed(Some(Full), Some(NearlyFull)));
        assert!(!crossed(Some(NearlyFull), None));
        assert!(!crossed(None, None));
    }

    #[test]
    fn deletions_and_prunes_make_the_breakdown_stale() {
        assert!(frees_space("container", "destroy"));
        assert!(frees_space("volume", "prune"));
        assert!(frees_space("image", "delete"));
        assert!(!frees_space("container", "exec_start"));
        assert!(!frees_space("network", "destroy"));
    }

    #[test]
    fn the_notification_reads_as_a_sentence() {
        assert_eq!(capitalized("the data disk"), "The data disk");
        assert_eq!(capitalized(""), "");
    }
}
