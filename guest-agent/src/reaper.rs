//! Child processes under PID 1. As init the agent inherits every orphan, so it must reap with
//! `waitpid(-1)`; that would steal the exit status of processes it started itself, so all of
//! them are spawned here and their statuses are routed back to whoever waits for them.

use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::oneshot;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl Exit {
    /// Exit code 0.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exit code {code}"),
            Exit::Signal(sig) => write!(f, "killed by signal {sig}"),
        }
    }
}

#[derive(Default)]
struct Table {
    waiting: HashMap<i32, oneshot::Sender<Exit>>,
    /// Exits that arrived before their waiter registered.
    early: HashMap<i32, Exit>,
}

/// Spawns processes and reaps every child of PID 1.
#[derive(Clone, Default)]
pub struct Reaper {
    table: Arc<Mutex<Table>>,
}

/// A process started through the [`Reaper`].
pub struct Child {
    /// Its process id.
    pub pid: i32,
    /// Resolves when it exits.
    pub exit: oneshot::Receiver<Exit>,
    /// Its stdout, when piped.
    pub stdout: Option<pipe::Receiver>,
    /// Its stderr, when piped.
    pub stderr: Option<pipe::Receiver>,
}

/// The outcome of [`Reaper::run`].
#[derive(Debug)]
pub struct Output {
    /// How it ended.
    pub exit: Exit,
    /// stdout and stderr, interleaved by stream (stdout first).
    pub text: String,
}

impl Reaper {
    /// Starts reaping on SIGCHLD.
    pub fn start() -> io::Result<Reaper> {
        let reaper = Reaper::default();
        let mut sigchld = signal(SignalKind::child())?;
        let table = reaper.table.clone();
        tokio::spawn(async move {
            loop {
                reap_all(&table);
                if sigchld.recv().await.is_none() {
                    return;
                }
            }
        });
        Ok(reaper)
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Spawns `cmd`. With `capture`, stdin is null and stdout and stderr are piped; without, the
    /// caller's stdio settings stand.
    pub fn spawn(&self, cmd: &mut Command, capture: bool) -> io::Result<Child> {
        if capture {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        }
        let mut table = self.lock();
        let mut child = cmd.spawn()?;
        let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        let (tx, exit) = oneshot::channel();
        match table.early.remove(&pid) {
            Some(status) => {
                let _ = tx.send(status);
            }
            None => {
                table.waiting.insert(pid, tx);
            }
        }
        drop(table);
        let stdout = child
            .stdout
            .take()
            .map(|s| pipe::Receiver::from_owned_fd(OwnedFd::from(s)))
            .transpose()?;
        let stderr = child
            .stderr
            .take()
            .map(|s| pipe::Receiver::from_owned_fd(OwnedFd::from(s)))
            .transpose()?;
        Ok(Child {
            pid,
            exit,
            stdout,
            stderr,
        })
    }

    /// Runs `cmd` to completion and collects its output.
    pub async fn run(&self, cmd: &mut Command) -> io::Result<Output> {
        let mut child = self.spawn(cmd, true)?;
        let mut text = String::new();
        for stream in [child.stdout.take(), child.stderr.take()]
            .into_iter()
            .flatten()
        {
            let mut bytes = Vec::new();
            let mut stream = stream;
            stream.read_to_end(&mut bytes).await?;
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
        let exit = child
            .exit
            .await
            .map_err(|_| io::Error::other("the reaper stopped"))?;
        Ok(Output {
            exit,
            text: text.trim().to_owned(),
        })
    }

    /// Runs `cmd` and fails with its output unless it exits 0.
    pub async fn check(&self, cmd: &mut Command) -> io::Result<String> {
        let program = cmd.get_program().to_string_lossy().into_owned();
        let out = self
            .run(cmd)
            .await
            .map_err(|e| io::Error::other(format!("{program}: {e}")))?;
        if out.exit.success() {
            Ok(out.text)
        } else {
            Err(io::Error::other(format!(
                "{program} failed ({}): {}",
                out.exit, out.text
            )))
        }
    }
}

/// Reaps every exited child and routes statuses to their waiters.
fn reap_all(table: &Mutex<Table>) {
    loop {
        let exit = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => (pid, Exit::Code(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, Exit::Signal(sig as i32)),
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(_) => continue,
        };
        let mut t = table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (pid, status) = (exit.0.as_raw(), exit.1);
        match t.waiting.remove(&pid) {
            Some(tx) => {
                let _ = tx.send(status);
            }
            // An orphan, or one of ours that has not registered yet. Orphans are forgotten
            // when the table grows: their statuses are never claimed.
            None => {
                if t.early.len() > 1024 {
                    t.early.clear();
                }
                t.early.insert(pid, status);
            }
        }
    }
}
