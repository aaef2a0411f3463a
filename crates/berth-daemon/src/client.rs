//! [`SupervisorClient`]: how the CLI and the app drive the daemon. Starting launches the
//! daemon detached ([`Launcher`]: its own process group and session, standard input carrying
//! the [`StartOptions`] as JSON, output appended to `berth.log`), so it outlives the terminal
//! and the app; every conversation after that is on the command channel
//! ([`crate::messages`]). `state.json` is the record a client reads when no daemon answers
//! (stopped, or died), and a signal to the pid it names is the fallback stop for a daemon
//! that does not answer its channel (hung, or an older Berth without one).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use berth_core::instance::{self, Failure, VmState, VmView};
use berth_core::paths::Paths;
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::messages::{ClientCodec, Reply, Request, CHANNEL_VERSION};
use crate::options::StartOptions;

/// How long a daemon may take to accept and answer the hello.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a paused VM may take to resume for [`SupervisorClient::hold_awake`].
pub const WAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stop may take before the client gives up.
pub const STOP_WAIT: Duration = Duration::from_secs(90);
/// A start waits this much longer than its boot timeout (settings, image check, helpers).
const START_SLACK: Duration = Duration::from_secs(30);

/// Why a client could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The daemon failed; its own failure, with code and field.
    #[error("{}", .0.message)]
    Failed(Failure),
    /// The daemon holds the lock but does not answer its channel.
    #[error("the Berth daemon (pid {pid}) does not answer on {socket}: {why}; `berth stop` stops it (by signal if need be)")]
    Unresponsive {
        /// The daemon's pid, from `state.json` (0 when unknown).
        pid: u32,
        /// The channel's socket.
        socket: PathBuf,
        /// What went wrong.
        why: String,
    },
    /// The daemon speaks another channel version.
    #[error("{0}")]
    Version(String),
    /// The daemon could not be launched.
    #[error("cannot launch the Berth daemon {program}: {source}")]
    Launch {
        /// The program.
        program: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The daemon exited before the VM ran, without publishing why.
    #[error("the Berth daemon exited ({status}) before the engine was ready; its log: {log}")]
    Exited {
        /// Its exit status.
        status: String,
        /// Its log.
        log: PathBuf,
    },
    /// The start did not finish in time.
    #[error("Berth did not start within {after:?}; its log: {log}")]
    StartTimeout {
        /// The time allowed.
        after: Duration,
        /// The daemon's log.
        log: PathBuf,
    },
    /// The stop did not finish in time.
    #[error("Berth (pid {pid}) did not stop within {after:?}; its log: {log}")]
    StopTimeout {
        /// The daemon's pid.
        pid: u32,
        /// The time allowed.
        after: Duration,
        /// The daemon's log.
        log: PathBuf,
    },
    /// A file in Berth's directories could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl ClientError {
    /// A stable, machine-readable name for the failure (the daemon's own for
    /// [`ClientError::Failed`]).
    pub fn code(&self) -> &str {
        match self {
            ClientError::Failed(failure) => &failure.code,
            ClientError::Unresponsive { .. } => "daemon_unresponsive",
            ClientError::Version(_) => "daemon_version",
            ClientError::Launch { .. } => "daemon_launch",
            ClientError::Exited { .. } => "daemon_exited",
            ClientError::StartTimeout { .. } => "start_timeout",
            ClientError::StopTimeout { .. } => "stop_timeout",
            ClientError::Io { .. } => "io",
        }
    }

    /// The setting at fault, for settings errors.
    pub fn field(&self) -> Option<&str> {
        match self {
            ClientError::Failed(failure) => failure.field.as_deref(),
            _ => None,
        }
    }

    /// The failure as clients show it (the daemon's own for [`ClientError::Failed`]).
    pub fn failure(&self) -> Failure {
        match self {
            ClientError::Failed(failure) => failure.clone(),
            other => Failure {
                code: other.code().to_owned(),
                message: other.to_string(),
                field: None,
            },
        }
    }
}

