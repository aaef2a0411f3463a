//! Programs the host runs in the guest ([`DataHeader::Exec`]): an argument vector, no shell,
//! so nothing is quoted or parsed. Only the engine's clients ([`EXEC_PROGRAMS`]) are run, in the
//! folder the host names, with stdin closed and stdout and stderr merged into one stream; the
//! exit status follows the output as an [`ExecEnd`] frame.
//!
//! [`DataHeader::Exec`]: berth_protocol::data::DataHeader::Exec

use std::process::{Command, Stdio};

use berth_protocol::data::{
    write_frame, write_reply, DataReply, ExecEnd, ExecError, EXEC_PROGRAMS,
};
use berth_protocol::stream::{to_chunks, write_chunk};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::unix::pipe;

use crate::engine::config::DOCKER_SOCKET;
use crate::reaper::{Exit, Reaper};

/// Runs `argv` in `cwd` for the connection `host`, streaming its output, then its end.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut host: S,
    reaper: &Reaper,
    argv: Vec<String>,
    cwd: String,
) {
    if write_reply(&mut host, &DataReply::Accepted).await.is_err() {
        return;
    }
    let end = match start(reaper, &argv, &cwd).await {
        Err(err) => {
            if write_chunk(&mut host, b"").await.is_err() {
                return;
            }
            ExecEnd::NotStarted(err)
        }
        Ok((mut output, exit)) => {
            if to_chunks(&mut output, &mut host).await.is_err() {
                // The host went away; the program still runs to its end and is reaped.
                return;
            }
            match exit.await {
                Ok(Exit::Code(code)) => ExecEnd::Exited { code },
                Ok(Exit::Signal(signal)) => ExecEnd::Killed { signal },
                Err(_) => ExecEnd::NotStarted(ExecError::Spawn {
                    program: argv.first().cloned().unwrap_or_default(),
                    message: "its exit status was lost".into(),
                }),
            }
        }
    };
    let _ = write_frame(&mut host, &end).await;
}

/// The program's merged output and its exit, or why it did not start.
async fn start(
    reaper: &Reaper,
    argv: &[String],
    cwd: &str,
) -> Result<(pipe::Receiver, tokio::sync::oneshot::Receiver<Exit>), ExecError> {
    let program = argv.first().cloned().unwrap_or_default();
    if !EXEC_PROGRAMS.contains(&program.as_str()) {
        return Err(ExecError::NotAllowed { program });
    }
    let is_folder = std::path::Path::new(cwd).is_absolute()
        && tokio::fs::metadata(cwd).await.is_ok_and(|m| m.is_dir());
    if !is_folder {
        return Err(ExecError::NoSuchFolder {
            cwd: cwd.to_owned(),
        });
    }
    let spawn_error = |err: std::io::Error| ExecError::Spawn {
        program: program.clone(),
        message: err.to_string(),
    };
    // Close-on-exec, so the program holds only its own copies of the write end.
    let (read, write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| spawn_error(e.into()))?;
    let mut cmd = Command::new(&program);
    cmd.args(&argv[1..])
        .current_dir(cwd)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("HOME", "/root")
        .env("DOCKER_HOST", format!("unix://{DOCKER_SOCKET}"))
        .stdin(Stdio::null())
        .stdout(Stdio::from(write.try_clone().map_err(spawn_error)?))
        .stderr(Stdio::from(write));
    let child = reaper.spawn(&mut cmd, false).map_err(spawn_error)?;
    drop(cmd); // closes our copies of the write end, so EOF comes when the program exits
    let output = pipe::Receiver::from_owned_fd(read).map_err(spawn_error)?;
    Ok((output, child.exit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_protocol::data::{read_reply, read_stream_and_trailer};

    async fn refusal(argv: &[&str], cwd: &str) -> ExecEnd {
        let (mut host, agent) = tokio::net::UnixStream::pair().expect("pair");
        let argv = argv.iter().map(|s| s.to_string()).collect();
        let cwd = cwd.to_owned();
        tokio::spawn(async move { serve(agent, &Reaper::default(), argv, cwd).await });
        assert_eq!(
            read_reply(&mut host).await.expect("reply"),
            DataReply::Accepted
        );
        let mut output = Vec::new();
        let (moved, end) = read_stream_and_trailer(&mut host, &mut output)
            .await
            .expect("an end");
        assert_eq!(moved, 0);
        end
    }

    #[tokio::test]
    async fn only_the_engines_clients_run_and_only_in_a_folder() {
        for argv in [&["sh", "-c", "id"][..], &[], &["/usr/bin/docker"]] {
            assert!(
                matches!(
                    refusal(argv, "/").await,
                    ExecEnd::NotStarted(ExecError::NotAllowed { .. })
                ),
                "{argv:?}"
            );
        }
        for cwd in ["/no/such/folder", "relative", "/proc/version"] {
            assert_eq!(
                refusal(&["docker", "compose", "up"], cwd).await,
                ExecEnd::NotStarted(ExecError::NoSuchFolder { cwd: cwd.into() })
            );
        }
    }
}
