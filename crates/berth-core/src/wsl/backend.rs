//! [`VmBackend`] on WSL 2. A start follows the [`distro::plan`]: it imports the data
//! distribution on first use, runs its agent (which shares the engine's data at
//! `/mnt/wsl/berth/data`), imports the image's system distribution when the image is new, and
//! runs the agent in it (`wsl.exe --exec`), following its output as a console: the same ready
//! line and fatal-line detection as a serial console ([`crate::vm::console`]), copied to the
//! console log. If a new image's distribution does not become ready, the previous one boots
//! instead and the start says so; once one is ready, [`distro::after_boot`] names what to
//! unregister (the one before the previous). Guest ports are reached over Hyper-V sockets to
//! the WSL VM ([`super::hvsock`]), whose id the Host Compute Service gives ([`super::hcs`];
//! injectable, see [`WslBackend::with_vm_lookup`]).
//!
//! Stopping asks the agent to shut the engine down (it then exits), terminates the system
//! distribution if it is still running after the timeout, then lets the data agent go and
//! terminates the data distribution. WSL manages the VM's memory itself (no balloon), and
//! shared folders are the drive mounts WSL already has.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_protocol::auth::{BootChannel, BootSecret};
use berth_protocol::boot::{parse_data_ready, WSL_SHARED_DATA_DIR};
use berth_protocol::call::Shutdown;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

use super::agent_output::{first_line, read_stderr, wait_ready, Log};
use super::command::{self, Distribution};
use super::distro::{self, Installed, Plan, State, SystemImport, DATA_DISTRIBUTION};
use super::{data_root, hcs, WslConfig};
use crate::agent::AgentAddress;
use crate::backend::{BackendError, BackendStatus, Capabilities, NoPause, Started, VmBackend};
use crate::logfile::SharedLog;
use crate::vm::BootError;
use crate::vsock::Endpoint;

/// How long a terminated distribution's `wsl.exe` gets to end before it is killed.
const TERMINATE_GRACE: Duration = Duration::from_secs(5);

/// How the WSL VM's id is found: [`hcs::find_wsl_vm`] unless a test says otherwise.
pub type VmLookup = Arc<dyn Fn() -> Result<String, hcs::HcsError> + Send + Sync>;

