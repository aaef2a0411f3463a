//! Swarm services for the Containers view: name, stack (`com.docker.stack.namespace`), mode,
//! running and desired tasks, published ports. Their tasks are containers, listed (and grouped
//! by stack) with the others.

use bollard::models::{EndpointPortConfigPublishModeEnum, Service};
use bollard::query_parameters::ListServicesOptions;
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

use crate::containers::PortView;
use crate::error::AppResult;
use crate::state::AppState;

/// The label `docker stack deploy` puts on a stack's services and their tasks' containers.
pub const STACK_LABEL: &str = "com.docker.stack.namespace";

/// One Swarm service.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
pub struct ServiceRow {
    /// Full id.
    pub id: String,
    /// The service's name (`st_web` for service `web` of stack `st`).
    pub name: String,
    /// The stack, if the service belongs to one.
    pub stack: Option<String>,
    /// `replicated`, `global`, `replicated-job` or `global-job`.
    pub mode: String,
    /// Tasks running now.
    pub running: u64,
    /// Tasks wanted.
    pub desired: u64,
    /// Published ports (`public` is the published port; `ip` is `ingress` or `host`).
    pub ports: Vec<PortView>,
}

/// Turns the engine's service into a row.
pub fn service_row(s: Service) -> ServiceRow {
    let spec = s.spec.unwrap_or_default();
    let mode = spec.mode.unwrap_or_default();
    let mode = match (mode.global, mode.replicated_job, mode.global_job) {
        (Some(_), _, _) => "global",
        (_, Some(_), _) => "replicated-job",
        (_, _, Some(_)) => "global-job",
        _ => "replicated",
    };
    let status = s.service_status.unwrap_or_default();
    let ports = s
        .endpoint
        .and_then(|e| e.ports)
        .unwrap_or_default()
        .into_iter()
        .map(|p| PortView {
            ip: match p.publish_mode {
                Some(EndpointPortConfigPublishModeEnum::HOST) => "host".into(),
                _ => "ingress".into(),
            },
            private: p
                .target_port
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(0),
            public: p.published_port.and_then(|p| u16::try_from(p).ok()),
            protocol: p
                .protocol
                .map(|t| t.to_string())
                .unwrap_or_else(|| "tcp".into()),
        })
        .collect();
    ServiceRow {
        id: s.id.unwrap_or_default(),
        name: spec.name.unwrap_or_default(),
        stack: spec.labels.unwrap_or_default().get(STACK_LABEL).cloned(),
        mode: mode.into(),
        running: status.running_tasks.unwrap_or(0),
        desired: status.desired_tasks.unwrap_or(0),
        ports,
    }
}

/// Every Swarm service, with its task counts; none when the engine is in no swarm (or is no
/// manager, which answers 503).
#[tauri::command]
pub async fn swarm_services(state: State<'_, AppState>) -> AppResult<Vec<ServiceRow>> {
    let docker = state.docker().await?;
    let options = ListServicesOptions {
        status: Some(true),
        ..Default::default()
    };
    match docker.list_services(Some(options)).await {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 503, ..
        }) => Ok(Vec::new()),
        list => Ok(list?.into_iter().map(service_row).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_service_shows_its_stack_mode_tasks_and_ports() {
        let service: Service = serde_json::from_str(
            r#"{"ID":"s1","Spec":{"Name":"st_site","Labels":{"com.docker.stack.namespace":"st"},
                "Mode":{"Replicated":{"Replicas":2}}},
               "Endpoint":{"Ports":[{"Protocol":"tcp","TargetPort":80,"PublishedPort":18093,
                "PublishMode":"ingress"}]},
               "ServiceStatus":{"RunningTasks":1,"DesiredTasks":2}}"#,
        )
        .expect("service");
        let row = service_row(service);
        assert_eq!(row.name, "st_site");
        assert_eq!(row.stack.as_deref(), Some("st"));
        assert_eq!(row.mode, "replicated");
        assert_eq!((row.running, row.desired), (1, 2));
        assert_eq!(
            row.ports,
            vec![PortView {
                ip: "ingress".into(),
                private: 80,
                public: Some(18093),
                protocol: "tcp".into(),
            }]
        );
        let global: Service =
            serde_json::from_str(r#"{"ID":"s2","Spec":{"Name":"agent","Mode":{"Global":{}}}}"#)
                .expect("service");
        let row = service_row(global);
        assert_eq!((row.mode.as_str(), row.stack), ("global", None));
    }
}
