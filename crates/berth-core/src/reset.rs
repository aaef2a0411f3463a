//! Resetting Berth to its defaults: the data disks (every image, container and volume) and the
//! settings are deleted, never while Berth runs. On Windows the disks are WSL distributions:
//! each one Berth recorded as its own is unregistered (`wsl --unregister`, which deletes its
//! virtual disk), then its state file is deleted; nothing else of WSL's is touched. A blocking
//! call: run it off async workers.

use std::path::PathBuf;

use crate::paths::Paths;

/// Why Berth was not reset.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// Berth holds its lock.
    #[error("Berth is running: `berth stop` first")]
    Running,
    /// A WSL distribution could not be unregistered (the ones before it were).
    #[error("cannot unregister the WSL distribution {name}: {why}")]
    Unregister {
        /// The distribution.
        name: String,
        /// What `wsl.exe` said.
        why: String,
    },
    /// A file could not be deleted (the ones before it were).
    #[error("cannot delete {path}: {source}")]
    Delete {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What [`reset`] deletes: the QEMU (qcow2) and Virtualization.framework (raw) data disks and
/// the settings file.
pub fn targets(paths: &Paths) -> [PathBuf; 3] {
    [
        paths.qemu_data_disk(),
        paths.vz_data_disk(),
        paths.settings_file(),
    ]
}

/// Deletes the data disks and the settings, refusing while Berth runs; returns the files that
/// existed and were deleted.
pub fn reset(paths: &Paths) -> Result<Vec<PathBuf>, ResetError> {
    if crate::instance::is_locked(&paths.runtime) {
        return Err(ResetError::Running);
    }
    let mut deleted = Vec::new();
    #[cfg(windows)]
    deleted.extend(unregister_distributions(paths)?);
    for path in targets(paths) {
        match std::fs::remove_file(&path) {
            Ok(()) => deleted.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ResetError::Delete { path, source }),
        }
    }
    Ok(deleted)
}

/// Unregisters the WSL distributions Berth recorded as its own (the newest first), each named
/// by its place in the install directory, and deletes the record.
#[cfg(windows)]
fn unregister_distributions(paths: &Paths) -> Result<Vec<PathBuf>, ResetError> {
    use crate::wsl::{command, distro};
    let dir = paths.wsl_dir();
    let state = distro::State::load(&dir).map_err(|e| ResetError::Unregister {
        name: "(Berth's distributions)".into(),
        why: e.to_string(),
    })?;
    let mut deleted = Vec::new();
    for name in state.owned.iter().rev() {
        let output = std::process::Command::new("wsl.exe")
            .args(command::unregister(name))
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| ResetError::Unregister {
                name: name.clone(),
                why: format!("cannot run wsl.exe ({e})"),
            })?;
        let said = command::decode_output(&output.stdout) + &command::decode_output(&output.stderr);
        // One already gone (removed behind Berth's back) is what a reset wants anyway.
        let gone = said.contains("WSL_E_DISTRO_NOT_FOUND")
            || said.contains("no distribution with the supplied name");
        if !output.status.success() && !gone {
            return Err(ResetError::Unregister {
                name: name.clone(),
                why: said.trim().to_owned(),
            });
        }
        deleted.push(dir.join(name));
    }
    let record = dir.join(distro::STATE_FILE);
    match std::fs::remove_file(&record) {
        Ok(()) => deleted.push(record),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(ResetError::Delete {
                path: record,
                source,
            })
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(root: &std::path::Path) -> Paths {
        Paths::under(root)
    }

    #[test]
    fn refused_while_berth_runs() {
        let root = tempfile::tempdir().expect("tempdir");
        let paths = paths(root.path());
        std::fs::create_dir_all(&paths.data).expect("data");
        std::fs::write(paths.qemu_data_disk(), "disk").expect("disk");
        let lock = crate::instance::lock(&paths.runtime).expect("lock");
        assert!(matches!(reset(&paths), Err(ResetError::Running)));
        assert!(paths.qemu_data_disk().exists(), "nothing was deleted");
        drop(lock);
        assert_eq!(reset(&paths).expect("reset"), [paths.qemu_data_disk()]);
    }

    #[test]
    fn deletes_only_the_disks_and_the_settings() {
        let root = tempfile::tempdir().expect("tempdir");
        let paths = paths(root.path());
        for dir in [&paths.config, &paths.data, &paths.logs] {
            std::fs::create_dir_all(dir).expect("dir");
        }
        let keep = [
            paths.data.join("other"),
            paths.supervisor_log(),
            paths.config.join("accounts.json"),
        ];
        for file in targets(&paths).iter().chain(&keep) {
            std::fs::write(file, "x").expect("write");
        }
        let deleted = reset(&paths).expect("reset");
        assert_eq!(deleted, targets(&paths));
        for file in &deleted {
            assert!(!file.exists(), "{}", file.display());
        }
        for file in &keep {
            assert!(file.exists(), "{} was kept", file.display());
        }
        assert!(reset(&paths).expect("again").is_empty());
    }
}
