//! Published ports: the set of container ports the engine publishes (`-p`, `-P`, compose
//! `ports:`) and of Swarm services' ingress ports (`docker service create -p`, a stack's
//! `ports:`), kept current for the host.
//!
//! Once the engine answers, the agent follows its event stream (container `start`, `die`,
//! `destroy`; every `service` and `node` event; network `create` and `destroy`, which is how a
//! `docker swarm leave` shows: the ingress network goes) and after each burst of events lists
//! the running containers and the services again; the set goes
//! out on a watch channel that every subscribed control connection forwards as
//! `Event::PortsChanged`. The stream is opened with `since` set just before the first listing,
//! so nothing that happens in between is missed. When the engine stops or restarts the set is
//! emptied and rebuilt from a fresh listing once it answers again, so forwards always match the
//! containers that run.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_protocol::message::{EngineState, PortProtocol, PublishedPort};
use bollard::errors::Error as EngineError;
use bollard::models::{
    ContainerSummary, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    PortSummaryTypeEnum, Service,
};
use bollard::query_parameters::{EventsOptionsBuilder, ListContainersOptions};
use bollard::Docker;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::engine::config::DOCKER_SOCKET;

/// The engine API version the agent speaks (Debian trixie's dockerd 26 serves up to 1.45).
const API_VERSION: bollard::ClientVersion = bollard::ClientVersion {
    major_version: 1,
    minor_version: 45,
};
/// Timeout of each engine request, in seconds (the event stream is exempt in practice: it
/// only counts while waiting for headers).
const REQUEST_TIMEOUT_SECS: u64 = 30;
/// Pause before following the engine again after its stream broke.
const RETRY: Duration = Duration::from_secs(1);

/// Starts following the engine; the receiver always holds the current set (sorted). Abort the
/// handle before stopping the engine: dockerd waits for open event streams to end before it
/// exits, which would add seconds to every shutdown.
pub fn watch(
    engine_state: watch::Receiver<EngineState>,
) -> (watch::Receiver<Vec<PublishedPort>>, AbortHandle) {
    let (tx, rx) = watch::channel(Vec::new());
    let task = tokio::spawn(follow_forever(engine_state, tx));
    (rx, task.abort_handle())
}

async fn follow_forever(
    mut engine_state: watch::Receiver<EngineState>,
    ports: watch::Sender<Vec<PublishedPort>>,
) {
    loop {
        if engine_state
            .wait_for(|s| *s == EngineState::Ready)
            .await
            .is_err()
        {
            return;
        }
        let mut left = engine_state.clone();
        let ended = tokio::select! {
            result = follow(&ports) => result.err(),
            _ = left.wait_for(|s| *s != EngineState::Ready) => None,
        };
        if let Some(err) = ended {
            tracing::warn!("ports: following the engine failed: {err}");
        }
        // The stream may break a moment before the engine's exit is noticed.
        tokio::time::sleep(RETRY).await;
        if *engine_state.borrow() != EngineState::Ready {
            // The engine's containers went with it; it restores them after its restart.
            publish(&ports, Vec::new());
        }
    }
}

/// Lists the running containers, then follows the events until the stream ends.
async fn follow(ports: &watch::Sender<Vec<PublishedPort>>) -> Result<(), bollard::errors::Error> {
    let docker = Docker::connect_with_unix(DOCKER_SOCKET, REQUEST_TIMEOUT_SECS, &API_VERSION)?;
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .saturating_sub(1);
    publish(ports, list(&docker).await?);
    // Filters of different keys are ANDed by the engine, so one type-only filter: the events of
    // other actions (a container's `exec_start`, a network's `connect`) are dropped here.
    let filters = [("type", vec!["container", "service", "node", "network"])];
    let options = EventsOptionsBuilder::new()
        .since(&since.to_string())
        .filters(&filters.into_iter().collect::<HashMap<_, _>>())
        .build();
    let mut events = docker.events(Some(options));
    while let Some(event) = events.next().await {
        if !changes_ports(&event?) {
            continue;
        }
        // Coalesce a burst (compose starting several containers) into one listing.
        while let Some(Some(more)) = events.next().now_or_never() {
            more?;
        }
        publish(ports, list(&docker).await?);
    }
    Ok(())
}

