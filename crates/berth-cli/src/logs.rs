//! `berth logs`: the serial console (a file on the host, readable even when the guest is dead)
//! and the agent's, dockerd's and containerd's logs (through the agent), optionally followed.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use berth_core::agent::AgentClient;
use berth_core::instance;
use berth_core::paths::Paths;
use berth_protocol::call::LogTail;
use berth_protocol::message::{Capability, LogBatch, LogSource};
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

/// How often a followed log is asked for new lines.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

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
    if follow && !agent.offers(Capability::LogSeq) {
        bail!(
            "the running guest agent ({}) cannot be followed: it does not number its log lines; \
             restart Berth to update it, or leave out --follow",
            agent.hello.agent_version
        );
    }
    let mut follower = Follower::new(remote, lines);
    loop {
        let taken = follower.take(agent.call(follower.ask()).await?);
        if let Some(note) = &taken.note {
            eprintln!("{note}");
        }
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            for line in &taken.lines {
                writeln!(out, "{line}")?;
            }
            out.flush()?;
        }
        if !follow {
            return Ok(());
        }
        if !taken.more {
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    }
}

/// Where `berth logs` is in a log the agent keeps: the last lines first, then, by the
/// agent's line numbers, each line after the last one printed, once.
#[derive(Debug)]
pub struct Follower {
    source: LogSource,
    /// The lines of the first answer.
    first: u32,
    /// The number of the next line to print, after the first answer.
    next: Option<u64>,
}

/// What one answer adds.
#[derive(Debug, PartialEq, Eq)]
pub struct Taken {
    /// The lines to print, oldest first.
    pub lines: Vec<String>,
    /// A remark for stderr: lines left out or dropped.
    pub note: Option<String>,
    /// More lines are there already: ask again without waiting.
    pub more: bool,
}

impl Follower {
    /// Starts with the last `lines` lines of `source`.
    pub fn new(source: LogSource, lines: u32) -> Follower {
        Follower {
            source,
            first: lines,
            next: None,
        }
    }

    /// The request for what comes next.
    pub fn ask(&self) -> LogTail {
        match self.next {
            None => LogTail {
                source: self.source,
                lines: self.first,
                since: None,
            },
            Some(next) => LogTail {
                source: self.source,
                // The agent caps it at what it keeps.
                lines: u32::MAX,
                since: Some(next),
            },
        }
    }

    /// Takes the answer to [`Follower::ask`].
    pub fn take(&mut self, batch: LogBatch) -> Taken {
        let note = if self.next.is_none() && batch.truncated {
            Some("(older lines left out: one answer carries at most 512 KiB of log)".to_owned())
        } else if batch.dropped > 0 {
            Some(format!(
                "({} lines left out: the agent's log dropped them before they were read)",
                batch.dropped
            ))
        } else {
            None
        };
        self.next = Some(batch.next);
        Taken {
            lines: batch.lines,
            note,
            more: batch.more,
        }
    }
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
    // As text (`berth_core::text`): the firmware's and kernel's screen set-up (`ESC c` resets
    // the reader's terminal) and control characters are left out.
    for line in &tail {
        println!("{}", berth_core::text::clean_line(line));
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
        print!(
            "{}",
            berth_core::text::clean(&String::from_utf8_lossy(&more))
        );
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

    fn batch(lines: &[&str], next: u64) -> LogBatch {
        LogBatch {
            lines: v(lines),
            next,
            ..LogBatch::default()
        }
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
    fn a_follower_asks_for_the_tail_then_for_each_line_after_the_last_once() {
        let mut follower = Follower::new(LogSource::Engine, 2);
        let first = follower.ask();
        assert_eq!((first.lines, first.since), (2, None));
        let taken = follower.take(batch(&["b", "c"], 3));
        assert_eq!(
            (taken.lines, taken.note, taken.more),
            (v(&["b", "c"]), None, false)
        );
        assert_eq!(follower.ask().since, Some(3));
        // Nothing new: nothing printed, the same place next time.
        assert!(follower.take(batch(&[], 3)).lines.is_empty());
        assert_eq!(follower.ask().since, Some(3));
        // Repeated lines are new lines: numbers, not text, tell them apart.
        let taken = follower.take(batch(&["c", "c"], 5));
        assert_eq!(taken.lines, v(&["c", "c"]));
        assert_eq!(follower.ask().since, Some(5));
        // A capped answer: print it and ask on at once.
        let mut capped = batch(&["d"], 6);
        capped.more = true;
        let taken = follower.take(capped);
        assert!(taken.more);
        assert_eq!(follower.ask().since, Some(6));
    }

    #[test]
    fn lines_the_ring_dropped_are_counted_not_missed_silently() {
        let mut follower = Follower::new(LogSource::Agent, 10);
        let mut first = batch(&["x"], 100);
        first.truncated = true;
        let taken = follower.take(first);
        assert!(taken
            .note
            .is_some_and(|n| n.contains("older lines left out")));
        let mut gap = batch(&["y"], 6_000);
        gap.dropped = 4_899;
        let taken = follower.take(gap);
        assert_eq!(taken.lines, v(&["y"]));
        assert_eq!(
            taken.note.as_deref(),
            Some("(4899 lines left out: the agent's log dropped them before they were read)")
        );
        assert_eq!(follower.ask().since, Some(6_000));
    }

    /// The follower through a real control connection: a stand-in agent answers its calls.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_follower_reads_a_stand_in_agent_without_repeats() {
        use berth_core::fake_agent::{Conduct, FakeAgent};
        use berth_protocol::message::{Request, Response};
        let dir = tempfile::tempdir().expect("tempdir");
        let answers = vec![
            Response::Log(batch(&["one", "two"], 2)),
            Response::Log(batch(&["three"], 3)),
        ];
        let agent = FakeAgent::start(
            dir.path(),
            &[Capability::LogSeq],
            vec![Conduct::Answer { responses: answers }],
        );
        let mut client = AgentClient::connect(&agent.address).await.expect("hello");
        assert!(client.offers(Capability::LogSeq));
        let mut follower = Follower::new(LogSource::Engine, 2);
        let mut printed = Vec::new();
        for _ in 0..2 {
            let batch = client.call(follower.ask()).await.expect("log");
            printed.extend(follower.take(batch).lines);
        }
        assert_eq!(printed, v(&["one", "two", "three"]));
        let asked: Vec<Option<u64>> = agent
            .requests()
            .into_iter()
            .map(|r| match r {
                Request::LogTail(tail) => tail.since,
                other => panic!("not a log tail: {other:?}"),
            })
            .collect();
        assert_eq!(asked, [None, Some(2)]);
        // An answer of another kind is an error, not a log.
        let err = client
            .call(follower.ask())
            .await
            .expect_err("an ok is no log");
        assert!(
            err.to_string().contains("`ok` answer to a `log_tail`"),
            "{err}"
        );
    }
}
