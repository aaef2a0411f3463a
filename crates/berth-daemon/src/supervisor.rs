//! The supervisor: reads the settings, builds the VM for this OS ([`crate::platform`]), boots
//! it, waits for the engine, serves the engine socket, published ports, file events and the
//! docker context, and publishes every state in `state.json` (the crash-safe record) and on
//! the command channel ([`crate::channel`]). It stops when asked on the channel, on SIGTERM
//! or on Ctrl-C. If the VM dies underneath it, the crash is published and the supervisor
//! exits, cleaning up its sockets and helper processes (they are its children, killed on
//! drop). With the resource saver on, it pauses the VM when nothing uses it
//! ([`crate::saver`]) and publishes `paused`; the engine socket, published ports and the
//! channel's holds resume it.
//!
//! [`run`] is the whole daemon; [`drive`] is its part after the backend exists, generic over
//! [`VmBackend`], so the unit tests run it against a scripted backend.

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_core::agent::AgentAddress;
use berth_core::backend::VmBackend;
use berth_core::engine_api::{GuestEngine, Waking};
use berth_core::instance::{self, StateFile, VmState, VmView};
use berth_core::paths::Paths;
use berth_core::saver::{Power, Saver};
use berth_core::settings::{Host, Settings};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::DaemonError;
use crate::options::StartOptions;

/// How long powering off may take before the VM is forced off.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Publishes each state: `state.json` and the channel's watch.
pub struct Publisher {
    runtime: PathBuf,
    state: StateFile,
    views: watch::Sender<VmView>,
    echo: bool,
}

impl Publisher {
    /// A publisher for the daemon `pid` in `runtime`; `echo` prints phases on stderr.
    pub fn new(runtime: &Path, pid: u32, echo: bool) -> Publisher {
        let state = StateFile::new(VmState::Starting, pid);
        let (views, _) = watch::channel(state.view());
        Publisher {
            runtime: runtime.to_path_buf(),
            state,
            views,
            echo,
        }
    }

    /// A receiver of every view published from now on.
    pub fn subscribe(&self) -> watch::Receiver<VmView> {
        self.views.subscribe()
    }

    /// The state published last.
    pub fn state(&self) -> &StateFile {
        &self.state
    }

    /// Publishes `state` with `phase`.
    pub fn set(&mut self, state: VmState, phase: &str) {
        if !self.state.state.may_become(state) {
            tracing::warn!("lifecycle: {:?} cannot become {state:?}", self.state.state);
        }
        self.state.state = state;
        self.state.phase = Some(phase.to_owned());
        if self.echo {
            eprintln!("berth: {phase}");
        }
        self.publish();
    }

    fn publish(&mut self) {
        if let Err(err) = instance::write_state(&self.runtime, &self.state) {
            tracing::warn!("cannot publish the state: {err}");
        }
        self.views.send_replace(self.state.view());
    }

    /// Publishes the failure `error`.
    pub fn fail(&mut self, error: &DaemonError) {
        tracing::error!("{error}");
        self.state.fail(&error.failure());
        self.state.engine_socket = None;
        self.state.phase = Some("failed".into());
        if self.echo {
            eprintln!("berth: failed");
        }
        self.publish();
    }

    fn engine(&mut self, socket: Option<PathBuf>, agent: Option<AgentAddress>) {
        self.state.engine_socket = socket;
        self.state.agent = agent;
    }
}

/// Keeps the daemon's own log bounded while it runs (`berth_core::logfile`): every minute it is
/// rotated if it grew past the limit. Dropping the guard ends it.
#[cfg(unix)]
fn rotate_log(log: std::path::PathBuf) -> tokio_util::sync::DropGuard {
    let stop = CancellationToken::new();
    let guard = stop.clone().drop_guard();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let log = log.clone();
            let rotated = tokio::task::spawn_blocking(move || {
                berth_core::logfile::reopen_stdio(&log, berth_core::logfile::MAX_LOG)
            })
            .await;
            if let Ok(Ok(true)) = rotated {
                tracing::info!("the log was rotated (the previous one is berth.log.1)");
            }
        }
    });
    guard
}

