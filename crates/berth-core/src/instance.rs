//! The one running Berth per user: an exclusive lock (`berth.lock`, held by the supervisor for
//! its whole life, so a crash releases it) and the published state (`state.json`, replaced
//! atomically) that `berth status`, `berth stop` and the app read.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The VM's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum VmState {
    /// Booting or waiting for the engine.
    Starting,
    /// The engine answers on the socket.
    Running,
    /// The resource saver paused the VM (no container ran, nothing used it): the engine
    /// socket and published ports still accept, and the first connection resumes it.
    Paused,
    /// Powering off.
    Stopping,
    /// Not running.
    Stopped,
    /// Failed; `error` says why.
    Error,
}

impl VmState {
    /// Whether the lifecycle allows moving from `self` to `next`: stopped → starting →
    /// running ⇄ paused → stopping → stopped, any live state → error, error → starting.
    /// Staying in a state (a new phase) is always allowed.
    pub fn may_become(self, next: VmState) -> bool {
        use VmState::*;
        self == next
            || matches!(
                (self, next),
                (Stopped | Error, Starting)
                    | (Starting, Running | Stopping)
                    | (Running, Stopping | Paused)
                    | (Paused, Running | Stopping)
                    | (Stopping, Stopped)
                    | (Starting | Running | Paused | Stopping, Error)
            )
    }

    /// Whether the engine is served: running, or paused (a connection resumes it).
    pub fn is_up(self) -> bool {
        matches!(self, VmState::Running | VmState::Paused)
    }
}

/// Why the VM failed, as every client shows it: a stable `code` to act on, a message for
/// people, and the setting at fault when there is one (`memory_mib`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Failure {
    /// A stable, machine-readable name (`invalid_setting`, `boot`, `vm_ended`, …); to the UI
    /// one of the app's error codes.
    #[cfg_attr(feature = "ts", ts(type = "ErrorCode"))]
    pub code: String,
    /// What went wrong and what to do, for people.
    pub message: String,
    /// The setting at fault, for settings errors.
    #[serde(default)]
    pub field: Option<String>,
}

/// The VM as every client shows it: the CLI, the app's window and its tray.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VmView {
    /// starting, running, stopping, stopped or error.
    pub state: VmState,
    /// What it is doing now (a start-up phase).
    pub phase: Option<String>,
    /// Why it failed, for [`VmState::Error`].
    pub error: Option<Failure>,
    /// The engine socket, while running.
    pub engine_socket: Option<PathBuf>,
}

impl VmView {
    /// The view of no VM at all.
    pub fn stopped() -> VmView {
        VmView {
            state: VmState::Stopped,
            phase: None,
            error: None,
            engine_socket: None,
        }
    }

    /// The view of a published state; none is stopped.
    pub fn of(state: Option<&StateFile>) -> VmView {
        state.map_or_else(VmView::stopped, StateFile::view)
    }
}

/// The version of `state.json` this Berth writes; a file with a greater one was written by a
/// newer Berth and is not interpreted (see [`read_state`]). 2 added the `paused` state, which
/// a Berth reading version 1 would not know: it says the file is a newer Berth's instead of
/// taking a paused VM for a stopped one. Files of version 1 are read as before.
pub const STATE_VERSION: u32 = 2;

fn state_version_1() -> u32 {
    1
}

/// `state.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFile {
    /// The file's format, [`STATE_VERSION`] when written by this Berth (1 when absent).
    #[serde(default = "state_version_1")]
    pub version: u32,
    /// The lifecycle state.
    pub state: VmState,
    /// The supervisor's pid.
    pub pid: u32,
    /// What it is doing now (a start-up phase).
    #[serde(default)]
    pub phase: Option<String>,
    /// Why it failed, for [`VmState::Error`].
    #[serde(default)]
    pub error: Option<String>,
    /// The failure's stable code (see [`Failure`]).
    #[serde(default)]
    pub error_code: Option<String>,
    /// The setting at fault, for settings errors.
    #[serde(default)]
    pub error_field: Option<String>,
    /// The engine socket, once served.
    #[serde(default)]
    pub engine_socket: Option<PathBuf>,
    /// Where agent connections reach the guest (the hybrid vsock socket, a kernel vsock
    /// context id, a Hyper-V VM), with the boot's secret they must start with: the reason this
    /// file is 0600 in a 0700 directory.
    #[serde(default)]
    pub agent: Option<crate::agent::AgentAddress>,
}

