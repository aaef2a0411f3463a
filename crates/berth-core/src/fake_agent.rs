//! A stand-in for the guest agent's control port, for unit tests of the host's clients: a
//! hybrid vsock socket (`CONNECT` → `OK`) whose connections behave as a script says, so tests
//! can drop a connection at a chosen point. Like the agent, it closes a connection that does
//! not start with its secret. Built for this crate's tests and, with the
//! `fake-agent` feature, for other crates' tests; the real agent is exercised end to end.
//!
//! Dropping a [`FakeAgent`] (or [`FakeAgent::stop`]) ends it as a powered-off VM would: the
//! listener and every open connection close, and the socket file is removed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_protocol::frame::AgentCodec;
use berth_protocol::message::{
    answer_hello, AgentToHost, Capability, Event, HostToAgent, Request, Response,
};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::{AbortHandle, JoinSet};
use tokio_util::codec::Framed;

use berth_protocol::auth::read_preamble;

use crate::agent::AgentAddress;
use crate::vsock::Endpoint;

/// What the stand-in does on one connection.
#[derive(Debug, Clone)]
pub enum Conduct {
    /// Takes the hello, then closes without answering.
    CloseAfterHello,
    /// Answers the hello, takes one request (recorded), then closes without answering.
    CloseAfterRequest,
    /// Answers every request with `Ok`; after `Subscribe` it sends `events`, then keeps the
    /// connection open.
    Serve {
        /// Events sent after `Subscribe`.
        events: Vec<Event>,
    },
    /// Answers the requests with `responses` in order, then with `Ok`; keeps the connection
    /// open.
    Answer {
        /// The answers, the first to the first request.
        responses: Vec<Response>,
    },
}

/// A running stand-in agent.
#[derive(Debug)]
pub struct FakeAgent {
    /// Where to connect, with the secret it expects.
    pub address: AgentAddress,
    requests: Arc<Mutex<Vec<Request>>>,
    /// The socket file, until stopped.
    socket: Option<PathBuf>,
    /// The accept loop, which owns the connections' tasks.
    server: AbortHandle,
}

impl FakeAgent {
    /// Listens on `dir/vsock.sock`, offering `capabilities` in its hello; connection N
    /// behaves as `script[N]`, the last entry repeating. Panics on an empty script or when
    /// the socket cannot be bound.
    pub fn start(dir: &Path, capabilities: &[Capability], script: Vec<Conduct>) -> FakeAgent {
        Self::try_start(dir, capabilities, script).expect("bind the fake agent's socket")
    }

    /// [`FakeAgent::start`], with an error when the socket cannot be bound. Panics on an
    /// empty script.
    pub fn try_start(
        dir: &Path,
        capabilities: &[Capability],
        script: Vec<Conduct>,
    ) -> std::io::Result<FakeAgent> {
        let capabilities: Arc<Vec<Capability>> = Arc::new(capabilities.to_vec());
        assert!(!script.is_empty(), "a script needs a conduct");
        let path = dir.join(crate::paths::run_dir::VSOCK_SOCKET);
        let listener = UnixListener::bind(&path)?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let address = AgentAddress {
            vsock: Endpoint::Hybrid(path.clone()),
            secret: crate::agent::new_secret()?,
        };
        let secret = address.secret.clone();
        let server = tokio::spawn(async move {
            // Dropped with the accept loop, which aborts every connection.
            let mut connections = JoinSet::new();
            for n in 0.. {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                while connections.try_join_next().is_some() {}
                let conduct = script[n.min(script.len() - 1)].clone();
                let secret = secret.clone();
                connections.spawn(serve(
                    stream,
                    secret,
                    conduct,
                    capabilities.clone(),
                    seen.clone(),
                ));
            }
        });
        Ok(FakeAgent {
            address,
            requests,
            socket: Some(path),
            server: server.abort_handle(),
        })
    }

    /// Stops listening, closes every connection and removes the socket. Also done on drop.
    pub fn stop(&mut self) {
        self.server.abort();
        if let Some(socket) = self.socket.take() {
            let _ = std::fs::remove_file(socket);
        }
    }

    /// Every request received so far, on any connection, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("requests").clone()
    }
}

impl Drop for FakeAgent {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(
    stream: UnixStream,
    secret: berth_protocol::auth::BootSecret,
    conduct: Conduct,
    capabilities: Arc<Vec<Capability>>,
    requests: Arc<Mutex<Vec<Request>>>,
) {
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    if stream.read_line(&mut line).await.is_err() || !line.starts_with("CONNECT ") {
        return;
    }
    let mut stream = stream.into_inner();
    if stream.write_all(b"OK 1\n").await.is_err() {
        return;
    }
    if !matches!(read_preamble(&mut stream).await, Ok(p) if secret.matches(&p)) {
        return;
    }
    let mut framed = Framed::new(stream, AgentCodec::new());
    let Some(Ok(HostToAgent::Hello(hello))) = framed.next().await else {
        return;
    };
    let close_after_request = matches!(conduct, Conduct::CloseAfterRequest);
    let (events, mut responses) = match conduct {
        Conduct::CloseAfterHello => return,
        Conduct::CloseAfterRequest => (Vec::new(), Vec::new()),
        Conduct::Serve { events } => (events, Vec::new()),
        Conduct::Answer { responses } => (Vec::new(), responses),
    };
    responses.reverse();
    if framed
        .send(answer_hello(&hello, "fake", &capabilities))
        .await
        .is_err()
    {
        return;
    }
    while let Some(Ok(HostToAgent::Request { id, request })) = framed.next().await {
        let subscribe = request == Request::Subscribe;
        requests.lock().expect("requests").push(request);
        if close_after_request {
            return;
        }
        let response = responses.pop().unwrap_or(Response::Ok);
        if framed
            .send(AgentToHost::Response { id, response })
            .await
            .is_err()
        {
            return;
        }
        if subscribe {
            for event in events.iter().cloned() {
                if framed.send(AgentToHost::Event { event }).await.is_err() {
                    return;
                }
            }
        }
    }
}
