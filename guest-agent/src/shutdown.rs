//! Orderly power-off: what asks for it (signals, Ctrl-Alt-Del, the power button) and the steps
//! that leave every filesystem clean (stop processes, sync, unmount, power off).

use std::fmt;
use std::time::Duration;

use nix::mount::{umount2, MntFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::signal::unix::{signal, Signal as Stream, SignalKind};
use tokio::sync::Notify;

use crate::mounts;

/// Why the agent is shutting down.
#[derive(Debug, Clone, Copy)]
pub enum Reason {
    /// SIGTERM.
    Terminate,
    /// SIGINT: the kernel's Ctrl-Alt-Del once [`disable_ctrl_alt_del`] ran.
    CtrlAltDel,
    /// SIGPWR: the ACPI power button or a power event.
    PowerButton,
    /// A shutdown request on the control connection.
    Host,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Terminate => "SIGTERM",
            Reason::CtrlAltDel => "Ctrl-Alt-Del",
            Reason::PowerButton => "power button",
            Reason::Host => "host request",
        })
    }
}

/// The signal streams that request a shutdown.
pub struct Requests {
    term: Stream,
    int: Stream,
    pwr: Stream,
}

impl Requests {
    /// Installs the handlers.
    pub fn listen() -> std::io::Result<Self> {
        Ok(Requests {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            pwr: signal(SignalKind::from_raw(libc::SIGPWR))?,
        })
    }

    /// Waits until a shutdown is requested by a signal or the host (`host`).
    pub async fn wait(mut self, host: &Notify) -> Reason {
        tokio::select! {
            _ = self.term.recv() => Reason::Terminate,
            _ = self.int.recv() => Reason::CtrlAltDel,
            _ = self.pwr.recv() => Reason::PowerButton,
            () = host.notified() => Reason::Host,
        }
    }
}

/// Asks the kernel to send SIGINT to PID 1 on Ctrl-Alt-Del instead of rebooting at once.
pub fn disable_ctrl_alt_del() {
    if let Err(err) = nix::sys::reboot::set_cad_enabled(false) {
        tracing::warn!("cannot take over Ctrl-Alt-Del: {err}");
    }
}

/// Stops every remaining process, syncs and unmounts everything it can, deepest mount first.
/// The reaper collects the exits.
pub async fn prepare() {
    let _ = kill(Pid::from_raw(-1), Signal::SIGTERM);
    for _ in 0..20 {
        if !others_alive() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
    tokio::time::sleep(Duration::from_millis(50)).await;
    nix::unistd::sync();
    if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
        let points: Vec<&str> = mounts::mount_points(&info).collect();
        for point in points.iter().rev().filter(|p| **p != "/") {
            if umount2(*point, MntFlags::empty()).is_err() {
                let _ = umount2(*point, MntFlags::MNT_DETACH);
            }
        }
    }
    nix::unistd::sync();
}

/// Whether any process other than PID 1 and kernel threads is left.
fn others_alive() -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            return false;
        };
        // Kernel threads have an empty cmdline.
        pid != 1 && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
    })
}

/// Powers the VM off. PID 1 must not return, so this never does.
pub fn power_off() -> ! {
    nix::unistd::sync();
    tracing::info!("power off");
    let err = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
    tracing::error!("power off failed: {err:?}");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
