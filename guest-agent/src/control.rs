//! The control connection ([`berth_protocol::CONTROL_PORT`]): the version handshake first, then
//! requests (ping, status, set-time, shutdown, log tail, subscribe, host file events) answered in
//! order, and after `Subscribe` the engine's state changes and the published ports as events
//! (each starting with the current value). Each request is handled in a `control` span naming
//! its id and kind, so what it logs says which request it was.

use std::sync::Arc;
use std::time::Duration;

use berth_protocol::frame::{AgentCodec, MAX_FRAME};
use berth_protocol::message::{
    answer_hello, AgentToHost, Capability, ErrorCode, Event, HostToAgent, LogBatch, LogSource,
    LogTail, Request, Response, SetTime, StatusReport,
};
use berth_protocol::pages::{fit_lines, fit_oldest, port_pages, LOG_BUDGET};
use berth_protocol::ProtocolError;
use futures_util::{SinkExt, StreamExt};
use nix::sys::time::TimeSpec;
use nix::time::{clock_settime, ClockId};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;
use tracing::Instrument;

use crate::logs::LogRing;
use crate::state::Shared;
use crate::watch_marks::Marks;
use crate::{console, file_events, status};

/// Optional features this agent offers.
pub const CAPABILITIES: &[Capability] = &[
    Capability::EngineApi,
    Capability::TcpRelay,
    Capability::UdpRelay,
    Capability::SetTime,
    Capability::LogTail,
    Capability::LogSeq,
    Capability::Events,
    Capability::Ports,
    Capability::FileEvents,
    Capability::VolumeOps,
];
/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Most log lines returned at once.
const MAX_LOG_LINES: u32 = 5000;

