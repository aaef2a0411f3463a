//! One client connection of the engine endpoint, relayed to the engine in the guest as HTTP:
//! hyper reads the client's requests and writes them, one after the other, to one data
//! connection to the engine (which the agent joins to dockerd's socket), so a request can be
//! rewritten on its way ([`Rewrite`]), a container create's binds of host paths outside every
//! shared folder reported in its answer ([`super::unshared`]), a create publishing more ports
//! than the VM can bear refused ([`super::published`]), and a failure to reach the
//! engine is an API error the client prints, not a closed connection. An `Upgrade` answer
//! (`attach`, `exec`, `run -it`, BuildKit's `/session` and `/grpc`) turns the connection into a
//! plain byte relay both ways, half-close included (a terminal's output coalesced by line:
//! [`lines`]); streamed answers (`logs -f`, `events`, archives) stream.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING, UPGRADE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use super::binds::{self, DriveKind};
use super::lines::{self, Framing};
use super::{published, unshared};
use crate::agent::AgentAddress;
use crate::shares::Reach;

/// The largest create request read whole to be rewritten (real ones are a few KiB).
pub const MAX_REWRITTEN_BODY: usize = 4 * 1024 * 1024;

/// A body either way.
type Body = BoxBody<Bytes, hyper::Error>;

/// Where the relay's requests go: a new connection to the engine per client connection.
pub trait Upstream: Clone + Send + Sync + 'static {
    /// The connection.
    type Io: AsyncRead + AsyncWrite + Send + Unpin + 'static;
    /// Opens a connection to the engine.
    fn connect(&self) -> impl Future<Output = std::io::Result<Self::Io>> + Send;

    /// The resource saver's lease a connection holds, if it holds one ([`Waking`]).
    fn lease_slot(_io: &Self::Io) -> Option<crate::saver::LeaseSlot> {
        None
    }
}

/// The engine in the guest, over a data connection to the agent at this endpoint.
#[derive(Debug, Clone)]
pub struct GuestEngine(pub AgentAddress);

impl Upstream for GuestEngine {
    type Io = tokio::io::DuplexStream;

    async fn connect(&self) -> std::io::Result<Self::Io> {
        crate::agent::open_data_plain(self.0.clone(), berth_protocol::data::DataHeader::EngineApi)
            .await
            .map_err(std::io::Error::other)
    }
}

/// What the relay checks and changes in container creates on their way to the engine, and in
/// their answers.
#[derive(Debug, Clone)]
pub struct Rewrite {
    /// What is done with binds of host paths.
    pub binds: Binds,
    /// The VM's memory in MiB: a create publishing more ports than the VM can bear
    /// ([`published::limit`]) is refused; `None`: not checked.
    pub memory_mib: Option<u32>,
}

/// What is done with a container create's binds of host paths.
#[derive(Debug, Clone)]
pub enum Binds {
    /// Nothing: sent as they are.
    Nothing,
    /// Host paths are the VM's paths (Linux, macOS: shared folders keep their path); container
    /// creates binding host paths outside these shared folders are reported
    /// ([`unshared::unshared`]) in the log and the engine's answer.
    ReportUnshared(Arc<Reach>),
    /// Windows host paths in container creates become WSL's drive mounts
    /// ([`binds::translate_create`]), with this machine's drives; every local drive is
    /// reachable, so nothing is reported.
    WslBinds(DriveKind),
}

impl Rewrite {
    /// Nothing: every request and answer as sent.
    pub fn nothing() -> Rewrite {
        Rewrite {
            binds: Binds::Nothing,
            memory_mib: None,
        }
    }

    /// What this OS needs, with `shared_folders` (the validated settings) shared, in a VM of
    /// `memory_mib`.
    pub fn for_this_os(shared_folders: &[std::path::PathBuf], memory_mib: u32) -> Rewrite {
        #[cfg(windows)]
        let binds = {
            let _ = shared_folders;
            Binds::WslBinds(binds::windows_drive)
        };
        #[cfg(not(windows))]
        let binds = Binds::ReportUnshared(Arc::new(Reach::new(shared_folders)));
        Rewrite {
            binds,
            memory_mib: Some(memory_mib),
        }
    }

