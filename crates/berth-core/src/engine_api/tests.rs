//! The engine endpoint end to end on this OS's listener (the Unix socket, or under Wine the
//! named pipe): a real HTTP client on one side, a stand-in engine (an HTTP server on loopback
//! TCP) on the other, so what is shown is the relay itself: requests and answers intact,
//! streamed bodies, an upgraded connection carrying 64 MiB both ways at once with
//! half-close, a terminal's line delivered in one frame, a container create whose Windows host paths reach the engine translated, and
//! one whose bind of a host path outside every shared folder is reported in the answer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
#[cfg(unix)]
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::binds::Drive;
use super::relay::{Binds, Rewrite, Upstream};
use super::EngineEndpoint;

/// The stream moved each way.
const BIG: usize = 64 << 20;

/// The stand-in engine at a loopback address.
#[derive(Clone)]
struct TcpEngine(SocketAddr);

impl Upstream for TcpEngine {
    type Io = TcpStream;

    async fn connect(&self) -> std::io::Result<TcpStream> {
        TcpStream::connect(self.0).await
    }
}

/// Deterministic bytes, so each side can check the other's without keeping them.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Full<Bytes>> {
    let mut answer = Response::new(Full::new(Bytes::from(value.to_string())));
    *answer.status_mut() = status;
    answer
}

/// What the stand-in engine does with one request.
async fn engine(mut request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    Ok(match path.as_str() {
        "/_ping" => Response::new(Full::new(Bytes::from_static(b"OK"))),
        "/v1.47/containers/create" => {
            let body = request
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            let received: serde_json::Value = serde_json::from_slice(&body).expect("json");
            if received["Image"] == "refuse" {
                // As the engine refuses a `--mount` whose source the VM lacks.
                return Ok(json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"message": "bind source path does not exist: /srv/x"}),
                ));
            }
            json(
                StatusCode::CREATED,
                serde_json::json!({"Id": "c0ffee", "Warnings": [], "Received": received}),
            )
        }
        "/upload" => {
            let mut body = request.into_body();
            let (mut hash, mut len) = (Sha256::new(), 0usize);
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.expect("frame").into_data() {
                    hash.update(&data);
                    len += data.len();
                }
            }
            json(
                StatusCode::OK,
                serde_json::json!({"len": len, "sha256": hex::encode(hash.finalize())}),
            )
        }
        "/download" => Response::new(Full::new(Bytes::from(pattern(BIG)))),
        "/attach" => {
            // As the engine hijacks `attach`: 101, then raw bytes; this one echoes them.
            let upgrade = hyper::upgrade::on(&mut request);
            tokio::spawn(async move {
                let mut io = TokioIo::new(upgrade.await.expect("upgraded"));
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    let n = io.read(&mut buf).await.expect("read");
                    if n == 0 {
                        break;
                    }
                    io.write_all(&buf[..n]).await.expect("echo");
                }
                io.shutdown().await.expect("half-close");
            });
            upgrade_answer()
        }
        "/exec-tty" => {
            // As the engine starts an exec with a TTY: 101 with a raw stream, then the
            // terminal's output as the guest's line discipline hands it over, a line's end
            // apart from the line, and a prompt no line end follows.
            let upgrade = hyper::upgrade::on(&mut request);
            tokio::spawn(async move {
                let mut io = TokioIo::new(upgrade.await.expect("upgraded"));
                for (bytes, pause) in [(&b"hello out"[..], 5), (b"\r\n", 100), (b"$ ", 0)] {
                    io.write_all(&stdout_frame(bytes)).await.expect("write");
                    io.flush().await.expect("flush");
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                io.shutdown().await.expect("end");
            });
            let mut answer = upgrade_answer();
            // What dockerd answers an exec created with a TTY and started without the flag.
            answer.headers_mut().insert(
                "Content-Type",
                "application/vnd.docker.multiplexed-stream"
                    .parse()
                    .expect("header"),
            );
            answer
        }
        _ => json(StatusCode::NOT_FOUND, serde_json::json!({"message": path})),
    })
}

