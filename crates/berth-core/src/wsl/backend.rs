//! [`VmBackend`] on WSL 2. Starting imports the distribution on first use, then runs the agent
//! in it (`wsl.exe --exec`) and follows the agent's output, which is its console: the same
//! ready line and fatal-line detection as a serial console ([`crate::vm::console`]), copied to
//! the console log. Guest ports are reached over Hyper-V sockets to the WSL VM
//! ([`super::hvsock`]), whose id the Host Compute Service gives ([`super::hcs`]).
//!
//! Stopping asks the agent to shut the engine down (it then exits), and terminates the
//! distribution if it is still running after the timeout. WSL manages the VM's memory itself
//! (no balloon), and shared folders are the drive mounts WSL already has.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use berth_protocol::message::Request;
use berth_protocol::settings::AgentSettings;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use super::{command, hcs};
use crate::backend::{BackendError, BackendStatus, Capabilities, Started, VmBackend, VmSpec};
use crate::image::{GuestImage, Role, RootFormat};
use crate::vm::console::{self, Signal};
use crate::vm::BootError;
use crate::vsock::Endpoint;

/// Console lines kept for error messages.
const TAIL_LINES: usize = 40;

/// Everything the WSL backend needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WslConfig {
    /// `wsl.exe` (in `System32`).
    pub wsl_exe: PathBuf,
    /// The distribution's name.
    pub distribution: String,
    /// Where `wsl --import` puts the distribution's virtual disk.
    pub install_dir: PathBuf,
    /// The root tarball imported on first use.
    pub root_tar: PathBuf,
    /// Where the agent's output (its console) is copied.
    pub console_log: PathBuf,
    /// The agent's settings, passed as its arguments.
    pub agent: AgentSettings,
}

impl WslConfig {
    /// The configuration running `spec`, importing its image's root tarball into
    /// `install_dir` (where WSL keeps the distribution's virtual disk, which is also the
    /// engine's data: the spec's data directory and disk size do not apply). The agent gets
    /// the spec's settings as its arguments. The spec's shared folders are not passed: on
    /// Windows they are WSL's own drive mounts (`C:\x` is `/mnt/c/x`), not devices, and the
    /// agent would try to mount a `berth.share` as virtiofs. WSL sizes the VM itself, so
    /// the spec's CPUs and memory do not apply either.
    pub fn from_spec(spec: &VmSpec, install_dir: &Path) -> Result<WslConfig, BackendError> {
        let VmSpec {
            cpus: _,
            memory_mib: _,
            image,
            run_dir,
            data_dir: _,
            disk_gib: _,
            shares: _,
            agent,
        } = spec;
        let mut agent = agent.clone();
        agent.shares.clear();
        Ok(WslConfig {
            agent,
            ..WslConfig::for_image(image, install_dir, run_dir)?
        })
    }

    /// A configuration importing `image`'s root tarball into `install_dir`, with the console
    /// log in `run_dir`. The image must have been built with `--format tar`.
    pub fn for_image(
        image: &GuestImage,
        install_dir: &Path,
        run_dir: &Path,
    ) -> Result<WslConfig, BackendError> {
        if image.manifest.root_format != RootFormat::Tar {
            return Err(BackendError::Hypervisor(format!(
                "WSL imports a root tarball; {} holds a {:?} root (build one with vm-image/build.sh --format tar)",
                image.dir.display(),
                image.manifest.root_format
            )));
        }
        Ok(WslConfig {
            wsl_exe: PathBuf::from("wsl.exe"),
            distribution: super::DISTRIBUTION.to_owned(),
            install_dir: install_dir.to_path_buf(),
            root_tar: image.path(Role::Root),
            console_log: run_dir.join(crate::paths::CONSOLE_LOG),
            agent: AgentSettings::default(),
        })
    }
}

/// The WSL 2 backend for one configuration.
#[derive(Debug)]
pub struct WslBackend {
    config: WslConfig,
    agent: Option<Child>,
    vm_id: Option<String>,
}

