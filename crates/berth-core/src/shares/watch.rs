//! The host side of file events: a `notify` watcher on every shared folder (recursive, never
//! following symlinks) feeding [`events::Batcher`], and a control connection that sends each
//! batch to the agent as [`berth_protocol::message::Request::FilesChanged`] and waits for its
//! answer before the next, so a slow guest is never flooded. A connection that drops is opened
//! again and the batch sent again.
//!
//! Watching is best effort: a folder that cannot be watched (the host's inotify watch limit,
//! `fs.inotify.max_user_watches`) is logged, and its changes still reach the guest, only later
//! (see `ARCHITECTURE.md`, shared folders); a folder the user may not read (another user's in
//! `/tmp`) costs only itself (`watch_tree`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_protocol::message::{Capability, FilesChanged};
use notify::event::{EventKind, Flag, ModifyKind};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::events::{self, Batcher, Change, EchoFilter, Fingerprint};
use super::ShareDevice;
use crate::agent::AgentAddress;
use crate::agent::{AgentClient, AgentError};

/// Events queued between the watcher thread and the batcher; more are counted as lost.
const QUEUE: usize = 8192;
/// Failed attempts in a row at sending one batch before file events stop.
const RECONNECTS: u32 = 10;
/// Pause before connecting to the agent again.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// Forwards host file events to the agent until dropped (or the agent goes away).
#[derive(Debug)]
pub struct FileEvents {
    task: JoinHandle<()>,
}

impl FileEvents {
    /// Starts watching the devices' folders and forwarding to the agent at `vsock`;
    /// changes inside `ignored` (Berth's own directories) are not forwarded. While the
    /// resource saver has the VM paused, batches wait (a passive lease of `saver`: file events
    /// do not wake the VM; a queue that overflows meanwhile becomes a rescan).
    pub fn start(
        vsock: AgentAddress,
        devices: &[ShareDevice],
        ignored: Vec<PathBuf>,
        saver: crate::saver::Saver,
    ) -> FileEvents {
        let roots: Vec<PathBuf> = devices.iter().map(|d| d.host_path.clone()).collect();
        let task = tokio::spawn(async move {
            if roots.is_empty() {
                return;
            }
            if let Err(err) = forward(vsock, roots, ignored, saver).await {
                tracing::info!("file events stopped: {err}");
            }
        });
        FileEvents { task }
    }
}

impl Drop for FileEvents {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why forwarding stopped.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The agent connection failed or closed.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// The watcher could not be created.
    #[error("cannot watch the shared folders: {0}")]
    Notify(#[from] notify::Error),
    /// The agent does not offer file events (an older image).
    #[error("the agent does not offer file events")]
    Unsupported,
}

/// Watches `root` and everything below it. inotify's recursive watch stops at the first
/// folder it may not read (in a shared `/tmp`, another user's private folder): then each of
/// `root`'s folders is watched on its own, so one unreadable folder costs only itself. The
/// first error that is not a permission error (the watch limit) is returned.
fn watch_tree(watcher: &mut impl Watcher, root: &std::path::Path) -> notify::Result<()> {
    let denied = |err: &notify::Error| matches!(&err.kind, notify::ErrorKind::Io(e) if e.kind() == std::io::ErrorKind::PermissionDenied);
    match watcher.watch(root, RecursiveMode::Recursive) {
        Err(err) if denied(&err) => {}
        other => return other,
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir {
            continue;
        }
        match watcher.watch(&entry.path(), RecursiveMode::Recursive) {
            Err(err) if !denied(&err) => return Err(err),
            _ => {}
        }
    }
    Ok(())
}

/// What a notify event means for the guest; `None` for reads.
pub fn change_of(kind: &EventKind) -> Option<Change> {
    match kind {
        EventKind::Access(_) => None,
        EventKind::Create(_) | EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_)) => {
            Some(Change::Entry)
        }
        EventKind::Modify(_) | EventKind::Any | EventKind::Other => Some(Change::Modified),
    }
}

