//! A scripted stand-in [`VmBackend`] for the supervisor's unit tests: no hypervisor, no
//! guest, only what a supervisor sees of one. Each start follows a [`FakeBoot`] (how long the
//! boot takes, whether it fails, the console lines it writes, how the guest's control port
//! behaves), and the test keeps a [`FakeControl`] to make the VM end by itself and to read
//! what the supervisor did (starts, stops and their timeouts).
//!
//! Booting and stopping wait with [`tokio::time::sleep`], so tests under
//! `tokio::time::pause()` (`#[tokio::test(start_paused = true)]`) run them instantly. A
//! started VM serves a [`FakeAgent`] on `vsock.sock` in the backend's directory, the hybrid
//! endpoint [`VmBackend::agent`] returns; stopping or ending the VM drops it, closing
//! every connection. Built for this crate's tests and, with the `fake-backend` feature, for
//! other crates' tests (Unix only, like [`crate::fake_agent`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use berth_protocol::message::{EngineState, Event, Request};
use tokio::sync::watch;

use super::{BackendError, BackendStatus, Capabilities, PowerControl, Started, VmBackend};
use crate::agent::AgentAddress;
use crate::fake_agent::{Conduct, FakeAgent};
use crate::vm::{BootError, StopError};

/// How one start fails, after its boot time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeFailure {
    /// The hypervisor refuses: [`BackendError::Hypervisor`] with this message.
    Hypervisor(String),
    /// The guest prints a fatal line: [`BootError::GuestCrashed`] with this reason (a guest
    /// death, [`BootError::guest_died`]).
    GuestCrashed(String),
    /// The hypervisor exits during boot: [`BootError::Exited`] with this status.
    Exited(String),
}

/// What one start does.
#[derive(Debug, Clone)]
pub struct FakeBoot {
    /// From start to the ready line. Longer than the start's timeout: the start fails with
    /// [`BootError::Timeout`] once the timeout has passed.
    pub boot_time: Duration,
    /// How the start fails, if it does (after `boot_time`).
    pub failure: Option<FakeFailure>,
    /// Lines written to the console log when the start begins (the file is truncated first).
    pub console: Vec<String>,
    /// The fake agent's capabilities, offered in its hello.
    pub capabilities: Vec<berth_protocol::message::Capability>,
    /// How the fake agent behaves on connection N (the last repeating), as in
    /// [`FakeAgent::start`]; [`Conduct::Serve`]'s events are the engine's.
    pub conducts: Vec<Conduct>,
    /// The agent version on the ready line.
    pub agent_version: String,
    /// How long a stop takes. Longer than the stop's timeout: the VM is forced off at the
    /// timeout and the stop fails with [`StopError::Timeout`].
    pub stop_time: Duration,
    /// What the start has to say besides its result ([`VmBackend::notices`]).
    pub notices: Vec<String>,
}

impl FakeBoot {
    /// A boot that succeeds after `boot_time`, whose agent's engine goes Starting then Ready
    /// after each `Subscribe`.
    pub fn ready(boot_time: Duration) -> FakeBoot {
        FakeBoot::with_engine(boot_time, vec![EngineState::Starting, EngineState::Ready])
    }

    /// A boot that succeeds after `boot_time`, whose agent's engine goes through `states`
    /// after each `Subscribe`.
    pub fn with_engine(boot_time: Duration, states: Vec<EngineState>) -> FakeBoot {
        FakeBoot {
            boot_time,
            failure: None,
            console: vec!["[    0.000000] Linux version 6.12 (fake)".into()],
            capabilities: Vec::new(),
            conducts: vec![Conduct::Serve {
                events: states
                    .into_iter()
                    .map(|state| Event::EngineStateChanged { state })
                    .collect(),
            }],
            agent_version: "fake".into(),
            stop_time: Duration::ZERO,
            notices: Vec::new(),
        }
    }

    /// A boot that fails as `failure` says after `boot_time`.
    pub fn failing(boot_time: Duration, failure: FakeFailure) -> FakeBoot {
        FakeBoot {
            failure: Some(failure),
            ..FakeBoot::ready(boot_time)
        }
    }
}

/// What the control handle and the backend share.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// The description of the current run's end, once the VM ended by itself.
    exit: watch::Sender<Option<String>>,
}

