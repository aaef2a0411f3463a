//! One `virtiofsd` per shared folder: its command line (typed, unit-tested) and the processes.
//!
//! virtiofsd runs as the user running Berth, in its own user namespace sandbox (unprivileged
//! virtiofsd 1.14 sets that up itself), and translates ids so that every guest uid and gid is
//! written as the host user's and every host file appears root-owned in the guest
//! (`squash-guest` / `squash-host`). The same flags are passed when Berth runs as root, so
//! ownership does not depend on who started it. virtiofsd's `--tag` is never passed: QEMU 7.1–8.0
//! crash on it. Each daemon serves one QEMU connection and exits when QEMU goes away; it is also
//! in its own process group with a parent-death signal (see `crate::child`), so nothing outlives
//! Berth, and under a seccomp filter that keeps set-id modes and device nodes off the host
//! ([`super::no_privileges`]). A read-only share's daemon runs with `--readonly`, which answers
//! every change with `EROFS`.

use std::ffi::OsString;
#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::ShareDevice;

/// How long a daemon may take to create its socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// virtiofsd's cache policy (`--cache`). Measured by the `shares` benchmark; see
/// `ARCHITECTURE.md` for the consistency each gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// Metadata cached (entries and attributes for a day), file data never: reads always see
    /// the host's bytes; names and attributes are refreshed by file events. The fastest here.
    #[default]
    Metadata,
    /// Entries, attributes and data cached for one second.
    Auto,
    /// Nothing cached: every access asks the host.
    Never,
}

impl CacheMode {
    /// The value of `--cache`.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::Metadata => "metadata",
            CacheMode::Auto => "auto",
            CacheMode::Never => "never",
        }
    }
}

/// The host user files are written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostIds {
    /// The user id.
    pub uid: u32,
    /// The group id.
    pub gid: u32,
}

impl HostIds {
    /// The ids this process runs with.
    pub fn current() -> HostIds {
        #[cfg(unix)]
        return HostIds {
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
        };
        // virtiofsd runs on Unix hosts only; elsewhere the ids are never used.
        #[cfg(not(unix))]
        HostIds { uid: 0, gid: 0 }
    }
}

/// Every id but `u32::MAX` (the invalid id).
const ALL_IDS: u32 = u32::MAX;

/// The arguments of virtiofsd for `device`, after the binary name.
pub fn args(device: &ShareDevice, ids: HostIds) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |flag: &str, value: OsString| {
        args.push(flag.into());
        args.push(value);
    };
    push("--shared-dir", device.host_path.clone().into_os_string());
    push("--socket-path", device.socket.clone().into_os_string());
    push("--cache", device.cache.as_str().into());
    push("--sandbox", "namespace".into());
    for (flag, id) in [("--translate-uid", ids.uid), ("--translate-gid", ids.gid)] {
        // Guest ids (all of them) are written as the host user's; host ids appear as root.
        push(flag, format!("squash-guest:0:{id}:{ALL_IDS}").into());
        push(flag, format!("squash-host:0:0:{ALL_IDS}").into());
    }
    push("--log-level", "warn".into());
    if device.read_only {
        // Every change (create, write, setattr, unlink, rename, mkdir…) is refused with EROFS.
        args.push("--readonly".into());
    }
    args
}

/// Why a daemon did not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// virtiofsd is not installed.
    #[error("virtiofsd was not found on PATH or in ~/.cargo/bin; install it with: cargo install --locked virtiofsd@1.14.0 (needs libseccomp-dev and libcap-ng-dev)")]
    Missing,
    /// It could not be started or exited at once.
    #[error("virtiofsd for shared folder {folder} did not start: {reason}")]
    Failed {
        /// The shared folder.
        folder: PathBuf,
        /// What went wrong, with virtiofsd's own message.
        reason: String,
    },
}

/// The running daemons; killed (and their sockets removed) on [`Daemons::stop`] or drop.
#[derive(Debug, Default)]
pub struct Daemons {
    children: Vec<Child>,
    files: Vec<PathBuf>,
}

impl Daemons {
    /// Starts one daemon per device and waits until each listens.
    pub async fn start(devices: &[ShareDevice]) -> Result<Daemons, DaemonError> {
        let mut daemons = Daemons::default();
        if devices.is_empty() {
            return Ok(daemons);
        }
        let binary = crate::vsock::find_helper("virtiofsd").ok_or(DaemonError::Missing)?;
        let ids = HostIds::current();
        for device in devices {
            let child = spawn(&binary, device, ids, &mut daemons.files).await?;
            daemons.children.push(child);
        }
        Ok(daemons)
    }

    /// The daemons' process ids.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().filter_map(Child::id).collect()
    }

    /// Kills the daemons and removes their sockets.
    pub async fn stop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill().await;
        }
        self.children.clear();
        self.remove_files();
    }

    fn remove_files(&mut self) {
        for file in self.files.drain(..) {
            let _ = std::fs::remove_file(file);
        }
    }
}

impl Drop for Daemons {
    fn drop(&mut self) {
        // The children are killed on drop (`kill_on_drop`); their files go too.
        self.remove_files();
    }
}