async fn forward(
    vsock: AgentAddress,
    roots: Vec<PathBuf>,
    ignored: Vec<PathBuf>,
    saver: crate::saver::Saver,
) -> Result<(), WatchError> {
    let mut agent = Some(connect(&vsock).await?);
    let (tx, mut rx) = mpsc::channel::<notify::Event>(QUEUE);
    let lost = Arc::new(AtomicBool::new(false));
    let handler = {
        let lost = lost.clone();
        move |event: notify::Result<notify::Event>| {
            // An error while watching loses events: say so with a rescan.
            let event = event
                .unwrap_or_else(|_| notify::Event::new(EventKind::Other).set_flag(Flag::Rescan));
            if tx.try_send(event).is_err() {
                lost.store(true, Ordering::Relaxed);
            }
        }
    };
    // Adding recursive watches walks every folder: keep it off the async workers.
    let watched = roots.clone();
    let _watcher = tokio::task::spawn_blocking(move || {
        let config = notify::Config::default().with_follow_symlinks(false);
        let mut watcher = notify::RecommendedWatcher::new(handler, config)?;
        let started = Instant::now();
        for root in &watched {
            if let Err(err) = watch_tree(&mut watcher, root) {
                tracing::warn!(
                    "cannot watch all of {} for file events ({err}); raise \
                     fs.inotify.max_user_watches if the folder is large",
                    root.display()
                );
            }
        }
        tracing::info!(
            "watching {} shared folders for file events (set up in {:.1} s)",
            watched.len(),
            started.elapsed().as_secs_f64()
        );
        Ok::<_, notify::Error>(watcher)
    })
    .await
    .map_err(|e| WatchError::Notify(notify::Error::generic(&e.to_string())))??;

    let mut batcher = Batcher::new(roots, ignored);
    let mut filter = EchoFilter::default();
    loop {
        if lost.swap(false, Ordering::Relaxed) {
            batcher.lost(Instant::now());
        }
        let due = batcher.due();
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { return Ok(()) };
                let now = Instant::now();
                if event.flag() == Some(Flag::Rescan) {
                    // The host's inotify queue overflowed.
                    batcher.lost(now);
                } else if let Some(change) = change_of(&event.kind) {
                    for path in &event.paths {
                        batcher.add(path, change, now);
                    }
                }
            }
            () = sleep_until(due), if due.is_some() => {
                let (paths, overflow) = batcher.take();
                // Fingerprints stat every path: blocking work.
                let (request, kept) = tokio::task::spawn_blocking(move || {
                    let request = events::request(paths, overflow, &mut filter, Fingerprint::of);
                    (request, filter)
                })
                .await
                .map_err(|e| WatchError::Notify(notify::Error::generic(&e.to_string())))?;
                filter = kept;
                if let Some(batch) = request {
                    tracing::debug!(paths = batch.paths.len(), overflow = batch.overflow, "file events");
                    let _in_flight = saver.passive_lease().await;
                    deliver(&vsock, &mut agent, batch).await?;
                }
            }
        }
    }
}

/// A control connection to an agent that offers file events.
async fn connect(vsock: &AgentAddress) -> Result<AgentClient, WatchError> {
    let agent = AgentClient::connect(vsock.clone()).await?;
    if !agent.offers(Capability::FileEvents) {
        return Err(WatchError::Unsupported);
    }
    Ok(agent)
}