#[derive(Debug, Default)]
struct State {
    /// The running VM's agent; `None` when stopped.
    agent: Option<FakeAgent>,
    starts: u32,
    stops: Vec<Duration>,
    /// `true` for each pause, `false` for each resume, in order.
    power: Vec<bool>,
    paused: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked holding the lock has failed already; its state is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The test's handle on a [`FakeBackend`]: ends the VM, tells what happened. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FakeControl {
    shared: Arc<Shared>,
    console_log: PathBuf,
}

impl FakeControl {
    /// Makes the running VM end by itself (as a guest that powered off or a hypervisor that
    /// died): its agent goes away at once, and [`VmBackend::exited`] resolves with
    /// `description`. Does nothing when the VM is not running.
    pub fn exit(&self, description: impl Into<String>) {
        let mut state = self.shared.state();
        if state.agent.take().is_some() {
            self.shared.exit.send_replace(Some(description.into()));
        }
    }

    /// Starts attempted so far (failed ones included).
    pub fn starts(&self) -> u32 {
        self.shared.state().starts
    }

    /// The timeout of every stop asked for so far, in order (of a running VM or not).
    pub fn stops(&self) -> Vec<Duration> {
        self.shared.state().stops.clone()
    }

    /// Each pause (`true`) and resume (`false`) made through [`FakePower`], in order.
    pub fn power_changes(&self) -> Vec<bool> {
        self.shared.state().power.clone()
    }

    /// Whether the VM is paused now.
    pub fn is_paused(&self) -> bool {
        self.shared.state().paused
    }

    /// Whether the VM runs now.
    pub fn is_running(&self) -> bool {
        self.shared.state().agent.is_some()
    }

    /// The requests the running VM's agent received, in order; empty when stopped.
    pub fn requests(&self) -> Vec<Request> {
        self.shared
            .state()
            .agent
            .as_ref()
            .map(FakeAgent::requests)
            .unwrap_or_default()
    }

    /// Where the console log is written.
    pub fn console_log(&self) -> &Path {
        &self.console_log
    }

    /// Appends `line` to the console log (a panic before [`FakeControl::exit`], say).
    pub fn write_console(&self, line: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.console_log)?;
        writeln!(log, "{line}")
    }
}

/// A [`VmBackend`] that runs a script instead of a VM.
#[derive(Debug)]
pub struct FakeBackend {
    dir: PathBuf,
    boots: Vec<FakeBoot>,
    control: FakeControl,
}

impl FakeBackend {
    /// A stopped backend keeping its agent's socket (`vsock.sock`) and console log
    /// (`console.log`) in `dir`. Start N follows `boots[N]`, the last repeating; panics on an
    /// empty list.
    pub fn new(dir: &Path, boots: Vec<FakeBoot>) -> (FakeBackend, FakeControl) {
        assert!(!boots.is_empty(), "a fake backend needs a boot");
        let control = FakeControl {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                exit: watch::channel(None).0,
            }),
            console_log: dir.join(crate::paths::CONSOLE_LOG),
        };
        let backend = FakeBackend {
            dir: dir.to_path_buf(),
            boots,
            control: control.clone(),
        };
        (backend, control)
    }

    /// Writes the console log to `path` instead.
    pub fn with_console_log(mut self, path: &Path) -> FakeBackend {
        self.control.console_log = path.to_path_buf();
        self
    }

    /// Another handle on this backend.
    pub fn control(&self) -> FakeControl {
        self.control.clone()
    }

    /// Where the console log is written.
    pub fn console_log(&self) -> &Path {
        &self.control.console_log
    }

    fn shared(&self) -> &Shared {
        &self.control.shared
    }
}

/// Truncates the console log and writes `lines` to it.
fn write_console(path: &Path, lines: &[String]) -> Result<(), BootError> {
    let prepare = |source| BootError::Prepare {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(prepare)?;
    }
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    std::fs::write(path, text).map_err(prepare)
}

/// The fake VM's pause and resume, recorded for [`FakeControl::power_changes`].
#[derive(Debug, Clone)]
pub struct FakePower(Arc<Shared>);

impl PowerControl for FakePower {
    async fn pause(&self) -> Result<(), BackendError> {
        let mut state = self.0.state();
        if state.agent.is_none() {
            return Err(BackendError::NotRunning);
        }
        state.power.push(true);
        state.paused = true;
        Ok(())
    }

    async fn resume(&self) -> Result<(), BackendError> {
        let mut state = self.0.state();
        state.power.push(false);
        state.paused = false;
        Ok(())
    }
}