impl WslBackend {
    /// A backend that will run `config`.
    pub fn new(config: WslConfig) -> WslBackend {
        WslBackend {
            config,
            agent: None,
            vm_id: None,
        }
    }

    /// Runs `wsl.exe` with `args` to completion; its decoded output, or an error quoting it.
    async fn wsl(&self, args: Vec<std::ffi::OsString>) -> Result<String, BackendError> {
        let mut cmd = Command::new(&self.config.wsl_exe);
        crate::child::isolate(&mut cmd);
        let output = cmd
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| {
                BackendError::Hypervisor(format!(
                    "cannot run {}: {e}; install WSL with: wsl --install --no-distribution",
                    self.config.wsl_exe.display()
                ))
            })?;
        let stdout = command::decode_output(&output.stdout);
        if output.status.success() {
            Ok(stdout)
        } else {
            let stderr = command::decode_output(&output.stderr);
            Err(BackendError::Hypervisor(format!(
                "wsl.exe {} failed ({}): {} {}",
                args.first()
                    .map(|a| a.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                output.status,
                stdout.trim(),
                stderr.trim()
            )))
        }
    }

    /// Imports the distribution unless WSL already has it.
    async fn ensure_imported(&self) -> Result<(), BackendError> {
        let listed = command::parse_list(&self.wsl(command::list()).await.unwrap_or_default());
        if listed
            .iter()
            .any(|d| d.name.eq_ignore_ascii_case(&self.config.distribution))
        {
            return Ok(());
        }
        std::fs::create_dir_all(&self.config.install_dir).map_err(|source| BootError::Prepare {
            path: self.config.install_dir.display().to_string(),
            source,
        })?;
        self.wsl(command::import(
            &self.config.distribution,
            &self.config.install_dir,
            &self.config.root_tar,
        ))
        .await?;
        Ok(())
    }
}

/// Follows the agent's output to its ready line, copying it to the console log.
async fn wait_ready(
    child: &mut Child,
    lines: &mut tokio::io::Lines<BufReader<ChildStdout>>,
    log: &mut tokio::fs::File,
    timeout: Duration,
) -> Result<berth_protocol::boot::ReadyLine, BootError> {
    let started = Instant::now();
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    let tail_text = |tail: &VecDeque<String>| tail.iter().cloned().collect::<Vec<_>>().join("\n");
    loop {
        let remaining = timeout.saturating_sub(started.elapsed());
        let line = match tokio::time::timeout(remaining, lines.next_line()).await {
            Err(_) => {
                return Err(BootError::Timeout {
                    after: timeout,
                    console: tail_text(&tail),
                })
            }
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) | Ok(Err(_)) => {
                let status = child
                    .wait()
                    .await
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string());
                let mut stderr = Vec::new();
                if let Some(mut err) = child.stderr.take() {
                    let _ = err.read_to_end(&mut stderr).await;
                }
                return Err(BootError::Exited {
                    status,
                    stderr: command::decode_output(&stderr).trim().to_owned(),
                    console: tail_text(&tail),
                });
            }
        };
        let _ = log.write_all(format!("{line}\n").as_bytes()).await;
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.clone());
        match console::classify(&line)? {
            Signal::Ready(ready) => return Ok(ready),
            Signal::Fatal(reason) => {
                return Err(BootError::GuestCrashed {
                    reason,
                    console: tail_text(&tail),
                })
            }
            Signal::Other => {}
        }
    }
}

