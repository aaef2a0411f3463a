//! `berth logs`: the serial console (a file on the host, readable even when the guest is dead)
//! and the agent's, dockerd's and containerd's logs (through the agent), optionally followed.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use berth_core::agent::AgentClient;
use berth_core::instance;
use berth_core::paths::Paths;
use berth_protocol::message::{LogSource, Request, Response};
use clap::ValueEnum;

/// Which log.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Source {
    /// The VM's serial console (kernel and agent messages).
    Console,
    /// The guest agent.
    Agent,
    /// The container engine (dockerd).
    Engine,
    /// containerd.
    Containerd,
}

/// Prints the last `lines` lines of `source`, then new ones while `follow`.
pub async fn run(source: Source, lines: u32, follow: bool) -> Result<()> {
    let paths = Paths::for_user()?;
    let remote = match source {
        Source::Console => return console(&paths, lines, follow).await,
        Source::Agent => LogSource::Agent,
        Source::Engine => LogSource::Engine,
        Source::Containerd => LogSource::Containerd,
    };
    let state = instance::read_state(&paths.runtime).filter(|s| s.state.is_up());
    let vsock = state
        .and_then(|s| s.agent)
        .context("Berth is not running; `berth logs console` still works")?;
    // Resumes a VM the resource saver paused, and keeps it awake while the logs are followed.
    let _awake = crate::lifecycle::hold_awake().await?;
    let mut agent = AgentClient::connect(&vsock).await?;
    let mut printed: Vec<String> = Vec::new();
    loop {
        let want = if printed.is_empty() { lines } else { 5000 };
        let Response::Log {
            lines: batch,
            truncated,
        } = agent
            .request(Request::LogTail {
                source: remote,
                lines: want,
            })
            .await?
        else {
            bail!("the agent did not return a log");
        };
        if truncated && printed.is_empty() {
            eprintln!("(older lines left out: one answer carries at most 512 KiB of log)");
        }
        let fresh = unseen(&printed, &batch);
        for line in fresh {
            println!("{line}");
        }
        printed = batch;
        if !follow {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The lines of `batch` after what `printed` already showed.
pub fn unseen<'a>(printed: &[String], batch: &'a [String]) -> &'a [String] {
    // Match the last three printed lines, or fewer when the ring dropped older ones.
    for window in (1..=printed.len().min(3)).rev() {
        let tail = &printed[printed.len() - window..];
        if let Some(end) = (window..=batch.len())
            .rev()
            .find(|&end| batch[end - window..end] == *tail)
        {
            return &batch[end..];
        }
    }
    batch
}

async fn console(paths: &Paths, lines: u32, follow: bool) -> Result<()> {
    let path = paths.console_log();
    let opened = path.clone();
    let mut followed = tokio::task::spawn_blocking(move || Followed::open(opened))
        .await?
        .with_context(|| format!("no console log at {}", path.display()))?;
    let tail_of = path.clone();
    let tail = tokio::task::spawn_blocking(move || {
        berth_core::logfile::tail_lines(&tail_of, lines as usize)
    })
    .await?
    .with_context(|| format!("cannot read {}", path.display()))?;
    for line in &tail {
        println!("{line}");
    }
    if !follow {
        return Ok(());
    }
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (back, more) = tokio::task::spawn_blocking(move || {
            let more = followed.more();
            (followed, more)
        })
        .await?;
        followed = back;
        let more = more.with_context(|| format!("cannot read {}", path.display()))?;
        print!("{}", String::from_utf8_lossy(&more));
    }
}

/// The console log as `--follow` reads it: the file it follows is kept open, so what was
/// written to it before it was rotated (`console.log.1`) or replaced by a new boot's is read
/// to its end before the new file is followed from its start.
struct Followed {
    path: std::path::PathBuf,
    file: std::fs::File,
    offset: u64,
}

impl Followed {
    /// Follows `path` from its current end.
    fn open(path: std::path::PathBuf) -> std::io::Result<Followed> {
        let file = std::fs::File::open(&path)?;
        let offset = file.metadata()?.len();
        Ok(Followed { path, file, offset })
    }

    /// What was written since the last call; then, when `path` names another file, goes on
    /// in that one.
    fn more(&mut self) -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Seek};
        let mut more = Vec::new();
        self.file.seek(std::io::SeekFrom::Start(self.offset))?;
        self.offset += self.file.read_to_end(&mut more)? as u64;
        // Missing for a moment while a new boot replaces it: the next call looks again.
        if let Ok(now) = same_file::Handle::from_path(&self.path) {
            if now != same_file::Handle::from_file(self.file.try_clone()?)? {
                self.file = std::fs::File::open(&self.path)?;
                self.offset = 0;
            }
        }
        Ok(more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_followed_log_is_read_to_its_end_across_a_rotation() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.log");
        let mut log = berth_core::logfile::Rotating::create(&path, 12).expect("create");
        log.write_all(b"one\n").expect("write");
        let mut followed = Followed::open(path.clone()).expect("open");
        // `two` ends the first file, `three` starts the next one, between two reads.
        log.write_all(b"two\n").expect("write");
        log.write_all(b"three\n").expect("write");
        assert!(berth_core::logfile::rotated(&path).exists());
        assert_eq!(followed.more().expect("more"), b"two\n");
        assert_eq!(followed.more().expect("more"), b"three\n");
        log.write_all(b"four\n").expect("write");
        assert_eq!(followed.more().expect("more"), b"four\n");
    }

    #[test]
    fn only_new_lines_are_printed() {
        assert_eq!(unseen(&[], &v(&["a", "b"])), v(&["a", "b"]).as_slice());
        assert_eq!(
            unseen(&v(&["a", "b", "c"]), &v(&["b", "c", "d", "e"])),
            v(&["d", "e"]).as_slice()
        );
        assert!(unseen(&v(&["a", "b"]), &v(&["a", "b"])).is_empty());
        // Repeated lines: the last match wins.
        assert_eq!(
            unseen(&v(&["x", "x"]), &v(&["x", "x", "x", "y"])),
            v(&["y"]).as_slice()
        );
        // Nothing in common (the ring wrapped): print it all.
        assert_eq!(
            unseen(&v(&["a"]), &v(&["q", "r"])),
            v(&["q", "r"]).as_slice()
        );
    }
}