/// Sends `batch` to the agent; when the connection drops (or is already gone), opens it again
/// and sends the batch again, up to [`RECONNECTS`] failures in a row.
async fn deliver(
    vsock: &AgentAddress,
    agent: &mut Option<AgentClient>,
    batch: FilesChanged,
) -> Result<(), WatchError> {
    let mut failures = 0;
    loop {
        match send(vsock, agent, &batch).await {
            Ok(()) => return Ok(()),
            Err(err @ (WatchError::Unsupported | WatchError::Agent(AgentError::Refused(_)))) => {
                return Err(err)
            }
            Err(err) => {
                failures += 1;
                if failures > RECONNECTS {
                    return Err(err);
                }
                tracing::warn!("file events: {err}; connecting to the agent again");
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
        }
    }
}

/// One attempt at [`deliver`]: connects if there is no connection, then sends `batch`; a
/// connection that fails is dropped.
async fn send(
    vsock: &AgentAddress,
    agent: &mut Option<AgentClient>,
    batch: &FilesChanged,
) -> Result<(), WatchError> {
    let mut client = match agent.take() {
        Some(client) => client,
        None => connect(vsock).await?,
    };
    match client.call(batch.clone()).await {
        Ok(()) => {}
        Err(AgentError::Failed { message, .. }) => {
            tracing::warn!("the agent refused file events: {message}")
        }
        Err(err) => return Err(err.into()),
    }
    *agent = Some(client);
    Ok(())
}

async fn sleep_until(due: Option<Instant>) {
    if let Some(due) = due {
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, DataChange, MetadataKind, RemoveKind, RenameMode};

    /// A watcher whose recursive watches stop at `denied` folders, as inotify's do.
    struct Partial {
        denied: Vec<PathBuf>,
        watched: Vec<PathBuf>,
    }

    impl Watcher for Partial {
        fn new<F: notify::EventHandler>(_: F, _: notify::Config) -> notify::Result<Self> {
            Ok(Partial {
                denied: Vec::new(),
                watched: Vec::new(),
            })
        }

        fn watch(&mut self, path: &std::path::Path, _: RecursiveMode) -> notify::Result<()> {
            self.watched.push(path.to_path_buf());
            if self.denied.iter().any(|d| d.starts_with(path)) {
                let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
                return Err(notify::Error::io(denied));
            }
            Ok(())
        }

        fn unwatch(&mut self, _: &std::path::Path) -> notify::Result<()> {
            Ok(())
        }

        fn kind() -> notify::WatcherKind {
            notify::WatcherKind::NullWatcher
        }
    }

    #[test]
    fn an_unreadable_folder_costs_only_itself() {
        let root = tempfile::tempdir().expect("tempdir");
        for dir in ["a", "private", "z"] {
            std::fs::create_dir(root.path().join(dir)).expect("mkdir");
        }
        std::fs::write(root.path().join("file"), "x").expect("file");
        let private = root.path().join("private");
        let mut watcher = Partial {
            denied: vec![private.clone()],
            watched: Vec::new(),
        };
        watch_tree(&mut watcher, root.path()).expect("permission errors are not errors");
        // The root (which stopped at `private`), then each folder on its own.
        let mut watched = watcher.watched.clone();
        watched.sort();
        let mut expected = vec![root.path().to_path_buf()];
        expected.extend(["a", "private", "z"].map(|d| root.path().join(d)));
        assert_eq!(watched, expected);
        // A readable tree is one recursive watch.
        let mut watcher = Partial {
            denied: Vec::new(),
            watched: Vec::new(),
        };
        watch_tree(&mut watcher, root.path()).expect("watched");
        assert_eq!(watcher.watched, [root.path()]);
    }

    #[test]
    fn reads_are_ignored_and_entries_are_told_from_edits() {
        assert_eq!(change_of(&EventKind::Access(AccessKind::Any)), None);
        for entry in [
            EventKind::Create(CreateKind::File),
            EventKind::Remove(RemoveKind::Folder),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
        ] {
            assert_eq!(change_of(&entry), Some(Change::Entry), "{entry:?}");
        }
        for edit in [
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
        ] {
            assert_eq!(change_of(&edit), Some(Change::Modified), "{edit:?}");
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_host_watcher_reports_edits_inside_and_not_through_symlinks() {
        let shared = tempfile::tempdir().expect("shared");
        let outside = tempfile::tempdir().expect("outside");
        std::os::unix::fs::symlink(outside.path(), shared.path().join("link")).expect("link");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut watcher = notify::RecommendedWatcher::new(
            move |e: notify::Result<notify::Event>| {
                let _ = tx.send(e);
            },
            notify::Config::default().with_follow_symlinks(false),
        )
        .expect("watcher");
        watcher
            .watch(shared.path(), RecursiveMode::Recursive)
            .expect("watch");
        std::fs::write(outside.path().join("secret"), "x").expect("outside write");
        std::fs::write(shared.path().join("f"), "x").expect("inside write");
        let mut batcher = Batcher::new(vec![shared.path().to_path_buf()], Vec::new());
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while Instant::now() < deadline {
            let wait = tokio::time::timeout(std::time::Duration::from_millis(200), rx.recv());
            let Ok(Some(Ok(event))) = wait.await else {
                break;
            };
            if let Some(change) = change_of(&event.kind) {
                for path in &event.paths {
                    batcher.add(path, change, Instant::now());
                }
            }
        }
        let (paths, _) = batcher.take();
        assert!(paths.contains(&shared.path().join("f")), "{paths:?}");
        assert!(
            paths.iter().all(|p| !p.ends_with("secret")),
            "followed a symlink out: {paths:?}"
        );
    }

    /// A connection that drops, against the stand-in agent.
    #[cfg(unix)]
    mod reconnect {
        use super::*;
        use crate::fake_agent::{Conduct, FakeAgent};
        use berth_protocol::message::Request;

        fn batch(path: &str) -> FilesChanged {
            FilesChanged {
                paths: vec![path.into()],
                ..FilesChanged::default()
            }
        }

        #[tokio::test]
        async fn a_batch_whose_connection_drops_is_sent_again_on_a_new_one() {
            let dir = tempfile::tempdir().expect("tempdir");
            let script = vec![
                Conduct::CloseAfterRequest,
                Conduct::Serve { events: Vec::new() },
            ];
            let fake = FakeAgent::start(dir.path(), &[Capability::FileEvents], script);
            let mut agent = Some(connect(&fake.address).await.expect("connect"));
            deliver(&fake.address, &mut agent, batch("/a"))
                .await
                .expect("delivered on the second connection");
            deliver(&fake.address, &mut agent, batch("/b"))
                .await
                .expect("delivered on the same connection");
            let sent = fake.requests();
            assert_eq!(
                sent,
                vec![
                    Request::FilesChanged(batch("/a")),
                    Request::FilesChanged(batch("/a")),
                    Request::FilesChanged(batch("/b")),
                ]
            );
        }

        #[tokio::test]
        async fn an_agent_without_file_events_is_not_asked_again() {
            let dir = tempfile::tempdir().expect("tempdir");
            let fake =
                FakeAgent::start(dir.path(), &[], vec![Conduct::Serve { events: Vec::new() }]);
            let mut agent = None;
            let err = deliver(&fake.address, &mut agent, batch("/a"))
                .await
                .expect_err("unsupported");
            assert!(matches!(err, WatchError::Unsupported), "{err:?}");
            assert!(fake.requests().is_empty());
        }
    }
}
