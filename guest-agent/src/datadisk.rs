//! The engine's data disk: a blank virtio disk is formatted ext4 on first boot; an ext4 disk is
//! checked (`e2fsck -p`) and mounted with online discard, so the host's sparse file shrinks when
//! images are deleted. A disk holding anything else is never formatted: its data is not ours.
//! The engine's and containerd's state directories are bind-mounted from it.

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nix::mount::{mount, MsFlags};

use crate::reaper::Reaper;

/// Where the data disk is mounted.
pub const MOUNT_POINT: &str = "/var/lib/berth";
/// Directories on the data disk (or the WSL data distribution's share) and where they are bound.
pub(crate) const BINDS: &[(&str, &str)] = &[
    ("docker", "/var/lib/docker"),
    ("containerd", "/var/lib/containerd"),
];
/// Bytes inspected to decide whether a disk is blank.
const PROBE: usize = 128 * 1024;

/// What a disk holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Contents {
    /// Only zeros where a filesystem would have its superblock.
    Blank,
    /// An ext2/3/4 filesystem.
    Ext4,
    /// Something else.
    Unknown,
}

/// Classifies the first bytes of a disk.
pub fn classify(head: &[u8]) -> Contents {
    // The ext superblock starts at 1024; its magic 0xEF53 sits at offset 56 in it.
    if head.get(1080..1082) == Some(&[0x53, 0xEF]) {
        Contents::Ext4
    } else if head.iter().all(|b| *b == 0) {
        Contents::Blank
    } else {
        Contents::Unknown
    }
}

/// Why the data disk could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The device never appeared.
    #[error("data disk {0} did not appear")]
    Missing(String),
    /// Reading, formatting, checking or mounting failed.
    #[error("data disk {device}: {what}")]
    Failed {
        /// The device.
        device: String,
        /// What went wrong.
        what: String,
    },
    /// The disk holds data that is not an ext4 filesystem.
    #[error("data disk {0} holds data that is not an ext4 filesystem; refusing to format it")]
    Foreign(String),
}

/// Prepares and mounts the data disk at [`MOUNT_POINT`] and binds the engine's directories.
pub async fn prepare(reaper: &Reaper, device: &str) -> Result<(), DiskError> {
    let failed = |what: String| DiskError::Failed {
        device: device.to_owned(),
        what,
    };
    for _ in 0..500 {
        if Path::new(device).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if !Path::new(device).exists() {
        return Err(DiskError::Missing(device.to_owned()));
    }
    let path = device.to_owned();
    let head = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut head = vec![0u8; PROBE];
        let mut file = std::fs::File::open(path)?;
        let n = file.read(&mut head)?;
        head.truncate(n);
        Ok(head)
    })
    .await
    .map_err(|e| failed(e.to_string()))?
    .map_err(|e| failed(format!("cannot read: {e}")))?;

    match classify(&head) {
        Contents::Blank => {
            tracing::info!("data disk {device} is blank: formatting ext4");
            reaper
                .check(Command::new("/usr/sbin/mkfs.ext4").args([
                    "-q",
                    "-F",
                    "-L",
                    "berth-data",
                    "-E",
                    "nodiscard,lazy_itable_init=1,lazy_journal_init=1",
                    device,
                ]))
                .await
                .map_err(|e| failed(e.to_string()))?;
        }
        Contents::Ext4 => {
            let out = reaper
                .run(Command::new("/usr/sbin/e2fsck").args(["-p", device]))
                .await
                .map_err(|e| failed(e.to_string()))?;
            // 0: clean, 1: errors fixed, 2: fixed, reboot wanted (only matters for /).
            match out.exit {
                crate::reaper::Exit::Code(0..=2) => {
                    tracing::info!("data disk: {}", out.text)
                }
                other => return Err(failed(format!("e2fsck {other}: {}", out.text))),
            }
        }
        Contents::Unknown => return Err(DiskError::Foreign(device.to_owned())),
    }

    std::fs::create_dir_all(MOUNT_POINT).map_err(|e| failed(e.to_string()))?;
    mount(
        Some(device),
        MOUNT_POINT,
        Some("ext4"),
        MsFlags::MS_NOATIME,
        Some("discard"),
    )
    .map_err(|e| failed(format!("mount: {e}")))?;
    for (dir, target) in BINDS {
        let source = Path::new(MOUNT_POINT).join(dir);
        std::fs::create_dir_all(&source).map_err(|e| failed(e.to_string()))?;
        std::fs::create_dir_all(target).map_err(|e| failed(e.to_string()))?;
        mount(
            Some(&source),
            *target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| failed(format!("bind {target}: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_blank_ext4_and_foreign_disks() {
        assert_eq!(classify(&vec![0; PROBE]), Contents::Blank);
        let mut ext = vec![0; PROBE];
        ext[1080] = 0x53;
        ext[1081] = 0xEF;
        assert_eq!(classify(&ext), Contents::Ext4);
        let mut foreign = vec![0; PROBE];
        foreign[510] = 0x55;
        foreign[511] = 0xAA;
        assert_eq!(classify(&foreign), Contents::Unknown);
        assert_eq!(classify(&[]), Contents::Blank);
    }
}
