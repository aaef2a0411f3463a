//! The agent's settings: what the host decides (data disk, shared folders, registries, proxy,
//! DNS, log level) and passes at boot, where the agent reads it before any connection exists.
//!
//! Each setting is one `berth.KEY=VALUE` parameter; list settings repeat the key. The public
//! ones ([`AgentSettings::to_cmdline`]: devices, folders, log level, network mode, where the
//! secret comes from) go on the kernel command line; the engine's ([`AgentSettings::private_params`]:
//! registries, proxies with their credentials, DNS, log driver) go with the boot secret through
//! the private channel ([`crate::auth::BootChannel`]), because `/proc/cmdline` is readable in
//! every container and a hypervisor's command line by every host user. Values are
//! percent-encoded (space, `%`, `"` and control bytes), so paths with spaces survive the kernel's
//! whitespace splitting. Unknown `berth.*` keys are reported, not fatal, so an older agent still
//! boots with a newer host.

/// Log verbosity of the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// The default.
    #[default]
    Info,
    /// Verbose, including engine output on the console.
    Debug,
}

impl LogLevel {
    fn parse(s: &str) -> Option<LogLevel> {
        Some(match s {
            "error" => LogLevel::Error,
            "warn" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" | "trace" => LogLevel::Debug,
            _ => return None,
        })
    }

    /// The name used on the command line and in `daemon.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// How the guest's network is configured (`berth.net`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// QEMU user networking's fixed addresses: 10.0.2.15/24 via 10.0.2.2 (the default).
    #[default]
    Static,
    /// An address, route and DNS from the network's DHCP server (Virtualization.framework's
    /// NAT).
    Dhcp,
}

/// A host folder shared into the guest with virtiofs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The virtiofs tag.
    pub tag: String,
    /// Where the agent mounts it: the host's own absolute path.
    pub path: String,
    /// Mounted read-only (`berth.share_ro` rather than `berth.share`). The host's file server
    /// refuses writes too; the guest's read-only mount makes them fail at once with `EROFS`.
    pub read_only: bool,
}

/// Host paths that are symlinks on the host and must reach the same shared folder in the guest,
/// as `(spelling, real path)`: macOS's `/tmp` and `/var/folders` (where `mktemp` and `$TMPDIR`
/// point) lead into `/private`, which is what a share of them holds. When a share is at, above
/// or below a real path, the agent bind-mounts the matching part at the spelling too, so
/// `docker run -v /tmp/x:/x` finds what `/private/tmp/x` holds; the host's check of bind
/// mounts (`berth_core::shares::Reach`) counts on the same table.
pub const SHARE_ALIASES: &[(&str, &str)] = &[
    ("/tmp", "/private/tmp"),
    ("/var/folders", "/private/var/folders"),
];

/// What the engine is told: registries, proxy and DNS. The host's settings file holds these
/// fields flat (`berth_core::settings::Settings` flattens this struct); the agent receives them
/// on the kernel command line.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct EngineSettings {
    /// Registry mirrors for the engine (`berth.mirror`; `http(s)://host[:port]`).
    pub registry_mirrors: Vec<String>,
    /// Registries reached over plain HTTP (`berth.insecure`; `host[:port]`).
    pub insecure_registries: Vec<String>,
    /// HTTP proxy for the engine (`berth.http_proxy`).
    pub http_proxy: Option<String>,
    /// HTTPS proxy for the engine (`berth.https_proxy`).
    pub https_proxy: Option<String>,
    /// Hosts that bypass the proxy (`berth.no_proxy`).
    pub no_proxy: Option<String>,
    /// DNS servers for the guest and containers (`berth.dns`); empty means QEMU's 10.0.2.3.
    pub dns: Vec<String>,
    /// The containers' log driver (`berth.log_driver`); none means [`DEFAULT_LOG_DRIVER`].
    pub log_driver: Option<String>,
    /// Which of the host's loopback ports containers reach through `host.docker.internal`
    /// (`berth.host_loopback`).
    pub host_loopback: HostLoopback,
}

/// Which host loopback ports containers on the engine's networks may reach (QEMU's 10.0.2.2,
/// `host.docker.internal`): enforced in the guest's firewall, not by convention. Written as
/// `all` (the default, as Docker Desktop), `none`, or a comma-separated list of ports.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
#[serde(try_from = "String", into = "String")]
pub enum HostLoopback {
    /// Every port.
    #[default]
    All,
    /// None.
    None,
    /// Only these TCP and UDP ports.
    Ports(Vec<u16>),
}

