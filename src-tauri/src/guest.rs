//! The app's way into the VM for work the engine's API does not do: typed data connections
//! to the guest agent ([`open`]: a volume's listing or export, a program of the engine's; see
//! [`berth_protocol::data`]), never a script in its shell; and how the VM names the host's
//! files ([`HostFiles`]).

use berth_core::agent::{open_data, AgentAddress};
use berth_core::instance::{self, VmState};
use berth_core::vsock::GuestStream;
use berth_protocol::data::DataHeader;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// How the VM sees the host's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostFiles {
    /// Shared folders are mounted at their host paths (QEMU's virtiofs on Linux,
    /// Virtualization.framework's virtio-fs on macOS).
    SamePaths,
    /// WSL mounts the local drives under `/mnt` (`C:\x` is `/mnt/c/x`; Windows).
    WslDrives,
}

impl HostFiles {
    /// This OS's.
    pub const THIS_OS: HostFiles = if cfg!(windows) {
        HostFiles::WslDrives
    } else {
        HostFiles::SamePaths
    };

    /// Where the VM sees the absolute host path `host`; `None` where it cannot (on Windows a
    /// network share or a relative path, which WSL does not mount).
    pub fn guest_path(self, host: &str) -> Option<String> {
        match self {
            HostFiles::SamePaths => Some(host.to_owned()),
            HostFiles::WslDrives => berth_core::wsl::paths::to_wsl(host),
        }
    }
}

/// Where the running VM's agent is reached.
pub fn agent(state: &AppState) -> AppResult<AgentAddress> {
    instance::read_state(&state.paths.runtime)
        .filter(|s| s.state == VmState::Running)
        .and_then(|s| s.agent)
        .ok_or(AppError::VmNotRunning)
}

/// Opens a data connection carrying `header` to the running VM's agent, accepted: the agent's
/// typed frames and chunks follow.
pub async fn open(state: &AppState, header: DataHeader) -> AppResult<GuestStream> {
    Ok(open_data(agent(state)?, header).await?)
}

/// What an agent sends after `accepted` for a streamed guest operation, for tests: `chunks`,
/// the end-of-stream marker, then `trailer` (none: the stream was cut off).
#[cfg(test)]
pub async fn agent_stream<T: serde::Serialize>(chunks: &[&[u8]], trailer: Option<T>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for chunk in chunks {
        berth_protocol::stream::write_chunk(&mut bytes, chunk)
            .await
            .expect("chunk");
    }
    berth_protocol::stream::write_chunk(&mut bytes, b"")
        .await
        .expect("end");
    if let Some(trailer) = trailer {
        berth_protocol::data::write_frame(&mut bytes, &trailer)
            .await
            .expect("trailer");
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_are_named_as_the_vm_sees_them() {
        let same = HostFiles::SamePaths;
        assert_eq!(
            same.guest_path("/home/me/shop/compose.yaml").as_deref(),
            Some("/home/me/shop/compose.yaml")
        );
        let wsl = HostFiles::WslDrives;
        assert_eq!(
            wsl.guest_path(r"C:\Users\Me\My Shop\compose.yaml")
                .as_deref(),
            Some("/mnt/c/Users/Me/My Shop/compose.yaml")
        );
        assert_eq!(
            wsl.guest_path(r"\\?\D:\src\compose.yml").as_deref(),
            Some("/mnt/d/src/compose.yml")
        );
        for unseen in [
            r"\\server\share\compose.yaml",
            r"C:compose.yaml",
            r"C:\a\..\b",
        ] {
            assert_eq!(wsl.guest_path(unseen), None, "{unseen}");
        }
        let expected = if cfg!(windows) {
            HostFiles::WslDrives
        } else {
            HostFiles::SamePaths
        };
        assert_eq!(HostFiles::THIS_OS, expected);
    }
}
