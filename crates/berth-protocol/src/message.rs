//! The typed messages of the control connection ([`crate::CONTROL_PORT`]).
//!
//! Each direction decodes exactly one type: the host reads [`AgentToHost`], the agent reads
//! [`HostToAgent`]. Every message is a JSON object tagged by `"type"`, e.g.
//!
//! ```text
//! host  → {"type":"hello","protocol_version":1,"host_version":"0.1.0"}
//! agent → {"type":"hello","protocol_version":1,"agent_version":"0.1.0","capabilities":["events"]}
//! host  → {"type":"request","id":7,"request":{"type":"log_tail","source":"engine","lines":50}}
//! agent → {"type":"response","id":7,"response":{"type":"log","lines":["..."],"next":4711}}
//! agent → {"type":"event","event":{"type":"engine_state_changed","state":{"type":"ready"}}}
//! ```
//!
//! Evolution: unknown fields are ignored, so a newer peer may add fields to any message without a
//! version bump; removing a field, changing its meaning or adding a variant the older side must
//! understand bumps [`PROTOCOL_VERSION`]. Unknown [`ErrorCode`]s decode as [`ErrorCode::Other`],
//! unknown [`Capability`]s as [`Capability::Unknown`].
//!
//! Each request names its answer through [`crate::call::Call`]: the host sends a call and gets
//! its typed result, and an agent that answers anything else is the one place that says so.
//!
//! Handshake: the host sends [`HostHello`] first; the agent answers with [`AgentHello`] carrying
//! the version both will speak (see [`negotiate`] and [`answer_hello`]) or with
//! [`AgentToHost::Refused`] and closes the connection.

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ProtocolError;
use crate::{MIN_SUPPORTED, PROTOCOL_VERSION};

/// The host's first message on a control connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostHello {
    /// The highest protocol version the host speaks.
    pub protocol_version: u32,
    /// The host's own version, for logs.
    pub host_version: String,
}

/// The agent's answer to an acceptable [`HostHello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHello {
    /// The version both sides speak from now on (the result of [`negotiate`]).
    pub protocol_version: u32,
    /// The agent's own version (its crate version).
    pub agent_version: String,
    /// Optional features the agent offers; names this side does not know decode as
    /// [`Capability::Unknown`].
    #[serde(default)]
    pub capabilities: Vec<Capability>,
}

impl AgentHello {
    /// Whether the agent offers `capability`.
    pub fn offers(&self, capability: Capability) -> bool {
        capability != Capability::Unknown && self.capabilities.contains(&capability)
    }
}

/// An optional feature an agent offers in its [`AgentHello`], named in kebab case on the wire
/// (`"file-events"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Data connections to the engine's API socket.
    EngineApi,
    /// Data connections relayed to a guest TCP port.
    TcpRelay,
    /// Data connections carrying UDP datagrams.
    UdpRelay,
    /// [`Request::SetTime`].
    SetTime,
    /// [`Request::LogTail`].
    LogTail,
    /// [`LogTail::since`] and [`LogBatch::next`]: a log followed by sequence number.
    LogSeq,
    /// [`Request::Subscribe`] and [`Event`]s.
    Events,
    /// [`Event::PortsChanged`].
    Ports,
    /// [`Request::FilesChanged`].
    FileEvents,
    /// The guest operations of [`crate::data`]:
    /// [`DataHeader::ListDir`](crate::data::DataHeader::ListDir),
    /// [`DataHeader::Export`](crate::data::DataHeader::Export) and
    /// [`DataHeader::Exec`](crate::data::DataHeader::Exec).
    VolumeOps,
    /// A capability this side does not know (offered by a newer peer).
    #[serde(other)]
    Unknown,
}

/// Every message the host sends on the control connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HostToAgent {
    /// The opening message.
    Hello(HostHello),
    /// A request; the agent answers with an [`AgentToHost::Response`] of the same `id`.
    Request {
        /// Chosen by the host, echoed in the response.
        id: u64,
        /// What is asked.
        request: Request,
    },
}

/// Every message the agent sends on the control connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentToHost {
    /// The answer to an acceptable [`HostHello`].
    Hello(AgentHello),
    /// The answer to an unacceptable [`HostHello`]; the agent closes the connection after it.
    Refused {
        /// Why, for the host's logs and the user.
        reason: String,
    },
    /// The answer to [`HostToAgent::Request`].
    Response {
        /// The request's `id`.
        id: u64,
        /// The outcome.
        response: Response,
    },
    /// Something that happened, sent after [`Request::Subscribe`].
    Event {
        /// What happened.
        event: Event,
    },
}

