//! The VM backend seam: one trait every hypervisor implements (QEMU on Linux today;
//! Virtualization.framework and WSL2 behind the same calls), so the supervisor, the CLI and the
//! app drive a VM without knowing which one runs it.
//!
//! A backend boots the guest to the agent's ready line ([`VmBackend::start`]), powers it off
//! ([`VmBackend::stop`]), reports what the hypervisor sees ([`VmBackend::status`]), opens
//! connections to guest vsock ports ([`VmBackend::connect`]) and says what it can do
//! ([`VmBackend::capabilities`]). Where the hypervisor can stop the vCPUs, it also hands out
//! a [`PowerControl`] ([`VmBackend::power_control`]) that pauses and resumes the VM for the
//! resource saver while the supervisor keeps waiting on the VM.
//!
//! What the VM is made of is decided once, as a [`VmSpec`] ([`spec`]), and each backend's
//! configuration is built from it by that backend's `from_spec`. [`fake`] (feature
//! `fake-backend`, Unix) is a scripted stand-in backend for the supervisor's unit tests.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use crate::agent::AgentAddress;
use crate::vsock::{GuestStream, VsockError};

#[cfg(all(unix, any(test, feature = "fake-backend")))]
pub mod fake;
pub mod spec;

pub use spec::VmSpec;

/// What a backend can do, for the UI and for feature decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// The hypervisor (`qemu`, `vz`, `wsl2`).
    pub hypervisor: &'static str,
    /// The acceleration in use (`kvm`, `tcg`, `hvf`…).
    pub acceleration: String,
    /// The transport of guest vsock connections (`vhost-user`, `kernel`, `virtio-socket`…).
    pub vsock: &'static str,
    /// Whether host folders can be shared into the guest.
    pub shared_folders: bool,
    /// Whether the guest has a memory balloon the host can resize.
    pub balloon: bool,
    /// Whether the VM can be paused (the resource saver).
    pub pause: bool,
}

/// Pausing and resuming a running VM's vCPUs (the resource saver): a handle apart from the
/// backend, usable while the supervisor waits on [`VmBackend::exited`].
pub trait PowerControl: Clone + Send + Sync + 'static {
    /// Stops the vCPUs; the guest's memory and devices stay as they are.
    fn pause(&self) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Runs the vCPUs again.
    fn resume(&self) -> impl Future<Output = Result<(), BackendError>> + Send;
}

/// The [`PowerControl`] of a backend that cannot pause (it never exists).
#[derive(Debug, Clone)]
pub enum NoPause {}

impl PowerControl for NoPause {
    async fn pause(&self) -> Result<(), BackendError> {
        match *self {}
    }

    async fn resume(&self) -> Result<(), BackendError> {
        match *self {}
    }
}

/// A guest that reached the agent's ready line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// From the hypervisor's start to the ready line, as the host saw it.
    pub boot_time: Duration,
    /// The agent's version, from its ready line.
    pub agent_version: String,
    /// The guest's uptime at the ready line, in milliseconds.
    pub guest_uptime_ms: u64,
}

/// What the hypervisor says about the VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BackendStatus {
    /// Not started, or stopped.
    Stopped,
    /// The hypervisor runs the VM.
    Running {
        /// The hypervisor's own name for the guest's state (`running`, `paused`…).
        guest: String,
        /// Memory the balloon leaves the guest, in MiB, when known.
        balloon_mib: Option<u64>,
    },
    /// The guest died while the hypervisor still runs (panicked, internal error).
    Dead {
        /// The hypervisor's name for the state.
        guest: String,
    },
}

/// A backend operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Booting failed.
    #[error(transparent)]
    Boot(#[from] crate::vm::BootError),
    /// Powering off did not complete cleanly.
    #[error(transparent)]
    Stop(#[from] crate::vm::StopError),
    /// Talking to the hypervisor failed.
    #[error(transparent)]
    Control(#[from] crate::vm::qmp::QmpError),
    /// A guest port could not be reached.
    #[error(transparent)]
    Vsock(#[from] VsockError),
    /// The agent could not be reached.
    #[error(transparent)]
    Agent(#[from] crate::agent::AgentError),
    /// The operation needs a running VM.
    #[error("the VM is not running")]
    NotRunning,
    /// The operation needs a stopped VM.
    #[error("the VM is already running")]
    AlreadyRunning,
    /// Waiting for the hypervisor failed.
    #[error("waiting for the hypervisor: {0}")]
    Wait(std::io::Error),
    /// The hypervisor refused an operation (Virtualization.framework, WSL), in its words.
    #[error("{0}")]
    Hypervisor(String),
}

/// One hypervisor's way of running the Berth VM.
pub trait VmBackend: Send {
    /// How this backend pauses and resumes the VM ([`NoPause`] if it cannot).
    type Power: PowerControl;

    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// A handle that pauses and resumes the running VM, where the hypervisor can.
    fn power_control(&self) -> Option<Self::Power>;

    /// Boots the VM and waits up to `timeout` for the agent's ready line.
    fn start(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Started, BackendError>> + Send;

    /// Asks the guest to power off and waits up to `timeout`; forces it off after that.
    fn stop(&mut self, timeout: Duration) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// What the hypervisor says about the VM now.
    fn status(&mut self) -> impl Future<Output = Result<BackendStatus, BackendError>> + Send;

    /// Resolves when the VM ends by itself (the guest powered off, or the hypervisor died),
    /// describing how. Pending forever when the VM is not running.
    fn exited(&mut self) -> impl Future<Output = Result<String, BackendError>> + Send;

    /// Where the agent is reached, and this boot's secret, while the VM runs.
    fn agent(&self) -> Option<AgentAddress>;

    /// What the last start had to say to the user besides its result (WSL: a distribution
    /// removed behind Berth's back, a new image that did not boot and the previous one
    /// running instead). None by default.
    fn notices(&self) -> Vec<String> {
        Vec::new()
    }

    /// Opens a connection to the agent's vsock `port` (its preamble sent).
    fn connect(&self, port: u32) -> impl Future<Output = Result<GuestStream, BackendError>> + Send {
        let address = self.agent();
        async move {
            let address = address.ok_or(BackendError::NotRunning)?;
            Ok(crate::agent::connect_port(&address, port).await?)
        }
    }
}
