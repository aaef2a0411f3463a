//! The host's client of the guest agent: the control connection (handshake, typed calls,
//! events) and data connections, over any vsock transport. Each connection starts with the
//! boot's secret ([`berth_protocol::auth`]), so an [`AgentAddress`] is where the agent is and
//! that secret.
//!
//! [`AgentClient::call`] sends one [`Call`] and returns its typed answer; an error answer or
//! another request's answer becomes an [`AgentError`] there, the one place. Each call runs in
//! an `agent_call` span (its id and the request's kind), each data connection's opening in an
//! `agent_data` span (its header), so a log line says which one it belongs to.

use std::collections::VecDeque;
use std::time::Duration;

use berth_protocol::auth::{write_preamble, BootSecret, SECRET_LEN};
use berth_protocol::call::Call;
use berth_protocol::data::{read_reply, write_header, DataHeader, DataReply};
use berth_protocol::frame::HostCodec;
use berth_protocol::message::{
    negotiate, AgentHello, AgentToHost, ErrorCode, Event, HostHello, HostToAgent, Request, Response,
};
use berth_protocol::{ProtocolError, CONTROL_PORT, DATA_PORT, PROTOCOL_VERSION};
use futures_util::{SinkExt, StreamExt};
use tokio_util::codec::Framed;
use tracing::Instrument;

use crate::vsock::{self, Endpoint, GuestStream, VsockError};

/// Where one boot's agent is, and the secret its connections must start with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentAddress {
    /// Where the guest's vsock ports are reached.
    pub vsock: Endpoint,
    /// The boot's secret.
    pub secret: BootSecret,
}

impl AgentAddress {
    /// The agent at `vsock`, expecting `secret`.
    pub fn new(vsock: impl Into<Endpoint>, secret: BootSecret) -> AgentAddress {
        AgentAddress {
            vsock: vsock.into(),
            secret,
        }
    }
}

impl From<&AgentAddress> for AgentAddress {
    fn from(address: &AgentAddress) -> Self {
        address.clone()
    }
}

impl std::fmt::Display for AgentAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.vsock.fmt(f)
    }
}

/// A new boot's secret, from the OS's random source.
pub fn new_secret() -> Result<BootSecret, std::io::Error> {
    let mut bytes = [0u8; SECRET_LEN];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(BootSecret::from_bytes(bytes))
}

/// Waits between attempts when the guest refuses a vsock connection: its listen queue
/// overflows for a moment when hundreds of connections arrive at once (a crowd on a
/// published port), and a refused connection has sent nothing, so trying again is safe.
/// About 3 s in all: the agent's queue is deep (4096), but a guest slowed by TCG takes
/// seconds to accept a crowd; a guest whose agent is gone is reported after that.
const REFUSED_RETRIES: [Duration; 6] = [
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
    Duration::from_millis(1600),
];

/// Connects to `port` of the agent at `address` and sends the preamble.
pub async fn connect_port(address: &AgentAddress, port: u32) -> Result<GuestStream, AgentError> {
    let mut retries = REFUSED_RETRIES.iter();
    let mut stream = loop {
        match vsock::connect(&address.vsock, port).await {
            Err(VsockError::Refused { .. }) if retries.len() > 0 => {
                if let Some(pause) = retries.next() {
                    tokio::time::sleep(*pause).await;
                }
            }
            other => break other?,
        }
    };
    write_preamble(&mut stream, &address.secret)
        .await
        .map_err(|e| AgentError::Protocol(ProtocolError::Io(e)))?;
    Ok(stream)
}

/// How long the agent may take to answer one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Events kept while waiting for a response; past it they are dropped and the next
/// [`AgentClient::next_event`] says so ([`AgentError::EventsLost`]).
const MAX_QUEUED_EVENTS: usize = 1024;

/// Why talking to the agent failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The vsock connection failed.
    #[error(transparent)]
    Vsock(#[from] VsockError),
    /// The agent refused the handshake (incompatible versions).
    #[error("the agent refused the connection: {0}")]
    Refused(String),
    /// The agent sent something that is not the protocol.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The agent answered out of turn, or with another request's answer.
    #[error("unexpected message from the agent: {0}")]
    Unexpected(String),
    /// The agent could not carry out a request and said why.
    #[error("the agent failed the {request} request: {message}")]
    Failed {
        /// The request's kind ([`Request::kind`]).
        request: &'static str,
        /// The kind of failure.
        code: ErrorCode,
        /// The agent's explanation.
        message: String,
    },
    /// The agent closed the connection.
    #[error("the agent closed the connection")]
    Closed,
    /// No answer in time.
    #[error("the agent did not answer within {0:?}")]
    Timeout(Duration),
    /// The data connection's target was refused by the agent.
    #[error("the agent refused the data connection: {0}")]
    DataRefused(String),
    /// More events arrived while a request waited than are kept: some were dropped, so a
    /// follower must subscribe again for the current state.
    #[error(
        "events from the agent were dropped (over {MAX_QUEUED_EVENTS} queued); subscribe again"
    )]
    EventsLost,
}

