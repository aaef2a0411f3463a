//! The VM's lifecycle as a stream of changes, for any process: the supervisor publishes each
//! state in `state.json` ([`crate::instance`]); [`StateEvents`] watches the runtime directory
//! (inotify through the `notify` crate, with a slow re-check as a safety net) and yields each
//! state that differs from the last one seen — including a supervisor that died, which shows
//! as its lock being released.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::instance::{self, StateFile};

/// How often the state is re-read when no file event arrives.
const RECHECK: Duration = Duration::from_secs(2);

/// The runtime directory could not be watched.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {path}: {source}")]
pub struct WatchError {
    path: PathBuf,
    source: notify::Error,
}

/// Follows `state.json` in one runtime directory.
pub struct StateEvents {
    runtime: PathBuf,
    changed: mpsc::Receiver<()>,
    last: Option<StateFile>,
    _watcher: notify::RecommendedWatcher,
}

impl StateEvents {
    /// Starts watching `runtime` (created if missing). The first [`StateEvents::next`] yields
    /// the current state, if any.
    pub fn watch(runtime: &Path) -> Result<StateEvents, WatchError> {
        let err = |source| WatchError {
            path: runtime.to_path_buf(),
            source,
        };
        crate::paths::ensure_private_dir(runtime).map_err(|e| err(notify::Error::io(e)))?;
        let (tx, changed) = mpsc::channel(1);
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // Only the state file and the lock matter (the console log beside them changes
                // all the time). A full channel already holds a wake-up; the next read sees the
                // newest state.
                let relevant = event.is_ok_and(|e| {
                    e.paths.iter().any(|p| {
                        p.file_name().is_some_and(|n| {
                            n == crate::paths::STATE_FILE || n == crate::paths::LOCK_FILE
                        })
                    })
                });
                if relevant {
                    let _ = tx.try_send(());
                }
            })
            .map_err(err)?;
        watcher
            .watch(runtime, RecursiveMode::NonRecursive)
            .map_err(err)?;
        Ok(StateEvents {
            runtime: runtime.to_path_buf(),
            changed,
            last: None,
            _watcher: watcher,
        })
    }

    /// The next state that differs from the previous one; waits for it.
    pub async fn next(&mut self) -> StateFile {
        loop {
            let current = instance::read_state(&self.runtime);
            if let Some(state) = current.filter(|s| self.last.as_ref() != Some(s)) {
                self.last = Some(state.clone());
                return state;
            }
            let _ = tokio::time::timeout(RECHECK, self.changed.recv()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::VmState;

    fn state(state: VmState, phase: &str) -> StateFile {
        StateFile {
            phase: Some(phase.into()),
            ..StateFile::new(state, std::process::id())
        }
    }

    #[tokio::test]
    async fn each_published_change_is_seen_once_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _lock = instance::lock(dir.path()).expect("lock");
        instance::write_state(dir.path(), &state(VmState::Starting, "booting")).expect("write");
        let mut events = StateEvents::watch(dir.path()).expect("watch");
        assert_eq!(events.next().await.phase.as_deref(), Some("booting"));
        let writer = {
            let dir = dir.path().to_path_buf();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                instance::write_state(&dir, &state(VmState::Running, "ready")).expect("write");
            })
        };
        let next = tokio::time::timeout(Duration::from_secs(1), events.next())
            .await
            .expect("a file event, well before the re-check");
        assert_eq!(next.state, VmState::Running);
        writer.await.expect("writer");
    }

    #[tokio::test]
    async fn a_dead_supervisor_shows_as_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = instance::lock(dir.path()).expect("lock");
        instance::write_state(dir.path(), &state(VmState::Running, "ready")).expect("write");
        let mut events = StateEvents::watch(dir.path()).expect("watch");
        assert_eq!(events.next().await.state, VmState::Running);
        drop(lock);
        let next = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("seen");
        assert_eq!(next.state, VmState::Error);
    }
}