/// What the host can ask of the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Liveness check; answered by [`Response::Pong`].
    Ping,
    /// Health and resource usage; answered by [`Response::Status`].
    Status,
    /// Set the guest clock (after the host resumed from sleep); answered by [`Response::Ok`].
    SetTime(SetTime),
    /// Stop the engine cleanly and power the VM off; answered by [`Response::Ok`] first.
    Shutdown,
    /// Lines of a log; answered by [`Response::Log`].
    LogTail(LogTail),
    /// Start sending [`AgentToHost::Event`]s on this connection; answered by [`Response::Ok`].
    Subscribe,
    /// Host files in shared folders changed: the agent refreshes its view of each path and
    /// touches it (mtime set to its own value), so inotify watchers in containers fire. Only
    /// sent to agents offering [`Capability::FileEvents`]; answered by [`Response::Ok`].
    FilesChanged(FilesChanged),
}

impl Request {
    /// The request's `type` on the wire, for logs and messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Ping => "ping",
            Request::Status => "status",
            Request::SetTime(_) => "set_time",
            Request::Shutdown => "shutdown",
            Request::LogTail(_) => "log_tail",
            Request::Subscribe => "subscribe",
            Request::FilesChanged(_) => "files_changed",
        }
    }
}

/// The guest clock's new value (see [`Request::SetTime`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetTime {
    /// Nanoseconds since the Unix epoch, UTC.
    pub unix_nanos: u64,
}

/// Which lines of which log (see [`Request::LogTail`]).
///
/// Every log the agent keeps in a ring numbers its lines by how many were pushed before them
/// (the first line of a boot is 0). Without `since` the answer is the last `lines` lines;
/// with it, the lines numbered `since` and after, oldest first, at most `lines` of them: a
/// follower asks again with the [`LogBatch::next`] it got and neither re-reads nor misses a
/// line. Lines the ring dropped before they were asked for are counted in
/// [`LogBatch::dropped`]. The kernel log ([`LogSource::Console`]) has no numbers: asked with
/// `since`, the agent answers [`ErrorCode::Unsupported`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogTail {
    /// Which log.
    pub source: LogSource,
    /// How many lines at most.
    pub lines: u32,
    /// The number of the first line wanted (the last answer's [`LogBatch::next`]); only for
    /// agents offering [`Capability::LogSeq`] (older ones ignore it and send the tail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}

/// The answer to a [`LogTail`], oldest line first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogBatch {
    /// The lines, without their line endings.
    pub lines: Vec<String>,
    /// Older lines were left out to fit the frame ([`crate::pages::fit_lines`]); only
    /// without [`LogTail::since`].
    #[serde(default)]
    pub truncated: bool,
    /// The number of the line after the last one in `lines`: what the next [`LogTail::since`]
    /// asks for. 0 from the kernel log and from agents without [`Capability::LogSeq`].
    #[serde(default)]
    pub next: u64,
    /// With [`LogTail::since`]: lines from `since` on that the ring had already dropped,
    /// before the first one of `lines`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: u64,
    /// With [`LogTail::since`]: more lines follow `next` already (the answer was capped at
    /// `lines` or at the frame's budget); ask again without waiting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Most paths in one [`FilesChanged`] batch; the agent refuses larger ones.
pub const MAX_CHANGED_PATHS: usize = 2048;

/// One batch of host file changes (see [`Request::FilesChanged`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FilesChanged {
    /// Absolute host paths, each inside a shared folder (the agent checks), at most
    /// [`MAX_CHANGED_PATHS`]. A created, removed or renamed entry comes with its directory.
    pub paths: Vec<String>,
    /// The host dropped changes (too many at once, or its watcher overflowed): the agent
    /// also drops its cached view of every shared folder.
    #[serde(default)]
    pub overflow: bool,
}

/// A log the agent keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    /// The agent's own log.
    Agent,
    /// The container engine's output.
    Engine,
    /// containerd's output.
    Containerd,
    /// The kernel and serial console.
    Console,
}

/// The agent's answer to one [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    /// Answer to [`Request::Ping`].
    Pong,
    /// Answer to [`Request::Status`].
    Status(StatusReport),
    /// The request was carried out.
    Ok,
    /// Answer to [`Request::LogTail`].
    Log(LogBatch),
    /// The request failed.
    Error {
        /// The kind of failure.
        code: ErrorCode,
        /// A human-readable explanation.
        message: String,
    },
}

