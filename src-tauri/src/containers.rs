//! Container commands: the list (with compose project and published ports), lifecycle actions,
//! inspect, and compose-project actions (start, stop, down).

use std::collections::HashMap;

use bollard::query_parameters::{
    ListContainersOptions, RemoveContainerOptions, RestartContainerOptions, StartContainerOptions,
    StopContainerOptions,
};
use serde::{Deserialize, Serialize};
use tauri::State;
use ts_rs::TS;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The compose project label.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";
const SERVICE_LABEL: &str = "com.docker.compose.service";
const WORKDIR_LABEL: &str = "com.docker.compose.project.working_dir";

/// A published port.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
pub struct PortView {
    /// Host address.
    pub ip: String,
    /// Port in the container.
    pub private: u16,
    /// Port on the host, when published.
    pub public: Option<u16>,
    /// tcp or udp.
    pub protocol: String,
}

/// One row of the container list.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ContainerRow {
    /// Full id.
    pub id: String,
    /// Name without the leading slash.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// created, running, paused, restarting, exited, dead.
    pub state: String,
    /// Human status ("Up 3 minutes").
    pub status: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// The compose project, if any.
    pub project: Option<String>,
    /// The compose service, if any.
    pub service: Option<String>,
    /// The compose project's folder, if any.
    pub project_dir: Option<String>,
    /// The Swarm stack, if the container is one of a stack's tasks.
    pub stack: Option<String>,
    /// Ports, published first.
    pub ports: Vec<PortView>,
}

/// Turns the engine's summary into a row.
pub fn row(c: bollard::models::ContainerSummary) -> ContainerRow {
    let labels = c.labels.unwrap_or_default();
    let mut ports: Vec<PortView> = c
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| PortView {
            ip: p.ip.unwrap_or_default(),
            private: p.private_port,
            public: p.public_port,
            protocol: p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into()),
        })
        .collect();
    ports.sort_by_key(|p| (p.public.is_none(), p.private, p.ip.contains(':')));
    ports.dedup_by_key(|p| (p.private, p.public, p.protocol.clone()));
    ContainerRow {
        id: c.id.unwrap_or_default(),
        name: c
            .names
            .and_then(|n| n.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_owned())
            .unwrap_or_default(),
        image: c.image.unwrap_or_default(),
        state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        status: c.status.unwrap_or_default(),
        created: c.created.unwrap_or_default(),
        project: labels.get(PROJECT_LABEL).cloned(),
        service: labels.get(SERVICE_LABEL).cloned(),
        project_dir: labels.get(WORKDIR_LABEL).cloned(),
        stack: labels.get(crate::services::STACK_LABEL).cloned(),
        ports,
    }
}

/// Every container, running or not.
#[tauri::command]
pub async fn containers_list(state: State<'_, AppState>) -> AppResult<Vec<ContainerRow>> {
    let docker = state.docker().await?;
    let list = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await?;
    Ok(list.into_iter().map(row).collect())
}

/// What can be done to a container.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, TS)]
#[ts(rename = "ContainerAction")]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Start it.
    Start,
    /// Stop it (10 s grace).
    Stop,
    /// Restart it.
    Restart,
    /// Freeze its processes.
    Pause,
    /// Thaw them.
    Unpause,
    /// Kill it.
    Kill,
    /// Delete it (forcefully, with its anonymous volumes).
    Remove,
}

/// Applies `action` to one container.
pub async fn apply(docker: &bollard::Docker, id: &str, action: Action) -> AppResult<()> {
    match action {
        Action::Start => {
            docker
                .start_container(id, None::<StartContainerOptions>)
                .await?
        }
        Action::Stop => {
            docker
                .stop_container(id, None::<StopContainerOptions>)
                .await?
        }
        Action::Restart => {
            docker
                .restart_container(id, None::<RestartContainerOptions>)
                .await?
        }
        Action::Pause => docker.pause_container(id).await?,
        Action::Unpause => docker.unpause_container(id).await?,
        Action::Kill => {
            docker
                .kill_container(id, None::<bollard::query_parameters::KillContainerOptions>)
                .await?
        }
        Action::Remove => {
            docker
                .remove_container(
                    id,
                    Some(RemoveContainerOptions {
                        force: true,
                        v: true,
                        ..Default::default()
                    }),
                )
                .await?
        }
    }
    Ok(())
}

