//! `berth logs`: the serial console (a file on the host, readable even when the guest is dead)
//! and the agent's, dockerd's and containerd's logs (through the agent), optionally followed.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use berth_core::agent::AgentClient;
use berth_core::instance;
use berth_core::paths::Paths;
use berth_protocol::message::{LogSource, Request, Response};
use clap::ValueEnum;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

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
    let length = tokio::fs::metadata(&path)
        .await
        .with_context(|| format!("no console log at {}", path.display()))?
        .len();
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
    let mut offset = length;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut file = tokio::fs::File::open(&path).await?;
        if file.metadata().await?.len() < offset {
            offset = 0; // a new boot replaced the log
        }
        file.seek(std::io::SeekFrom::Start(offset)).await?;
        let mut more = Vec::new();
        offset += file.read_to_end(&mut more).await? as u64;
        print!("{}", String::from_utf8_lossy(&more));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
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
