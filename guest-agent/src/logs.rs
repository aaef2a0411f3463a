//! Bounded in-memory logs (the agent's own, containerd's, dockerd's, the kernel's), kept so the
//! host can read their tails. Memory is bounded by line count and line length: the engine's
//! output is not ours to trust.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Lines kept per log.
pub const KEEP_LINES: usize = 5000;
/// Longest line kept, in bytes; longer lines are cut.
pub const MAX_LINE: usize = 4096;

/// One log: the last [`KEEP_LINES`] lines.
#[derive(Clone, Default)]
pub struct LogRing {
    lines: Arc<Mutex<VecDeque<String>>>,
}

impl LogRing {
    /// Appends a line, dropping the oldest when full.
    pub fn push(&self, line: &str) {
        let mut end = line.len().min(MAX_LINE);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() == KEEP_LINES {
            lines.pop_front();
        }
        lines.push_back(line[..end].to_owned());
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines
            .iter()
            .skip(lines.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    /// The last line, if any.
    pub fn last(&self) -> Option<String> {
        self.tail(1).pop()
    }
}

/// Copies every line of `reader` into `ring` until EOF; with `echo`, also to the console.
pub async fn pump<R: AsyncRead + Unpin>(reader: R, ring: LogRing, echo: Option<&'static str>) {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        // Bounded read: a line without a newline is cut at MAX_LINE.
        match (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end();
                ring.push(line);
                if let Some(name) = echo {
                    crate::console::raw(&format!("{name}: {line}"));
                }
            }
        }
    }
}

use tokio::io::AsyncReadExt as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_only() {
        let ring = LogRing::default();
        for i in 0..KEEP_LINES + 10 {
            ring.push(&format!("line {i}"));
        }
        let tail = ring.tail(3);
        assert_eq!(
            tail,
            [
                format!("line {}", KEEP_LINES + 7),
                format!("line {}", KEEP_LINES + 8),
                format!("line {}", KEEP_LINES + 9)
            ]
        );
        assert_eq!(ring.tail(usize::MAX).len(), KEEP_LINES);
    }

    #[test]
    fn long_lines_are_cut_on_a_char_boundary() {
        let ring = LogRing::default();
        ring.push(&"é".repeat(MAX_LINE));
        assert!(ring.last().unwrap_or_default().len() <= MAX_LINE);
    }

    #[tokio::test]
    async fn pump_splits_lines_and_bounds_them() {
        let mut input = b"one\ntwo\r\n".to_vec();
        input.extend(vec![b'x'; MAX_LINE * 2]);
        input.extend(b"\n\xff\n");
        let ring = LogRing::default();
        pump(&input[..], ring.clone(), None).await;
        let lines = ring.tail(10);
        assert_eq!(lines[0], "one");
        assert_eq!(lines[1], "two");
        assert!(lines.iter().all(|l| l.len() <= MAX_LINE + 1));
    }
}
