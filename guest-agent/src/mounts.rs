//! The filesystems PID 1 mounts before anything else runs. Each mount is skipped when its target
//! is already a mount point (stage 1 hands over `/dev`), so the sequence is idempotent.
//!
//! The guest's own scratch space is [`SCRATCH`], a tmpfs under `/run` that no shared folder can
//! hide; the engine's processes get it as `TMPDIR`. `/tmp` is a tmpfs too, but only until a
//! shared folder is mounted over it: the host's temporary folder is shared at its own path by
//! default (see [`crate::shares`]), so `docker run -v "$(mktemp -d)":/w` finds the host's files.

use std::fs;
use std::path::Path;

use nix::mount::{mount, MsFlags};

/// The guest's own temporary folder (the engine's `TMPDIR`): under `/run`, which no shared
/// folder may hide, so it stays the VM's when the host's `/tmp` is shared over `/tmp`.
pub const SCRATCH: &str = "/run/berth/tmp";

/// One early mount.
struct Early {
    source: &'static str,
    target: &'static str,
    fstype: &'static str,
    flags: MsFlags,
    data: Option<&'static str>,
}

const NOSUID_NODEV_NOEXEC: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

const EARLY: &[Early] = &[
    Early {
        source: "proc",
        target: "/proc",
        fstype: "proc",
        flags: NOSUID_NODEV_NOEXEC,
        data: None,
    },
    Early {
        source: "sysfs",
        target: "/sys",
        fstype: "sysfs",
        flags: NOSUID_NODEV_NOEXEC,
        data: None,
    },
    Early {
        source: "devtmpfs",
        target: "/dev",
        fstype: "devtmpfs",
        flags: MsFlags::MS_NOSUID,
        data: Some("mode=0755"),
    },
    Early {
        source: "devpts",
        target: "/dev/pts",
        fstype: "devpts",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NOEXEC),
        data: Some("gid=5,mode=0620,ptmxmode=0666"),
    },
    Early {
        source: "shm",
        target: "/dev/shm",
        fstype: "tmpfs",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: Some("mode=1777"),
    },
    Early {
        source: "tmpfs",
        target: "/run",
        fstype: "tmpfs",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: Some("mode=0755"),
    },
    Early {
        source: "tmpfs",
        target: SCRATCH,
        fstype: "tmpfs",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: Some("mode=1777"),
    },
    // The VM's `/tmp` while no shared folder is mounted over it.
    Early {
        source: "tmpfs",
        target: "/tmp",
        fstype: "tmpfs",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: Some("mode=1777"),
    },
    Early {
        source: "cgroup2",
        target: "/sys/fs/cgroup",
        fstype: "cgroup2",
        flags: NOSUID_NODEV_NOEXEC,
        data: Some("nsdelegate"),
    },
];

/// A mount that failed, with what was being mounted.
#[derive(Debug, thiserror::Error)]
#[error("mount {fstype} on {target}: {source}")]
pub struct MountError {
    fstype: &'static str,
    target: &'static str,
    source: nix::Error,
}

/// Mounts the early filesystems and makes `/var/run` point at `/run`.
pub fn mount_early() -> Result<(), MountError> {
    for m in EARLY {
        let _ = fs::create_dir_all(m.target);
        if is_mount_point(m.target) {
            continue;
        }
        mount(Some(m.source), m.target, Some(m.fstype), m.flags, m.data).map_err(|source| {
            MountError {
                fstype: m.fstype,
                target: m.target,
                source,
            }
        })?;
    }
    if !Path::new("/var/run").exists() {
        let _ = std::os::unix::fs::symlink("/run", "/var/run");
    }
    Ok(())
}

/// Whether `target` is listed as a mount point in `/proc/self/mountinfo`.
pub fn is_mount_point(target: &str) -> bool {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let found = mount_points(&info).any(|point| point == target);
    found
}

/// The mount points listed in a mountinfo text (field 5 of each line).
pub fn mount_points(mountinfo: &str) -> impl Iterator<Item = &str> {
    mountinfo.lines().filter_map(|line| line.split(' ').nth(4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_from_mountinfo() {
        let info = "22 1 0:21 / / rw,relatime - overlay overlay rw\n\
                    23 22 0:5 / /dev rw,nosuid - devtmpfs devtmpfs rw\n\
                    garbage\n";
        assert_eq!(mount_points(info).collect::<Vec<_>>(), ["/", "/dev"]);
    }
}