/// How to run the daemon: a program and its arguments (`berth supervise`,
/// `berth-desktop --supervise`); the options arrive on its standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables set for it beside the inherited environment (tests allow root with
    /// [`crate::root::ALLOW_ROOT`]).
    pub env: Vec<(OsString, OsString)>,
}

impl Launcher {
    /// This executable with `args`.
    pub fn current_exe(args: &[&str]) -> std::io::Result<Launcher> {
        Ok(Launcher {
            program: std::env::current_exe()?,
            args: args.iter().map(OsString::from).collect(),
            env: Vec::new(),
        })
    }
}

/// A connected, greeted command channel.
struct Connection {
    framed: tokio_util::codec::Framed<ChannelStream, ClientCodec>,
    pid: u32,
    socket: PathBuf,
}

/// The VM kept awake (the resource saver does not pause it) while this lives.
pub struct AwakeHold {
    _connection: Connection,
}

#[cfg(unix)]
type ChannelStream = tokio::net::UnixStream;
#[cfg(windows)]
type ChannelStream = tokio::net::windows::named_pipe::NamedPipeClient;

/// The client of one user's daemon.
#[derive(Debug, Clone)]
pub struct SupervisorClient {
    paths: Paths,
    launcher: Launcher,
}

impl SupervisorClient {
    /// A client of the daemon in `paths`, which `launcher` starts.
    pub fn new(paths: Paths, launcher: Launcher) -> SupervisorClient {
        SupervisorClient { paths, launcher }
    }

    /// Berth's directories.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The channel's address: its socket (a named pipe on Windows).
    pub fn socket(&self) -> PathBuf {
        crate::messages::address(&self.paths)
    }

    /// The daemon's log.
    pub fn log(&self) -> PathBuf {
        self.paths.supervisor_log()
    }

    /// The view `state.json` records, corrected when its daemon died.
    pub fn recorded(&self) -> VmView {
        VmView::of(instance::read_state(&self.paths.runtime).as_ref())
    }

    /// Whether a daemon holds the instance lock.
    pub fn is_running(&self) -> bool {
        instance::is_locked(&self.paths.runtime)
    }

    /// The VM's view: the daemon's answer, or the record when none runs.
    pub async fn status(&self) -> Result<VmView, ClientError> {
        if !self.is_running() {
            return Ok(self.recorded());
        }
        let mut conn = self.connect().await?;
        conn.send(Request::Status).await?;
        match conn.next().await? {
            Some(Reply::View { view }) => Ok(view),
            other => Err(self.unexpected(conn.pid, other)),
        }
    }

    /// Keeps the VM awake while the returned hold lives, resuming it first if the resource
    /// saver paused it (`berth shell`, `berth logs` hold it for as long as they run).
    pub async fn hold_awake(&self) -> Result<AwakeHold, ClientError> {
        let mut conn = self.connect().await?;
        conn.send(Request::Hold).await?;
        match tokio::time::timeout(WAKE_TIMEOUT, conn.next()).await {
            Ok(reply) => match reply? {
                Some(Reply::Awake) => Ok(AwakeHold { _connection: conn }),
                other => Err(self.unexpected(conn.pid, other)),
            },
            Err(_) => Err(ClientError::Unresponsive {
                pid: conn.pid,
                socket: conn.socket.clone(),
                why: format!("the VM did not resume within {WAKE_TIMEOUT:?}"),
            }),
        }
    }

    /// Keeps the VM from pausing while the returned hold lives, if it is awake now; `None`
    /// when it is paused (it is not woken): `berth status` reads the guest only then.
    pub async fn observe(&self) -> Result<Option<AwakeHold>, ClientError> {
        let mut conn = self.connect().await?;
        conn.send(Request::Observe).await?;
        match conn.next().await? {
            Some(Reply::Awake) => Ok(Some(AwakeHold { _connection: conn })),
            Some(Reply::Asleep) => Ok(None),
            other => Err(self.unexpected(conn.pid, other)),
        }
    }

    /// Pauses the VM now (`berth pause`): `Ok(None)` once paused, `Ok(Some(reason))` when
    /// the daemon would not.
    pub async fn pause(&self) -> Result<Option<String>, ClientError> {
        let mut conn = self.connect().await?;
        conn.send(Request::Pause).await?;
        match conn.next().await? {
            Some(Reply::Paused) => Ok(None),
            Some(Reply::NotPaused { reason }) => Ok(Some(reason)),
            other => Err(self.unexpected(conn.pid, other)),
        }
    }

