//! The guest's console as the backends read it: its output copied line by line to the console
//! log, a [`SharedLog`] kept under [`crate::logfile::MAX_LOG`] ([`follow`]), each line handed to
//! the boot while it listens, a bounded tail for error messages ([`Tail`]), and what each line
//! means for the boot ([`classify`]). A line is cut at [`MAX_LINE`] bytes (the guest controls
//! this output).

use std::collections::VecDeque;

use berth_protocol::boot::{ReadyLine, ReadyLineError};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::logfile::SharedLog;

/// Lines kept for error messages.
pub const TAIL_LINES: usize = 40;
/// A console line longer than this is cut.
const MAX_LINE: usize = 4096;

/// What a console line says about the boot.
#[derive(Debug, PartialEq, Eq)]
pub enum Signal {
    /// Nothing of interest.
    Other,
    /// The agent is ready.
    Ready(ReadyLine),
    /// The guest kernel or stage 1 failed; the boot will not complete.
    Fatal(String),
}

/// Classifies one console line.
pub fn classify(line: &str) -> Result<Signal, ReadyLineError> {
    if let Some(ready) = ReadyLine::parse(line)? {
        return Ok(Signal::Ready(ready));
    }
    const FATAL: &[&str] = &[
        "Kernel panic",
        "Oops:",
        "BUG: ",
        "general protection fault",
        "berth-stage1:",
    ];
    if FATAL.iter().any(|m| line.contains(m)) {
        return Ok(Signal::Fatal(line.trim().to_owned()));
    }
    Ok(Signal::Other)
}

/// The last [`TAIL_LINES`] lines, for error messages.
#[derive(Debug, Default)]
pub struct Tail(VecDeque<String>);

impl Tail {
    /// Keeps `line`, forgetting the oldest beyond [`TAIL_LINES`].
    pub fn push(&mut self, line: &str) {
        if self.0.len() == TAIL_LINES {
            self.0.pop_front();
        }
        self.0.push_back(line.to_owned());
    }

    /// The lines kept, one a line.
    pub fn text(&self) -> String {
        self.0
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Splits the console's bytes into lines as they come.
#[derive(Debug, Default)]
pub struct Console {
    partial: Vec<u8>,
    tail: Tail,
}

impl Console {
    /// Nothing read yet.
    pub fn new() -> Console {
        Console::default()
    }

    /// Splits `bytes` (the next bytes of the output) into the complete lines they end, keeping
    /// the last partial line and cutting every line at [`MAX_LINE`] bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut fresh = Vec::new();
        for &byte in bytes {
            if byte == b'\n' {
                let line = String::from_utf8_lossy(&self.partial)
                    .trim_end_matches('\r')
                    .to_owned();
                self.partial.clear();
                self.tail.push(&line);
                fresh.push(line);
            } else if self.partial.len() < MAX_LINE {
                self.partial.push(byte);
            }
        }
        fresh
    }

    /// At the end of the output: the partial last line, if there is one, as a line.
    pub fn finish(&mut self) -> Option<String> {
        if self.partial.is_empty() {
            return None;
        }
        self.feed(b"\n").pop()
    }

    /// The last lines seen, the partial one included, for error messages.
    pub fn tail(&self) -> String {
        let mut text = self.tail.text();
        let partial = String::from_utf8_lossy(&self.partial);
        if !partial.is_empty() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&partial);
        }
        text
    }
}

/// A console being copied to its log ([`follow`]).
#[derive(Debug)]
pub struct Followed {
    /// Each line, in order, while this is kept; drop it once the lines are not wanted (the
    /// copy goes on without them).
    pub lines: mpsc::Receiver<String>,
    /// The copy; it ends with the output.
    pub copy: JoinHandle<()>,
}

