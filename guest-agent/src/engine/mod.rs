//! The container engine: containerd and dockerd, started in parallel and supervised
//! ([`service`]), configured from the host's settings ([`config`]).
//!
//! The engine's state as the host sees it is dockerd's: it is what answers the API. Both get
//! the VM's own scratch folder as `TMPDIR` ([`crate::mounts::SCRATCH`]), never `/tmp`, which
//! is the host's temporary folder when that is shared.

pub mod config;
pub mod service;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_protocol::message::EngineState;
use berth_protocol::settings::{AgentSettings, LogLevel};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::logs::LogRing;
use crate::mounts::SCRATCH;
use crate::reaper::Reaper;
use config::{CONTAINERD_SOCKET, DOCKER_SOCKET};
use service::Service;

/// How long dockerd gets to stop before SIGKILL. On SIGTERM it stops every running container
/// with the container's own stop timeout (SIGTERM, then SIGKILL after 10 s unless
/// `--stop-timeout` says otherwise) and waits up to the longest of them plus 5 s. Killing it
/// sooner leaves containers killed behind its back, which it later reports as exited with
/// 255. Under the host's wait for the power-off (`berth_daemon::supervisor::STOP_TIMEOUT`, 60 s).
pub const DOCKERD_STOP_GRACE: Duration = Duration::from_secs(45);

/// The running engine.
pub struct Engine {
    /// dockerd's state.
    pub state: watch::Receiver<EngineState>,
    /// The engine's version once it has answered.
    pub version: Arc<Mutex<Option<String>>>,
    stop_docker: watch::Sender<bool>,
    stop_containerd: watch::Sender<bool>,
    docker: JoinHandle<()>,
    containerd: JoinHandle<()>,
}

/// The engine's and containerd's logs.
#[derive(Clone, Default)]
pub struct EngineLogs {
    /// dockerd's output.
    pub engine: LogRing,
    /// containerd's output.
    pub containerd: LogRing,
}

/// Writes `bytes` to `path`, readable by root only (also when the file already existed).
fn write_private(path: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)
}

impl Engine {
    /// Writes `daemon.json` and starts containerd and dockerd in parallel.
    pub fn start(
        reaper: &Reaper,
        settings: &AgentSettings,
        logs: &EngineLogs,
    ) -> std::io::Result<Engine> {
        std::fs::create_dir_all("/etc/docker")?;
        let json = serde_json::to_vec_pretty(&config::daemon_json(settings))?;
        // 0600: it holds the proxies' credentials and the mirrors' URLs (tokens included).
        write_private("/etc/docker/daemon.json", &json)?;
        enable_cgroup_controllers();
        let echo = settings.log_level == LogLevel::Debug;

        let (containerd_state, _) = watch::channel(EngineState::Starting);
        let (stop_containerd, stop_rx) = watch::channel(false);
        let containerd = tokio::spawn(service::supervise(
            Service {
                name: "containerd",
                command: || {
                    let mut cmd = Command::new("/usr/bin/containerd");
                    cmd.env("TMPDIR", SCRATCH);
                    cmd
                },
                ready: Box::new(|| Box::pin(wait_for_socket(CONTAINERD_SOCKET))),
                log: logs.containerd.clone(),
                echo,
                stop_grace: service::STOP_GRACE,
            },
            reaper.clone(),
            containerd_state,
            stop_rx,
        ));

        let version = Arc::new(Mutex::new(None));
        let known = version.clone();
        let (docker_state, state) = watch::channel(EngineState::Starting);
        let (stop_docker, stop_rx) = watch::channel(false);
        let docker = tokio::spawn(service::supervise(
            Service {
                name: "dockerd",
                command: || {
                    let mut cmd = Command::new("/usr/sbin/dockerd");
                    cmd.args(["--config-file", "/etc/docker/daemon.json"]);
                    // Until it starts: dockerd then sets its `TMPDIR` to `DOCKER_TMPDIR`
                    // (default /var/lib/docker/tmp, on the data disk).
                    cmd.env("TMPDIR", SCRATCH);
                    cmd
                },
                ready: Box::new(move || Box::pin(wait_for_engine(known.clone()))),
                log: logs.engine.clone(),
                echo,
                stop_grace: DOCKERD_STOP_GRACE,
            },
            reaper.clone(),
            docker_state,
            stop_rx,
        ));

        Ok(Engine {
            state,
            version,
            stop_docker,
            stop_containerd,
            docker,
            containerd,
        })
    }

    /// Stops dockerd (which stops the containers), then containerd.
    pub async fn stop(self) {
        self.stop_docker.send_replace(true);
        let _ = self.docker.await;
        self.stop_containerd.send_replace(true);
        let _ = self.containerd.await;
    }
}

/// Delegates every available controller to child cgroups, as the engine expects on cgroup v2.
fn enable_cgroup_controllers() {
    let Ok(available) = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers") else {
        return;
    };
    for controller in available.split_ascii_whitespace() {
        let _ = std::fs::write(
            "/sys/fs/cgroup/cgroup.subtree_control",
            format!("+{controller}"),
        );
    }
}

async fn wait_for_socket(path: &'static str) {
    while UnixStream::connect(path).await.is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until dockerd answers `/_ping`, then records its version, so a status that says
/// `Ready` always carries the version.
async fn wait_for_engine(version: Arc<Mutex<Option<String>>>) {
    loop {
        if let Ok(response) = get(DOCKER_SOCKET, "/_ping").await {
            if response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let found = get(DOCKER_SOCKET, "/version")
        .await
        .ok()
        .and_then(|r| parse_version(&r));
    *version.lock().unwrap_or_else(|p| p.into_inner()) = found;
}

/// A minimal HTTP/1.0 GET over a Unix socket (no chunked encoding), bounded to 1 MiB.
pub async fn get(socket: &str, path: &str) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(socket).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n").as_bytes())
        .await?;
    let mut body = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(5),
        (&mut stream).take(1 << 20).read_to_end(&mut body),
    )
    .await
    .map_err(|_| std::io::Error::other("timed out"))??;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The `Version` field of a `/version` response.
pub fn parse_version(response: &str) -> Option<String> {
    let body = response.split_once("\r\n\r\n")?.1;
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(json.get("Version")?.as_str()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_from_a_response() {
        let response = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"Version\":\"26.1.5\",\"ApiVersion\":\"1.45\"}";
        assert_eq!(parse_version(response).as_deref(), Some("26.1.5"));
        assert_eq!(parse_version("HTTP/1.0 500 oops\r\n\r\nnot json"), None);
        assert_eq!(parse_version("garbage"), None);
    }
}