/// A `host_loopback` value that is none of `all`, `none` or a list of ports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected all, none or a comma-separated list of ports (1-65535), not {0:?}")]
pub struct HostLoopbackError(pub String);

impl std::str::FromStr for HostLoopback {
    type Err = HostLoopbackError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "" | "all" => Ok(HostLoopback::All),
            "none" => Ok(HostLoopback::None),
            list => list
                .split(',')
                .map(|p| p.trim().parse::<u16>().ok().filter(|p| *p != 0))
                .collect::<Option<Vec<u16>>>()
                .map(HostLoopback::Ports)
                .ok_or_else(|| HostLoopbackError(text.to_owned())),
        }
    }
}

impl TryFrom<String> for HostLoopback {
    type Error = HostLoopbackError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<HostLoopback> for String {
    fn from(value: HostLoopback) -> String {
        match value {
            HostLoopback::All => "all".into(),
            HostLoopback::None => "none".into(),
            HostLoopback::Ports(ports) => ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// The log driver the engine uses unless the settings name another: `json-file`, which the
/// SDKs read a container's output from (the Python SDK's `containers.run` returns it only for
/// `json-file` and `journald`), rotated so logs stay bounded on the data disk.
pub const DEFAULT_LOG_DRIVER: &str = "json-file";

/// Where the agent reads its boot's private channel ([`crate::auth::BootChannel`]): `berth.secret`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretSource {
    /// No channel: the agent serves no connection (fail closed).
    #[default]
    None,
    /// QEMU's `fw_cfg` item [`crate::auth::FW_CFG_NAME`] (`fw_cfg`).
    FwCfg,
    /// The second virtio console port, `/dev/hvc1` (`hvc1`; Virtualization.framework).
    Hvc1,
    /// The agent's standard input (`stdin`; WSL, where `wsl.exe` runs the agent).
    Stdin,
}

impl SecretSource {
    fn parse(s: &str) -> Option<SecretSource> {
        Some(match s {
            "fw_cfg" => SecretSource::FwCfg,
            "hvc1" => SecretSource::Hvc1,
            "stdin" => SecretSource::Stdin,
            _ => return None,
        })
    }

    fn as_str(self) -> Option<&'static str> {
        match self {
            SecretSource::None => None,
            SecretSource::FwCfg => Some("fw_cfg"),
            SecretSource::Hvc1 => Some("hvc1"),
            SecretSource::Stdin => Some("stdin"),
        }
    }
}

/// Everything the agent is told at boot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentSettings {
    /// Block device of the engine's data disk (`berth.data`); none keeps data in RAM.
    pub data_disk: Option<String>,
    /// Shared folders (`berth.share=TAG:PATH`, `berth.share_ro=TAG:PATH` for a read-only one).
    pub shares: Vec<Share>,
    /// Registries, proxy and DNS for the engine.
    pub engine: EngineSettings,
    /// `berth.log`.
    pub log_level: LogLevel,
    /// `berth.net=static|dhcp`.
    pub network: NetworkMode,
    /// `berth.secret=fw_cfg|hvc1|stdin`.
    pub secret: SecretSource,
}

/// A `berth.*` parameter the agent could not use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ignored kernel parameter {param:?}: {why}")]
pub struct SettingWarning {
    /// The parameter as written.
    pub param: String,
    /// Why it was ignored.
    pub why: &'static str,
}

/// The longest kernel command line x86 Linux accepts.
pub const MAX_CMDLINE: usize = 2048;

impl AgentSettings {
    /// Reads the settings from a kernel command line. Non-`berth.` parameters are skipped;
    /// malformed `berth.` ones are returned as warnings.
    pub fn from_cmdline(cmdline: &str) -> (AgentSettings, Vec<SettingWarning>) {
        let mut s = AgentSettings::default();
        let mut warnings = Vec::new();
        for param in cmdline.split_ascii_whitespace() {
            let Some(rest) = param.strip_prefix("berth.") else {
                continue;
            };
            let Some((key, raw)) = rest.split_once('=') else {
                warnings.push(SettingWarning {
                    param: param.into(),
                    why: "no value",
                });
                continue;
            };
            let Some(value) = decode(raw) else {
                warnings.push(SettingWarning {
                    param: param.into(),
                    why: "bad percent-encoding",
                });
                continue;
            };
            let mut warn = |why| {
                warnings.push(SettingWarning {
                    param: param.into(),
                    why,
                })
            };
            match key {
                "data" => s.data_disk = Some(value),
                "share" | "share_ro" => match value.split_once(':') {
                    Some((tag, path)) if !tag.is_empty() && path.starts_with('/') => {
                        s.shares.push(Share {
                            tag: tag.into(),
                            path: path.into(),
                            read_only: key == "share_ro",
                        })
                    }
                    _ => warn("expected TAG:/absolute/path"),
                },
                "mirror" => s.engine.registry_mirrors.push(value),
                "insecure" => s.engine.insecure_registries.push(value),
                "http_proxy" => s.engine.http_proxy = Some(value),
                "https_proxy" => s.engine.https_proxy = Some(value),
                "no_proxy" => s.engine.no_proxy = Some(value),
                "dns" => s.engine.dns.push(value),
                "log_driver" => s.engine.log_driver = Some(value),
                "host_loopback" => match value.parse() {
                    Ok(access) => s.engine.host_loopback = access,
                    Err(_) => warn("expected all, none or a comma-separated list of ports"),
                },
                "net" => match value.as_str() {
                    "static" => s.network = NetworkMode::Static,
                    "dhcp" => s.network = NetworkMode::Dhcp,
                    _ => warn("expected static or dhcp"),
                },
                "secret" => match SecretSource::parse(&value) {
                    Some(source) => s.secret = source,
                    None => warn("expected fw_cfg, hvc1 or stdin"),
                },
                "log" => match LogLevel::parse(&value) {
                    Some(level) => s.log_level = level,
                    None => warn("expected error, warn, info or debug"),
                },
                // Read by stage 1.
                "root" | "rootfstype" => {}
                _ => warn("unknown setting"),
            }
        }
        (s, warnings)
    }

