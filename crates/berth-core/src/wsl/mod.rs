//! The WSL 2 backend (Windows): the guest root is imported as a WSL distribution
//! (`wsl --import`), the agent runs in it as root in WSL mode (WSL's own init is PID 1 and has
//! mounted the kernel filesystems, the network and the Windows drives), and the host reaches the
//! agent's vsock ports over Hyper-V sockets to the WSL utility VM.
//!
//! The engine's data lives apart from the image: in a data distribution imported once, whose
//! agent shares it with the image's system distribution through WSL's cross-distribution mount
//! (`/mnt/wsl`). So a new image replaces the system distribution (the previous one kept for a
//! rollback) and the user's images and volumes stay ([`distro`]).
//!
//! Everything that can be decided without Windows is a pure function with unit tests that run on
//! any OS: which distributions to import, boot and unregister ([`distro`]), the data
//! distribution's root ([`data_root`]), the `wsl.exe` argument lists and the parsing of its
//! output ([`command`]), path translation between Windows and the distribution ([`paths`]), the
//! Hyper-V socket service ids ([`hvsock`]) and the Host Compute Service's answer naming the WSL VM
//! ([`hcs`]). The Windows calls themselves (Winsock `AF_HYPERV`, `HcsEnumerateComputeSystems`)
//! are thin and compiled on Windows only.
//!
//! Shared folders need no device: WSL mounts every Windows drive under `/mnt/<letter>`, and
//! [`paths::to_wsl`] names a Windows folder's place there.

mod agent_output;
pub mod backend;
pub mod command;
pub mod config;
pub mod data_root;
pub mod distro;
pub mod hcs;
pub mod hvsock;
pub mod paths;

pub use backend::WslBackend;
pub use config::WslConfig;
