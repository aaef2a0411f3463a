//! Volume commands: the list (with each one's size, from the engine's `/system/df`, and the
//! containers using each), create, delete, prune. Contents (browse, export) are in
//! [`crate::volume_files`].

use std::collections::HashMap;

use berth_core::disk_usage;
use berth_core::engine_api::GuestEngine;
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{ListContainersOptions, RemoveVolumeOptions};
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

use crate::error::AppResult;
use crate::state::AppState;

/// One row of the volume list.
#[derive(Debug, Clone, Serialize, TS)]
pub struct VolumeRow {
    /// The volume's name.
    pub name: String,
    /// Its driver.
    pub driver: String,
    /// Where it lives in the VM.
    pub mountpoint: String,
    /// Creation time (RFC 3339), if known.
    pub created: Option<String>,
    /// Names of the containers mounting it.
    pub users: Vec<String>,
    /// Bytes used, when the engine could tell.
    pub size: Option<u64>,
}

/// Every volume with its users.
#[tauri::command]
pub async fn volumes_list(state: State<'_, AppState>) -> AppResult<Vec<VolumeRow>> {
    let docker = state.docker().await?;
    let (volumes, containers) = tokio::try_join!(
        docker.list_volumes(None::<bollard::query_parameters::ListVolumesOptions>),
        docker.list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
    )?;
    let mut users: HashMap<String, Vec<String>> = HashMap::new();
    for c in containers {
        let name = c
            .names
            .and_then(|n| n.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_owned())
            .unwrap_or_default();
        for m in c.mounts.unwrap_or_default() {
            if let Some(volume) = m.name {
                users.entry(volume).or_default().push(name.clone());
            }
        }
    }
    // Sizes come from the engine's `/system/df`, which walks every volume: the list does not
    // wait long for them.
    let sizes: HashMap<String, u64> = match crate::guest::agent(&state) {
        Ok(agent) => tokio::time::timeout(
            std::time::Duration::from_secs(5),
            disk_usage::volume_sizes(&GuestEngine(agent)),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default()
        .into_iter()
        .collect(),
        Err(_) => HashMap::new(),
    };
    Ok(volumes
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| VolumeRow {
            users: users.remove(&v.name).unwrap_or_default(),
            size: sizes.get(&v.name).copied(),
            created: v.created_at.map(|d| d.to_string()),
            name: v.name,
            driver: v.driver,
            mountpoint: v.mountpoint,
        })
        .collect())
}

/// Creates a named volume.
#[tauri::command]
pub async fn volume_create(state: State<'_, AppState>, name: String) -> AppResult<()> {
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(crate::error::AppError::input(
            "name",
            "use letters, digits, '_', '.' and '-' only",
        ));
    }
    let docker = state.docker().await?;
    docker
        .create_volume(VolumeCreateRequest {
            name: Some(name.to_owned()),
            ..Default::default()
        })
        .await?;
    Ok(())
}

/// Deletes a volume (refused by the engine while a container uses it).
#[tauri::command]
pub async fn volume_remove(state: State<'_, AppState>, name: String) -> AppResult<()> {
    let docker = state.docker().await?;
    docker
        .remove_volume(&name, None::<RemoveVolumeOptions>)
        .await?;
    Ok(())
}

/// Deletes every volume no container uses; returns the bytes reclaimed.
#[tauri::command]
pub async fn volumes_prune(state: State<'_, AppState>) -> AppResult<i64> {
    let docker = state.docker().await?;
    // Without `all`, API 1.42+ prunes only anonymous volumes.
    let filters = HashMap::from([("all".to_owned(), vec!["true".to_owned()])]);
    let report = docker
        .prune_volumes(Some(bollard::query_parameters::PruneVolumesOptions {
            filters: Some(filters),
        }))
        .await?;
    Ok(report.space_reclaimed.unwrap_or(0))
}