/// Starts, stops, restarts, pauses, resumes, kills or deletes a container.
#[tauri::command]
pub async fn container_action(
    state: State<'_, AppState>,
    id: String,
    action: Action,
) -> AppResult<()> {
    let docker = state.docker().await?;
    apply(&docker, &id, action).await
}

/// The engine's full description of a container (config, env, mounts, network), as the
/// engine sends it.
#[tauri::command]
pub async fn container_inspect(
    state: State<'_, AppState>,
    id: String,
) -> AppResult<serde_json::Map<String, serde_json::Value>> {
    let docker = state.docker().await?;
    let inspect = docker
        .inspect_container(
            &id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await?;
    match serde_json::to_value(inspect) {
        Ok(serde_json::Value::Object(document)) => Ok(document),
        Ok(_) => Err(AppError::Internal(
            "the engine's inspect document is not an object".into(),
        )),
        Err(e) => Err(AppError::Internal(e.to_string())),
    }
}

/// What a compose action does to a whole project.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum ProjectAction {
    /// Start every container.
    Start,
    /// Stop every container.
    Stop,
    /// Restart every container.
    Restart,
    /// Remove the containers and the project's networks (`compose down`).
    Down,
}

/// Applies `action` to every container of a compose project.
#[tauri::command]
pub async fn project_action(
    state: State<'_, AppState>,
    project: String,
    action: ProjectAction,
) -> AppResult<()> {
    let docker = state.docker().await?;
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![format!("{PROJECT_LABEL}={project}")],
    )]);
    let list = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters.clone()),
            ..Default::default()
        }))
        .await?;
    let each = match action {
        ProjectAction::Start => Action::Start,
        ProjectAction::Stop => Action::Stop,
        ProjectAction::Restart => Action::Restart,
        ProjectAction::Down => Action::Remove,
    };
    let mut failures = Vec::new();
    for c in list {
        let id = c.id.unwrap_or_default();
        if let Err(e) = apply(&docker, &id, each).await {
            // Starting a started container is not a failure of the whole project.
            if !matches!(e, AppError::Engine { status: 304, .. }) {
                failures.push(e.to_string());
            }
        }
    }
    if action == ProjectAction::Down {
        let networks = docker
            .list_networks(Some(bollard::query_parameters::ListNetworksOptions {
                filters: Some(filters),
            }))
            .await?;
        for n in networks {
            if let Some(name) = n.name {
                if let Err(e) = docker.remove_network(&name).await {
                    failures.push(e.to_string());
                }
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(AppError::Conflict(failures.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_carry_the_compose_project_and_published_ports_first() {
        let summary: bollard::models::ContainerSummary = serde_json::from_value(serde_json::json!({
            "Id": "abc",
            "Names": ["/web-1"],
            "Image": "nginx",
            "State": "running",
            "Status": "Up 2 minutes",
            "Created": 1700000000,
            "Labels": {"com.docker.compose.project": "shop", "com.docker.compose.service": "web"},
            "Ports": [
                {"PrivatePort": 443, "Type": "tcp"},
                {"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}
            ]
        }))
        .expect("summary");
        let r = row(summary);
        assert_eq!(r.name, "web-1");
        assert_eq!(r.state, "running");
        assert_eq!(r.project.as_deref(), Some("shop"));
        assert_eq!(r.service.as_deref(), Some("web"));
        assert_eq!(r.ports[0].public, Some(8080));
        assert_eq!(r.ports[1].public, None);
    }
}