/// Runs the daemon until stopped: takes the instance lock (a second daemon is refused),
/// serves the command channel, boots the VM described by `options` and the settings, and
/// publishes every state. `echo` prints phases on stderr (`berth start --foreground`).
pub async fn run(options: StartOptions, paths: &Paths, echo: bool) -> Result<(), DaemonError> {
    // The lock creates the runtime directory private to the user (0700) first.
    let _lock = instance::lock(&paths.runtime)?;
    let mut publisher = Publisher::new(&paths.runtime, std::process::id(), echo);
    let stop = CancellationToken::new();
    let _signals = on_signals(stop.clone());
    let socket = crate::messages::address(paths);
    let saver = Saver::new();
    let channel =
        crate::channel::serve(&socket, publisher.subscribe(), stop.clone(), saver.clone());
    let _channel = match channel {
        Ok(channel) => Some(channel),
        Err(e) => {
            tracing::warn!(
                "the command channel is not served ({e}); clients fall back to state.json"
            );
            None
        }
    };
    match crate::limits::raise_open_files() {
        Ok(limit) => tracing::debug!("open-file limit: {limit}"),
        Err(e) => tracing::warn!(
            "cannot raise the open-file limit ({e}): large port ranges may not all be forwarded"
        ),
    }
    #[cfg(unix)]
    let _rotation = rotate_log(paths.supervisor_log());
    let outcome = async {
        crate::root::check()?;
        publisher.set(VmState::Starting, "reading the settings");
        let settings = settings_for(paths, &options)?;
        publisher.set(VmState::Starting, "checking the guest image");
        let shares = berth_core::shares::plan(&settings.shared_folders, &paths.runtime)?;
        let image = crate::platform::open_image(&options).await?;
        let spec = crate::platform::spec(&settings, paths, image, shares);
        let prepared = crate::platform::prepare(&spec, paths).await?;
        let services = Services {
            shares: spec.shares.clone(),
            own: [&paths.data, &paths.runtime, &paths.logs, &paths.cache]
                .into_iter()
                .cloned()
                .collect(),
            engine_socket: paths.engine_socket(),
            publish_on_all_interfaces: settings.publish_on_all_interfaces,
            memory_mib: settings.memory_mib,
            serve_default_endpoint: settings.serve_default_endpoint,
            docker_context: options.docker_context,
            saver,
            resource_saver: (settings.resource_saver_seconds > 0)
                .then(|| Duration::from_secs(settings.resource_saver_seconds.into())),
        };
        let boot = Boot {
            description: prepared.description,
            console_log: prepared.console_log,
            timeout: options.timeout(),
        };
        drive(prepared.vm, &boot, &services, &mut publisher, stop).await
    }
    .await;
    match outcome {
        Ok(()) => {
            publisher.engine(None, None);
            publisher.set(VmState::Stopped, "stopped");
            Ok(())
        }
        Err(err) => {
            publisher.fail(&err);
            Err(err)
        }
    }
}

/// The settings file for this host, with the start's overrides applied and validated.
fn settings_for(paths: &Paths, options: &StartOptions) -> Result<Settings, DaemonError> {
    let host = Host::current();
    Ok(Settings::load_for(paths, host)?.update(&options.overrides, host)?)
}

/// Cancels `stop` on SIGTERM or Ctrl-C; the task ends with the daemon.
fn on_signals(stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                let _ = tokio::signal::ctrl_c().await;
                return stop.cancel();
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("stop requested by a signal");
        stop.cancel();
    })
}

/// How to boot: for the phases and the error messages.
pub struct Boot {
    /// What runs the VM, for the user (`tcg: no KVM`).
    pub description: String,
    /// Where the guest's console is written.
    pub console_log: PathBuf,
    /// How long the guest and then the engine may each take.
    pub timeout: Duration,
}

/// What runs while the VM runs.
pub struct Services {
    /// The shared folders, for file events.
    pub shares: Vec<berth_core::shares::ShareDevice>,
    /// Berth's own directories, whose changes are not file events.
    pub own: Vec<PathBuf>,
    /// Where the engine socket is served.
    pub engine_socket: PathBuf,
    /// Published ports listen on every interface instead of 127.0.0.1.
    pub publish_on_all_interfaces: bool,
    /// The VM's memory: the engine relay refuses a container publishing more ports than it
    /// bears ([`berth_core::engine_api::published`]).
    pub memory_mib: u32,
    /// Also serve the engine at the OS's default endpoint when it is free.
    pub serve_default_endpoint: bool,
    /// Point the `berth` docker context at the engine socket.
    pub docker_context: bool,
    /// The resource saver's leases, shared with the command channel.
    pub saver: Saver,
    /// The quiet time after which the VM is paused; `None`: never.
    pub resource_saver: Option<Duration>,
}

/// What ended the wait while the VM ran.
enum Ended {
    Stop,
    Crashed(String),
}

