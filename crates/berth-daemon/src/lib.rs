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
pub use error::DaemonError;
pub use options::StartOptions;

/// The log set-up every Berth host process shares (the CLI, the app, the daemon): the
/// `BERTH_LOG` filter (default `info`, [`log_filter`]), on standard error, coloured only when
/// that is a terminal ([`ansi_wanted`]): the detached daemon's standard error is its log file
/// (`logs/berth.log`), which the app shows and the diagnostics bundle holds as plain text.
pub fn init_logging() {
    use std::io::IsTerminal;
    let ansi = ansi_wanted(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    tracing_subscriber::fmt()
        .with_env_filter(log_filter(std::env::var("BERTH_LOG").ok().as_deref()))
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

/// Whether log lines get terminal colours: on a terminal, unless `NO_COLOR` is set to
/// something (no-color.org); never in a file or a pipe.
pub fn ansi_wanted(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Dependencies that log HTTP bodies below `info`, held at `info` whatever `BERTH_LOG` asks:
/// bollard writes each request's JSON at `debug` (`POST /auth` carries a password, a create
/// its environment) and each answer's (`/auth` answers with an identity token).
const BODY_LOGGERS: &[&str] = &["bollard=info"];

/// `spec` (`BERTH_LOG`'s directives; `info` when unset or unreadable), with [`BODY_LOGGERS`]
/// held at `info`: no level of Berth's log carries a request's or an answer's body or headers.
pub fn log_filter(spec: Option<&str>) -> tracing_subscriber::EnvFilter {
    let mut filter = spec
        .and_then(|spec| tracing_subscriber::EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    for directive in BODY_LOGGERS {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    /// Whether bollard's `debug` and `info` records, and Berth's `trace` ones, are logged
    /// under `BERTH_LOG=spec`.
    fn enabled(spec: &str) -> (bool, bool, bool) {
        let subscriber = tracing_subscriber::registry().with(super::log_filter(Some(spec)));
        tracing::subscriber::with_default(subscriber, || {
            (
                tracing::enabled!(target: "bollard::docker", tracing::Level::DEBUG),
                tracing::enabled!(target: "bollard::docker", tracing::Level::INFO),
                tracing::enabled!(target: "berth_daemon::supervisor", tracing::Level::TRACE),
            )
        })
    }

    #[test]
    fn colours_only_on_a_terminal_that_wants_them() {
        use std::ffi::OsStr;
        assert!(super::ansi_wanted(true, None));
        assert!(super::ansi_wanted(true, Some(OsStr::new(""))));
        assert!(!super::ansi_wanted(true, Some(OsStr::new("1"))));
        assert!(!super::ansi_wanted(false, None));
    }

    /// A log written to a file, as the detached daemon's is, holds no escape sequence.
    #[test]
    fn a_file_gets_plain_lines() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("berth.log");
        let file = std::fs::File::create(&path).expect("create");
        let subscriber = tracing_subscriber::fmt()
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(super::ansi_wanted(false, None))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(agent_ms = 812, "engine ready");
            tracing::warn!("slow");
        });
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.contains(" INFO ") && text.contains("engine ready agent_ms=812"),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'), "{text:?}");
    }

    #[test]
    fn bodies_stay_out_of_the_log_at_every_level_asked_for() {
        for spec in ["trace", "debug", "bollard=trace", "trace,bollard=trace"] {
            let (debug, info, _) = enabled(spec);
            assert!(!debug && info, "{spec}");
        }
        assert!(enabled("trace").2);
        assert!(!enabled("info").2);
    }
}
