//! Helper processes (QEMU, vhost-device-vsock) belong to Berth alone. Each runs in its own
//! process group, so a Ctrl-C in Berth's terminal reaches Berth (which powers the guest off
//! cleanly) and not QEMU (which would die on the spot); and each gets a parent-death signal, so
//! even a `kill -9` of Berth takes them down (`kill_on_drop` covers orderly exits).

use tokio::process::Command;

/// Puts the child in its own process group and has the kernel SIGKILL it when the thread that
/// spawned it exits.
pub fn isolate(command: &mut Command) {
    command.process_group(0);
    // SAFETY: the closure runs between fork and exec and only calls prctl(2), which is
    // async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
}
