//! The engine's event stream, forwarded to the UI as [`ENGINE_EVENT`]s so lists refresh when
//! something changes (no polling); and the cancellable streams (logs, stats, pulls) commands
//! start.

use std::collections::HashMap;
use std::sync::Mutex;

use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::ListContainersOptions;
use futures_util::StreamExt;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use ts_rs::TS;

use crate::error::AppResult;
use crate::state::AppState;

/// The event the UI listens to for list refreshes.
pub const ENGINE_EVENT: &str = "engine-event";

/// One engine event, trimmed to what the UI uses.
#[derive(Debug, Clone, Serialize, TS)]
pub struct EngineEvent {
    /// container, image, volume, network…
    pub kind: String,
    /// start, die, pull, destroy…
    pub action: String,
    /// The object's id or name.
    pub id: String,
}

/// Forwards the engine's events until the stream ends (the VM stopped) or the task is aborted.
pub async fn forward_events<R: Runtime>(app: AppHandle<R>) {
    let docker = match app.state::<AppState>().docker().await {
        Ok(docker) => docker,
        Err(e) => return tracing::warn!("engine events unavailable: {e}"),
    };
    // Tell the UI to load its lists now that the engine answers.
    let _ = app.emit(
        ENGINE_EVENT,
        EngineEvent {
            kind: "engine".into(),
            action: "connected".into(),
            id: String::new(),
        },
    );
    let mut events = docker.events(None::<bollard::query_parameters::EventsOptions>);
    while let Some(event) = events.next().await {
        match event {
            Ok(message) => {
                let event = EngineEvent {
                    kind: message.typ.map(|t| t.to_string()).unwrap_or_default(),
                    action: message.action.unwrap_or_default(),
                    id: message.actor.and_then(|a| a.id).unwrap_or_default(),
                };
                if crate::disk::frees_space(&event.kind, &event.action) {
                    app.state::<crate::disk::Breakdowns>().forget();
                }
                let _ = app.emit(ENGINE_EVENT, event);
            }
            Err(e) => {
                tracing::debug!("engine event stream ended: {e}");
                break;
            }
        }
    }
}

/// Running streams (logs, stats, pulls, terminals' output) by id, so the UI can stop them.
#[derive(Default)]
pub struct Streams(Mutex<HashMap<u32, tauri::async_runtime::JoinHandle<()>>>);

impl Streams {
    /// Registers a running stream.
    pub fn insert(&self, id: u32, task: tauri::async_runtime::JoinHandle<()>) {
        if let Ok(mut map) = self.0.lock() {
            map.retain(|_, t| !t.inner().is_finished());
            map.insert(id, task);
        }
    }

    /// Stops a stream; true if it was running.
    pub fn cancel(&self, id: u32) -> bool {
        let task = self.0.lock().ok().and_then(|mut map| map.remove(&id));
        task.map(|t| t.abort()).is_some()
    }
}

/// Stops a log, stats or progress stream.
#[tauri::command]
pub fn stream_cancel(streams: State<'_, Streams>, id: u32) -> bool {
    streams.cancel(id)
}

/// The engine's version and resources, for the dashboard.
#[derive(Debug, Clone, Serialize, TS)]
pub struct EngineInfo {
    /// The engine's version.
    pub version: String,
    /// The API version spoken.
    pub api_version: String,
    /// Containers in all states.
    pub containers: i64,
    /// Running containers.
    pub running: i64,
    /// Images.
    pub images: i64,
}

/// The engine's version and counts. The container counts come from the container list, as
/// the Containers view shows it: `/info`'s `ContainersRunning` is a counter the engine keeps
/// apart, and it was seen counting containers that had exited.
#[tauri::command]
pub async fn engine_info(state: State<'_, AppState>) -> AppResult<EngineInfo> {
    let docker = state.docker().await?;
    let version = docker.version().await?;
    let info = docker.info().await?;
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await?;
    let (all, running) = container_counts(&containers);
    Ok(EngineInfo {
        version: version.version.unwrap_or_default(),
        api_version: version.api_version.unwrap_or_default(),
        containers: all,
        running,
        images: info.images.unwrap_or_default(),
    })
}

/// All containers, and those running, in a container list.
fn container_counts(list: &[ContainerSummary]) -> (i64, i64) {
    let running = list
        .iter()
        .filter(|c| c.state == Some(ContainerSummaryStateEnum::RUNNING))
        .count();
    (
        i64::try_from(list.len()).unwrap_or(i64::MAX),
        i64::try_from(running).unwrap_or(i64::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(state: ContainerSummaryStateEnum) -> ContainerSummary {
        ContainerSummary {
            state: Some(state),
            ..Default::default()
        }
    }

    #[test]
    fn counts_come_from_each_containers_state() {
        let list = [
            summary(ContainerSummaryStateEnum::RUNNING),
            summary(ContainerSummaryStateEnum::EXITED),
            summary(ContainerSummaryStateEnum::EXITED),
            summary(ContainerSummaryStateEnum::CREATED),
            ContainerSummary::default(),
        ];
        assert_eq!(container_counts(&list), (5, 1));
        assert_eq!(container_counts(&[]), (0, 0));
    }
}
