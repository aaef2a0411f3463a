//! The `berth` docker context: created or updated to point at Berth's engine endpoint (the
//! Unix socket, or on Windows the named pipe), so `docker --context berth …` and
//! `docker context use berth` work.

use std::path::Path;

use tokio::process::Command;

/// Creates or updates the `berth` context. Returns a warning to show when the docker CLI is
/// missing or refuses.
pub async fn ensure(socket: &Path) -> Result<(), String> {
    let host = format!("host={}", docker_host(socket));
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

/// The `DOCKER_HOST` of an endpoint: `unix:///run/…/docker.sock` for a socket,
/// `npipe:////./pipe/NAME` for a Windows pipe (`\\.\pipe\NAME`), as the docker CLI writes it.
pub fn docker_host(endpoint: &Path) -> String {
    let text = endpoint.to_string_lossy();
    match text.strip_prefix(r"\\.\pipe\") {
        Some(name) => format!("npipe:////./pipe/{name}"),
        None => format!("unix://{text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_and_pipes_are_written_as_the_docker_cli_expects() {
        assert_eq!(
            docker_host(Path::new("/run/user/1000/berth/docker.sock")),
            "unix:///run/user/1000/berth/docker.sock"
        );
        assert_eq!(
            docker_host(Path::new(r"\\.\pipe\berth-engine-0123456789abcdef")),
            "npipe:////./pipe/berth-engine-0123456789abcdef"
        );
    }
}
