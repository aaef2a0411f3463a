//! `berth shell`: a root shell in the VM through the agent. On a terminal it is interactive (a
//! pseudo-terminal in the guest, this terminal in raw mode, its size following this terminal's
//! through resize records on SIGWINCH); otherwise it reads a script from stdin and prints its
//! output, so `echo uptime | berth shell` works. The terminal itself is per OS ([`terminal`]:
//! termios and SIGWINCH on Unix, console modes and a size poll on Windows); the rest is shared.

#[cfg_attr(unix, path = "terminal_unix.rs")]
#[cfg_attr(windows, path = "terminal_windows.rs")]
mod terminal;

use std::io::IsTerminal;

use anyhow::{Context, Result};
use berth_core::agent::open_data;
use berth_core::instance;
use berth_core::paths::Paths;
use berth_protocol::data::DataHeader;
use std::io::Read;

use berth_protocol::stream::{from_chunks, write_chunk, write_resize, MAX_CHUNK};
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;

use terminal::{RawMode, Resizes};

/// Runs the shell until it exits.
pub async fn run() -> Result<()> {
    let paths = Paths::for_user()?;
    let state = instance::read_state(&paths.runtime).filter(|s| s.state.is_up());
    let vsock = state
        .and_then(|s| s.agent)
        .context("Berth is not running: `berth start` first")?;
    // Resumes a VM the resource saver paused, and keeps it awake while the shell is open.
    let _awake = crate::lifecycle::hold_awake().await?;
    let tty = std::io::stdin().is_terminal();
    let (cols, rows) = terminal::size();
    let stream = open_data(&vsock, DataHeader::Shell { tty, cols, rows }).await?;
    let _raw = if tty { Some(RawMode::enter()?) } else { None };
    let (mut from_guest, mut to_guest) = tokio::io::split(stream);
    let stdin = read_stdin();
    let input = tokio::spawn(async move {
        let _ = send_input(stdin, &mut to_guest, tty).await;
    });
    // The session ends with the shell's output, even if stdin never does.
    let result = from_chunks(&mut from_guest, &mut tokio::io::stdout()).await;
    input.abort();
    result.context("the shell connection broke")?;
    Ok(())
}

/// Reads stdin on a thread of its own, which never holds up the exit (tokio's stdin would:
/// a runtime waits for its blocking reads, and a terminal's read only ends with a keystroke).
/// An empty buffer is end of input.
fn read_stdin() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(4);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; MAX_CHUNK];
        loop {
            let n = stdin.read(&mut buf).unwrap_or(0);
            if tx.blocking_send(buf[..n].to_vec()).is_err() || n == 0 {
                return;
            }
        }
    });
    rx
}

/// Sends `input` as chunks until its end, and on a terminal a resize record whenever its size
/// changes.
async fn send_input<W>(
    mut input: mpsc::Receiver<Vec<u8>>,
    to_guest: &mut W,
    tty: bool,
) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let mut resizes = if tty { Some(Resizes::new()?) } else { None };
    loop {
        tokio::select! {
            data = input.recv() => {
                let data = data.unwrap_or_default();
                write_chunk(to_guest, &data).await?;
                if data.is_empty() {
                    return Ok(());
                }
            }
            Some((cols, rows)) = async { resizes.as_mut()?.next().await } => {
                write_resize(to_guest, cols, rows).await?;
            }
        }
    }
}
