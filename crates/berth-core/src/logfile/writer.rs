//! A log kept under a size by its writer: [`Rotating`] moves the file to its rotated name
//! (`console.log` → `console.log.1`, replacing an older one) before a write would take it past
//! its limit, and goes on in a fresh file, so the pair never holds more than twice the limit.
//! [`SharedLog`] is the same log for async code: each write runs on the blocking pool, and a
//! write that returned is in the file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{open_private, rotated};

/// A log file rotated before it would pass `max` bytes.
#[derive(Debug)]
pub struct Rotating {
    path: PathBuf,
    max: u64,
    file: std::fs::File,
    len: u64,
}

impl Rotating {
    /// A fresh log at `path` (an earlier one and its rotated file removed, so nothing of an
    /// earlier run reads as this one's), for the user alone, rotated at `max` bytes.
    pub fn create(path: &Path, max: u64) -> std::io::Result<Rotating> {
        for old in [rotated(path), path.to_path_buf()] {
            match std::fs::remove_file(&old) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Rotating {
            path: path.to_path_buf(),
            max: max.max(1),
            file: open_private(path)?,
            len: 0,
        })
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        std::fs::rename(&self.path, rotated(&self.path))?;
        self.file = open_private(&self.path)?;
        self.len = 0;
        Ok(())
    }
}

impl Write for Rotating {
    /// Writes as much of `buf` as fits under the limit, rotating first when it would not fit
    /// (so a write of whole lines starts the fresh file with a whole line).
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.len > 0 && self.len.saturating_add(buf.len() as u64) > self.max {
            self.rotate()?;
        }
        let room = usize::try_from(self.max - self.len).unwrap_or(usize::MAX);
        let written = self.file.write(&buf[..buf.len().min(room)])?;
        self.len += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A [`Rotating`] log written from async code, by any number of clones; each write is whole.
#[derive(Debug, Clone)]
pub struct SharedLog(Arc<Mutex<Rotating>>);

impl SharedLog {
    /// A fresh log at `path`, rotated at `max` bytes ([`Rotating::create`]).
    pub async fn create(path: &Path, max: u64) -> std::io::Result<SharedLog> {
        let path = path.to_path_buf();
        let log = tokio::task::spawn_blocking(move || Rotating::create(&path, max))
            .await
            .map_err(std::io::Error::other)??;
        Ok(SharedLog(Arc::new(Mutex::new(log))))
    }

    /// Appends `bytes`; in the file when this returns.
    pub async fn write(&self, bytes: Vec<u8>) -> std::io::Result<()> {
        let log = self.0.clone();
        tokio::task::spawn_blocking(move || {
            log.lock()
                .map_err(|_| std::io::Error::other("an earlier write of the log panicked"))?
                .write_all(&bytes)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// Appends `line` and a newline.
    pub async fn line(&self, line: &str) -> std::io::Result<()> {
        self.write(format!("{line}\n").into_bytes()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_written_past_its_limit_keeps_the_newest_lines_within_twice_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.log");
        std::fs::write(&path, "an earlier boot's line\n").expect("write");
        std::fs::write(rotated(&path), "an even earlier one\n").expect("write");
        const MAX: u64 = 64 * 1024;
        let mut log = Rotating::create(&path, MAX).expect("create");
        let line = |i: usize| format!("[{i:>8}] a guest that spams its console");
        let lines = 20_000; // about 0.8 MB: twelve times the limit
        for i in 0..lines {
            log.write_all(format!("{}\n", line(i)).as_bytes())
                .expect("write");
        }
        let newest = std::fs::metadata(&path).expect("log").len();
        let older = std::fs::metadata(rotated(&path)).expect("rotated").len();
        assert!(newest <= MAX && older <= MAX, "{newest} {older}");
        // Rotated at line boundaries: each file starts with a whole line.
        for file in [&path, &rotated(&path)] {
            let text = std::fs::read_to_string(file).expect("read");
            assert!(text.starts_with('[') && text.ends_with('\n'), "{file:?}");
            assert!(!text.contains("earlier"), "{file:?}");
        }
        let tail = crate::logfile::tail_lines(&path, 3).expect("tail");
        assert_eq!(tail, [line(lines - 3), line(lines - 2), line(lines - 1)]);
        // A tail longer than the fresh file goes on into the rotated one, in order.
        let in_newest = std::fs::read_to_string(&path)
            .expect("read")
            .lines()
            .count();
        let long = crate::logfile::tail_lines(&path, in_newest + 5).expect("tail");
        let first = lines - in_newest - 5;
        assert_eq!(long, (first..lines).map(line).collect::<Vec<_>>());
    }

    #[test]
    fn a_write_larger_than_the_limit_is_cut_into_files_of_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.log");
        let mut log = Rotating::create(&path, 10).expect("create");
        log.write_all(b"0123456789abcdefghijXYZ").expect("write");
        assert_eq!(
            std::fs::read(rotated(&path)).expect("rotated"),
            b"abcdefghij"
        );
        assert_eq!(std::fs::read(&path).expect("log"), b"XYZ");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shared_writes_are_in_the_file_when_they_return() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.log");
        let log = SharedLog::create(&path, 1024).await.expect("create");
        log.line("one").await.expect("write");
        log.clone().line("two").await.expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "one\ntwo\n");
    }
}
