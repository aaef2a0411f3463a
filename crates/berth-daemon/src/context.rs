//! The `berth` docker context: created or updated to point at Berth's engine socket, so
//! `docker --context berth …` and `docker context use berth` work.

use std::path::Path;

use tokio::process::Command;

/// Creates or updates the `berth` context. Returns a warning to show when the docker CLI is
/// missing or refuses.
pub async fn ensure(socket: &Path) -> Result<(), String> {
    let host = format!("host=unix://{}", socket.display());
    let exists = Command::new("docker")
        .args(["context", "inspect", "berth"])
        .output()
        .await
        .map_err(|e| format!("the docker CLI is not available ({e}); install docker-cli to use the berth context"))?
        .status
        .success();
    let verb = if exists { "update" } else { "create" };
    let out = Command::new("docker")
        .args([
            "context",
            verb,
            "berth",
            "--description",
            "Berth",
            "--docker",
            &host,
        ])
        .output()
        .await
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "docker context {verb} berth: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