/// Boots `vm`, waits for the engine, serves it until `stop` is cancelled or the VM ends, then
/// powers it off. Publishes every phase; returns the failure, which [`run`] publishes.
// Off Unix the engine endpoint is a placeholder without a destructor (not served yet).
#[cfg_attr(not(unix), allow(clippy::drop_non_drop))]
pub async fn drive<B: VmBackend>(
    mut vm: B,
    boot: &Boot,
    services: &Services,
    publisher: &mut Publisher,
    stop: CancellationToken,
) -> Result<(), DaemonError> {
    publisher.set(
        VmState::Starting,
        &format!("booting the VM ({})", boot.description),
    );
    let started = tokio::select! {
        started = vm.start(boot.timeout) => Some(started?),
        _ = stop.cancelled() => None,
    };
    let Some(started) = started else {
        return power_off(vm, publisher).await;
    };
    let endpoint = vm.agent().ok_or_else(|| {
        DaemonError::Hypervisor("the VM has no vsock device to reach the agent".into())
    })?;
    publisher.engine(None, Some(endpoint.clone()));
    publisher.set(
        VmState::Starting,
        &format!(
            "guest ready in {:.1} s; waiting for the engine",
            started.boot_time.as_secs_f64()
        ),
    );
    let ready = tokio::select! {
        ready = crate::engine_ready::wait(
            &endpoint,
            boot.timeout,
            async { vm.exited().await.unwrap_or_else(|e| e.to_string()) },
            &boot.console_log,
        ) => Some(ready),
        _ = stop.cancelled() => None,
    };
    match ready {
        None => return power_off(vm, publisher).await,
        Some(Err(err)) => {
            // The engine never came: power the guest off rather than leave it running.
            let _ = vm.stop(STOP_TIMEOUT).await;
            return Err(err.into());
        }
        Some(Ok(())) => {}
    }

    let saver = &services.saver;
    let ports = berth_core::ports::PortForwarder::start(
        &endpoint,
        services.publish_on_all_interfaces,
        saver.clone(),
    );
    let clock = tokio::spawn(berth_core::clock::keep_in_sync(
        endpoint.clone(),
        saver.clone(),
    ));
    let file_events = berth_core::shares::FileEvents::start(
        endpoint.clone(),
        &services.shares,
        services.own.clone(),
        saver.clone(),
    );
    let shared: Vec<PathBuf> = services
        .shares
        .iter()
        .map(|share| share.host_path.clone())
        .collect();
    let socket = serve_engine(services, &endpoint, &shared).await?;
    let (default_endpoint, default_notice) = if services.serve_default_endpoint {
        serve_default_endpoint(&endpoint, services, &shared).await
    } else {
        (None, None)
    };
    let context = if services.docker_context {
        crate::context::ensure(&services.engine_socket).await
    } else {
        Ok(())
    };
    publisher.engine(Some(services.engine_socket.clone()), Some(endpoint.clone()));
    let notices: Vec<String> = vm.notices().into_iter().chain(default_notice).collect();
    for notice in &notices {
        tracing::warn!("{notice}");
    }
    let phase = std::iter::once("engine ready".to_owned())
        .chain(notices)
        .collect::<Vec<_>>()
        .join("; ");
    publisher.set(VmState::Running, &phase);
    match context {
        Ok(()) if publisher.echo => eprintln!(
            "berth: socket {}; try `docker --context berth version`; Ctrl-C stops",
            services.engine_socket.display()
        ),
        Ok(()) => {}
        Err(warning) => tracing::warn!("{warning}"),
    }

    let saver_task = match vm.power_control() {
        Some(power) => Some(crate::saver::SaverTask::start(
            power,
            saver.clone(),
            services.resource_saver,
            endpoint.clone(),
        )),
        None => {
            tracing::info!(
                "the resource saver is off: {} cannot pause the VM",
                vm.capabilities().hypervisor
            );
            None
        }
    };
    let mut power = saver.power();
    let ended = loop {
        tokio::select! {
            how = vm.exited() => break Ended::Crashed(how.unwrap_or_else(|e| e.to_string())),
            _ = stop.cancelled() => break Ended::Stop,
            Ok(()) = power.changed() => {
                let now = *power.borrow_and_update();
                publish_power(publisher, now);
            }
        }
    };
    if let Some(task) = saver_task {
        if matches!(ended, Ended::Stop) {
            task.finish().await;
        }
    }
    drop(socket);
    drop(default_endpoint);
    drop(file_events);
    drop(ports);
    clock.abort();
    match ended {
        Ended::Crashed(how) => Err(DaemonError::VmEnded {
            how,
            console: boot.console_log.display().to_string(),
        }),
        Ended::Stop => power_off(vm, publisher).await,
    }
}

