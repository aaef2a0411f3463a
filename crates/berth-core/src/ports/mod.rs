//! Published container ports on the host.
//!
//! The agent reports the whole set of ports the engine publishes (`Event::PortsChanged`, once
//! on subscribe and after every change); [`PortForwarder`] follows it on its own control
//! connection and keeps one host socket per published port ([`plan`] decides the address:
//! `127.0.0.1` unless the user opted in to all interfaces). TCP connections ([`tcp`]) and UDP
//! flows ([`udp`]) are relayed over vsock data connections to the engine's proxy on the same
//! port in the guest; each holds a lease of the resource saver ([`crate::saver`]), so the
//! first connection to a paused VM resumes it and waits.
//!
//! A port the host cannot listen on (in use by another program) is logged naming the container
//! and the port, shows in [`PortForwarder::status`], and is tried again at the next change;
//! the other ports are forwarded regardless. After the control connection drops, the forwarder
//! reconnects and the agent's full set brings the sockets back in line.

pub mod plan;
pub mod tcp;
pub mod udp;

use std::collections::BTreeMap;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_protocol::call::Subscribe;
use berth_protocol::message::{Event, PortProtocol, PublishedPort};
use berth_protocol::pages::{PortPages, MAX_SET};
use tokio::task::JoinHandle;

use crate::agent::AgentAddress;
use crate::agent::{AgentClient, AgentError};
use crate::saver::Saver;
use plan::{Listen, Target};
use tcp::TcpForward;
use udp::UdpForward;

/// Pause before reconnecting after the control connection failed.
const RECONNECT: Duration = Duration::from_secs(1);

/// The forwarding state of one published port, for status displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardStatus {
    /// The port as the agent published it.
    pub port: PublishedPort,
    /// The host socket, when listening.
    pub listening: Option<std::net::SocketAddr>,
    /// Why it is not forwarded, otherwise.
    pub error: Option<String>,
}

/// Follows the agent's published ports and forwards them; dropping it closes every socket.
pub struct PortForwarder {
    task: JoinHandle<()>,
    status: Arc<Mutex<Vec<ForwardStatus>>>,
}

impl PortForwarder {
    /// Starts following the agent at `endpoint`. With `all_interfaces`
    /// ports listen on the address each container asked for, otherwise on `127.0.0.1`.
    /// Connections and UDP flows each hold a lease of `saver` (the resource saver).
    pub fn start(
        endpoint: impl Into<AgentAddress>,
        all_interfaces: bool,
        saver: Saver,
    ) -> PortForwarder {
        let status = Arc::new(Mutex::new(Vec::new()));
        let guest = Arc::new(Guest {
            endpoint: endpoint.into(),
            saver,
        });
        let mut table = Table::new(guest, all_interfaces, status.clone());
        let task = tokio::spawn(async move {
            loop {
                if let Err(err) = follow(&mut table).await {
                    tracing::debug!("published ports: {err}; reconnecting");
                }
                tokio::time::sleep(RECONNECT).await;
            }
        });
        PortForwarder { task, status }
    }

