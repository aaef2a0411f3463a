//! Berth's own log files stay bounded, and their tails are read from the end.
//!
//! The daemon's log (`logs/berth.log`, its standard output and error) is rotated once it passes
//! [`MAX_LOG`]: the file becomes `berth.log.1` (replacing an older one) and a fresh one takes its
//! place, at each start ([`rotate_if_large`]) and, while the daemon runs, by reopening its
//! standard streams on the fresh file ([`reopen_stdio`]); so the pair holds at most about twice
//! [`MAX_LOG`]. The VM's console log is written through [`Rotating`] ([`SharedLog`] from async
//! code), which rotates the same way before a write would pass the limit. [`tail_lines`] reads
//! the last lines of any log by seeking from its end, on into its rotated file when the fresh
//! one holds fewer, reading no more than [`MAX_TAIL_READ`], whatever the files' size.

mod writer;

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub use writer::{Rotating, SharedLog};

/// The size past which a log is rotated.
pub const MAX_LOG: u64 = 8 * 1024 * 1024;

/// The most bytes [`tail_lines`] reads from the end of a file.
pub const MAX_TAIL_READ: u64 = 4 * 1024 * 1024;

/// The rotated file of `path`: `berth.log` → `berth.log.1`.
pub fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// Moves `path` to its [`rotated`] name when it is larger than `max`; whether it did.
pub fn rotate_if_large(path: &Path, max: u64) -> std::io::Result<bool> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > max => {
            std::fs::rename(path, rotated(path))?;
            Ok(true)
        }
        Ok(_) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Opens `path` for appending, for the user alone (0600).
pub fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut open = std::fs::OpenOptions::new();
    open.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let file = open.open(path)?;
    #[cfg(unix)]
    {
        // A log from before this rule may be wider.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Rotates `path` when it passed `max` and points this process's standard output and error at
/// the fresh file, when standard error is that file (the detached daemon's log is those
/// streams; a daemon in a terminal is left alone). Blocking (a stat, a rename and an open).
#[cfg(unix)]
pub fn reopen_stdio(path: &Path, max: u64) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let Ok(log) = std::fs::metadata(path) else {
        return Ok(false);
    };
    let stderr = nix::sys::stat::fstat(std::io::stderr())?;
    if (stderr.st_dev as u64, stderr.st_ino as u64) != (log.dev(), log.ino()) {
        return Ok(false);
    }
    if !rotate_if_large(path, max)? {
        return Ok(false);
    }
    let fresh = open_private(path)?;
    for stream in [1, 2] {
        // SAFETY: dup2 on a descriptor this function owns onto the process's standard
        // streams; writers see the new file from their next write on.
        if unsafe { libc::dup2(fresh.as_raw_fd(), stream) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(true)
}

/// The last `lines` lines of `path` (continued by its [`rotated`] file when `path` holds fewer),
/// oldest first, read from the end (at most [`MAX_TAIL_READ`] bytes; a longer tail starts at
/// the first whole line within them). A missing rotated file is no error; a missing `path` is.
pub fn tail_lines(path: &Path, lines: usize) -> std::io::Result<Vec<String>> {
    let newest = std::fs::File::open(path)?;
    let older = match std::fs::File::open(rotated(path)) {
        Ok(file) => Some(file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    const BLOCK: u64 = 64 * 1024;
    let mut buf: Vec<u8> = Vec::new();
    let mut cut = false;
    // The newest file, then the rotated one: blocks backwards until enough line breaks are in
    // (one more than the lines wanted: the first may be cut) or the files or the budget end.
    'files: for mut file in std::iter::once(newest).chain(older) {
        let mut start = file.metadata()?.len();
        while start > 0 {
            if buf.len() as u64 >= MAX_TAIL_READ {
                cut = true;
                break 'files;
            }
            let step = BLOCK.min(start);
            start -= step;
            file.seek(SeekFrom::Start(start))?;
            let mut block = vec![0; step as usize];
            file.read_exact(&mut block)?;
            block.extend_from_slice(&buf);
            buf = block;
            if buf.iter().filter(|&&b| b == b'\n').count() > lines {
                cut = true;
                break 'files;
            }
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let mut all: Vec<&str> = text.lines().collect();
    if cut && !all.is_empty() {
        // The first line read may be the end of a longer one.
        all.remove(0);
    }
    Ok(all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_come_from_the_end_of_large_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        // 10 MB: more than the read budget.
        let line = |i: usize| format!("line {i} of a log that is larger than the budget");
        let text: String = (0..200_000).map(|i| line(i) + "\n").collect();
        assert!(text.len() as u64 > MAX_TAIL_READ);
        std::fs::write(&path, &text).expect("write");
        assert_eq!(
            tail_lines(&path, 3).expect("tail"),
            vec![line(199_997), line(199_998), line(199_999)]
        );
        let many = tail_lines(&path, 50_000).expect("tail");
        assert_eq!(many.len(), 50_000);
        assert_eq!(many[0], line(150_000));
        // More lines than the read budget holds: whole lines from within it.
        let huge = tail_lines(&path, 1_000_000).expect("tail");
        assert!(huge.len() < 200_000, "{}", huge.len());
        assert_eq!(huge.last(), Some(&line(199_999)));
        assert!(
            huge[0].starts_with("line ") && huge[0].ends_with("budget"),
            "{}",
            huge[0]
        );
        std::fs::write(&path, "a\nb").expect("write");
        assert_eq!(tail_lines(&path, 5).expect("tail"), vec!["a", "b"]);
        std::fs::write(&path, "").expect("write");
        assert!(tail_lines(&path, 5).expect("tail").is_empty());
    }

    #[test]
    fn a_tail_goes_on_into_the_rotated_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.log");
        // A line cut by the rotation is whole again in the tail.
        std::fs::write(rotated(&path), "one\ntwo\nthr").expect("write");
        std::fs::write(&path, "ee\nfour\n").expect("write");
        assert_eq!(tail_lines(&path, 2).expect("tail"), ["three", "four"]);
        assert_eq!(
            tail_lines(&path, 10).expect("tail"),
            ["one", "two", "three", "four"]
        );
        std::fs::remove_file(rotated(&path)).expect("remove");
        assert_eq!(tail_lines(&path, 10).expect("tail"), ["ee", "four"]);
    }

    #[cfg(unix)]
    #[test]
    fn standard_streams_not_on_the_log_are_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("berth.log");
        std::fs::write(&path, "x".repeat(100)).expect("write");
        // This test's standard error is not that file: nothing moves.
        assert!(!reopen_stdio(&path, 10).expect("reopen"));
        assert!(path.exists() && !rotated(&path).exists());
    }

    #[test]
    fn a_large_log_is_rotated_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("berth.log");
        assert!(!rotate_if_large(&path, 10).expect("missing is fine"));
        std::fs::write(&path, "0123456789ab").expect("write");
        assert!(rotate_if_large(&path, 10).expect("rotate"));
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_to_string(rotated(&path)).expect("rotated"),
            "0123456789ab"
        );
        std::fs::write(&path, "small").expect("write");
        assert!(!rotate_if_large(&path, 10).expect("small"));
    }
}