impl StateFile {
    /// A fresh state for the supervisor `pid`.
    pub fn new(state: VmState, pid: u32) -> StateFile {
        StateFile {
            version: STATE_VERSION,
            state,
            pid,
            phase: None,
            error: None,
            error_code: None,
            error_field: None,
            engine_socket: None,
            agent: None,
        }
    }

    /// What clients show of this state.
    pub fn view(&self) -> VmView {
        VmView {
            state: self.state,
            phase: self.phase.clone(),
            error: self.error.as_ref().map(|message| Failure {
                code: self.error_code.clone().unwrap_or_else(|| "failed".into()),
                message: message.clone(),
                field: self.error_field.clone(),
            }),
            engine_socket: self.engine_socket.clone(),
        }
    }

    /// Records `failure` (the state becomes an error).
    pub fn fail(&mut self, failure: &Failure) {
        self.state = VmState::Error;
        self.error = Some(failure.message.clone());
        self.error_code = Some(failure.code.clone());
        self.error_field = failure.field.clone();
    }
}

/// Another live instance holds the lock.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// The lock is held.
    #[error("Berth is already running (pid {pid}, lock {path}); stop it with `berth stop`")]
    Running {
        /// The holder's pid, from the lock file.
        pid: String,
        /// The lock file.
        path: PathBuf,
    },
    /// The runtime directory or a file in it could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The held lock; released when dropped or when the process dies.
pub struct InstanceLock {
    _lock: crate::lockfile::Locked,
}

/// The state file's path in `runtime`.
pub fn state_path(runtime: &Path) -> PathBuf {
    runtime.join(crate::paths::STATE_FILE)
}

/// Takes the single-instance lock in `runtime` and records this process's pid in it.
pub fn lock(runtime: &Path) -> Result<InstanceLock, InstanceError> {
    let path = runtime.join(crate::paths::LOCK_FILE);
    crate::paths::ensure_private_dir(runtime).map_err(|source| InstanceError::Io {
        path: runtime.to_path_buf(),
        source,
    })?;
    let io = |source| InstanceError::Io {
        path: path.clone(),
        source,
    };
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path).map_err(io)?;
    let mut lock = match crate::lockfile::try_exclusive(file) {
        Ok(lock) => lock,
        Err(_) => {
            let pid = std::fs::read_to_string(&path)
                .unwrap_or_default()
                .trim()
                .to_owned();
            return Err(InstanceError::Running { pid, path });
        }
    };
    lock.set_len(0).map_err(io)?;
    write!(lock, "{}", std::process::id()).map_err(io)?;
    Ok(InstanceLock { _lock: lock })
}

/// Whether some process holds the lock in `runtime` now.
pub fn is_locked(runtime: &Path) -> bool {
    let Ok(file) = File::open(runtime.join(crate::paths::LOCK_FILE)) else {
        return false;
    };
    crate::lockfile::is_held(file)
}