/// Copies the console `output` to `log` line by line until it ends (its partial last line
/// included), handing each line to [`Followed::lines`] too. A log that cannot be written is
/// said once in Berth's log and the output still read, so the guest never waits on it.
pub fn follow<R>(mut output: R, log: SharedLog) -> Followed
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let (sender, lines) = mpsc::channel(256);
    let copy = tokio::spawn(async move {
        let mut sender = Some(sender);
        let mut console = Console::new();
        let mut buf = vec![0; 16 * 1024];
        let mut failed = false;
        loop {
            let n = output.read(&mut buf).await.unwrap_or(0);
            let fresh = match n {
                0 => console.finish().into_iter().collect(),
                n => console.feed(&buf[..n]),
            };
            if !fresh.is_empty() {
                let mut text = fresh.join("\n");
                text.push('\n');
                if let Err(err) = log.write(text.into_bytes()).await {
                    if !failed {
                        tracing::warn!("cannot write the console log: {err}");
                        failed = true;
                    }
                }
                for line in fresh {
                    let Some(to) = &sender else { break };
                    if to.send(line).await.is_err() {
                        sender = None;
                    }
                }
            }
            if n == 0 {
                return;
            }
        }
    });
    Followed { lines, copy }
}

/// Takes the lines that `followed` hands over within `within` (or until the output ends) into
/// `tail`: what the guest still says as it dies.
pub async fn drain(
    lines: &mut mpsc::Receiver<String>,
    tail: &mut Tail,
    within: std::time::Duration,
) {
    let _ = tokio::time::timeout(within, async {
        while let Some(line) = lines.recv().await {
            tail.push(&line);
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn classifies_ready_fatal_and_other_lines() {
        let ready = "berth-agent: ready version=0.1.0 protocol=1 uptime_ms=9 agent_ms=3";
        assert!(matches!(classify(ready), Ok(Signal::Ready(_))));
        let panic = "[    2.5] Kernel panic - not syncing: VFS: Unable to mount root fs";
        assert!(matches!(classify(panic), Ok(Signal::Fatal(_))));
        assert!(matches!(
            classify("berth-stage1: cannot mount /dev/vda"),
            Ok(Signal::Fatal(_))
        ));
        assert_eq!(classify("[    0.1] Booting"), Ok(Signal::Other));
        assert!(classify("berth-agent: ready version=1 protocol=x").is_err());
    }

    #[test]
    fn splits_pieces_into_lines_and_keeps_the_partial_one() {
        let mut console = Console::new();
        assert_eq!(console.feed(b"one\r\ntw"), ["one"]);
        assert_eq!(console.feed(b"o\nthree"), ["two"]);
        assert_eq!(console.tail(), "one\ntwo\nthree");
        assert_eq!(console.finish().as_deref(), Some("three"));
        assert_eq!(console.finish(), None);
    }

    #[test]
    fn hostile_output_is_bounded() {
        let mut data = vec![b'x'; MAX_LINE * 3];
        data.extend_from_slice(b"\n\xff\xfe\n");
        for i in 0..200 {
            data.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let mut console = Console::new();
        let lines = console.feed(&data);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines.len(), 202);
        assert_eq!(console.tail().lines().count(), TAIL_LINES);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn output_is_copied_to_the_log_and_handed_over_while_wanted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.log");
        let log = SharedLog::create(&path, 1 << 20).await.expect("log");
        let (mut guest, output) = tokio::io::duplex(64);
        let mut followed = follow(output, log);
        guest.write_all(b"one\r\ntwo\n").await.expect("write");
        assert_eq!(followed.lines.recv().await.as_deref(), Some("one"));
        assert_eq!(followed.lines.recv().await.as_deref(), Some("two"));
        // Nobody listens any more: the copy goes on.
        drop(followed.lines);
        guest.write_all(b"three\nfour").await.expect("write");
        drop(guest);
        followed.copy.await.expect("copy");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "one\ntwo\nthree\nfour\n"
        );
    }

    #[tokio::test]
    async fn the_last_lines_of_a_dying_guest_are_drained() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = SharedLog::create(&dir.path().join("c"), 1 << 20)
            .await
            .expect("log");
        let (mut guest, output) = tokio::io::duplex(64);
        let mut followed = follow(output, log);
        guest
            .write_all(b"Kernel panic\n---[ end trace")
            .await
            .expect("write");
        drop(guest);
        let mut tail = Tail::default();
        drain(
            &mut followed.lines,
            &mut tail,
            std::time::Duration::from_secs(5),
        )
        .await;
        assert_eq!(tail.text(), "Kernel panic\n---[ end trace");
    }
}
