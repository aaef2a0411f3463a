//! `docker compose up -d` of a compose file in a shared folder, run in the VM as an argument
//! vector ([`DataHeader::Exec`]: no shell, nothing quoted) in the file's folder, which has the
//! same path there (on Windows it is on a drive WSL mounts: [`HostFiles`]). Its output is
//! streamed to the UI line by line; its exit status comes in the agent's typed trailer
//! ([`ExecEnd`]), and a failure names it with the last thing compose said (a broken file's
//! parse error, say).
//!
//! The standalone `docker-compose` is run where the guest image has it, else the engine CLI's
//! plugin (`docker compose`).

use std::path::Path;

use berth_protocol::data::{read_stream_and_trailer, DataHeader, ExecEnd, ExecError};
use tauri::State;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::{AppError, AppResult};
use crate::guest::{self, HostFiles};
use crate::state::AppState;

/// The ways to run compose in the guest, in the order tried: the next is tried only when a
/// program is not there.
const COMPOSE_PROGRAMS: [&[&str]; 2] = [&["docker-compose"], &["docker", "compose"]];

/// Runs `docker compose up -d` for a compose file inside the VM, streaming its output.
#[tauri::command]
pub async fn compose_up(
    state: State<'_, AppState>,
    file: String,
    on_output: tauri::ipc::Channel<String>,
) -> AppResult<()> {
    if !Path::new(&file).is_absolute() || !Path::new(&file).is_file() {
        return Err(AppError::input(
            "file",
            format!("{file} is not a compose file on this machine"),
        ));
    }
    let in_guest = HostFiles::THIS_OS.guest_path(&file).ok_or_else(|| {
        AppError::input(
            "file",
            format!("{file} is not on a local drive, which is all the VM sees"),
        )
    })?;
    let cwd = match in_guest.rsplit_once('/') {
        Some(("", _)) | None => "/".to_owned(),
        Some((folder, _)) => folder.to_owned(),
    };
    for program in COMPOSE_PROGRAMS {
        let mut argv: Vec<String> = program.iter().map(|s| s.to_string()).collect();
        argv.extend(["-f".into(), in_guest.clone(), "up".into(), "-d".into()]);
        let header = DataHeader::Exec {
            argv,
            cwd: cwd.clone(),
        };
        let mut stream = guest::open(&state, header).await?;
        let end = follow(&mut stream, |text| {
            let _ = on_output.send(text);
        })
        .await?;
        match end {
            Outcome::NoProgram => continue,
            Outcome::Ended(end) => return outcome(end, &file),
        }
    }
    Err(AppError::Conflict(
        "the guest image has no docker compose".into(),
    ))
}

/// How one attempt ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// This way of running compose is not in the guest image.
    NoProgram,
    /// It ran (or could not), with the last line it printed.
    Ended((ExecEnd, String)),
}

/// Reads an exec stream, showing its output through `show` in whole lines.
async fn follow<S: AsyncRead + Unpin>(
    stream: &mut S,
    show: impl FnMut(String) + Unpin,
) -> AppResult<Outcome> {
    let mut lines = Lines::new(show);
    let (_, end) = read_stream_and_trailer::<_, _, ExecEnd>(stream, &mut lines)
        .await
        .map_err(|e| AppError::Internal(format!("the connection to the VM broke off: {e}")))?;
    if let ExecEnd::NotStarted(ExecError::Spawn { .. }) = end {
        return Ok(Outcome::NoProgram);
    }
    Ok(Outcome::Ended((end, lines.last)))
}

/// The app's result for how compose ended, `last` the last line it printed.
fn outcome((end, last): (ExecEnd, String), file: &str) -> AppResult<()> {
    let said = |what: String| {
        if last.is_empty() {
            what
        } else {
            format!("{what}: {last}")
        }
    };
    match end {
        ExecEnd::Exited { code: 0 } => Ok(()),
        ExecEnd::Exited { code } => Err(AppError::Conflict(said(format!(
            "docker compose exited with {code}"
        )))),
        ExecEnd::Killed { signal } => Err(AppError::Conflict(said(format!(
            "docker compose was killed by signal {signal}"
        )))),
        ExecEnd::NotStarted(ExecError::NoSuchFolder { .. }) => Err(AppError::Conflict(format!(
            "{file} is not visible in the VM: share its folder in Settings"
        ))),
        ExecEnd::NotStarted(err) => Err(AppError::Conflict(err.to_string())),
    }
}