    /// Every published port and whether it is forwarded.
    pub fn status(&self) -> Vec<ForwardStatus> {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for PortForwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One control connection's worth of following.
async fn follow(table: &mut Table) -> Result<(), AgentError> {
    let mut agent = AgentClient::connect(&table.guest.endpoint).await?;
    agent.call(Subscribe).await?;
    // A large set comes in pages; one from a connection that broke is forgotten.
    let mut pages = PortPages::default();
    loop {
        match agent.next_event().await {
            Ok(Event::PortsChanged { published, more }) => {
                if let Some(set) = pages.add(published, more) {
                    if set.dropped > 0 {
                        tracing::warn!(
                            "{} published ports left out: the agent's set is over {MAX_SET}",
                            set.dropped
                        );
                    }
                    table.apply(&set.published).await;
                }
            }
            Ok(Event::EngineStateChanged { .. }) => {}
            // Quiet for a while: nothing changed.
            Err(AgentError::Timeout(_)) => {}
            Err(err) => return Err(err),
        }
    }
}

/// An open host socket, held only so that dropping it closes the socket.
enum Forward {
    Tcp(#[allow(dead_code, reason = "held for its Drop")] TcpForward),
    Udp(#[allow(dead_code, reason = "held for its Drop")] UdpForward),
}

/// The agent that published ports relay through, and the resource saver their connections
/// lease the VM from.
pub struct Guest {
    /// The agent.
    pub endpoint: AgentAddress,
    /// The resource saver.
    pub saver: Saver,
}

/// The open sockets and what they relay to.
pub struct Table {
    guest: Arc<Guest>,
    all_interfaces: bool,
    udp_idle: Duration,
    open: BTreeMap<Listen, (Target, Forward)>,
    status: Arc<Mutex<Vec<ForwardStatus>>>,
}

impl Table {
    fn new(
        guest: Arc<Guest>,
        all_interfaces: bool,
        status: Arc<Mutex<Vec<ForwardStatus>>>,
    ) -> Table {
        Table {
            guest,
            all_interfaces,
            udp_idle: udp::IDLE_TIMEOUT,
            open: BTreeMap::new(),
            status,
        }
    }

    /// Opens and closes sockets so they match `published`.
    pub async fn apply(&mut self, published: &[PublishedPort]) {
        let (wanted, skipped) = plan::desired(published, self.all_interfaces);
        let (close, open) = plan::diff(&self.open, &wanted);
        for listen in close {
            if let Some((target, _)) = self.open.remove(&listen) {
                tracing::info!(
                    "{} no longer published (container {})",
                    show(&listen),
                    target.container
                );
            }
        }
        let mut errors: BTreeMap<Listen, String> = BTreeMap::new();
        for listen in open {
            let Some(target) = wanted.get(&listen) else {
                continue;
            };
            match self.bind(listen, target.guest_port).await {
                Ok(forward) => {
                    tracing::info!(
                        "{} forwarded to container {} port {}",
                        show(&listen),
                        target.container,
                        target.container_port
                    );
                    self.open.insert(listen, (target.clone(), forward));
                }
                Err(err) => {
                    let message = bind_error(&listen, &target.container, &err);
                    tracing::warn!("{message}");
                    errors.insert(listen, message);
                }
            }
        }
        // A socket kept open for a container that was replaced relays for the new one.
        for (listen, target) in &wanted {
            if let Some((current, _)) = self.open.get_mut(listen) {
                current.clone_from(target);
            }
        }
        // Each one named, up to a screenful: a range of thousands is summed up.
        const NAMED: usize = 10;
        for skip in skipped.iter().take(NAMED) {
            tracing::warn!(
                "port {} of container {} is not forwarded: {}",
                skip.port.port,
                plan::container_label(&skip.port),
                skip.reason
            );
        }
        if skipped.len() > NAMED {
            tracing::warn!(
                "{} more ports are not forwarded ({})",
                skipped.len() - NAMED,
                skipped[NAMED].reason
            );
        }
        self.record(published, &skipped, &errors);
    }

    async fn bind(&self, listen: Listen, guest_port: u16) -> std::io::Result<Forward> {
        let guest = self.guest.clone();
        Ok(match listen.protocol {
            PortProtocol::Tcp => {
                Forward::Tcp(TcpForward::bind(listen.addr, guest_port, guest).await?)
            }
            PortProtocol::Udp => {
                Forward::Udp(UdpForward::bind(listen.addr, guest_port, guest, self.udp_idle).await?)
            }
        })
    }

    fn record(
        &self,
        published: &[PublishedPort],
        skipped: &[plan::Skipped],
        errors: &BTreeMap<Listen, String>,
    ) {
        let statuses = published
            .iter()
            .map(|port| {
                let listen = plan::bind_ip(&port.host_ip, self.all_interfaces)
                    .ok()
                    .map(|ip| Listen {
                        protocol: port.protocol,
                        addr: std::net::SocketAddr::new(ip, port.port),
                    });
                let skip = skipped.iter().find(|s| s.port == *port);
                let error = skip
                    .map(|s| s.reason.clone())
                    .or_else(|| listen.and_then(|l| errors.get(&l).cloned()));
                let listening = listen
                    .filter(|l| error.is_none() && self.open.contains_key(l))
                    .map(|l| l.addr);
                ForwardStatus {
                    port: port.clone(),
                    listening,
                    error,
                }
            })
            .collect();
        if let Ok(mut status) = self.status.lock() {
            *status = statuses;
        }
    }
}

/// `127.0.0.1:8080/tcp`.
fn show(listen: &Listen) -> String {
    let proto = match listen.protocol {
        PortProtocol::Tcp => "tcp",
        PortProtocol::Udp => "udp",
    };
    format!("{}/{proto}", listen.addr)
}

/// The message for a socket that cannot be opened, naming the container and the port.
fn bind_error(listen: &Listen, container: &str, err: &std::io::Error) -> String {
    let why = match err.kind() {
        std::io::ErrorKind::AddrInUse => "the port is already in use on the host".to_owned(),
        std::io::ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges on the host".to_owned()
        }
        std::io::ErrorKind::AddrNotAvailable => "the host has no such address".to_owned(),
        _ => err.to_string(),
    };
    format!(
        "cannot publish port {} of container {container}: {why}; its other ports and other \
         containers are unaffected",
        show(listen)
    )
}

#[cfg(all(test, unix))]
mod tests;