/// What went wrong with WSL itself, each naming the fix.
#[derive(Debug, thiserror::Error)]
pub enum WslError {
    /// No `wsl.exe`.
    #[error("cannot run {exe}: {source}; {fix}", fix = command::MISSING_FIX)]
    Missing {
        /// The program.
        exe: String,
        /// Why.
        source: std::io::Error,
    },
    /// `wsl.exe` failed.
    #[error("`wsl.exe {args}` failed ({status}): {output}{}", .fix.map(|f| format!("\n{f}")).unwrap_or_default())]
    Failed {
        /// Its arguments.
        args: String,
        /// Its exit status.
        status: String,
        /// What it printed.
        output: String,
        /// The fix, when Berth recognises the failure ([`command::explain_failure`]).
        fix: Option<&'static str>,
    },
    /// The data distribution's agent did not share the data.
    #[error("the data distribution {DATA_DISTRIBUTION} did not share the engine's data: {0}")]
    Data(String),
    /// The plan refused (someone else's distribution) or the state file is unusable.
    #[error(transparent)]
    Plan(#[from] distro::PlanError),
    /// The state file.
    #[error(transparent)]
    State(#[from] distro::StateError),
    /// The data distribution's root could not be written.
    #[error(transparent)]
    DataRoot(#[from] data_root::DataRootError),
    /// The WSL VM was not found after the agent was ready.
    #[error("the agent is ready but its VM cannot be reached: {0}")]
    Vm(#[from] hcs::HcsError),
}

impl From<WslError> for BackendError {
    fn from(err: WslError) -> BackendError {
        BackendError::Hypervisor(err.to_string())
    }
}

/// The WSL 2 backend for one configuration.
pub struct WslBackend {
    config: WslConfig,
    agent: Option<Child>,
    data: Option<Child>,
    system: Option<String>,
    vm_id: Option<String>,
    /// This start's secret, handed to the agent on its standard input.
    secret: Option<BootSecret>,
    vm_lookup: VmLookup,
    notices: Vec<String>,
}

impl std::fmt::Debug for WslBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WslBackend")
            .field("config", &self.config)
            .field("system", &self.system)
            .field("vm_id", &self.vm_id)
            .finish_non_exhaustive()
    }
}

impl WslBackend {
    /// A backend that will run `config`.
    pub fn new(config: WslConfig) -> WslBackend {
        WslBackend {
            config,
            agent: None,
            data: None,
            system: None,
            vm_id: None,
            secret: None,
            vm_lookup: Arc::new(hcs::find_wsl_vm),
            notices: Vec::new(),
        }
    }

    /// The same backend finding the WSL VM's id with `lookup` (called off the async workers)
    /// instead of asking the Host Compute Service: for tests, where there is none.
    pub fn with_vm_lookup(
        mut self,
        lookup: impl Fn() -> Result<String, hcs::HcsError> + Send + Sync + 'static,
    ) -> WslBackend {
        self.vm_lookup = Arc::new(lookup);
        self
    }

    /// The system distribution running, if any.
    pub fn distribution(&self) -> Option<&str> {
        self.system.as_deref()
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.config.wsl_exe);
        crate::child::isolate(&mut cmd);
        cmd
    }

    fn missing(&self, source: std::io::Error) -> WslError {
        WslError::Missing {
            exe: self.config.wsl_exe.display().to_string(),
            source,
        }
    }

    /// Runs `wsl.exe` with `args` to completion: its decoded output, or an error quoting it
    /// (and naming the fix when Berth knows it).
    async fn wsl(&self, args: Vec<OsString>) -> Result<String, WslError> {
        let output = self
            .command()
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| self.missing(e))?;
        let stdout = command::decode_output(&output.stdout);
        if output.status.success() {
            return Ok(stdout);
        }
        let text = format!(
            "{} {}",
            stdout.trim(),
            command::decode_output(&output.stderr).trim()
        )
        .trim()
        .to_owned();
        Err(WslError::Failed {
            args: args
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            status: output.status.to_string(),
            fix: command::explain_failure(&text),
            output: text,
        })
    }

    /// WSL's distributions. WSL exits non-zero when it has none; that is an empty list unless
    /// what it printed is a failure Berth recognises (no WSL at all, no virtualization).
    async fn list(&self) -> Result<Vec<Distribution>, WslError> {
        match self.wsl(command::list()).await {
            Ok(text) => Ok(command::parse_list(&text)),
            Err(WslError::Failed { fix: None, .. }) => Ok(Vec::new()),
            Err(err) => Err(err),
        }
    }

    fn notice(&mut self, text: String) {
        tracing::warn!("{text}");
        self.notices.push(text);
    }

    /// Writes the state file, off the async workers.
    async fn save(&self, state: &State) -> Result<(), WslError> {
        let (state, dir) = (state.clone(), self.config.install_dir.clone());
        let path = dir.join(distro::STATE_FILE).display().to_string();
        tokio::task::spawn_blocking(move || state.save(&dir))
            .await
            .map_err(|e| distro::StateError::Write {
                path,
                source: std::io::Error::other(e),
            })?
            .map_err(WslError::from)
    }

    /// Imports the data distribution from a root written for it.
    async fn import_data(&self, state: &mut State) -> Result<(), WslError> {
        let dir = &self.config.install_dir;
        let tar = dir.join(format!("{DATA_DISTRIBUTION}.tar"));
        let (root, out) = (self.config.root_tar.clone(), tar.clone());
        tokio::task::spawn_blocking(move || data_root::write_for_image(&root, &out))
            .await
            .map_err(|e| WslError::Data(e.to_string()))??;
        let imported = self.import(state, DATA_DISTRIBUTION, &tar).await;
        let _ = tokio::fs::remove_file(&tar).await;
        imported
    }