/// `payload` as a multiplexed stream's stdout frame.
fn stdout_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![1, 0, 0, 0];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// A `101` answer to a hijack, as the engine gives it.
fn upgrade_answer() -> Response<Full<Bytes>> {
    let mut answer = Response::new(Full::new(Bytes::new()));
    *answer.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    answer
        .headers_mut()
        .insert("Upgrade", "tcp".parse().expect("header"));
    answer
        .headers_mut()
        .insert("Connection", "Upgrade".parse().expect("header"));
    answer
}

async fn stand_in_engine() -> TcpEngine {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(engine))
                    .with_upgrades()
                    .await;
            });
        }
    });
    TcpEngine(address)
}

/// A name for the endpoint no other test uses.
fn endpoint_address(dir: &Path) -> PathBuf {
    #[cfg(unix)]
    return dir.join("docker.sock");
    #[cfg(windows)]
    return crate::paths::Paths::under(dir).pipe("engine");
}

async fn serve(address: &Path, upstream: TcpEngine, rewrite: Rewrite) -> EngineEndpoint {
    #[cfg(unix)]
    return super::socket::serve(address, upstream, rewrite)
        .await
        .expect("serve");
    #[cfg(windows)]
    return super::pipe::serve(address, upstream, rewrite).expect("serve");
}

