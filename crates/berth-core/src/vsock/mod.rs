//! Host↔guest vsock: where the guest's ports are reached ([`Endpoint`]) and the stream a
//! connection yields ([`GuestStream`]), whichever transport carries it:
//!
//! - [`hybrid`]: `vhost-device-vsock` as QEMU's vhost-user backend, guest ports reached through
//!   a Unix socket (works everywhere QEMU runs, needs no kernel module);
//! - [`kernel`]: the host kernel's vhost-vsock (`/dev/vhost-vsock`) and `AF_VSOCK` sockets, used
//!   when the host has them;
//! - a Virtualization.framework virtio socket device (macOS): the VM's owner connects in
//!   process and hands the connection's descriptor over as a Unix stream ([`GuestStream::Unix`]);
//!   other processes reach it through a [`bridge`] that speaks the hybrid protocol;
//! - Hyper-V sockets (`AF_HYPERV`, Windows) to the WSL 2 utility VM, from any process
//!   ([`Endpoint::HyperV`]).

#[cfg(unix)]
pub mod bridge;
pub mod hybrid;
pub mod kernel;

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
#[cfg(unix)]
use tokio::net::UnixStream;

pub use hybrid::{connect_hybrid, find_helper, start_backend, VsockPaths};

/// The guest's context id.
pub const GUEST_CID: u32 = 3;

/// Why a vsock connection failed.
#[derive(Debug, thiserror::Error)]
pub enum VsockError {
    /// vhost-device-vsock is not installed.
    #[error("vhost-device-vsock was not found on PATH or in ~/.cargo/bin; install it with: cargo install --locked vhost-device-vsock@0.3.0")]
    BackendMissing,
    /// vhost-device-vsock did not start.
    #[error("vhost-device-vsock did not start: {0}")]
    BackendFailed(String),
    /// The hybrid socket could not be reached.
    #[error("cannot connect to {path}: {source}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Kernel vsock (`AF_VSOCK`) failed.
    #[error("cannot connect to guest cid {cid} port {port} over kernel vsock: {source}")]
    Kernel {
        /// The guest's context id.
        cid: u32,
        /// The port.
        port: u32,
        /// The OS error.
        source: std::io::Error,
    },
    /// This build has no kernel vsock support (not Linux).
    #[error("kernel vsock is not available on this OS")]
    KernelUnsupported,
    /// Hybrid vsock needs Unix-domain sockets.
    #[error("hybrid vsock (a Unix socket) is not available on this OS")]
    HybridUnsupported,
    /// Hyper-V sockets exist only on Windows.
    #[error("Hyper-V sockets are not available on this OS")]
    HyperVUnsupported,
    /// A Hyper-V socket (`AF_HYPERV`) to the WSL 2 VM failed.
    #[error("cannot connect to port {port} of Hyper-V VM {vm_id}: {reason}")]
    HyperV {
        /// The VM's id (a GUID).
        vm_id: String,
        /// The port.
        port: u32,
        /// What failed.
        reason: String,
    },
    /// The hypervisor's virtio socket device refused or failed (Virtualization.framework).
    #[error("cannot connect to guest port {port} through the virtio socket device: {reason}")]
    VirtioSocket {
        /// The port.
        port: u32,
        /// The hypervisor's error.
        reason: String,
    },
    /// The hybrid socket did not answer `CONNECT` in time (a stuck vhost-device-vsock).
    #[error("vhost-device-vsock did not answer for guest port {port} within {after:?}")]
    Handshake {
        /// The port.
        port: u32,
        /// How long it was given.
        after: std::time::Duration,
    },
    /// The guest port did not accept the connection.
    #[error("guest vsock port {port} refused the connection ({answer:?})")]
    Refused {
        /// The port.
        port: u32,
        /// What the backend answered.
        answer: String,
    },
}

/// Where the guest's vsock ports are reached from the host. Serialized in `state.json`: a hybrid
/// endpoint is the bare socket path, a kernel one `{"cid": N}`, a Hyper-V one
/// `{"vm_id": "GUID"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Endpoint {
    /// vhost-device-vsock's Unix socket.
    Hybrid(PathBuf),
    /// Kernel vsock to this guest context id.
    Kernel {
        /// The guest's context id.
        cid: u32,
    },
    /// Hyper-V sockets to the VM with this id (the WSL 2 utility VM), the port mapped to a
    /// service GUID ([`crate::wsl::hvsock::service_id`]).
    HyperV {
        /// The VM's id, a GUID.
        vm_id: String,
    },
}

impl From<&Path> for Endpoint {
    fn from(uds: &Path) -> Self {
        Endpoint::Hybrid(uds.to_path_buf())
    }
}

impl From<&PathBuf> for Endpoint {
    fn from(uds: &PathBuf) -> Self {
        Endpoint::Hybrid(uds.clone())
    }
}

impl From<PathBuf> for Endpoint {
    fn from(uds: PathBuf) -> Self {
        Endpoint::Hybrid(uds)
    }
}