/// Publishes the saver's pauses and resumes as the VM's state.
fn publish_power(publisher: &mut Publisher, power: Power) {
    let state = publisher.state().state;
    match power {
        Power::Paused if state == VmState::Running => publisher.set(
            VmState::Paused,
            "paused to save power (the next docker command or connection resumes it)",
        ),
        Power::Awake if state == VmState::Paused => {
            publisher.set(VmState::Running, "engine ready (resumed)")
        }
        _ => {}
    }
}

/// Serves the engine's API at the services' engine socket, relayed to the guest's engine,
/// each connection holding a lease of the resource saver; binds outside the `shared` folders
/// are reported, creates publishing more ports than the VM's memory bears refused.
async fn serve_engine(
    services: &Services,
    endpoint: &AgentAddress,
    shared: &[PathBuf],
) -> Result<berth_core::engine_api::EngineEndpoint, DaemonError> {
    let upstream = Waking::new(GuestEngine(endpoint.clone()), services.saver.clone());
    let path = &services.engine_socket;
    Ok(berth_core::engine_api::serve(path, upstream, shared, services.memory_mib).await?)
}

/// The engine at the OS's default endpoint too, unless another engine serves it (then it is
/// left alone): on Windows a second listener on the default pipe, on Linux and macOS a check
/// of the link `berth default-socket enable` made. With a notice for the status line when
/// the default endpoint is not Berth's.
async fn serve_default_endpoint(
    endpoint: &AgentAddress,
    services: &Services,
    shared: &[PathBuf],
) -> (
    Option<berth_core::engine_api::EngineEndpoint>,
    Option<String>,
) {
    #[cfg(windows)]
    {
        let upstream = Waking::new(GuestEngine(endpoint.clone()), services.saver.clone());
        match berth_core::engine_api::serve_default(upstream, shared, services.memory_mib).await {
            Ok(served) => {
                tracing::info!("the engine is also served at {}", served.path().display());
                (Some(served), None)
            }
            Err(berth_core::engine_api::SocketError::InUse(path)) => (
                None,
                Some(format!(
                    "{} is served by another engine: Berth leaves it alone (use the `berth` \
                     docker context, or quit the other engine and restart Berth)",
                    path.display()
                )),
            ),
            Err(err) => (
                None,
                Some(format!("the default engine endpoint is not served: {err}")),
            ),
        }
    }
    #[cfg(unix)]
    {
        let _ = (endpoint, shared);
        let engine_socket = services.engine_socket.as_path();
        use berth_core::engine_api::default_socket::{self, Found};
        let path = default_socket::path();
        let notice = match default_socket::inspect(&path, engine_socket).await {
            Ok(Found::Ours) => {
                tracing::info!(
                    "the engine is also served at {} (a link to {})",
                    path.display(),
                    engine_socket.display()
                );
                None
            }
            Ok(Found::Nothing | Found::StaleBerth(_)) => Some(format!(
                "{} is not linked to Berth's socket (a restart of the computer empties {}): \
                 run `berth default-socket enable`",
                path.display(),
                path.parent().unwrap_or(&path).display()
            )),
            Ok(found) => Some(default_socket::refusal(&path, found).to_string()),
            Err(err) => Some(err.to_string()),
        };
        (None, notice)
    }
}

