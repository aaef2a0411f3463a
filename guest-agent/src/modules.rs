//! Kernel modules: loaded by name through kmod's `modprobe`, which resolves dependencies from
//! `modules.dep` (loading them first) and decompresses Debian's `.ko.xz` files. Modules the
//! engine would otherwise load on demand are loaded up front, in one call.

use std::process::Command;

use crate::console;
use crate::reaper::Reaper;

/// Modules the VM needs beyond those stage 1 loaded for the root: devices (network, vsock,
/// balloon, power button) and what the engine's networking uses.
pub const BOOT_MODULES: &[&str] = &[
    "virtio_net",
    "vmw_vsock_virtio_transport",
    "virtio_balloon",
    "evdev",
    "button",
    "bridge",
    "br_netfilter",
    "veth",
    "nf_nat",
    "nf_conntrack",
    "xt_conntrack",
    "xt_MASQUERADE",
    "xt_addrtype",
    "nft_compat",
    "nft_chain_nat",
    "iptable_nat",
    "iptable_filter",
];

/// Loads `names` (with their dependencies). A module that fails is reported and skipped: the VM
/// stays usable without, say, the power button.
pub async fn load(reaper: &Reaper, names: &[&str]) {
    let mut cmd = Command::new("/usr/sbin/modprobe");
    cmd.arg("-a").args(names);
    if let Err(err) = reaper.check(&mut cmd).await {
        console::line(&format!("loading modules: {err}"));
    }
}
