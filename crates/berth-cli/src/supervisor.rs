//! The supervisor: boots the VM, waits for the engine, serves the engine socket and the docker
//! context, publishes every state change in `state.json`, and stops on SIGTERM or Ctrl-C. If
//! QEMU dies underneath it, the crash is published and the supervisor exits, cleaning up its
//! sockets and helper processes (they are its children, killed on drop).

use std::time::Duration;

use anyhow::{Context, Result};
use berth_core::backend::VmBackend;
use berth_core::engine_socket::EngineSocket;
use berth_core::instance::{self, StateFile, VmState};
use berth_core::paths::Paths;
use berth_core::settings::{Host, Settings};
use tokio::signal::unix::{signal, SignalKind};

use crate::{context, VmOptions};

/// Publishes states for one supervisor.
struct Publisher {
    runtime: std::path::PathBuf,
    state: StateFile,
    echo: bool,
}

impl Publisher {
    fn set(&mut self, state: VmState, phase: &str) {
        if !self.state.state.may_become(state) {
            tracing::warn!("lifecycle: {:?} cannot become {state:?}", self.state.state);
        }
        self.state.state = state;
        self.state.phase = Some(phase.to_owned());
        if self.echo {
            eprintln!("berth: {phase}");
        }
        if let Err(err) = instance::write_state(&self.runtime, &self.state) {
            tracing::warn!("cannot publish the state: {err}");
        }
    }

    fn fail(&mut self, error: &anyhow::Error) {
        self.state.error = Some(format!("{error:#}"));
        self.set(VmState::Error, "failed");
    }
}

/// Runs the VM until stopped. `echo` prints phases on stderr (foreground use).
pub async fn run(options: VmOptions, echo: bool) -> Result<()> {
    let paths = Paths::for_user()?;
    let _lock = instance::lock(&paths.runtime)?;
    let mut publisher = Publisher {
        runtime: paths.runtime.clone(),
        state: StateFile {
            version: instance::STATE_VERSION,
            state: VmState::Starting,
            pid: std::process::id(),
            phase: None,
            error: None,
            engine_socket: None,
            vsock: None,
        },
        echo,
    };
    match serve(&options, &paths, &mut publisher).await {
        Ok(()) => {
            publisher.state.engine_socket = None;
            publisher.set(VmState::Stopped, "stopped");
            Ok(())
        }
        Err(err) => {
            publisher.fail(&err);
            Err(err)
        }
    }
}

async fn serve(options: &VmOptions, paths: &Paths, publisher: &mut Publisher) -> Result<()> {
    publisher.set(VmState::Starting, "reading the settings");
    let host = Host::detect();
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let mut settings = Settings::load(
        &paths.config.join("settings.json"),
        Settings::defaults_for(host, home),
    )?;
    settings.cpus = options.cpus.unwrap_or(settings.cpus);
    settings.memory_mib = options.memory.unwrap_or(settings.memory_mib);
    settings.disk_gib = options.disk.unwrap_or(settings.disk_gib);
    settings.validate(host)?;
    publisher.set(VmState::Starting, "checking the guest image");
    let shares = berth_core::shares::plan(&settings.shared_folders, &paths.runtime)?;
    let prepared = crate::platform::prepare(options, paths, &settings, &shares).await?;
    let mut term = signal(SignalKind::terminate())?;
    publisher.set(
        VmState::Starting,
        &format!("booting the VM ({})", prepared.description),
    );
    let console_log = prepared.console_log;
    let mut vm = prepared.vm;
    let started = vm.start(options.timeout()).await?;
    let endpoint = vm.endpoint().context("the VM has no vsock device")?;
    publisher.state.vsock = Some(endpoint.clone());
    publisher.set(
        VmState::Starting,
        &format!(
            "guest ready in {:.1} s; waiting for the engine",
            started.boot_time.as_secs_f64()
        ),
    );
    crate::engine_ready::wait(
        &endpoint,
        options.timeout(),
        async { vm.exited().await.unwrap_or_else(|e| e.to_string()) },
        &console_log,
    )
    .await?;

    let ports =
        berth_core::ports::PortForwarder::start(&endpoint, settings.publish_on_all_interfaces);
    let clock = tokio::spawn(berth_core::clock::keep_in_sync(endpoint.clone()));
    let own = [&paths.data, &paths.runtime, &paths.logs, &paths.cache];
    let own = own.into_iter().cloned().collect();
    let _file_events = berth_core::shares::FileEvents::start(endpoint.clone(), &shares, own);
    let socket = EngineSocket::serve(&paths.runtime.join("docker.sock"), &endpoint).await?;
    let context = context::ensure(socket.path()).await;
    publisher.state.engine_socket = Some(socket.path().to_path_buf());
    publisher.set(VmState::Running, "engine ready");
    match context {
        Ok(()) if publisher.echo => eprintln!(
            "berth: socket {}; try `docker --context berth version`; Ctrl-C stops",
            socket.path().display()
        ),
        Ok(()) => {}
        Err(warning) => tracing::warn!("{warning}"),
    }

    let crashed = tokio::select! {
        status = vm.exited() => Some(status.unwrap_or_else(|e| e.to_string())),
        _ = tokio::signal::ctrl_c() => None,
        _ = term.recv() => None,
    };
    drop(socket);
    drop(ports);
    clock.abort();
    if let Some(how) = crashed {
        anyhow::bail!(
            "the VM ended unexpectedly ({how}); see {}; `berth start` starts it again",
            console_log.display()
        );
    }
    publisher.set(VmState::Stopping, "stopping the engine and powering off");
    vm.stop(Duration::from_secs(60)).await?;
    Ok(())
}
