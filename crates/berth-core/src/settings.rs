//! The user's settings (`~/.config/berth/settings.json`), shared by the CLI and the app: VM
//! resources, shared folders, registries, proxy, DNS, port binding scope. Parsing refuses unknown
//! fields and names the bad one; [`Settings::validate`] checks values against this host. A
//! broken file is reported and never overwritten.

use std::path::{Path, PathBuf};

use berth_protocol::settings::{AgentSettings, EngineSettings};

use crate::paths::Paths;
use crate::shares::SharedFolder;
use serde::{Deserialize, Serialize};

/// Berth's settings. The file is flat: the engine's fields ([`EngineSettings`]) sit beside the
/// others. Unknown fields are refused by [`Settings::load`] (serde cannot combine
/// `deny_unknown_fields` with `flatten`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct Settings {
    /// Virtual CPUs.
    pub cpus: u32,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// Maximum size of the sparse data disk in GiB.
    pub disk_gib: u32,
    /// Host folders shared into the VM at the same path (see [`crate::shares`]); none inside
    /// another, none hiding the VM's system (`/`, `/usr`, `/var`…). Default: the home and the
    /// system's temporary folders ([`crate::shares::temp`]). Each is a path (read-write) or
    /// `{"path": …, "read_only": true}` ([`SharedFolder`]).
    pub shared_folders: Vec<SharedFolder>,
    /// Registries, proxy and DNS for the engine (flat in the file).
    #[serde(flatten)]
    pub engine: EngineSettings,
    /// Publish container ports on every host interface instead of 127.0.0.1 only.
    pub publish_on_all_interfaces: bool,
    /// Also serve the engine where tools that ignore docker contexts look, when no other
    /// engine serves it: on Windows the pipe `\\.\pipe\docker_engine`; on Linux and macOS
    /// `/var/run/docker.sock`, a link to the engine socket that `berth default-socket enable`
    /// makes once with the administrator's rights (and turns this on); the daemon checks it.
    pub serve_default_endpoint: bool,
    /// The Docker Hub API the app's Hub view searches (`http(s)://host[:port][/path]`).
    pub hub_api_url: String,
    /// The resource saver: seconds with no running container and nothing using the VM
    /// (engine connections, published ports, shells) after which it is paused; 0 never pauses.
    pub resource_saver_seconds: u32,
}

/// The resource saver's quiet time unless the settings name another: five minutes.
pub const DEFAULT_RESOURCE_SAVER_SECONDS: u32 = 300;
/// The longest quiet time a setting may ask for: a day.
pub const MAX_RESOURCE_SAVER_SECONDS: u32 = 86_400;

/// A partial change to [`Settings`]: each field given replaces the current value (the CLI's
/// `--cpus/--memory/--disk`, the app's form). Unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettingsUpdate {
    /// [`Settings::cpus`].
    pub cpus: Option<u32>,
    /// [`Settings::memory_mib`].
    pub memory_mib: Option<u32>,
    /// [`Settings::disk_gib`].
    pub disk_gib: Option<u32>,
    /// [`Settings::shared_folders`].
    pub shared_folders: Option<Vec<SharedFolder>>,
    /// [`EngineSettings::registry_mirrors`].
    pub registry_mirrors: Option<Vec<String>>,
    /// [`EngineSettings::insecure_registries`].
    pub insecure_registries: Option<Vec<String>>,
    /// [`EngineSettings::http_proxy`]; `Some(None)` cannot be expressed in JSON, so an empty
    /// string clears it.
    pub http_proxy: Option<String>,
    /// [`EngineSettings::https_proxy`]; an empty string clears it.
    pub https_proxy: Option<String>,
    /// [`EngineSettings::no_proxy`]; an empty string clears it.
    pub no_proxy: Option<String>,
    /// [`EngineSettings::dns`].
    pub dns: Option<Vec<String>>,
    /// [`EngineSettings::log_driver`]; an empty string goes back to the default.
    pub log_driver: Option<String>,
    /// [`EngineSettings::host_loopback`]: `all`, `none` or a comma-separated list of ports.
    pub host_loopback: Option<String>,
    /// [`Settings::publish_on_all_interfaces`].
    pub publish_on_all_interfaces: Option<bool>,
    /// [`Settings::serve_default_endpoint`].
    pub serve_default_endpoint: Option<bool>,
    /// [`Settings::hub_api_url`].
    pub hub_api_url: Option<String>,
    /// [`Settings::resource_saver_seconds`].
    pub resource_saver_seconds: Option<u32>,
}

/// The Hub API the app searches unless the settings name another.
pub const DEFAULT_HUB_API_URL: &str = "https://hub.docker.com";

/// The host's resources, for defaults and limits.
#[derive(Debug, Clone, Copy)]
pub struct Host {
    /// Logical CPUs.
    pub cpus: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
}

impl Host {
    /// This machine's resources, probed once per process (they do not change while it runs;
    /// probing reads the system's memory tables).
    pub fn current() -> Host {
        static HOST: std::sync::OnceLock<Host> = std::sync::OnceLock::new();
        *HOST.get_or_init(Host::detect)
    }