/// A client connection to the endpoint, as the docker CLI opens it.
async fn dial(address: &Path) -> Box<dyn Io> {
    #[cfg(unix)]
    return Box::new(
        tokio::net::UnixStream::connect(address)
            .await
            .expect("connect"),
    );
    #[cfg(windows)]
    loop {
        let mut options = tokio::net::windows::named_pipe::ClientOptions::new();
        // As the docker CLI (go-winio) opens a message-mode pipe.
        options.pipe_mode(tokio::net::windows::named_pipe::PipeMode::Message);
        match options.open(address.as_os_str()) {
            Ok(pipe) => return Box::new(pipe),
            // Every instance busy for a moment: wait, as the docker CLI does.
            Err(e) if e.raw_os_error() == Some(231) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await
            }
            Err(e) => panic!("open {}: {e}", address.display()),
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn client(address: &Path) -> Sender {
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(dial(address).await))
            .await
            .expect("handshake");
    tokio::spawn(connection.with_upgrades());
    sender
}

fn request(method: &str, uri: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("Host", "docker")
        .body(Full::new(body.into()))
        .expect("request")
}

async fn send(sender: &mut Sender, request: Request<Full<Bytes>>) -> (StatusCode, Bytes) {
    sender.ready().await.expect("ready");
    let answer = sender.send_request(request).await.expect("answer");
    let status = answer.status();
    (
        status,
        answer.into_body().collect().await.expect("body").to_bytes(),
    )
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test]
async fn requests_and_streams_cross_the_endpoint_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let address = endpoint_address(dir.path());
    let _endpoint = serve(&address, stand_in_engine().await, Rewrite::nothing()).await;
    let mut sender = client(&address).await;

    // Several requests on one keep-alive connection.
    for _ in 0..3 {
        let (status, body) = send(&mut sender, request("GET", "/_ping", "")).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"OK"[..]));
    }
    // 64 MiB up as a request body, 64 MiB down as an answer.
    let big = pattern(BIG);
    let (status, body) = send(&mut sender, request("POST", "/upload", big.clone())).await;
    assert_eq!(status, StatusCode::OK);
    let got: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(got["len"], BIG);
    assert_eq!(got["sha256"], sha256(&big));
    let (status, body) = send(&mut sender, request("GET", "/download", "")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.len(), BIG);
    assert_eq!(sha256(&body), sha256(&big));
    let (status, _) = send(&mut sender, request("GET", "/nothing", "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A connection to the endpoint hijacked at `path` as the docker CLI does it: the request,
/// the 101 head (read byte by byte, so nothing after it is consumed), then the raw connection.
async fn hijack(address: &Path, path: &str) -> Box<dyn Io> {
    let mut pipe = dial(address).await;
    pipe.write_all(
        format!(
            "POST {path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\
             Content-Length: 0\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("request");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        pipe.read_exact(&mut byte).await.expect("the answer's head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    pipe
}

#[tokio::test]
async fn an_upgraded_connection_carries_64_mib_both_ways_with_half_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let address = endpoint_address(dir.path());
    let _endpoint = serve(&address, stand_in_engine().await, Rewrite::nothing()).await;
    let pipe = hijack(&address, "/attach").await;
    let (mut read, mut write) = tokio::io::split(pipe);
    let big = pattern(BIG);
    let expected = sha256(&big);
    // Writing and reading at once, as `docker run -i` does: neither side may wait for the
    // other to finish.
    let writer = tokio::spawn(async move {
        for chunk in big.chunks(1 << 20) {
            write.write_all(chunk).await.expect("write");
        }
        // stdin's end: the engine sees EOF, and its answer still arrives.
        end_of_input(&mut write).await;
        write
    });
    let mut echoed = Vec::with_capacity(BIG);
    read.read_to_end(&mut echoed)
        .await
        .expect("read to the engine's end");
    drop(writer.await.expect("writer"));
    assert_eq!(echoed.len(), BIG);
    assert_eq!(sha256(&echoed), expected);
}

#[tokio::test]
async fn a_terminal_line_reaches_the_client_in_one_frame_and_a_prompt_is_not_held_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let address = endpoint_address(dir.path());
    let _endpoint = serve(&address, stand_in_engine().await, Rewrite::nothing()).await;
    let mut pipe = hijack(&address, "/exec-tty").await;
    let mut buf = vec![0u8; 4096];
    let n = pipe.read(&mut buf).await.expect("the first line");
    assert_eq!(
        &buf[..n],
        stdout_frame(b"hello out\r\n"),
        "one frame in one read, as from a native engine"
    );
    let asked = std::time::Instant::now();
    let n = pipe.read(&mut buf).await.expect("the prompt");
    assert_eq!(&buf[..n], stdout_frame(b"$ "));
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(2),
        "a prompt waits {:?} at most, not for a line end",
        super::lines::LINE_HOLD
    );
    assert_eq!(pipe.read(&mut buf).await.expect("end"), 0);
}

/// The client's end of input: a half-close on a socket, a zero-length message on a pipe (what
/// a Windows docker client's `CloseWrite` sends).
async fn end_of_input<W: AsyncWrite + Unpin>(write: &mut W) {
    #[cfg(unix)]
    write.shutdown().await.expect("half-close");
    #[cfg(windows)]
    assert_eq!(write.write(&[]).await.expect("end of input"), 0);
}

/// C: is a local drive, N: a network drive; nothing else exists.
fn drives(letter: char) -> Drive {
    match letter {
        'C' => Drive::Local,
        'N' => Drive::Network,
        _ => Drive::Missing,
    }
}

#[tokio::test]
async fn a_create_with_windows_paths_reaches_the_engine_translated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let address = endpoint_address(dir.path());
    let _endpoint = serve(
        &address,
        stand_in_engine().await,
        Rewrite {
            binds: Binds::WslBinds(drives),
            memory_mib: None,
        },
    )
    .await;
    let mut sender = client(&address).await;
    // What `docker run -v C:\src\app:/app --mount type=bind,source=C:\data,target=/data`
    // sends from a Windows CLI.
    let create = serde_json::json!({
        "Image": "busybox",
        "HostConfig": {
            "Binds": [r"C:\Users\Ann Lee\src\app:/app:ro", "cache:/cache"],
            "Mounts": [{"Type": "bind", "Source": "C:/data", "Target": "/data"}]
        }
    });
    let (status, body) = send(
        &mut sender,
        request(
            "POST",
            "/v1.47/containers/create?name=web",
            create.to_string(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let got: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        got["Received"]["HostConfig"]["Binds"],
        serde_json::json!(["/mnt/c/Users/Ann Lee/src/app:/app:ro", "cache:/cache"])
    );
    assert_eq!(
        got["Received"]["HostConfig"]["Mounts"][0]["Source"],
        "/mnt/c/data"
    );

    // A path WSL cannot see never reaches the engine: the client gets the reason.
    let bad = serde_json::json!({"Image": "busybox", "HostConfig": {"Binds": [r"N:\team:/t"]}});
    let (status, body) = send(
        &mut sender,
        request("POST", "/v1.47/containers/create", bad.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let got: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let message = got["message"].as_str().expect("message");
    assert!(message.contains("network drive"), "{message}");
    // The connection goes on serving.
    let (status, _) = send(&mut sender, request("GET", "/_ping", "")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_engine_that_cannot_be_reached_is_an_api_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let address = endpoint_address(dir.path());
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("address");
    let _endpoint = serve(&address, TcpEngine(closed), Rewrite::nothing()).await;
    let mut sender = client(&address).await;
    let (status, body) = send(&mut sender, request("GET", "/_ping", "")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let got: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert!(
        got["message"]
            .as_str()
            .is_some_and(|m| m.contains("berth status")),
        "{got}"
    );
}

/// The relay as this OS runs it, sharing a new folder (the returned directory) in a VM of
/// 6 GiB, in front of the stand-in engine; with a client connection.
#[cfg(unix)]
async fn serve_sharing_a_folder() -> (tempfile::TempDir, EngineEndpoint, Sender) {
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = std::fs::canonicalize(dir.path()).expect("real");
    let address = endpoint_address(dir.path());
    let rewrite = Rewrite::for_this_os(std::slice::from_ref(&shared), 6144);
    let endpoint = serve(&address, stand_in_engine().await, rewrite).await;
    let sender = client(&address).await;
    (dir, endpoint, sender)
}

#[cfg(unix)]
#[tokio::test]
async fn a_bind_outside_every_shared_folder_is_reported_in_the_answer() {
    let (dir, _endpoint, mut sender) = serve_sharing_a_folder().await;
    let shared = std::fs::canonicalize(dir.path()).expect("real");
    let create = |image: &str, binds: Vec<String>| {
        serde_json::json!({"Image": image, "HostConfig": {"Binds": binds}}).to_string()
    };
    let inside = format!("{}:/w", shared.join("project").display());
    let outside = "/srv/berth-not-shared:/data".to_owned();
    let socket = "/var/run/docker.sock:/var/run/docker.sock".to_owned();

    // The create reaches the engine as sent; the answer gains one warning.
    let body = create(
        "busybox",
        vec![inside.clone(), outside.clone(), socket.clone()],
    );
    let (status, answer) = send(
        &mut sender,
        request("POST", "/v1.47/containers/create", body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let got: serde_json::Value = serde_json::from_slice(&answer).expect("json");
    assert_eq!(
        got["Received"]["HostConfig"]["Binds"],
        serde_json::json!([inside, outside, socket])
    );
    let warnings = got["Warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{got}");
    let warning = warnings[0].as_str().expect("text");
    assert!(
        warning.starts_with("/srv/berth-not-shared is not in a folder shared")
            && warning.contains("shared_folders"),
        "{warning}"
    );
    assert_eq!(got["Id"], "c0ffee");

    // Shared binds only: the answer as the engine sent it.
    let body = create("busybox", vec![inside.clone()]);
    let (_, answer) = send(
        &mut sender,
        request("POST", "/v1.47/containers/create", body),
    )
    .await;
    let got: serde_json::Value = serde_json::from_slice(&answer).expect("json");
    assert_eq!(got["Warnings"], serde_json::json!([]));

    // A refused create: the engine's message says why it does not exist.
    let body = create("refuse", vec![outside]);
    let (status, answer) = send(
        &mut sender,
        request("POST", "/v1.47/containers/create", body),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let got: serde_json::Value = serde_json::from_slice(&answer).expect("json");
    let message = got["message"].as_str().expect("message");
    assert!(
        message.starts_with(
            "bind source path does not exist: /srv/x (/srv/berth-not-shared is not in a folder \
             shared with the Berth VM: add it"
        ) && message.ends_with("restart Berth)"),
        "{message}"
    );
}

/// Runs on every OS: the Windows relay refuses too.
#[tokio::test]
async fn a_create_publishing_more_ports_than_the_vm_bears_is_refused_before_the_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let address = endpoint_address(dir.path());
    let rewrite = Rewrite {
        binds: Binds::Nothing,
        memory_mib: Some(6144),
    };
    let _endpoint = serve(&address, stand_in_engine().await, rewrite).await;
    let mut sender = client(&address).await;
    // What the docker CLI sends for `-p 10000-N:10000-N`, and the engine's answer as JSON.
    let mut create = async |ports: u16| {
        let bindings: serde_json::Map<String, serde_json::Value> = (10_000..10_000 + ports)
            .map(|p| {
                (
                    format!("{p}/tcp"),
                    serde_json::json!([{"HostPort": p.to_string()}]),
                )
            })
            .collect();
        let body =
            serde_json::json!({"Image": "busybox", "HostConfig": {"PortBindings": bindings}});
        let uri = "/v1.47/containers/create";
        let (status, answer) = send(&mut sender, request("POST", uri, body.to_string())).await;
        let got: serde_json::Value = serde_json::from_slice(&answer).expect("json");
        (status, got)
    };
    let (status, got) = create(10_001).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = got["message"].as_str().expect("message");
    assert!(
        message.contains("publishes 10001 ports") && message.contains("at most 256"),
        "{message}"
    );
    assert!(got.get("Received").is_none(), "the engine saw it: {got}");

    // Up to the limit, the create reaches the engine as sent, on the same connection.
    let (status, got) = create(256).await;
    assert_eq!(status, StatusCode::CREATED);
    let bindings = &got["Received"]["HostConfig"]["PortBindings"];
    assert_eq!(bindings.as_object().map(|b| b.len()), Some(256));
}

/// What the test's tracing subscriber writes.
#[cfg(unix)]
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(unix)]
impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(unix)]
impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(unix)]
impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Credentials cross the relay in bodies (`POST /auth`, a create's environment) and headers
/// (`X-Registry-Auth` of a pull or push, `Authorization`): none reaches the log at any level.
/// A current-thread runtime, so every task the relay spawns logs to this test's subscriber.
#[cfg(unix)]
#[tokio::test]
async fn no_body_or_header_of_a_request_reaches_the_log_even_at_trace() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let (_dir, _endpoint, mut sender) = serve_sharing_a_folder().await;

    const IN_BODY: &str = "body-secret-7f3a";
    const IN_HEADER: &str = "header-secret-91c2";
    // `{"username":"me","password":"header-secret-91c2"}` in base64, as the docker CLI sends it.
    let registry_auth = "eyJ1c2VybmFtZSI6Im1lIiwicGFzc3dvcmQiOiJoZWFkZXItc2VjcmV0LTkxYzIifQ==";
    let with_credentials = |mut request: Request<Full<Bytes>>| {
        let headers = request.headers_mut();
        headers.insert("X-Registry-Auth", HeaderValue::from_static(registry_auth));
        let bearer = format!("Bearer {IN_HEADER}");
        headers.insert("Authorization", bearer.parse().expect("header"));
        request
    };
    // A create the relay reads whole (and logs a warning about: its bind is not shared).
    let create = serde_json::json!({
        "Image": "busybox",
        "Env": [format!("PASSWORD={IN_BODY}")],
        "HostConfig": {"Binds": ["/srv/berth-not-shared:/data"]},
    });
    let (status, _) = send(
        &mut sender,
        with_credentials(request(
            "POST",
            "/v1.47/containers/create",
            create.to_string(),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let login = serde_json::json!({"username": "me", "password": IN_BODY}).to_string();
    send(
        &mut sender,
        with_credentials(request("POST", "/auth", login)),
    )
    .await;
    let pull = "/v1.47/images/create?fromImage=registry.internal/app&tag=1";
    send(&mut sender, with_credentials(request("POST", pull, ""))).await;
    drop(sender);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let log = captured.text();
    // The log was captured: the create's warning is in it.
    assert!(log.contains("/srv/berth-not-shared"), "{log}");
    for secret in [IN_BODY, IN_HEADER, registry_auth] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}
