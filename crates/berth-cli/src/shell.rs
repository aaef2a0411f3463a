//! `berth shell`: a root shell in the VM through the agent. On a terminal it is interactive (a
//! pseudo-terminal in the guest, this terminal in raw mode, its size following this terminal's
//! through resize records on SIGWINCH); otherwise it reads a script from stdin and prints its
//! output, so `echo uptime | berth shell` works.

use std::os::fd::AsFd;

use anyhow::{Context, Result};
use berth_core::agent::open_data;
use berth_core::instance::{self, VmState};
use berth_core::paths::Paths;
use berth_protocol::data::DataHeader;
use berth_protocol::stream::{from_chunks, to_chunks, write_chunk, write_resize};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::signal::unix::{signal, SignalKind};

/// Puts the terminal in raw mode and restores it when dropped.
struct RawMode(Termios);

impl RawMode {
    fn enter() -> Result<RawMode> {
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd())?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)?;
        Ok(RawMode(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.0);
    }
}

/// The terminal's (columns, rows), or (80, 24).
fn terminal_size() -> (u16, u16) {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into `size`, which outlives the call.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        (size.ws_col, size.ws_row)
    } else {
        (80, 24)
    }
}

/// Runs the shell until it exits.
pub async fn run() -> Result<()> {
    let paths = Paths::for_user()?;
    let state = instance::read_state(&paths.runtime).filter(|s| s.state == VmState::Running);
    let vsock = state
        .and_then(|s| s.vsock)
        .context("Berth is not running: `berth start` first")?;
    let tty = nix::unistd::isatty(std::io::stdin().as_fd()).unwrap_or(false);
    let (cols, rows) = terminal_size();
    let stream = open_data(&vsock, DataHeader::Shell { tty, cols, rows }).await?;
    let _raw = if tty { Some(RawMode::enter()?) } else { None };
    let (mut from_guest, mut to_guest) = tokio::io::split(stream);
    let input = tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let _ = if tty {
            send_with_resizes(&mut stdin, &mut to_guest).await
        } else {
            to_chunks(&mut stdin, &mut to_guest).await.map(|_| ())
        };
    });
    // The session ends with the shell's output, even if stdin never does.
    let result = from_chunks(&mut from_guest, &mut tokio::io::stdout()).await;
    input.abort();
    result.context("the shell connection broke")?;
    Ok(())
}

/// Sends `input` as chunks, and a resize record whenever this terminal's size changes.
async fn send_with_resizes<R, W>(input: &mut R, to_guest: &mut W) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut winch = signal(SignalKind::window_change())?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = input.read(&mut buf) => {
                let n = read?;
                write_chunk(to_guest, &buf[..n]).await?;
                if n == 0 {
                    return Ok(());
                }
            }
            _ = winch.recv() => {
                let (cols, rows) = terminal_size();
                write_resize(to_guest, cols, rows).await?;
            }
        }
    }
}