/// Whether `event` may change the published set: a container starting or ending, any change
/// of a service or node, an ingress network appearing or going.
fn changes_ports(event: &bollard::models::EventMessage) -> bool {
    use bollard::models::EventMessageTypeEnum as Type;
    let action = event.action.as_deref().unwrap_or_default();
    match event.typ {
        Some(Type::CONTAINER) => matches!(action, "start" | "die" | "destroy"),
        Some(Type::SERVICE | Type::NODE) => true,
        Some(Type::NETWORK) => matches!(action, "create" | "destroy"),
        _ => false,
    }
}

async fn list(docker: &Docker) -> Result<Vec<PublishedPort>, EngineError> {
    let containers = docker
        .list_containers(Some(ListContainersOptions::default()))
        .await?;
    let mut set = published(&containers);
    set.extend(service_ports(&list_services(docker).await?));
    set.sort();
    set.dedup();
    Ok(set)
}

/// The engine's services; none when this node is in no swarm or is no manager (the engine
/// answers 503 then).
async fn list_services(docker: &Docker) -> Result<Vec<Service>, EngineError> {
    match docker.list_services(None).await {
        Err(EngineError::DockerResponseServerError {
            status_code: 503, ..
        }) => Ok(Vec::new()),
        other => other,
    }
}

/// The ingress ports of `services` (the routing mesh answers them on every address of the
/// guest, 127.0.0.1 included), labelled with the service's name and id. Ports published with
/// `mode=host` are left out: their tasks' containers carry the bindings, which [`published`]
/// reports already.
pub fn service_ports(services: &[Service]) -> Vec<PublishedPort> {
    services
        .iter()
        .flat_map(|s| {
            let id = s.id.clone().unwrap_or_default();
            let name = s
                .spec
                .as_ref()
                .and_then(|spec| spec.name.clone())
                .unwrap_or_default();
            let ports = s.endpoint.as_ref().and_then(|e| e.ports.as_ref());
            ports.into_iter().flatten().filter_map(move |p| {
                if p.publish_mode == Some(EndpointPortConfigPublishModeEnum::HOST) {
                    return None;
                }
                let protocol = match p.protocol {
                    Some(EndpointPortConfigProtocolEnum::TCP) | None => PortProtocol::Tcp,
                    Some(EndpointPortConfigProtocolEnum::UDP) => PortProtocol::Udp,
                    _ => return None,
                };
                let port = p
                    .published_port
                    .and_then(|port| u16::try_from(port).ok())
                    .filter(|port| *port != 0)?;
                Some(PublishedPort {
                    container_id: id.clone(),
                    protocol,
                    host_ip: String::new(),
                    port,
                    container_name: name.clone(),
                    container_port: p
                        .target_port
                        .and_then(|port| u16::try_from(port).ok())
                        .unwrap_or(0),
                })
            })
        })
        .collect()
}

fn publish(ports: &watch::Sender<Vec<PublishedPort>>, set: Vec<PublishedPort>) {
    ports.send_if_modified(|current| {
        if *current == set {
            return false;
        }
        tracing::info!("ports: {}", describe(&set));
        *current = set;
        true
    });
}

/// The ports `containers` publish, sorted and without duplicates. Unpublished ports and SCTP
/// (which the host cannot relay) are left out.
pub fn published(containers: &[ContainerSummary]) -> Vec<PublishedPort> {
    let mut set: Vec<PublishedPort> = containers
        .iter()
        .flat_map(|c| {
            let id = c.id.clone().unwrap_or_default();
            let name = c
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| berth_protocol::pages::short_name(n.trim_start_matches('/')))
                .unwrap_or_default();
            c.ports.iter().flatten().filter_map(move |p| {
                let protocol = match p.typ {
                    Some(PortSummaryTypeEnum::TCP) => PortProtocol::Tcp,
                    Some(PortSummaryTypeEnum::UDP) => PortProtocol::Udp,
                    _ => return None,
                };
                let port = p.public_port.filter(|port| *port != 0)?;
                Some(PublishedPort {
                    container_id: id.clone(),
                    protocol,
                    host_ip: p.ip.clone().unwrap_or_default(),
                    port,
                    container_name: name.clone(),
                    container_port: p.private_port,
                })
            })
        })
        .collect();
    set.sort();
    set.dedup();
    set
}

