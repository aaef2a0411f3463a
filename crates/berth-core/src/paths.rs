//! Where Berth keeps its files, per OS, through the `directories` crate. On Linux:
//! settings in `~/.config/berth`, VM state in `~/.local/share/berth`, sockets and pid files in
//! `$XDG_RUNTIME_DIR/berth`, logs in `~/.local/state/berth`, the guest image in `~/.cache/berth`.
//!
//! Every file Berth keeps has its name here: a [`Paths`] method for the per-user files, a
//! constant or function of [`run_dir`] for the files a backend creates inside its run directory.
//! [`ensure_private_dir`] creates (or tightens) the runtime directory to 0700.

use std::path::{Path, PathBuf};

use directories::ProjectDirs;

/// Berth's directories for the current user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Paths {
    /// Settings (`settings.json`).
    pub config: PathBuf,
    /// VM state and the data disk.
    pub data: PathBuf,
    /// Sockets and pid files; private to the user (0700).
    pub runtime: PathBuf,
    /// Console, agent and engine logs.
    pub logs: PathBuf,
    /// Built or downloaded guest images.
    pub cache: PathBuf,
}

/// No home directory could be determined.
#[derive(Debug, thiserror::Error)]
#[error("cannot determine the home directory: set HOME")]
pub struct NoHome;

impl Paths {
    /// Every directory below one `root` (`config`, `data`, `run`, `logs`, `cache`): a Berth
    /// of its own, as tests and private instances use.
    pub fn under(root: &Path) -> Paths {
        Paths {
            config: root.join("config"),
            data: root.join("data"),
            runtime: root.join("run"),
            logs: root.join("logs"),
            cache: root.join("cache"),
        }
    }

    /// The per-user directories. `BERTH_CACHE_DIR` overrides the cache, as it does for
    /// `vm-image/build.sh`.
    pub fn for_user() -> Result<Paths, NoHome> {
        let dirs = ProjectDirs::from("", "", "berth").ok_or(NoHome)?;
        let data = dirs.data_local_dir().to_path_buf();
        let runtime = dirs
            .runtime_dir()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| data.join("run"));
        let logs = dirs
            .state_dir()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| data.join("logs"));
        let cache = std::env::var_os("BERTH_CACHE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| dirs.cache_dir().to_path_buf());
        Ok(Paths {
            config: dirs.config_dir().to_path_buf(),
            data,
            runtime,
            logs,
            cache,
        })
    }
}

/// `config/settings.json`.
pub const SETTINGS_FILE: &str = "settings.json";
/// `runtime/state.json`.
pub const STATE_FILE: &str = "state.json";
/// `runtime/berth.lock`.
pub const LOCK_FILE: &str = "berth.lock";
/// `runtime/console.log`.
pub const CONSOLE_LOG: &str = "console.log";
/// `runtime/docker.sock`.
pub const ENGINE_SOCKET: &str = "docker.sock";
/// `runtime/berth.sock`.
pub const SUPERVISOR_SOCKET: &str = "berth.sock";
/// `logs/berth.log`.
pub const SUPERVISOR_LOG: &str = "berth.log";
/// `data/data.qcow2`.
pub const QEMU_DATA_DISK: &str = "data.qcow2";
/// `data/data.img`.
pub const VZ_DATA_DISK: &str = "data.img";
/// `data/wsl`.
pub const WSL_DIR: &str = "wsl";

/// The names of the files a backend keeps in its run directory (the runtime directory).
pub mod run_dir {
    use std::path::{Path, PathBuf};

    /// QEMU's QMP socket.
    pub const QMP_SOCKET: &str = "qmp.sock";
    /// QEMU's own messages (beside the console log).
    pub const QEMU_LOG: &str = "qemu.log";
    /// The hybrid vsock socket the host connects to (also Virtualization.framework's bridge).
    pub const VSOCK_SOCKET: &str = "vsock.sock";
    /// The vhost-user socket QEMU connects to vhost-device-vsock through.
    pub const VHOST_VSOCK_SOCKET: &str = "vhost-vsock.sock";
    /// vhost-device-vsock's messages.
    pub const VHOST_DEVICE_VSOCK_LOG: &str = "vhost-device-vsock.log";
    /// The boot channel (the boot's secret and the engine's private settings, 0600) the
    /// hypervisor hands the guest; removed once the agent is ready.
    pub const BOOT_CHANNEL: &str = "boot-channel";

    /// The virtiofsd socket of shared folder `index`.
    pub fn virtiofs_socket(run_dir: &Path, index: usize) -> PathBuf {
        run_dir.join(format!("virtiofs-{index}.sock"))
    }
}

impl Paths {
    /// The user's settings: `config/settings.json`.
    pub fn settings_file(&self) -> PathBuf {
        self.config.join(SETTINGS_FILE)
    }

    /// The published VM state: `runtime/state.json`.
    pub fn state_file(&self) -> PathBuf {
        self.runtime.join(STATE_FILE)
    }

    /// The single-instance lock: `runtime/berth.lock`.
    pub fn lock_file(&self) -> PathBuf {
        self.runtime.join(LOCK_FILE)
    }

    /// The VM's serial console: `runtime/console.log`.
    pub fn console_log(&self) -> PathBuf {
        self.runtime.join(CONSOLE_LOG)
    }

    /// Where the Docker API is served: the socket `runtime/docker.sock`; on Windows the named
    /// pipe [`Paths::pipe`]`("engine")`.
    pub fn engine_socket(&self) -> PathBuf {
        #[cfg(windows)]
        return self.pipe("engine");
        #[cfg(not(windows))]
        self.runtime.join(ENGINE_SOCKET)
    }

