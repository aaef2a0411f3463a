//! WSL mode: the agent as a process of a WSL 2 distribution instead of PID 1 of its own VM,
//! started by the host's WSL backend in one of two roles.
//!
//! - In the **system** distribution (`berth-agent --wsl [--data-dir DIR] berth.KEY=VALUE …`,
//!   one per image) it runs the engine. WSL's init has already mounted the kernel filesystems,
//!   brought the network up and mounted the Windows drives, so the agent skips mounts, modules,
//!   network and data disk, reads its settings from its arguments, makes itself the subreaper of
//!   the processes it starts, and exits (rather than powering off) when asked to stop. With
//!   `--data-dir`, the engine's data is not the distribution's own (which a new image replaces)
//!   but `DIR`, the data distribution's shared mount: its `docker` and `containerd` directories
//!   are bound over `/var/lib/docker` and `/var/lib/containerd`, and if `DIR` is not a mount
//!   point the engine stays stopped rather than write where an update would lose it.
//! - In the **data** distribution (`berth-agent --wsl-data DIR`) it only shares that
//!   distribution's `/var/lib/berth` at `DIR` under `/mnt/wsl` (which WSL shares between the
//!   distributions of its VM), prints the data ready line, and stays until it is signalled or its
//!   standard input (the host's pipe) closes, then unmounts `DIR` and exits.

use std::path::Path;

use berth_protocol::boot::{WSL_DATA_DIR_FLAG, WSL_DATA_MODE_FLAG, WSL_MODE_FLAG};
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::{console, datadisk, mounts};

/// Where the data distribution keeps the engine's data (its own root filesystem).
pub const DATA_ROOT: &str = "/var/lib/berth";

/// Only this shared mount may carry the engine's data between distributions.
const SHARED_ROOT: &str = "/mnt/wsl/";

/// What the arguments ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The engine's distribution: its settings line, and where its data lives if not in its
    /// own root.
    System {
        /// `berth.KEY=VALUE …`, as on a kernel command line.
        settings: String,
        /// The data distribution's shared mount (`--data-dir DIR`).
        data_dir: Option<String>,
    },
    /// The data distribution: share `/var/lib/berth` at this path.
    Data {
        /// A path under `/mnt/wsl`.
        dir: String,
    },
}

/// Why the arguments do not select a mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// A directory option without a usable path.
    #[error("{flag} needs an absolute path under /mnt/wsl without '..', not {given:?}")]
    BadDir {
        /// The option.
        flag: &'static str,
        /// What followed it.
        given: String,
    },
}

/// The WSL mode the arguments (after the program name) ask for: `None` when they ask for
/// none (the agent is then PID 1 of its own VM), an error for a WSL mode with a bad path.
pub fn mode(args: &[String]) -> Result<Option<Mode>, ArgsError> {
    match args {
        [flag, rest @ ..] if flag == WSL_MODE_FLAG => {
            let (data_dir, settings) = match rest {
                [opt, dir, settings @ ..] if opt == WSL_DATA_DIR_FLAG => {
                    (Some(shared_dir(WSL_DATA_DIR_FLAG, dir)?), settings)
                }
                [opt] if opt == WSL_DATA_DIR_FLAG => {
                    return Err(ArgsError::BadDir {
                        flag: WSL_DATA_DIR_FLAG,
                        given: String::new(),
                    })
                }
                settings => (None, settings),
            };
            Ok(Some(Mode::System {
                settings: settings.join(" "),
                data_dir,
            }))
        }
        [flag, dir] if flag == WSL_DATA_MODE_FLAG => Ok(Some(Mode::Data {
            dir: shared_dir(WSL_DATA_MODE_FLAG, dir)?,
        })),
        [flag, rest @ ..] if flag == WSL_DATA_MODE_FLAG => Err(ArgsError::BadDir {
            flag: WSL_DATA_MODE_FLAG,
            given: rest.join(" "),
        }),
        _ => Ok(None),
    }
}

/// `dir` if it is a plain absolute path strictly below `/mnt/wsl/`.
fn shared_dir(flag: &'static str, dir: &str) -> Result<String, ArgsError> {
    let plain = dir
        .strip_prefix(SHARED_ROOT)
        .is_some_and(|rest| !rest.is_empty() && rest.split('/').all(|p| p != ".." && p != "."));
    if plain && !dir.contains(char::is_whitespace) {
        Ok(dir.trim_end_matches('/').to_owned())
    } else {
        Err(ArgsError::BadDir {
            flag,
            given: dir.to_owned(),
        })
    }
}