    /// Nothing of a create is checked or changed.
    fn is_nothing(&self) -> bool {
        matches!(self.binds, Binds::Nothing) && self.memory_mib.is_none()
    }
}

/// `/containers/create`, with or without an API version prefix (`/v1.47/…`).
fn is_container_create(path: &str) -> bool {
    unversioned(path) == "/containers/create"
}

/// `/events`: a stream that only watches, so it does not keep the VM awake (the events it
/// waits for come from something else using the VM, which wakes it).
fn is_event_stream(request: &Request<Incoming>) -> bool {
    request.method() == hyper::Method::GET && unversioned(request.uri().path()) == "/events"
}

/// `path` without its API version prefix (`/v1.47`).
fn unversioned(path: &str) -> &str {
    match path.strip_prefix("/v") {
        Some(rest) => match rest.find('/') {
            Some(slash)
                if rest[..slash]
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.') =>
            {
                &rest[slash..]
            }
            _ => path,
        },
        None => path,
    }
}

/// `upstream` whose connections each hold a lease of `saver` while open: the first resumes
/// a paused VM (the client waits, it is not refused), and none lets the VM pause.
#[derive(Debug, Clone)]
pub struct Waking<U> {
    upstream: U,
    saver: crate::saver::Saver,
}

impl<U> Waking<U> {
    /// `upstream`, leased from `saver`.
    pub fn new(upstream: U, saver: crate::saver::Saver) -> Waking<U> {
        Waking { upstream, saver }
    }
}

impl<U: Upstream> Upstream for Waking<U> {
    type Io = crate::saver::Leased<U::Io>;

    async fn connect(&self) -> std::io::Result<Self::Io> {
        let lease = self.saver.lease().await;
        let io = self.upstream.connect().await?;
        Ok(crate::saver::Leased::new(io, self.saver.clone(), lease))
    }

    fn lease_slot(io: &Self::Io) -> Option<crate::saver::LeaseSlot> {
        Some(io.slot().clone())
    }
}

/// Serves the client connection `client` until it ends, its requests sent to one connection
/// to `upstream`.
pub async fn serve<C, U>(client: C, upstream: U, rewrite: Rewrite)
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    U: Upstream,
{
    let mut slot = None;
    let engine = match upstream.connect().await {
        Ok(io) => {
            slot = U::lease_slot(&io);
            let handshake = hyper::client::conn::http1::Builder::new()
                .preserve_header_case(true)
                .handshake::<_, Body>(TokioIo::new(io))
                .await;
            match handshake {
                Ok((sender, connection)) => {
                    tokio::spawn(async move {
                        if let Err(err) = connection.with_upgrades().await {
                            tracing::debug!("engine connection ended: {err}");
                        }
                    });
                    Ok(Arc::new(Mutex::new(sender)))
                }
                Err(err) => Err(err.to_string()),
            }
        }
        Err(err) => {
            // The client gets the reason as an API error for each request.
            tracing::warn!("cannot reach the engine: {err}");
            Err(err.to_string())
        }
    };
    let service = hyper::service::service_fn(move |request| {
        let engine = engine.clone();
        let rewrite = rewrite.clone();
        let slot = slot.clone();
        async move {
            if let Some(slot) = &slot {
                if is_event_stream(&request) {
                    slot.release();
                } else {
                    slot.ensure().await;
                }
            }
            Ok::<_, Infallible>(match engine {
                Ok(sender) => forward(request, &sender, &rewrite).await,
                Err(reason) => unreachable_engine(&reason),
            })
        }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .preserve_header_case(true)
        .serve_connection(TokioIo::new(client), service)
        .with_upgrades()
        .await;
    if let Err(err) = served {
        tracing::debug!("engine client connection ended: {err}");
    }
}

/// Sends one request to the engine and gives its answer back.
async fn forward(
    mut request: Request<Incoming>,
    engine: &Mutex<SendRequest<Body>>,
    rewrite: &Rewrite,
) -> Response<Body> {
    let client_upgrade = request
        .headers()
        .contains_key(UPGRADE)
        .then(|| hyper::upgrade::on(&mut request));
    let (request, unshared) = match rewritten(request, rewrite).await {
        Ok(rewritten) => rewritten,
        Err(answer) => return answer,
    };
    let answer = {
        let mut sender = engine.lock().await;
        match sender.ready().await {
            Ok(()) => sender.send_request(request).await,
            Err(err) => Err(err),
        }
    };
    let mut answer = match answer {
        Ok(answer) => answer,
        Err(err) => return unreachable_engine(&err.to_string()),
    };
    if answer.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_upgrade) = client_upgrade {
            let framing = hijacked_stream(&answer);
            let engine_upgrade = hyper::upgrade::on(&mut answer);
            tokio::spawn(async move {
                match tokio::try_join!(client_upgrade, engine_upgrade) {
                    Ok((client, engine)) => {
                        splice(TokioIo::new(client), TokioIo::new(engine), framing).await
                    }
                    Err(err) => tracing::debug!("engine connection upgrade failed: {err}"),
                }
            });
        }
    }
    if unshared.is_empty() {
        return answer.map(BodyExt::boxed);
    }
    with_warnings(answer, &unshared).await
}