/// Replaces `state.json` atomically.
pub fn write_state(runtime: &Path, state: &StateFile) -> Result<(), InstanceError> {
    let path = state_path(runtime);
    let tmp = path.with_extension("json.tmp");
    let io = |source| InstanceError::Io {
        path: path.clone(),
        source,
    };
    let json = serde_json::to_vec_pretty(state).map_err(|e| io(std::io::Error::other(e)))?;
    std::fs::write(&tmp, json).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

/// The last published state, corrected by reality: a state other than stopped or error whose
/// supervisor no longer holds the lock means the supervisor died.
pub fn read_state(runtime: &Path) -> Option<StateFile> {
    let read = || -> Option<StateFile> {
        let text = std::fs::read(state_path(runtime)).ok()?;
        let value: serde_json::Value = serde_json::from_slice(&text).ok()?;
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        match version {
            Some(version) if version > u64::from(STATE_VERSION) => Some(newer(&value, version)),
            _ => serde_json::from_value(value).ok(),
        }
    };
    let live = |state: &StateFile| {
        matches!(
            state.state,
            VmState::Starting | VmState::Running | VmState::Paused | VmState::Stopping
        )
    };
    let mut state = read()?;
    if live(&state) && !is_locked(runtime) {
        // The supervisor may have published its last state and exited between the two reads:
        // what it wrote last wins.
        if let Some(last) = read().filter(|s| !live(s)) {
            return Some(last);
        }
        let message = format!(
            "the Berth supervisor (pid {}) died without stopping the VM; `berth start` recovers",
            state.pid
        );
        state.fail(&Failure {
            code: "daemon_died".into(),
            message,
            field: None,
        });
    }
    Some(state)
}

/// A state file from a newer Berth, whose fields this one does not interpret.
fn newer(value: &serde_json::Value, version: u64) -> StateFile {
    let pid = value
        .get("pid")
        .and_then(serde_json::Value::as_u64)
        .and_then(|p| u32::try_from(p).ok())
        .unwrap_or(0);
    let mut state = StateFile {
        version: u32::try_from(version).unwrap_or(u32::MAX),
        ..StateFile::new(VmState::Error, pid)
    };
    state.fail(&Failure {
        code: "state_version".into(),
        message: format!(
            "the state file was written by a newer Berth (state version {version}, this one \
             reads {STATE_VERSION}); stop it with the Berth that started it"
        ),
        field: None,
    });
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_released_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = lock(dir.path()).expect("first");
        assert!(is_locked(dir.path()));
        let err = lock(dir.path()).err().expect("second must fail");
        assert!(
            err.to_string().contains(&std::process::id().to_string()),
            "{err}"
        );
        drop(first);
        assert!(!is_locked(dir.path()));
        let _again = lock(dir.path()).expect("free again");
    }

    #[test]
    fn a_running_state_without_its_supervisor_reads_as_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateFile::new(VmState::Running, 4242);
        write_state(dir.path(), &state).expect("write");
        let held = lock(dir.path()).expect("lock");
        assert_eq!(
            read_state(dir.path()).expect("state").state,
            VmState::Running
        );
        drop(held);
        let read = read_state(dir.path()).expect("state");
        assert_eq!(read.state, VmState::Error);
        assert!(read.error.unwrap_or_default().contains("4242"));
    }

    #[test]
    fn the_lifecycle_only_moves_forward() {
        use VmState::*;
        for (from, to) in [
            (Stopped, Starting),
            (Starting, Running),
            (Running, Stopping),
            (Stopping, Stopped),
            (Starting, Error),
            (Error, Starting),
            (Running, Running),
            (Running, Paused),
            (Paused, Running),
            (Paused, Stopping),
        ] {
            assert!(from.may_become(to), "{from:?} -> {to:?}");
        }
        for (from, to) in [
            (Stopped, Running),
            (Running, Starting),
            (Stopped, Stopping),
            (Starting, Paused),
            (Paused, Starting),
        ] {
            assert!(!from.may_become(to), "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn garbage_state_reads_as_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(state_path(dir.path()), b"{not json").expect("write");
        assert!(read_state(dir.path()).is_none());
    }

    #[test]
    fn a_state_from_a_newer_berth_is_refused_clearly() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            state_path(dir.path()),
            br#"{"version": 3, "state": "hibernating", "pid": 77, "new": {}}"#,
        )
        .expect("write");
        let read = read_state(dir.path()).expect("state");
        assert_eq!(
            (read.state, read.pid, read.version),
            (VmState::Error, 77, 3)
        );
        let error = read.error.unwrap_or_default();
        assert!(error.contains("newer Berth (state version 3"), "{error}");
        // A file from before versions reads as version 1.
        std::fs::write(state_path(dir.path()), br#"{"state": "stopped", "pid": 5}"#)
            .expect("write");
        let old = read_state(dir.path()).expect("old state");
        assert_eq!((old.version, old.state), (1, VmState::Stopped));
    }
}
