//! A program on a pseudo-terminal of the test's own, as in a user's terminal: the test types
//! into it, reads what it prints, and resizes it (the kernel sends the program SIGWINCH).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::pty::{openpty, Winsize};

/// A child process whose controlling terminal is a pseudo-terminal held by the test.
pub struct PtySession {
    master: File,
    child: Child,
    seen: String,
    /// The end of the output read so far, to find requests split across reads.
    tail: String,
}

/// A program asking the terminal where the cursor is (busybox's line editor does at each
/// prompt); a terminal answers, and the program may wait for the answer.
const CURSOR_QUERY: &str = "\x1b[6n";

fn winsize(cols: u16, rows: u16) -> Winsize {
    Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl PtySession {
    /// Starts `command` in a new session on a `cols`×`rows` pseudo-terminal.
    pub fn spawn(mut command: Command, cols: u16, rows: u16) -> PtySession {
        let pty = openpty(Some(&winsize(cols, rows)), None).expect("openpty");
        let slave: OwnedFd = pty.slave;
        command
            .stdin(Stdio::from(slave.try_clone().expect("dup")))
            .stdout(Stdio::from(slave.try_clone().expect("dup")))
            .stderr(Stdio::from(slave));
        // SAFETY: runs between fork and exec and only makes async-signal-safe calls (setsid,
        // ioctl) on the child's own stdin.
        unsafe {
            command.pre_exec(|| {
                nix::unistd::setsid()?;
                if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("spawn on the pty");
        drop(command);
        nix::fcntl::fcntl(
            &pty.master,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .expect("nonblocking");
        PtySession {
            master: File::from(pty.master),
            child,
            seen: String::new(),
            tail: String::new(),
        }
    }

    /// Types `text`.
    pub fn send(&mut self, text: &str) {
        self.master
            .write_all(text.as_bytes())
            .expect("write to the pty");
    }

    /// Reads until the output contains `needle` (searching only output not yet consumed by
    /// an earlier `expect`); panics with everything seen after `timeout`.
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(at) = self.seen.find(needle) {
                let upto = at + needle.len();
                let consumed: String = self.seen.drain(..upto).collect();
                return consumed;
            }
            match self.master.read(&mut buf) {
                Ok(0) => panic!("the program closed its terminal; output: {:?}", self.seen),
                Ok(n) => self.take(&String::from_utf8_lossy(&buf[..n])),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                // EIO: the program exited and the terminal hung up.
                Err(e) => panic!("reading the pty: {e}; output: {:?}", self.seen),
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} did not appear within {timeout:?}; output: {:?}",
                self.seen
            );
        }
    }

    /// Keeps new output, answering cursor-position queries as a terminal does.
    fn take(&mut self, text: &str) {
        let window = format!("{}{text}", self.tail);
        for _ in window.matches(CURSOR_QUERY) {
            self.send("\x1b[1;1R");
        }
        let keep = window.len().saturating_sub(CURSOR_QUERY.len() - 1);
        let keep = (keep..=window.len())
            .find(|&i| window.is_char_boundary(i))
            .unwrap_or(window.len());
        self.tail = window[keep..].to_owned();
        // A query already answered must not be counted again.
        if self.tail.contains(CURSOR_QUERY) {
            self.tail.clear();
        }
        self.seen.push_str(text);
    }

    /// Resizes the terminal; the program's process group gets SIGWINCH.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        let size = winsize(cols, rows);
        // SAFETY: TIOCSWINSZ reads one `winsize` from `size`, which outlives the call, on the
        // master descriptor this session owns.
        let result = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        assert_eq!(result, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
    }

    /// Waits up to `timeout` for the program to exit; kills it after that.
    pub fn wait(mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the program did not exit; output: {:?}", self.seen);
            }
            // Keep draining output so the program never blocks on a full terminal.
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.master.read(&mut buf) {
                self.take(&String::from_utf8_lossy(&buf[..n]));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
