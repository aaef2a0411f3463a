//! The Virtualization.framework backend (macOS), through the `objc2-virtualization` bindings.
//!
//! The VM: `VZLinuxBootLoader` (kernel, stage-1 initramfs, command line), the read-only root
//! image and the raw data disk as virtio block devices, NAT networking (the agent takes its
//! address by DHCP), a virtio socket device, one virtio file system device per shared folder
//! (tag → host path, mounted by the agent at the same path, as with the QEMU backend), the
//! memory balloon, an entropy device, the console on a virtio console port written to the
//! console log, and on Apple silicon the Rosetta share when Rosetta is installed.
//!
//! [`config`] holds every decision as plain data with unit tests that run on any OS: the
//! device list, the kernel command line, validation, the data disk. [`VzBackend`] (macOS only)
//! turns it into Objective-C objects and drives the VM on its own serial dispatch queue. The
//! virtio socket device belongs to the process that runs the VM, so the backend serves a
//! [`crate::vsock::bridge`] in the runtime directory for every other process.
//!
//! The process must be signed with the `com.apple.security.virtualization` entitlement
//! (`installer/macos/berth.entitlements`).

pub mod config;
#[cfg(target_os = "macos")]
mod macos;

pub use config::VzConfig;
#[cfg(target_os = "macos")]
pub use macos::VzBackend;