/// A control connection after a successful handshake.
pub struct AgentClient {
    framed: Framed<GuestStream, HostCodec>,
    next_id: u64,
    events: VecDeque<Event>,
    /// Events were dropped since the last [`AgentClient::next_event`].
    lost: bool,
    /// The agent's answer to the handshake.
    pub hello: AgentHello,
}

impl AgentClient {
    /// Connects to the agent's control port and negotiates the protocol version.
    pub async fn connect(address: impl Into<AgentAddress>) -> Result<AgentClient, AgentError> {
        Self::connect_as(address, PROTOCOL_VERSION).await
    }

    /// [`AgentClient::connect`] offering `protocol_version` (tests use it to play an
    /// incompatible host).
    pub async fn connect_as(
        address: impl Into<AgentAddress>,
        protocol_version: u32,
    ) -> Result<AgentClient, AgentError> {
        let stream = connect_port(&address.into(), CONTROL_PORT).await?;
        let mut framed = Framed::new(stream, HostCodec::new());
        let hello = HostHello {
            protocol_version,
            host_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        framed.send(HostToAgent::Hello(hello)).await?;
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, framed.next())
            .await
            .map_err(|_| AgentError::Timeout(REQUEST_TIMEOUT))?;
        match answer {
            Some(Ok(AgentToHost::Hello(hello))) => {
                negotiate(PROTOCOL_VERSION, hello.protocol_version)?;
                Ok(AgentClient {
                    framed,
                    next_id: 1,
                    events: VecDeque::new(),
                    lost: false,
                    hello,
                })
            }
            Some(Ok(AgentToHost::Refused { reason })) => Err(AgentError::Refused(reason)),
            Some(Ok(other)) => Err(AgentError::Unexpected(format!("{other:?}"))),
            Some(Err(err)) => Err(err.into()),
            None => Err(AgentError::Closed),
        }
    }

    /// Whether the agent offered `capability` in its hello.
    pub fn offers(&self, capability: berth_protocol::message::Capability) -> bool {
        self.hello.offers(capability)
    }

    /// Sends `call` and waits for its answer; events arriving meanwhile are kept for
    /// [`AgentClient::next_event`]. The agent's error answer is [`AgentError::Failed`],
    /// another kind of answer [`AgentError::Unexpected`].
    pub async fn call<C: Call>(&mut self, call: C) -> Result<C::Response, AgentError> {
        let request: Request = call.into();
        let kind = request.kind();
        let span = tracing::info_span!("agent_call", id = self.next_id, request = kind);
        async move {
            let response = self.request(request).await?;
            C::from_response(response).map_err(|other| match other {
                Response::Error { code, message } => {
                    tracing::debug!("the agent failed it ({code:?}): {message}");
                    AgentError::Failed {
                        request: kind,
                        code,
                        message,
                    }
                }
                other => AgentError::Unexpected(format!(
                    "a `{}` answer to a `{kind}` request",
                    other.kind()
                )),
            })
        }
        .instrument(span)
        .await
    }

    /// Sends `request` and waits for its response.
    async fn request(&mut self, request: Request) -> Result<Response, AgentError> {
        let id = self.next_id;
        self.next_id += 1;
        self.framed
            .send(HostToAgent::Request { id, request })
            .await?;
        loop {
            match self.receive().await? {
                AgentToHost::Response { id: got, response } if got == id => return Ok(response),
                AgentToHost::Event { event } => self.queue(event),
                other => return Err(AgentError::Unexpected(unexpected(&other))),
            }
        }
    }

    /// The next event (after [`Request::Subscribe`]). Events come when something happens, so
    /// this waits as long as it takes: callers bound it if they must.
    pub async fn next_event(&mut self) -> Result<Event, AgentError> {
        if std::mem::take(&mut self.lost) {
            return Err(AgentError::EventsLost);
        }
        if let Some(event) = self.events.pop_front() {
            return Ok(event);
        }
        match self.framed.next().await {
            None => Err(AgentError::Closed),
            Some(Ok(AgentToHost::Event { event })) => Ok(event),
            Some(Ok(other)) => Err(AgentError::Unexpected(unexpected(&other))),
            Some(Err(err)) => Err(err.into()),
        }
    }

    /// Keeps an event that arrived while a request waited, or drops them all past
    /// [`MAX_QUEUED_EVENTS`]: a follower then starts again from the agent's current state
    /// rather than from a set with pages missing.
    fn queue(&mut self, event: Event) {
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.events.clear();
            self.lost = true;
        }
        if !self.lost {
            self.events.push_back(event);
        }
    }

    async fn receive(&mut self) -> Result<AgentToHost, AgentError> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.framed.next()).await {
            Err(_) => Err(AgentError::Timeout(REQUEST_TIMEOUT)),
            Ok(None) => Err(AgentError::Closed),
            Ok(Some(message)) => Ok(message?),
        }
    }
}

