//! QEMU: the typed command line ([`cmdline`]), the [`crate::backend::VmBackend`] on QEMU
//! ([`backend`]) and locating the binary ([`find_binary`]).

pub mod backend;
pub mod cmdline;

use std::path::PathBuf;

pub use backend::QemuBackend;
pub use cmdline::QemuConfig;

/// QEMU is not installed.
#[derive(Debug, thiserror::Error)]
#[error("qemu-system-x86_64 was not found on PATH; install it with: sudo apt-get install qemu-system-x86")]
pub struct QemuMissing;

/// Finds `qemu-system-x86_64` on `PATH` (or `BERTH_QEMU`).
pub fn find_binary() -> Result<PathBuf, QemuMissing> {
    if let Some(explicit) = std::env::var_os("BERTH_QEMU") {
        let explicit = PathBuf::from(explicit);
        return if explicit.is_file() {
            Ok(explicit)
        } else {
            Err(QemuMissing)
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("qemu-system-x86_64"))
        .find(|candidate| candidate.is_file())
        .ok_or(QemuMissing)
}
