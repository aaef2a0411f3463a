//! The Berth daemon, as a library with no CLI and no UI: the process that owns the VM and the
//! client every front end uses to talk to it. The `berth` CLI (`berth supervise`) and the
//! desktop app (`berth-desktop --supervise`) each run it in a few lines, and each drive it
//! through [`SupervisorClient`].
//!
//! - [`options`]: [`StartOptions`], what a start is asked for (plain data, sent to the daemon
//!   on its standard input);
//! - [`supervisor`]: reads the settings, builds the VM, boots it, waits for the engine, serves
//!   the engine socket, published ports, file events and the docker context, publishes every
//!   state in `state.json` and on the channel, and stops on request;
//! - [`platform`]: the backend of this OS for a VM description;
//! - [`engine_ready`]: following the engine's start after the agent's ready line;
//! - [`context`]: the `berth` docker context;
//! - [`messages`] and [`channel`]: the daemon's command channel (`berth.sock` in the runtime
//!   directory, 0600; on Windows a named pipe only the current user may open): typed,
//!   versioned frames for status, stop, holding the VM awake and a subscription to the
//!   [`berth_core::instance::VmView`];
//! - [`client`]: [`SupervisorClient`], which launches the daemon detached and then talks only
//!   over the channel (a signal to the pid in `state.json` is the fallback for a daemon that
//!   does not answer);
//! - [`error`]: the daemon's failures, each with a stable code and the setting at fault;
//! - [`root`]: the refusal to run as root unless asked to;
//! - [`limits`]: the open-file limit a daemon with thousands of forwarded ports needs;
//! - [`saver`]: the resource saver, which pauses an idle VM and resumes it on demand.

pub mod channel;
pub mod client;
pub mod context;
pub mod engine_ready;
pub mod error;
pub mod limits;
pub mod messages;
pub mod options;
pub mod platform;
pub mod root;
pub mod saver;
pub mod supervisor;

pub use client::{ClientError, Launcher, SupervisorClient};

/// The log set-up every Berth host process shares (the CLI, the app, the daemon): the
/// `BERTH_LOG` filter (default `info`), on standard error.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}
pub use error::DaemonError;
pub use options::StartOptions;
