//! Host file events turned into bounded, debounced batches for the agent, without echoes.
//!
//! [`Batcher`] collects changed paths from the watcher: a created, removed or renamed entry
//! brings its directory along (the guest's listing of it changed). A batch goes out once no
//! event came for [`QUIET`] or [`MAX_DELAY`] after its first event, and holds at most
//! [`MAX_CHANGED_PATHS`] paths and [`MAX_BATCH_BYTES`] of them; more sets the batch's
//! `overflow`, and the agent then drops its whole cached view.
//!
//! No echo loop: the agent's touch sets a file's mtime to the value it already has, which the
//! host sees as another event on that path. [`EchoFilter`] sends a path only when its
//! [`Fingerprint`] (inode, size, mtime, mode, owner, or absence) differs from the one last sent,
//! and a touch changes none of those.

use std::collections::{BTreeSet, HashMap};
#[cfg(unix)]
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_protocol::message::{FilesChanged, MAX_CHANGED_PATHS};

/// A batch goes out after this long without new events…
pub const QUIET: Duration = Duration::from_millis(50);
/// …or this long after its first event, whichever comes first.
pub const MAX_DELAY: Duration = Duration::from_millis(300);
/// Most bytes of (JSON-encoded) paths in one batch; the frame limit is 1 MiB.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Most fingerprints remembered; the filter forgets them all beyond (an echo then costs one
/// more touch, never a loop: the next fingerprint is remembered again).
const MAX_REMEMBERED: usize = 65_536;

/// What happened to a path, as far as the guest cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Contents or attributes changed.
    Modified,
    /// Created, removed or renamed: its directory's listing changed too.
    Entry,
}

/// Collects paths between flushes.
#[derive(Debug)]
pub struct Batcher {
    roots: Vec<PathBuf>,
    ignored: Vec<PathBuf>,
    pending: BTreeSet<PathBuf>,
    bytes: usize,
    overflow: bool,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Batcher {
    /// A batcher for paths inside `roots` (the shared folders) and not inside `ignored`
    /// (Berth's own files: its data disk and logs change all the time and matter to no
    /// container); others are dropped.
    pub fn new(roots: Vec<PathBuf>, ignored: Vec<PathBuf>) -> Batcher {
        Batcher {
            roots,
            ignored,
            pending: BTreeSet::new(),
            bytes: 0,
            overflow: false,
            first: None,
            last: None,
        }
    }

    fn inside(&self, path: &Path) -> bool {
        self.roots.iter().any(|root| path.starts_with(root))
            && !self.ignored.iter().any(|own| path.starts_with(own))
    }

    /// Records a change to `path` at `now`.
    pub fn add(&mut self, path: &Path, change: Change, now: Instant) {
        if !self.inside(path) {
            return;
        }
        self.insert(path.to_path_buf(), now);
        if change == Change::Entry {
            if let Some(parent) = path.parent().filter(|p| self.inside(p)) {
                self.insert(parent.to_path_buf(), now);
            }
        }
    }

    /// Records that changes were lost (the watcher overflowed).
    pub fn lost(&mut self, now: Instant) {
        self.overflow = true;
        self.touch(now);
    }

    fn insert(&mut self, path: PathBuf, now: Instant) {
        self.touch(now);
        if self.overflow || self.pending.contains(&path) {
            return;
        }
        let size = encoded_len(&path);
        if self.pending.len() >= MAX_CHANGED_PATHS || self.bytes + size > MAX_BATCH_BYTES {
            self.overflow = true;
            return;
        }
        self.bytes += size;
        self.pending.insert(path);
    }

    fn touch(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    /// When the pending batch is due, if there is one.
    pub fn due(&self) -> Option<Instant> {
        match (self.first, self.last) {
            (Some(first), Some(last)) => Some((last + QUIET).min(first + MAX_DELAY)),
            _ => None,
        }
    }

    /// Takes the pending paths (parents before children) and the overflow flag.
    pub fn take(&mut self) -> (Vec<PathBuf>, bool) {
        self.first = None;
        self.last = None;
        self.bytes = 0;
        let overflow = std::mem::take(&mut self.overflow);
        (
            std::mem::take(&mut self.pending).into_iter().collect(),
            overflow,
        )
    }
}

/// A path's JSON-encoded size.
fn encoded_len(path: &Path) -> usize {
    serde_json::to_string(&path.to_string_lossy()).map_or(usize::MAX / 2, |s| s.len() + 1)
}

/// What a path looks like to the echo filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fingerprint {
    /// Nothing is there.
    Absent,
    /// An entry, by inode, size, mtime, mode and owner.
    Present {
        /// Inode number (a replaced file has a new one).
        ino: u64,
        /// Size in bytes.
        size: u64,
        /// Modification time, nanoseconds since the epoch.
        mtime_ns: i128,
        /// Type and permission bits.
        mode: u32,
        /// Owner and group.
        owner: (u32, u32),
    },
}

impl Fingerprint {
    /// The fingerprint of `path` now (symlinks are not followed).
    pub fn of(path: &Path) -> Fingerprint {
        match std::fs::symlink_metadata(path) {
            #[cfg(unix)]
            Ok(meta) => Fingerprint::Present {
                ino: meta.ino(),
                size: meta.size(),
                mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
                mode: meta.mode(),
                owner: (meta.uid(), meta.gid()),
            },
            // Elsewhere: what the portable metadata tells.
            #[cfg(not(unix))]
            Ok(meta) => Fingerprint::Present {
                ino: 0,
                size: meta.len(),
                mtime_ns: meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX)),
                mode: u32::from(meta.permissions().readonly()),
                owner: (0, 0),
            },
            Err(_) => Fingerprint::Absent,
        }
    }
}