/// One line for the agent's log: `web 0.0.0.0:8080/tcp, dns :::53/udp` or `none`.
fn describe(set: &[PublishedPort]) -> String {
    if set.is_empty() {
        return "none published".to_owned();
    }
    set.iter()
        .map(|p| {
            let proto = match p.protocol {
                PortProtocol::Tcp => "tcp",
                PortProtocol::Udp => "udp",
            };
            format!("{} {}:{}/{proto}", p.container_name, p.host_ip, p.port)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(json: &str) -> ContainerSummary {
        serde_json::from_str(json).expect("container summary")
    }

    #[test]
    fn published_ports_come_from_the_listing_as_the_engine_reports_them() {
        // The shape dockerd 26 answers GET /containers/json with.
        let web = container(
            r#"{"Id":"abc","Names":["/web"],"State":"running","Ports":[
                {"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},
                {"IP":"::","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},
                {"PrivatePort":443,"Type":"tcp"},
                {"IP":"127.0.0.1","PrivatePort":53,"PublicPort":5353,"Type":"udp"},
                {"IP":"0.0.0.0","PrivatePort":9,"PublicPort":9,"Type":"sctp"}]}"#,
        );
        let bare = container(r#"{"Id":"def","Names":["/db"]}"#);
        let set = published(&[web.clone(), bare, web]);
        let got: Vec<_> = set
            .iter()
            .map(|p| {
                (
                    p.container_name.as_str(),
                    p.protocol,
                    p.host_ip.as_str(),
                    p.port,
                    p.container_port,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("web", PortProtocol::Tcp, "0.0.0.0", 8080, 80),
                ("web", PortProtocol::Tcp, "::", 8080, 80),
                ("web", PortProtocol::Udp, "127.0.0.1", 5353, 53),
            ]
        );
        assert!(set.iter().all(|p| p.container_id == "abc"));
        assert_eq!(
            describe(&set),
            "web 0.0.0.0:8080/tcp, web :::8080/tcp, web 127.0.0.1:5353/udp"
        );
        assert_eq!(describe(&[]), "none published");
    }

    #[test]
    fn services_publish_their_ingress_ports_under_the_service_name() {
        // The shape dockerd 26 answers GET /services with (trimmed).
        let services: Vec<Service> = serde_json::from_str(
            r#"[{"ID":"s1","Spec":{"Name":"web"},"Endpoint":{"Ports":[
                {"Protocol":"tcp","TargetPort":80,"PublishedPort":18091,"PublishMode":"ingress"},
                {"Protocol":"udp","TargetPort":53,"PublishedPort":5353,"PublishMode":"ingress"},
                {"Protocol":"tcp","TargetPort":81,"PublishedPort":18092,"PublishMode":"host"},
                {"Protocol":"sctp","TargetPort":9,"PublishedPort":9,"PublishMode":"ingress"},
                {"Protocol":"tcp","TargetPort":82,"PublishMode":"ingress"}]}},
              {"ID":"s2","Spec":{"Name":"worker"}}]"#,
        )
        .expect("services");
        let got: Vec<_> = service_ports(&services)
            .into_iter()
            .map(|p| {
                (
                    p.container_id,
                    p.container_name,
                    p.protocol,
                    p.host_ip,
                    p.port,
                    p.container_port,
                )
            })
            .collect();
        let web = |proto, port, target| {
            (
                "s1".into(),
                "web".into(),
                proto,
                String::new(),
                port,
                target,
            )
        };
        assert_eq!(
            got,
            vec![
                web(PortProtocol::Tcp, 18091, 80),
                web(PortProtocol::Udp, 5353, 53)
            ]
        );
    }
}