    /// `wsl --import NAME DIR/NAME TAR`, recorded as Berth's before it starts (and forgotten
    /// again if it fails, as WSL then registers nothing).
    async fn import(&self, state: &mut State, name: &str, tar: &Path) -> Result<(), WslError> {
        let dir = self.config.install_dir.join(name);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|source| distro::StateError::Write {
                path: dir.display().to_string(),
                source,
            })?;
        state.adopt(name);
        self.save(state).await?;
        tracing::info!("importing {} as {name}", tar.display());
        if let Err(err) = self.wsl(command::import(name, &dir, tar)).await {
            distro::forget(state, name);
            self.save(state).await?;
            return Err(err);
        }
        Ok(())
    }

    /// Starts the data distribution's agent and waits for it to share the data.
    async fn start_data(&self, log: &Log, timeout: Duration) -> Result<Child, BackendError> {
        let mut child = self
            .command()
            .args(command::run_data_agent(DATA_DISTRIBUTION))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.missing(e))?;
        let mut lines = log
            .follow(&mut child)
            .ok_or_else(|| WslError::Data("wsl.exe gave no output pipe".into()))?;
        let waited = tokio::time::timeout(timeout, async {
            let mut tail = Vec::new();
            while let Some(line) = lines.recv().await {
                if let Some(path) = parse_data_ready(&line) {
                    return Ok(path == WSL_SHARED_DATA_DIR);
                }
                tail.push(line);
            }
            Err(tail.join("\n"))
        })
        .await;
        let failure = match waited {
            Ok(Ok(true)) => None,
            Ok(Ok(false)) => Some("it shared another directory than Berth asked for".to_owned()),
            Ok(Err(output)) => {
                let status = child
                    .wait()
                    .await
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                let stderr = read_stderr(&mut child).await;
                Some(format!(
                    "its agent exited ({status}): {}",
                    format!("{output}\n{stderr}").trim()
                ))
            }
            Err(_) => Some(format!("no answer within {timeout:?}")),
        };
        if let Some(why) = failure {
            let _ = child.kill().await;
            return Err(WslError::Data(why).into());
        }
        // The output goes on being copied to the log without being handed over.
        drop(lines);
        Ok(child)
    }

    /// Runs the agent in `system` to its ready line.
    async fn boot(
        &self,
        system: &str,
        log: &Log,
        timeout: Duration,
    ) -> Result<(Child, berth_protocol::boot::ReadyLine), BackendError> {
        let mut child = self
            .command()
            .args(command::run_agent(
                system,
                Some(WSL_SHARED_DATA_DIR),
                &self.config.agent,
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| BootError::Spawn {
                binary: self.config.wsl_exe.display().to_string(),
                source,
            })?;
        // The boot channel on the agent's standard input (`berth.secret=stdin`): not in
        // wsl.exe's arguments, which every process on the PC can read.
        let channel = self
            .secret
            .as_ref()
            .map(|secret| BootChannel::new(secret.clone(), &self.config.agent))
            .ok_or(BackendError::NotRunning)?;
        if let Some(mut stdin) = child.stdin.take() {
            if let Err(err) = stdin.write_all(channel.to_text().as_bytes()).await {
                log.line(&format!("berth: cannot hand the agent its secret: {err}"))
                    .await;
            }
        }
        let mut lines = log
            .follow(&mut child)
            .ok_or_else(|| BackendError::Hypervisor("wsl.exe gave no output pipe".into()))?;
        let ready = match wait_ready(&mut child, &mut lines, timeout).await {
            Ok(ready) => ready,
            Err(err) => {
                let _ = child.kill().await;
                let _ = self.wsl(command::terminate(system)).await;
                return Err(err.into());
            }
        };
        // The console goes on being copied for `berth logs console`, not handed over.
        drop(lines);
        Ok((child, ready))
    }

    /// Everything of a start up to a ready agent in a system distribution: the plan, the
    /// imports, the data agent, the boot and a rollback.
    async fn bring_up(
        &mut self,
        log: &Log,
        timeout: Duration,
    ) -> Result<(Child, berth_protocol::boot::ReadyLine, Installed), BackendError> {
        let started = Instant::now();
        let remaining = || timeout.saturating_sub(started.elapsed());
        let dir = self.config.install_dir.clone();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|source| BootError::Prepare {
                path: dir.display().to_string(),
                source,
            })?;
        let listed = self.list().await?;
        let read_dir = dir.clone();
        let (state, disks) = tokio::task::spawn_blocking(move || {
            State::load(&read_dir).map(|state| (state, distro::disks_in(&read_dir)))
        })
        .await
        .map_err(|e| BackendError::Hypervisor(e.to_string()))?
        .map_err(WslError::from)?;
        let mut state = state;
        let plan: Plan =
            distro::plan(&state, &listed, &disks, &self.config.image_id).map_err(WslError::from)?;
        for text in plan.notices() {
            log.line(&format!("berth: {text}")).await;
            self.notice(text);
        }
        if plan.import_data.is_some() {
            self.import_data(&mut state).await?;
        }
        self.data = Some(self.start_data(log, remaining()).await?);

        let target = Installed {
            name: plan.system.clone(),
            image: self.config.image_id.clone(),
        };
        let fallback = plan.fallback.clone().and_then(|name| {
            state
                .current
                .clone()
                .filter(|c| c.name.eq_ignore_ascii_case(&name))
        });
        let mut attempt: Result<(), BackendError> = Ok(());
        if let Some(why) = &plan.import_system {
            if *why == SystemImport::Unfinished {
                let _ = self.wsl(command::unregister(&target.name)).await;
            }
            let root = self.config.root_tar.clone();
            attempt = self
                .import(&mut state, &target.name, &root)
                .await
                .map_err(BackendError::from);
        }
        let booted = match attempt {
            Ok(()) => self.boot(&target.name, log, remaining()).await,
            Err(err) => Err(err),
        };
        let (child, ready, installed) = match (booted, fallback) {
            (Ok((child, ready)), _) => (child, ready, target),
            (Err(err), Some(previous)) => {
                let text = format!(
                    "the new image's distribution {} did not start ({}); went back to the previous one, {}",
                    target.name,
                    first_line(&err.to_string()),
                    previous.name
                );
                log.line(&format!("berth: {text}")).await;
                self.notice(text);
                let (child, ready) = self.boot(&previous.name, log, remaining()).await?;
                (child, ready, previous)
            }
            (Err(err), None) => return Err(err),
        };
        // WSL's list again: it now holds what this start imported.
        let listed = self.list().await.unwrap_or(listed);
        let (mut next, unregister) = distro::after_boot(&state, &installed, &listed);
        self.save(&next).await?;
        for name in unregister {
            match self.wsl(command::unregister(&name)).await {
                Ok(_) => {
                    distro::forget(&mut next, &name);
                    let _ = tokio::fs::remove_dir_all(dir.join(&name)).await;
                    tracing::info!("unregistered {name}");
                }
                Err(err) => self.notice(format!("cannot unregister {name}: {err}")),
            }
        }
        self.save(&next).await?;
        Ok((child, ready, installed))
    }

    /// Ends what a failed start left running.
    async fn abandon(&mut self) {
        if let Some(mut child) = self.agent.take() {
            let _ = child.kill().await;
        }
        if let Some(system) = self.system.take() {
            let _ = self.wsl(command::terminate(&system)).await;
        }
        self.release_data().await;
    }

    /// Lets the data agent go (its standard input closes, it unshares the data) and
    /// terminates the data distribution.
    async fn release_data(&mut self) {
        let Some(mut child) = self.data.take() else {
            return;
        };
        drop(child.stdin.take());
        if tokio::time::timeout(TERMINATE_GRACE, child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
        let _ = self.wsl(command::terminate(DATA_DISTRIBUTION)).await;
    }
}

