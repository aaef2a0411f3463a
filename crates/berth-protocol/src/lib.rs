//! The contract between the Berth host and the guest agent, shared by both sides.
//!
//! - [`boot`]: what the host tells the agent on the kernel command line and the lines the agent
//!   prints on the serial console (the ready line the host waits for).
//!
//! Nothing here depends on an OS, a runtime or the host's core crate, so the agent (a static musl
//! binary) and the host build it alike.

pub mod boot;

/// The version of the host↔agent protocol this crate speaks. Bumped on incompatible changes.
pub const PROTOCOL_VERSION: u32 = 1;
