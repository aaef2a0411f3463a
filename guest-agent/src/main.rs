//! The Berth guest agent, PID 1 of the Berth VM.
//!
//! Stage 1 (a busybox initramfs, see `vm-image/stage1-init`) mounts the read-only root and
//! execs this binary as `/sbin/init`. From there the agent:
//!
//! - [`mounts`]: mounts the kernel filesystems, `/run`, `/tmp` and cgroup2;
//! - [`reaper`]: spawns every process and reaps every orphan; [`limits`] raises the open-file
//!   limit everything inherits;
//! - [`modules`]: loads the kernel modules the VM needs (with kmod's `modprobe`);
//! - [`boot_channel`]: reads the boot's secret and the engine's private settings;
//! - [`network`]: brings up lo and eth0 on QEMU's user network, with DNS;
//! - [`dns`]: the containers' resolver, which names the host `host.docker.internal`, and
//!   [`host_access`]: which of the host's loopback ports containers may reach;
//! - [`datadisk`]: formats (first boot), checks and mounts the engine's data disk;
//! - [`shares`]: mounts shared host folders (virtiofs) at their host paths, and
//!   [`file_events`] makes host edits in them visible to inotify in containers;
//! - [`shell`]: root shells for the host, on a pseudo-terminal or pipes;
//! - [`binfmt`]: registers the emulators of other CPU architectures (qemu-user, Rosetta);
//! - [`engine`]: writes `daemon.json`, starts and supervises containerd and dockerd;
//! - [`ports`]: follows the engine to keep the set of published container ports;
//! - [`server`]: serves the host over vsock: [`control`] requests and events, [`relay`]ed
//!   data connections ([`udp`] for datagrams), all writing through [`vsock_io`]; [`state`] is
//!   what they share, [`status`] the resource figures;
//! - [`console`] and [`logs`]: boot phases, the ready line and bounded logs;
//! - [`power_button`] and [`shutdown`]: clean power-off on request (the host, the ACPI power
//!   button, Ctrl-Alt-Del, SIGTERM, SIGPWR).
//!
//! Settings come from the kernel command line (`berth.*`, see `berth_protocol::settings`).
//! PID 1 must never exit: every error is reported on the console and ends in a clean power-off.
//! In [`wsl`] mode the agent is a process of a WSL 2 distribution instead, and exits: the engine's
//! in the system distribution, or the one sharing the engine's data in the data distribution.

mod binfmt;
mod boot_channel;
mod console;
mod control;
mod datadisk;
mod dns;
mod engine;
mod exec;
mod file_events;
mod host_access;
mod limits;
mod logs;
mod modules;
mod mounts;
mod network;
mod ports;
mod power_button;
mod reaper;
mod relay;
mod server;
mod shares;
mod shell;
mod shutdown;
mod state;
mod status;
mod udp;
mod volumes;
mod vsock_io;
mod watch_marks;
mod wsl;

use std::sync::Arc;
use std::time::Instant;

use berth_protocol::boot::ReadyLine;
use berth_protocol::message::EngineState;
use berth_protocol::settings::{AgentSettings, NetworkMode};
use berth_protocol::PROTOCOL_VERSION;

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn main() {
    let started = Instant::now();
    console::init();
    if let Some(message) = binfmt::explain_unemulated(&std::env::args().collect::<Vec<_>>()) {
        eprintln!("{message}");
        std::process::exit(126);
    }
    let boot = console::Phases::new(started);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wsl_mode = match wsl::mode(&args) {
        Ok(mode) => mode,
        Err(err) => {
            eprintln!("berth-agent: {err}");
            std::process::exit(2);
        }
    };
    if let Some(wsl::Mode::Data { dir }) = &wsl_mode {
        std::process::exit(serve_wsl_data(dir));
    }
    let (wsl_settings, wsl_data_dir) = match wsl_mode {
        Some(wsl::Mode::System { settings, data_dir }) => (Some(settings), data_dir),
        _ => (None, None),
    };
    if wsl_settings.is_none() && std::process::id() != 1 {
        eprintln!(
            "berth-agent is the init of the Berth VM and only runs as PID 1 (or with {} in WSL)",
            berth_protocol::boot::WSL_MODE_FLAG
        );
        std::process::exit(2);
    }
    let in_wsl = wsl_settings.is_some();
    // Still single-threaded here: children inherit a sane PATH.
    std::env::set_var("PATH", PATH);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run(boot, wsl_settings, wsl_data_dir)),
        Err(err) => tracing::error!("cannot start the runtime: {err}"),
    }
    if in_wsl {
        std::process::exit(0);
    }
    shutdown::power_off();
}