/// The engine's answer to a create with a warning for each of the `unshared` bind sources
/// ([`unshared::add_to_answer`]), when it is a JSON answer of known length up to
/// [`unshared::MAX_ANSWER`]; else as it is (the log has the warnings).
async fn with_warnings(answer: Response<Incoming>, unshared: &[String]) -> Response<Body> {
    let length = answer
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if length.is_none_or(|len| len > unshared::MAX_ANSWER) {
        return answer.map(BodyExt::boxed);
    }
    let (mut parts, body) = answer.into_parts();
    let body = match body.collect().await {
        Ok(body) => body.to_bytes(),
        Err(err) => return unreachable_engine(&err.to_string()),
    };
    let body = match unshared::add_to_answer(&body, parts.status.is_success(), unshared) {
        Some(annotated) => Bytes::from(annotated),
        None => body,
    };
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    Response::from_parts(parts, full(body))
}

/// How the engine's answer hands over a container's streams, for [`lines::copy_output`]:
/// `Upgrade: tcp` hijacks (`attach`, `exec`, `run -i`), multiplexed when the answer says
/// `application/vnd.docker.multiplexed-stream` (API 1.42 and later; before it, every answer
/// says "raw", and the bytes are coalesced as raw, which keeps them intact). BuildKit's
/// `/session` and `/grpc` (`Upgrade: h2c`) are left as they come.
fn hijacked_stream<B>(answer: &Response<B>) -> Option<Framing> {
    let upgrade = answer.headers().get(UPGRADE)?;
    if !upgrade.as_bytes().eq_ignore_ascii_case(b"tcp") {
        return None;
    }
    let multiplexed = answer.headers().get(CONTENT_TYPE).is_some_and(|t| {
        t.as_bytes()
            .starts_with(b"application/vnd.docker.multiplexed-stream")
    });
    Some(if multiplexed {
        Framing::Multiplexed
    } else {
        Framing::Raw
    })
}