impl From<&Endpoint> for Endpoint {
    fn from(endpoint: &Endpoint) -> Self {
        endpoint.clone()
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Hybrid(uds) => write!(f, "hybrid vsock {}", uds.display()),
            Endpoint::Kernel { cid } => write!(f, "vsock cid {cid}"),
            Endpoint::HyperV { vm_id } => write!(f, "Hyper-V socket to VM {vm_id}"),
        }
    }
}

/// The vsock device the VM is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VsockDevice {
    /// `vhost-user-vsock-pci` served by vhost-device-vsock.
    VhostUser(VsockPaths),
    /// `vhost-vsock-pci` served by the host kernel, with this guest context id.
    Kernel {
        /// The guest's context id, unique on the host.
        cid: u32,
    },
}

impl VsockDevice {
    /// Kernel vhost-vsock when this host offers it, else vhost-device-vsock with its sockets in
    /// `run_dir`. `BERTH_VSOCK=hybrid|kernel` overrides the choice.
    pub fn for_host(run_dir: &Path) -> VsockDevice {
        let kernel = match std::env::var("BERTH_VSOCK").as_deref() {
            Ok("kernel") => true,
            Ok("hybrid") => false,
            _ => kernel::available(),
        };
        if kernel {
            VsockDevice::Kernel {
                cid: kernel::cid_for_user(current_uid()),
            }
        } else {
            VsockDevice::VhostUser(VsockPaths::in_dir(run_dir))
        }
    }

    /// Where the host reaches the guest's ports.
    pub fn endpoint(&self) -> Endpoint {
        match self {
            VsockDevice::VhostUser(paths) => Endpoint::Hybrid(paths.uds.clone()),
            VsockDevice::Kernel { cid } => Endpoint::Kernel { cid: *cid },
        }
    }
}

#[cfg(unix)]
fn current_uid() -> u32 {
    nix::unistd::Uid::current().as_raw()
}

#[cfg(not(unix))]
fn current_uid() -> u32 {
    0
}

/// An open connection to a guest port.
#[derive(Debug)]
pub enum GuestStream {
    /// Through vhost-device-vsock's Unix socket (or a [`bridge`] speaking its protocol).
    #[cfg(unix)]
    Hybrid(UnixStream),
    /// A kernel `AF_VSOCK` socket.
    #[cfg(target_os = "linux")]
    Kernel(tokio_vsock::VsockStream),
    /// A connected Unix-domain stream the hypervisor handed over: a Virtualization.framework
    /// virtio socket connection's descriptor.
    #[cfg(unix)]
    Unix(UnixStream),
    /// A Hyper-V socket, relayed by blocking threads (tokio cannot poll `AF_HYPERV` sockets).
    #[cfg(windows)]
    HyperV(tokio::io::DuplexStream),
}

/// Connects to guest `port` at `endpoint`.
pub async fn connect(endpoint: impl Into<Endpoint>, port: u32) -> Result<GuestStream, VsockError> {
    match endpoint.into() {
        #[cfg(unix)]
        Endpoint::Hybrid(uds) => connect_hybrid(&uds, port).await.map(GuestStream::Hybrid),
        #[cfg(not(unix))]
        Endpoint::Hybrid(uds) => match connect_hybrid(&uds, port).await? {},
        Endpoint::Kernel { cid } => kernel::connect(cid, port).await,
        #[cfg(windows)]
        Endpoint::HyperV { vm_id } => crate::wsl::hvsock::connect(&vm_id, port).await,
        #[cfg(not(windows))]
        Endpoint::HyperV { .. } => Err(VsockError::HyperVUnsupported),
    }
}

macro_rules! each_stream {
    ($self:ident, $s:ident => $body:expr) => {
        match $self.get_mut() {
            #[cfg(unix)]
            GuestStream::Hybrid($s) => $body,
            #[cfg(target_os = "linux")]
            GuestStream::Kernel($s) => $body,
            #[cfg(unix)]
            GuestStream::Unix($s) => $body,
            #[cfg(windows)]
            GuestStream::HyperV($s) => $body,
        }
    };
}

impl AsyncRead for GuestStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each_stream!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for GuestStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_state_file_format() {
        let hybrid = Endpoint::Hybrid("/run/user/1000/berth/vsock.sock".into());
        let text = serde_json::to_string(&hybrid).expect("serialize");
        assert_eq!(text, "\"/run/user/1000/berth/vsock.sock\"");
        assert_eq!(
            serde_json::from_str::<Endpoint>(&text).expect("parse"),
            hybrid
        );
        let kernel: Endpoint = serde_json::from_str(r#"{"cid":7}"#).expect("parse");
        assert_eq!(kernel, Endpoint::Kernel { cid: 7 });
        let hyperv: Endpoint =
            serde_json::from_str(r#"{"vm_id":"9a4b6a1c-0000-4c4e-8d2f-0123456789ab"}"#)
                .expect("parse");
        assert_eq!(
            hyperv,
            Endpoint::HyperV {
                vm_id: "9a4b6a1c-0000-4c4e-8d2f-0123456789ab".into()
            }
        );
    }
}
