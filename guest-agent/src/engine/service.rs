//! Supervising one long-running process (containerd, dockerd): start it, wait until it answers,
//! restart it with exponential backoff when it dies, stop it gracefully on shutdown. Every state
//! change is published on a watch channel.

use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::time::Duration;

use berth_protocol::message::EngineState;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::sync::watch;

use crate::logs::{self, LogRing};
use crate::reaper::Reaper;

/// Longest wait between restarts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a stopping process gets before SIGKILL, unless its [`Service::stop_grace`] says
/// otherwise.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// The wait before restart number `attempt` (1-based): 0.5 s doubling up to [`MAX_BACKOFF`].
pub fn backoff(attempt: u32) -> Duration {
    let factor = 1u64
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u64::MAX);
    Duration::from_millis(500u64.saturating_mul(factor)).min(MAX_BACKOFF)
}

/// A readiness check: resolves when the process answers. Called for every start.
pub type ReadyCheck = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// What to supervise.
pub struct Service {
    /// Name in logs and on the console.
    pub name: &'static str,
    /// Builds the command line (called for every start).
    pub command: fn() -> Command,
    /// Resolves once the process is serving.
    pub ready: ReadyCheck,
    /// Where its output goes.
    pub log: LogRing,
    /// Echo its output on the console (debug log level).
    pub echo: bool,
    /// How long it gets between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
}

/// Runs `service` until `stop` becomes true, publishing states on `state`.
pub async fn supervise(
    service: Service,
    reaper: Reaper,
    state: watch::Sender<EngineState>,
    mut stop: watch::Receiver<bool>,
) {
    let mut attempt = 0u32;
    loop {
        state.send_replace(EngineState::Starting);
        let spawned = {
            let mut command = (service.command)();
            reaper.spawn(&mut command, true)
        };
        let mut child = match spawned {
            Ok(child) => child,
            Err(err) => {
                let reason = format!("cannot start {}: {err}", service.name);
                tracing::warn!("{}", reason);
                state.send_replace(EngineState::Crashed { reason });
                if !wait_backoff(&state, &mut attempt, &mut stop).await {
                    return;
                }
                continue;
            }
        };
        let echo = service.echo.then_some(service.name);
        for stream in [child.stdout.take(), child.stderr.take()]
            .into_iter()
            .flatten()
        {
            tokio::spawn(logs::pump(stream, service.log.clone(), echo));
        }
        let mut ready = (service.ready)();
        let mut is_ready = false;
        let exit = loop {
            tokio::select! {
                () = &mut ready, if !is_ready => {
                    is_ready = true;
                    attempt = 0;
                    state.send_replace(EngineState::Ready);
                }
                exit = &mut child.exit => break exit.ok(),
                () = stopped(&mut stop) => {
                    terminate(child.pid, &mut child.exit, service.name, service.stop_grace).await;
                    state.send_replace(EngineState::Stopped);
                    return;
                }
            }
        };
        let status = exit.map_or("unknown exit".to_owned(), |e| e.to_string());
        let last = service.log.last().unwrap_or_default();
        let reason = format!("{} {status}: {last}", service.name);
        tracing::warn!("{}", reason);
        state.send_replace(EngineState::Crashed { reason });
        if !wait_backoff(&state, &mut attempt, &mut stop).await {
            return;
        }
    }
}

/// Publishes `Restarting` and sleeps the backoff; false when a stop arrived meanwhile.
async fn wait_backoff(
    state: &watch::Sender<EngineState>,
    attempt: &mut u32,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    *attempt += 1;
    let wait = backoff(*attempt);
    state.send_replace(EngineState::Restarting {
        attempt: *attempt,
        backoff_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
    });
    tokio::select! {
        () = tokio::time::sleep(wait) => true,
        () = stopped(stop) => {
            state.send_replace(EngineState::Stopped);
            false
        }
    }
}

/// Resolves once a stop is requested (or the requester is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// SIGTERM, then SIGKILL after `grace`.
async fn terminate(
    pid: i32,
    exit: &mut tokio::sync::oneshot::Receiver<crate::reaper::Exit>,
    name: &str,
    grace: Duration,
) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    if tokio::time::timeout(grace, &mut *exit).await.is_err() {
        tracing::warn!("{name} did not stop within {grace:?}: killing it");
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = exit.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(4), Duration::from_secs(4));
        assert_eq!(backoff(7), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
        assert_eq!(backoff(0), Duration::from_millis(500));
    }
}
