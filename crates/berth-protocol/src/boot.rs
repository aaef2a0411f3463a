//! Boot-time contract: the console lines the agent prints (its settings on the kernel command
//! line are in [`crate::settings`]).
//!
//! The serial console is the one channel that works before any driver is up, so the agent
//! announces readiness there with a single line the host can match:
//!
//! ```text
//! berth-agent: ready version=0.1.0 protocol=1 uptime_ms=2345 agent_ms=120
//! ```

use std::fmt;

/// Prefix of every line the agent writes to the console.
pub const CONSOLE_PREFIX: &str = "berth-agent:";

/// The agent's first argument in WSL mode: it runs as a process of a WSL 2 distribution, not
/// as PID 1, and reads its settings (`berth.KEY=VALUE`, as on a kernel command line) from the
/// arguments after this flag.
pub const WSL_MODE_FLAG: &str = "--wsl";

/// In WSL mode, the option (right after [`WSL_MODE_FLAG`]) naming the directory that holds the
/// engine's data: the data distribution's shared mount (see [`WSL_DATA_MODE_FLAG`]). The agent
/// binds its `docker` and `containerd` directories over `/var/lib/docker` and
/// `/var/lib/containerd`, and keeps the engine stopped if the directory is not a mount point.
pub const WSL_DATA_DIR_FLAG: &str = "--data-dir";

/// The agent's first argument in the WSL *data* distribution, followed by one path under
/// `/mnt/wsl`: the agent bind-mounts that distribution's `/var/lib/berth` there (WSL shares
/// `/mnt/wsl` between the distributions of one VM), prints a [`data_ready_line`] and stays
/// until it is signalled or its standard input closes.
pub const WSL_DATA_MODE_FLAG: &str = "--wsl-data";

/// Where the data distribution shares the engine's data with the system distribution.
pub const WSL_SHARED_DATA_DIR: &str = "/mnt/wsl/berth/data";

/// The line the agent prints in the data distribution once `path` holds the engine's data.
pub fn data_ready_line(path: &str) -> String {
    format!("{CONSOLE_PREFIX} data ready path={path}")
}

/// The path of a [`data_ready_line`], or `None` for any other line.
pub fn parse_data_ready(line: &str) -> Option<&str> {
    let marker = format!("{CONSOLE_PREFIX} data ready path=");
    let start = line.find(&marker)?;
    let path = line[start + marker.len()..].trim_end();
    path.starts_with('/').then_some(path)
}

/// The agent's announcement that the guest is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyLine {
    /// The agent's own version (its crate version).
    pub version: String,
    /// The protocol version the agent speaks.
    pub protocol: u32,
    /// Guest uptime when the agent became ready, from `/proc/uptime`.
    pub uptime_ms: u64,
    /// Time the agent itself spent from its first instruction to ready.
    pub agent_ms: u64,
}

/// A console line that starts like a ready line but does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed ready line field `{field}` in {line:?}")]
pub struct ReadyLineError {
    /// The field that was missing or not a number.
    pub field: &'static str,
    /// The offending line, truncated to 200 bytes.
    pub line: String,
}

impl fmt::Display for ReadyLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{CONSOLE_PREFIX} ready version={} protocol={} uptime_ms={} agent_ms={}",
            self.version, self.protocol, self.uptime_ms, self.agent_ms
        )
    }
}

impl ReadyLine {
    /// Finds a ready line in one line of console output. Returns `Ok(None)` for any other line
    /// (kernel messages, noise, partial lines) and an error for a ready line with bad fields.
    pub fn parse(line: &str) -> Result<Option<ReadyLine>, ReadyLineError> {
        let marker = format!("{CONSOLE_PREFIX} ready ");
        let Some(start) = line.find(&marker) else {
            return Ok(None);
        };
        let rest = line[start + marker.len()..].trim_end();
        let field = |name: &'static str| -> Result<&str, ReadyLineError> {
            rest.split_ascii_whitespace()
                .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .ok_or_else(|| ReadyLineError {
                    field: name,
                    line: truncate(line),
                })
        };
        let number = |name: &'static str| -> Result<u64, ReadyLineError> {
            field(name)?.parse().map_err(|_| ReadyLineError {
                field: name,
                line: truncate(line),
            })
        };
        let protocol = u32::try_from(number("protocol")?).map_err(|_| ReadyLineError {
            field: "protocol",
            line: truncate(line),
        })?;
        Ok(Some(ReadyLine {
            version: field("version")?.to_owned(),
            protocol,
            uptime_ms: number("uptime_ms")?,
            agent_ms: number("agent_ms")?,
        }))
    }
}

fn truncate(line: &str) -> String {
    let mut end = line.len().min(200);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_round_trips() {
        let ready = ReadyLine {
            version: "0.1.0".into(),
            protocol: 1,
            uptime_ms: 2345,
            agent_ms: 120,
        };
        assert_eq!(ReadyLine::parse(&ready.to_string()), Ok(Some(ready)));
    }

    #[test]
    fn ready_line_found_after_console_noise() {
        let line = "\r[    2.1] random: crng init\rberth-agent: ready version=1 protocol=1 uptime_ms=1 agent_ms=2\r";
        let ready = ReadyLine::parse(line).expect("parses").expect("found");
        assert_eq!(ready.agent_ms, 2);
    }

    #[test]
    fn the_data_ready_line_round_trips_and_nothing_else_is_one() {
        let line = data_ready_line(WSL_SHARED_DATA_DIR);
        assert_eq!(line, "berth-agent: data ready path=/mnt/wsl/berth/data");
        assert_eq!(parse_data_ready(&line), Some(WSL_SHARED_DATA_DIR));
        assert_eq!(
            parse_data_ready(&format!("{line}\r")),
            Some(WSL_SHARED_DATA_DIR)
        );
        assert_eq!(parse_data_ready("berth-agent: data ready path="), None);
        assert_eq!(
            parse_data_ready("berth-agent: data ready path=relative"),
            None
        );
        assert_eq!(
            parse_data_ready("berth-agent: ready version=1 protocol=1 uptime_ms=1 agent_ms=1"),
            None
        );
        // Not a ready line of the system distribution either.
        assert_eq!(ReadyLine::parse(&line), Ok(None));
    }

    #[test]
    fn other_lines_are_not_ready_lines() {
        assert_eq!(ReadyLine::parse("[    0.000] Linux version 6.12"), Ok(None));
        assert_eq!(ReadyLine::parse("berth-agent: mounted /proc"), Ok(None));
        assert_eq!(ReadyLine::parse(""), Ok(None));
    }

    #[test]
    fn malformed_ready_lines_are_errors_not_panics() {
        for line in [
            "berth-agent: ready ",
            "berth-agent: ready version=1 protocol=x uptime_ms=1 agent_ms=1",
            "berth-agent: ready version=1 protocol=99999999999 uptime_ms=1 agent_ms=1",
            "berth-agent: ready version=1 protocol=1 uptime_ms=-1 agent_ms=1",
            "berth-agent: ready version=é protocol=1 uptime_ms=1",
        ] {
            assert!(ReadyLine::parse(line).is_err(), "{line}");
        }
    }
}
