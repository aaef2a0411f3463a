//! What the CLI cannot do on this OS yet. The commands that drive the VM use Unix process
//! groups, signals, terminals and sockets; on Windows they answer with a clear error instead of
//! failing to build. (The WSL 2 backend itself is in `berth_core::wsl`.)

use anyhow::{bail, Result};

fn not_supported<T>(command: &str) -> Result<T> {
    bail!(
        "`berth {command}` is not supported on {} yet: the Windows CLI does not drive the WSL 2 \
         backend (see installer/README.md)",
        std::env::consts::OS
    )
}

/// `start`, `stop`, `restart`, `status`, `reset`.
pub mod lifecycle {
    use super::*;
    use crate::VmOptions;

    /// Not supported here.
    pub async fn start(_vm: VmOptions) -> Result<()> {
        not_supported("start")
    }
    /// Not supported here.
    pub async fn stop() -> Result<()> {
        not_supported("stop")
    }
    /// Not supported here.
    pub async fn restart(_vm: VmOptions) -> Result<()> {
        not_supported("restart")
    }
    /// Not supported here.
    pub async fn status(_json: bool) -> Result<()> {
        not_supported("status")
    }
    /// Not supported here.
    pub async fn reset(_yes: bool) -> Result<()> {
        not_supported("reset")
    }
}

/// The supervisor.
pub mod supervisor {
    use super::*;
    use crate::VmOptions;

    /// Not supported here.
    pub async fn run(_vm: VmOptions, _echo: bool) -> Result<()> {
        not_supported("start")
    }
}

/// `shell`.
pub mod shell {
    use super::*;

    /// Not supported here.
    pub async fn run() -> Result<()> {
        not_supported("shell")
    }
}
