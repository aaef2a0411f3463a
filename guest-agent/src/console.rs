//! Console output: the agent logs through `tracing`, and every event at or above the level the
//! host set (`berth.log`, [`set_level`]) becomes one line on the serial console (PID 1's
//! stdout) with the agent prefix and in the agent's log ring ([`ConsoleLayer`]):
//!
//! ```text
//! berth-agent: INFO engine ready: agent_ms=5012 uptime_ms=7020
//! berth-agent: WARN control{id=7 request=files_changed}: file events: refused 2 paths outside the shared folders
//! berth-agent: DEBUG data{header=Tcp { port: 8080 }}: refused: nothing listens on port 8080
//! ```
//!
//! The spans an event happened in come first, outermost first, with their fields. Boot phases
//! are timed from the agent's own start.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use berth_protocol::boot::CONSOLE_PREFIX;
use berth_protocol::settings::LogLevel;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

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

/// Writes one agent message with the console prefix, and keeps it in the agent's log.
fn line(message: &str) {
    log().push(message);
    raw(&format!("{CONSOLE_PREFIX} {message}"));
}

/// The most verbose level written, as [`level_rank`] numbers it; `info` until the settings
/// are read.
static LEVEL: AtomicU8 = AtomicU8::new(2);

/// Writes events at `level` and above from now on.
pub fn set_level(level: LogLevel) {
    let rank = match level {
        LogLevel::Error => 0,
        LogLevel::Warn => 1,
        LogLevel::Info => 2,
        LogLevel::Debug => 4,
    };
    LEVEL.store(rank, Ordering::Relaxed);
}

/// 0 for errors up to 4 for trace.
fn level_rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 0,
        Level::WARN => 1,
        Level::INFO => 2,
        Level::DEBUG => 3,
        Level::TRACE => 4,
    }
}

/// Makes [`ConsoleLayer`] the agent's one `tracing` subscriber. A second call does nothing.
pub fn init() {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(ConsoleLayer { write: line });
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Writes each enabled event as one line (see the module).
pub struct ConsoleLayer {
    /// Where a line goes: the console and the agent's log.
    write: fn(&str),
}

/// A span's fields as written (`id=7 request=status`), kept in its extensions.
struct SpanFields(String);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for ConsoleLayer {
    fn register_callsite(
        &self,
        _metadata: &'static Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        // The level changes at run time: ask each time.
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        // Spans are always kept, so that an event of any level names its request.
        metadata.is_span() || level_rank(metadata.level()) <= LEVEL.load(Ordering::Relaxed)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields.text));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(text)) = extensions.get_mut::<SpanFields>() {
            let mut fields = Fields {
                text: std::mem::take(text),
                ..Fields::default()
            };
            values.record(&mut fields);
            *text = fields.text;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        (self.write)(&format_event(event, ctx));
    }
}

/// `LEVEL span{fields}: message key=value`.
fn format_event<S: Subscriber + for<'a> LookupSpan<'a>>(
    event: &Event<'_>,
    ctx: Context<'_, S>,
) -> String {
    let mut text = event.metadata().level().to_string();
    text.push(' ');
    if let Some(scope) = ctx.event_scope(event) {
        for span in scope.from_root() {
            text.push_str(span.name());
            if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                if !fields.is_empty() {
                    let _ = write!(text, "{{{fields}}}");
                }
            }
            text.push_str(": ");
        }
    }
    let mut fields = Fields::default();
    event.record(&mut fields);
    text.push_str(&fields.message);
    if !fields.text.is_empty() {
        if !fields.message.is_empty() {
            text.push(' ');
        }
        text.push_str(&fields.text);
    }
    text
}

/// Collects an event's message and its other fields as `key=value`, space-separated.
#[derive(Default)]
struct Fields {
    message: String,
    text: String,
}

impl Fields {
    fn push(&mut self, field: &Field, value: std::fmt::Arguments<'_>) {
        if field.name() == "message" {
            let _ = self.message.write_fmt(value);
            return;
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        let _ = write!(self.text, "{}={value}", field.name());
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push(field, format_args!("{value:?}"));
    }
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
        tracing::info!("boot phases: {}", phases.join(" "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use tracing_subscriber::layer::SubscriberExt;

    thread_local! {
        static WRITTEN: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    fn capture(line: &str) {
        WRITTEN.with(|w| w.borrow_mut().push(line.to_owned()));
    }

    /// The lines [`ConsoleLayer`] writes while `f` runs at `level`.
    fn lines_of(level: LogLevel, f: impl FnOnce()) -> Vec<String> {
        let subscriber = tracing_subscriber::registry().with(ConsoleLayer { write: capture });
        set_level(level);
        tracing::subscriber::with_default(subscriber, f);
        set_level(LogLevel::Info);
        WRITTEN.with(|w| std::mem::take(&mut *w.borrow_mut()))
    }

    #[test]
    fn events_show_their_level_spans_and_fields_and_honor_the_level() {
        let lines = lines_of(LogLevel::Info, || {
            tracing::info!("engine ready: agent_ms={}", 12);
            let span = tracing::info_span!("control", id = 7u64, request = "status");
            let _entered = span.enter();
            tracing::warn!(paths = 2, "file events: refused");
            tracing::debug!("not at info");
        });
        assert_eq!(
            lines,
            [
                "INFO engine ready: agent_ms=12",
                "WARN control{id=7 request=status}: file events: refused paths=2",
            ]
        );
        let lines = lines_of(LogLevel::Debug, || {
            let span = tracing::debug_span!("data", header = ?("tcp", 80));
            span.in_scope(|| tracing::debug!("shown"));
        });
        assert_eq!(lines, ["DEBUG data{header=(\"tcp\", 80)}: shown"]);
        let lines = lines_of(LogLevel::Error, || {
            tracing::warn!("hidden");
            tracing::error!("power off failed");
        });
        assert_eq!(lines, ["ERROR power off failed"]);
    }
}
