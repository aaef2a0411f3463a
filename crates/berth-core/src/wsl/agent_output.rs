//! Following the agents' output under WSL, where it is their console: each line copied to
//! the console log, the ready line and fatal lines recognised as on a serial console
//! ([`crate::vm::console`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout};
use tokio::sync::Mutex;

use super::command;
use crate::vm::console::{self, Signal};
use crate::vm::BootError;

/// Console lines kept for error messages.
const TAIL_LINES: usize = 40;

/// The console log, written by the output of both agents.
#[derive(Clone)]
pub(super) struct Log(pub(super) Arc<Mutex<tokio::fs::File>>);

impl Log {
    pub(super) async fn line(&self, line: &str) {
        let _ = self
            .0
            .lock()
            .await
            .write_all(format!("{line}\n").as_bytes())
            .await;
    }
}

pub(super) async fn read_stderr(child: &mut Child) -> String {
    let mut stderr = Vec::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_end(&mut stderr).await;
    }
    command::decode_output(&stderr).trim().to_owned()
}

pub(super) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// Follows the agent's output to its ready line, copying it to the console log.
pub(super) async fn wait_ready(
    child: &mut Child,
    lines: &mut tokio::io::Lines<BufReader<ChildStdout>>,
    log: &Log,
    timeout: Duration,
) -> Result<berth_protocol::boot::ReadyLine, BootError> {
    let started = Instant::now();
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    let tail_text = |tail: &VecDeque<String>| tail.iter().cloned().collect::<Vec<_>>().join("\n");
    loop {
        let remaining = timeout.saturating_sub(started.elapsed());
        let line = match tokio::time::timeout(remaining, lines.next_line()).await {
            Err(_) => {
                return Err(BootError::Timeout {
                    after: timeout,
                    console: tail_text(&tail),
                })
            }
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) | Ok(Err(_)) => {
                let status = child
                    .wait()
                    .await
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string());
                return Err(BootError::Exited {
                    status,
                    stderr: read_stderr(child).await,
                    console: tail_text(&tail),
                });
            }
        };
        log.line(&line).await;
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.clone());
        match console::classify(&line)? {
            Signal::Ready(ready) => return Ok(ready),
            Signal::Fatal(reason) => {
                return Err(BootError::GuestCrashed {
                    reason,
                    console: tail_text(&tail),
                })
            }
            Signal::Other => {}
        }
    }
}
