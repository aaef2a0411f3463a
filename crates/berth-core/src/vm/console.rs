//! Reading the guest's serial console log while QEMU writes it: new complete lines as they
//! arrive, a bounded tail for error messages, and what each line means for the boot.

use std::collections::VecDeque;
use std::path::PathBuf;

use berth_protocol::boot::{ReadyLine, ReadyLineError};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Lines kept for error messages.
const TAIL_LINES: usize = 40;
/// A console line longer than this is cut (the guest controls this output).
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

/// An incremental reader of the console log file.
pub struct Console {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    tail: VecDeque<String>,
}

impl Console {
    /// Follows `path` from its start.
    pub fn new(path: PathBuf) -> Console {
        Console {
            path,
            offset: 0,
            partial: Vec::new(),
            tail: VecDeque::new(),
        }
    }

    /// Complete lines written since the last call (none if the file does not exist yet).
    pub async fn new_lines(&mut self) -> Vec<String> {
        let fresh = Vec::new();
        let Ok(mut file) = tokio::fs::File::open(&self.path).await else {
            return fresh;
        };
        if file
            .seek(std::io::SeekFrom::Start(self.offset))
            .await
            .is_err()
        {
            return fresh;
        }
        let mut bytes = Vec::new();
        let Ok(n) = file.read_to_end(&mut bytes).await else {
            return fresh;
        };
        self.offset += n as u64;
        self.feed(&bytes)
    }

    /// Splits `bytes` (the next bytes of the log) into the complete lines they end, keeping
    /// the last partial line and cutting every line at [`MAX_LINE`] bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut fresh = Vec::new();
        for &byte in bytes {
            if byte == b'\n' {
                let line = String::from_utf8_lossy(&self.partial)
                    .trim_end_matches('\r')
                    .to_owned();
                self.partial.clear();
                self.remember(&line);
                fresh.push(line);
            } else if self.partial.len() < MAX_LINE {
                self.partial.push(byte);
            }
        }
        fresh
    }

    fn remember(&mut self, line: &str) {
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_owned());
    }

    /// The last lines seen, for error messages.
    pub fn tail(&self) -> String {
        let mut text: Vec<&str> = self.tail.iter().map(String::as_str).collect();
        let partial = String::from_utf8_lossy(&self.partial);
        if !partial.is_empty() {
            text.push(&partial);
        }
        text.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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

    #[tokio::test]
    async fn follows_a_growing_file_and_keeps_partial_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.log");
        let mut console = Console::new(path.clone());
        assert!(
            console.new_lines().await.is_empty(),
            "missing file is no lines"
        );

        let mut f = std::fs::File::create(&path).expect("create");
        f.write_all(b"one\r\ntw").expect("write");
        assert_eq!(console.new_lines().await, ["one"]);
        f.write_all(b"o\nthree").expect("write");
        assert_eq!(console.new_lines().await, ["two"]);
        assert_eq!(console.tail(), "one\ntwo\nthree");
    }

    #[tokio::test]
    async fn hostile_output_is_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.log");
        let mut data = vec![b'x'; MAX_LINE * 3];
        data.extend_from_slice(b"\n\xff\xfe\n");
        for i in 0..200 {
            data.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        std::fs::write(&path, &data).expect("write");
        let mut console = Console::new(path);
        let lines = console.new_lines().await;
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines.len(), 202);
        assert_eq!(console.tail().lines().count(), TAIL_LINES);
    }
}
