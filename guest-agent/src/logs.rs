//! Bounded in-memory logs (the agent's own, containerd's, dockerd's), kept so the host can
//! read their tails or follow them. Memory is bounded by line count and line length: the
//! engine's output is not ours to trust.
//!
//! A ring counts its pushes: the line pushed first is number 0, and a line keeps its number
//! while the ring holds it. A follower asks for the lines from a number on
//! ([`LogRing::since`]); those the ring dropped before it asked are counted, not guessed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use berth_protocol::message::LogBatch;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Lines kept per log.
pub const KEEP_LINES: usize = 5000;
/// Longest line kept, in bytes; longer lines are cut.
pub const MAX_LINE: usize = 4096;

/// One log: the last [`KEEP_LINES`] lines, and how many were ever pushed.
#[derive(Clone)]
pub struct LogRing {
    inner: Arc<Mutex<Ring>>,
}

struct Ring {
    lines: VecDeque<String>,
    /// Lines pushed so far: the number the next line gets.
    pushed: u64,
    keep: usize,
}

impl Default for LogRing {
    fn default() -> Self {
        LogRing::keeping(KEEP_LINES)
    }
}

impl LogRing {
    /// A ring of the last `keep` lines (at least one).
    pub fn keeping(keep: usize) -> LogRing {
        let keep = keep.max(1);
        LogRing {
            inner: Arc::new(Mutex::new(Ring {
                lines: VecDeque::with_capacity(keep.min(KEEP_LINES)),
                pushed: 0,
                keep,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a line, dropping the oldest when full.
    pub fn push(&self, line: &str) {
        let mut end = line.len().min(MAX_LINE);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        let mut ring = self.lock();
        if ring.lines.len() == ring.keep {
            ring.lines.pop_front();
        }
        ring.lines.push_back(line[..end].to_owned());
        ring.pushed += 1;
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<String> {
        self.last_lines(n).lines
    }

    /// The last `n` lines, oldest first, with the number of the line to come as `next`.
    pub fn last_lines(&self, n: usize) -> LogBatch {
        let ring = self.lock();
        let lines = ring
            .lines
            .iter()
            .skip(ring.lines.len().saturating_sub(n))
            .cloned()
            .collect();
        LogBatch {
            lines,
            next: ring.pushed,
            ..LogBatch::default()
        }
    }

    /// Up to `max` lines from number `since` on, oldest first. `dropped` counts the lines from
    /// `since` the ring no longer holds; `next` is the number after the last line returned;
    /// `more` says lines after `next` are held already. A `since` past the last push (a host
    /// that counted another boot's lines) is taken as "from now".
    pub fn since(&self, since: u64, max: usize) -> LogBatch {
        let ring = self.lock();
        let since = since.min(ring.pushed);
        let first = ring.pushed - ring.lines.len() as u64;
        let start = since.max(first);
        let skip = usize::try_from(start - first).unwrap_or(usize::MAX);
        let lines: Vec<String> = ring.lines.iter().skip(skip).take(max).cloned().collect();
        let next = start + lines.len() as u64;
        LogBatch {
            lines,
            truncated: false,
            next,
            dropped: start - since,
            more: next < ring.pushed,
        }
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

    fn lines(from: u64, to: u64) -> Vec<String> {
        (from..to).map(|i| format!("line {i}")).collect()
    }

    /// A ring of `keep` lines after `pushed` pushes of `line 0`, `line 1`, …
    fn ring_of(keep: usize, pushed: u64) -> LogRing {
        let ring = LogRing::keeping(keep);
        lines(0, pushed).iter().for_each(|l| ring.push(l));
        ring
    }

    #[test]
    fn lines_are_numbered_by_push_and_followed_without_gaps_or_repeats() {
        let empty = ring_of(4, 0).since(0, 10);
        assert_eq!((empty.lines.len(), empty.next, empty.dropped), (0, 0, 0));
        let ring = ring_of(4, 3);
        let tail = ring.last_lines(2);
        assert_eq!((tail.lines, tail.next), (lines(1, 3), 3));
        let first = ring.since(0, 10);
        assert_eq!(
            (first.lines, first.next, first.more),
            (lines(0, 3), 3, false)
        );
        // Nothing new: an empty batch, and the same place to ask from.
        let nothing = ring.since(3, 10);
        assert_eq!((nothing.lines.len(), nothing.next), (0, 3));
        ring.push("line 3");
        let next = ring.since(3, 10);
        assert_eq!((next.lines, next.next, next.dropped), (lines(3, 4), 4, 0));
    }

    #[test]
    fn a_capped_batch_says_more_follow_and_where() {
        let ring = ring_of(10, 6);
        let part = ring.since(1, 2);
        assert_eq!((part.lines, part.next, part.more), (lines(1, 3), 3, true));
        let rest = ring.since(part.next, 10);
        assert_eq!((rest.lines, rest.next, rest.more), (lines(3, 6), 6, false));
    }

    #[test]
    fn lines_dropped_by_the_wrapping_ring_are_counted() {
        let ring = ring_of(3, 10);
        // Lines 2..7 were overwritten before the follower, who saw up to 1, asked again.
        let batch = ring.since(2, 100);
        assert_eq!(batch.dropped, 5);
        assert_eq!((batch.lines, batch.next), (lines(7, 10), 10));
        // Numbers keep counting across the wrap.
        ring.push("line 10");
        let batch = ring.since(10, 100);
        assert_eq!(
            (batch.lines, batch.next, batch.dropped),
            (lines(10, 11), 11, 0)
        );
        // A number from another boot, past the last push, means "from now".
        let batch = ring.since(1_000, 100);
        assert_eq!((batch.lines.len(), batch.next, batch.dropped), (0, 11, 0));
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
