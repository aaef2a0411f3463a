//! What the CLI cannot do on this OS yet: `shell` (a Unix terminal) and `doctor` (Unix
//! checks) answer with a clear error on Windows instead of failing to build.

use anyhow::{bail, Result};

fn not_supported<T>(command: &str) -> Result<T> {
    bail!(
        "`berth {command}` is not supported on {} yet (see installer/README.md)",
        std::env::consts::OS
    )
}

/// `shell`.
pub mod shell {
    use super::*;

    /// Not supported here.
    pub async fn run() -> Result<()> {
        not_supported("shell")
    }
}