/// Output bytes as whole lines of text for the UI (a line's bytes may come in several chunks,
/// a character's too); remembers the last line that said something.
struct Lines<F> {
    partial: Vec<u8>,
    last: String,
    show: F,
}

impl<F: FnMut(String)> Lines<F> {
    fn new(show: F) -> Lines<F> {
        Lines {
            partial: Vec::new(),
            last: String::new(),
            show,
        }
    }

    fn push(&mut self, data: &[u8]) {
        self.partial.extend_from_slice(data);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let rest = self.partial.split_off(end + 1);
        let text =
            String::from_utf8_lossy(&std::mem::replace(&mut self.partial, rest)).into_owned();
        self.shown(text);
    }

    fn shown(&mut self, text: String) {
        if let Some(line) = text.lines().rev().find(|l| !l.trim().is_empty()) {
            self.last = line.trim().to_owned();
        }
        (self.show)(text);
    }

    fn finish(&mut self) {
        if !self.partial.is_empty() {
            let mut text = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            text.push('\n');
            self.shown(text);
        }
    }
}

impl<F: FnMut(String) + Unpin> AsyncWrite for Lines<F> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.finish();
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::agent_stream;

    async fn run(chunks: &[&[u8]], end: Option<ExecEnd>) -> (Vec<String>, AppResult<Outcome>) {
        let stream = agent_stream(chunks, end).await;
        let mut shown = Vec::new();
        let read = follow(&mut &stream[..], |t| shown.push(t)).await;
        (shown, read)
    }

    #[tokio::test]
    async fn output_comes_in_whole_lines_and_the_trailer_decides() {
        let (shown, read) = run(
            &[
                b" Container shop-web-1  Star",
                b"ted\n Done\xe2",
                b"\x9c\x94\n",
            ],
            Some(ExecEnd::Exited { code: 0 }),
        )
        .await;
        assert_eq!(
            shown,
            [" Container shop-web-1  Started\n", " Done\u{2714}\n"]
        );
        let end = ended(read);
        assert_eq!(end, (ExecEnd::Exited { code: 0 }, "Done\u{2714}".into()));
        outcome(end, "/x/compose.yaml").expect("succeeded");
    }

    fn ended(outcome: AppResult<Outcome>) -> (ExecEnd, String) {
        match outcome.expect("read") {
            Outcome::Ended(end) => end,
            Outcome::NoProgram => panic!("no end"),
        }
    }

    #[tokio::test]
    async fn a_failure_names_the_status_and_composes_last_words() {
        // A line that looks like the old sentinel is output like any other.
        let (shown, read) = run(
            &[b"berth: exit 0\nservice \"web\" has neither an image nor a build context"],
            Some(ExecEnd::Exited { code: 15 }),
        )
        .await;
        assert_eq!(
            shown.concat(),
            "berth: exit 0\nservice \"web\" has neither an image nor a build context\n"
        );
        let err = outcome(ended(read), "/x/compose.yaml").expect_err("failed");
        assert_eq!(err.code(), "conflict");
        assert_eq!(
            err.to_string(),
            "docker compose exited with 15: service \"web\" has neither an image nor a build context"
        );

        let (_, unshared) = run(
            &[],
            Some(ExecEnd::NotStarted(ExecError::NoSuchFolder {
                cwd: "/x".into(),
            })),
        )
        .await;
        assert_eq!(
            outcome(ended(unshared), "/x/compose.yaml")
                .expect_err("unshared")
                .to_string(),
            "/x/compose.yaml is not visible in the VM: share its folder in Settings"
        );
    }

    #[tokio::test]
    async fn a_missing_program_tries_the_next_and_a_cut_stream_is_an_error() {
        let (_, missing) = run(
            &[],
            Some(ExecEnd::NotStarted(ExecError::Spawn {
                program: "docker-compose".into(),
                message: "No such file or directory".into(),
            })),
        )
        .await;
        assert_eq!(missing.expect("read"), Outcome::NoProgram);

        let (shown, cut) = run(&[b"Creating network"], None).await;
        assert_eq!(shown, ["Creating network\n"]);
        assert_eq!(cut.expect_err("no trailer").code(), "internal");
    }
}
