//! `POST /auth`, the one engine call bollard lacks, as a plain HTTP/1 request on the engine's
//! socket: a Unix socket, or on Windows a named pipe (`\\.\pipe\…`). The engine logs in to the
//! registry with the credentials and answers 200 (perhaps with an identity token) or the
//! registry's refusal.

use std::path::Path;
use std::time::Duration;

use bollard::errors::Error as E;
use bollard::models::{AuthConfig, AuthResponse};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

/// How long the registry may take to answer the engine.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// Asks the engine on `socket` to log in to the registry with `config`.
pub async fn check_auth(socket: &Path, config: &AuthConfig) -> Result<AuthResponse, E> {
    let unreachable = |e: &dyn std::fmt::Display| E::IOError {
        err: std::io::Error::other(e.to_string()),
    };
    let stream = connect(socket).await.map_err(|err| E::IOError { err })?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(&e))?;
    tokio::spawn(connection);
    let body = serde_json::to_vec(config).map_err(|e| unreachable(&e))?;
    let request = hyper::Request::post("/auth")
        .header(hyper::header::HOST, "docker")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| unreachable(&e))?;
    let response = tokio::time::timeout(ANSWER_TIMEOUT, sender.send_request(request))
        .await
        .map_err(|_| E::DockerResponseServerError {
            status_code: 504,
            message: "the registry did not answer within 60 s".into(),
        })?
        .map_err(|e| unreachable(&e))?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| unreachable(&e))?
        .to_bytes();
    if status >= 400 {
        return Err(E::DockerResponseServerError {
            status_code: status,
            message: refusal(&bytes),
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| unreachable(&e))
}

/// The engine's explanation in an error answer: its JSON `message`, else the body as text.
fn refusal(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned())
}

#[cfg(unix)]
async fn connect(socket: &Path) -> std::io::Result<tokio::net::UnixStream> {
    tokio::net::UnixStream::connect(socket).await
}

/// Opens the engine's pipe; while every instance is busy (other clients connecting), waits a
/// moment and tries again, for at most 5 s.
#[cfg(windows)]
async fn connect(pipe: &Path) -> std::io::Result<tokio::net::windows::named_pipe::NamedPipeClient> {
    use tokio::net::windows::named_pipe::ClientOptions;
    /// Win32's `ERROR_PIPE_BUSY`: every instance of the pipe is taken.
    const ERROR_PIPE_BUSY: i32 = 231;
    let open = async {
        loop {
            match ClientOptions::new().open(pipe.as_os_str()) {
                Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => return other,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), open)
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("{} stayed busy for 5 s", pipe.display()),
            )
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_the_engines_message_or_its_text() {
        assert_eq!(
            refusal(br#"{"message":"unauthorized: incorrect username or password"}"#),
            "unauthorized: incorrect username or password"
        );
        assert_eq!(refusal(b" Bad Gateway\n"), "Bad Gateway");
        assert_eq!(refusal(br#"{"other":1}"#), r#"{"other":1}"#);
    }
}
