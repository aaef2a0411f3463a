//! The contract between the Berth host and the guest agent, shared by both sides.
//!
//! - [`auth`]: the boot secret every connection to the agent starts with.
//! - [`boot`]: what the host tells the agent on the kernel command line and the lines the agent
//!   prints on the serial console (the ready line the host waits for).
//! - [`frame`]: length-prefixed JSON frames on vsock streams ([`frame::FrameCodec`]).
//! - [`message`]: the typed, versioned messages of the control connection and the handshake;
//!   [`call`]: each request with the answer it expects.
//! - [`data`]: the header that opens each data connection before its bytes flow;
//! - [`stream`]: those bytes, chunked so half-close survives any vsock transport;
//! - [`datagram`]: UDP datagrams on a data connection, one length-prefixed frame each.
//! - [`settings`]: the agent's settings as kernel parameters (`berth.KEY=VALUE`).
//! - [`pages`]: answers too large for one frame, made to fit (port pages, trimmed log tails).
//! - [`error`]: [`ProtocolError`], returned for anything bad the peer sends.
//!
//! The host connects to the agent over vsock: one long-lived control connection on
//! [`CONTROL_PORT`] and one connection per relayed stream on [`DATA_PORT`].
//!
//! Nothing here depends on an OS or a runtime (only tokio's I/O traits) or on the host's core
//! crate, so the agent (a static musl binary) and the host build it alike.

pub mod auth;
pub mod boot;
pub mod call;
pub mod data;
pub mod datagram;
pub mod error;
pub mod frame;
pub mod message;
pub mod pages;
pub mod settings;
pub mod stream;

#[cfg(test)]
mod tests;

pub use error::ProtocolError;

/// The version of the host↔agent protocol this crate speaks. Bumped on incompatible changes.
pub const PROTOCOL_VERSION: u32 = 3;

/// The oldest protocol version this crate still speaks (3: the published-port set comes in
/// pages, [`pages`]; 2 added the boot secret every connection starts with, [`auth`]).
pub const MIN_SUPPORTED: u32 = 3;

/// The vsock port the agent listens on for the control connection.
pub const CONTROL_PORT: u32 = 1024;

/// The vsock port the agent listens on for data connections.
pub const DATA_PORT: u32 = 1025;

/// The vsock context id of the host, as seen from the guest.
pub const HOST_CID: u32 = 2;