/// A message the host did not expect, for [`AgentError::Unexpected`]: its kind and, for a
/// response, its id (a log answer's lines are not worth repeating).
fn unexpected(message: &AgentToHost) -> String {
    match message {
        AgentToHost::Hello(_) => "a second hello".to_owned(),
        AgentToHost::Refused { reason } => format!("a refusal after the hello: {reason}"),
        AgentToHost::Response { id, response } => {
            format!("a `{}` answer to request {id}", response.kind())
        }
        AgentToHost::Event { event } => format!("an event out of turn: {event:?}"),
    }
}

/// Opens a data connection to `header`'s target and returns the accepted vsock stream, which
/// carries [`berth_protocol::stream`] chunks: join it to a plain stream with
/// [`berth_protocol::stream::relay`], or use [`open_data_plain`].
pub async fn open_data(
    address: impl Into<AgentAddress>,
    header: DataHeader,
) -> Result<GuestStream, AgentError> {
    let address = address.into();
    // The header's Debug names its kind and target (`Tcp { port: 8080 }`).
    let span = tracing::info_span!("agent_data", header = ?header);
    async move {
        let mut stream = connect_port(&address, DATA_PORT).await?;
        write_header(&mut stream, &header).await?;
        match tokio::time::timeout(REQUEST_TIMEOUT, read_reply(&mut stream)).await {
            Err(_) => Err(AgentError::Timeout(REQUEST_TIMEOUT)),
            Ok(Ok(DataReply::Accepted)) => Ok(stream),
            Ok(Ok(DataReply::Refused { reason })) => {
                tracing::debug!("refused: {reason}");
                Err(AgentError::DataRefused(reason))
            }
            Ok(Err(err)) => Err(err.into()),
        }
    }
    .instrument(span)
    .await
}

/// [`open_data`], relayed to an in-process plain stream: bytes written to the returned stream
/// reach the target, its `shutdown` is a half-close, and EOF means the target finished.
pub async fn open_data_plain(
    address: impl Into<AgentAddress>,
    header: DataHeader,
) -> Result<tokio::io::DuplexStream, AgentError> {
    let stream = open_data(address, header).await?;
    let (local, relayed) = tokio::io::duplex(berth_protocol::stream::MAX_CHUNK);
    tokio::spawn(async move {
        if let Err(err) = berth_protocol::stream::relay(stream, relayed).await {
            tracing::debug!("data relay ended: {err}");
        }
    });
    Ok(local)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::fake_agent::{Conduct, FakeAgent};
    use berth_protocol::call::{LogTail, Ping, SetTime, Status, Subscribe};
    use berth_protocol::message::{Capability, LogBatch, LogSource};

    fn answering(dir: &std::path::Path, responses: Vec<Response>) -> FakeAgent {
        FakeAgent::start(
            dir,
            &[Capability::Events],
            vec![Conduct::Answer { responses }],
        )
    }

    #[tokio::test]
    async fn a_call_gets_its_typed_answer_and_the_agent_sees_its_request() {
        let dir = tempfile::tempdir().expect("tempdir");
        let batch = LogBatch {
            lines: vec!["a".into()],
            next: 1,
            ..LogBatch::default()
        };
        let agent = answering(
            dir.path(),
            vec![Response::Pong, Response::Log(batch.clone()), Response::Ok],
        );
        let mut client = AgentClient::connect(&agent.address).await.expect("hello");
        assert!(client.offers(Capability::Events) && !client.offers(Capability::LogSeq));
        client.call(Ping).await.expect("pong");
        let tail = LogTail {
            source: LogSource::Agent,
            lines: 5,
            since: Some(0),
        };
        assert_eq!(client.call(tail).await.expect("log"), batch);
        client.call(SetTime { unix_nanos: 9 }).await.expect("ok");
        assert_eq!(
            agent.requests(),
            [
                Request::Ping,
                Request::LogTail(tail),
                Request::SetTime(SetTime { unix_nanos: 9 })
            ]
        );
    }

    #[tokio::test]
    async fn error_and_foreign_answers_are_mapped_in_one_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let failed = Response::Error {
            code: ErrorCode::Unsupported,
            message: "no such log".into(),
        };
        let agent = answering(dir.path(), vec![failed, Response::Pong, Response::Ok]);
        let mut client = AgentClient::connect(&agent.address).await.expect("hello");
        let err = client.call(Status).await.expect_err("an error answer");
        assert!(
            matches!(
                &err,
                AgentError::Failed {
                    request: "status",
                    code: ErrorCode::Unsupported,
                    message,
                } if message == "no such log"
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the agent failed the status request: no such log"
        );
        let err = client.call(Subscribe).await.expect_err("a pong is no ok");
        assert_eq!(
            err.to_string(),
            "unexpected message from the agent: a `pong` answer to a `subscribe` request"
        );
        // The connection stays usable after both.
        client.call(Subscribe).await.expect("ok");
    }
}
