//! What the guest's file watchers watch, so host file events touch only what someone watches.
//!
//! A touch (`file_events`, step 3) is a `setattr` through virtiofs: it changes the host file's
//! ctime, which host tools notice (GNU `tar` says "file changed as we read it" when a file's
//! ctime moves while it archives it, and a shared `/tmp` is where such tools work). So the
//! agent touches a path only when an inotify or fanotify mark in the guest covers it: a mark
//! on the path's inode or on its folder's. The marks are read, once per batch, from
//! `/proc/<pid>/fdinfo/<fd>` of every inotify and fanotify descriptor of every process
//! (containers' processes are the guest's too). Matching is by inode number alone: a mark on
//! another file system's inode of the same number costs one needless touch, never a missed
//! event. A fanotify mark on a whole mount or file system covers everything.

use std::collections::HashSet;
use std::path::Path;

/// The inodes the guest's watchers mark.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Marks {
    /// A mount or file-system mark: every path counts as watched.
    everything: bool,
    inodes: HashSet<u64>,
}

impl Marks {
    /// Marks that cover every path (when the guest's marks cannot be read).
    pub fn everything() -> Marks {
        Marks {
            everything: true,
            inodes: HashSet::new(),
        }
    }

    /// The marks of every process now. Blocking: reads `/proc`. If `/proc` itself cannot be
    /// read, every path counts as watched (a touch too many rather than a missed event).
    pub fn scan() -> Marks {
        Marks::scan_in(Path::new("/proc"))
    }

    fn scan_in(proc: &Path) -> Marks {
        let Ok(entries) = std::fs::read_dir(proc) else {
            return Marks::everything();
        };
        let mut marks = Marks::default();
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
            {
                marks.add_process(&entry.path());
            }
        }
        marks
    }

    /// The marks of the one process whose `/proc` folder is `process` (tests use
    /// `/proc/self`, as a host's other watchers would be counted by [`Marks::scan`]).
    #[cfg(test)]
    pub fn of_process(process: &Path) -> Marks {
        let mut marks = Marks::default();
        marks.add_process(process);
        marks
    }

    fn add_process(&mut self, process: &Path) {
        // A process may end or deny access while it is read: it watches nothing then.
        let Ok(fds) = std::fs::read_dir(process.join("fd")) else {
            return;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if !(target == "anon_inode:inotify" || target == "anon_inode:[fanotify]") {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(process.join("fdinfo").join(fd.file_name())) {
                self.add_fdinfo(&text);
            }
        }
    }

    /// Adds the marks one `fdinfo` file lists.
    fn add_fdinfo(&mut self, text: &str) {
        for line in text.lines() {
            let (kind, rest) = match line.split_once(' ') {
                Some(("inotify", rest)) => (Kind::Inotify, rest),
                Some(("fanotify", rest)) => (Kind::Fanotify, rest),
                _ => continue,
            };
            let field = |key: &str| {
                rest.split(' ')
                    .find_map(|part| part.strip_prefix(key))
                    .map(str::to_owned)
            };
            match (kind, field("ino:")) {
                (_, Some(ino)) => {
                    if let Ok(ino) = u64::from_str_radix(&ino, 16) {
                        self.inodes.insert(ino);
                    }
                }
                // `fanotify flags:…` describes the group, not a mark.
                (Kind::Fanotify, None) if field("flags:").is_some() => {}
                // A mount (`mnt_id:`) or file-system (`sdev:` alone) mark.
                (Kind::Fanotify, None) => self.everything = true,
                (Kind::Inotify, None) => {}
            }
        }
    }

    /// Whether a watcher sees a touch of the inode `ino` in the folder of inode `folder`.
    pub fn covers(&self, ino: u64, folder: Option<u64>) -> bool {
        self.everything
            || self.inodes.contains(&ino)
            || folder.is_some_and(|f| self.inodes.contains(&f))
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Inotify,
    Fanotify,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inotify_and_fanotify_fdinfo_lines_give_the_marked_inodes() {
        let mut marks = Marks::default();
        marks.add_fdinfo(
            "pos:\t0\nflags:\t02004000\nmnt_id:\t15\nino:\t1057\n\
             inotify wd:2 ino:9e7e sdev:800013 mask:800afce ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:7e9e0000640d1b6d\n\
             inotify wd:1 ino:1a sdev:800013 mask:2 ignored_mask:0\n",
        );
        assert!(marks.covers(0x9e7e, None));
        assert!(marks.covers(7, Some(0x1a)), "a mark on the folder");
        assert!(!marks.covers(0x1057, None), "the descriptor's own inode");
        assert!(!marks.everything);

        marks.add_fdinfo("fanotify flags:10 event-flags:0\nfanotify ino:4f969 sdev:800013 mflags:0 mask:1 ignored_mask:0\n");
        assert!(marks.covers(0x4f969, None) && !marks.everything);
        marks.add_fdinfo(
            "fanotify flags:10 event-flags:0\nfanotify mnt_id:20 mflags:0 mask:1 ignored_mask:0\n",
        );
        assert!(marks.everything && marks.covers(1, None));
        assert!(!Marks::default().covers(1, Some(2)));
    }

    #[test]
    fn a_real_inotify_watch_is_found_in_proc() {
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("berth-watch-marks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let ino = std::fs::metadata(&dir).expect("meta").ino();
        let ours = || Marks::of_process(Path::new("/proc/self"));
        assert!(!ours().covers(ino, None), "marked before the watch");
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC).expect("inotify");
        inotify
            .add_watch(&dir, AddWatchFlags::IN_MODIFY)
            .expect("watch");
        assert!(ours().covers(ino, None), "the watch was not found");
        assert!(
            Marks::scan().covers(ino, None),
            "not found among all processes"
        );
        drop(inotify);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(Marks::scan_in(Path::new("/no/such/proc")).everything);
    }
}
