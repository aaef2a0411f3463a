//! Host file events in the guest ([`Request::FilesChanged`]): for each changed path the agent
//! refreshes its cached view and touches it, so inotify watchers in containers fire on host
//! edits, which virtiofs alone never tells the guest about.
//!
//! Per path, relative to the open shared folder and never through a symlink or outside it
//! (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, `*at` calls without following the
//! last component):
//!
//! 1. `renameat2(name, name, RENAME_NOREPLACE)` makes the kernel look the name up again on the
//!    host (a rename target is always revalidated) and then fails with `EEXIST` or `ENOENT`
//!    without changing anything: a file the host replaced (an editor's atomic save) or removed
//!    stops being served from the stale entry.
//! 2. `statx(AT_STATX_FORCE_SYNC)` fetches its attributes from the host (size, mtime).
//! 3. `utimensat` sets the mtime alone, to the value just read: the guest kernel reports that as
//!    `IN_MODIFY` to watchers, and on the host nothing the watcher compares changes (no echo).
//!    Only when a watcher in the guest marks the path or its folder ([`Marks`]): the touch
//!    changes the host file's ctime, which host tools such as `tar` notice.
//!
//! A read-only shared folder is mounted read-only, where `renameat2` fails with `EROFS` before
//! it looks anything up: step 1 is `linkat(".", name)` there instead, whose target is looked up
//! again before the mount's `EROFS` (and which could never create anything: a folder cannot be
//! hard-linked). Step 3 is skipped (the host's virtiofsd refuses every change), so containers'
//! inotify watchers see no host edits in a read-only folder; listings and attributes are
//! fresh all the same.
//!
//! The batch came from the host, but the agent checks every path lies in a shared folder.
//!
//! [`Request::FilesChanged`]: berth_protocol::message::Request::FilesChanged

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use berth_agent::share_paths::locate;
use berth_protocol::message::{FilesChanged, MAX_CHANGED_PATHS};
use berth_protocol::settings::Share;
use nix::errno::Errno;
use nix::fcntl::{open, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;

use crate::watch_marks::Marks;

/// What one batch did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Paths touched (watchers saw `IN_MODIFY`).
    pub touched: usize,
    /// Paths refreshed but not touched: nothing in the guest watches them.
    pub unwatched: usize,
    /// Paths no longer there (their stale entries were dropped).
    pub gone: usize,
    /// Paths refused: outside every shared folder, not absolute, or with `.`/`..`.
    pub refused: usize,
    /// Paths that could not be touched (through a symlink, not the host user's, …).
    pub failed: usize,
}

/// Applies one batch; `marks` tells what the guest's watchers watch (read once, when the
/// first path needs it). Blocking: every step is a round trip to the host's virtiofsd.
pub fn apply(
    shares: &[Share],
    batch: &FilesChanged,
    marks: impl FnOnce() -> Marks,
) -> Result<Outcome, String> {
    if batch.paths.len() > MAX_CHANGED_PATHS {
        return Err(format!(
            "{} paths in one batch, at most {MAX_CHANGED_PATHS}",
            batch.paths.len()
        ));
    }
    let mut outcome = Outcome::default();
    let mut roots: Vec<(String, OwnedFd)> = Vec::new();
    let mut marks = Some(marks);
    let mut scanned: Option<Marks> = None;
    let mut paths: Vec<&String> = batch.paths.iter().collect();
    // Parents before children, so a replaced directory is looked up again before its entries.
    paths.sort();
    for path in paths {
        let Some((share, rel)) = locate(shares, path) else {
            outcome.refused += 1;
            continue;
        };
        let root = match roots.iter().position(|(p, _)| *p == share.path) {
            Some(i) => &roots[i].1,
            None => match open_root(&share.path) {
                Ok(fd) => {
                    roots.push((share.path.clone(), fd));
                    &roots[roots.len() - 1].1
                }
                Err(_) => {
                    outcome.failed += 1;
                    continue;
                }
            },
        };
        let mut watched = |ino, folder| {
            let marks = scanned
                .get_or_insert_with(|| marks.take().map_or_else(Marks::everything, |scan| scan()));
            marks.covers(ino, folder)
        };
        match refresh(root, rel, share.read_only, &mut watched) {
            Ok(Refreshed::Touched) => outcome.touched += 1,
            Ok(Refreshed::Unwatched) => outcome.unwatched += 1,
            Ok(Refreshed::Gone) => outcome.gone += 1,
            Ok(Refreshed::Left) | Err(_) => outcome.failed += 1,
        }
    }
    if batch.overflow {
        // Changes were lost on the way: forget every cached name and attribute, so the next
        // access asks the host.
        let _ = std::fs::write("/proc/sys/vm/drop_caches", "2");
    }
    Ok(outcome)
}

