//! Helper processes (QEMU, vhost-device-vsock, `wsl.exe`) belong to Berth alone. Each runs in
//! its own process group, so a Ctrl-C in Berth's terminal reaches Berth (which powers the guest
//! off cleanly) and not QEMU (which would die on the spot); and on Linux each gets a parent-death
//! signal, so even a `kill -9` of Berth takes them down (`kill_on_drop` covers orderly exits).
//! macOS has no parent-death signal and Windows no process groups in that sense: there
//! `kill_on_drop` alone applies, and on Windows the child gets no console window.
//! Helpers log to files (a pipe nobody reads could fill and stall them); [`read_tail`] quotes
//! such a log in an error.

use tokio::process::Command;

/// Puts the child in its own process group and, on Linux, has the kernel SIGKILL it when the
/// thread that spawned it exits.
#[cfg(unix)]
pub fn isolate(command: &mut Command) {
    command.process_group(0);
    // SAFETY: the closure runs between fork and exec and only calls prctl(2), which is
    // async-signal-safe; it touches no memory shared with the parent.
    #[cfg(target_os = "linux")]
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
}

/// Starts the child in a new process group (Ctrl-C in Berth's console does not reach it) and
/// without a console window.
#[cfg(windows)]
pub fn isolate(command: &mut Command) {
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    const CREATE_NO_WINDOW: u32 = 0x0800_0000;
    command.creation_flags(CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW);
}

/// The last few KiB of a helper's log file, for an error message; empty if it cannot be read.
pub(crate) async fn read_tail(path: &std::path::Path) -> String {
    const TAIL: usize = 4096;
    let bytes = tokio::fs::read(path).await.unwrap_or_default();
    let start = bytes.len().saturating_sub(TAIL);
    String::from_utf8_lossy(&bytes[start..]).trim().to_owned()
}