/// Serves one control connection until the host closes it or sends garbage.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(stream: S, shared: Arc<Shared>) {
    let mut framed = Framed::new(stream, AgentCodec::new());
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, framed.next()).await {
        Ok(Some(Ok(HostToAgent::Hello(hello)))) => hello,
        Ok(Some(Ok(_))) => {
            let reason = "the first message must be a hello".to_owned();
            let _ = framed.send(AgentToHost::Refused { reason }).await;
            return;
        }
        Ok(Some(Err(err))) => return tracing::warn!("control: bad hello: {err}"),
        Ok(None) => {
            return tracing::warn!("control: the host closed the connection before its hello")
        }
        Err(_) => {
            return tracing::warn!(
                "control: no hello within {} s; closing",
                HELLO_TIMEOUT.as_secs()
            )
        }
    };
    let answer = answer_hello(&hello, env!("CARGO_PKG_VERSION"), CAPABILITIES);
    let refused = matches!(answer, AgentToHost::Refused { .. });
    if let AgentToHost::Refused { reason } = &answer {
        tracing::warn!("control: refused host {}: {reason}", hello.host_version);
    }
    if framed.send(answer).await.is_err() || refused {
        return;
    }

    let mut states = shared.engine_state.clone();
    let mut ports = shared.ports.clone();
    // Whether each event source is followed: both from `Subscribe` on, each until its sender
    // is gone (a closed watch channel would otherwise wake the loop forever).
    let (mut subscribed, mut follow_states, mut follow_ports) = (false, false, false);
    loop {
        tokio::select! {
            message = framed.next() => {
                let (id, request) = match message {
                    Some(Ok(HostToAgent::Request { id, request })) => (id, request),
                    Some(Ok(HostToAgent::Hello(_))) => {
                        let response = error(ErrorCode::BadRequest, "hello was already exchanged");
                        if framed.send(AgentToHost::Response { id: 0, response }).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Some(Err(err)) => return tracing::warn!("control: {err}; closing"),
                    None => return,
                };
                let subscribe = request == Request::Subscribe;
                let span = tracing::info_span!("control", id, request = request.kind());
                let answered = async {
                    let response = handle(request, &shared).await;
                    if let Response::Error { code, message } = &response {
                        tracing::debug!("failed ({code:?}): {message}");
                    }
                    respond(&mut framed, id, response).await
                }
                .instrument(span)
                .await;
                if answered.is_err() {
                    return;
                }
                if subscribe && !subscribed {
                    (subscribed, follow_states, follow_ports) = (true, true, true);
                    let state = states.borrow_and_update().clone();
                    let published = ports.borrow_and_update().clone();
                    let mut events = vec![Event::EngineStateChanged { state }];
                    events.extend(port_pages(&published));
                    for event in events {
                        if framed.send(AgentToHost::Event { event }).await.is_err() {
                            return;
                        }
                    }
                }
            }
            changed = states.changed(), if follow_states => {
                if changed.is_err() {
                    follow_states = false;
                    continue;
                }
                let state = states.borrow_and_update().clone();
                if framed.send(AgentToHost::Event { event: Event::EngineStateChanged { state } }).await.is_err() {
                    return;
                }
            }
            changed = ports.changed(), if follow_ports => {
                if changed.is_err() {
                    follow_ports = false;
                    continue;
                }
                let published = ports.borrow_and_update().clone();
                for event in port_pages(&published) {
                    if framed.send(AgentToHost::Event { event }).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// Sends the answer to request `id`. An answer too large for a frame is replaced by an error
/// saying so (the connection stays up: nothing was written of the oversized frame).
async fn respond<S>(
    framed: &mut Framed<S, AgentCodec>,
    id: u64,
    response: Response,
) -> Result<(), ProtocolError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match framed.send(AgentToHost::Response { id, response }).await {
        Err(ProtocolError::FrameTooLong { len }) => {
            let message = format!(
                "the answer was {len} bytes, over the {MAX_FRAME}-byte frame limit; ask for less"
            );
            tracing::warn!("control: {message}");
            let response = error(ErrorCode::Internal, &message);
            framed.send(AgentToHost::Response { id, response }).await
        }
        other => other,
    }
}

fn error(code: ErrorCode, message: &str) -> Response {
    Response::Error {
        code,
        message: message.to_owned(),
    }
}

/// Answers one request.
async fn handle(request: Request, shared: &Arc<Shared>) -> Response {
    match request {
        Request::Ping => Response::Pong,
        Request::Status => {
            let mut report = report(shared);
            if report.disk_pressure().is_some() {
                // A directory walk: off the runtime's thread.
                let logs = tokio::task::spawn_blocking(|| {
                    status::container_logs(std::path::Path::new(status::CONTAINERS_DIR))
                });
                report.container_logs_bytes = logs.await.ok();
            }
            Response::Status(report)
        }
        Request::SetTime(SetTime { unix_nanos }) => {
            let secs = i64::try_from(unix_nanos / 1_000_000_000).unwrap_or(i64::MAX);
            let nanos = i64::try_from(unix_nanos % 1_000_000_000).unwrap_or(0);
            match clock_settime(ClockId::CLOCK_REALTIME, TimeSpec::new(secs, nanos)) {
                Ok(()) => Response::Ok,
                Err(err) => error(ErrorCode::Internal, &format!("cannot set the clock: {err}")),
            }
        }
        Request::Shutdown => {
            shared.shutdown.notify_one();
            Response::Ok
        }
        Request::LogTail(tail) => log_tail(tail, shared),
        Request::Subscribe => Response::Ok,
        Request::FilesChanged(batch) => {
            let shared = shared.clone();
            // Each path costs round trips to the host: off the runtime's thread.
            let applied = tokio::task::spawn_blocking(move || {
                file_events::apply(&shared.shares, &batch, Marks::scan)
            })
            .await;
            match applied {
                Ok(Ok(outcome)) => {
                    if outcome.refused > 0 {
                        tracing::warn!(
                            "file events: refused {} paths outside the shared folders",
                            outcome.refused
                        );
                    }
                    Response::Ok
                }
                Ok(Err(message)) => error(ErrorCode::BadRequest, &message),
                Err(err) => error(ErrorCode::Internal, &err.to_string()),
            }
        }
    }
}

/// Answers a [`LogTail`]: the tail, or with `since` the lines from that number on (see
/// [`LogRing::since`]), made to fit one frame ([`LOG_BUDGET`]).
fn log_tail(tail: LogTail, shared: &Shared) -> Response {
    let lines = tail.lines.min(MAX_LOG_LINES) as usize;
    let ring: &LogRing = match tail.source {
        LogSource::Agent => console::log(),
        LogSource::Engine => &shared.logs.engine,
        LogSource::Containerd => &shared.logs.containerd,
        LogSource::Console => {
            if tail.since.is_some() {
                return error(
                    ErrorCode::Unsupported,
                    "the kernel log has no line numbers to follow; ask for its tail",
                );
            }
            let (lines, truncated) = fit_lines(kernel_log(lines), LOG_BUDGET);
            return Response::Log(LogBatch {
                lines,
                truncated,
                ..LogBatch::default()
            });
        }
    };
    let Some(since) = tail.since else {
        let mut batch = ring.last_lines(lines);
        (batch.lines, batch.truncated) = fit_lines(batch.lines, LOG_BUDGET);
        return Response::Log(batch);
    };
    let mut batch = ring.since(since, lines);
    let held = batch.lines.len();
    let (lines, cut) = fit_oldest(batch.lines, LOG_BUDGET);
    batch.next -= (held - lines.len()) as u64;
    batch.more |= cut;
    batch.lines = lines;
    Response::Log(batch)
}

/// The guest's status now.
fn report(shared: &Shared) -> StatusReport {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let (memory_total_bytes, available) = status::memory(&meminfo);
    let (disk_total_bytes, disk_used_bytes) = status::disk(crate::datadisk::MOUNT_POINT);
    StatusReport {
        uptime_ms: console::uptime_ms().unwrap_or(0),
        engine: shared.engine_state.borrow().clone(),
        engine_version: shared
            .engine_version
            .lock()
            .map(|v| v.clone())
            .unwrap_or(None),
        cpu_percent: shared.cpu.sample(),
        memory_total_bytes,
        memory_used_bytes: memory_total_bytes.saturating_sub(available),
        disk_total_bytes,
        disk_used_bytes,
        load1: status::load1(&std::fs::read_to_string("/proc/loadavg").unwrap_or_default()),
        guest_time_unix_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        container_logs_bytes: None,
    }
}

/// The last `lines` lines of the kernel log.
fn kernel_log(lines: usize) -> Vec<String> {
    const SYSLOG_ACTION_READ_ALL: libc::c_int = 3;
    let mut buf = vec![0u8; 1 << 20];
    let len = libc::c_int::try_from(buf.len()).unwrap_or(libc::c_int::MAX);
    // SAFETY: READ_ALL writes at most `len` bytes into `buf`, which is valid for that length
    // for the duration of the call.
    let n = unsafe { libc::klogctl(SYSLOG_ACTION_READ_ALL, buf.as_mut_ptr().cast(), len) };
    let Ok(n) = usize::try_from(n) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&buf[..n.min(buf.len())]);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}
