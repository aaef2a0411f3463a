//! Terminals in containers: `docker exec` of a shell on a TTY, its output streamed to the UI
//! (xterm.js) over a channel, input and resizes sent back by id. The open terminals are this
//! module's own managed state ([`Sessions`]).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::ResizeExecOptions;
use futures_util::StreamExt;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use ts_rs::TS;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The shell: bash when the image has it, else sh.
const SHELL: &str = "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi";

/// A terminal's input, shared by concurrent keystroke commands.
type Input = Arc<tokio::sync::Mutex<Pin<Box<dyn AsyncWrite + Send>>>>;

/// The open terminals by id, managed by Tauri beside the app's state.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<u32, Session>>);

/// An open terminal.
pub struct Session {
    exec_id: String,
    input: Input,
    output: tauri::async_runtime::JoinHandle<()>,
}

/// What the terminal's channel carries.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TerminalOutput {
    /// Output text.
    Data {
        /// UTF-8 text (multi-byte characters split across reads are kept whole).
        data: String,
    },
    /// The shell exited.
    Exit,
}

/// Decodes UTF-8 across chunk boundaries: returns what is complete, keeps the rest in `carry`.
pub fn decode(carry: &mut Vec<u8>, bytes: &[u8]) -> String {
    carry.extend_from_slice(bytes);
    let valid = match std::str::from_utf8(carry) {
        Ok(_) => carry.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        // Invalid bytes (not merely incomplete): show them replaced and move on.
        Err(_) => carry.len(),
    };
    let text = String::from_utf8_lossy(&carry[..valid]).into_owned();
    carry.drain(..valid);
    text
}

/// Opens a shell in a running container; returns the session id.
#[tauri::command]
pub async fn terminal_open(
    state: State<'_, AppState>,
    sessions: State<'_, Sessions>,
    id: String,
    cols: u16,
    rows: u16,
    on_output: Channel<TerminalOutput>,
) -> AppResult<u32> {
    let docker = state.docker().await?;
    let exec = docker
        .create_exec(
            &id,
            CreateExecOptions {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(true),
                env: Some(vec!["TERM=xterm-256color"]),
                cmd: Some(vec!["/bin/sh", "-c", SHELL]),
                ..Default::default()
            },
        )
        .await?;
    let StartExecResults::Attached { mut output, input } = docker
        .start_exec(
            &exec.id,
            Some(StartExecOptions {
                detach: false,
                tty: true,
                output_capacity: None,
            }),
        )
        .await?
    else {
        return Err(AppError::Internal("the engine detached the shell".into()));
    };
    let _ = docker
        .resize_exec(
            &exec.id,
            ResizeExecOptions {
                h: i32::from(rows),
                w: i32::from(cols),
            },
        )
        .await;
    let task = tauri::async_runtime::spawn(async move {
        let mut carry = Vec::new();
        while let Some(Ok(chunk)) = output.next().await {
            let data = decode(&mut carry, &chunk.into_bytes());
            if !data.is_empty() && on_output.send(TerminalOutput::Data { data }).is_err() {
                return;
            }
        }
        let _ = on_output.send(TerminalOutput::Exit);
    });
    let session = state.next_id();
    if let Ok(mut sessions) = sessions.0.lock() {
        sessions.insert(
            session,
            Session {
                exec_id: exec.id,
                input: Arc::new(tokio::sync::Mutex::new(input)),
                output: task,
            },
        );
    }
    Ok(session)
}

fn input_of(sessions: &Sessions, session: u32) -> AppResult<(String, Input)> {
    let sessions = sessions
        .0
        .lock()
        .map_err(|_| AppError::Internal("terminal table poisoned".into()))?;
    let s = sessions.get(&session).ok_or(AppError::NoSession)?;
    Ok((s.exec_id.clone(), s.input.clone()))
}

/// Sends keystrokes to a terminal.
#[tauri::command]
pub async fn terminal_input(
    sessions: State<'_, Sessions>,
    session: u32,
    data: String,
) -> AppResult<()> {
    let (_, input) = input_of(&sessions, session)?;
    let mut input = input.lock().await;
    input
        .write_all(data.as_bytes())
        .await
        .map_err(|_| AppError::NoSession)?;
    input.flush().await.map_err(|_| AppError::NoSession)
}

/// Tells a terminal its new size.
#[tauri::command]
pub async fn terminal_resize(
    state: State<'_, AppState>,
    sessions: State<'_, Sessions>,
    session: u32,
    cols: u16,
    rows: u16,
) -> AppResult<()> {
    let (exec_id, _) = input_of(&sessions, session)?;
    let docker = state.docker().await?;
    docker
        .resize_exec(
            &exec_id,
            ResizeExecOptions {
                h: i32::from(rows),
                w: i32::from(cols),
            },
        )
        .await?;
    Ok(())
}

/// Closes a terminal (the shell gets a hangup when its input closes).
#[tauri::command]
pub async fn terminal_close(sessions: State<'_, Sessions>, session: u32) -> AppResult<()> {
    let removed = sessions
        .0
        .lock()
        .map_err(|_| AppError::Internal("terminal table poisoned".into()))?
        .remove(&session);
    if let Some(s) = removed {
        let _ = s.input.lock().await.shutdown().await;
        s.output.abort();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multibyte_characters_split_across_reads_stay_whole() {
        let mut carry = Vec::new();
        let bytes = "é!".as_bytes();
        assert_eq!(decode(&mut carry, &bytes[..1]), "");
        assert_eq!(decode(&mut carry, &bytes[1..]), "é!");
        assert!(carry.is_empty());
        assert_eq!(decode(&mut carry, &[0xff, b'a']), "\u{fffd}a");
    }
}
