//! One accept loop for every server Berth runs, on the host (the engine's socket or pipe, the
//! daemon's channel, published TCP ports, the Virtualization.framework vsock bridge) and in the
//! guest agent (its vsock ports, the containers' DNS over TCP): [`serve`].
//!
//! - At most a given number of connections are served at once; past that the next one either
//!   waits for a free place ([`WhenFull::Wait`]) or is accepted and closed at once
//!   ([`WhenFull::Refuse`]).
//! - A failed accept (out of file descriptors, say) backs off ([`Backoff`]: 50 ms doubling to
//!   1 s, reset by the next success) instead of spinning.
//! - Repeated events are logged once per burst ([`Burst`]): the first, then a count.
//!
//! The crate needs only tokio's runtime, timer, semaphores and sockets, so the agent's static
//! musl binary links it as the host does; each side passes its own log function.

mod backoff;
mod burst;
mod serve;

pub use backoff::Backoff;
pub use burst::{Burst, Report, REPORT_PERIOD};
pub use serve::{serve, Accept, Server, WhenFull};
