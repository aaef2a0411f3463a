//! Helper processes (QEMU, vhost-device-vsock) must not outlive Berth: besides `kill_on_drop`
//! for orderly exits, each gets a parent-death signal, so even a `kill -9` of Berth takes them
//! down.

use tokio::process::Command;

/// Makes the kernel SIGKILL the child when the thread that spawned it exits.
pub fn die_with_parent(command: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only calls prctl(2), which is
    // async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
}
