//! Root shells for the host (`berth shell`): `/bin/sh` on a pseudo-terminal for interactive use,
//! or on pipes (stdout and stderr merged) for scripts, relayed over a data connection. On a
//! pseudo-terminal the host's resize records set the terminal's size (the kernel then signals
//! the shell with SIGWINCH).

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};

use berth_protocol::data::{write_reply, DataReply};
use berth_protocol::stream::{from_chunks_with_control, relay, to_chunks, Control};
use nix::pty::{openpty, Winsize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::unix::pipe;

use crate::reaper::Reaper;

/// Runs a shell for the connection `host` until both sides are done.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut host: S,
    reaper: &Reaper,
    tty: bool,
    cols: u16,
    rows: u16,
) {
    let started = if tty {
        spawn_tty(reaper, cols, rows)
    } else {
        spawn_pipes(reaper)
    };
    let (output, mut input, exit, master) = match started {
        Ok(io) => io,
        Err(err) => {
            let reason = format!("cannot start a shell: {err}");
            let _ = write_reply(&mut host, &DataReply::Refused { reason }).await;
            return;
        }
    };
    if write_reply(&mut host, &DataReply::Accepted).await.is_err() {
        return;
    }
    match master {
        None => {
            let _ = relay(host, tokio::io::join(output, input)).await;
        }
        Some(master) => {
            let (mut from_host, mut to_host) = tokio::io::split(host);
            let resize = |Control::Resize { cols, rows }| {
                if let Err(err) = set_size(&master, cols, rows) {
                    tracing::warn!("cannot resize a shell's terminal: {err}");
                }
            };
            // A pseudo-terminal master reads EIO once the shell is gone: that is its EOF, and
            // the host must get the end-of-stream marker (vsock does not carry the close).
            let mut output = EioIsEof(output);
            let _ = tokio::try_join!(
                to_chunks(&mut output, &mut to_host),
                from_chunks_with_control(&mut from_host, &mut input, resize)
            );
        }
    }
    let _ = exit.await;
}

/// A reader on which EIO means end of file (a pseudo-terminal master whose slave closed).
struct EioIsEof<R>(R);

impl<R: AsyncRead + Unpin> AsyncRead for EioIsEof<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match std::pin::Pin::new(&mut self.0).poll_read(cx, buf) {
            std::task::Poll::Ready(Err(e)) if e.raw_os_error() == Some(libc::EIO) => {
                std::task::Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// The shell's output, its input, its exit, and the pseudo-terminal's master when it has one.
type Started = (
    pipe::Receiver,
    ClosingWriter,
    tokio::sync::oneshot::Receiver<crate::reaper::Exit>,
    Option<OwnedFd>,
);

fn winsize(cols: u16, rows: u16) -> Winsize {
    Winsize {
        ws_row: rows.max(1),
        ws_col: cols.max(1),
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// Sets the terminal size of the pseudo-terminal whose master is `master`.
fn set_size(master: &OwnedFd, cols: u16, rows: u16) -> std::io::Result<()> {
    let size = winsize(cols, rows);
    // SAFETY: TIOCSWINSZ reads one `winsize` from `size`, which outlives the call; the
    // descriptor is an open pseudo-terminal master owned by `master`.
    let result = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The shell's input. Shutting it down closes the pipe, which is how the shell sees EOF (a
/// tokio pipe's own shutdown leaves the descriptor open).
pub struct ClosingWriter(Option<pipe::Sender>);

impl AsyncWrite for ClosingWriter {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.0.as_mut() {
            Some(sender) => std::pin::Pin::new(sender).poll_write(cx, buf),
            None => std::task::Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.0.as_mut() {
            Some(sender) => std::pin::Pin::new(sender).poll_flush(cx),
            None => std::task::Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.0 = None;
        std::task::Poll::Ready(Ok(()))
    }
}

fn shell() -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.env("HOME", "/root")
        .env("TERM", "xterm-256color")
        .current_dir("/");
    cmd
}

/// `/bin/sh -s` with stdin and merged stdout/stderr on pipes.
fn spawn_pipes(reaper: &Reaper) -> std::io::Result<Started> {
    // Close-on-exec, so the shell holds only its own ends (a copy of its stdin's write end would
    // keep it from ever seeing EOF).
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (stdin_read, stdin_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut cmd = shell();
    cmd.arg("-s")
        .stdin(Stdio::from(stdin_read))
        .stdout(Stdio::from(write.try_clone()?))
        .stderr(Stdio::from(write));
    let child = reaper.spawn(&mut cmd, false)?;
    drop(cmd); // closes our copies of the child's ends, so EOF arrives when the shell exits
    Ok((
        pipe::Receiver::from_owned_fd(read)?,
        ClosingWriter(Some(pipe::Sender::from_owned_fd(stdin_write)?)),
        child.exit,
        None,
    ))
}

/// An interactive `/bin/sh -i` on a new pseudo-terminal as its controlling terminal.
fn spawn_tty(reaper: &Reaper, cols: u16, rows: u16) -> std::io::Result<Started> {
    let pty = openpty(Some(&winsize(cols, rows)), None)?;
    let slave: OwnedFd = pty.slave;
    let mut cmd = shell();
    cmd.arg("-i")
        .stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave));
    // SAFETY: runs between fork and exec and only makes async-signal-safe calls (setsid, ioctl)
    // on the child's own stdin.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            nix::unistd::setsid()?;
            if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = reaper.spawn(&mut cmd, false)?;
    drop(cmd);
    let master = pty.master;
    nix::fcntl::fcntl(
        &master,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )?;
    nix::fcntl::fcntl(
        &master,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )?;
    let reader = master.try_clone()?;
    let control = master.try_clone()?;
    Ok((
        pipe::Receiver::from_owned_fd_unchecked(reader)?,
        ClosingWriter(Some(pipe::Sender::from_owned_fd_unchecked(master)?)),
        child.exit,
        Some(control),
    ))
}