    /// The kernel parameters of the public settings: the data disk, shared folders, log level,
    /// network mode and the secret's source. Nothing secret: see [`AgentSettings::private_params`].
    pub fn to_cmdline(&self) -> Vec<String> {
        let mut params = Vec::new();
        let mut add =
            |key: &str, value: &str| params.push(format!("berth.{key}={}", encode(value)));
        if let Some(disk) = &self.data_disk {
            add("data", disk);
        }
        for share in &self.shares {
            let key = if share.read_only { "share_ro" } else { "share" };
            add(key, &format!("{}:{}", share.tag, share.path));
        }
        if self.log_level != LogLevel::Info {
            add("log", self.log_level.as_str());
        }
        if self.network == NetworkMode::Dhcp {
            add("net", "dhcp");
        }
        if let Some(source) = self.secret.as_str() {
            add("secret", source);
        }
        params
    }

    /// The engine's settings as parameters for the private channel
    /// ([`crate::auth::BootChannel`]): registry mirrors (their URLs may carry tokens), insecure
    /// registries, proxies (with their credentials), DNS and the log driver. The agent reads
    /// them with [`AgentSettings::from_cmdline`] like the public ones.
    pub fn private_params(&self) -> Vec<String> {
        let mut params = Vec::new();
        let mut add =
            |key: &str, value: &str| params.push(format!("berth.{key}={}", encode(value)));
        let engine = &self.engine;
        engine
            .registry_mirrors
            .iter()
            .for_each(|m| add("mirror", m));
        engine
            .insecure_registries
            .iter()
            .for_each(|r| add("insecure", r));
        for (key, value) in [
            ("http_proxy", &engine.http_proxy),
            ("https_proxy", &engine.https_proxy),
            ("no_proxy", &engine.no_proxy),
            ("log_driver", &engine.log_driver),
        ] {
            if let Some(value) = value {
                add(key, value);
            }
        }
        engine.dns.iter().for_each(|d| add("dns", d));
        if engine.host_loopback != HostLoopback::All {
            add("host_loopback", &String::from(engine.host_loopback.clone()));
        }
        params
    }
}

fn encode(value: &str) -> String {
    let mut out = Vec::with_capacity(value.len());
    for b in value.bytes() {
        if b <= b' ' || b == b'%' || b == b'"' || b == 0x7f {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
    // Only ASCII bytes were replaced, so multi-byte characters are intact.
    String::from_utf8_lossy(&out).into_owned()
}

fn decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> AgentSettings {
        AgentSettings {
            data_disk: Some("/dev/vdb".into()),
            shares: vec![
                Share {
                    tag: "home".into(),
                    path: "/home/ana/My Projects/ü".into(),
                    read_only: false,
                },
                Share {
                    tag: "s1-ref".into(),
                    path: "/srv/ref".into(),
                    read_only: true,
                },
            ],
            engine: EngineSettings {
                registry_mirrors: vec!["http://10.0.2.2:5000".into()],
                insecure_registries: vec!["10.0.2.2:5000".into()],
                http_proxy: Some("http://proxy:3128".into()),
                https_proxy: None,
                no_proxy: Some("localhost,10.0.2.2".into()),
                dns: vec!["1.1.1.1".into(), "9.9.9.9".into()],
                log_driver: Some("local".into()),
                host_loopback: HostLoopback::Ports(vec![5432, 6379]),
            },
            log_level: LogLevel::Debug,
            network: NetworkMode::Dhcp,
            secret: SecretSource::FwCfg,
        }
    }

    #[test]
    fn round_trips_through_a_kernel_command_line() {
        let settings = full();
        let public = settings.to_cmdline().join(" ");
        let private = settings.private_params().join(" ");
        for secret in ["proxy", "10.0.2.2", "1.1.1.1", "local"] {
            assert!(!public.contains(secret), "{secret} in {public}");
        }
        assert!(public.contains("berth.secret=fw_cfg"), "{public}");
        assert!(
            public.contains("berth.share_ro=s1-ref:/srv/ref"),
            "{public}"
        );
        let cmdline = format!("console=ttyS0 quiet {public} panic=-1 {private}");
        assert!(
            !cmdline.contains("My Projects"),
            "spaces must be encoded: {cmdline}"
        );
        let (parsed, warnings) = AgentSettings::from_cmdline(&cmdline);
        assert_eq!(parsed, settings);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn defaults_from_an_empty_command_line() {
        let (parsed, warnings) = AgentSettings::from_cmdline("console=ttyS0 berth.root=/dev/vda");
        assert_eq!(parsed, AgentSettings::default());
        assert!(warnings.is_empty());
    }

    #[test]
    fn malformed_parameters_are_warnings() {
        let (parsed, warnings) = AgentSettings::from_cmdline(
            "berth.share=notag berth.share=t:relative berth.share_ro=t:rel berth.log=loud berth.bogus=1 berth.dns \
             berth.mirror=%ZZ berth.mirror=%E2%82 berth.data=/dev/vdb berth.net=slip \
             berth.secret=floppy",
        );
        assert_eq!(parsed.data_disk.as_deref(), Some("/dev/vdb"));
        assert!(parsed.shares.is_empty() && parsed.engine.registry_mirrors.is_empty());
        assert_eq!(parsed.network, NetworkMode::Static);
        assert_eq!(parsed.secret, SecretSource::None);
        assert_eq!(warnings.len(), 10, "{warnings:?}");
    }

    #[test]
    fn host_loopback_reads_all_none_or_ports() {
        assert_eq!("all".parse(), Ok(HostLoopback::All));
        assert_eq!("".parse(), Ok(HostLoopback::All));
        assert_eq!("none".parse(), Ok(HostLoopback::None));
        assert_eq!(" 5432, 80".parse(), Ok(HostLoopback::Ports(vec![5432, 80])));
        for bad in ["0", "65536", "some", "80,,81", "-1"] {
            assert!(bad.parse::<HostLoopback>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&HostLoopback::Ports(vec![1, 2])).expect("json");
        assert_eq!(json, "\"1,2\"");
        assert!(serde_json::from_str::<HostLoopback>("\"nope\"").is_err());
    }

    #[test]
    fn percent_decoding_never_panics() {
        for value in ["%", "%4", "%%%", "%é", "a%", "é%41"] {
            let _ = decode(value);
        }
        assert_eq!(decode("a%20b").as_deref(), Some("a b"));
    }
}
