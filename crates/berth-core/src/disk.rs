//! The engine's data disk on the host: a sparse qcow2 file made with `qemu-img`, grown by the
//! guest as it writes and shrunk by its discards. The guest formats it on first boot.

use std::path::{Path, PathBuf};

use tokio::process::Command;

/// The data disk could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// qemu-img is missing.
    #[error("qemu-img was not found; install it with: sudo apt-get install qemu-utils")]
    QemuImgMissing,
    /// qemu-img failed.
    #[error("qemu-img create {path} failed: {message}")]
    Create {
        /// The disk path.
        path: PathBuf,
        /// qemu-img's error.
        message: String,
    },
}

/// Creates a `size_gib` qcow2 at `path` unless a file is already there (existing disks, and so
/// the user's images and volumes, are never touched, only made private). Returns whether it was
/// created. The disk is the user's only: 0600 in a 0700 directory.
pub async fn ensure_data_disk(path: &Path, size_gib: u32) -> Result<bool, DiskError> {
    let failed = |e: std::io::Error| DiskError::Create {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if path.exists() {
        make_private(path).map_err(failed)?;
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        crate::paths::ensure_private_dir(dir).map_err(failed)?;
    }
    let out = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on"])
        .arg(path)
        .arg(format!("{size_gib}G"))
        .output()
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DiskError::QemuImgMissing,
            _ => DiskError::Create {
                path: path.to_path_buf(),
                message: e.to_string(),
            },
        })?;
    if !out.status.success() {
        let _ = std::fs::remove_file(path);
        return Err(DiskError::Create {
            path: path.to_path_buf(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    make_private(path).map_err(failed)?;
    Ok(true)
}

/// Readable and writable by the user only (qemu-img creates with the umask's mode).
fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

// qemu-img makes the data disk: QEMU runs Berth on Linux only.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn creates_once_and_never_overwrites() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data").join("data.qcow2");
        assert!(ensure_data_disk(&path, 1).await.expect("create"));
        let header = std::fs::read(&path).expect("read");
        assert_eq!(&header[..4], b"QFI\xfb", "a qcow2 file");
        assert_eq!(mode(&path), 0o600, "the disk is the user's only");
        assert_eq!(mode(&dir.path().join("data")), 0o700);
        std::fs::write(&path, b"user data").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(!ensure_data_disk(&path, 1).await.expect("exists"));
        assert_eq!(std::fs::read(&path).expect("read"), b"user data");
        assert_eq!(mode(&path), 0o600, "an older disk is made private");
    }
}