/// The agent in the WSL data distribution ([`wsl::serve_data`]): its exit status.
fn serve_wsl_data(dir: &str) -> i32 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let served = match runtime {
        Ok(runtime) => runtime.block_on(wsl::serve_data(dir)),
        Err(err) => Err(format!("cannot start the runtime: {err}")),
    };
    match served {
        Ok(()) => 0,
        Err(err) => {
            tracing::error!("data: {err}");
            1
        }
    }
}

async fn run(
    mut boot: console::Phases,
    wsl_settings: Option<String>,
    wsl_data_dir: Option<String>,
) {
    let in_wsl = wsl_settings.is_some();
    if in_wsl {
        if let Err(err) = wsl::become_subreaper() {
            tracing::warn!("cannot become a subreaper: {err}");
        }
    } else {
        if let Err(err) = mounts::mount_early() {
            tracing::error!("mounting the early filesystems failed: {err}");
            return;
        }
        boot.mark("mounts");
        shutdown::disable_ctrl_alt_del();
        if let Err(err) = nix::unistd::sethostname("berth") {
            tracing::warn!("cannot set the hostname: {err}");
        }
    }
    if let Err(err) = limits::raise_open_files() {
        tracing::warn!("cannot raise the open-file limit: {err}");
    }
    let reaper = match reaper::Reaper::start() {
        Ok(reaper) => reaper,
        Err(err) => return tracing::error!("cannot reap children: {err}"),
    };
    let requests = match shutdown::Requests::listen() {
        Ok(requests) => requests,
        Err(err) => return tracing::error!("cannot install signal handlers: {err}"),
    };
    let cmdline = wsl_settings
        .unwrap_or_else(|| std::fs::read_to_string("/proc/cmdline").unwrap_or_default());
    let (mut settings, warnings) = AgentSettings::from_cmdline(&cmdline);
    console::set_level(settings.log_level);
    for warning in warnings {
        tracing::warn!("{warning}");
    }

    // WSL's kernel, network and disk are WSL's: nothing to load, configure or format.
    if !in_wsl {
        modules::load(&reaper, modules::DEVICE_MODULES).await;
    }
    let secret = match boot_channel::read(settings.secret).await {
        Ok(channel) => {
            let (private, warnings) = AgentSettings::from_cmdline(&channel.params.join(" "));
            for warning in warnings {
                tracing::warn!("boot channel: {warning}");
            }
            settings.engine = private.engine;
            Some(channel.secret)
        }
        Err(err) => {
            tracing::error!("{err}; every connection will be refused");
            None
        }
    };
    let engine_modules = {
        let reaper = reaper.clone();
        tokio::spawn(async move {
            if !in_wsl {
                modules::load(&reaper, modules::ENGINE_MODULES).await
            }
        })
    };
    boot.mark("modules");
    if !in_wsl {
        power_button::watch();
    }
    let network = async {
        if in_wsl {
            return;
        }
        if let Err(err) = network::configure(&reaper, &settings.engine.dns, settings.network).await
        {
            tracing::error!("network: {err}");
        }
    };
    let disk = async {
        if let Some(device) = settings.data_disk.as_ref().filter(|_| !in_wsl) {
            if let Err(err) = datadisk::prepare(&reaper, device).await {
                // Without its disk the engine would write into RAM and lose everything at
                // shutdown: report it and keep the engine stopped.
                tracing::error!("{err}; the engine is not started");
            }
        }
    };
    tokio::join!(network, disk);
    if settings.network == NetworkMode::Static {
        // On QEMU's user network the guest's and the host's addresses are fixed; containers
        // resolve through the agent (see `dns`).
        let (upstreams, invalid) = network::upstreams(&settings.engine.dns);
        for server in invalid {
            tracing::warn!("dns: ignoring {server:?}: not an IP address");
        }
        dns::start((network::GUEST_IP, 53).into(), network::HOST_IP, upstreams);
    }
    let shares = shares::mount_all(&settings.shares);
    boot.mark("network+disk");
    let _ = engine_modules.await;
    boot.mark("engine-modules");
    binfmt::register(&reaper, in_wsl).await;
    boot.mark("binfmt");
    let data_ready = match (&wsl_data_dir, in_wsl) {
        // The engine's data lives in the WSL data distribution, which an image update keeps.
        (Some(dir), true) => match wsl::bind_data(dir) {
            Ok(()) => true,
            Err(err) => {
                tracing::error!("data: {err}; the engine is not started");
                false
            }
        },
        (None, true) => true,
        _ => settings.data_disk.is_none() || mounts::is_mount_point(datadisk::MOUNT_POINT),
    };

    // QEMU's user network only: there the host is 10.0.2.2 (WSL and DHCP networks differ).
    if !in_wsl && settings.network == NetworkMode::Static {
        host_access::apply(&reaper, &settings.engine.host_loopback).await;
    }
    let logs = engine::EngineLogs::default();
    let (engine, engine_state, engine_version) = if data_ready {
        match engine::Engine::start(&reaper, &settings, &logs) {
            Ok(engine) => {
                let (state, version) = (engine.state.clone(), engine.version.clone());
                (Some(engine), state, version)
            }
            Err(err) => {
                tracing::error!("cannot start the engine: {err}");
                stopped_engine()
            }
        }
    } else {
        stopped_engine()
    };
    boot.mark("engine-launch");

    let (ports, ports_watch) = ports::watch(engine_state.clone());
    let shared = Arc::new(state::Shared {
        engine_state: engine_state.clone(),
        engine_version,
        ports,
        logs,
        cpu: status::CpuSampler::default(),
        shutdown: tokio::sync::Notify::new(),
        shares,
    });
    if let Err(err) = server::start(shared.clone(), reaper.clone(), secret) {
        tracing::error!("cannot listen on vsock: {err}");
    }
    boot.mark("vsock");

    let ready = ReadyLine {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        protocol: PROTOCOL_VERSION,
        uptime_ms: console::uptime_ms().unwrap_or(0),
        agent_ms: boot.elapsed_ms(),
    };
    boot.report();
    console::raw(&ready.to_string());
    tokio::spawn(report_engine_ready(engine_state, boot.started()));

    let reason = requests.wait(&shared.shutdown).await;
    tracing::info!("shutting down ({reason})");
    ports_watch.abort();
    if let Some(engine) = engine {
        engine.stop().await;
        tracing::info!("engine stopped");
    }
    // In WSL the agent only leaves: the distribution is WSL's to stop.
    if !in_wsl {
        shutdown::prepare().await;
    }
}

/// A state receiver for an engine that will not run.
fn stopped_engine() -> (
    Option<engine::Engine>,
    tokio::sync::watch::Receiver<EngineState>,
    Arc<std::sync::Mutex<Option<String>>>,
) {
    let (tx, rx) = tokio::sync::watch::channel(EngineState::Stopped);
    // Keep the sender alive so receivers see a steady state rather than a closed channel.
    std::mem::forget(tx);
    (None, rx, Arc::default())
}

/// Prints when the engine first answers, from the agent's clock and the guest's uptime.
async fn report_engine_ready(
    mut state: tokio::sync::watch::Receiver<EngineState>,
    started: Instant,
) {
    if state.wait_for(|s| *s == EngineState::Ready).await.is_ok() {
        tracing::info!(
            "engine ready: agent_ms={} uptime_ms={}",
            started.elapsed().as_millis(),
            console::uptime_ms().unwrap_or(0)
        );
    }
}
