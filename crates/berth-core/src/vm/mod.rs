//! Booting the Berth VM and stopping it.
//!
//! [`boot`] starts QEMU, follows the serial console (QEMU's standard output, copied to the
//! console log by [`console::follow`]) until the agent prints its ready line, and tells a guest that died (kernel panic, stage-1 failure, QEMU exit) from one
//! that is merely slow. [`boot_with_retry`] retries a dead guest once: under multi-threaded TCG a
//! rare guest kernel crash at boot is a known risk. [`RunningVm::power_off`] presses the ACPI
//! power button through QMP ([`qmp`]) and waits for QEMU to exit.

pub mod console;
pub mod qmp;

use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use berth_protocol::auth::{BootChannel, BootSecret};
use berth_protocol::boot::{ReadyLine, ReadyLineError};
use tokio::process::{Child, Command};

use crate::agent::AgentAddress;
use crate::qemu::QemuConfig;
use crate::vsock::VsockDevice;
use console::{Followed, Signal, Tail};

/// How often QEMU is checked for an exit while booting.
const POLL: Duration = Duration::from_millis(25);
/// How long a dying guest's last console lines are waited for.
const LAST_WORDS: Duration = Duration::from_millis(200);
/// How long the console copy may take to end once QEMU exited.
const COPY_END: Duration = Duration::from_secs(2);