    /// Windows: the named pipe `\\.\pipe\berth-<what>-<hash>`, its name derived from the
    /// runtime directory, so each user (and each test's directories) has its own.
    pub fn pipe(&self, what: &str) -> PathBuf {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(self.runtime.to_string_lossy().as_bytes());
        PathBuf::from(format!(
            r"\\.\pipe\berth-{what}-{}",
            hex::encode(&digest[..8])
        ))
    }

    /// The supervisor's command channel: `runtime/berth.sock`.
    pub fn supervisor_socket(&self) -> PathBuf {
        self.runtime.join(SUPERVISOR_SOCKET)
    }

    /// The supervisor's log: `logs/berth.log`.
    pub fn supervisor_log(&self) -> PathBuf {
        self.logs.join(SUPERVISOR_LOG)
    }

    /// QEMU's sparse data disk: `data/data.qcow2`.
    pub fn qemu_data_disk(&self) -> PathBuf {
        self.data.join(QEMU_DATA_DISK)
    }

    /// Virtualization.framework's sparse raw data disk: `data/data.img`.
    pub fn vz_data_disk(&self) -> PathBuf {
        self.data.join(VZ_DATA_DISK)
    }

    /// Where the WSL 2 backend keeps its distributions (a directory of virtual disks per
    /// distribution, the engine's data in the data distribution's) and the state file naming
    /// them: `data/wsl` (`%LOCALAPPDATA%\berth\data\wsl`).
    pub fn wsl_dir(&self) -> PathBuf {
        self.data.join(WSL_DIR)
    }

    /// Creates the runtime directory private to the user (see [`ensure_private_dir`]) and
    /// returns it.
    pub fn ensure_runtime(&self) -> std::io::Result<&Path> {
        ensure_private_dir(&self.runtime)?;
        Ok(&self.runtime)
    }
}

/// Creates `dir` (and missing parents) with mode 0700; an existing `dir` owned by this user
/// with a wider mode is tightened to 0700, one owned by another user and open to others is
/// refused (`PermissionDenied`). On Windows it is only created.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let meta = std::fs::metadata(dir)?;
        if meta.mode() & 0o077 == 0 {
            return Ok(());
        }
        let uid = nix::unistd::geteuid().as_raw();
        if meta.uid() != uid {
            // Someone else's directory open to others: its sockets would not be private.
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} belongs to uid {} (not {uid}) and has mode {:o}; remove it",
                    dir.display(),
                    meta.uid(),
                    meta.mode() & 0o777
                ),
            ));
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Replaces `path` with `bytes` atomically: a temporary file in the same directory (0600 on
/// Unix), flushed, then renamed over it. A missing directory is created 0700.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        ensure_private_dir(dir)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.unwrap_or_default(),
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| {
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // A stale temporary file keeps its old mode through `open`.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(root: &Path) -> Paths {
        Paths {
            config: root.join("config"),
            data: root.join("data"),
            runtime: root.join("data/run"),
            logs: root.join("logs"),
            cache: root.join("cache"),
        }
    }

    #[test]
    fn every_file_has_its_place() {
        let p = paths(Path::new("/b"));
        assert_eq!(p.settings_file(), Path::new("/b/config/settings.json"));
        assert_eq!(p.state_file(), Path::new("/b/data/run/state.json"));
        assert_eq!(p.lock_file(), Path::new("/b/data/run/berth.lock"));
        assert_eq!(p.console_log(), Path::new("/b/data/run/console.log"));
        #[cfg(not(windows))]
        assert_eq!(p.engine_socket(), Path::new("/b/data/run/docker.sock"));
        assert_eq!(p.supervisor_socket(), Path::new("/b/data/run/berth.sock"));
        assert_eq!(p.supervisor_log(), Path::new("/b/logs/berth.log"));
        assert_eq!(p.qemu_data_disk(), Path::new("/b/data/data.qcow2"));
        assert_eq!(p.wsl_dir(), Path::new("/b/data/wsl"));
        assert_eq!(p.vz_data_disk(), Path::new("/b/data/data.img"));
        assert_eq!(
            run_dir::virtiofs_socket(&p.runtime, 1),
            Path::new("/b/data/run/virtiofs-1.sock")
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_runtime_directory_is_created_private_and_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("tempdir");
        let p = paths(root.path());
        let mode = |d: &Path| std::fs::metadata(d).expect("meta").permissions().mode() & 0o777;
        assert_eq!(p.ensure_runtime().expect("create"), p.runtime);
        assert_eq!(mode(&p.runtime), 0o700);
        std::fs::set_permissions(&p.runtime, std::fs::Permissions::from_mode(0o755))
            .expect("widen");
        p.ensure_runtime().expect("again");
        assert_eq!(mode(&p.runtime), 0o700, "tightened");
    }

    #[cfg(unix)]
    #[test]
    fn a_private_write_replaces_the_file_0600() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("tempdir");
        let path = root.path().join("new/dir/file.json");
        write_private(&path, b"one").expect("write");
        write_private(&path, b"two").expect("replace");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(path.parent().expect("dir"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["file.json"], "no temporary file is left");
    }

    #[test]
    fn each_runtime_directory_has_its_own_pipes() {
        let a = Paths::under(Path::new("/a"));
        let b = Paths::under(Path::new("/b"));
        let name = a.pipe("engine").to_string_lossy().into_owned();
        assert!(name.starts_with(r"\\.\pipe\berth-engine-"), "{name}");
        assert_eq!(name.len(), r"\\.\pipe\berth-engine-".len() + 16);
        assert_ne!(a.pipe("engine"), b.pipe("engine"));
        assert_ne!(a.pipe("engine"), a.pipe("daemon"));
        assert_eq!(
            a.pipe("engine"),
            Paths::under(Path::new("/a")).pipe("engine")
        );
    }
}
