//! Following the agents' output under WSL, where it is their console: copied line by line to
//! the console log (one [`SharedLog`] for both agents and Berth's own notices, bounded as
//! every console log: [`console::follow`]), the ready line and fatal lines recognised as on a
//! serial console ([`crate::vm::console`]).

use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::Child;
use tokio::sync::mpsc;

use super::command;
use crate::logfile::SharedLog;
use crate::vm::console::{self, Signal, Tail};
use crate::vm::BootError;

/// The console log, written by the output of both agents and Berth's notices.
#[derive(Clone)]
pub(super) struct Log(pub(super) SharedLog);

impl Log {
    pub(super) async fn line(&self, line: &str) {
        if let Err(err) = self.0.line(line).await {
            tracing::warn!("cannot write the console log: {err}");
        }
    }

    /// Copies `child`'s output to the log from now on; its lines, while they are wanted.
    pub(super) fn follow(&self, child: &mut Child) -> Option<mpsc::Receiver<String>> {
        let output = child.stdout.take()?;
        Some(console::follow(output, self.0.clone()).lines)
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

/// Follows the agent's output (its `lines`, copied to the console log meanwhile) to its ready
/// line.
pub(super) async fn wait_ready(
    child: &mut Child,
    lines: &mut mpsc::Receiver<String>,
    timeout: Duration,
) -> Result<berth_protocol::boot::ReadyLine, BootError> {
    let started = Instant::now();
    let mut tail = Tail::default();
    loop {
        let remaining = timeout.saturating_sub(started.elapsed());
        let line = match tokio::time::timeout(remaining, lines.recv()).await {
            Err(_) => {
                return Err(BootError::Timeout {
                    after: timeout,
                    console: tail.text(),
                })
            }
            Ok(Some(line)) => line,
            Ok(None) => {
                let status = child
                    .wait()
                    .await
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string());
                return Err(BootError::Exited {
                    status,
                    stderr: read_stderr(child).await,
                    console: tail.text(),
                });
            }
        };
        tail.push(&line);
        match console::classify(&line)? {
            Signal::Ready(ready) => return Ok(ready),
            Signal::Fatal(reason) => {
                return Err(BootError::GuestCrashed {
                    reason,
                    console: tail.text(),
                })
            }
            Signal::Other => {}
        }
    }
}