impl VmBackend for WslBackend {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            hypervisor: "wsl2",
            acceleration: "hyper-v".into(),
            vsock: "hyperv-socket",
            shared_folders: true,
            balloon: false,
        }
    }

    async fn start(&mut self, timeout: Duration) -> Result<Started, BackendError> {
        if self.agent.is_some() {
            return Err(BackendError::AlreadyRunning);
        }
        let started = Instant::now();
        self.ensure_imported().await?;
        if let Some(dir) = self.config.console_log.parent() {
            std::fs::create_dir_all(dir).map_err(|source| BootError::Prepare {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let mut log = tokio::fs::File::create(&self.config.console_log)
            .await
            .map_err(|source| BootError::Prepare {
                path: self.config.console_log.display().to_string(),
                source,
            })?;
        let mut cmd = Command::new(&self.config.wsl_exe);
        crate::child::isolate(&mut cmd);
        let mut child = cmd
            .args(command::run_agent(
                &self.config.distribution,
                &self.config.agent,
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| BootError::Spawn {
                binary: self.config.wsl_exe.display().to_string(),
                source,
            })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BackendError::Hypervisor("wsl.exe gave no output pipe".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = match wait_ready(&mut child, &mut lines, &mut log, timeout).await {
            Ok(ready) => ready,
            Err(err) => {
                let _ = child.kill().await;
                return Err(err.into());
            }
        };
        // The console goes on being copied for `berth logs console`.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = log.write_all(format!("{line}\n").as_bytes()).await;
            }
        });
        let vm_id = match tokio::task::spawn_blocking(hcs::find_wsl_vm).await {
            Ok(Ok(id)) => id,
            Ok(Err(err)) => {
                let _ = child.kill().await;
                return Err(BackendError::Hypervisor(err.to_string()));
            }
            Err(err) => return Err(BackendError::Hypervisor(err.to_string())),
        };
        self.vm_id = Some(vm_id);
        self.agent = Some(child);
        Ok(Started {
            boot_time: started.elapsed(),
            agent_version: ready.version,
            guest_uptime_ms: ready.uptime_ms,
        })
    }

    async fn stop(&mut self, timeout: Duration) -> Result<(), BackendError> {
        let mut child = self.agent.take().ok_or(BackendError::NotRunning)?;
        if let Some(endpoint) = self.endpoint() {
            if let Ok(mut agent) = crate::agent::AgentClient::connect(endpoint).await {
                let _ = agent.request(Request::Shutdown).await;
            }
        }
        self.vm_id = None;
        let ended = tokio::time::timeout(timeout, child.wait()).await;
        // Whatever the agent left (a stuck engine) ends with the distribution.
        let _ = self
            .wsl(command::terminate(&self.config.distribution))
            .await;
        match ended {
            Ok(status) => status.map(|_| ()).map_err(BackendError::Wait),
            Err(_) => {
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
        Ok(BackendStatus::Running {
            guest: "running".into(),
            balloon_mib: None,
        })
    }

    async fn exited(&mut self) -> Result<String, BackendError> {
        let Some(child) = &mut self.agent else {
            return std::future::pending().await;
        };
        let status = child.wait().await.map_err(BackendError::Wait)?;
        self.agent = None;
        self.vm_id = None;
        Ok(format!("the agent in WSL exited ({status})"))
    }

    fn endpoint(&self) -> Option<Endpoint> {
        self.vm_id.as_ref().map(|vm_id| Endpoint::HyperV {
            vm_id: vm_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::RootFormat;

    #[test]
    fn the_spec_reaches_the_agent_as_arguments_without_share_devices() {
        let install = Path::new(r"C:\Users\ann\AppData\Local\berth\wsl");
        let squashfs = crate::backend::spec::sample_spec("amd64", RootFormat::Squashfs);
        assert!(WslConfig::from_spec(&squashfs, install).is_err());
        let mut spec = crate::backend::spec::sample_spec("amd64", RootFormat::Tar);
        spec.agent.shares.push(spec.shares[0].agent_share());
        let c = WslConfig::from_spec(&spec, install).expect("a tarball root");
        assert_eq!(c.root_tar, Path::new("/img/root.tar"));
        assert_eq!(c.install_dir, install);
        assert_eq!(c.console_log, Path::new("/run/berth/console.log"));
        let args: Vec<String> = command::run_agent(&c.distribution, &c.agent)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[8], command::AGENT_WSL_FLAG);
        assert_eq!(
            args[9..],
            [
                "berth.mirror=http://mirror.internal:5000",
                "berth.https_proxy=http://proxy.internal:3128"
            ]
        );
        assert!(
            !args.iter().any(|a| a.starts_with("berth.share")),
            "{args:?}"
        );
    }
}
