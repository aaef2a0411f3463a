//! Console output: every line goes to the serial console (PID 1's stdout) with the agent prefix
//! and into the agent's log, and boot phases are timed from the agent's own start.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Instant;

use berth_protocol::boot::CONSOLE_PREFIX;

use crate::logs::LogRing;

/// The agent's own log, served to the host.
pub fn log() -> &'static LogRing {
    static LOG: OnceLock<LogRing> = OnceLock::new();
    LOG.get_or_init(LogRing::default)
}

/// Writes one line as is. Console errors are ignored: there is nowhere else to report them.
pub fn raw(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Writes one agent message with the console prefix.
pub fn line(message: &str) {
    log().push(message);
    raw(&format!("{CONSOLE_PREFIX} {message}"));
}

/// Guest uptime in milliseconds, from `/proc/uptime`.
pub fn uptime_ms() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    let seconds: f64 = text.split_ascii_whitespace().next()?.parse().ok()?;
    Some((seconds * 1000.0) as u64)
}

/// Boot phases and how long each took, reported in one line once the agent is ready.
pub struct Phases {
    started: Instant,
    last: Instant,
    done: Vec<(&'static str, u128)>,
}

impl Phases {
    /// Starts timing from `started`, the agent's first instruction.
    pub fn new(started: Instant) -> Self {
        Phases {
            started,
            last: started,
            done: Vec::new(),
        }
    }

    /// Ends the current phase under `name`.
    pub fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.done
            .push((name, now.duration_since(self.last).as_millis()));
        self.last = now;
    }

    /// When the agent started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Milliseconds since the agent started.
    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Prints `boot phases: mounts=3ms modules=40ms`.
    pub fn report(&self) {
        let phases: Vec<String> = self
            .done
            .iter()
            .map(|(name, ms)| format!("{name}={ms}ms"))
            .collect();
        line(&format!("boot phases: {}", phases.join(" ")));
    }
}