impl Response {
    /// The response's `type` on the wire, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Response::Pong => "pong",
            Response::Status(_) => "status",
            Response::Ok => "ok",
            Response::Log(_) => "log",
            Response::Error { .. } => "error",
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request was malformed or its arguments out of range.
    BadRequest,
    /// The agent does not implement this request.
    Unsupported,
    /// The container engine failed.
    Engine,
    /// Anything else that went wrong inside the agent.
    Internal,
    /// A code this side does not know (sent by a newer peer).
    #[serde(other)]
    Other,
}

/// The guest's health and resource usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StatusReport {
    /// Guest uptime.
    pub uptime_ms: u64,
    /// The container engine's state.
    pub engine: EngineState,
    /// The engine's version, once it has answered.
    #[serde(default)]
    pub engine_version: Option<String>,
    /// CPU use across all vCPUs since the last report, 0–100. Non-finite values travel as
    /// `null` and decode as 0.
    #[serde(deserialize_with = "finite_or_zero")]
    pub cpu_percent: f32,
    /// Total guest memory.
    pub memory_total_bytes: u64,
    /// Memory in use (total minus available).
    pub memory_used_bytes: u64,
    /// Size of the data disk.
    pub disk_total_bytes: u64,
    /// Space used on the data disk.
    pub disk_used_bytes: u64,
    /// One-minute load average. Non-finite values decode as 0, like `cpu_percent`.
    #[serde(deserialize_with = "finite_or_zero")]
    pub load1: f32,
    /// The guest's wall clock (milliseconds since the Unix epoch), for drift checks. Absent
    /// (0) from older agents.
    #[serde(default)]
    pub guest_time_unix_ms: u64,
    /// Bytes of the containers' logs on the data disk (which the engine's `/system/df` does
    /// not count); measured only while the disk is [nearly full](StatusReport::disk_pressure),
    /// absent otherwise and from older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_logs_bytes: Option<u64>,
}

/// The data disk's use, in percent, from which it counts as nearly full.
pub const DISK_WARN_PERCENT: u64 = 90;
/// Free bytes below which the data disk counts as full. ext4 holds back up to 16 MiB (4096
/// clusters) even from root, so a disk whose writes already fail with `ENOSPC` still shows a
/// little free space.
pub const DISK_FULL_BELOW_BYTES: u64 = 32 << 20;

/// How full the data disk is, once it is at least [`DISK_WARN_PERCENT`] used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DiskPressure {
    /// At least [`DISK_WARN_PERCENT`] used, some space left.
    NearlyFull,
    /// Less than [`DISK_FULL_BELOW_BYTES`] left: writes fail (or are about to) with `ENOSPC`.
    Full,
}

impl DiskPressure {
    /// The pressure of a disk of `total` bytes with `used` in use; `None` below the threshold
    /// (and for an unknown size, 0).
    pub fn of(total: u64, used: u64) -> Option<DiskPressure> {
        if total == 0 {
            None
        } else if total.saturating_sub(used) < DISK_FULL_BELOW_BYTES {
            Some(DiskPressure::Full)
        } else if u128::from(used) * 100 >= u128::from(total) * u128::from(DISK_WARN_PERCENT) {
            Some(DiskPressure::NearlyFull)
        } else {
            None
        }
    }
}

impl StatusReport {
    /// The data disk's pressure, if it is nearly full.
    pub fn disk_pressure(&self) -> Option<DiskPressure> {
        DiskPressure::of(self.disk_total_bytes, self.disk_used_bytes)
    }
}

/// Reads an `f32` that may be `null` (how serde_json writes NaN and infinities) as 0.
fn finite_or_zero<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(deserializer)?
        .filter(|v| v.is_finite())
        .unwrap_or(0.0))
}

/// The container engine's lifecycle as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineState {
    /// Launched, not yet answering on its socket.
    Starting,
    /// Answering on its socket.
    Ready,
    /// Exited unexpectedly; a restart follows unless the agent gave up.
    Crashed {
        /// Exit status or signal, and the last log line if any.
        reason: String,
    },
    /// Waiting before restart number `attempt`.
    Restarting {
        /// 1 for the first restart.
        attempt: u32,
        /// How long the agent waits before this attempt.
        backoff_ms: u64,
    },
    /// Stopped on purpose (shutdown) or given up on.
    Stopped,
}

/// Something the agent reports without being asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The engine moved to a new state.
    EngineStateChanged {
        /// The new state.
        state: EngineState,
    },
    /// The set of published container ports changed; carries the whole new set, in pages of
    /// at most [`crate::pages::PORTS_PAGE`] ports ([`crate::pages::port_pages`]). Also sent
    /// once right after [`Request::Subscribe`] (after the engine's state), so a host that
    /// connects late starts from the current set.
    PortsChanged {
        /// This page's ports.
        published: Vec<PublishedPort>,
        /// Another page of the same set follows; the set is complete with the page without it.
        #[serde(default)]
        more: bool,
    },
}

