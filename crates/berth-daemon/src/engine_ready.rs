//! Waiting for the guest's engine after the agent's ready line: follows the agent's engine
//! state on a control connection until it reports `Ready`. A connection that drops on the way
//! is opened again (a few times, within the same time limit), so one lost connection does not
//! fail a start whose guest is fine; a VM that dies meanwhile is reported with its console.

use std::path::Path;
use std::time::Duration;

use berth_core::agent::{AgentAddress, AgentClient, AgentError};
use berth_core::vm::console::TAIL_LINES;
use berth_protocol::call::Subscribe;
use berth_protocol::message::{EngineState, Event};

/// Connections opened again after one drops, before the wait gives up.
const RECONNECTS: u32 = 4;
/// Pause before opening the connection again.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// Why the engine did not become ready.
#[derive(Debug, thiserror::Error)]
pub enum EngineWaitError {
    /// The overall time ran out.
    #[error("the engine did not answer within {after:?} (last state: {last})")]
    Timeout {
        /// The time allowed.
        after: Duration,
        /// The agent's last engine state, or the last connection error.
        last: String,
    },
    /// The agent refused the connection or kept failing.
    #[error("cannot follow the engine's start")]
    Agent(#[source] AgentError),
    /// The VM ended before the engine was ready.
    #[error("the VM ended while the engine was starting ({how}); its console ends with:\n{console}\n(see {path})")]
    VmEnded {
        /// QEMU's exit, as the backend reports it.
        how: String,
        /// The console's last lines.
        console: String,
        /// The console log.
        path: String,
    },
}

/// Waits up to `limit` for the engine to be ready, or for `vm_ended` (the VM's exit) to
/// resolve first; `console_log` is quoted when the VM ends.
pub async fn wait(
    endpoint: &AgentAddress,
    limit: Duration,
    vm_ended: impl std::future::Future<Output = String>,
    console_log: &Path,
) -> Result<(), EngineWaitError> {
    let mut last = String::from("not reported yet");
    let follow = follow(endpoint, &mut last);
    let outcome = tokio::select! {
        outcome = tokio::time::timeout(limit, follow) => outcome,
        how = vm_ended => {
            // Read from its end (and its rotated file): the log may be large.
            let path = console_log.to_path_buf();
            let tail = tokio::task::spawn_blocking(move || {
                berth_core::logfile::tail_lines(&path, TAIL_LINES)
            })
            .await;
            let console = match tail {
                Ok(Ok(lines)) => lines.join("\n"),
                Ok(Err(err)) => format!("(cannot read it: {err})"),
                Err(err) => format!("(cannot read it: {err})"),
            };
            return Err(EngineWaitError::VmEnded {
                how,
                console,
                path: console_log.display().to_string(),
            });
        }
    };
    match outcome {
        Ok(result) => result,
        Err(_) => Err(EngineWaitError::Timeout { after: limit, last }),
    }
}

/// Follows the engine's state until `Ready`, opening the connection again when it drops;
/// `last` keeps what was last heard, for the timeout's message.
async fn follow(endpoint: &AgentAddress, last: &mut String) -> Result<(), EngineWaitError> {
    let mut reconnects = 0;
    loop {
        match follow_once(endpoint, last).await {
            Ok(()) => return Ok(()),
            Err(err @ AgentError::Refused(_)) => return Err(EngineWaitError::Agent(err)),
            Err(err) if reconnects < RECONNECTS => {
                reconnects += 1;
                tracing::warn!("the agent's control connection failed ({err}); connecting again");
                *last = err.to_string();
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
            Err(err) => return Err(EngineWaitError::Agent(err)),
        }
    }
}

/// One control connection: subscribes and reads events until the engine is ready.
async fn follow_once(endpoint: &AgentAddress, last: &mut String) -> Result<(), AgentError> {
    let mut agent = AgentClient::connect(endpoint.clone()).await?;
    agent.call(Subscribe).await?;
    loop {
        match agent.next_event().await? {
            Event::EngineStateChanged {
                state: EngineState::Ready,
            } => return Ok(()),
            Event::EngineStateChanged { state } => {
                tracing::debug!("engine: {state:?}");
                *last = format!("{state:?}");
            }
            Event::PortsChanged { .. } => {}
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use berth_core::fake_agent::{Conduct, FakeAgent};
    use berth_protocol::message::Request;

    fn serving(events: Vec<EngineState>) -> Conduct {
        Conduct::Serve {
            events: events
                .into_iter()
                .map(|state| Event::EngineStateChanged { state })
                .collect(),
        }
    }

    #[tokio::test]
    async fn a_dropped_connection_is_opened_again_until_the_engine_is_ready() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ready = serving(vec![EngineState::Starting, EngineState::Ready]);
        let agent = FakeAgent::start(dir.path(), &[], vec![Conduct::CloseAfterHello, ready]);
        let console = dir.path().join("console.log");
        let running = std::future::pending::<String>();
        wait(&agent.address, Duration::from_secs(20), running, &console)
            .await
            .expect("ready on the second connection");
        assert_eq!(agent.requests(), vec![Request::Subscribe]);
    }

    #[tokio::test]
    async fn a_connection_that_keeps_dropping_is_an_error_naming_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let agent = FakeAgent::start(dir.path(), &[], vec![Conduct::CloseAfterHello]);
        let console = dir.path().join("console.log");
        let running = std::future::pending::<String>();
        let err = wait(&agent.address, Duration::from_secs(20), running, &console)
            .await
            .expect_err("never ready");
        assert!(
            matches!(err, EngineWaitError::Agent(AgentError::Closed)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn the_timeout_names_the_last_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let agent = FakeAgent::start(dir.path(), &[], vec![serving(vec![EngineState::Starting])]);
        let console = dir.path().join("console.log");
        let running = std::future::pending::<String>();
        let err = wait(
            &agent.address,
            Duration::from_millis(500),
            running,
            &console,
        )
        .await
        .expect_err("never ready");
        assert!(err.to_string().contains("Starting"), "{err}");
    }

    #[tokio::test]
    async fn a_vm_that_ends_is_reported_with_its_console() {
        let dir = tempfile::tempdir().expect("tempdir");
        let agent = FakeAgent::start(dir.path(), &[], vec![serving(vec![EngineState::Starting])]);
        let console = dir.path().join("console.log");
        std::fs::write(
            &console,
            "booting\nKernel panic - not syncing: Attempted to kill init!\n",
        )
        .expect("console");
        let ended = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            "exit status: 0".to_owned()
        };
        let err = wait(&agent.address, Duration::from_secs(20), ended, &console)
            .await
            .expect_err("the VM ended");
        let text = err.to_string();
        assert!(text.contains("Attempted to kill init"), "{text}");
        assert!(text.contains("exit status: 0"), "{text}");
    }
}
