//! Kernel modules: loaded by name through kmod's `modprobe`, which resolves dependencies from
//! `modules.dep` (loading them first) and decompresses Debian's `.ko.xz` files. Modules the
//! engine would otherwise load on demand are loaded up front, in one call.

use std::process::Command;

use crate::reaper::Reaper;

/// Device modules the agent needs before it is ready: network, vsock, balloon, power button,
/// and QEMU's `fw_cfg` (the boot channel, [`crate::boot_channel`]).
pub const DEVICE_MODULES: &[&str] = &[
    "qemu_fw_cfg",
    "virtio_net",
    "vmw_vsock_virtio_transport",
    "virtio_balloon",
    "evdev",
    "button",
];

/// What the engine's networking uses, and binfmt_misc for [`crate::binfmt`]. Loaded in the
/// background while the network comes up: the kernel would also load them on demand, one
/// `modprobe` call at a time.
pub const ENGINE_MODULES: &[&str] = &[
    "binfmt_misc",
    "bridge",
    "br_netfilter",
    "veth",
    "nf_nat",
    "nf_conntrack",
    "xt_conntrack",
    "xt_MASQUERADE",
    "xt_addrtype",
    "ip_tables",
    "iptable_nat",
    "iptable_filter",
];

/// Loads `names` (with their dependencies). A module that fails is reported and skipped: the VM
/// stays usable without, say, the power button.
pub async fn load(reaper: &Reaper, names: &[&str]) {
    let mut cmd = Command::new("/usr/sbin/modprobe");
    cmd.arg("-a").args(names);
    if let Err(err) = reaper.check(&mut cmd).await {
        tracing::warn!("loading modules: {err}");
    }
}
