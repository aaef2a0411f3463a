//! [`VmBackend`] on QEMU: KVM where it runs guests, else TCG; vhost-device-vsock or kernel
//! vhost-vsock; QMP for power-down, run state and the balloon; pausing by stopping the
//! process ([`ProcessPower`]).

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
    qmp: tokio::sync::Mutex<()>,
}

/// Pauses and resumes a QEMU VM by stopping and continuing its process (`SIGSTOP`,
/// `SIGCONT`): every vCPU and device thread stands still and the vhost-user backends
/// (vhost-device-vsock, virtiofsd) are never told, so their rings stay as they were.
///
/// QMP's `stop`/`cont` was tried first: it stops the vhost-user devices, and after a few
/// cycles vhost-device-vsock 0.3.0 stopped answering the guest's vsock port for good (a
/// known class of vring stop/restart bugs in vhost-user backends). A stopped process has no
/// such state to lose. Host connections made meanwhile wait in the backends' queues and are
/// served on `SIGCONT`; the guest's clocks jump by the pause, which the saver then checks.
#[derive(Debug, Clone)]
pub struct ProcessPower {
    pid: u32,
}

impl ProcessPower {
    /// The signal `signal` to QEMU, then a wait until the process shows `want` (`true`:
    /// stopped) in `/proc` (Linux), so a pause is in force when it returns.
    #[cfg(unix)]
    async fn signal(
        &self,
        signal: nix::sys::signal::Signal,
        stopped: bool,
    ) -> Result<(), BackendError> {
        let pid = i32::try_from(self.pid).map_err(|_| {
            BackendError::Hypervisor(format!("QEMU's pid {} is out of range", self.pid))
        })?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal)
            .map_err(|e| BackendError::Hypervisor(format!("cannot signal QEMU ({signal}): {e}")))?;
        #[cfg(target_os = "linux")]
        for _ in 0..200 {
            if process_stopped(self.pid) == Some(stopped) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        #[cfg(target_os = "linux")]
        return Err(BackendError::Hypervisor(format!(
            "QEMU did not {} within 1 s",
            if stopped { "stop" } else { "continue" }
        )));
        #[cfg(not(target_os = "linux"))]
        {
            let _ = stopped;
            Ok(())
        }
    }
}

/// Whether process `pid` is stopped (`T` in `/proc/PID/stat`); `None` if it is gone.
#[cfg(target_os = "linux")]
fn process_stopped(pid: u32) -> Option<bool> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.rsplit_once(')')?.1.split_ascii_whitespace().next()?;
    Some(state == "T")
}

impl PowerControl for ProcessPower {
    async fn pause(&self) -> Result<(), BackendError> {
        #[cfg(unix)]
        return self.signal(nix::sys::signal::Signal::SIGSTOP, true).await;
        #[cfg(not(unix))]
        Err(BackendError::Hypervisor(format!(
            "pausing QEMU (pid {}) needs Unix signals",
            self.pid
        )))
    }

    async fn resume(&self) -> Result<(), BackendError> {
        #[cfg(unix)]
        return self.signal(nix::sys::signal::Signal::SIGCONT, false).await;
        #[cfg(not(unix))]
        Err(BackendError::Hypervisor(format!(
            "pausing QEMU (pid {}) needs Unix signals",
            self.pid
        )))
    }
}

impl QemuBackend {
    /// A backend that will boot `config`.
    pub fn new(config: QemuConfig) -> QemuBackend {
        QemuBackend {
            config,
            running: None,
            qmp: tokio::sync::Mutex::new(()),
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
    type Power = ProcessPower;

    fn power_control(&self) -> Option<ProcessPower> {
        self.pid().map(|pid| ProcessPower { pid })
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