    /// Reads this machine's resources.
    pub fn detect() -> Host {
        let mut system = sysinfo::System::new();
        system.refresh_memory();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Host {
            cpus: u32::try_from(cpus).unwrap_or(1),
            memory_mib: system.total_memory() >> 20,
        }
    }
}

impl Settings {
    /// Defaults for `host`: half its CPUs (at least 1, at most 8), a quarter of its memory
    /// (1–8 GiB), a 64 GiB sparse disk, `shared_folders` shared (see [`Settings::defaults_here`]).
    pub fn defaults_for(host: Host, shared_folders: Vec<SharedFolder>) -> Settings {
        let memory = (host.memory_mib / 4).clamp(1024, 8192) as u32;
        Settings {
            cpus: (host.cpus / 2).clamp(1, 8),
            memory_mib: memory - memory % 256,
            disk_gib: 64,
            shared_folders,
            engine: EngineSettings::default(),
            publish_on_all_interfaces: false,
            serve_default_endpoint: false,
            hub_api_url: DEFAULT_HUB_API_URL.to_owned(),
            resource_saver_seconds: DEFAULT_RESOURCE_SAVER_SECONDS,
        }
    }

    /// The defaults for this user on `host`: [`Settings::defaults_for`] sharing `$HOME` and
    /// this machine's temporary folders ([`crate::shares::temp::default_folders`]).
    pub fn defaults_here(host: Host) -> Settings {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let folders = crate::shares::temp::default_folders(home);
        Settings::defaults_for(
            host,
            folders.into_iter().map(SharedFolder::read_write).collect(),
        )
    }

