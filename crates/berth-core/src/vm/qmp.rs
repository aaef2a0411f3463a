//! QMP through the `qapi` crate: the asynchronous client the host uses to ask QEMU for a
//! graceful power-down (the ACPI power button), the guest's run state and the balloon.
//!
//! QEMU's QMP socket serves one client at a time, so each call opens its own short session;
//! callers that may overlap serialize through [`crate::qemu::QemuBackend`].

use std::path::Path;
#[cfg(unix)]
use std::time::Duration;

#[cfg(unix)]
use qapi::futures::QmpStreamTokio;
use serde::Serialize;

/// QMP could not be reached or refused a command.
#[derive(Debug, thiserror::Error)]
#[error("QMP on {socket}: {message}")]
pub struct QmpError {
    socket: String,
    message: String,
}

#[cfg(unix)]
type Service = qapi::futures::QapiService<
    qapi::futures::QmpStreamTokio<tokio::io::WriteHalf<tokio::net::UnixStream>>,
>;

fn error(socket: &Path, message: String) -> QmpError {
    QmpError {
        socket: socket.display().to_string(),
        message,
    }
}

#[cfg(unix)]
async fn connect(socket: &Path) -> Result<Service, QmpError> {
    let stream = tokio::time::timeout(Duration::from_secs(5), QmpStreamTokio::open_uds(socket))
        .await
        .map_err(|_| error(socket, "timed out connecting".into()))?
        .map_err(|e| error(socket, format!("cannot connect: {e}")))?;
    let stream = stream
        .negotiate()
        .await
        .map_err(|e| error(socket, format!("negotiation failed: {e}")))?;
    let (qmp, _handle) = stream.spawn_tokio();
    Ok(qmp)
}

/// QMP sockets are Unix sockets (the QEMU backend runs on Linux).
#[cfg(not(unix))]
async fn execute<C>(socket: &Path, _command: C) -> Result<C::Ok, QmpError>
where
    C: qapi::qmp::QmpCommand + qapi::Command + Send + 'static,
{
    Err(error(
        socket,
        format!(
            "{}: QMP over a Unix socket is not available on this OS",
            C::NAME
        ),
    ))
}

#[cfg(unix)]
async fn execute<C>(socket: &Path, command: C) -> Result<C::Ok, QmpError>
where
    C: qapi::qmp::QmpCommand + qapi::Command + Send + 'static,
    C::Ok: Send,
{
    let name = C::NAME;
    let qmp = connect(socket).await?;
    tokio::time::timeout(Duration::from_secs(10), qmp.execute(command))
        .await
        .map_err(|_| error(socket, format!("{name}: no answer within 10 s")))?
        .map_err(|e| error(socket, format!("{name}: {e}")))
}

/// Presses the guest's ACPI power button.
pub async fn system_powerdown(socket: &Path) -> Result<(), QmpError> {
    execute(socket, qapi::qmp::system_powerdown {})
        .await
        .map(|_| ())
}

/// The guest's run state as QEMU sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestRunState {
    /// Whether the vCPUs run.
    pub running: bool,
    /// QEMU's name for the state (`running`, `paused`, `guest-panicked`, `internal-error`…).
    pub status: String,
}

impl GuestRunState {
    /// Whether the guest is dead for good (panicked, or QEMU hit an internal or I/O error).
    pub fn is_dead(&self) -> bool {
        matches!(
            self.status.as_str(),
            "guest-panicked" | "internal-error" | "io-error" | "shutdown"
        )
    }
}

/// Asks QEMU for the guest's run state.
pub async fn query_status(socket: &Path) -> Result<GuestRunState, QmpError> {
    let info = execute(socket, qapi::qmp::query_status {}).await?;
    let status = serde_json::to_value(info.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    Ok(GuestRunState {
        running: info.running,
        status,
    })
}

/// The guest memory the balloon leaves the guest, in bytes.
pub async fn query_balloon(socket: &Path) -> Result<u64, QmpError> {
    let info = execute(socket, qapi::qmp::query_balloon {}).await?;
    u64::try_from(info.actual).map_err(|_| error(socket, format!("balloon: {}", info.actual)))
}

/// Asks the balloon to leave the guest `bytes` of memory (it inflates to take back the rest).
pub async fn set_balloon(socket: &Path, bytes: u64) -> Result<(), QmpError> {
    let value = i64::try_from(bytes).map_err(|_| error(socket, format!("balloon: {bytes}")))?;
    execute(socket, qapi::qmp::balloon { value })
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_states_are_told_from_live_ones() {
        let state = |s: &str| GuestRunState {
            running: false,
            status: s.into(),
        };
        assert!(state("guest-panicked").is_dead());
        assert!(state("internal-error").is_dead());
        assert!(!state("running").is_dead());
        assert!(!state("paused").is_dead());
    }

    #[tokio::test]
    async fn a_missing_socket_is_a_clear_error() {
        let err = query_status(Path::new("/nonexistent/qmp.sock"))
            .await
            .expect_err("no QEMU");
        assert!(err.to_string().contains("/nonexistent/qmp.sock"), "{err}");
    }
}
