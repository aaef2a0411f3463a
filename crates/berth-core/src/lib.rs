//! Berth's host core: everything the CLI and the desktop app share, with no UI dependency.
//!
//! - [`image`]: the guest image on disk, its manifest and checksum verification;
//! - [`accel`]: which acceleration QEMU can use here (KVM when it really runs guests, else TCG);
//! - [`backend`]: the VM backend trait every hypervisor implements, the [`backend::VmSpec`]
//!   every backend's configuration is built from, and (feature `fake-backend`, Unix) a scripted
//!   stand-in backend for the supervisor's unit tests, `backend::fake::FakeBackend`;
//! - [`qemu`]: the QEMU backend and its command line, built from typed settings (Linux);
//! - [`vz`]: the Virtualization.framework backend (macOS);
//! - [`wsl`]: the WSL 2 backend (Windows);
//! - [`vm`]: booting the VM, waiting for the agent's ready line, detecting a dead guest and
//!   powering off through QMP;
//! - [`disk`]: the sparse qcow2 data disk;
//! - [`disk_usage`]: a nearly full data disk, with what uses it (the engine's `/system/df`);
//! - [`engine_api`]: the engine's API on the host (a Unix socket, a Windows named pipe),
//!   relayed as HTTP to the guest engine;
//! - [`listener`]: the one accept loop of every host server (a connection limit, backoff);
//! - [`logfile`]: Berth's own logs bounded (rotation) and tails read from the end;
//! - [`ports`]: published container ports listening on the host (TCP and UDP);
//! - [`vsock`]: host↔guest vsock, hybrid (vhost-device-vsock) or kernel vhost-vsock;
//! - [`clock`]: keeping the guest clock within a second of the host's;
//! - [`saver`]: the resource saver's leases: who needs the VM awake, and waking it;
//! - [`agent`]: the client of the guest agent (control connection, data connections);
//!   `fake_agent` (feature `fake-agent`, Unix) stands in for the agent in unit tests;
//! - [`instance`]: the single-instance lock and the published state file;
//! - [`state_events`]: the VM's lifecycle as a stream of changes, for any process;
//! - [`settings`]: the user's settings, validated against the host;
//! - [`shares`]: shared host folders (virtiofsd per folder) and host file events for the guest;
//! - [`paths`]: where Berth keeps its files on this OS;
//! - `named_pipe`, `pipe_security` (Windows): pipes only the current user may open;
//! - [`doctor`]: what Berth needs on this machine, as typed checks with their fixes;
//! - [`reset`]: deleting the data disks and the settings;
//! - [`redact`]: credentials taken out of text that leaves the machine (diagnostics);
//! - [`text`]: log text fit to read outside a terminal (no escape sequences or controls);
//! - [`diagnostics`]: the diagnostics bundle, a zip of plain, redacted text files;
//! - [`install`]: where an installed Berth keeps its helpers and guest image.

pub mod accel;
pub mod agent;
pub mod backend;
mod child;
pub mod clock;
pub mod diagnostics;
pub mod disk;
pub mod disk_usage;
pub mod doctor;
pub mod engine_api;
#[cfg(all(unix, any(test, feature = "fake-agent")))]
pub mod fake_agent;
pub mod image;
pub mod install;
pub mod instance;
pub mod listener;
mod lockfile;
pub mod logfile;
#[cfg(windows)]
pub mod named_pipe;
pub mod paths;
#[cfg(windows)]
pub mod pipe_security;
pub mod ports;
pub mod qemu;
pub mod redact;
pub mod reset;
pub mod saver;
pub mod settings;
pub mod shares;
pub mod state_events;
pub mod text;
pub mod vm;
pub mod vsock;
pub mod vz;
pub mod wsl;