/// Bytes both ways on an upgraded connection. The client's end of input is passed on as the
/// engine's (half-close: stdin's end in `docker run -i`) and the engine's answer still flows;
/// the engine's end is the connection's end, as the engine closes a hijacked connection when
/// the container's streams end (which is also how a client on a Windows pipe, with no
/// half-close, learns of it). With `framing`, the engine's output is coalesced by line
/// ([`lines::copy_output`]).
async fn splice<C, E>(client: C, engine: E, framing: Option<Framing>)
where
    C: AsyncRead + AsyncWrite,
    E: AsyncRead + AsyncWrite,
{
    let (mut client_in, mut client_out) = tokio::io::split(client);
    let (mut engine_in, mut engine_out) = tokio::io::split(engine);
    let input = async {
        let copied = tokio::io::copy(&mut client_in, &mut engine_out).await;
        let _ = engine_out.shutdown().await;
        copied
    };
    let output = async {
        let copied = lines::copy_output(&mut engine_in, &mut client_out, framing).await;
        let _ = client_out.shutdown().await;
        copied
    };
    tokio::pin!(input, output);
    let ended = tokio::select! {
        copied = &mut output => copied,
        copied = &mut input => match copied {
            Ok(_) => output.await,
            Err(err) => Err(err),
        },
    };
    if let Err(err) = ended {
        tracing::debug!("upgraded engine connection ended: {err}");
    }
}

/// The request as it goes to the engine: a container create's body read whole when `rewrite`
/// applies, rewritten or checked, else streamed; with the create's unshared bind sources
/// (logged here). An error answer for a request that cannot be sent.
async fn rewritten(
    request: Request<Incoming>,
    rewrite: &Rewrite,
) -> Result<(Request<Body>, Vec<String>), Response<Body>> {
    let create = request.method() == Method::POST && is_container_create(request.uri().path());
    if !create || rewrite.is_nothing() {
        return Ok((request.map(BodyExt::boxed), Vec::new()));
    }
    let (mut parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_REWRITTEN_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(err) => {
            return Err(api_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the create request could not be read whole: {err}"),
            ))
        }
    };
    if let Some(refusal) = rewrite
        .memory_mib
        .and_then(|memory| published::refusal(&body, memory))
    {
        tracing::warn!("container create: {refusal}");
        return Err(api_error(StatusCode::BAD_REQUEST, &refusal));
    }
    let (body, unshared) = match &rewrite.binds {
        Binds::WslBinds(drives) => match binds::translate_create(&body, *drives) {
            Ok(Some(translated)) => (Bytes::from(translated), Vec::new()),
            Ok(None) => (body, Vec::new()),
            Err(err) => return Err(api_error(StatusCode::BAD_REQUEST, &err.to_string())),
        },
        Binds::ReportUnshared(reach) => {
            let unshared = unshared::unshared(&body, reach);
            for source in &unshared {
                tracing::warn!("container create: {}", unshared::warning(source));
            }
            (body, unshared)
        }
        Binds::Nothing => (body, Vec::new()),
    };
    parts.headers.remove(TRANSFER_ENCODING);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    Ok((Request::from_parts(parts, full(body)), unshared))
}

/// The engine could not be reached: 502 with the reason, as the engine words its errors.
fn unreachable_engine(reason: &str) -> Response<Body> {
    api_error(
        StatusCode::BAD_GATEWAY,
        &format!(
            "cannot reach the engine in the Berth VM ({reason}): `berth status` shows the VM's \
             state, `berth logs` why"
        ),
    )
}

/// An answer in the engine's error format (`{"message": …}`), which every client prints.
fn api_error(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut answer = Response::new(full(Bytes::from(body)));
    *answer.status_mut() = status;
    answer
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    answer
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_creates_are_recognized_with_and_without_a_version() {
        for path in [
            "/containers/create",
            "/v1.47/containers/create",
            "/v1/containers/create",
        ] {
            assert!(is_container_create(path), "{path}");
        }
        for path in [
            "/containers/json",
            "/containers/create/x",
            "/vx/containers/create",
            "/v1.47/images/create",
            "/volumes/create",
            "/v1.47/containers/abc/start",
        ] {
            assert!(!is_container_create(path), "{path}");
        }
    }
}
