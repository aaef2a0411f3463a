//! The Berth guest agent, PID 1 of the Berth VM.
//!
//! Stage 1 (a busybox initramfs, see `vm-image/stage1-init`) mounts the read-only root and
//! execs this binary as `/sbin/init`. From there the agent:
//!
//! - [`mounts`]: mounts the kernel filesystems, `/run`, `/tmp` and cgroup2;
//! - [`modules`]: loads the kernel modules the VM needs (with kmod's `modprobe`);
//! - [`console`]: reports each boot phase and the ready line on the serial console;
//! - [`power_button`]: watches the ACPI power button so the host can ask for a power-off;
//! - [`shutdown`]: reaps orphans and powers off cleanly on request (power button, Ctrl-Alt-Del,
//!   SIGTERM, SIGPWR).
//!
//! PID 1 must never exit: every error is reported on the console and ends in a clean power-off.

mod console;
mod modules;
mod mounts;
mod power_button;
mod shutdown;

use std::time::Instant;

use berth_protocol::boot::ReadyLine;
use berth_protocol::PROTOCOL_VERSION;

/// Modules the agent needs beyond those stage 1 loaded for the root.
const BOOT_MODULES: &[&str] = &["evdev", "button"];

fn main() {
    let started = Instant::now();
    let boot = console::Phases::new(started);
    if std::process::id() != 1 {
        eprintln!("berth-agent is the init of the Berth VM and only runs as PID 1");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run(boot)),
        Err(err) => console::line(&format!("cannot start the runtime: {err}")),
    }
    shutdown::power_off();
}

async fn run(mut boot: console::Phases) {
    if let Err(err) = mounts::mount_early() {
        console::line(&format!("mounting the early filesystems failed: {err}"));
        return;
    }
    boot.mark("mounts");
    shutdown::disable_ctrl_alt_del();
    if let Err(err) = nix::unistd::sethostname("berth") {
        console::line(&format!("cannot set the hostname: {err}"));
    }
    modules::load(BOOT_MODULES).await;
    boot.mark("modules");

    let requests = shutdown::Requests::listen();
    let requests = match requests {
        Ok(requests) => requests,
        Err(err) => {
            console::line(&format!("cannot install signal handlers: {err}"));
            return;
        }
    };
    power_button::watch();

    let ready = ReadyLine {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        protocol: PROTOCOL_VERSION,
        uptime_ms: console::uptime_ms().unwrap_or(0),
        agent_ms: boot.elapsed_ms(),
    };
    boot.report();
    console::raw(&ready.to_string());

    let reason = requests.wait().await;
    console::line(&format!("shutting down ({reason})"));
    shutdown::prepare().await;
}