    /// Starts the VM unless it runs, reporting each view to `progress`; returns once the
    /// engine answers, or with the daemon's failure (its code and field intact).
    pub async fn start(
        &self,
        options: &StartOptions,
        mut progress: impl FnMut(&VmView),
    ) -> Result<VmView, ClientError> {
        let allowed = options.timeout() + START_SLACK;
        let deadline = Instant::now() + allowed;
        if self.is_running() {
            // Already running or starting (another client's start): follow it. One that does
            // not answer (an older Berth's) but records a running engine is taken as running.
            return match self.connect().await {
                Ok(conn) => {
                    self.follow(conn, deadline, allowed, &mut progress, None)
                        .await
                }
                Err(err) => match self.recorded() {
                    view if view.state.is_up() => Ok(view),
                    _ => Err(err),
                },
            };
        }
        let mut child = self.launch(options).await?;
        let conn = loop {
            match self.connect().await {
                Ok(conn) => break conn,
                Err(err) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(self.exited(status.to_string()));
                    }
                    if Instant::now() > deadline {
                        return Err(err);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        self.follow(conn, deadline, allowed, &mut progress, Some(child))
            .await
    }

    /// Stops the VM if it runs and waits until the daemon has exited. Returns whether one ran.
    pub async fn stop(&self) -> Result<bool, ClientError> {
        if !self.is_running() {
            return Ok(false);
        }
        let pid = match self.connect().await {
            Ok(mut conn) => {
                conn.send(Request::Stop).await?;
                match conn.next().await? {
                    Some(Reply::Stopping) | None => conn.pid,
                    other => return Err(self.unexpected(conn.pid, other)),
                }
            }
            Err(err) => {
                let pid = instance::read_state(&self.paths.runtime).map_or(0, |s| s.pid);
                tracing::warn!("{err}; stopping the daemon (pid {pid}) by signal");
                signal_stop(pid).map_err(|source| ClientError::Io {
                    path: instance::state_path(&self.paths.runtime),
                    source,
                })?;
                pid
            }
        };
        let deadline = Instant::now() + STOP_WAIT;
        while self.is_running() {
            if Instant::now() > deadline {
                return Err(ClientError::StopTimeout {
                    pid,
                    after: STOP_WAIT,
                    log: self.log(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(true)
    }

    /// Launches the daemon detached, its options on its standard input.
    async fn launch(&self, options: &StartOptions) -> Result<tokio::process::Child, ClientError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ClientError::Io { path, source }
        };
        // The log tells what the VM does: the user's alone (0600 in a 0700 directory).
        berth_core::paths::ensure_private_dir(&self.paths.logs).map_err(io(&self.paths.logs))?;
        let log_path = self.log();
        // Bounded: a large log from earlier runs becomes `berth.log.1` (`logfile`).
        let _ = berth_core::logfile::rotate_if_large(&log_path, berth_core::logfile::MAX_LOG);
        let log = berth_core::logfile::open_private(&log_path).map_err(io(&log_path))?;
        // A stale record must not be mistaken for this start's outcome.
        let _ = std::fs::remove_file(instance::state_path(&self.paths.runtime));
        let mut command = tokio::process::Command::new(&self.launcher.program);
        command
            .args(&self.launcher.args)
            .envs(self.launcher.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(log.try_clone().map_err(io(&log_path))?)
            .stderr(log)
            // Outlives this process: tokio reaps it if it ends first.
            .kill_on_drop(false);
        detach(&mut command);
        let mut child = command.spawn().map_err(|source| ClientError::Launch {
            program: self.launcher.program.clone(),
            source,
        })?;
        let options = StartOptions {
            paths: Some(self.paths.clone()),
            ..options.clone()
        };
        let json = serde_json::to_vec(&options).map_err(|e| ClientError::Io {
            path: self.launcher.program.clone(),
            source: std::io::Error::other(e),
        })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(&json)
                .await
                .map_err(io(&self.launcher.program))?;
        }
        Ok(child)
    }

    /// Connects and greets; a daemon that does not answer in [`ANSWER_TIMEOUT`] is
    /// [`ClientError::Unresponsive`].
    async fn connect(&self) -> Result<Connection, ClientError> {
        let socket = self.socket();
        let pid = || instance::read_state(&self.paths.runtime).map_or(0, |s| s.pid);
        let unresponsive = |why: String| ClientError::Unresponsive {
            pid: pid(),
            socket: socket.clone(),
            why,
        };
        let greeted = tokio::time::timeout(ANSWER_TIMEOUT, async {
            let stream = loop {
                match open(&socket).await {
                    Ok(stream) => break stream,
                    // A daemon that has just taken the lock serves its channel a moment later.
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                        ) && self.is_running() =>
                    {
                        tokio::time::sleep(Duration::from_millis(50)).await
                    }
                    Err(e) => return Err(unresponsive(e.to_string())),
                }
            };
            let mut framed = tokio_util::codec::Framed::new(stream, ClientCodec::new());
            framed
                .send(Request::Hello {
                    version: CHANNEL_VERSION,
                })
                .await
                .map_err(|e| unresponsive(e.to_string()))?;
            match framed.next().await {
                Some(Ok(Reply::Hello { pid, .. })) => Ok(Connection {
                    framed,
                    pid,
                    socket: socket.clone(),
                }),
                Some(Ok(Reply::Refused { reason, .. })) => Err(ClientError::Version(reason)),
                Some(Ok(other)) => Err(unresponsive(format!("it answered {other:?}"))),
                Some(Err(e)) => Err(unresponsive(e.to_string())),
                None => Err(unresponsive("it closed the connection".into())),
            }
        })
        .await;
        greeted
            .unwrap_or_else(|_| Err(unresponsive(format!("no answer within {ANSWER_TIMEOUT:?}"))))
    }

    /// Follows views until the engine runs, the daemon fails, or `deadline`.
    async fn follow(
        &self,
        mut conn: Connection,
        deadline: Instant,
        allowed: Duration,
        progress: &mut impl FnMut(&VmView),
        mut child: Option<tokio::process::Child>,
    ) -> Result<VmView, ClientError> {
        conn.send(Request::Subscribe).await?;
        loop {
            let next = tokio::time::timeout_at(deadline, conn.next()).await;
            let view = match next {
                Err(_) => {
                    return Err(ClientError::StartTimeout {
                        after: allowed,
                        log: self.log(),
                    })
                }
                Ok(Ok(Some(Reply::View { view }))) => view,
                Ok(Ok(Some(other))) => return Err(self.unexpected(conn.pid, Some(other))),
                // The daemon exited: what it recorded last says why.
                Ok(Ok(None)) | Ok(Err(_)) => {
                    let recorded = self.recorded();
                    if let Some(failure) = recorded.error {
                        return Err(ClientError::Failed(failure));
                    }
                    let status = match child.as_mut().map(|c| c.try_wait()) {
                        Some(Ok(Some(status))) => status.to_string(),
                        _ => "no status".into(),
                    };
                    return Err(self.exited(status));
                }
            };
            progress(&view);
            match view.state {
                VmState::Running | VmState::Paused => return Ok(view),
                VmState::Error => {
                    return Err(ClientError::Failed(view.error.unwrap_or(Failure {
                        code: "failed".into(),
                        message: format!("Berth failed; its log: {}", self.log().display()),
                        field: None,
                    })))
                }
                VmState::Stopped | VmState::Stopping => {
                    return Err(ClientError::Failed(Failure {
                        code: "stopped".into(),
                        message: "Berth was stopped before the engine was ready".into(),
                        field: None,
                    }))
                }
                VmState::Starting => {}
            }
        }
    }

    fn exited(&self, status: String) -> ClientError {
        match self.recorded().error {
            Some(failure) => ClientError::Failed(failure),
            None => ClientError::Exited {
                status,
                log: self.log(),
            },
        }
    }

    fn unexpected(&self, pid: u32, reply: Option<Reply>) -> ClientError {
        ClientError::Unresponsive {
            pid,
            socket: self.socket(),
            why: format!("it answered {reply:?}"),
        }
    }
}

impl Connection {
    async fn send(&mut self, request: Request) -> Result<(), ClientError> {
        match self.framed.send(request).await {
            Ok(()) => Ok(()),
            Err(e) => Err(ClientError::Unresponsive {
                pid: self.pid,
                socket: self.socket.clone(),
                why: e.to_string(),
            }),
        }
    }

    /// The next reply; `None` when the daemon closed the channel.
    async fn next(&mut self) -> Result<Option<Reply>, ClientError> {
        match self.framed.next().await {
            None => Ok(None),
            Some(Ok(reply)) => Ok(Some(reply)),
            Some(Err(e)) => Err(ClientError::Unresponsive {
                pid: self.pid,
                socket: self.socket.clone(),
                why: e.to_string(),
            }),
        }
    }
}

#[cfg(unix)]
async fn open(socket: &Path) -> std::io::Result<ChannelStream> {
    tokio::net::UnixStream::connect(socket).await
}

/// Opens the daemon's pipe; while every instance is busy (another client connecting), waits
/// a moment and tries again (the caller's timeout bounds it).
#[cfg(windows)]
async fn open(pipe: &Path) -> std::io::Result<ChannelStream> {
    use tokio::net::windows::named_pipe::ClientOptions;
    use windows_sys::Win32::Foundation::ERROR_PIPE_BUSY;
    loop {
        match ClientOptions::new().open(pipe.as_os_str()) {
            Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

/// Detaches the daemon from this process: on Unix its own session, so a terminal's hang-up
/// or Ctrl-C never reaches it; on Windows its own process group, with no console.
fn detach(command: &mut tokio::process::Command) {
    #[cfg(unix)]
    {
        // SAFETY: `setsid` is async-signal-safe and touches no memory of the parent; it
        // runs in the forked child before `exec`.
        unsafe {
            command.pre_exec(|| {
                nix::unistd::setsid()
                    .map(|_| ())
                    .map_err(std::io::Error::from)
            });
        }
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::System::Threading::{
            CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW, DETACHED_PROCESS,
        };
        command.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW);
    }
}

/// Asks the daemon `pid` to stop by signal (the fallback for one that does not answer).
#[cfg(unix)]
fn signal_stop(pid: u32) -> std::io::Result<()> {
    use nix::sys::signal::{kill, Signal};
    let pid = i32::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| std::io::Error::other(format!("no valid daemon pid ({pid}) recorded")))?;
    kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM).map_err(std::io::Error::from)
}

#[cfg(not(unix))]
fn signal_stop(pid: u32) -> std::io::Result<()> {
    Err(std::io::Error::other(format!(
        "the daemon (pid {pid}) does not answer its channel and cannot be signalled here: end it in Task Manager"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_core::instance::StateFile;
    use tokio::sync::watch;
    use tokio_util::sync::CancellationToken;

    fn paths(dir: &Path) -> Paths {
        Paths::under(dir)
    }

    fn client(dir: &Path) -> SupervisorClient {
        let launcher = Launcher {
            program: "/nonexistent/berth".into(),
            args: Vec::new(),
            env: Vec::new(),
        };
        SupervisorClient::new(paths(dir), launcher)
    }

    #[tokio::test]
    async fn status_and_stop_go_over_the_channel() {
        let dir = tempfile::tempdir().expect("tempdir");
        let client = client(dir.path());
        let runtime = client.paths().runtime.clone();
        assert_eq!(
            client.status().await.expect("stopped").state,
            VmState::Stopped
        );
        assert!(!client.stop().await.expect("nothing to stop"));
        let lock = instance::lock(&runtime).expect("lock");
        let mut running = StateFile::new(VmState::Running, std::process::id());
        running.phase = Some("engine ready".into());
        instance::write_state(&runtime, &running).expect("state");
        let (views, receiver) = watch::channel(running.view());
        let stop = CancellationToken::new();
        let channel = crate::channel::serve(
            &client.socket(),
            receiver,
            stop.clone(),
            berth_core::saver::Saver::new(),
        )
        .expect("serve");
        let view = client.status().await.expect("status");
        assert_eq!(view.phase.as_deref(), Some("engine ready"));
        let daemon = tokio::spawn(async move {
            stop.cancelled().await;
            drop((views, channel, lock));
        });
        assert!(client.stop().await.expect("stopped"));
        daemon.await.expect("daemon");
        assert!(!client.is_running());
    }

    /// Takes connections on the channel's address and never says a word.
    #[cfg(unix)]
    fn silent_daemon(address: &Path) -> tokio::task::JoinHandle<()> {
        let listener = tokio::net::UnixListener::bind(address).expect("bind");
        tokio::spawn(async move {
            let mut kept = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                kept.push(stream);
            }
        })
    }

    /// Takes connections on the channel's pipe and never says a word.
    #[cfg(windows)]
    fn silent_daemon(address: &Path) -> tokio::task::JoinHandle<()> {
        use tokio::net::windows::named_pipe::ServerOptions;
        let name = address.as_os_str().to_owned();
        let mut server = ServerOptions::new()
            .first_pipe_instance(true)
            .create(&name)
            .expect("pipe");
        tokio::spawn(async move {
            let mut kept = Vec::new();
            while server.connect().await.is_ok() {
                let next = ServerOptions::new().create(&name).expect("pipe");
                kept.push(std::mem::replace(&mut server, next));
            }
        })
    }

    #[tokio::test]
    async fn a_daemon_that_cannot_launch_is_named_and_its_log_stays_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let client = client(dir.path());
        let options = StartOptions::new(dir.path().join("image"));
        let err = client
            .start(&options, |_| {})
            .await
            .expect_err("no program");
        assert_eq!(err.code(), "daemon_launch");
        assert!(err.to_string().contains("/nonexistent/berth"), "{err}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
            assert_eq!(mode(&client.paths().logs), 0o700);
            assert_eq!(mode(&client.log()), 0o600);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_daemon_that_does_not_answer_is_reported_not_waited_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let client = client(dir.path());
        let _lock = instance::lock(&client.paths().runtime).expect("lock");
        let _held = silent_daemon(&client.socket());
        let err = client.status().await.expect_err("no answer");
        assert_eq!(err.code(), "daemon_unresponsive");
        assert!(err.to_string().contains("berth stop"), "{err}");
    }

    #[tokio::test]
    async fn another_channel_version_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let client = client(dir.path());
        std::fs::create_dir_all(&client.paths().runtime).expect("runtime");
        let (_views, receiver) = watch::channel(VmView::stopped());
        let _channel = crate::channel::serve(
            &client.socket(),
            receiver,
            CancellationToken::new(),
            berth_core::saver::Saver::new(),
        )
        .expect("serve");
        let stream = open(&client.socket()).await.expect("connect");
        let mut framed = tokio_util::codec::Framed::new(stream, ClientCodec::new());
        framed
            .send(Request::Hello { version: 99 })
            .await
            .expect("hello");
        match framed.next().await {
            Some(Ok(Reply::Refused { version, reason })) => {
                assert_eq!(version, CHANNEL_VERSION);
                assert!(reason.contains("berth stop"), "{reason}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_only_the_user_may_connect(&client.socket());
    }

    #[cfg(unix)]
    fn assert_only_the_user_may_connect(socket: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(socket).expect("socket");
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    }

    /// The pipe's DACL, as Windows reports it: protected, one ACE, for this user's SID.
    #[cfg(windows)]
    fn assert_only_the_user_may_connect(pipe: &Path) {
        let sddl = berth_core::pipe_security::dacl_of(pipe).expect("the pipe's DACL");
        let user = berth_core::pipe_security::current_user_sid().expect("the user's SID");
        println!("the pipe's DACL: {sddl}; the user: {user}");
        assert!(sddl.starts_with("D:P("), "not protected: {sddl}");
        assert_eq!(sddl.matches("(A;").count(), 1, "one allow entry: {sddl}");
        assert!(
            sddl.ends_with(&format!(";;;{user})")),
            "{sddl} is not for {user}"
        );
    }
}