/// A container port published to the host.
///
/// The engine's proxy listens on `port` inside the guest, so the host relays its own `port` to
/// the guest's `port`; `container_port` is only for display.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PublishedPort {
    /// The engine's container id.
    pub container_id: String,
    /// The transport.
    pub protocol: PortProtocol,
    /// The host address to listen on, as the user gave it (`0.0.0.0`, `127.0.0.1`, `::`).
    pub host_ip: String,
    /// The port to listen on.
    pub port: u16,
    /// The container's name without the leading `/`, for messages (empty from older agents).
    #[serde(default)]
    pub container_name: String,
    /// The port inside the container (0 from older agents).
    #[serde(default)]
    pub container_port: u16,
}

/// The transport of a [`PublishedPort`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortProtocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// Picks the protocol version both sides speak: the lower of the two offers, which must lie in
/// `MIN_SUPPORTED..=PROTOCOL_VERSION` of this build. Each side runs it with its own bounds; the
/// agent refuses the hello on error, the host drops the connection on error.
pub fn negotiate(host: u32, agent: u32) -> Result<u32, ProtocolError> {
    let agreed = host.min(agent);
    if (MIN_SUPPORTED..=PROTOCOL_VERSION).contains(&agreed) {
        Ok(agreed)
    } else {
        Err(ProtocolError::IncompatibleVersion { host, agent })
    }
}