async fn spawn(
    binary: &Path,
    device: &ShareDevice,
    ids: HostIds,
    files: &mut Vec<PathBuf>,
) -> Result<Child, DaemonError> {
    let failed = |reason: String| DaemonError::Failed {
        folder: device.host_path.clone(),
        reason,
    };
    let mut pid_file = device.socket.clone().into_os_string();
    pid_file.push(".pid");
    let mut log = device.socket.clone();
    log.set_extension("log");
    for stale in [&device.socket, Path::new(&pid_file)] {
        let _ = std::fs::remove_file(stale);
    }
    files.extend([device.socket.clone(), pid_file.into(), log.clone()]);
    // Its log goes to a file: a pipe nobody reads could fill and stall it.
    let stderr = std::fs::File::create(&log)
        .map_err(|e| failed(format!("cannot create {}: {e}", log.display())))?;
    let mut command = Command::new(binary);
    crate::child::isolate(&mut command);
    // No set-id modes or device nodes through the share (`super::no_privileges`).
    #[cfg(target_os = "linux")]
    super::no_privileges::Filters::new()
        .map_err(|e| failed(e.to_string()))?
        .apply(&mut command);
    let mut child = command
        .args(args(device, ids))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        if device.socket.exists() {
            // virtiofsd creates it owner-only already; make it 0600 like Berth's others.
            #[cfg(unix)]
            let _ =
                std::fs::set_permissions(&device.socket, std::fs::Permissions::from_mode(0o600));
            return Ok(child);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let text = crate::child::read_tail(&log).await;
            let last: Vec<&str> = text.lines().rev().take(5).collect();
            let last: Vec<&str> = last.into_iter().rev().collect();
            return Err(failed(format!("{status}: {}", last.join(" | "))));
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill().await;
            return Err(failed(format!(
                "its socket did not appear within {START_TIMEOUT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> ShareDevice {
        ShareDevice {
            tag: "s0-ana".into(),
            host_path: "/home/ana".into(),
            socket: "/run/user/1000/berth/virtiofs-0.sock".into(),
            cache: CacheMode::Metadata,
            read_only: false,
        }
    }

    fn joined(ids: HostIds) -> String {
        args(&device(), ids)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn unprivileged_with_squashed_ids_and_no_tag() {
        let line = joined(HostIds {
            uid: 1000,
            gid: 1001,
        });
        assert!(line.starts_with(
            "--shared-dir /home/ana --socket-path /run/user/1000/berth/virtiofs-0.sock \
             --cache metadata --sandbox namespace"
        ));
        for want in [
            "--translate-uid squash-guest:0:1000:4294967295",
            "--translate-uid squash-host:0:0:4294967295",
            "--translate-gid squash-guest:0:1001:4294967295",
            "--translate-gid squash-host:0:0:4294967295",
        ] {
            assert!(line.contains(want), "{want} missing: {line}");
        }
        assert!(!line.contains("--tag"), "--tag crashes QEMU 7.2: {line}");
    }

    #[test]
    fn a_read_only_share_is_served_read_only() {
        let ids = HostIds {
            uid: 1000,
            gid: 1000,
        };
        assert!(!joined(ids).contains("--readonly"));
        let mut ro = device();
        ro.read_only = true;
        let line: Vec<OsString> = args(&ro, ids);
        assert_eq!(
            line.last().map(OsString::as_os_str),
            Some("--readonly".as_ref())
        );
        assert_eq!(line.iter().filter(|a| *a == "--readonly").count(), 1);
    }

    #[test]
    fn root_gets_the_same_translation() {
        let line = joined(HostIds { uid: 0, gid: 0 });
        assert!(line.contains("--translate-uid squash-guest:0:0:4294967295"));
        assert!(line.contains("--translate-gid squash-host:0:0:4294967295"));
    }

    #[test]
    fn cache_modes_name_virtiofsd_policies() {
        let names: Vec<&str> = [CacheMode::Metadata, CacheMode::Auto, CacheMode::Never]
            .iter()
            .map(|m| m.as_str())
            .collect();
        assert_eq!(names, ["metadata", "auto", "never"]);
    }

    // virtiofsd is Linux's (Windows shares folders through WSL's drive mounts).
    #[cfg(unix)]
    #[tokio::test]
    async fn a_daemon_that_cannot_start_is_reported_with_its_message() {
        let Some(binary) = crate::vsock::find_helper("virtiofsd") else {
            panic!("virtiofsd is installed by installer/lib.sh");
        };
        let run = tempfile::tempdir().expect("run");
        let mut bad = device();
        bad.host_path = run.path().join("gone");
        bad.socket = run.path().join("virtiofs-0.sock");
        let mut files = Vec::new();
        let err = spawn(&binary, &bad, HostIds::current(), &mut files)
            .await
            .expect_err("missing folder")
            .to_string();
        assert!(
            err.contains("gone") && err.contains("did not start"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn daemons_listen_on_0600_sockets_and_clean_up() {
        let run = tempfile::tempdir().expect("run");
        let shared = tempfile::tempdir().expect("shared");
        let mut d = device();
        d.host_path = shared.path().into();
        d.socket = run.path().join("virtiofs-0.sock");
        let mut daemons = Daemons::start(std::slice::from_ref(&d))
            .await
            .expect("start");
        assert_eq!(daemons.pids().len(), 1);
        let mode = std::fs::metadata(&d.socket)
            .expect("socket")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        daemons.stop().await;
        assert!(!d.socket.exists(), "socket left behind");
        assert_eq!(
            std::fs::read_dir(run.path()).expect("dir").count(),
            0,
            "files left behind"
        );
    }
}