/// Why a boot did not reach the ready line.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// QEMU could not be started.
    #[error("cannot start {binary}: {source}")]
    Spawn {
        /// The QEMU binary.
        binary: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A runtime file could not be prepared.
    #[error("cannot prepare {path}: {source}")]
    Prepare {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// QEMU exited before the agent was ready.
    #[error("QEMU exited during boot ({status}): {stderr}\n--- console ---\n{console}")]
    Exited {
        /// QEMU's exit status.
        status: String,
        /// What QEMU printed on stderr.
        stderr: String,
        /// The last console lines.
        console: String,
    },
    /// Kernel vsock: another VM (another user's Berth, another tool) holds the guest context
    /// id this one was given; it is not taken over.
    #[error("guest context id {cid} is held by another VM on this host, so this VM cannot use kernel vsock with it; stop that VM, or start Berth with BERTH_VSOCK=hybrid (vhost-device-vsock)")]
    CidInUse {
        /// The context id.
        cid: u32,
    },
    /// The guest printed a fatal error (kernel panic, stage 1 could not mount the root).
    #[error("the guest failed to boot: {reason}\n--- console ---\n{console}")]
    GuestCrashed {
        /// The fatal console line.
        reason: String,
        /// The last console lines.
        console: String,
    },
    /// No ready line within the time allowed.
    #[error("the guest did not become ready within {after:?}\n--- console ---\n{console}")]
    Timeout {
        /// The time allowed.
        after: Duration,
        /// The last console lines.
        console: String,
    },
    /// The vsock backend could not be started.
    #[error(transparent)]
    Vsock(#[from] crate::vsock::VsockError),
    /// A shared folder's virtiofsd could not be started.
    #[error(transparent)]
    Share(#[from] crate::shares::virtiofsd::DaemonError),
    /// The agent's ready line was malformed (an incompatible or broken agent).
    #[error("the agent announced itself with a malformed line: {0}")]
    BadReadyLine(#[from] ReadyLineError),
}

impl BootError {
    /// Whether the guest died (worth one retry), as opposed to a setup error or a hang.
    pub fn guest_died(&self) -> bool {
        matches!(
            self,
            BootError::Exited { .. } | BootError::GuestCrashed { .. }
        )
    }
}

/// A VM whose agent is ready.
#[derive(Debug)]
pub struct RunningVm {
    child: Child,
    secret: Option<BootSecret>,
    vsock_backend: Option<Child>,
    virtiofsd: crate::shares::Daemons,
    config: QemuConfig,
    /// The console's copy to its log, until QEMU's output ends.
    console: Option<tokio::task::JoinHandle<()>>,
    /// The agent's ready line.
    pub ready: ReadyLine,
    /// From QEMU's start to the ready line, as seen by the host.
    pub boot_time: Duration,
}

/// Starts QEMU and waits up to `timeout` for the agent's ready line.
pub async fn boot(config: &QemuConfig, timeout: Duration) -> Result<RunningVm, BootError> {
    for path in [&config.console_log, &config.qmp_socket] {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| BootError::Prepare {
                path: dir.display().to_string(),
                source,
            })?;
        }
    }
    // The console log is made afresh below.
    match std::fs::remove_file(&config.qmp_socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(BootError::Prepare {
                path: config.qmp_socket.display().to_string(),
                source,
            })
        }
    }
    // A new secret every boot, handed to QEMU in a 0600 file it reads at start.
    let secret = match &config.boot_channel {
        Some(path) => {
            let prepare = |source| BootError::Prepare {
                path: path.display().to_string(),
                source,
            };
            let secret = crate::agent::new_secret().map_err(prepare)?;
            let channel = BootChannel::new(secret.clone(), &config.agent);
            crate::paths::write_private(path, channel.to_text().as_bytes()).map_err(prepare)?;
            Some(secret)
        }
        None => None,
    };
    let channel_file = ChannelFile(config.boot_channel.clone());
    // A fresh console log per boot, bounded whatever the guest prints.
    let log = crate::logfile::SharedLog::create(&config.console_log, crate::logfile::MAX_LOG)
        .await
        .map_err(|source| BootError::Prepare {
            path: config.console_log.display().to_string(),
            source,
        })?;
    let started = Instant::now();
    let vsock_backend = match &config.vsock {
        Some(VsockDevice::VhostUser(paths)) => Some(crate::vsock::start_backend(paths).await?),
        Some(VsockDevice::Kernel { .. }) | None => None,
    };
    // One per boot: each virtiofsd serves a single QEMU and exits with it.
    let virtiofsd = crate::shares::Daemons::start(&config.shares).await?;
    // QEMU's own messages go to a file: a pipe nobody reads once the VM runs could fill and
    // stall it.
    let stderr_log = config.stderr_log();
    let stderr = std::fs::File::create(&stderr_log).map_err(|source| BootError::Prepare {
        path: stderr_log.display().to_string(),
        source,
    })?;
    let mut command = Command::new(&config.binary);
    crate::child::isolate(&mut command);
    let mut child = command
        .args(config.args())
        .stdin(Stdio::null())
        // The serial console (`-chardev stdio`), read by the daemon into the console log.
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| BootError::Spawn {
            binary: config.binary.display().to_string(),
            source,
        })?;
    tracing::debug!(pid = child.id(), "QEMU started");
    let output = child.stdout.take().ok_or_else(|| BootError::Prepare {
        path: "QEMU's console pipe".into(),
        source: std::io::Error::other("no pipe"),
    })?;
    let Followed { mut lines, copy } = console::follow(output, log);
    let mut tail = Tail::default();
    let mut open = true;
    loop {
        tokio::select! {
            line = lines.recv(), if open => match line {
                Some(line) => {
                    tail.push(&line);
                    match console::classify(&line)? {
                        Signal::Ready(ready) => {
                            drop(channel_file);
                            return Ok(RunningVm {
                                child,
                                secret,
                                vsock_backend,
                                virtiofsd,
                                config: config.clone(),
                                console: Some(copy),
                                ready,
                                boot_time: started.elapsed(),
                            });
                        }
                        Signal::Fatal(reason) => {
                            // Let QEMU print the rest of the panic, then stop it.
                            console::drain(&mut lines, &mut tail, LAST_WORDS).await;
                            let _ = child.kill().await;
                            return Err(BootError::GuestCrashed {
                                reason,
                                console: tail.text(),
                            });
                        }
                        Signal::Other => continue,
                    }
                }
                // The output ended: QEMU is exiting.
                None => open = false,
            },
            _ = tokio::time::sleep(POLL) => {}
        }
        if let Ok(Some(status)) = child.try_wait() {
            console::drain(&mut lines, &mut tail, COPY_END).await;
            let stderr = crate::child::read_tail(&stderr_log).await;
            if let Some(Some(VsockDevice::Kernel { cid })) =
                cid_in_use(&stderr).then_some(config.vsock.as_ref())
            {
                return Err(BootError::CidInUse { cid: *cid });
            }
            return Err(BootError::Exited {
                status: status.to_string(),
                stderr,
                console: tail.text(),
            });
        }
        if started.elapsed() > timeout {
            let _ = child.kill().await;
            return Err(BootError::Timeout {
                after: timeout,
                console: tail.text(),
            });
        }
    }
}

/// Whether QEMU's messages say the vhost-vsock device's guest context id is taken
/// (`vhost-vsock: unable to set guest cid: Address already in use`).
fn cid_in_use(stderr: &str) -> bool {
    stderr.lines().any(|line| {
        line.contains("unable to set guest cid") && line.contains("Address already in use")
    })
}