impl VmBackend for WslBackend {
    type Power = NoPause;

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            hypervisor: "wsl2",
            acceleration: "hyper-v".into(),
            vsock: "hyperv-socket",
            shared_folders: true,
            balloon: false,
            // The WSL 2 utility VM is shared with the user's other distributions: pausing it
            // would freeze them too. WSL's own idle timeout stops it when nothing runs.
            pause: false,
        }
    }

    fn power_control(&self) -> Option<NoPause> {
        None
    }

    async fn start(&mut self, timeout: Duration) -> Result<Started, BackendError> {
        if self.agent.is_some() {
            return Err(BackendError::AlreadyRunning);
        }
        let started = Instant::now();
        self.notices.clear();
        if let Some(dir) = self.config.console_log.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| BootError::Prepare {
                    path: dir.display().to_string(),
                    source,
                })?;
        }
        let log = SharedLog::create(&self.config.console_log, crate::logfile::MAX_LOG)
            .await
            .map_err(|source| BootError::Prepare {
                path: self.config.console_log.display().to_string(),
                source,
            })?;
        let log = Log(log);
        self.secret = Some(
            crate::agent::new_secret().map_err(|source| BootError::Prepare {
                path: "the OS's random source".into(),
                source,
            })?,
        );
        let (child, ready, installed) = match self.bring_up(&log, timeout).await {
            Ok(up) => up,
            Err(err) => {
                self.abandon().await;
                return Err(err);
            }
        };
        self.agent = Some(child);
        self.system = Some(installed.name);
        let lookup = self.vm_lookup.clone();
        let vm_id = match tokio::task::spawn_blocking(move || lookup()).await {
            Ok(Ok(id)) => id,
            Ok(Err(err)) => {
                self.abandon().await;
                return Err(WslError::Vm(err).into());
            }
            Err(err) => {
                self.abandon().await;
                return Err(BackendError::Hypervisor(err.to_string()));
            }
        };
        self.vm_id = Some(vm_id);
        Ok(Started {
            boot_time: started.elapsed(),
            agent_version: ready.version,
            guest_uptime_ms: ready.uptime_ms,
        })
    }

    async fn stop(&mut self, timeout: Duration) -> Result<(), BackendError> {
        let mut child = self.agent.take().ok_or(BackendError::NotRunning)?;
        let mut asked = false;
        if let Some(address) = self.agent() {
            if let Ok(mut agent) = crate::agent::AgentClient::connect(address).await {
                asked = agent.call(Shutdown).await.is_ok();
            }
        }
        self.vm_id = None;
        self.secret = None;
        // An agent that was asked gets the time allowed; one that cannot be reached is
        // terminated at once.
        let ended = if asked {
            tokio::time::timeout(timeout, child.wait()).await.ok()
        } else {
            None
        };
        // Whatever the agent left (a stuck engine) ends with the distribution.
        if let Some(system) = self.system.take() {
            let _ = self.wsl(command::terminate(&system)).await;
        }
        let ended = match ended {
            Some(status) => Some(status),
            None => tokio::time::timeout(TERMINATE_GRACE, child.wait())
                .await
                .ok(),
        };
        self.release_data().await;
        match ended {
            Some(status) => status.map(|_| ()).map_err(BackendError::Wait),
            None => {
                let _ = child.kill().await;
                Err(crate::vm::StopError::Timeout(timeout).into())
            }
        }
    }

    async fn status(&mut self) -> Result<BackendStatus, BackendError> {
        let Some(child) = &mut self.agent else {
            return Ok(BackendStatus::Stopped);
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return Ok(BackendStatus::Stopped);
        }
        if let Some(data) = &mut self.data {
            if matches!(data.try_wait(), Ok(Some(_))) {
                return Ok(BackendStatus::Dead {
                    guest: format!("the data distribution {DATA_DISTRIBUTION} stopped"),
                });
            }
        }
        Ok(BackendStatus::Running {
            guest: "running".into(),
            balloon_mib: None,
        })
    }

    async fn exited(&mut self) -> Result<String, BackendError> {
        let Some(child) = &mut self.agent else {
            return std::future::pending().await;
        };
        let data = &mut self.data;
        let data_ended = async {
            match data {
                Some(data) => data.wait().await,
                None => std::future::pending().await,
            }
        };
        let how = tokio::select! {
            status = child.wait() => {
                format!("the agent in WSL exited ({})", status.map_err(BackendError::Wait)?)
            }
            status = data_ended => format!(
                "the data distribution's agent exited ({}): the engine lost its data",
                status.map_err(BackendError::Wait)?
            ),
        };
        if let Some(mut child) = self.agent.take() {
            let _ = child.kill().await;
        }
        self.vm_id = None;
        self.secret = None;
        if let Some(system) = self.system.take() {
            let _ = self.wsl(command::terminate(&system)).await;
        }
        self.release_data().await;
        Ok(how)
    }

    /// Distributions removed behind Berth's back, a new image that did not boot and the
    /// previous one running instead, a distribution that could not be unregistered. Also in
    /// the console log and the log.
    fn notices(&self) -> Vec<String> {
        self.notices.clone()
    }

    fn agent(&self) -> Option<AgentAddress> {
        Some(AgentAddress {
            vsock: Endpoint::HyperV {
                vm_id: self.vm_id.clone()?,
            },
            secret: self.secret.clone()?,
        })
    }
}