/// The agent's answer to `hello`: [`AgentToHost::Hello`] with the agreed version, or
/// [`AgentToHost::Refused`] naming both versions.
pub fn answer_hello(
    hello: &HostHello,
    agent_version: &str,
    capabilities: &[Capability],
) -> AgentToHost {
    match negotiate(hello.protocol_version, PROTOCOL_VERSION) {
        Ok(protocol_version) => AgentToHost::Hello(AgentHello {
            protocol_version,
            agent_version: agent_version.to_owned(),
            capabilities: capabilities.to_vec(),
        }),
        Err(err) => AgentToHost::Refused {
            reason: err.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiate_accepts_current_version() {
        assert_eq!(
            negotiate(PROTOCOL_VERSION, PROTOCOL_VERSION).expect("same version"),
            PROTOCOL_VERSION
        );
        // A newer host talks down to us.
        assert_eq!(
            negotiate(PROTOCOL_VERSION + 1, PROTOCOL_VERSION).expect("newer host"),
            PROTOCOL_VERSION
        );
    }

    #[test]
    fn negotiate_refuses_unsupported_versions_naming_both() {
        for (host, agent) in [(0, PROTOCOL_VERSION), (PROTOCOL_VERSION, 0), (99, 42)] {
            let err = negotiate(host, agent).expect_err("incompatible");
            let text = err.to_string();
            assert!(text.contains(&format!("host speaks {host}")), "{text}");
            assert!(text.contains(&format!("agent speaks {agent}")), "{text}");
        }
    }

    #[test]
    fn wire_shape_is_as_documented() {
        let msg = HostToAgent::Request {
            id: 7,
            request: Request::LogTail(LogTail {
                source: LogSource::Engine,
                lines: 50,
                since: None,
            }),
        };
        let json = serde_json::to_string(&msg).expect("encodes");
        assert_eq!(
            json,
            r#"{"type":"request","id":7,"request":{"type":"log_tail","source":"engine","lines":50}}"#
        );
        let follow = Request::LogTail(LogTail {
            source: LogSource::Agent,
            lines: 10,
            since: Some(42),
        });
        assert_eq!(
            serde_json::to_string(&follow).expect("encodes"),
            r#"{"type":"log_tail","source":"agent","lines":10,"since":42}"#
        );
        let set = Request::SetTime(SetTime { unix_nanos: 5 });
        assert_eq!(
            serde_json::to_string(&set).expect("encodes"),
            r#"{"type":"set_time","unix_nanos":5}"#
        );
    }

    #[test]
    fn log_answers_of_older_agents_decode_without_numbers() {
        let json = r#"{"type":"log","lines":["a","b"],"truncated":true}"#;
        let response: Response = serde_json::from_str(json).expect("decodes");
        assert_eq!(
            response,
            Response::Log(LogBatch {
                lines: vec!["a".into(), "b".into()],
                truncated: true,
                next: 0,
                dropped: 0,
                more: false,
            })
        );
        let batch = LogBatch {
            lines: vec!["c".into()],
            next: 9,
            ..LogBatch::default()
        };
        assert_eq!(
            serde_json::to_string(&Response::Log(batch)).expect("encodes"),
            r#"{"type":"log","lines":["c"],"truncated":false,"next":9}"#
        );
    }

    #[test]
    fn capabilities_are_kebab_case_and_unknown_ones_from_newer_agents_parse() {
        let json = r#"{"protocol_version":3,"agent_version":"9.0.0",
            "capabilities":["file-events","log-seq","teleport","engine-api"]}"#;
        let hello: AgentHello = serde_json::from_str(json).expect("decodes");
        assert_eq!(
            hello.capabilities,
            [
                Capability::FileEvents,
                Capability::LogSeq,
                Capability::Unknown,
                Capability::EngineApi
            ]
        );
        assert!(hello.offers(Capability::FileEvents) && hello.offers(Capability::LogSeq));
        assert!(!hello.offers(Capability::Ports));
        // Whatever the newer agent meant, it is not offered as a known feature.
        assert!(!hello.offers(Capability::Unknown));
        assert_eq!(
            serde_json::to_string(&[Capability::TcpRelay, Capability::SetTime]).expect("encodes"),
            r#"["tcp-relay","set-time"]"#
        );
    }

    #[test]
    fn unknown_fields_and_error_codes_are_tolerated() {
        let json = r#"{"type":"response","id":1,"future":true,
            "response":{"type":"error","code":"quota","message":"m","hint":"h"}}"#;
        let msg: AgentToHost = serde_json::from_str(json).expect("decodes");
        assert_eq!(
            msg,
            AgentToHost::Response {
                id: 1,
                response: Response::Error {
                    code: ErrorCode::Other,
                    message: "m".into()
                }
            }
        );
    }

    #[test]
    fn published_ports_from_older_agents_decode_with_defaults() {
        let json = r#"{"type":"ports_changed","published":[
            {"container_id":"c1","protocol":"udp","host_ip":"0.0.0.0","port":53}]}"#;
        let event: Event = serde_json::from_str(json).expect("decodes");
        let Event::PortsChanged { published, more } = event else {
            panic!("not ports: {json}");
        };
        assert_eq!(
            published,
            vec![PublishedPort {
                container_id: "c1".into(),
                protocol: PortProtocol::Udp,
                host_ip: "0.0.0.0".into(),
                port: 53,
                container_name: String::new(),
                container_port: 0,
            }]
        );
        assert!(!more, "one page");
    }

    #[test]
    fn non_finite_floats_decode_as_zero() {
        let report = StatusReport {
            uptime_ms: 1,
            engine: EngineState::Ready,
            engine_version: None,
            cpu_percent: f32::NAN,
            memory_total_bytes: 0,
            memory_used_bytes: 0,
            disk_total_bytes: 0,
            disk_used_bytes: 0,
            load1: f32::INFINITY,
            guest_time_unix_ms: 0,
            container_logs_bytes: None,
        };
        let json = serde_json::to_string(&Response::Status(report)).expect("encodes");
        let Response::Status(back) = serde_json::from_str(&json).expect("decodes") else {
            panic!("not a status: {json}");
        };
        assert_eq!((back.cpu_percent, back.load1), (0.0, 0.0));
    }

    #[test]
    fn disk_pressure_starts_at_the_threshold() {
        const GIB: u64 = 1 << 30;
        assert_eq!(DiskPressure::of(0, 0), None);
        assert_eq!(DiskPressure::of(10 * GIB, 8 * GIB), None);
        assert_eq!(DiskPressure::of(10 * GIB, 9 * GIB - 1), None);
        assert_eq!(
            DiskPressure::of(10 * GIB, 9 * GIB),
            Some(DiskPressure::NearlyFull)
        );
        let almost = 10 * GIB - DISK_FULL_BELOW_BYTES;
        assert_eq!(
            DiskPressure::of(10 * GIB, almost),
            Some(DiskPressure::NearlyFull)
        );
        // ext4's own reserve stays free when writes already fail.
        assert_eq!(
            DiskPressure::of(10 * GIB, almost + 1),
            Some(DiskPressure::Full)
        );
        assert_eq!(
            DiskPressure::of(10 * GIB, 10 * GIB + 1),
            Some(DiskPressure::Full)
        );
        assert_eq!(
            DiskPressure::of(u64::MAX, u64::MAX - u64::MAX / 20),
            Some(DiskPressure::NearlyFull)
        );
    }
}
