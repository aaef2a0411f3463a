//! Unix: raw mode through termios, the size from `TIOCGWINSZ`, resizes on `SIGWINCH`.

use std::os::fd::AsFd;

use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Puts the terminal in raw mode and restores it when dropped.
pub struct RawMode(Termios);

impl RawMode {
    /// Raw mode on stdin's terminal.
    pub fn enter() -> anyhow::Result<RawMode> {
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
pub fn size() -> (u16, u16) {
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

/// The terminal's new size after each `SIGWINCH`.
pub struct Resizes(Signal);

impl Resizes {
    /// Starts listening.
    pub fn new() -> std::io::Result<Resizes> {
        signal(SignalKind::window_change()).map(Resizes)
    }

    /// The next size.
    pub async fn next(&mut self) -> Option<(u16, u16)> {
        self.0.recv().await.map(|()| size())
    }
}