impl VmBackend for FakeBackend {
    type Power = FakePower;

    fn power_control(&self) -> Option<FakePower> {
        Some(FakePower(self.control.shared.clone()))
    }

    fn notices(&self) -> Vec<String> {
        let n = (self.shared().state().starts as usize).saturating_sub(1);
        self.boots[n.min(self.boots.len() - 1)].notices.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            hypervisor: "fake",
            acceleration: "none".into(),
            vsock: "hybrid",
            shared_folders: true,
            balloon: false,
            pause: true,
        }
    }

    async fn start(&mut self, timeout: Duration) -> Result<Started, BackendError> {
        let boot = {
            let mut state = self.shared().state();
            if state.agent.is_some() {
                return Err(BackendError::AlreadyRunning);
            }
            state.starts += 1;
            let n = state.starts as usize - 1;
            self.boots[n.min(self.boots.len() - 1)].clone()
        };
        self.shared().exit.send_replace(None);
        write_console(self.console_log(), &boot.console)?;
        let console = boot.console.join("\n");
        if boot.boot_time > timeout {
            tokio::time::sleep(timeout).await;
            return Err(BootError::Timeout {
                after: timeout,
                console,
            }
            .into());
        }
        tokio::time::sleep(boot.boot_time).await;
        match boot.failure {
            None => {}
            Some(FakeFailure::Hypervisor(message)) => {
                return Err(BackendError::Hypervisor(message))
            }
            Some(FakeFailure::GuestCrashed(reason)) => {
                return Err(BootError::GuestCrashed { reason, console }.into())
            }
            Some(FakeFailure::Exited(status)) => {
                return Err(BootError::Exited {
                    status,
                    stderr: String::new(),
                    console,
                }
                .into())
            }
        }
        let agent = FakeAgent::try_start(&self.dir, &boot.capabilities, boot.conducts)
            .map_err(|e| BackendError::Hypervisor(format!("the fake agent: {e}")))?;
        self.shared().state().agent = Some(agent);
        Ok(Started {
            boot_time: boot.boot_time,
            agent_version: boot.agent_version,
            guest_uptime_ms: u64::try_from(boot.boot_time.as_millis()).unwrap_or(u64::MAX),
        })
    }

    async fn stop(&mut self, timeout: Duration) -> Result<(), BackendError> {
        let stop_time = {
            let mut state = self.shared().state();
            state.stops.push(timeout);
            if state.agent.is_none() {
                return Err(BackendError::NotRunning);
            }
            if state.paused {
                // A real guest cannot hear the power button with its vCPUs stopped.
                return Err(BackendError::Hypervisor(
                    "the fake VM is paused: a power-off would hang".into(),
                ));
            }
            let n = (state.starts as usize).saturating_sub(1);
            self.boots[n.min(self.boots.len() - 1)].stop_time
        };
        tokio::time::sleep(stop_time.min(timeout)).await;
        // Ended now, by this stop or by itself meanwhile: no exit to report either way.
        self.shared().state().agent = None;
        self.shared().exit.send_replace(None);
        if stop_time > timeout {
            return Err(StopError::Timeout(timeout).into());
        }
        Ok(())
    }

    async fn status(&mut self) -> Result<BackendStatus, BackendError> {
        Ok(if self.shared().state().agent.is_some() {
            BackendStatus::Running {
                guest: "running".into(),
                balloon_mib: None,
            }
        } else {
            BackendStatus::Stopped
        })
    }

    async fn exited(&mut self) -> Result<String, BackendError> {
        let mut exit = self.shared().exit.subscribe();
        let ended = exit.borrow().is_some();
        if !ended && !self.control.is_running() {
            return std::future::pending().await;
        }
        let waited = exit
            .wait_for(Option::is_some)
            .await
            .map(|description| description.clone().unwrap_or_default());
        let Ok(description) = waited else {
            // The sender lives as long as `self`.
            return std::future::pending().await;
        };
        self.shared().exit.send_replace(None);
        Ok(description)
    }

    fn agent(&self) -> Option<AgentAddress> {
        self.shared()
            .state()
            .agent
            .as_ref()
            .map(|agent| agent.address.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentClient;

    const BOOT: Duration = Duration::from_secs(3);
    const TIMEOUT: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn a_started_vm_answers_until_it_ends_by_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut vm, control) = FakeBackend::new(dir.path(), vec![FakeBoot::ready(BOOT)]);
        assert_eq!(vm.capabilities().hypervisor, "fake");
        assert!(vm.agent().is_none());
        let before = tokio::time::Instant::now();
        let started = vm.start(TIMEOUT).await.expect("start");
        assert_eq!(
            before.elapsed(),
            BOOT,
            "the boot time passes on the paused clock"
        );
        assert_eq!(started.boot_time, BOOT);
        assert_eq!(control.starts(), 1);
        assert!(matches!(
            vm.status().await.expect("status"),
            BackendStatus::Running { .. }
        ));
        let endpoint = vm.agent().expect("an endpoint while running");
        let mut agent = AgentClient::connect(endpoint).await.expect("hello");
        agent
            .call(berth_protocol::call::Subscribe)
            .await
            .expect("subscribe");
        assert_eq!(control.requests(), [Request::Subscribe]);
        assert!(matches!(
            vm.start(TIMEOUT).await,
            Err(BackendError::AlreadyRunning)
        ));

        let ended = tokio::time::timeout(Duration::from_secs(1), vm.exited()).await;
        assert!(ended.is_err(), "running: exited() pends");
        control.exit("the guest powered off");
        assert!(vm.agent().is_none());
        assert_eq!(vm.exited().await.expect("exited"), "the guest powered off");
        assert_eq!(vm.status().await.expect("status"), BackendStatus::Stopped);
        let ended = tokio::time::timeout(Duration::from_secs(1), vm.exited()).await;
        assert!(ended.is_err(), "stopped: exited() pends");
        assert!(!dir.path().join("vsock.sock").exists());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_the_agent_and_is_recorded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut vm, control) = FakeBackend::new(dir.path(), vec![FakeBoot::ready(BOOT)]);
        vm.start(TIMEOUT).await.expect("start");
        let endpoint = vm.agent().expect("endpoint");
        vm.stop(Duration::from_secs(10)).await.expect("stop");
        assert!(!control.is_running());
        assert!(vm.agent().is_none());
        assert!(AgentClient::connect(endpoint).await.is_err());
        assert_eq!(control.stops(), [Duration::from_secs(10)]);
        assert!(matches!(
            vm.stop(Duration::from_secs(5)).await,
            Err(BackendError::NotRunning)
        ));
        // The same directory serves the next run.
        vm.start(TIMEOUT).await.expect("second start");
        assert!(AgentClient::connect(vm.agent().expect("endpoint"))
            .await
            .is_ok());
        assert_eq!(control.starts(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_boots_follow_the_script_then_the_last_boot_repeats() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut crashed = FakeBoot::failing(BOOT, FakeFailure::GuestCrashed("Kernel panic".into()));
        crashed.console.push("Kernel panic - not syncing".into());
        let boots = vec![
            crashed,
            FakeBoot::failing(BOOT, FakeFailure::Hypervisor("no KVM".into())),
            FakeBoot::ready(Duration::from_secs(120)),
        ];
        let (mut vm, control) = FakeBackend::new(dir.path(), boots);
        let err = vm.start(TIMEOUT).await.expect_err("crashed");
        assert!(
            matches!(&err, BackendError::Boot(boot) if boot.guest_died()),
            "{err:?}"
        );
        let console = std::fs::read_to_string(control.console_log()).expect("console");
        assert!(console.contains("Kernel panic - not syncing"), "{console}");
        let err = vm.start(TIMEOUT).await.expect_err("refused");
        assert_eq!(err.to_string(), "no KVM");
        let before = tokio::time::Instant::now();
        let err = vm.start(TIMEOUT).await.expect_err("too slow");
        assert_eq!(before.elapsed(), TIMEOUT);
        assert!(
            matches!(err, BackendError::Boot(BootError::Timeout { .. })),
            "{err:?}"
        );
        assert!(vm.start(TIMEOUT).await.is_err(), "the last boot repeats");
        assert_eq!(control.starts(), 4);
        assert!(!control.is_running());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_stop_times_out_and_still_ends_the_vm() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut boot = FakeBoot::ready(BOOT);
        boot.stop_time = Duration::from_secs(30);
        let (mut vm, control) = FakeBackend::new(dir.path(), vec![boot]);
        vm.start(TIMEOUT).await.expect("start");
        let err = vm.stop(Duration::from_secs(10)).await.expect_err("slow");
        assert!(
            matches!(err, BackendError::Stop(StopError::Timeout(_))),
            "{err:?}"
        );
        assert!(!control.is_running());
    }
}