/// Orphans of the engine's processes come back to the agent's reaper, not to WSL's init.
pub fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// In the system distribution: binds the engine's directories from the data distribution's
/// shared mount `dir`. An error leaves the engine stopped.
pub fn bind_data(dir: &str) -> Result<(), String> {
    if !mounts::is_mount_point(dir) {
        return Err(format!(
            "{dir} is not mounted (the data distribution did not share it)"
        ));
    }
    for (name, target) in datadisk::BINDS {
        let source = Path::new(dir).join(name);
        std::fs::create_dir_all(&source).map_err(|e| format!("{}: {e}", source.display()))?;
        std::fs::create_dir_all(target).map_err(|e| format!("{target}: {e}"))?;
        mount(
            Some(&source),
            *target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| format!("bind {} over {target}: {e}", source.display()))?;
    }
    Ok(())
}

/// The data distribution's whole life: share [`DATA_ROOT`] at `dir`, say so, wait, unshare.
pub async fn serve_data(dir: &str) -> Result<(), String> {
    std::fs::create_dir_all(DATA_ROOT).map_err(|e| format!("{DATA_ROOT}: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
    if mounts::is_mount_point(dir) {
        // Left by a data agent that was killed: share this one instead.
        let _ = umount2(dir, MntFlags::MNT_DETACH);
    }
    mount(
        Some(DATA_ROOT),
        dir,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| format!("bind {DATA_ROOT} at {dir}: {e}"))?;
    console::raw(&berth_protocol::boot::data_ready_line(dir));
    let requests = crate::shutdown::Requests::listen().map_err(|e| e.to_string())?;
    let never = tokio::sync::Notify::new();
    let stdin_closed = async {
        use tokio::io::AsyncReadExt;
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
    };
    tokio::select! {
        reason = requests.wait(&never) => tracing::info!("data: leaving ({reason})"),
        () = stdin_closed => tracing::info!("data: the host went away"),
    }
    umount2(dir, MntFlags::MNT_DETACH).map_err(|e| format!("unmount {dir}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_protocol::settings::AgentSettings;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn system(list: &[&str]) -> (String, Option<String>) {
        match mode(&args(list)) {
            Ok(Some(Mode::System { settings, data_dir })) => (settings, data_dir),
            other => panic!("{list:?}: {other:?}"),
        }
    }

    #[test]
    fn only_a_leading_flag_selects_wsl_mode() {
        assert_eq!(mode(&args(&[])), Ok(None));
        assert_eq!(mode(&args(&["berth.log=debug", "--wsl"])), Ok(None));
        assert_eq!(mode(&args(&["berth.log=debug", "--wsl-data"])), Ok(None));
        assert_eq!(system(&["--wsl"]), (String::new(), None));
        let (line, data_dir) = system(&["--wsl", "berth.mirror=http://m:5000", "berth.log=debug"]);
        assert_eq!(data_dir, None);
        let (settings, warnings) = AgentSettings::from_cmdline(&line);
        assert!(warnings.is_empty());
        assert_eq!(settings.engine.registry_mirrors, ["http://m:5000"]);
    }

    #[test]
    fn the_system_distribution_takes_its_data_directory_before_its_settings() {
        let (line, data_dir) = system(&[
            "--wsl",
            "--data-dir",
            "/mnt/wsl/berth/data",
            "berth.mirror=http://m:5000",
        ]);
        assert_eq!(data_dir.as_deref(), Some("/mnt/wsl/berth/data"));
        assert_eq!(line, "berth.mirror=http://m:5000");
        // Only right after --wsl; later it is not a setting either (from_cmdline skips it).
        let (line, data_dir) = system(&["--wsl", "berth.log=debug", "--data-dir", "/mnt/wsl/x"]);
        assert_eq!(data_dir, None);
        assert_eq!(AgentSettings::from_cmdline(&line).1, []);
    }

    #[test]
    fn the_data_distribution_shares_one_directory_under_mnt_wsl() {
        assert_eq!(
            mode(&args(&["--wsl-data", "/mnt/wsl/berth/data/"])),
            Ok(Some(Mode::Data {
                dir: "/mnt/wsl/berth/data".into()
            }))
        );
        for bad in [
            &["--wsl-data"][..],
            &["--wsl-data", "/var/lib/docker"],
            &["--wsl-data", "/mnt/wsl/"],
            &["--wsl-data", "/mnt/wsl/../etc"],
            &["--wsl-data", "/mnt/wsl/a/./b"],
            &["--wsl-data", "/mnt/wslx/data"],
            &["--wsl-data", "/mnt/wsl/a b"],
            &["--wsl-data", "/mnt/wsl/a", "extra"],
            &["--wsl", "--data-dir"],
            &["--wsl", "--data-dir", "relative", "berth.log=debug"],
            &["--wsl", "--data-dir", "/home/x"],
        ] {
            assert!(
                matches!(mode(&args(bad)), Err(ArgsError::BadDir { .. })),
                "{bad:?}"
            );
        }
    }
}