fn open_root(path: &str) -> nix::Result<OwnedFd> {
    open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

enum Refreshed {
    Touched,
    /// Refreshed; not touched, as no watcher marks it or its folder.
    Unwatched,
    Gone,
    /// Neither a file nor a directory (a symlink, a socket…): refreshed, not touched.
    Left,
}

/// Steps 1–3 of the module doc for `rel` below the folder open as `root` (mounted read-only
/// when `read_only`, which skips step 3); `watched(inode, folder's inode)` tells whether step 3
/// is wanted.
fn refresh(
    root: &OwnedFd,
    rel: &str,
    read_only: bool,
    watched: &mut impl FnMut(u64, Option<u64>) -> bool,
) -> nix::Result<Refreshed> {
    let (dir, name) = match rel.rsplit_once('/') {
        Some((parent, name)) => (Some(parent), name),
        None if rel.is_empty() => (None, ""),
        None => (Some(""), rel),
    };
    let opened;
    let (dir, name) = match dir {
        // The folder itself: its own attributes are refreshed through its descriptor.
        None => (root, ""),
        Some("") => (root, name),
        Some(parent) => {
            let how = OpenHow::new()
                .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
                .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
            opened = match openat2(root, parent, how) {
                Ok(fd) => fd,
                Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(Refreshed::Gone),
                Err(err) => return Err(err),
            };
            (&opened, name)
        }
    };
    let c_name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    if !name.is_empty() {
        revalidate(dir, &c_name, read_only);
    }
    let (mtime, ino) = match statx_mtime(dir, &c_name) {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(Refreshed::Left),
        Err(Errno::ENOENT) => return Ok(Refreshed::Gone),
        Err(err) => return Err(err),
    };
    // The folder itself has its parent outside the share, which no touch here reaches.
    let folder = if name.is_empty() {
        None
    } else {
        nix::sys::stat::fstat(dir).ok().map(|st| st.st_ino)
    };
    if read_only || !watched(ino, folder) {
        return Ok(Refreshed::Unwatched);
    }
    if name.is_empty() {
        nix::sys::stat::futimens(dir, &TimeSpec::UTIME_OMIT, &mtime)?;
    } else {
        nix::sys::stat::utimensat(
            dir,
            c_name.as_c_str(),
            &TimeSpec::UTIME_OMIT,
            &mtime,
            UtimensatFlags::NoFollowSymlink,
        )?;
    }
    Ok(Refreshed::Touched)
}

/// Makes the kernel look `name` up on the host again (step 1); changes nothing. On a
/// read-only mount through `linkat` of the folder itself (see the module doc).
fn revalidate(dir: &OwnedFd, name: &CString, read_only: bool) {
    if read_only {
        // SAFETY: as below; linkat reads both paths and keeps no reference.
        let _ = unsafe {
            libc::linkat(
                dir.as_raw_fd(),
                c".".as_ptr(),
                dir.as_raw_fd(),
                name.as_ptr(),
                0,
            )
        };
        return;
    }
    // SAFETY: both path pointers come from a live CString and the descriptor is open for the
    // duration of the call; renameat2 reads them and keeps no reference.
    let _ = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            dir.as_raw_fd(),
            name.as_ptr(),
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
}

/// The mtime and inode of `name` in `dir` fetched from the host (step 2), for files and
/// directories; `None` for other types.
fn statx_mtime(dir: &OwnedFd, name: &CString) -> nix::Result<Option<(TimeSpec, u64)>> {
    let mut buf = std::mem::MaybeUninit::<libc::statx>::zeroed();
    let mut flags = libc::AT_SYMLINK_NOFOLLOW | libc::AT_STATX_FORCE_SYNC;
    if name.is_empty() {
        flags |= libc::AT_EMPTY_PATH;
    }
    // SAFETY: `buf` is a writable statx buffer of the right size, the path a live CString and
    // the descriptor open; the kernel writes only into `buf`.
    let res = unsafe {
        libc::syscall(
            libc::SYS_statx,
            dir.as_raw_fd(),
            name.as_ptr(),
            flags,
            libc::STATX_TYPE | libc::STATX_MTIME | libc::STATX_INO,
            buf.as_mut_ptr(),
        )
    };
    Errno::result(res)?;
    // SAFETY: the call succeeded, so the kernel filled the buffer (and it was zeroed before).
    let stx = unsafe { buf.assume_init() };
    let kind = u32::from(stx.stx_mode) & libc::S_IFMT;
    if kind != libc::S_IFREG && kind != libc::S_IFDIR {
        return Ok(None);
    }
    let mtime = TimeSpec::new(stx.stx_mtime.tv_sec, i64::from(stx.stx_mtime.tv_nsec));
    Ok(Some((mtime, stx.stx_ino)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares() -> Vec<Share> {
        vec![
            Share {
                tag: "s0-ana".into(),
                path: "/home/ana".into(),
                read_only: false,
            },
            Share {
                tag: "s1-work".into(),
                path: "/work".into(),
                read_only: false,
            },
        ]
    }

    #[test]
    fn oversized_batches_are_refused() {
        let batch = FilesChanged {
            paths: vec!["/work/a".into(); MAX_CHANGED_PATHS + 1],
            overflow: false,
        };
        assert!(apply(&shares(), &batch, Marks::everything).is_err());
    }

    #[test]
    fn touching_keeps_the_mtime_and_never_leaves_the_folder() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile_dir();
        let share = share_at(&dir, false);
        let file = format!("{dir}/sub/f");
        std::fs::create_dir(format!("{dir}/sub")).expect("mkdir");
        std::fs::write(&file, "x").expect("write");
        let outside = format!("{dir}-outside");
        std::fs::create_dir_all(&outside).expect("outside");
        std::fs::write(format!("{outside}/secret"), "s").expect("secret");
        std::os::unix::fs::symlink(&outside, format!("{dir}/link")).expect("link");
        let before = std::fs::metadata(&file).expect("meta");
        let secret_before = std::fs::metadata(format!("{outside}/secret")).expect("meta");
        std::thread::sleep(std::time::Duration::from_millis(20));

        let batch = FilesChanged {
            paths: vec![
                file.clone(),
                format!("{dir}/sub"),
                dir.clone(),
                format!("{dir}/gone"),
                format!("{dir}/link/secret"),
                format!("{dir}/link"),
                "/etc/hostname".into(),
            ],
            overflow: false,
        };
        let outcome =
            apply(std::slice::from_ref(&share), &batch, Marks::everything).expect("apply");
        assert_eq!(
            outcome,
            Outcome {
                touched: 3,
                unwatched: 0,
                gone: 1,
                refused: 1,
                failed: 2,
            }
        );
        let after = std::fs::metadata(&file).expect("meta");
        assert_eq!(
            (after.mtime(), after.mtime_nsec()),
            (before.mtime(), before.mtime_nsec()),
            "the touch must keep the mtime"
        );
        let secret_after = std::fs::metadata(format!("{outside}/secret")).expect("meta");
        assert_eq!(
            secret_after.ctime_nsec(),
            secret_before.ctime_nsec(),
            "followed a symlink"
        );
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&outside);
    }

    #[test]
    fn a_read_only_folder_is_refreshed_and_never_touched_or_written() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile_dir();
        let share = share_at(&dir, true);
        let file = format!("{dir}/f");
        std::fs::write(&file, "x").expect("write");
        let before = std::fs::metadata(&file).expect("meta");
        std::thread::sleep(std::time::Duration::from_millis(20));
        let paths = vec![file.clone(), format!("{dir}/new"), dir.clone()];
        let outcome = apply(
            &[share],
            &FilesChanged {
                paths,
                overflow: false,
            },
            Marks::everything,
        );
        let expected = Outcome {
            unwatched: 2,
            gone: 1,
            ..Outcome::default()
        };
        assert_eq!(outcome, Ok(expected));
        let after = std::fs::metadata(&file).expect("meta");
        assert_eq!(
            (after.ctime(), after.ctime_nsec(), after.nlink()),
            (before.ctime(), before.ctime_nsec(), 1),
            "a read-only folder's file was changed"
        );
        // Even on a writable mount the look-up creates nothing.
        assert!(!std::path::Path::new(&format!("{dir}/new")).exists());
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_paths_a_guest_watcher_marks_are_touched() {
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile_dir();
        let share = share_at(&dir, false);
        for sub in ["watched", "quiet"] {
            std::fs::create_dir(format!("{dir}/{sub}")).expect("mkdir");
            std::fs::write(format!("{dir}/{sub}/f"), "x").expect("write");
        }
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC).expect("inotify");
        inotify
            .add_watch(format!("{dir}/watched").as_str(), AddWatchFlags::IN_MODIFY)
            .expect("watch");
        let ctime = |p: &str| {
            let m = std::fs::metadata(format!("{dir}/{p}")).expect("meta");
            (m.ctime(), m.ctime_nsec())
        };
        let before = (ctime("watched/f"), ctime("quiet/f"));
        std::thread::sleep(std::time::Duration::from_millis(20));
        let batch = FilesChanged {
            paths: vec![format!("{dir}/watched/f"), format!("{dir}/quiet/f")],
            overflow: false,
        };
        // This process's marks only: a host's own watchers may watch the temporary folder.
        let ours = || Marks::of_process(std::path::Path::new("/proc/self"));
        let outcome = apply(std::slice::from_ref(&share), &batch, ours).expect("apply");
        assert_eq!((outcome.touched, outcome.unwatched), (1, 1), "{outcome:?}");
        assert_ne!(
            ctime("watched/f"),
            before.0,
            "the watched file was not touched"
        );
        assert_eq!(
            ctime("quiet/f"),
            before.1,
            "an unwatched file's ctime moved"
        );
        drop(inotify);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The shared folder `dir`, tagged `t`.
    fn share_at(dir: &str, read_only: bool) -> Share {
        Share {
            tag: "t".into(),
            path: dir.into(),
            read_only,
        }
    }

    fn tempfile_dir() -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir =
            std::env::temp_dir().join(format!("berth-file-events-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tempdir");
        dir.to_string_lossy().into_owned()
    }
}