/// Removes the boot channel's file when dropped: once the agent is ready it has read the
/// channel (and QEMU read the file at start), and a failed boot leaves no secret behind.
struct ChannelFile(Option<std::path::PathBuf>);

impl Drop for ChannelFile {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// [`boot`], retried once more when the guest died during boot.
pub async fn boot_with_retry(
    config: &QemuConfig,
    timeout: Duration,
) -> Result<RunningVm, BootError> {
    match boot(config, timeout).await {
        Err(first) if first.guest_died() => {
            tracing::warn!("the guest died during boot, retrying once: {first}");
            boot(config, timeout).await
        }
        other => other,
    }
}

/// A power-off that did not complete cleanly.
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    /// QMP failed; QEMU was killed.
    #[error("{0}; QEMU was killed")]
    Qmp(#[from] qmp::QmpError),
    /// The guest did not power off in time; QEMU was killed.
    #[error("the guest did not power off within {0:?}; QEMU was killed")]
    Timeout(Duration),
    /// Waiting for QEMU failed.
    #[error("waiting for QEMU: {0}")]
    Wait(#[from] std::io::Error),
}

impl RunningVm {
    /// QEMU's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The process ids of QEMU and the helpers it runs with (the vsock backend).
    pub fn pids(&self) -> Vec<u32> {
        let helpers = self.vsock_backend.iter().filter_map(Child::id);
        self.child.id().into_iter().chain(helpers).collect()
    }

    /// Asks the guest to power off (ACPI power button) and waits up to `timeout` for QEMU to
    /// exit; kills QEMU if it does not.
    pub async fn power_off(mut self, timeout: Duration) -> Result<ExitStatus, StopError> {
        if let Err(err) = qmp::system_powerdown(&self.config.qmp_socket).await {
            let _ = self.child.kill().await;
            return Err(err.into());
        }
        let result = match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(StopError::Timeout(timeout))
            }
        };
        self.stop_helpers().await;
        result
    }

    /// Waits for QEMU to exit by itself (after the agent powered off), then stops the vsock
    /// backend.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let status = self.child.wait().await;
        self.stop_helpers().await;
        status
    }

    /// Once QEMU ended: stops the vsock backend and the virtiofs daemons, and lets the console
    /// copy write QEMU's last output (so a tail read next has the guest's last lines).
    async fn stop_helpers(&mut self) {
        if let Some(backend) = &mut self.vsock_backend {
            let _ = backend.kill().await;
        }
        self.virtiofsd.stop().await;
        if let Some(copy) = self.console.take() {
            let _ = tokio::time::timeout(COPY_END, copy).await;
        }
    }

    /// Where [`crate::agent`] connections reach the guest's agent, with this boot's secret.
    pub fn agent(&self) -> Option<AgentAddress> {
        let vsock = self.config.vsock.as_ref().map(VsockDevice::endpoint)?;
        let secret = self.secret.clone()?;
        Some(AgentAddress { vsock, secret })
    }

    /// The hybrid vsock socket, when the VM uses vhost-device-vsock.
    pub fn vsock_uds(&self) -> Option<&std::path::Path> {
        match &self.config.vsock {
            Some(VsockDevice::VhostUser(paths)) => Some(&paths.uds),
            _ => None,
        }
    }

    /// QEMU's QMP socket.
    pub fn qmp_socket(&self) -> &std::path::Path {
        &self.config.qmp_socket
    }

    /// Kills QEMU, the vsock backend and the virtiofs daemons at once.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
        self.stop_helpers().await;
    }

    /// Whether QEMU has exited (without waiting).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// The console log path.
    pub fn console_log(&self) -> &std::path::Path {
        &self.config.console_log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_guest_cid_is_recognised_in_qemus_messages() {
        assert!(cid_in_use(
            "qemu-system-x86_64: -device vhost-vsock-pci,guest-cid=1113916392: vhost-vsock: unable to set guest cid: Address already in use\n"
        ));
        assert!(!cid_in_use(
            "qemu-system-x86_64: vhost-vsock: unable to open /dev/vhost-vsock: Permission denied"
        ));
        let err = BootError::CidInUse { cid: 7 };
        assert!(err.to_string().contains("BERTH_VSOCK=hybrid"), "{err}");
    }
}
