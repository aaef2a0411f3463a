//! Kernel vhost-vsock: when the host has `/dev/vhost-vsock` (the `vhost_vsock` module), QEMU's
//! `vhost-vsock-pci` device needs no helper process and the host reaches guest ports with plain
//! `AF_VSOCK` sockets.

use std::path::Path;

use super::{GuestStream, VsockError};

/// The host's vhost-vsock device.
pub const DEVICE: &str = "/dev/vhost-vsock";

/// Whether this host can give the guest a kernel vsock device: `/dev/vhost-vsock` exists and
/// this user can open it read-write.
pub fn available() -> bool {
    available_at(Path::new(DEVICE))
}

fn available_at(device: &Path) -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(device)
        .is_ok()
}

/// The guest context id for `uid`'s VM. Context ids are host-wide, so each user's VM gets its
/// own, above the reserved range (0–2) and the small ids other tools pick by hand.
pub fn cid_for_user(uid: u32) -> u32 {
    0x4265_0000 | (uid & 0xffff)
}

/// Connects to guest `port` on context `cid`.
#[cfg(target_os = "linux")]
pub async fn connect(cid: u32, port: u32) -> Result<GuestStream, VsockError> {
    tokio_vsock::VsockStream::connect(tokio_vsock::VsockAddr::new(cid, port))
        .await
        .map(GuestStream::Kernel)
        .map_err(|source| VsockError::Kernel { cid, port, source })
}

/// Kernel vsock exists only on Linux.
#[cfg(not(target_os = "linux"))]
pub async fn connect(_cid: u32, _port: u32) -> Result<GuestStream, VsockError> {
    Err(VsockError::KernelUnsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_is_not_available() {
        assert!(!available_at(Path::new("/nonexistent/vhost-vsock")));
    }

    #[test]
    fn each_user_gets_a_distinct_unreserved_cid() {
        assert_ne!(cid_for_user(0), cid_for_user(1000));
        assert!(cid_for_user(0) > 2);
    }
}
