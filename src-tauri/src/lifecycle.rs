//! The app's one lifecycle service: it starts and stops the VM through
//! [`berth_daemon::SupervisorClient`] (no `berth` subprocess: the daemon is this very
//! executable, launched detached as `berth-desktop --supervise`, so it outlives the app), and
//! publishes the VM's view, which the window ([`crate::vm`]) and the tray ([`crate::tray`])
//! both subscribe to. The view follows `state.json` (`berth_core::state_events`, an inotify
//! watch), so a VM started by the CLI, or a daemon that died, shows here too.

use std::path::Path;

use berth_core::instance::{VmState, VmView};
use berth_core::paths::Paths;
use berth_core::state_events::StateEvents;
use berth_daemon::{ClientError, Launcher, StartOptions, SupervisorClient};
use tokio::sync::watch;

/// The argument that makes this executable the daemon.
pub const SUPERVISE_ARG: &str = "--supervise";

/// Starts and stops the VM; publishes its view.
pub struct Lifecycle {
    client: SupervisorClient,
    image: std::path::PathBuf,
    views: watch::Sender<VmView>,
}

impl Lifecycle {
    /// The lifecycle of the VM in `paths`, whose daemon `launcher` runs, booting the guest
    /// image a start uses by default ([`StartOptions::default_image`]).
    pub fn new(paths: Paths, launcher: Launcher) -> Lifecycle {
        let client = SupervisorClient::new(paths, launcher);
        let (views, _) = watch::channel(client.recorded());
        Lifecycle {
            client,
            image: StartOptions::default_image(),
            views,
        }
    }

    /// The same lifecycle booting the guest image in `image`.
    pub fn with_image(self, image: std::path::PathBuf) -> Lifecycle {
        Lifecycle { image, ..self }
    }

    /// The lifecycle whose daemon is this executable (`--supervise`).
    pub fn for_this_app(paths: Paths) -> Lifecycle {
        let launcher = Launcher::current_exe(&[SUPERVISE_ARG]).unwrap_or_else(|_| Launcher {
            program: "berth-desktop".into(),
            args: vec![SUPERVISE_ARG.into()],
            env: Vec::new(),
        });
        Lifecycle::new(paths, launcher)
    }

    /// Every view from now on, starting with the current one.
    pub fn subscribe(&self) -> watch::Receiver<VmView> {
        self.views.subscribe()
    }

    /// The view now, as recorded in `state.json`.
    pub fn current(&self) -> VmView {
        self.client.recorded()
    }

    /// Starts the VM with the settings in force; returns once the engine answers.
    /// Every view is published at once: the start itself (before the daemon has written
    /// anything, so an old failure is not shown as this start's), each view the daemon sends,
    /// and a failure, also one from before the daemon could record it (it could not launch).
    pub async fn start(&self) -> Result<VmView, ClientError> {
        let options = StartOptions::new(self.image.clone());
        if !self.client.is_running() {
            self.views.send_replace(VmView {
                state: VmState::Starting,
                phase: Some("starting the Berth daemon".into()),
                error: None,
                engine_socket: None,
            });
        }
        let started = self
            .client
            .start(&options, |view| {
                self.views.send_replace(view.clone());
            })
            .await;
        if let Err(err) = &started {
            self.views.send_replace(VmView {
                state: VmState::Error,
                phase: Some("failed".into()),
                error: Some(err.failure()),
                engine_socket: None,
            });
        }
        started
    }

    /// Keeps the VM from pausing while the hold lives, if it is awake (never waking it).
    pub async fn observe(&self) -> Option<berth_daemon::client::AwakeHold> {
        self.client.observe().await.ok().flatten()
    }

    /// Resumes the VM if the resource saver paused it (a hold, let go at once).
    pub async fn resume(&self) -> Result<(), ClientError> {
        self.client.hold_awake().await.map(drop)
    }

    /// Stops the VM if it runs.
    pub async fn stop(&self) -> Result<(), ClientError> {
        self.client.stop().await.map(|_| ())
    }

    /// Publishes each change of `state.json` in `runtime` until the app ends.
    pub async fn follow(&self, runtime: &Path) {
        let mut events = match StateEvents::watch(runtime) {
            Ok(events) => events,
            Err(e) => return tracing::warn!("{e}; the VM state will not update by itself"),
        };
        loop {
            let view = events.next().await.view();
            self.views.send_replace(view);
        }
    }
}

/// Runs this executable as the daemon (`berth-desktop --supervise`, options on standard
/// input), before any window or toolkit exists. Returns the process's exit code.
pub fn supervise() -> i32 {
    berth_daemon::init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("berth-desktop: cannot start the daemon's runtime: {e}");
            return 1;
        }
    };
    let outcome = runtime.block_on(berth_daemon::supervisor::run_from_stdin());
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e}");
            1
        }
    }
}
