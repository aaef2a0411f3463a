//! [`VmBackend`] on QEMU: KVM where it runs guests, else TCG; vhost-device-vsock or kernel
//! vhost-vsock; QMP for power-down, run state, the balloon and pausing ([`QmpPower`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::agent::AgentAddress;
use crate::backend::{BackendError, BackendStatus, Capabilities, PowerControl, Started, VmBackend};
use crate::qemu::QemuConfig;
use crate::vm::{self, qmp, RunningVm};
use crate::vsock::VsockDevice;

/// How often a running VM's guest is checked for a death QEMU survives.
const DEAD_GUEST_CHECK: Duration = Duration::from_secs(5);

/// The QEMU backend for one configuration.
#[derive(Debug)]
pub struct QemuBackend {
    config: QemuConfig,
    running: Option<RunningVm>,
    /// Serializes QMP sessions: QEMU serves one QMP client at a time.
    qmp: Arc<tokio::sync::Mutex<()>>,
}

/// Pauses and resumes a QEMU VM through QMP (`stop`, `cont`), its sessions serialized with
/// the backend's.
#[derive(Debug, Clone)]
pub struct QmpPower {
    socket: PathBuf,
    session: Arc<tokio::sync::Mutex<()>>,
}

impl PowerControl for QmpPower {
    async fn pause(&self) -> Result<(), BackendError> {
        let _session = self.session.lock().await;
        Ok(qmp::stop(&self.socket).await?)
    }

    async fn resume(&self) -> Result<(), BackendError> {
        let _session = self.session.lock().await;
        Ok(qmp::cont(&self.socket).await?)
    }
}

impl QemuBackend {
    /// A backend that will boot `config`.
    pub fn new(config: QemuConfig) -> QemuBackend {
        QemuBackend {
            config,
            running: None,
            qmp: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The configuration it boots.
    pub fn config(&self) -> &QemuConfig {
        &self.config
    }

    /// QEMU's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().and_then(RunningVm::pid)
    }

    /// Asks the balloon to leave the guest `mib` MiB of memory.
    pub async fn set_guest_memory(&self, mib: u64) -> Result<(), BackendError> {
        if self.running.is_none() {
            return Err(BackendError::NotRunning);
        }
        let _session = self.qmp.lock().await;
        Ok(qmp::set_balloon(&self.config.qmp_socket, mib << 20).await?)
    }
}

impl VmBackend for QemuBackend {
    type Power = QmpPower;

    fn power_control(&self) -> Option<QmpPower> {
        self.running.as_ref().map(|_| QmpPower {
            socket: self.config.qmp_socket.clone(),
            session: self.qmp.clone(),
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            hypervisor: "qemu",
            acceleration: self.config.accel.to_string(),
            vsock: match self.config.vsock {
                Some(VsockDevice::Kernel { .. }) => "kernel",
                Some(VsockDevice::VhostUser(_)) => "vhost-user",
                None => "none",
            },
            shared_folders: true,
            balloon: true,
            pause: true,
        }
    }

    async fn start(&mut self, timeout: Duration) -> Result<Started, BackendError> {
        if self.running.is_some() {
            return Err(BackendError::AlreadyRunning);
        }
        let running = vm::boot_with_retry(&self.config, timeout).await?;
        let started = Started {
            boot_time: running.boot_time,
            agent_version: running.ready.version.clone(),
            guest_uptime_ms: running.ready.uptime_ms,
        };
        self.running = Some(running);
        Ok(started)
    }

    async fn stop(&mut self, timeout: Duration) -> Result<(), BackendError> {
        let running = self.running.take().ok_or(BackendError::NotRunning)?;
        let _session = self.qmp.lock().await;
        running.power_off(timeout).await?;
        Ok(())
    }

    async fn status(&mut self) -> Result<BackendStatus, BackendError> {
        let Some(running) = &mut self.running else {
            return Ok(BackendStatus::Stopped);
        };
        if running.has_exited() {
            return Ok(BackendStatus::Stopped);
        }
        let _session = self.qmp.lock().await;
        let state = qmp::query_status(&self.config.qmp_socket).await?;
        if state.is_dead() {
            return Ok(BackendStatus::Dead {
                guest: state.status,
            });
        }
        let balloon_mib = qmp::query_balloon(&self.config.qmp_socket)
            .await
            .ok()
            .map(|bytes| bytes >> 20);
        Ok(BackendStatus::Running {
            guest: state.status,
            balloon_mib,
        })
    }

    async fn exited(&mut self) -> Result<String, BackendError> {
        let Some(running) = &mut self.running else {
            return std::future::pending().await;
        };
        let socket = self.config.qmp_socket.clone();
        let qmp = &self.qmp;
        // A guest can die while QEMU runs on (a panic without reboot, an internal error):
        // QMP tells, every few seconds.
        let dead = async {
            loop {
                tokio::time::sleep(DEAD_GUEST_CHECK).await;
                let _session = qmp.lock().await;
                match qmp::query_status(&socket).await {
                    Ok(state) if state.is_dead() => return state.status,
                    Ok(_) => {}
                    Err(err) => tracing::debug!("QMP status: {err}"),
                }
            }
        };
        let how = tokio::select! {
            status = running.wait() => status.map_err(BackendError::Wait)?.to_string(),
            guest = dead => {
                running.kill().await;
                format!("the guest is {guest}; QEMU was stopped")
            }
        };
        self.running = None;
        Ok(how)
    }

    fn agent(&self) -> Option<AgentAddress> {
        self.running.as_ref().and_then(RunningVm::agent)
    }
}