async fn power_off<B: VmBackend>(mut vm: B, publisher: &mut Publisher) -> Result<(), DaemonError> {
    publisher.engine(None, None);
    publisher.set(VmState::Stopping, "stopping the engine and powering off");
    match vm.stop(STOP_TIMEOUT).await {
        // A boot cut short: nothing is running to power off.
        Ok(()) | Err(berth_core::backend::BackendError::NotRunning) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// The detached daemon's entry (`berth supervise`, `berth-desktop --supervise`): reads its
/// [`StartOptions`] as JSON from standard input, then [`run`]s in the directories they name
/// (else the user's).
pub async fn run_from_stdin() -> Result<(), DaemonError> {
    use tokio::io::AsyncReadExt;
    let mut json = Vec::new();
    tokio::io::stdin()
        .read_to_end(&mut json)
        .await
        .map_err(|e| DaemonError::Options(format!("cannot read standard input: {e}")))?;
    let options: StartOptions =
        serde_json::from_slice(&json).map_err(|e| DaemonError::Options(e.to_string()))?;
    let paths = match &options.paths {
        Some(paths) => paths.clone(),
        None => Paths::for_user().map_err(|e| DaemonError::Options(e.to_string()))?,
    };
    run(options, &paths, false).await
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use berth_core::backend::fake::{FakeBackend, FakeBoot, FakeControl};
    use berth_protocol::message::EngineState;

    /// A supervisor's surroundings in a temporary directory.
    struct Rig {
        dir: tempfile::TempDir,
        boot: Boot,
        services: Services,
    }

    impl Rig {
        fn new() -> Rig {
            let dir = tempfile::tempdir().expect("tempdir");
            let boot = Boot {
                description: "fake".into(),
                console_log: dir.path().join("console.log"),
                timeout: Duration::from_secs(300),
            };
            let services = Services {
                shares: Vec::new(),
                own: Vec::new(),
                engine_socket: dir.path().join("docker.sock"),
                publish_on_all_interfaces: false,
                memory_mib: 2048,
                serve_default_endpoint: false,
                docker_context: false,
                saver: Saver::new(),
                resource_saver: None,
            };
            Rig {
                dir,
                boot,
                services,
            }
        }

        fn backend(&self, boots: Vec<FakeBoot>) -> (FakeBackend, FakeControl) {
            let (vm, control) = FakeBackend::new(self.dir.path(), boots);
            (vm.with_console_log(&self.boot.console_log), control)
        }

        fn publisher(&self) -> Publisher {
            Publisher::new(self.dir.path(), 4242, false)
        }
    }

    /// Collects every phase published until `views` shows `until`.
    async fn phases_until(views: &mut watch::Receiver<VmView>, until: VmState) -> Vec<String> {
        let mut phases = Vec::new();
        loop {
            let view = views.borrow_and_update().clone();
            if let Some(phase) = view.phase {
                if phases.last() != Some(&phase) {
                    phases.push(phase);
                }
            }
            if view.state == until {
                return phases;
            }
            views.changed().await.expect("the publisher is alive");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn what_the_backend_noticed_is_in_the_running_phase() {
        let rig = Rig::new();
        let boot = FakeBoot {
            notices: vec!["the new image did not boot; the previous one runs".into()],
            ..FakeBoot::ready(Duration::from_secs(1))
        };
        let (vm, _control) = rig.backend(vec![boot]);
        let mut publisher = rig.publisher();
        let mut views = publisher.subscribe();
        let stop = CancellationToken::new();
        let driving = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let outcome = drive(vm, &rig.boot, &rig.services, &mut publisher, stop).await;
                (outcome, rig)
            })
        };
        let phases = phases_until(&mut views, VmState::Running).await;
        assert_eq!(
            phases.last().map(String::as_str),
            Some("engine ready; the new image did not boot; the previous one runs")
        );
        stop.cancel();
        let (outcome, _rig) = driving.await.expect("drive");
        outcome.expect("a clean stop");
    }

    #[tokio::test(start_paused = true)]
    async fn a_start_runs_through_its_phases_and_a_stop_leaves_nothing_running() {
        let rig = Rig::new();
        let (vm, control) = rig.backend(vec![FakeBoot::ready(Duration::from_secs(4))]);
        let mut publisher = rig.publisher();
        let mut views = publisher.subscribe();
        let stop = CancellationToken::new();
        let driving = {
            let stop = stop.clone();
            async move {
                let outcome = drive(vm, &rig.boot, &rig.services, &mut publisher, stop).await;
                (outcome, publisher, rig)
            }
        };
        let driving = tokio::spawn(driving);
        let phases = phases_until(&mut views, VmState::Running).await;
        assert_eq!(phases[0], "booting the VM (fake)");
        assert!(phases[1].starts_with("guest ready in 4.0 s"), "{phases:?}");
        assert_eq!(phases.last().map(String::as_str), Some("engine ready"));
        assert!(control.is_running());
        stop.cancel();
        let (outcome, publisher, rig) = driving.await.expect("drive");
        outcome.expect("a clean stop");
        assert_eq!(control.stops(), vec![STOP_TIMEOUT]);
        assert!(!control.is_running());
        assert!(
            !rig.services.engine_socket.exists(),
            "the engine socket is gone"
        );
        assert_eq!(publisher.state().state, VmState::Stopping);
        let recorded = instance::read_state(rig.dir.path()).expect("state.json");
        assert_eq!(
            recorded.phase.as_deref(),
            Some("stopping the engine and powering off")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_vm_that_ends_during_the_engine_wait_is_an_error_quoting_its_console() {
        let rig = Rig::new();
        let boot = FakeBoot::with_engine(Duration::from_secs(2), vec![EngineState::Starting]);
        let (vm, control) = rig.backend(vec![boot]);
        let mut publisher = rig.publisher();
        let mut views = publisher.subscribe();
        let driving = tokio::spawn(async move {
            let stop = CancellationToken::new();
            drive(vm, &rig.boot, &rig.services, &mut publisher, stop).await
        });
        loop {
            let phase = views.borrow_and_update().phase.clone().unwrap_or_default();
            if phase.contains("waiting for the engine") {
                break;
            }
            views.changed().await.expect("alive");
        }
        control
            .write_console("Kernel panic - not syncing: Attempted to kill init!")
            .expect("console");
        control.exit("exit status: 1");
        let err = driving.await.expect("drive").expect_err("the VM ended");
        assert_eq!(err.code(), "vm_ended");
        let text = err.to_string();
        assert!(text.contains("Attempted to kill init"), "{text}");
        assert!(text.contains("exit status: 1"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_crash_while_running_is_published_and_the_next_start_recovers() {
        let rig = Rig::new();
        let ready = FakeBoot::ready(Duration::from_secs(3));
        let (vm, control) = rig.backend(vec![ready.clone()]);
        let mut publisher = rig.publisher();
        let mut views = publisher.subscribe();
        let rig = std::sync::Arc::new(rig);
        let driving = {
            let rig = rig.clone();
            tokio::spawn(async move {
                let outcome = drive(
                    vm,
                    &rig.boot,
                    &rig.services,
                    &mut publisher,
                    CancellationToken::new(),
                )
                .await;
                if let Err(err) = &outcome {
                    publisher.fail(err);
                }
                outcome
            })
        };
        phases_until(&mut views, VmState::Running).await;
        control.exit("killed by signal 9");
        let err = driving.await.expect("drive").expect_err("crashed");
        assert_eq!(err.code(), "vm_ended");
        assert!(err.to_string().contains("killed by signal 9"), "{err}");
        let recorded = instance::read_state(rig.dir.path()).expect("state.json");
        assert_eq!(recorded.state, VmState::Error);
        assert_eq!(recorded.error_code.as_deref(), Some("vm_ended"));
        assert_eq!(recorded.engine_socket, None);

        // `berth start` again: a new daemon, the same directories.
        let (vm, control) = rig.backend(vec![ready]);
        let mut publisher = rig.publisher();
        let mut views = publisher.subscribe();
        let stop = CancellationToken::new();
        let driving = {
            let (rig, stop) = (rig.clone(), stop.clone());
            tokio::spawn(
                async move { drive(vm, &rig.boot, &rig.services, &mut publisher, stop).await },
            )
        };
        phases_until(&mut views, VmState::Running).await;
        assert!(control.is_running());
        stop.cancel();
        driving.await.expect("drive").expect("stopped");
    }

    #[tokio::test]
    async fn a_second_daemon_is_refused_and_leaves_the_first_ones_record_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::under(dir.path());
        paths.ensure_runtime().expect("runtime");
        let _first = instance::lock(&paths.runtime).expect("the first daemon's lock");
        let mut running = StateFile::new(VmState::Running, 4242);
        running.phase = Some("engine ready".into());
        instance::write_state(&paths.runtime, &running).expect("state");
        let options = StartOptions::new(dir.path().join("image"));
        let err = run(options, &paths, false).await.expect_err("refused");
        assert_eq!(err.code(), "already_running");
        assert!(err.to_string().contains("berth stop"), "{err}");
        let recorded = instance::read_state(&paths.runtime).expect("state.json");
        assert_eq!(recorded.pid, 4242, "the running daemon's record stays");
        assert_eq!(recorded.state, VmState::Running);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_during_the_boot_powers_off_without_waiting_for_the_engine() {
        let rig = Rig::new();
        let (vm, control) = rig.backend(vec![FakeBoot::ready(Duration::from_secs(60))]);
        let mut publisher = rig.publisher();
        let stop = CancellationToken::new();
        stop.cancel();
        drive(vm, &rig.boot, &rig.services, &mut publisher, stop)
            .await
            .expect("stopped");
        assert_eq!(publisher.state().state, VmState::Stopping);
        assert!(!control.is_running());
    }
}
