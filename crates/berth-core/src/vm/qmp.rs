//! QMP through the `qapi` crate: the asynchronous client the host uses to ask QEMU for a
//! graceful power-down (the ACPI power button) or to quit at once.

use std::path::Path;
use std::time::Duration;

use qapi::futures::QmpStreamTokio;

/// QMP could not be reached or refused a command.
#[derive(Debug, thiserror::Error)]
#[error("QMP on {socket}: {message}")]
pub struct QmpError {
    socket: String,
    message: String,
}

async fn connect(
    socket: &Path,
) -> Result<
    qapi::futures::QapiService<
        qapi::futures::QmpStreamTokio<tokio::io::WriteHalf<tokio::net::UnixStream>>,
    >,
    QmpError,
> {
    let err = |message: String| QmpError {
        socket: socket.display().to_string(),
        message,
    };
    let stream = tokio::time::timeout(Duration::from_secs(5), QmpStreamTokio::open_uds(socket))
        .await
        .map_err(|_| err("timed out connecting".into()))?
        .map_err(|e| err(format!("cannot connect: {e}")))?;
    let stream = stream
        .negotiate()
        .await
        .map_err(|e| err(format!("negotiation failed: {e}")))?;
    let (qmp, _handle) = stream.spawn_tokio();
    Ok(qmp)
}

/// Presses the guest's ACPI power button.
pub async fn system_powerdown(socket: &Path) -> Result<(), QmpError> {
    let qmp = connect(socket).await?;
    qmp.execute(qapi::qmp::system_powerdown {})
        .await
        .map(|_| ())
        .map_err(|e| QmpError {
            socket: socket.display().to_string(),
            message: format!("system_powerdown: {e}"),
        })
}