    /// Checks every value against `host`; the error names the field and the fix.
    pub fn validate(&self, host: Host) -> Result<(), SettingsError> {
        let bad =
            |field: &'static str, message: String| Err(SettingsError::Invalid { field, message });
        if self.cpus == 0 || self.cpus > host.cpus {
            return bad(
                "cpus",
                format!(
                    "{} is not between 1 and this machine's {} CPUs",
                    self.cpus, host.cpus
                ),
            );
        }
        if self.memory_mib < 512 || u64::from(self.memory_mib) > host.memory_mib {
            return bad(
                "memory_mib",
                format!(
                    "{} MiB is not between 512 and this machine's {} MiB",
                    self.memory_mib, host.memory_mib
                ),
            );
        }
        if !(8..=4096).contains(&self.disk_gib) {
            return bad(
                "disk_gib",
                format!("{} GiB is not between 8 and 4096", self.disk_gib),
            );
        }
        if self.resource_saver_seconds > MAX_RESOURCE_SAVER_SECONDS {
            return bad(
                "resource_saver_seconds",
                format!(
                    "{} s is more than a day ({MAX_RESOURCE_SAVER_SECONDS} s); 0 turns the \
                     resource saver off",
                    self.resource_saver_seconds
                ),
            );
        }
        if let Err(err) = crate::shares::check(&self.shared_folders, cfg!(windows)) {
            return bad("shared_folders", err.to_string());
        }
        for mirror in &self.engine.registry_mirrors {
            if !(mirror.starts_with("http://") || mirror.starts_with("https://"))
                || mirror.contains(char::is_whitespace)
            {
                return bad(
                    "registry_mirrors",
                    format!("{mirror:?} is not an http(s):// URL"),
                );
            }
        }
        let hub = self.hub_api_url.trim();
        if !(hub.starts_with("http://") || hub.starts_with("https://"))
            || hub.contains(char::is_whitespace)
            || hub.len() <= "https://".len()
        {
            return bad("hub_api_url", format!("{hub:?} is not an http(s):// URL"));
        }
        for registry in &self.engine.insecure_registries {
            if registry.is_empty()
                || registry.contains("://")
                || registry.contains(char::is_whitespace)
            {
                return bad(
                    "insecure_registries",
                    format!("{registry:?} must be host[:port], without a scheme"),
                );
            }
        }
        for (field, proxy) in [
            ("http_proxy", &self.engine.http_proxy),
            ("https_proxy", &self.engine.https_proxy),
        ] {
            if let Some(proxy) = proxy {
                if !proxy.contains("://") || proxy.contains(char::is_whitespace) {
                    return bad(field, format!("{proxy:?} is not a proxy URL"));
                }
            }
        }
        for server in &self.engine.dns {
            if server.parse::<std::net::IpAddr>().is_err() {
                return bad("dns", format!("{server:?} is not an IP address"));
            }
        }
        if let Some(driver) = &self.engine.log_driver {
            let name = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b);
            if driver.is_empty() || driver.len() > 64 || !driver.bytes().all(name) {
                return bad(
                    "log_driver",
                    format!(
                        "{driver:?} is not a log driver's name (json-file, local, journald, \
                         syslog, none…)"
                    ),
                );
            }
        }
        Ok(())
    }

    /// Reads `path`; a missing file gives `defaults` (nothing is written).
    pub fn load(path: &Path, defaults: Settings) -> Result<Settings, SettingsError> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(defaults),
            Err(source) => {
                return Err(SettingsError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        // Fields absent from the file keep their defaults.
        let mut value = serde_json::to_value(&defaults).map_err(|e| parse(path, e))?;
        let file: serde_json::Value = serde_json::from_slice(&text).map_err(|e| parse(path, e))?;
        match (value.as_object_mut(), file) {
            (Some(base), serde_json::Value::Object(overrides)) => {
                if let Some(unknown) = overrides.keys().find(|k| !base.contains_key(*k)) {
                    let known: Vec<&str> = base.keys().map(String::as_str).collect();
                    return Err(SettingsError::Parse {
                        path: path.to_path_buf(),
                        message: format!(
                            "unknown field `{unknown}`, expected one of {}",
                            known.join(", ")
                        ),
                    });
                }
                base.extend(overrides)
            }
            _ => {
                return Err(SettingsError::Parse {
                    path: path.to_path_buf(),
                    message: "the file must hold a JSON object".into(),
                })
            }
        }
        serde_json::from_value(value).map_err(|e| parse(path, e))
    }

    /// The settings for this user: `paths`' settings file over the defaults for `host`, `$HOME`
    /// and this machine ([`Settings::defaults_here`]). A missing file gives the defaults
    /// (nothing is written).
    pub fn load_for(paths: &Paths, host: Host) -> Result<Settings, SettingsError> {
        Settings::load(&paths.settings_file(), Settings::defaults_here(host))
    }

    /// Validates against `host`, then replaces `paths`' settings file atomically (a temporary
    /// file in the same directory, renamed over it), private to the user (0600 in a 0700
    /// directory created if missing). Invalid settings write nothing.
    pub fn save(&self, paths: &Paths, host: Host) -> Result<(), SettingsError> {
        self.validate(host)?;
        let path = paths.settings_file();
        let json = serde_json::to_vec_pretty(self).map_err(|e| SettingsError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        crate::paths::write_private(&path, &json).map_err(|source| SettingsError::Write {
            path: path.clone(),
            source,
        })
    }

    /// These settings with `update` applied, validated against `host`; the error names the
    /// first invalid field of the result.
    pub fn update(&self, update: &SettingsUpdate, host: Host) -> Result<Settings, SettingsError> {
        let mut next = self.clone();
        let SettingsUpdate {
            cpus,
            memory_mib,
            disk_gib,
            shared_folders,
            registry_mirrors,
            insecure_registries,
            http_proxy,
            https_proxy,
            no_proxy,
            dns,
            log_driver,
            host_loopback,
            publish_on_all_interfaces,
            serve_default_endpoint,
            hub_api_url,
            resource_saver_seconds,
        } = update.clone();
        let optional = |value: String| Some(value).filter(|v| !v.is_empty());
        if let Some(v) = cpus {
            next.cpus = v;
        }
        if let Some(v) = memory_mib {
            next.memory_mib = v;
        }
        if let Some(v) = disk_gib {
            next.disk_gib = v;
        }
        if let Some(v) = shared_folders {
            next.shared_folders = v;
        }
        if let Some(v) = registry_mirrors {
            next.engine.registry_mirrors = v;
        }
        if let Some(v) = insecure_registries {
            next.engine.insecure_registries = v;
        }
        if let Some(v) = http_proxy {
            next.engine.http_proxy = optional(v);
        }
        if let Some(v) = https_proxy {
            next.engine.https_proxy = optional(v);
        }
        if let Some(v) = no_proxy {
            next.engine.no_proxy = optional(v);
        }
        if let Some(v) = dns {
            next.engine.dns = v;
        }
        if let Some(v) = log_driver {
            next.engine.log_driver = optional(v);
        }
        if let Some(v) = host_loopback {
            next.engine.host_loopback =
                v.parse()
                    .map_err(|e: berth_protocol::settings::HostLoopbackError| {
                        SettingsError::Invalid {
                            field: "host_loopback",
                            message: e.to_string(),
                        }
                    })?;
        }
        if let Some(v) = publish_on_all_interfaces {
            next.publish_on_all_interfaces = v;
        }
        if let Some(v) = serve_default_endpoint {
            next.serve_default_endpoint = v;
        }
        if let Some(v) = hub_api_url {
            next.hub_api_url = v;
        }
        if let Some(v) = resource_saver_seconds {
            next.resource_saver_seconds = v;
        }
        next.validate(host)?;
        Ok(next)
    }

    /// The part the agent needs.
    pub fn agent(&self) -> AgentSettings {
        AgentSettings {
            engine: self.engine.clone(),
            ..AgentSettings::default()
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::defaults_for(
            Host {
                cpus: 2,
                memory_mib: 4096,
            },
            Vec::new(),
        )
    }
}

fn parse(path: &Path, e: serde_json::Error) -> SettingsError {
    SettingsError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The settings file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid settings JSON; the message names the field.
    #[error("{path} is not valid: {message}; fix or remove it (it was left untouched)")]
    Parse {
        /// The settings file.
        path: PathBuf,
        /// serde's message, naming the field and position.
        message: String,
    },
    /// The file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The settings file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A value is out of range.
    #[error("setting `{field}`: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

#[cfg(test)]
mod tests;
