//! Why the daemon could not run the VM. Every failure has a stable [`DaemonError::code`] and,
//! for settings, the [`DaemonError::field`] at fault; [`DaemonError::failure`] is what
//! `state.json` and the channel carry to every client, so the app marks a bad `memory_mib`
//! on that field and the CLI prints the same message.

use berth_core::backend::BackendError;
use berth_core::instance::{Failure, InstanceError};
use berth_core::settings::SettingsError;
use berth_core::shares::ShareError;

use crate::engine_ready::EngineWaitError;

/// A failure of the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The settings file is unreadable, or a value is out of range.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A shared folder cannot be shared.
    #[error(transparent)]
    Shares(#[from] ShareError),
    /// Another daemon runs, or the runtime directory cannot be written.
    #[error(transparent)]
    Instance(#[from] InstanceError),
    /// The guest image is missing or does not verify.
    #[error("the guest image cannot be used: {0}")]
    Image(#[from] berth_core::image::ImageError),
    /// What runs the VM is missing or refused the VM's description (QEMU, the data disk, the
    /// framework's configuration, WSL).
    #[error("{0}")]
    Hypervisor(String),
    /// The VM did not boot, or powering it off failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The VM booted but the engine did not become ready.
    #[error(transparent)]
    Engine(#[from] EngineWaitError),
    /// The engine socket could not be served.
    #[error(transparent)]
    EngineSocket(#[from] berth_core::engine_api::SocketError),
    /// The engine socket or the command channel could not be served.
    #[error("cannot serve {what}: {source}")]
    Serve {
        /// What was being served.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The VM ended by itself while running.
    #[error("the VM ended unexpectedly ({how}); see {console}; `berth start` starts it again")]
    VmEnded {
        /// How it ended, as the backend reports it.
        how: String,
        /// The console log.
        console: String,
    },
    /// The start options could not be read.
    #[error("the daemon's start options are not valid: {0}")]
    Options(String),
    /// Started as root without being asked to ([`crate::root`]).
    #[error("Berth does not run its VM as root: files containers write in shared folders would be root's, and the VM, its disk and the engine socket too; start it as your own user (it needs no privilege), or set BERTH_ALLOW_ROOT=1 to run as root anyway (a throwaway machine, CI)")]
    Root,
}

impl DaemonError {
    /// A stable, machine-readable name for the failure.
    pub fn code(&self) -> &'static str {
        match self {
            DaemonError::Settings(SettingsError::Invalid { .. }) => "invalid_setting",
            DaemonError::Settings(_) => "settings_file",
            DaemonError::Shares(_) => "invalid_setting",
            DaemonError::Instance(InstanceError::Running { .. }) => "already_running",
            DaemonError::Instance(_) => "io",
            DaemonError::Image(_) => "image",
            DaemonError::Hypervisor(_) => "hypervisor",
            DaemonError::Backend(BackendError::Boot(_)) => "boot",
            DaemonError::Backend(_) => "hypervisor",
            DaemonError::Engine(EngineWaitError::VmEnded { .. }) => "vm_ended",
            DaemonError::Engine(_) => "engine",
            DaemonError::Serve { .. } => "io",
            DaemonError::EngineSocket(_) => "engine_socket",
            DaemonError::VmEnded { .. } => "vm_ended",
            DaemonError::Options(_) => "internal",
            DaemonError::Root => "root",
        }
    }

    /// The setting at fault, for settings errors.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DaemonError::Settings(SettingsError::Invalid { field, .. }) => Some(field),
            DaemonError::Shares(_) => Some("shared_folders"),
            _ => None,
        }
    }

    /// The failure as clients receive it.
    pub fn failure(&self) -> Failure {
        Failure {
            code: self.code().to_owned(),
            message: self.to_string(),
            field: self.field().map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settings_error_keeps_its_field() {
        let err = DaemonError::Settings(SettingsError::Invalid {
            field: "memory_mib",
            message: "100 MiB is not between 512 and this machine's 4096 MiB".into(),
        });
        let failure = err.failure();
        assert_eq!(failure.code, "invalid_setting");
        assert_eq!(failure.field.as_deref(), Some("memory_mib"));
        assert!(
            failure.message.contains("memory_mib"),
            "{}",
            failure.message
        );
    }
}
