//! Where Berth keeps its files, per OS, through the `directories` crate. On Linux:
//! settings in `~/.config/berth`, VM state in `~/.local/share/berth`, sockets and pid files in
//! `$XDG_RUNTIME_DIR/berth`, logs in `~/.local/state/berth`, the guest image in `~/.cache/berth`.

use std::path::PathBuf;

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
