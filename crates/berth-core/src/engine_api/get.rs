//! One `GET` to the engine on a new connection, for Berth's own questions (what uses the
//! disk, whether containers run): the body of a 2xx answer, up to a limit.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;

use super::Upstream;

/// The engine could not be asked, or answered with an error.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// No connection to the engine.
    #[error("cannot reach the engine: {0}")]
    Connect(#[source] std::io::Error),
    /// The HTTP exchange failed.
    #[error("the engine's {path} failed: {message}")]
    Http {
        /// The request's path.
        path: String,
        /// What failed.
        message: String,
    },
    /// The engine answered with an error.
    #[error("the engine answered {status} to {path}: {message}")]
    Status {
        /// The request's path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The engine's message.
        message: String,
    },
}

/// `GET path` on a new connection to `engine`; the body of a 2xx answer of at most `limit`
/// bytes.
pub async fn get<U: Upstream>(engine: &U, path: &str, limit: usize) -> Result<Bytes, GetError> {
    let http = |e: &dyn std::fmt::Display| GetError::Http {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let io = engine.connect().await.map_err(GetError::Connect)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| http(&e))?;
    let driver = tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, "docker")
        .body(Empty::<Bytes>::new())
        .map_err(|e| http(&e))?;
    let response = sender.send_request(request).await.map_err(|e| http(&e))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), limit)
        .collect()
        .await
        .map_err(|e| http(&e))?
        .to_bytes();
    driver.abort();
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        return Err(GetError::Status {
            path: path.to_owned(),
            status: status.as_u16(),
            message,
        });
    }
    Ok(body)
}

/// How many containers run (or restart) now: `GET /containers/json`, which lists only those.
pub async fn running_containers<U: Upstream>(engine: &U) -> Result<usize, GetError> {
    const PATH: &str = "/containers/json";
    let body = get(engine, PATH, 64 << 20).await?;
    let list: Vec<serde::de::IgnoredAny> =
        serde_json::from_slice(&body).map_err(|e| GetError::Http {
            path: PATH.to_owned(),
            message: format!("not a container list: {e}"),
        })?;
    Ok(list.len())
}