/// Remembers what was last sent per path, to drop changes that changed nothing.
#[derive(Debug, Default)]
pub struct EchoFilter {
    sent: HashMap<PathBuf, Fingerprint>,
}

impl EchoFilter {
    /// Whether a change to `path`, which now looks like `now`, is worth sending; remembers it.
    pub fn admit(&mut self, path: &Path, now: Fingerprint) -> bool {
        if self.sent.get(path) == Some(&now) {
            return false;
        }
        if self.sent.len() >= MAX_REMEMBERED {
            self.sent.clear();
        }
        self.sent.insert(path.to_path_buf(), now);
        true
    }
}

/// The request for one batch, keeping only paths the filter admits; `None` when nothing is
/// left to send.
pub fn request(
    paths: Vec<PathBuf>,
    overflow: bool,
    filter: &mut EchoFilter,
    fingerprint: impl Fn(&Path) -> Fingerprint,
) -> Option<FilesChanged> {
    let paths: Vec<String> = paths
        .into_iter()
        .filter(|p| filter.admit(p, fingerprint(p)))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    (overflow || !paths.is_empty()).then_some(FilesChanged { paths, overflow })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batcher() -> Batcher {
        Batcher::new(
            vec!["/home/ana".into(), "/work".into()],
            vec!["/home/ana/.local/share/berth".into()],
        )
    }

    #[test]
    fn entries_bring_their_directory_and_paths_outside_are_ignored() {
        let mut b = batcher();
        let t = Instant::now();
        b.add(Path::new("/home/ana/src/new.rs"), Change::Entry, t);
        b.add(Path::new("/home/ana/src/lib.rs"), Change::Modified, t);
        b.add(Path::new("/home/ana/src/lib.rs"), Change::Modified, t);
        b.add(Path::new("/etc/passwd"), Change::Modified, t);
        // A shared folder's own parent is not shared.
        b.add(Path::new("/work"), Change::Entry, t);
        b.add(Path::new("/home/anabel/x"), Change::Modified, t);
        // Berth's own files (the data disk) are not sent.
        b.add(
            Path::new("/home/ana/.local/share/berth/data.qcow2"),
            Change::Modified,
            t,
        );
        let (paths, overflow) = b.take();
        assert!(!overflow);
        let paths: Vec<&str> = paths.iter().filter_map(|p| p.to_str()).collect();
        assert_eq!(
            paths,
            [
                "/home/ana/src",
                "/home/ana/src/lib.rs",
                "/home/ana/src/new.rs",
                "/work"
            ]
        );
        assert_eq!(b.due(), None, "taking empties the batch");
    }

    #[test]
    fn a_batch_is_due_after_a_quiet_spell_or_the_longest_delay() {
        let mut b = batcher();
        let t = Instant::now();
        assert_eq!(b.due(), None);
        b.add(Path::new("/work/a"), Change::Modified, t);
        assert_eq!(b.due(), Some(t + QUIET));
        // A steady stream of events cannot hold the batch back forever.
        let mut now = t;
        for _ in 0..100 {
            now += Duration::from_millis(10);
            b.add(Path::new("/work/a"), Change::Modified, now);
        }
        assert_eq!(b.due(), Some(t + MAX_DELAY));
    }

    #[test]
    fn batches_are_bounded_and_overflow_is_flagged() {
        let mut b = batcher();
        let t = Instant::now();
        for i in 0..MAX_CHANGED_PATHS + 10 {
            b.add(Path::new(&format!("/work/f{i}")), Change::Modified, t);
        }
        let (paths, overflow) = b.take();
        assert_eq!(paths.len(), MAX_CHANGED_PATHS);
        assert!(overflow);
        let long = format!("/work/{}", "x".repeat(4000));
        for i in 0..100 {
            b.add(Path::new(&format!("{long}{i}")), Change::Modified, t);
        }
        let (paths, overflow) = b.take();
        let bytes: usize = paths.iter().map(|p| encoded_len(p)).sum();
        assert!(overflow && bytes <= MAX_BATCH_BYTES, "{bytes}");
        let (paths, overflow) = b.take();
        assert!(paths.is_empty() && !overflow, "the flag is reset");
        b.lost(t);
        assert!(b.due().is_some());
        assert!(b.take().1);
    }

    fn present(mtime_ns: i128) -> Fingerprint {
        Fingerprint::Present {
            ino: 7,
            size: 3,
            mtime_ns,
            mode: 0o100644,
            owner: (1000, 1000),
        }
    }

    #[test]
    fn a_touch_that_changes_nothing_is_not_sent_back() {
        let mut filter = EchoFilter::default();
        let path = PathBuf::from("/work/a");
        let sent = request(vec![path.clone()], false, &mut filter, |_| present(1));
        assert_eq!(sent.expect("first change").paths, ["/work/a"]);
        // The agent's touch: same mtime, so the same fingerprint.
        assert_eq!(
            request(vec![path.clone()], false, &mut filter, |_| present(1)),
            None
        );
        // A real edit changes the mtime.
        assert!(request(vec![path.clone()], false, &mut filter, |_| present(2)).is_some());
        // A removal is sent once.
        let gone = |_: &Path| Fingerprint::Absent;
        assert!(request(vec![path.clone()], false, &mut filter, gone).is_some());
        assert!(request(vec![path.clone()], false, &mut filter, gone).is_none());
        // An overflow goes out even with nothing new.
        let lost = request(vec![path], true, &mut filter, gone).expect("overflow");
        assert!(lost.overflow && lost.paths.is_empty());
    }

    #[test]
    fn fingerprints_see_edits_replacements_and_removal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("f");
        std::fs::write(&f, "one").expect("write");
        let first = Fingerprint::of(&f);
        assert_eq!(first, Fingerprint::of(&f));
        std::fs::write(dir.path().join("g"), "one").expect("write");
        std::fs::rename(dir.path().join("g"), &f).expect("replace");
        assert_ne!(
            first,
            Fingerprint::of(&f),
            "a replaced file has a new inode"
        );
        std::fs::remove_file(&f).expect("rm");
        assert_eq!(Fingerprint::of(&f), Fingerprint::Absent);
    }
}
